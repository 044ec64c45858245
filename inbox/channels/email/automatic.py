"""Is this mail from a machine? Auto-reply reasons (RFC 3834 and common practice) and
delivery failure reports (RFC 3464 DSNs, and old plain-text bounces)."""

import re
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser

from .mime import POLICY, addresses, header_first, header_values, line_clean, msg_id_first

DSN_TYPES = {"message/delivery-status", "message/global-delivery-status"}
_RETURNED_MESSAGE = {"message/rfc822", "message/global"}
_RETURNED_HEADERS = {"text/rfc822-headers", "message/global-headers"}
_NULL_SENDERS = {"mailer-daemon", "postmaster"}
_PRECEDENCE = {"bulk", "junk", "list"}
# Exchange/Outlook's localised "Automatic reply:" subject prefixes, for auto-replies that
# lost their headers on the way (a relay, a forwarder).
_AUTO_SUBJECT = re.compile(
    r"^(automatic reply|auto reply|autoreply|out of office|automatische antwort"
    r"|r[ée]ponse automatique|risposta automatica|respuesta autom[áa]tica"
    r"|automatisch antwoord|automatyczna odpowied[źz]|automatiskt svar"
    r"|resposta autom[áa]tica|abwesenheitsnotiz)\s*:",
    re.IGNORECASE,
)
_BOUNCE_WORDS = re.compile(
    r"delivery status notification \(failure\)|undeliverable|undelivered mail|returned mail"
    r"|mail delivery failed|delivery failure|failure notice|could not be delivered"
    r"|delivery to the following recipients? failed|permanent fatal errors|delivery has failed"
    r"|(?:was|were|message) not delivered",
    re.IGNORECASE,
)
_SMTP_REPLY = re.compile(r"\b[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b[^\n]*")
_ADDRESS_LINE = re.compile(r"(?m)^\s*<?([^\s<>@]+@[^\s<>@]+\.[^\s<>@]+?)>?\s*$")
_QUOTED_MESSAGE_ID = re.compile(r"(?im)^\s*message-id:\s*(<[^<>\s]+>)")
_DSN_REPORT = re.compile(r'(?i)report-type\s*=\s*"?delivery-status\b')
_FINAL_ACTIONS = {"delayed", "delivered", "relayed", "expanded"}


@dataclass(frozen=True)
class Bounce:
    original_message_id: str  # Message-ID of the message that bounced ("<...>") if found
    recipient: str  # failed recipient address if found
    reason: str  # status code + diagnostic, e.g. "550 5.1.1 <x@y>... User unknown"


def auto_reply_reason(msg: Message, *, subject: str, bounce: Bounce | None) -> str:
    """Why this mail is automatic, or "" for a person's mail. The first rule that matches,
    in this order: Auto-Submitted (other than "no"), X-Autoreply/X-Autorespond,
    Precedence bulk|junk|list, List-Id, null sender (Return-Path <> or a mailer-daemon /
    postmaster sender), a bounce, an Outlook-style "Automatic reply:" subject.

    X-Auto-Response-Suppress is deliberately not a rule: it asks *us* not to auto-respond
    and is set by Outlook and ticketing tools on mail that people write too; taking it for
    an auto-reply would stop such a customer's message from reopening their ticket.
    """
    submitted = line_clean(header_first(msg, "auto-submitted")).lower()
    if submitted and submitted.split("(")[0].strip() != "no":
        return f"auto-submitted: {submitted}"
    if header_values(msg, "x-autoreply") or header_values(msg, "x-autorespond"):
        return "x-autoreply"
    precedence = line_clean(header_first(msg, "precedence")).lower().split(" ")[0]
    if precedence in _PRECEDENCE:
        return f"precedence: {precedence}"
    if line_clean(header_first(msg, "list-id")):
        return "list-id"
    if null_sender(msg):
        return "null-sender"
    if bounce is not None:
        return "bounce"
    match = _AUTO_SUBJECT.match(subject)
    if match:
        return f"subject: {match.group(1).lower()}"
    return ""


def null_sender(msg: Message) -> bool:
    return_path = line_clean(header_first(msg, "return-path"))
    if header_values(msg, "return-path") and return_path.strip("<> ") == "":
        return True
    senders = [a for _, a in addresses(msg, "from")[:1] + addresses(msg, "return-path")]
    return any(a.split("@")[0] in _NULL_SENDERS for a in senders)


