"""Widget sessions and visitor actions. Writes go through the inbox services."""

import hashlib
import hmac
import uuid
from dataclasses import dataclass, field
from functools import partial

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from inbox import domain_events, realtime
from inbox.errors import Conflict, InvalidInput, NotFound, ServiceError
from inbox.models import (
    MESSAGING_CHANNELS,
    Channel,
    Contact,
    ContactIdentity,
    Inbox,
    Message,
    Ticket,
)
from inbox.realtime import contact_group, publish, ticket_group
from inbox.services import AttachmentData, Identity, InboundMessage, contact_merge, message_ingest
from inbox.services.batch import messages_ingest, tickets_lock
from inbox.services.contacts import contact_resolve

from .models import SESSION_LIFETIME, ReadMarker, WidgetSession, WidgetUpload, token_digest

MAX_BODY_CHARS = 10_000
BLOCKED_EXTENSIONS = {".exe", ".bat", ".cmd", ".com", ".scr", ".js", ".vbs", ".msi", ".jar",
                      ".ps1", ".dll", ".sh", ".apk", ".html", ".htm", ".svg"}


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"


@dataclass(frozen=True)
class VisitorClaim:
    """What `Switchboard.identify()` sends: an id, optionally signed with `hash`."""

    id: str
    email: str = ""
    name: str = ""
    hash: str = ""


