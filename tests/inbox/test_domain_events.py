import pytest
from django.db import transaction

from inbox import domain_events
from inbox.models import Ticket, TicketEvent
from inbox.services import message_ingest, ticket_set_status
from inbox.services.ingest import Identity, InboundMessage
from tests.factories import AgentFactory, InboxFactory

pytestmark = pytest.mark.django_db


def _ingest(inbox, body="Hello", external_id="m1"):
    return message_ingest(data=InboundMessage(
        inbox=inbox, channel="telegram", sender=[Identity(kind="telegram", value="42")],
        sender_name="Ana", body_text=body, external_id=external_id,
    ))


def test_ticket_and_message_events_reach_subscribers_after_commit(
        domain_event_log, django_capture_on_commit_callbacks):
    inbox = InboxFactory(kind="telegram")
    with django_capture_on_commit_callbacks(execute=True):
        result = _ingest(inbox)
    ticket, message = result.message.ticket, result.message
    created = TicketEvent.objects.get(ticket=ticket, type="created")
    assert domain_event_log == [
        ("ticket.created", {"ticket_id": ticket.pk, "event_id": created.pk}),
        ("message.created", {"ticket_id": ticket.pk, "message_id": message.pk}),
    ]


def test_resolve_and_reopen_name_the_log_entry(domain_event_log, django_capture_on_commit_callbacks):
    inbox = InboxFactory(kind="telegram")
    ticket = _ingest(inbox).message.ticket
    agent = AgentFactory(role="admin")
    with django_capture_on_commit_callbacks(execute=True):
        ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=agent)
        ticket_set_status(ticket=ticket, status=Ticket.Status.OPEN, by=agent)
    resolved = TicketEvent.objects.get(ticket=ticket, type="resolved")
    reopened = TicketEvent.objects.get(ticket=ticket, type="reopened")
    assert domain_event_log == [
        ("ticket.resolved", {"ticket_id": ticket.pk, "event_id": resolved.pk}),
        ("ticket.reopened", {"ticket_id": ticket.pk, "event_id": reopened.pk}),
    ]


def test_a_customer_reopen_is_an_event_too(domain_event_log, django_capture_on_commit_callbacks):
    inbox = InboxFactory(kind="telegram")
    ticket = _ingest(inbox).message.ticket
    ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=None)
    with django_capture_on_commit_callbacks(execute=True):
        _ingest(inbox, body="Still broken", external_id="m2")
    reopened = TicketEvent.objects.get(ticket=ticket, type="reopened")
    assert ("ticket.reopened", {"ticket_id": ticket.pk, "event_id": reopened.pk}) in domain_event_log


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_resolution_notifies_nobody(domain_event_log):
    inbox = InboxFactory(kind="telegram")
    ticket = _ingest(inbox).message.ticket
    domain_event_log.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=None)
        raise RuntimeError("rolled back")
    assert domain_event_log == []
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.OPEN


def test_a_failing_handler_does_not_stop_the_others(domain_event_log, django_capture_on_commit_callbacks):
    def broken(**data):
        raise ValueError("boom")

    domain_events.subscribe(domain_events.TICKET_CREATED, broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _ingest(InboxFactory(kind="telegram"))
    finally:
        domain_events.unsubscribe(domain_events.TICKET_CREATED, broken)
    assert [event for event, _ in domain_event_log] == ["ticket.created", "message.created"]
