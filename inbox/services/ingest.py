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
from ..realtime import TICKET_UPDATED, inbox_group, publish, ticket_group
from .contacts import Identity, contact_resolve_new
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
    # The sender's contact, when the adapter already knows it (a widget session): the
    # identities are then not looked up again.
    contact: Contact | None = None


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
    try:
        with transaction.atomic():
            # One query finds both a stored copy of this message and the messages an
            # email refers to (In-Reply-To, References), before anything is written.
            existing, referenced = _known_messages(data)
            if existing:
                return IngestResult(message=existing, created=False)
            return _ingest(data, referenced)
    except IntegrityError:
        existing = _known_messages(data)[0]
        if existing is None:
            raise
        return IngestResult(message=existing, created=False)


def _known_messages(data: InboundMessage) -> tuple[Message | None, dict[str, Message]]:
    """(this message if already stored, {Message-ID: message} of the messages it refers
    to), from one query."""
    refs = data.thread or EmailThreadRefs()
    referenced_ids = (
        {i for i in (refs.in_reply_to, *refs.references) if i}
        if data.channel == Channel.EMAIL and data.ticket_id is None else set()
    )
    match = Q()
    if data.external_id or referenced_ids:
        match |= Q(external_id__in={data.external_id, *referenced_ids} - {None, ""})
    if data.client_id:
        match |= Q(client_id=data.client_id)
    if not match:
        return None, {}
    found = list(Message.objects.filter(match, inbox=data.inbox).select_related("ticket"))
    existing = next(
        (m for m in found if (data.external_id and m.external_id == data.external_id)
         or (data.client_id and m.client_id == data.client_id)),
        None,
    )
    return existing, {m.external_id: m for m in found if m.external_id in referenced_ids}


def _ingest(data: InboundMessage, referenced: dict[str, Message]) -> IngestResult:
    at = data.at or timezone.now()
    if data.contact is not None:
        contact, contact_created = data.contact, False
    else:
        contact, contact_created = contact_resolve_new(identities=data.sender,
                                                       name=data.sender_name)
    contact_locked = (not contact_created and data.channel != Channel.EMAIL
                      and data.ticket_id is None)
    if contact_locked:
        # Serialise ticket choice per contact so two first messages cannot open two
        # tickets. Email threads by its headers, never by the contact's open tickets, a
        # message that names its ticket has no choice to make, and a contact created in
        # this transaction is seen by no one else: no lock needed.
        Contact.objects.select_for_update().filter(pk=contact.pk).first()
    ticket = _ticket_find(data, contact, referenced)
    if ticket is not None and not contact_locked and _status_may_change(ticket, data):
        # What happens next depends on the status: read it under the ticket's row lock,
        # so two replies arriving at once do not both reopen it, or both open a follow-up.
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    opening = None  # the CREATED event of a ticket opened for this message
    reopened = False
    if ticket is not None and not ticket.is_unresolved and not data.is_auto_reply:
        if _reopenable(ticket, at):
            _ticket_reopen(ticket, at)
            reopened = True
        else:
            ticket, opening = _ticket_open(data, contact, at, parent=ticket)
    elif ticket is None:
        ticket, opening = _ticket_open(data, contact, at)
    elif ticket.status in (Ticket.Status.PENDING, Ticket.Status.SNOOZED) and not data.is_auto_reply:
        _ticket_status_to_open(ticket, at)
    message = message_append(
        ticket=ticket, inbox=data.inbox, direction=Message.Direction.INBOUND,
        channel=data.channel, author_type=Message.AuthorType.CONTACT,
        author_contact=contact, body_text=data.body_text, body_html=data.body_html,
        external_id=data.external_id, client_id=data.client_id,
        is_auto_reply=data.is_auto_reply, metadata=data.metadata,
        attachments=data.attachments, raw=data.raw, at=at, opening_event=opening,
    )
    return IngestResult(
        message=message, created=True, ticket_created=opening is not None, reopened=reopened
    )


def _ticket_find(
    data: InboundMessage, contact: Contact, referenced: dict[str, Message]
) -> Ticket | None:
    if data.ticket_id is not None:
        ticket = Ticket.objects.filter(pk=data.ticket_id, contact=contact).first()
        if ticket is None:
            raise NotFound("No such ticket for this contact.", code="ticket_not_found")
        return ticket
    if data.channel == Channel.EMAIL:
        return _email_thread_find(data.inbox, data.thread or EmailThreadRefs(), referenced)
    messaging = contact.tickets.filter(channel__in=MESSAGING_CHANNELS)
    return (
        messaging.filter(status__in=Ticket.UNRESOLVED).order_by("-last_activity_at").first()
        or messaging.order_by("-last_activity_at").first()
    )


def _email_thread_find(
    inbox: Inbox, refs: EmailThreadRefs, referenced: dict[str, Message]
) -> Ticket | None:
    """Token in the recipient, then [#number] in the subject, then In-Reply-To, then
    References (newest first), else nothing: a new ticket. `referenced`: the stored
    messages of this inbox among In-Reply-To and References, by Message-ID."""
    if refs.ticket_token:
        ticket = Ticket.objects.filter(token=refs.ticket_token.lower()).first()
        if ticket:
            return ticket
    for number in _SUBJECT_NUMBER.findall(refs.subject):
        ticket = Ticket.objects.filter(pk=int(number), inbox=inbox).first()
        if ticket:
            return ticket
    for message_id in [refs.in_reply_to, *reversed(refs.references)]:
        if message_id in referenced:
            return referenced[message_id].ticket
    return None


def _status_may_change(ticket: Ticket, data: InboundMessage) -> bool:
    return not data.is_auto_reply and (
        not ticket.is_unresolved or ticket.status in (Ticket.Status.PENDING, Ticket.Status.SNOOZED)
    )


def _reopenable(ticket: Ticket, at: datetime) -> bool:
    return (
        ticket.status == Ticket.Status.RESOLVED
        and ticket.resolved_at is not None
        and at - ticket.resolved_at <= ticket.inbox.reopen_window
    )


def _ticket_open(
    data: InboundMessage, contact: Contact, at: datetime, parent: Ticket | None = None
) -> tuple[Ticket, TicketEvent]:
    """A new ticket for the message about to be appended, and its CREATED event, unsaved:
    `message_append` writes it with the message's own event and announces the ticket.
    The message's seq (1) is taken here, which spares message_append the UPDATE of a row
    nobody else can see yet."""
    ticket = Ticket.objects.create(
        inbox=data.inbox, contact=contact, subject=(data.subject or "")[:500],
        channel=data.channel, parent=parent, team_id=data.inbox.team_id, created_at=at,
        last_activity_at=at, last_seq=1,
    )
    event = TicketEvent(
        ticket=ticket, type=TicketEvent.Type.CREATED, at=at,
        data={"channel": data.channel, "parent": parent.pk if parent else None},
    )
    return ticket, event


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
