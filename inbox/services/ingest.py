"""`message_ingest`: the one entry point for every inbound channel (SPEC §2, §3)."""

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .. import domain_events
from ..errors import NotFound
from ..models import MESSAGING_CHANNELS, Channel, Contact, Inbox, Message, Ticket, TicketEvent
from ..presenters import ticket_summary_payload
from ..realtime import TICKET_CREATED, TICKET_UPDATED, inbox_group, publish, ticket_group
from .contacts import Identity, contact_resolve
from .messages import AttachmentData, message_append

_SUBJECT_NUMBER = re.compile(r"\[#(\d{1,12})\]")


@dataclass(frozen=True)
class EmailThreadRefs:
    """What an email carries to find its ticket, in order of precedence (SPEC §3)."""

    ticket_token: str = ""  # from a support+t<token>@ recipient
    subject: str = ""  # may hold [#<number>]
    in_reply_to: str = ""
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class InboundMessage:
    """Plain data every channel adapter produces; the service does all ORM writes."""

    inbox: Inbox
    channel: str
    sender: list[Identity]
    body_text: str
    sender_name: str = ""
    body_html: str = ""
    subject: str = ""
    external_id: str | None = None
    client_id: uuid.UUID | None = None
    ticket_id: int | None = None  # an explicit target (the widget names its ticket)
    thread: EmailThreadRefs | None = None
    at: datetime | None = None
    is_auto_reply: bool = False
    attachments: list[AttachmentData] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)
    raw: AttachmentData | None = None  # the original payload, kept for "view original"


@dataclass(frozen=True)
class IngestResult:
    message: Message
    created: bool  # False: a redelivery of a message already stored
    ticket_created: bool = False
    reopened: bool = False


def message_ingest(*, data: InboundMessage) -> IngestResult:
    """Store one inbound message on the right ticket of the right contact.

    Idempotent on `external_id` and `client_id` (per inbox): a redelivery returns the stored
    message. Safe under concurrent redelivery: the unique constraints decide, and the loser
    rolls back everything it did (contact, ticket) and returns the winner's message.
    """
    existing = _duplicate_find(data)
    if existing:
        return IngestResult(message=existing, created=False)
    try:
        with transaction.atomic():
            return _ingest(data)
    except IntegrityError:
        existing = _duplicate_find(data)
        if existing is None:
            raise
        return IngestResult(message=existing, created=False)


def _duplicate_find(data: InboundMessage) -> Message | None:
    match = Q()
    if data.external_id:
        match |= Q(external_id=data.external_id)
    if data.client_id:
        match |= Q(client_id=data.client_id)
    if not match:
        return None
    return Message.objects.filter(match, inbox=data.inbox).select_related("ticket").first()


def _ingest(data: InboundMessage) -> IngestResult:
    at = data.at or timezone.now()
    contact = contact_resolve(identities=data.sender, name=data.sender_name)
    # Serialise ticket choice per contact so two first messages cannot open two tickets.
    Contact.objects.select_for_update().filter(pk=contact.pk).first()
    ticket = _ticket_find(data, contact)
    ticket_created = reopened = False
    if ticket is not None and not ticket.is_unresolved and not data.is_auto_reply:
        if _reopenable(ticket, at):
            _ticket_reopen(ticket, at)
            reopened = True
        else:
            ticket = _ticket_open(data, contact, at, parent=ticket)
            ticket_created = True
    elif ticket is None:
        ticket = _ticket_open(data, contact, at)
        ticket_created = True
    elif ticket.status in (Ticket.Status.PENDING, Ticket.Status.SNOOZED) and not data.is_auto_reply:
        _ticket_status_to_open(ticket, at)
    message = message_append(
        ticket=ticket, inbox=data.inbox, direction=Message.Direction.INBOUND,
        channel=data.channel, author_type=Message.AuthorType.CONTACT,
        author_contact_id=contact.pk, body_text=data.body_text, body_html=data.body_html,
        external_id=data.external_id, client_id=data.client_id,
        is_auto_reply=data.is_auto_reply, metadata=data.metadata,
        attachments=data.attachments, raw=data.raw, at=at,
    )
    return IngestResult(
        message=message, created=True, ticket_created=ticket_created, reopened=reopened
    )


