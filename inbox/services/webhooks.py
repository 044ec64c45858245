"""Outbound webhooks for integrations (SPEC §5): an outbox row per endpoint and event,
POSTed by a Celery task after commit, signed and retried with backoff."""

from django.db import transaction
from django.db.models import Q

from .. import domain_events
from ..models import Message, Ticket
from ..presenters import message_payload, ticket_summary_payload
from ..webhooks.models import WebhookDelivery, WebhookEndpoint


def webhook_event_emit(*, event: str, payload: dict, inbox_id: int | None = None) -> int:
    """Queue `event` for every active endpoint that wants it (and, when `inbox_id` is given,
    listens to that inbox). Returns how many deliveries were queued."""
    from ..webhooks.tasks import webhook_deliver

    endpoints = WebhookEndpoint.objects.filter(is_active=True)
    if inbox_id is not None:
        endpoints = endpoints.filter(Q(inboxes=None) | Q(inboxes=inbox_id)).distinct()
    deliveries = [
        WebhookDelivery(endpoint=endpoint, event=event, payload=payload)
        for endpoint in endpoints if endpoint.wants(event)
    ]
    if not deliveries:
        return 0
    with transaction.atomic():
        WebhookDelivery.objects.bulk_create(deliveries)
        for delivery in deliveries:
            transaction.on_commit(lambda pk=str(delivery.pk): webhook_deliver.delay(pk))
    return len(deliveries)


def _any_endpoint() -> bool:
    # Most installs have none: one indexed query spares building payloads nobody reads,
    # asked once for the events of one change (ticket.created with its first message).
    return domain_events.round_cached(
        "webhooks.any_endpoint", WebhookEndpoint.objects.filter(is_active=True).exists
    )


def _on_ticket_event(event: str):
    def handler(*, ticket_id: int, event_id: int) -> None:
        if not _any_endpoint():
            return
        ticket = Ticket.objects.filter(pk=ticket_id).first()
        if ticket is not None:
            webhook_event_emit(event=event, payload={"ticket": ticket_summary_payload(ticket)},
                               inbox_id=ticket.inbox_id)
    return handler


def _on_message_created(*, ticket_id: int, message_id: int) -> None:
    if not _any_endpoint():
        return
    message = Message.objects.select_related("ticket").filter(pk=message_id).first()
    if message is not None:
        webhook_event_emit(
            event="message.created",
            payload={"message": message_payload(message),
                     "ticket": ticket_summary_payload(message.ticket)},
            inbox_id=message.ticket.inbox_id,
        )


_TICKET_EVENT_HANDLERS = {
    event: _on_ticket_event(event)
    for event in (domain_events.TICKET_CREATED, domain_events.TICKET_RESOLVED,
                  domain_events.TICKET_REOPENED)
}


def webhooks_subscribe() -> None:
    """Called from the app's ready(): inbox events reach integrations via domain events."""
    for event, handler in _TICKET_EVENT_HANDLERS.items():
        domain_events.subscribe(event, handler)
    domain_events.subscribe(domain_events.MESSAGE_CREATED, _on_message_created)
