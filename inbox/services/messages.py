import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.utils import timezone

from .. import domain_events
from ..errors import InvalidInput
from ..models import (
    Agent,
    Attachment,
    Channel,
    Contact,
    ContactIdentity,
    Inbox,
    Message,
    Ticket,
    TicketEvent,
)
from ..presenters import message_payload, ticket_summary_payload
from ..realtime import (
    MESSAGE_NEW,
    MESSAGE_UPDATED,
    TICKET_CREATED,
    contact_group,
    inbox_group,
    publish,
    ticket_group,
)
from ..sanitize import html_sanitize

# Which identity kinds let us reach a contact on a channel.
CHANNEL_IDENTITY_KINDS = {
    Channel.EMAIL: {ContactIdentity.Kind.EMAIL},
    Channel.WIDGET: {ContactIdentity.Kind.VISITOR, ContactIdentity.Kind.EXTERNAL},
    Channel.TELEGRAM: {ContactIdentity.Kind.TELEGRAM},
    Channel.WHATSAPP: {ContactIdentity.Kind.WHATSAPP, ContactIdentity.Kind.PHONE},
    Channel.MESSENGER: {ContactIdentity.Kind.MESSENGER},
    Channel.INSTAGRAM: {ContactIdentity.Kind.INSTAGRAM},
    Channel.SMS: {ContactIdentity.Kind.PHONE},
}


@dataclass(frozen=True)
class AttachmentData:
    name: str
    content: bytes
    content_type: str = "application/octet-stream"
    content_id: str = ""


def message_append(
    *,
    ticket: Ticket,
    inbox: Inbox,
    direction: str,
    channel: str,
    author_type: str,
    body_text: str,
    body_html: str = "",
    author_agent: Agent | None = None,
    author_contact: Contact | None = None,
    external_id: str | None = None,
    client_id: uuid.UUID | None = None,
    delivery_status: str = "",
    is_auto_reply: bool = False,
    metadata: dict | None = None,
    attachments: list[AttachmentData] | tuple = (),
    raw: AttachmentData | None = None,
    at: datetime | None = None,
    opening_event: TicketEvent | None = None,
) -> Message:
    """Append a message to a ticket with the next seq; must run inside a transaction.

    Incrementing `last_seq` with an UPDATE takes the ticket's row lock first, so concurrent
    writers queue on it and every committed message gets a distinct, gap-free seq.
    `opening_event`: the unsaved CREATED event of a ticket the caller has just opened for
    this message, with `last_seq` and `last_activity_at` already set for it (nobody else
    can see the ticket yet). It is written with the message's event in one INSERT, and
    the ticket is announced (live event, domain event) before the message.
    """
    at = at or timezone.now()
    if opening_event is None:
        ticket.last_seq, ticket.last_activity_at = _seq_next(ticket, at)
    message = Message(
        ticket=ticket, inbox=inbox, seq=ticket.last_seq, direction=direction, channel=channel,
        author_type=author_type, author_agent=author_agent, author_contact=author_contact,
        body_text=body_text, body_html=html_sanitize(body_html), external_id=external_id,
        client_id=client_id, delivery_status=delivery_status, is_auto_reply=is_auto_reply,
        metadata=metadata or {}, created_at=at,
    )
    if raw is not None:  # written before the row, so one INSERT records its name
        message.raw.save(raw.name, ContentFile(raw.content), save=False)
    message.save(force_insert=True)
    attachments_known(message, _attachments_store(message, attachments) if attachments else [])
    event = message_event(message)
    announced = [
        (domain_events.MESSAGE_CREATED, {"ticket_id": ticket.pk, "message_id": message.pk})
    ]
    if opening_event is None:
        event.save(force_insert=True)
    else:
        TicketEvent.objects.bulk_create([opening_event, event])
        publish([inbox_group(ticket.inbox_id)], TICKET_CREATED, ticket_summary_payload(ticket))
        announced.insert(0, (domain_events.TICKET_CREATED,
                             {"ticket_id": ticket.pk, "event_id": opening_event.pk}))
    message_publish(message)
    domain_events.emit_all(announced)
    return message


def message_event(message: Message) -> TicketEvent:
    """The timeline event of a new message (unsaved)."""
    event_type = {
        Message.Direction.INBOUND: TicketEvent.Type.MESSAGE_IN,
        Message.Direction.OUTBOUND: TicketEvent.Type.MESSAGE_OUT,
        Message.Direction.NOTE: TicketEvent.Type.NOTE,
    }[message.direction]
    return TicketEvent(
        ticket=message.ticket, type=event_type, at=message.created_at,
        actor=message.author_agent, message=message,
        data={"author_type": message.author_type, "channel": message.channel},
    )


def attachments_known(message: Message, attachments: list[Attachment]) -> None:
    """Tell a message just written which attachment rows it has, so building its payload
    (live event, acknowledgement, API response) does not read them back."""
    rows = Attachment.objects.none() if not attachments else message.attachments.all()
    rows._result_cache, rows._prefetch_done = list(attachments), True
    message._prefetched_objects_cache = {"attachments": rows}


