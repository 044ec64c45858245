"""The email channel's parser: raw RFC 5322/MIME bytes in, plain data out (no ORM).

`email_parse` raises nothing but `EmailParseError`, whatever the bytes: the caller keeps
such input in quarantine and never crashes. It is raised only for input that cannot be
a message: empty input, no header block, or neither a sender address nor any content.
Mail with content but no usable From address (stripped by a relay, a broken first header
line) parses, with `sender_address == ""`: whether to quarantine it is the ingest
layer's decision, not the parser's.

How the parts of a message are read:
- Body: text/plain and text/html parts that are not attachments (no `attachment`
  disposition, no file name). In multipart/alternative the first branch with plain text
  and the last branch with HTML win; elsewhere (an iPhone's text / photo / text) parts
  are joined. HTML is sanitized; an HTML-only message gets its text derived from it.
- Attachments: every other leaf (whatever its disposition: Apple Mail sends PDFs
  `inline`). An image referenced from the HTML as cid: is flagged `inline`.
- A forwarded or returned message (message/rfc822) becomes an .eml attachment, so its
  text and headers stay available, and its own attachments are added next to it, so the
  agent can open the forwarded PDF directly; its body is not merged into this text.
- message/delivery-status parts are not attachments: they are read into `bounce`.
- A multipart whose boundary never appears is split on its "--..." lines as a last
  resort, and a "base64" text part that is not base64 is taken as written.
"""

import email.policy
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.parser import BytesParser

from ...sanitize import html_sanitize
from .automatic import DSN_TYPES, Bounce, auto_reply_reason, bounce_find
from .body import html_to_text, reply_visible
from .mime import (
    POLICY,
    addresses,
    bytes_decode,
    cid_references,
    content_id,
    date_parse,
    filename_safe,
    header_block_repair,
    header_first,
    header_text,
    header_values,
    html_charset,
    line_clean,
    message_id,
    msg_id_first,
    msg_ids,
    raw_filename,
)

__all__ = ["Bounce", "EmailParseError", "ParsedAttachment", "ParsedEmail", "email_parse"]

MB = 1024 * 1024
BLOCKED_EXTENSIONS = frozenset({
    ".exe", ".bat", ".cmd", ".com", ".scr", ".js", ".vbs", ".msi", ".jar", ".ps1", ".dll",
    ".pif", ".hta", ".wsf", ".vbe", ".jse", ".cpl",
})
_MESSAGE_TYPES = {"message/rfc822", "message/global"}
_BODY_TYPES = {"text/plain", "text/html"}
_MAX_DEPTH = 30
_MAX_REFERENCES = 100
_BOUNDARY_LINE = re.compile(r"(?m)^--\S*[ \t]*\r?$")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_POLICY = POLICY
# Re-emit a nested message's headers exactly as they came, not re-folded.
_VERBATIM = _POLICY.clone(refold_source="none")


class EmailParseError(Exception):
    """Input that cannot become a message: quarantine it."""


@dataclass(frozen=True)
class ParsedAttachment:
    name: str  # safe file name, never empty
    content_type: str  # lower-case type/subtype
    content: bytes
    content_id: str = ""  # without <>, for inline cid: images
    inline: bool = False  # an image referenced from the HTML body by cid


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str  # "<...>" as in the header; "" if absent
    sender_name: str
    sender_address: str  # lower-case addr-spec of the first From address; "" if none
    to: tuple[str, ...]
    cc: tuple[str, ...]
    delivered_to: tuple[str, ...]  # Delivered-To, X-Original-To, Envelope-To
    reply_to: tuple[str, ...]
    subject: str  # decoded, one line, at most 500 characters
    date: datetime | None  # aware; None when missing or unparseable
    in_reply_to: str  # first <msg-id> in In-Reply-To
    references: tuple[str, ...]  # <msg-id>s in References, in order
    text: str  # displayed body: the new text without the quoted history
    text_full: str  # the whole text body
    html: str  # sanitized HTML body, "" if none
    attachments: tuple[ParsedAttachment, ...]
    skipped_attachments: tuple[str, ...]  # attachments refused by the limits, and why
    auto_reply: str  # "" for a person's mail, else why it is automatic
    bounce: Bounce | None
    defects: tuple[str, ...]  # parser defects noticed


@dataclass
class _Parts:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    files: list[tuple[Message, str, str]] = field(default_factory=list)  # part, type, name
    reports: list[Message] = field(default_factory=list)  # message/delivery-status parts
    defects: list[str] = field(default_factory=list)