def bounce_find(
    msg: Message, *, reports: list[Message], subject: str, text: str
) -> Bounce | None:
    """A delivery failure report, or None. A multipart/report DSN is read from its
    machine-readable part; a DSN that only reports delays or successes is not a bounce.
    A plain-text bounce is recognised by a null sender plus X-Failed-Recipients or the
    usual wording, and read as well as `text` (the human-readable body) allows.
    `reports` are the message/delivery-status parts found outside returned messages."""
    is_report = bool(reports) or (
        msg.get_content_type() == "multipart/report"
        and _DSN_REPORT.search(header_first(msg, "content-type")) is not None
    )
    if not is_report and not (null_sender(msg) and (
        header_values(msg, "x-failed-recipients")
        or _BOUNCE_WORDS.search(subject + "\n" + text[:5000])
    )):
        return None
    blocks = [b for report in reports for b in _status_blocks(report)]
    recipients = [b for b in blocks if "final-recipient" in b or "original-recipient" in b]
    failed = [b for b in recipients if b.get("action", "").lower() == "failed"]
    if recipients and not failed and all(
        b.get("action", "").lower() in _FINAL_ACTIONS for b in recipients
    ):
        return None
    block = (failed or recipients or [{}])[0]
    return Bounce(
        original_message_id=_original_id(msg, text),
        recipient=_recipient(block, msg, text),
        reason=_reason(block, text)[:500],
    )


def _parts(msg: Message):
    """Every part outside returned/forwarded messages."""
    yield msg
    if msg.get_content_maintype() == "multipart" and isinstance(msg.get_payload(), list):
        for child in msg.get_payload():
            yield from _parts(child)


def _status_blocks(report: Message) -> list[dict[str, str]]:
    """The DSN's field groups as {lower-case field: value}; the parser gives them as
    header-only sub-messages, or as text when it could not."""
    payload = report.get_payload()
    if isinstance(payload, list):
        return [{k.lower(): line_clean(v) for k, v in block.raw_items() if isinstance(v, str)}
                for block in payload]
    blocks = []
    for chunk in re.split(r"\n\s*\n", str(payload).replace("\r\n", "\n")):
        fields = re.findall(r"(?m)^([\w-]+):[ \t]*(.*(?:\n[ \t].*)*)", chunk)
        blocks.append({k.lower(): line_clean(v) for k, v in fields})
    return blocks


def _recipient(block: dict[str, str], msg: Message, text: str) -> str:
    for field in ("original-recipient", "final-recipient"):
        value = block.get(field, "").split(";")[-1].strip().strip("<>").lower()
        if "@" in value:
            return value
    failed = addresses(msg, "x-failed-recipients")
    if failed:
        return failed[0][1]
    match = _ADDRESS_LINE.search(text)
    return match.group(1).lower() if match else ""


def _reason(block: dict[str, str], text: str) -> str:
    status = block.get("status", "")
    diagnostic = block.get("diagnostic-code", "")
    if ";" in diagnostic:
        diagnostic = diagnostic.split(";", 1)[1].strip()
    if diagnostic and status and status.split(" ")[0] in diagnostic:
        return diagnostic
    if status or diagnostic:
        return " ".join(filter(None, (status, diagnostic)))
    match = _SMTP_REPLY.search(text)
    return line_clean(match.group()) if match else ""


def _original_id(msg: Message, text: str) -> str:
    for part in _parts(msg):
        ctype = part.get_content_type()
        if ctype in _RETURNED_MESSAGE and isinstance(part.get_payload(), list):
            found = msg_id_first(header_first(part.get_payload()[0], "message-id"))
        elif ctype in _RETURNED_HEADERS:
            headers = Parser(policy=POLICY).parsestr(
                str(part.get_payload()), headersonly=True
            )
            found = msg_id_first(header_first(headers, "message-id"))
        else:
            continue
        if found:
            return found
    match = _QUOTED_MESSAGE_ID.search(text)
    if match:
        return match.group(1)
    return msg_id_first(header_first(msg, "in-reply-to"))