def _seq_next(ticket: Ticket, at: datetime) -> tuple[int, datetime]:
    """Take the ticket's next seq and move its last activity forward, in one statement
    (UPDATE ... RETURNING; PostgreSQL, and SQLite since 3.35)."""
    greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
    table = connection.ops.quote_name(Ticket._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET last_seq = last_seq + 1, "
            f"last_activity_at = {greatest}(last_activity_at, %s) "
            "WHERE id = %s RETURNING last_seq, last_activity_at",
            [connection.ops.adapt_datetimefield_value(at), ticket.pk],
        )
        seq, last_activity_at = cursor.fetchone()
    field = Ticket._meta.get_field("last_activity_at")
    for converter in connection.ops.get_db_converters(field.get_col(Ticket._meta.db_table)):
        last_activity_at = converter(last_activity_at, field, connection)
    return seq, last_activity_at


def _attachments_store(message: Message,
                       attachments: list[AttachmentData] | tuple) -> list[Attachment]:
    """Store a message's files and insert their rows in one statement."""
    storage = Attachment._meta.get_field("file").storage
    return Attachment.objects.bulk_create(
        Attachment(
            message=message, file=attachment_file_store(storage, data.content),
            name=data.name, content_type=data.content_type, size=len(data.content),
            content_id=data.content_id,
        )
        for data in attachments
    )


def attachment_file_store(storage, content: bytes) -> str:
    """Store `content` under its SHA-256 (`attachments/sha256/ab/cd/abcd...`) unless a
    complete copy is already there; return the stored name.

    Identical files (a signature logo in every mail, a thread forwarded again with its
    attachments) are kept once, and a file that is already stored costs two `stat` calls.
    A file may therefore belong to many Attachment rows: deleting a row must never delete
    its file; only a sweep for files that no row names may remove one. The name says
    nothing about the file (its name and type are in the row), and files are only served
    through the permission-checked download views and signed links. A copy of the wrong
    size (a write cut short) is not reused: the storage then saves the content under a
    suffixed name, as it does when two writers store the same new file at once.
    """
    digest = hashlib.sha256(content).hexdigest()
    name = f"attachments/sha256/{digest[:2]}/{digest[2:4]}/{digest}"
    try:
        if storage.exists(name) and storage.size(name) == len(content):
            return name
    except OSError:  # unreadable: store it again under another name
        pass
    return storage.save(name, ContentFile(content))


def message_publish(message: Message, event: str = MESSAGE_NEW) -> None:
    """The live event for a new or changed message; its payload (which reads the
    attachments) is built only when it is sent."""
    ticket = message.ticket
    groups = [inbox_group(ticket.inbox_id), ticket_group(ticket.pk)]
    if message.is_public:
        groups.append(contact_group(ticket.contact_id))
    publish(groups, event, lambda: message_payload(message))


def reply_channel_pick(*, ticket: Ticket, channel: str | None) -> tuple[str, Inbox]:
    """The channel and inbox a reply leaves on: the customer's latest inbound channel on
    this ticket, unless the agent picks another the contact has an identity on."""
    latest_inbound = (
        ticket.messages.filter(direction=Message.Direction.INBOUND)
        .order_by("-seq").select_related("inbox").first()
    )
    if channel is None:
        if latest_inbound:
            return latest_inbound.channel, latest_inbound.inbox
        return ticket.channel, ticket.inbox
    if channel not in CHANNEL_IDENTITY_KINDS:
        raise InvalidInput(f"Unknown channel {channel!r}.", fields={"channel": ["unknown"]})
    if not ticket.contact.identities.filter(kind__in=CHANNEL_IDENTITY_KINDS[channel]).exists():
        raise InvalidInput(
            f"The contact cannot be reached on {channel}.", code="channel_unreachable",
            fields={"channel": [f"The contact has no {channel} identity."]},
        )
    if latest_inbound and latest_inbound.channel == channel:
        return channel, latest_inbound.inbox
    recent = (
        Message.objects.filter(
            ticket__contact_id=ticket.contact_id, channel=channel,
            direction=Message.Direction.INBOUND,
        ).order_by("-created_at").select_related("inbox").first()
    )
    if recent:
        return channel, recent.inbox
    if ticket.inbox.channel == channel:
        return channel, ticket.inbox
    inbox = Inbox.objects.filter(kind="twilio" if channel == Channel.SMS else channel).first()
    if inbox is None:
        raise InvalidInput(f"No {channel} inbox is configured.", code="channel_unavailable")
    return channel, inbox


