"""Turns planned contacts into database rows with real ids and writes one batch of them."""

import secrets
import uuid
from collections import Counter

from ..models import (
    TICKET_TOKEN_ALPHABET,
    TICKET_TOKEN_LENGTH,
    Channel,
    Contact,
    ContactIdentity,
    Message,
    Ticket,
    TicketEvent,
)
from .bulk import ids_reserve, rows_insert
from .history import IN, NOTE, OUT, PlannedContact, PlannedMessage
from .workspace import Workspace

K = ContactIdentity.Kind
CONTACT_COLUMNS = ("id", "name", "language", "created_at")
IDENTITY_COLUMNS = ("contact_id", "kind", "value", "verified", "created_at")
TICKET_COLUMNS = (
    "id", "inbox_id", "contact_id", "subject", "status", "priority", "assignee_id", "team_id",
    "channel", "token", "parent_id", "last_seq", "created_at", "last_activity_at", "resolved_at",
    "snoozed_until",
)
TICKET_LABEL_COLUMNS = ("ticket_id", "label_id")
MESSAGE_COLUMNS = (
    "id", "ticket_id", "inbox_id", "seq", "direction", "channel", "author_type",
    "author_agent_id", "author_contact_id", "body_text", "body_html", "external_id",
    "delivery_status", "delivery_error", "is_auto_reply", "metadata", "created_at",
)
EVENT_COLUMNS = ("ticket_id", "type", "at", "actor_id", "message_id", "data")
# Every model a batch writes to, for ANALYZE after the load.
BATCH_MODELS = (Contact, ContactIdentity, Ticket, Ticket.labels.through, Message, TicketEvent)


def batch_write(*, contacts: list[PlannedContact], workspace: Workspace) -> Counter:
    """Insert one batch; call inside a transaction. Returns row counts by kind."""
    tickets = [ticket for contact in contacts for ticket in contact.tickets]
    contact_ids = ids_reserve(Contact, len(contacts))
    ticket_ids = iter(ids_reserve(Ticket, len(tickets)))
    message_ids = iter(ids_reserve(Message, sum(len(t.messages) for t in tickets)))
    tokens = iter(ticket_tokens(len(tickets)))
    rows: dict[str, list[tuple]] = {
        "contacts": [], "identities": [], "tickets": [], "labels": [], "messages": [],
        "events": [],
    }
    for contact, contact_id in zip(contacts, contact_ids, strict=True):
        created_at = contact.tickets[0].messages[0].at
        rows["contacts"].append((contact_id, contact.name, contact.language, created_at))
        rows["identities"] += [
            (contact_id, kind, value, False, created_at)
            for kind, value in contact_identities(contact, contact_id)
        ]
        ids_of_contact: list[int] = []
        for ticket in contact.tickets:
            ticket_id = next(ticket_ids)
            ids_of_contact.append(ticket_id)
            inbox, messages = ticket.inbox, ticket.messages
            parent_id = None if ticket.parent_index is None else ids_of_contact[ticket.parent_index]
            rows["tickets"].append((
                ticket_id, inbox.id, contact_id, ticket.subject, ticket.status, ticket.priority,
                ticket.assignee_id, inbox.team_id, inbox.channel, next(tokens), parent_id,
                len(messages), messages[0].at, messages[-1].at, ticket.resolved_at,
                ticket.snoozed_until,
            ))
            rows["labels"] += [
                (ticket_id, workspace.label_ids[name]) for name in ticket.label_names
            ]
            ids_of_messages = []
            for seq, message in enumerate(messages, start=1):
                message_id = next(message_ids)
                ids_of_messages.append(message_id)
                rows["messages"].append(
                    _message_row(message, message_id, ticket_id, seq, inbox.id, inbox.channel,
                                 contact_id, is_last=seq == len(messages))
                )
            rows["events"].append((ticket_id, TicketEvent.Type.CREATED, messages[0].at, None, None,
                                   {"channel": inbox.channel, "parent": parent_id}))
            rows["events"] += [
                (ticket_id, event.type, event.at, event.actor_id,
                 None if event.message_index is None else ids_of_messages[event.message_index],
                 event.data)
                for event in ticket.events
            ]
    rows_insert(Contact, CONTACT_COLUMNS, rows["contacts"])
    rows_insert(ContactIdentity, IDENTITY_COLUMNS, rows["identities"])
    rows_insert(Ticket, TICKET_COLUMNS, rows["tickets"])
    rows_insert(Ticket.labels.through, TICKET_LABEL_COLUMNS, rows["labels"])
    rows_insert(Message, MESSAGE_COLUMNS, rows["messages"])
    rows_insert(TicketEvent, EVENT_COLUMNS, rows["events"])
    return Counter({kind: len(batch) for kind, batch in rows.items()})