def email_parse(
    raw: bytes, *, max_attachment_bytes: int = 10 * MB, max_total_bytes: int = 25 * MB
) -> ParsedEmail:
    """Parse one raw email; see the module docstring for what goes where."""
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise EmailParseError(f"expected bytes, got {type(raw).__name__}")
    if not raw.strip():
        raise EmailParseError("empty input")
    try:
        return _parse(raw, max_attachment_bytes, max_total_bytes)
    except EmailParseError:
        raise
    except Exception as exc:  # a parser bug must not cost us the message: quarantine it
        raise EmailParseError(f"unexpected {type(exc).__name__}: {exc}") from exc


def _parse(raw: bytes, max_attachment_bytes: int, max_total_bytes: int) -> ParsedEmail:
    repaired, folded = header_block_repair(raw)
    msg = BytesParser(policy=_POLICY).parsebytes(repaired)
    if not list(msg.raw_items()):
        raise EmailParseError("no header block: the input does not start with mail headers")
    parts = _Parts()
    if folded:
        parts.defects.append(f"FoldedHeaderLineRepaired: {folded} line(s)")
    _collect(msg, parts, 0)
    text_full = "\n\n".join(filter(None, (_text_tidy(t) for t in parts.plain)))
    raw_html = "\n".join(parts.html).replace("\x00", "")
    if not text_full and raw_html.strip():
        text_full = html_to_text(raw_html)
    attachments, skipped = _attachments(
        parts.files, cid_references(raw_html), max_attachment_bytes, max_total_bytes
    )
    senders = addresses(msg, "from")
    sender_name, sender_address = senders[0] if senders else ("", "")
    if not sender_address and not text_full.strip() and not attachments and not skipped:
        raise EmailParseError("neither a sender address nor any content")
    subject = header_text(msg, "subject", 500)
    bounce = bounce_find(msg, reports=parts.reports, subject=subject, text=text_full)
    return ParsedEmail(
        message_id=message_id(msg),
        sender_name=sender_name,
        sender_address=sender_address,
        to=_addresses(msg, "to"),
        cc=_addresses(msg, "cc"),
        delivered_to=_addresses(msg, "delivered-to", "x-original-to", "envelope-to"),
        reply_to=_addresses(msg, "reply-to"),
        subject=subject,
        date=date_parse(header_first(msg, "date")),
        in_reply_to=msg_id_first(" ".join(header_values(msg, "in-reply-to"))),
        references=_references(msg),
        # A bounce's listing of the returned message's headers is not quoted history.
        text=text_full if bounce or not text_full.strip() else reply_visible(text_full),
        text_full=text_full,
        html=html_sanitize(raw_html).strip() if raw_html.strip() else "",
        attachments=attachments,
        skipped_attachments=skipped,
        auto_reply=auto_reply_reason(msg, subject=subject, bounce=bounce),
        bounce=bounce,
        defects=tuple(dict.fromkeys(parts.defects))[:50],
    )


def _addresses(msg: Message, *names: str) -> tuple[str, ...]:
    found = [address for name in names for _, address in addresses(msg, name)]
    return tuple(dict.fromkeys(found))


def _references(msg: Message) -> tuple[str, ...]:
    """At most 100: the first (the thread's root) and the 99 most recent."""
    ids = msg_ids(" ".join(header_values(msg, "references")))
    if len(ids) > _MAX_REFERENCES:
        ids = ids[:1] + ids[-(_MAX_REFERENCES - 1):]
    return tuple(ids)


# --- walking the MIME tree ------------------------------------------------------------

def _collect(part: Message, out: _Parts, depth: int) -> None:
    out.defects.extend(_defect_text(d) for d in part.defects)
    if depth > _MAX_DEPTH:
        out.defects.append(f"NestingTooDeep: parts below level {_MAX_DEPTH} ignored")
        return
    ctype = part.get_content_type()
    if ctype in DSN_TYPES:
        out.reports.append(part)
        return
    payload = part.get_payload()
    if ctype in _MESSAGE_TYPES:
        out.files.append((part, ctype, raw_filename(part)))
        if isinstance(payload, list) and payload:
            nested = _Parts()
            _collect(payload[0], nested, depth + 1)
            out.files.extend(nested.files)
            out.defects.extend(nested.defects)
        return
    if ctype.startswith("multipart/"):
        if not isinstance(payload, list):
            _collect_unsplit(part, out, depth)
        elif ctype == "multipart/alternative":
            _collect_alternative(payload, out, depth)
        else:
            for child in payload:
                _collect(child, out, depth + 1)
        return
    name = raw_filename(part)
    if ctype in _BODY_TYPES and not name and part.get_content_disposition() != "attachment":
        (out.html if ctype == "text/html" else out.plain).append(_part_text(part))
    else:
        out.files.append((part, ctype, name))