def identity_hash(*, inbox: Inbox, user_id: str) -> str:
    return hmac.new(inbox.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def widget_session_start(*, inbox_key: str, token: str | None = None,
                         user: VisitorClaim | None = None,
                         origin: str | None = None) -> tuple[WidgetSession, str]:
    """Start (or continue, given a previous token) a visitor session; returns it and the new
    bearer token. A verified identity links the visitor to the customer's contact, keeping
    the anonymous history; unverified claims never reach another contact's tickets."""
    inbox = Inbox.objects.filter(key=inbox_key, kind=Inbox.Kind.WIDGET).first()
    if inbox is None:
        raise NotFound("No such widget inbox.")
    origin_check(inbox=inbox, origin=origin)
    previous = widget_session_get(token=token) if token else None
    with transaction.atomic():
        switching_user = (
            previous is not None and previous.verified_user_id and user is not None
            and user.id != previous.verified_user_id
        )
        # Another signed-in customer on the same browser starts afresh: never merge two.
        if previous is not None and previous.inbox_id == inbox.pk and not switching_user:
            visitor_id, contact = previous.visitor_id, previous.contact
        else:
            visitor_id = uuid.uuid4().hex
            contact = contact_resolve(identities=[Identity(ContactIdentity.Kind.VISITOR,
                                                           visitor_id)])
        verified_id = ""
        if user is not None:
            contact, verified_id = _identify(inbox, contact, user)
        elif inbox.config.get("identity_verification_required") and not (
            previous and previous.verified_user_id
        ):
            raise Forbidden("This inbox requires a verified identity.", code="identity_required")
        raw_token = WidgetSession.new_token()
        session = WidgetSession.objects.create(
            inbox=inbox, contact=contact, visitor_id=visitor_id,
            token_hash=token_digest(raw_token),
            verified_user_id=verified_id or (
                previous.verified_user_id if previous and not switching_user else ""),
            expires_at=timezone.now() + SESSION_LIFETIME,
        )
    return session, raw_token


def _identify(inbox: Inbox, contact: Contact, user: VisitorClaim) -> tuple[Contact, str]:
    if not user.id:
        raise InvalidInput("identify() needs an id.", fields={"user": ["id is required"]})
    verified = bool(user.hash) and hmac.compare_digest(
        identity_hash(inbox=inbox, user_id=user.id), user.hash.lower()
    )
    if user.hash and not verified:
        raise Forbidden("The identity hash does not match.", code="identity_not_verified")
    if not verified and inbox.config.get("identity_verification_required"):
        raise Forbidden("This inbox requires a verified identity.", code="identity_required")
    if verified:
        owner = ContactIdentity.objects.filter(
            kind=ContactIdentity.Kind.EXTERNAL, value=user.id
        ).select_related("contact").first()
        if owner and not owner.verified:
            # An unverified claim proves nothing (anyone may have made it first): the
            # customer who signs the id takes it over, and nothing is merged.
            owner.contact, owner.verified = contact, True
            owner.save(update_fields=["contact", "verified"])
        elif owner and owner.contact_id != contact.pk:
            # The customer is known: their anonymous chat so far joins their contact.
            contact_merge(source=contact, target=owner.contact, by=None)
            contact = owner.contact
    claims = [Identity(ContactIdentity.Kind.EXTERNAL, user.id, verified=verified)]
    if user.email:
        claims.append(Identity(ContactIdentity.Kind.EMAIL, user.email))
    for claim in claims:
        claim = claim.normalized()
        taken = ContactIdentity.objects.filter(kind=claim.kind, value=claim.value).exists()
        if not taken:
            ContactIdentity.objects.create(contact=contact, kind=claim.kind, value=claim.value,
                                           verified=claim.verified)
    if user.name and not contact.name:
        contact.name = user.name[:200]
        contact.save(update_fields=["name"])
    return contact, user.id if verified else ""


def origin_check(*, inbox: Inbox, origin: str | None) -> None:
    allowed = inbox.config.get("allowed_origins") or []
    if allowed and origin not in allowed:
        raise Forbidden("This site may not use this widget.", code="origin_not_allowed")


def widget_session_get(*, token: str | None) -> WidgetSession | None:
    if not token:
        return None
    session = (
        WidgetSession.objects.select_related("inbox", "contact")
        .filter(token_hash=token_digest(token), expires_at__gt=timezone.now()).first()
    )
    if session is not None and session.contact.merged_into_id:
        session.contact = session.contact.merged_into
    return session


def visitor_tickets(*, session: WidgetSession):
    return _widget_visible_tickets().filter(contact=session.contact)


def _widget_visible_tickets():
    """The conversations the widget shows a contact: their messaging tickets, never email."""
    return Ticket.objects.filter(channel__in=MESSAGING_CHANNELS)


def visitor_ticket_get(*, session: WidgetSession, ticket_id) -> Ticket:
    try:
        return visitor_tickets(session=session).get(pk=int(ticket_id))
    except (Ticket.DoesNotExist, TypeError, ValueError):
        raise NotFound("No such conversation.") from None


def visitor_ticket_summaries(*, session: WidgetSession) -> list[dict]:
    """Each conversation with its last seq and how many agent messages are unread."""
    tickets = visitor_tickets(session=session).annotate(
        unread=Count("messages", filter=Q(
            messages__direction=Message.Direction.OUTBOUND,
            messages__seq__gt=_contact_seq_expression(),
        )),
    ).order_by("-last_activity_at")
    return [
        {"id": t.pk, "last_seq": t.last_seq, "unread": t.unread, "status": t.status,
         "subject": t.subject, "last_activity_at": t.last_activity_at.isoformat()}
        for t in tickets
    ]


def _contact_seq_expression():
    return Coalesce(Subquery(ReadMarker.objects.filter(ticket_id=OuterRef("pk"))
                             .values("contact_seq")[:1]), 0)


def visitor_message_send(*, session: WidgetSession, client_id: uuid.UUID, body: str,
                         ticket_id: int | None = None,
                         attachment_ids: list[int] = ()) -> tuple[Message, bool]:
    """Store a visitor's message; idempotent on client_id. Returns (message, created)."""
    _length_check(body)
    if ticket_id is not None:
        visitor_ticket_get(session=session, ticket_id=ticket_id)
    uploads = list(WidgetUpload.objects.filter(session__contact=session.contact,
                                               pk__in=attachment_ids))
    if len(uploads) != len(set(attachment_ids)):
        raise NotFound("An attachment was not found.", code="attachment_not_found")
    _nonempty_check(body, has_files=bool(uploads))
    attachments = []
    for upload in uploads:
        with upload.file.open("rb") as handle:
            attachments.append(AttachmentData(name=upload.name, content=handle.read(),
                                              content_type=upload.content_type))
    result = message_ingest(data=_inbound(session, client_id, body, ticket_id, attachments))
    message = _owned(session, result.message)
    if result.created:
        for upload in uploads:
            # The file goes once the row's deletion is committed: a rolled-back batch
            # (retried message by message) still finds it.
            transaction.on_commit(partial(upload.file.storage.delete, upload.file.name))
            upload.delete()
    return message, result.created


@dataclass(frozen=True)
class VisitorSend:
    """One `message.send` of a batch (`visitor_messages_send`)."""

    session: WidgetSession
    client_id: uuid.UUID
    body: str
    ticket_id: int | None = None
    attachment_ids: list[int] = field(default_factory=list)


def visitor_messages_send(*, sends: list[VisitorSend]) -> list[Message | ServiceError]:
    """Store several visitors' messages in one transaction (the widget sockets of a process
    write what arrived together as one batch): per send, in order, the stored message or
    the error that refused it, exactly as `visitor_message_send` would have.

    Text messages in a conversation the visitor can see are appended together
    (`messages_ingest`); a send with files or without a ticket takes
    `visitor_message_send`, after them, and so do the visitor's later sends in the batch,
    so their own messages keep their order."""
    outcomes: list[Message | ServiceError | None] = [None] * len(sends)
    plain, ordinary_visitors = [], set()
    for index, send in enumerate(sends):
        if send.attachment_ids or send.ticket_id is None or \
                send.session.contact.pk in ordinary_visitors:
            ordinary_visitors.add(send.session.contact.pk)
            continue
        try:
            _length_check(send.body)
        except ServiceError as error:
            outcomes[index] = error
            continue
        plain.append(index)
    # Committed together: the live events go out in one hop (or, inside
    # `realtime.collected()`, back to the caller), and the domain events' handlers share
    # their look-ups.
    with realtime.coalesced(), domain_events.shared_round(), transaction.atomic():
        if plain:
            _plain_sends_store(sends, plain, outcomes)
        for index, send in enumerate(sends):
            if outcomes[index] is None:
                try:
                    outcomes[index] = visitor_message_send(
                        session=send.session, client_id=send.client_id, body=send.body,
                        ticket_id=send.ticket_id, attachment_ids=send.attachment_ids)[0]
                except ServiceError as error:
                    outcomes[index] = error
    return outcomes


def _plain_sends_store(sends: list[VisitorSend], plain: list[int], outcomes: list) -> None:
    """Text sends at `plain` indices naming their ticket: checked like
    `visitor_message_send` does (for all of them with one query) and appended together;
    each one's message or error goes into `outcomes`."""
    # Read once, locked, for both the check and the batch's appends; only the senders' own
    # conversations, so a ticket id of someone else's locks nothing.
    visible = tickets_lock(
        _widget_visible_tickets().filter(
            contact__in={sends[index].session.contact.pk for index in plain}),
        {sends[index].ticket_id for index in plain})
    batch = []
    for index in plain:
        send = sends[index]
        try:
            ticket = visible.get(send.ticket_id)
            if ticket is None or ticket.contact_id != send.session.contact.pk:
                raise NotFound("No such conversation.")
            _nonempty_check(send.body, has_files=False)
        except ServiceError as error:
            outcomes[index] = error
        else:
            batch.append(index)
    stored = messages_ingest(batch=[
        _inbound(sends[index].session, sends[index].client_id, sends[index].body,
                 sends[index].ticket_id, []) for index in batch], locked=visible)
    for index, outcome in zip(batch, stored):
        if isinstance(outcome, ServiceError):
            outcomes[index] = outcome
            continue
        try:
            outcomes[index] = _owned(sends[index].session, outcome.message)
        except ServiceError as error:
            outcomes[index] = error


def _length_check(body: str) -> None:
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInput(f"Messages are at most {MAX_BODY_CHARS} characters.",
                           code="too_long")


def _nonempty_check(body: str, *, has_files: bool) -> None:
    if not body.strip() and not has_files:
        raise InvalidInput("A message needs text or an attachment.", code="empty")


def _inbound(session: WidgetSession, client_id: uuid.UUID, body: str, ticket_id: int | None,
             attachments: list[AttachmentData]) -> InboundMessage:
    return InboundMessage(
        inbox=session.inbox, channel=Channel.WIDGET,
        sender=[Identity(ContactIdentity.Kind.VISITOR, session.visitor_id)],
        sender_name=session.contact.name, body_text=body, client_id=client_id,
        ticket_id=ticket_id, attachments=attachments, contact=session.contact,
    )


def _owned(session: WidgetSession, message: Message) -> Message:
    """A client_id is the visitor's own: another contact's message under it is a conflict."""
    if message.ticket.contact_id != session.contact.pk:
        raise Conflict("This client_id belongs to another message.", code="client_id_conflict")
    return message


def visitor_upload(*, session: WidgetSession, name: str, content_type: str,
                   content: bytes) -> WidgetUpload:
    if len(content) > session.inbox.attachment_limit_bytes:
        raise InvalidInput(f"Files are at most {session.inbox.attachment_limit_mb:g} MB.",
                           code="too_large")
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if suffix in BLOCKED_EXTENSIONS:
        raise InvalidInput("This type of file cannot be sent.", code="blocked_type")
    safe_name = name.replace("/", "_").replace("\\", "_").replace("\x00", "")[:150] or "file"
    upload = WidgetUpload(session=session, name=safe_name, content_type=content_type or
                          "application/octet-stream", size=len(content))
    upload.file.save(safe_name, ContentFile(content), save=False)
    upload.save()
    return upload


def visitor_read(*, session: WidgetSession, ticket_id: int, seq: int) -> int:
    """Record that the visitor has read up to `seq`; tells the agents. Returns the mark."""
    ticket = visitor_ticket_get(session=session, ticket_id=ticket_id)
    seq = max(0, min(int(seq), ticket.last_seq))
    with transaction.atomic():
        marker, _ = ReadMarker.objects.select_for_update().get_or_create(ticket=ticket)
        if seq <= marker.contact_seq:
            return marker.contact_seq
        marker.contact_seq, marker.contact_read_at = seq, timezone.now()
        marker.save(update_fields=["contact_seq", "contact_read_at"])
        Message.objects.filter(
            ticket=ticket, direction=Message.Direction.OUTBOUND, seq__lte=seq,
            delivery_status__in=[Message.DeliveryStatus.SENT, Message.DeliveryStatus.DELIVERED],
        ).update(delivery_status=Message.DeliveryStatus.READ)
        publish([ticket_group(ticket.pk)], "read",
                {"ticket_id": ticket.pk, "seq": seq, "by": "contact"})
    return seq


def agent_read(*, agent, ticket_id: int, seq: int) -> int:
    """An agent has read the ticket up to `seq`: the visitor sees a read receipt."""
    with transaction.atomic():
        ticket = Ticket.objects.get(pk=ticket_id)
        seq = max(0, min(int(seq), ticket.last_seq))
        marker, _ = ReadMarker.objects.select_for_update().get_or_create(ticket=ticket)
        if seq <= marker.agent_seq:
            return marker.agent_seq
        marker.agent_seq = seq
        marker.save(update_fields=["agent_seq"])
        publish([contact_group(ticket.contact_id), ticket_group(ticket.pk)], "read",
                {"ticket_id": ticket.pk, "seq": seq, "by": "agent"})
    return seq