def _message_row(message: PlannedMessage, message_id: int, ticket_id: int, seq: int,
                 inbox_id: int, channel: str, contact_id: int, *, is_last: bool) -> tuple:
    if message.direction == IN:
        author_type, contact, status = Message.AuthorType.CONTACT, contact_id, ""
        # Providers' message ids; redelivery deduplicates on them.
        external_id = (f"<demo-{message_id}@mail.example.net>" if channel == Channel.EMAIL
                       else f"demo-{message_id}")
    else:
        author_type, contact, external_id = Message.AuthorType.AGENT, None, None
        status = _delivery_status(channel, is_last) if message.direction == OUT else ""
    return (
        message_id, ticket_id, inbox_id, seq, message.direction,
        "" if message.direction == NOTE else channel, author_type, message.author_agent_id,
        contact, message.body, "", external_id, status, "", False, {}, message.at,
    )


def _delivery_status(channel: str, is_last: bool) -> str:
    # Email and the widget report no receipts; messaging apps report delivered, then read.
    if channel in (Channel.EMAIL, Channel.WIDGET):
        return Message.DeliveryStatus.SENT
    return Message.DeliveryStatus.DELIVERED if is_last else Message.DeliveryStatus.READ


def contact_identities(contact: PlannedContact, contact_id: int) -> list[tuple[str, str]]:
    """Identities for the channels the contact wrote on, unique through the contact id."""
    channels = {ticket.inbox.channel for ticket in contact.tickets}
    identities = []
    if Channel.EMAIL in channels or (Channel.WIDGET in channels and contact.identified_in_widget):
        identities.append(
            (K.EMAIL, f"{contact.email_address_stem}.{contact_id}@{contact.email_domain}")
        )
    phone = f"+{contact.phone_prefix}{contact_id:08d}"
    if Channel.WHATSAPP in channels:
        identities.append((K.WHATSAPP, phone[1:]))
    if Channel.WHATSAPP in channels or Channel.SMS in channels:
        identities.append((K.PHONE, phone))
    if Channel.TELEGRAM in channels:
        identities.append((K.TELEGRAM, str(1_000_000_000 + contact_id)))
    if Channel.MESSENGER in channels:
        identities.append((K.MESSENGER, str(24_000_000_000_000_000 + contact_id)))
    if Channel.INSTAGRAM in channels:
        identities.append((K.INSTAGRAM, str(17_841_400_000_000_000 + contact_id)))
    if Channel.WIDGET in channels:
        visitor = uuid.UUID(int=(contact.visitor_bits << 32) | (contact_id & 0xFFFFFFFF))
        identities.append((K.VISITOR, str(visitor)))
    return identities


def ticket_tokens(count: int) -> list[str]:
    """`count` secret ticket tokens like `new_ticket_token()`'s, from few urandom reads."""
    alphabet, length = TICKET_TOKEN_ALPHABET.encode(), TICKET_TOKEN_LENGTH
    unbiased = 256 - 256 % len(alphabet)  # higher bytes would favour the first letters
    table = bytes(alphabet[b % len(alphabet)] for b in range(256))
    needed = count * length
    chars = b""
    while len(chars) < needed:
        chars += secrets.token_bytes(needed + 64).translate(table, bytes(range(unbiased, 256)))
    text = chars[:needed].decode()
    return [text[i:i + length] for i in range(0, needed, length)]
