"""Reads the Meta adapters need: the WhatsApp customer-care window, and which of our
outbound messages a Messenger/Instagram receipt covers."""

from datetime import datetime, timedelta

from django.utils import timezone

from ...models import Channel, Inbox, Message, Ticket
from ...services.messages import reply_channel_pick

# WhatsApp accepts free-form messages only this long after the customer's last message;
# after it, only approved templates.
WHATSAPP_WINDOW = timedelta(hours=24)


def inbound_latest(*, contact_id: int, channel: str, inbox_id: int | None = None) -> Message | None:
    """The contact's latest inbound message on `channel` (in one inbox, if given)."""
    messages = Message.objects.filter(
        ticket__contact_id=contact_id, channel=channel, direction=Message.Direction.INBOUND
    )
    if inbox_id is not None:
        messages = messages.filter(inbox_id=inbox_id)
    return messages.order_by("-created_at", "-pk").first()


def whatsapp_window_closes_at(*, contact_id: int, inbox_id: int | None = None) -> datetime | None:
    """When the 24-hour window the contact's latest WhatsApp message opened closes (in the
    past if it has closed); None if they never wrote on WhatsApp."""
    latest = inbound_latest(contact_id=contact_id, channel=Channel.WHATSAPP, inbox_id=inbox_id)
    return latest.created_at + WHATSAPP_WINDOW if latest else None


def whatsapp_window_open(ticket: Ticket, *, inbox_id: int | None = None,
                         now: datetime | None = None) -> bool:
    """Whether a free-form WhatsApp message may be sent to the ticket's contact now."""
    closes_at = whatsapp_window_closes_at(contact_id=ticket.contact_id, inbox_id=inbox_id)
    return closes_at is not None and (now or timezone.now()) < closes_at


def reply_window(ticket: Ticket) -> dict | None:
    """What the agent composer shows when a reply would go out on WhatsApp (the default
    reply channel, SPEC §2): whether free-form text is allowed and until when. None for
    channels without a window."""
    channel, inbox = reply_channel_pick(ticket=ticket, channel=None)
    if channel != Channel.WHATSAPP:
        return None
    closes_at = whatsapp_window_closes_at(contact_id=ticket.contact_id, inbox_id=inbox.pk)
    return {
        "channel": Channel.WHATSAPP.value,
        "open": closes_at is not None and timezone.now() < closes_at,
        "closes_at": closes_at.isoformat() if closes_at else None,
    }


def outbound_ids_until(*, inbox: Inbox, recipient_id: str, until: datetime,
                       statuses: list[str]) -> list[str]:
    """Provider ids of our outbound messages to `recipient_id` in `inbox`, created up to
    `until` and still in one of `statuses`: what a Messenger watermark receipt covers."""
    return list(
        Message.objects.filter(
            inbox=inbox, direction=Message.Direction.OUTBOUND, external_id__isnull=False,
            created_at__lte=until, delivery_status__in=statuses,
            ticket__contact__identities__kind=inbox.channel,
            ticket__contact__identities__value=recipient_id,
        ).order_by("created_at", "pk").values_list("external_id", flat=True)
    )


def outbound_created_at(*, inbox: Inbox, external_id: str) -> datetime | None:
    message = Message.objects.filter(
        inbox=inbox, external_id=external_id, direction=Message.Direction.OUTBOUND
    ).only("created_at").first()
    return message.created_at if message else None