def _ticket_find(data: InboundMessage, contact: Contact) -> Ticket | None:
    if data.ticket_id is not None:
        ticket = Ticket.objects.filter(pk=data.ticket_id, contact=contact).first()
        if ticket is None:
            raise NotFound("No such ticket for this contact.", code="ticket_not_found")
        return ticket
    if data.channel == Channel.EMAIL:
        return _email_thread_find(data.inbox, data.thread or EmailThreadRefs())
    messaging = contact.tickets.filter(channel__in=MESSAGING_CHANNELS)
    return (
        messaging.filter(status__in=Ticket.UNRESOLVED).order_by("-last_activity_at").first()
        or messaging.order_by("-last_activity_at").first()
    )


def _email_thread_find(inbox: Inbox, refs: EmailThreadRefs) -> Ticket | None:
    """Token in the recipient, then [#number] in the subject, then In-Reply-To, then
    References (newest first), else nothing: a new ticket."""
    if refs.ticket_token:
        ticket = Ticket.objects.filter(token=refs.ticket_token.lower()).first()
        if ticket:
            return ticket
    for number in _SUBJECT_NUMBER.findall(refs.subject):
        ticket = Ticket.objects.filter(pk=int(number), inbox=inbox).first()
        if ticket:
            return ticket
    for message_id in [refs.in_reply_to, *reversed(refs.references)]:
        if not message_id:
            continue
        message = (
            Message.objects.filter(inbox=inbox, external_id=message_id)
            .select_related("ticket").first()
        )
        if message:
            return message.ticket
    return None


def _reopenable(ticket: Ticket, at: datetime) -> bool:
    return (
        ticket.status == Ticket.Status.RESOLVED
        and ticket.resolved_at is not None
        and at - ticket.resolved_at <= ticket.inbox.reopen_window
    )


def _ticket_open(
    data: InboundMessage, contact: Contact, at: datetime, parent: Ticket | None = None
) -> Ticket:
    ticket = Ticket.objects.create(
        inbox=data.inbox, contact=contact, subject=(data.subject or "")[:500],
        channel=data.channel, parent=parent, team=data.inbox.team, created_at=at,
        last_activity_at=at,
    )
    event = TicketEvent.objects.create(
        ticket=ticket, type=TicketEvent.Type.CREATED, at=at,
        data={"channel": data.channel, "parent": parent.pk if parent else None},
    )
    publish([inbox_group(ticket.inbox_id)], TICKET_CREATED, ticket_summary_payload(ticket))
    domain_events.emit(domain_events.TICKET_CREATED, ticket_id=ticket.pk, event_id=event.pk)
    return ticket


def _ticket_reopen(ticket: Ticket, at: datetime) -> None:
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.OPEN, resolved_at=None)
    ticket.status, ticket.resolved_at = Ticket.Status.OPEN, None
    event = TicketEvent.objects.create(
        ticket=ticket, type=TicketEvent.Type.REOPENED, at=at, data={"by": "customer"}
    )
    _ticket_updated_publish(ticket)
    domain_events.emit(domain_events.TICKET_REOPENED, ticket_id=ticket.pk, event_id=event.pk)


def _ticket_status_to_open(ticket: Ticket, at: datetime) -> None:
    previous = ticket.status
    Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.OPEN, snoozed_until=None)
    ticket.status, ticket.snoozed_until = Ticket.Status.OPEN, None
    TicketEvent.objects.create(
        ticket=ticket, type=TicketEvent.Type.STATUS_CHANGED, at=at,
        data={"from": previous, "to": Ticket.Status.OPEN, "by": "customer"},
    )
    _ticket_updated_publish(ticket)


def _ticket_updated_publish(ticket: Ticket) -> None:
    publish(
        [inbox_group(ticket.inbox_id), ticket_group(ticket.pk)],
        TICKET_UPDATED, ticket_summary_payload(ticket),
    )
