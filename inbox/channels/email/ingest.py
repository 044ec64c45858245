"""One path from raw MIME bytes to the timeline, shared by every inbound email source:
the ingest_email command, the raw MIME endpoint, IMAP polling and ESP webhooks."""

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from ...models import Channel, ContactIdentity, Inbox, Message
from ...realtime import MESSAGE_UPDATED
from ...services import (
    AttachmentData,
    EmailThreadRefs,
    Identity,
    InboundMessage,
    message_ingest,
    message_reply,
)
from ...services.messages import message_publish
from .models import QuarantinedEmail
from .parse import EmailParseError, ParsedEmail, email_parse

logger = logging.getLogger(__name__)

_TICKET_TOKEN = re.compile(r"\+t([a-z2-9]{12})@", re.IGNORECASE)
AUTO_ACK_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True)
class EmailOutcome:
    """What became of one email: `ingested`, `duplicate`, `auto_reply` or `quarantined`."""

    status: str
    message: Message | None = None
    quarantined: QuarantinedEmail | None = None
    error: str = ""


def email_ingest(*, inbox: Inbox | None, raw: bytes, source: str) -> EmailOutcome:
    """Parse and store one email; never raises for bad input (it is quarantined instead)."""
    if inbox is None:
        return _quarantine(None, raw, source, "no inbox matches the recipient")
    try:
        parsed = email_parse(raw, max_attachment_bytes=inbox.attachment_limit_bytes)
    except EmailParseError as exc:
        return _quarantine(inbox, raw, source, f"unparseable: {exc}")
    if not parsed.sender_address:
        return _quarantine(inbox, raw, source, "no sender address (From is missing or broken)")
    try:
        result = message_ingest(data=_inbound(inbox, parsed, raw))
    except Exception as exc:  # nothing valid may be lost: keep it for re-processing
        logger.exception("email could not be stored")
        return _quarantine(inbox, raw, source, f"could not be stored: {exc!r}")
    if not result.created:
        return EmailOutcome(status="duplicate", message=result.message)
    if parsed.bounce:
        _bounce_record(inbox, parsed)
    if parsed.auto_reply:
        return EmailOutcome(status="auto_reply", message=result.message)
    if result.ticket_created:
        _auto_acknowledge(inbox, result.message)
    return EmailOutcome(status="ingested", message=result.message)


def quarantine_reprocess(*, item: QuarantinedEmail) -> EmailOutcome:
    """Run a quarantined email through ingest again (after a fix); on success link it."""
    with item.raw.open("rb") as handle:
        raw = handle.read()
    outcome = email_ingest(inbox=item.inbox, raw=raw, source=item.source)
    if outcome.message is not None:
        item.reprocessed_at = timezone.now()
        item.message = outcome.message
        item.save(update_fields=["reprocessed_at", "message"])
    return outcome


def _inbound(inbox: Inbox, parsed: ParsedEmail, raw: bytes) -> InboundMessage:
    recipients = (*parsed.to, *parsed.cc, *parsed.delivered_to)
    token = next((m.group(1) for r in recipients if (m := _TICKET_TOKEN.search(r))), "")
    # A bounce belongs on the ticket of the message that bounced.
    bounced_id = parsed.bounce.original_message_id if parsed.bounce else ""
    return InboundMessage(
        inbox=inbox,
        channel=Channel.EMAIL,
        sender=[Identity(ContactIdentity.Kind.EMAIL, parsed.sender_address)],
        sender_name=parsed.sender_name,
        body_text=parsed.text or parsed.text_full,
        body_html=parsed.html,
        subject=parsed.subject,
        # Without a Message-ID, the content itself identifies the message, so re-ingesting
        # the same file is still recognised as a duplicate.
        external_id=parsed.message_id or f"<{QuarantinedEmail.digest(raw)}@switchboard.invalid>",
        thread=EmailThreadRefs(
            ticket_token=token, subject=parsed.subject,
            in_reply_to=parsed.in_reply_to or bounced_id,
            references=(*parsed.references, bounced_id) if bounced_id else parsed.references,
        ),
        is_auto_reply=bool(parsed.auto_reply),
        attachments=[
            AttachmentData(name=a.name, content=a.content, content_type=a.content_type,
                           content_id=a.content_id)
            for a in parsed.attachments
        ],
        metadata={"email": _email_metadata(parsed)},
        raw=AttachmentData(name="original.eml", content=raw, content_type="message/rfc822"),
    )