def _collect_alternative(children: list[Message], out: _Parts, depth: int) -> None:
    branches = []
    for child in children:
        branch = _Parts()
        _collect(child, branch, depth + 1)
        branches.append(branch)
        out.files.extend(branch.files)
        out.reports.extend(branch.reports)
        out.defects.extend(branch.defects)
    out.plain.extend(next((b.plain for b in branches if "".join(b.plain).strip()), []))
    out.html.extend(next((b.html for b in reversed(branches) if "".join(b.html).strip()), []))


def _collect_unsplit(part: Message, out: _Parts, depth: int) -> None:
    """A multipart whose boundary was never found: read the parts between "--..." lines
    that have headers; failing that, the whole payload is the text."""
    payload = str(part.get_payload())
    segments = _BOUNDARY_LINE.split(payload)
    found = False
    for segment in segments if len(segments) > 1 else ():
        sub = BytesParser(policy=_POLICY).parsebytes(_to_bytes(segment.strip("\r\n")))
        if list(sub.raw_items()):
            found = True
            _collect(sub, out, depth + 1)
    if not found:
        out.plain.append(bytes_decode(_to_bytes(payload), _charset(part)))


def _defect_text(defect: Exception) -> str:
    detail = line_clean(str(defect))[:200]
    return f"{type(defect).__name__}: {detail}" if detail else type(defect).__name__


# --- payloads -------------------------------------------------------------------------

def _part_text(part: Message) -> str:
    data = _part_bytes(part, text=True)
    charset = _charset(part)
    if not charset and part.get_content_type() == "text/html":
        charset = html_charset(data)
    return bytes_decode(data, charset)


def _part_bytes(part: Message, *, text: bool) -> bytes:
    payload = part.get_payload()
    if not isinstance(payload, str):
        return b""
    encoding = header_first(part, "content-transfer-encoding").lower()
    if text and encoding == "base64" and not _looks_base64(payload):
        return _to_bytes(payload)
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _looks_base64(payload: str) -> bool:
    compact = "".join(payload.split())
    return (
        _BASE64.fullmatch(compact) is not None
        and len(compact) % 4 != 1
        and re.search(r"\S[ \t]+\S", payload) is None
    )


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _to_bytes(text: str) -> bytes:
    try:
        return text.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _text_tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return text.strip("\n").rstrip()


# --- attachments ----------------------------------------------------------------------

def _attachments(
    files: list[tuple[Message, str, str]], cids: set[str], max_bytes: int, max_total: int
) -> tuple[tuple[ParsedAttachment, ...], tuple[str, ...]]:
    kept, skipped, total = [], [], 0
    for index, (part, ctype, name) in enumerate(files, 1):
        if ctype in _MESSAGE_TYPES:
            name, content = _message_attachment(part, name, index)
        else:
            content = _part_bytes(part, text=ctype.startswith("text/"))
            name = filename_safe(name, ctype, index)
        size = f"{name} ({len(content) / MB:.1f} MB)"
        if os.path.splitext(name.lower())[1] in BLOCKED_EXTENSIONS:
            skipped.append(f"{name}: blocked file type")
        elif len(content) > max_bytes:
            skipped.append(f"{size}: over the {max_bytes / MB:g} MB limit")
        elif total + len(content) > max_total:
            skipped.append(f"{size}: over the {max_total / MB:g} MB total limit")
        else:
            total += len(content)
            cid = content_id(part)
            kept.append(ParsedAttachment(
                name=name, content_type=ctype, content=content, content_id=cid,
                inline=bool(cid) and ctype.startswith("image/") and cid.lower() in cids,
            ))
    return tuple(kept), tuple(skipped)


def _message_attachment(part: Message, name: str, index: int) -> tuple[str, bytes]:
    """A forwarded/returned message as .eml bytes, named after its subject if unnamed."""
    payload = part.get_payload()
    if not (isinstance(payload, list) and payload):  # e.g. a base64-encoded message/rfc822
        return filename_safe(name, "message/rfc822", index), _part_bytes(part, text=False)
    inner = payload[0]
    if not name:
        subject = header_text(inner, "subject", 140)
        name = f"{subject}.eml" if subject else ""
    content = b""
    for policy in (_VERBATIM, email.policy.compat32):
        try:
            content = inner.as_bytes(policy=policy)
            break
        except Exception:  # a header the generator cannot re-emit: try the older one
            continue
    return filename_safe(name, "message/rfc822", index), content