@transaction.atomic
def message_reply(
    *,
    ticket: Ticket,
    agent: Agent | None,
    body: str,
    body_html: str = "",
    channel: str | None = None,
    attachments: list[AttachmentData] | tuple = (),
    author_type: str = Message.AuthorType.AGENT,
    metadata: dict | None = None,
    at: datetime | None = None,
) -> Message:
    """A public reply to the customer; delivery runs in a Celery task after commit."""
    from ..tasks import message_deliver

    if not body.strip() and not attachments:
        raise InvalidInput("A reply needs a body or an attachment.", fields={"body": ["empty"]})
    channel, inbox = reply_channel_pick(ticket=ticket, channel=channel)
    _reply_attachments_check(inbox=inbox, attachments=attachments)
    # The widget's own delivery is the live event and the client's sync: nothing to send.
    status = (
        Message.DeliveryStatus.SENT if channel == Channel.WIDGET else Message.DeliveryStatus.QUEUED
    )
    message = message_append(
        ticket=ticket, inbox=inbox, direction=Message.Direction.OUTBOUND, channel=channel,
        author_type=author_type, author_agent=agent, body_text=body, body_html=body_html,
        delivery_status=status, attachments=attachments, metadata=metadata, at=at,
    )
    if status == Message.DeliveryStatus.QUEUED:
        transaction.on_commit(lambda: message_deliver.delay(message.pk))
    return message


MAX_REPLY_ATTACHMENTS = 10


def _reply_attachments_check(*, inbox: Inbox, attachments) -> None:
    """The limits customers' files meet on the way in apply on the way out: the inbox's
    `attachment_limit_mb` and no executable types."""
    from ..channels.email.parse import BLOCKED_EXTENSIONS

    if len(attachments) > MAX_REPLY_ATTACHMENTS:
        raise InvalidInput(f"At most {MAX_REPLY_ATTACHMENTS} attachments per reply.",
                           code="too_many_attachments", fields={"attachments": ["too many"]})
    for attachment in attachments:
        suffix = "." + attachment.name.rsplit(".", 1)[-1].lower() if "." in attachment.name else ""
        if suffix in BLOCKED_EXTENSIONS:
            raise InvalidInput(f"{attachment.name}: this type of file cannot be sent.",
                               code="blocked_type", fields={"attachments": ["blocked type"]})
        if len(attachment.content) > inbox.attachment_limit_bytes:
            raise InvalidInput(
                f"{attachment.name}: files are at most {inbox.attachment_limit_mb:g} MB.",
                code="too_large", fields={"attachments": ["too large"]})


@transaction.atomic
def note_add(*, ticket: Ticket, agent: Agent, body: str, at: datetime | None = None) -> Message:
    """An internal note: visible to agents only, never sent to the customer."""
    if not body.strip():
        raise InvalidInput("A note needs a body.", fields={"body": ["empty"]})
    return message_append(
        ticket=ticket, inbox=ticket.inbox, direction=Message.Direction.NOTE, channel="",
        author_type=Message.AuthorType.AGENT, author_agent=agent, body_text=body, at=at,
    )


# Delivery moves forward only: a late "delivered" never undoes "read". A failure counts
# unless the provider already confirmed delivery.
_STATUS_RANK = {
    Message.DeliveryStatus.QUEUED: 0,
    Message.DeliveryStatus.SENT: 1,
    Message.DeliveryStatus.FAILED: 1,
    Message.DeliveryStatus.DELIVERED: 2,
    Message.DeliveryStatus.READ: 3,
}


def message_status_update(*, inbox: Inbox, external_id: str, status: str,
                          error: str = "") -> Message | None:
    """Apply a provider's status callback to our outbound message; ignores unknown ids and
    anything that would move the status backwards. Returns the message if it changed."""
    if status not in _STATUS_RANK:
        raise InvalidInput(f"Unknown delivery status {status!r}.")
    with transaction.atomic():
        message = (
            Message.objects.select_for_update().select_related("ticket")
            .filter(inbox=inbox, external_id=external_id,
                    direction=Message.Direction.OUTBOUND).first()
        )
        if message is None or message.delivery_status == status:
            return None
        current = _STATUS_RANK.get(message.delivery_status, 0)
        if _STATUS_RANK[status] < current or (
            status == Message.DeliveryStatus.FAILED and current > 1
        ) or (message.delivery_status == Message.DeliveryStatus.FAILED
              and status == Message.DeliveryStatus.SENT):
            return None
        message.delivery_status = status
        message.delivery_error = error if status == Message.DeliveryStatus.FAILED else ""
        message.save(update_fields=["delivery_status", "delivery_error"])
        message_publish(message, MESSAGE_UPDATED)
    return message


@transaction.atomic
def message_attachment_add(*, message: Message, data: AttachmentData) -> Attachment:
    """Attach a file fetched after the message was stored (provider media)."""
    storage = Attachment._meta.get_field("file").storage
    attachment = Attachment.objects.create(
        message=message, file=attachment_file_store(storage, data.content), name=data.name,
        content_type=data.content_type, size=len(data.content), content_id=data.content_id,
    )
    getattr(message, "_prefetched_objects_cache", {}).pop("attachments", None)
    message_publish(message, MESSAGE_UPDATED)
    return attachment