def _email_metadata(parsed: ParsedEmail) -> dict:
    return {
        "message_id": parsed.message_id,
        "from": parsed.sender_address,
        "to": list(parsed.to),
        "cc": list(parsed.cc),
        "date": parsed.date.isoformat() if parsed.date else None,
        "in_reply_to": parsed.in_reply_to,
        "references": list(parsed.references),
        "auto_reply": parsed.auto_reply,
        "text_full": parsed.text_full,
        "skipped_attachments": list(parsed.skipped_attachments),
        "defects": list(parsed.defects),
    }


def _bounce_record(inbox: Inbox, parsed: ParsedEmail) -> None:
    """A delivery failure report marks the outbound message it reports on as failed."""
    bounce = parsed.bounce
    ids = [i for i in (bounce.original_message_id, parsed.in_reply_to, *parsed.references) if i]
    original = (
        Message.objects.filter(inbox=inbox, external_id__in=ids,
                               direction=Message.Direction.OUTBOUND)
        .select_related("ticket").order_by("-seq").first()
    )
    if original is None:
        return
    with transaction.atomic():
        original.delivery_status = Message.DeliveryStatus.FAILED
        recipient = f" ({bounce.recipient})" if bounce.recipient else ""
        original.delivery_error = f"Bounced{recipient}: {bounce.reason}"
        original.save(update_fields=["delivery_status", "delivery_error"])
        message_publish(original, MESSAGE_UPDATED)


def _auto_acknowledge(inbox: Inbox, message: Message) -> None:
    """Confirm receipt of a new ticket, at most once per sender per hour (never to
    automatic mail: the caller only gets here for a person's message)."""
    text = inbox.config.get("auto_acknowledge")
    if not text:
        return
    ticket = message.ticket
    recent = Message.objects.filter(
        inbox=inbox, author_type=Message.AuthorType.SYSTEM, metadata__auto_ack=True,
        ticket__contact_id=ticket.contact_id, created_at__gte=timezone.now() - AUTO_ACK_INTERVAL,
    )
    if recent.exists():
        return
    message_reply(
        ticket=ticket, agent=None, body=str(text).replace("{number}", str(ticket.number)),
        channel=Channel.EMAIL, author_type=Message.AuthorType.SYSTEM,
        metadata={"auto_ack": True},
    )


def _quarantine(inbox: Inbox | None, raw: bytes, source: str, error: str) -> EmailOutcome:
    digest = QuarantinedEmail.digest(raw)
    existing = QuarantinedEmail.objects.filter(inbox=inbox, sha256=digest).first()
    if existing:
        return EmailOutcome(status="duplicate", quarantined=existing, error=existing.error)
    item = QuarantinedEmail(inbox=inbox, sha256=digest, size=len(raw), error=error,
                            source=source)
    item.raw.save(f"{digest}.eml", ContentFile(raw), save=False)
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError:  # the same bytes quarantined concurrently
        item = QuarantinedEmail.objects.get(inbox=inbox, sha256=digest)
        return EmailOutcome(status="duplicate", quarantined=item, error=item.error)
    logger.warning("email quarantined (%s): %s", source, error)
    return EmailOutcome(status="quarantined", quarantined=item, error=error)


def inbox_for_recipients(recipients: list[str]) -> Inbox | None:
    """The email inbox one of `recipients` belongs to (its `address` or `aliases`, with or
    without a +tag), for sources that do not name the inbox (ESP webhooks)."""
    wanted = {_strip_tag(r.lower()) for r in recipients if r}
    for inbox in Inbox.objects.filter(kind=Inbox.Kind.EMAIL):
        addresses = [inbox.config.get("address", ""), *inbox.config.get("aliases", [])]
        if wanted & {a.lower() for a in addresses if a}:
            return inbox
    return None


def _strip_tag(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local.split('+', 1)[0]}@{domain}"
