"""Outbound email: an agent reply becomes a MIME message that threads back (SPEC §3).

The Message-ID we set is returned and stored as the reply's `external_id`; the customer's
answer names it in In-Reply-To/References, and its Reply-To carries the ticket token, so
ingest finds the ticket either way. The adapter only reads the ORM: the delivery task
records the outcome.
"""

import re
import smtplib
import ssl
import unicodedata
from email.utils import formataddr, make_msgid, parseaddr

from anymail.exceptions import AnymailAPIError, AnymailError
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.core.validators import validate_email
from django.utils.html import escape, linebreaks

from ...delivery import PermanentDeliveryError, TransientDeliveryError, sender_register
from ...models import Channel, ContactIdentity, Inbox, Message, Ticket

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
SMTP_SECURITY_PORTS = {"starttls": 587, "ssl": 465, "none": 587}
REFERENCES_MAX = 20
# ingest names Message-ID-less mail after its digest in this domain: no client knows it.
_SYNTHETIC_ID_DOMAIN = "@switchboard.invalid>"
_MESSAGE_ID = re.compile(r"^<[^<>\s]+>$")
_REPLY_PREFIX = re.compile(r"^\s*(re\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_TICKET_NUMBER = re.compile(r"\s*\[#\d+\]")


@sender_register(Channel.EMAIL)
def email_send(message: Message) -> str:
    """Send one outbound email message; returns the Message-ID it carries."""
    email = email_message_build(message)
    email.connection = connection_open(message.inbox)
    try:
        email.send(fail_silently=False)
    except Exception as exc:  # whatever the backend raised ends up on the message
        raise send_error_classify(exc) from exc
    return email.extra_headers["Message-ID"]


def email_message_build(message: Message) -> EmailMultiAlternatives:
    """The MIME message for an outbound reply, every header already CRLF-safe."""
    inbox, ticket = message.inbox, message.ticket
    address = _sender_address(inbox)
    domain = address.rpartition("@")[2]
    signature = str(inbox.config.get("signature") or "").replace("\r\n", "\n").strip()
    # A person's latest email: never a bounce or out-of-office that came in after it.
    latest_inbound = (
        ticket.messages.filter(direction=Message.Direction.INBOUND, channel=Channel.EMAIL,
                               is_auto_reply=False)
        .order_by("-seq").first()
    )
    headers = {
        "Message-ID": make_msgid(domain=domain),
        "X-Switchboard-Ticket": str(ticket.number),
    }
    in_reply_to = latest_inbound and message_id_clean(latest_inbound.external_id)
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
    references = _thread_references(ticket, before_seq=message.seq)
    if references:
        headers["References"] = " ".join(references)
    if message.author_type == Message.AuthorType.SYSTEM:
        headers["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer
    email = EmailMultiAlternatives(
        subject=reply_subject_build(ticket.subject, ticket.number),
        body=_text_with_signature(message.body_text, signature),
        from_email=formataddr((header_clean(inbox.config.get("from_name") or ""), address)),
        to=[_recipient_address(ticket, latest_inbound)],
        reply_to=[reply_to_build(address, ticket.token)],
        headers=headers,
    )
    email.attach_alternative(
        _html_with_signature(message.body_html, message.body_text, signature), "text/html"
    )
    for attachment in message.attachments.all():
        try:
            with attachment.file.open("rb") as handle:
                content = handle.read()
        except OSError as exc:
            raise PermanentDeliveryError(f"Attachment {attachment.name} is unreadable: {exc}")
        email.attach(header_clean(attachment.name) or "attachment", content,
                     header_clean(attachment.content_type) or "application/octet-stream")
    return email


def _sender_address(inbox: Inbox) -> str:
    address = header_clean(inbox.config.get("address") or "")
    if not address:
        raise PermanentDeliveryError(
            f"The inbox {inbox.slug} has no sending address: set `address` in its config."
        )
    if not _address_valid(address):
        raise PermanentDeliveryError(f"The inbox address {address!r} is not a valid email address.")
    return address


def _recipient_address(ticket: Ticket, latest_inbound: Message | None) -> str:
    """Where the customer last wrote from, else their email identity."""
    metadata = (latest_inbound.metadata or {}).get("email") if latest_inbound else None
    written_from = parseaddr(str((metadata or {}).get("from") or ""))[1]
    if written_from and _address_valid(written_from):
        return written_from
    identity = (
        ticket.contact.identities.filter(kind=ContactIdentity.Kind.EMAIL)
        .order_by("-verified", "-created_at", "-pk").first()
    )
    if identity is None:
        raise PermanentDeliveryError("The contact has no email address.")
    if not _address_valid(identity.value):
        raise PermanentDeliveryError(f"The contact's email address {identity.value!r} is invalid.")
    return identity.value


def _thread_references(ticket: Ticket, *, before_seq: int) -> list[str]:
    """Message-IDs of the ticket's earlier emails, both ways, oldest first (last 20)."""
    ids = ticket.messages.filter(
        channel=Channel.EMAIL, seq__lt=before_seq, external_id__isnull=False,
        direction__in=[Message.Direction.INBOUND, Message.Direction.OUTBOUND],
    ).order_by("seq").values_list("external_id", flat=True)
    cleaned = [message_id for value in ids if (message_id := message_id_clean(value))]
    return list(dict.fromkeys(cleaned))[-REFERENCES_MAX:]


def message_id_clean(value: str | None) -> str:
    """`value` if it is a usable `<id>` (never a synthetic one), else ""."""
    value = (value or "").strip()
    if not _MESSAGE_ID.match(value) or value.endswith(_SYNTHETIC_ID_DOMAIN):
        return ""
    return value


def header_clean(value: str) -> str:
    """One line of text: control and line-separator characters become spaces, so nothing
    a customer typed (a subject, a file name) can inject a header."""
    chars = (" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in str(value))
    return " ".join("".join(chars).split())


def reply_subject_build(subject: str, number: int) -> str:
    """`Re: <subject> [#n]`, without doubling `Re:` or the number."""
    subject = _TICKET_NUMBER.sub("", header_clean(subject))
    subject = " ".join(_REPLY_PREFIX.sub("", subject).split())
    if not subject:
        return f"Your request [#{number}]"
    return f"Re: {subject} [#{number}]"


def reply_to_build(address: str, token: str) -> str:
    """`support+t<token>@example.com`: ingest finds the ticket by `+t<token>@`."""
    local, _, domain = address.rpartition("@")
    return f"{local}+t{token}@{domain}"


def _text_with_signature(text: str, signature: str) -> str:
    return f"{text.rstrip()}\n\n-- \n{signature}" if signature else text


def _html_with_signature(html: str, text: str, signature: str) -> str:
    html = html or linebreaks(text, autoescape=True)
    if not signature:
        return html
    signature_html = escape(signature).replace("\n", "<br>\n")
    return f'{html}\n<div class="signature">-- <br>\n{signature_html}</div>'


def _address_valid(address: str) -> bool:
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def connection_open(inbox: Inbox):
    """The inbox's own SMTP server when `smtp_host` is set, else the site's EMAIL_BACKEND
    (SMTP from EMAIL_URL, an ESP through django-anymail, or files in var/sent-mail)."""
    config = inbox.config
    host = header_clean(config.get("smtp_host") or "")
    if not host:
        return get_connection(fail_silently=False)
    security = str(config.get("smtp_security") or "starttls").lower()
    if security not in SMTP_SECURITY_PORTS:
        raise PermanentDeliveryError(
            f"smtp_security must be starttls, ssl or none, not {security!r}."
        )
    try:
        port = int(config.get("smtp_port") or SMTP_SECURITY_PORTS[security])
    except (TypeError, ValueError):
        raise PermanentDeliveryError(f"smtp_port {config.get('smtp_port')!r} is not a number.")
    # Explicit "" keeps Django from falling back to the site-wide EMAIL_HOST_* credentials.
    return get_connection(
        SMTP_BACKEND, fail_silently=False, host=host, port=port,
        username=str(config.get("smtp_username") or ""), password=inbox.secret("smtp_password"),
        use_tls=security == "starttls", use_ssl=security == "ssl",
        timeout=settings.EMAIL_TIMEOUT or 30,
    )


def send_error_classify(exc: Exception) -> Exception:
    """Map a backend failure onto the delivery task's retry decision: worth retrying
    (the server said "later", or we never reached it) or not (it said "no")."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        detail = "; ".join(f"{code} {_reply_text(text)}" for code, text in replies)
        if replies and all(400 <= code < 500 for code, _ in replies):
            return TransientDeliveryError(f"Recipient deferred: {detail}")
        return PermanentDeliveryError(f"Recipient refused: {detail}")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return PermanentDeliveryError(
            f"SMTP authentication failed: {exc.smtp_code} {_reply_text(exc.smtp_error)}"
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
        if 400 <= exc.smtp_code < 500:
            return TransientDeliveryError(f"SMTP server deferred: {reply}")
        return PermanentDeliveryError(f"SMTP server refused: {reply}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransientDeliveryError(f"SMTP server disconnected: {exc}")
    if isinstance(exc, (smtplib.SMTPException, ssl.SSLError)):
        # No STARTTLS, no AUTH, a certificate that fails: configuration, not bad luck.
        return PermanentDeliveryError(f"SMTP error: {exc}")
    if isinstance(exc, OSError):
        return TransientDeliveryError(f"Cannot reach the mail server: {exc}")
    if isinstance(exc, AnymailAPIError):
        status = exc.status_code
        if status is None or status == 429 or status >= 500:
            return TransientDeliveryError(f"Email provider error: {_reply_text(str(exc))}")
        return PermanentDeliveryError(f"Email provider refused: {_reply_text(str(exc))}")
    if isinstance(exc, (AnymailError, BadHeaderError, ValueError)):
        return PermanentDeliveryError(f"Email not sendable: {_reply_text(str(exc))}")
    return PermanentDeliveryError(f"Sending failed: {exc!r}")


def _reply_text(text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return " ".join(text.split())
