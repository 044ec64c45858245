"""Defensive low-level helpers for the email parser: raw header access, RFC 2047 and
charset decoding that never raises, addresses, message ids, dates and safe file names.

Everything here works on the raw header text the stdlib parser keeps (`raw_items()`),
because the modern policy's header objects can raise or leave encoded words undecoded
on real-world mail (unknown charsets, raw 8-bit bytes, broken folding).
"""

import codecs
import email.policy
import functools
import mimetypes
import os
import re
from datetime import UTC, datetime
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from urllib.parse import unquote

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Also invisible/bidi characters that disguise file names ("invoice\u202efdp.exe").
_NAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_NAME_RESERVED = re.compile(r'[<>:"|?*]')
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_MSG_ID = re.compile(r"<[^<>\s]+>")
_ANGLE_ADDR = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+)\s*>")
_ADDR_SPEC = re.compile(r"^[^@\s<>()\[\],;:\"\\\ufffd]+@[^@\s<>()\[\],;:\"\\\ufffd]+$")
_ADDRESS_HEADER_MAX = 8192
_SURROGATES = re.compile("[\udc80-\udcff]")
_HEADER_LINE = re.compile(rb"^[\x21-\x39\x3b-\x7e]+:")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.IGNORECASE)
_HEADER_REGISTRY = email.policy.default.header_factory
_HEADER_CACHED_MAX = 2048
_RAW_PER_SHOWN_CHAR = 64
_BUILTIN_TYPES = mimetypes.MimeTypes()  # built-in table only: the same on every host
_EXTENSIONS = {"image/jpg": ".jpg", "image/pjpeg": ".jpg", "application/x-msdownload": ".exe"}

# Declared charsets mapped to the codecs that actually decode what senders put in them:
# supersets (GB18030 for GB2312, CP1252 for Latin-1 as browsers do, CP932/CP949 for the
# Microsoft flavours of Shift_JIS and EUC-KR).
_CHARSET_CODECS = {
    **dict.fromkeys(("gb2312", "gb_2312-80", "gbk", "x-gbk", "cp936", "euc-cn", "csgb2312"),
                    "gb18030"),
    **dict.fromkeys(("iso-8859-1", "iso8859-1", "latin1", "latin-1", "iso_8859-1", "l1"),
                    "cp1252"),
    **dict.fromkeys(("us-ascii", "ascii", "ansi_x3.4-1968", "us"), "utf-8"),
    **dict.fromkeys(("shift_jis", "shift-jis", "sjis", "x-sjis", "ms_kanji", "csshiftjis"),
                    "cp932"),
    **dict.fromkeys(("euc-kr", "ks_c_5601-1987", "ks_c_5601", "ksc5601"), "cp949"),
    **dict.fromkeys(("tis-620", "iso-8859-11", "windows-874"), "cp874"),
    "big5": "big5hkscs",
    "iso-8859-8-i": "iso-8859-8",
}
_ISO_2022_JP = {"iso-2022-jp", "iso2022-jp", "csiso2022jp", "iso-2022-jp-ms", "cp50220"}


# --- raw headers --------------------------------------------------------------------

@functools.lru_cache(maxsize=8192)
def _header_cached(name: str, value: str):
    return _HEADER_REGISTRY(name, value)


def header_object(name: str, value: str):
    """The modern policy's header object for `name: value`, memoised.

    The stdlib builds a new header class and runs its RFC 5322 parser on every read of a
    header: the parser asks each part for its Content-Type several times, and the same
    few values ("text/plain; charset=utf-8") recur in almost every message. Header
    objects are immutable, so equal (name, value) pairs can share one. Long values (a
    huge To list) are parsed each time rather than kept in memory.
    """
    if len(value) > _HEADER_CACHED_MAX:
        return _HEADER_REGISTRY(name, value)
    return _header_cached(name, value)


class _CachedHeaderFactory:
    """`header_factory` for a policy: `header_object`, plus the registry's interface."""

    def __call__(self, name: str, value: str):
        return header_object(name, value)

    def __getattr__(self, attribute):
        return getattr(_HEADER_REGISTRY, attribute)


# The default policy with memoised header objects: what the parser uses.
POLICY = email.policy.default.clone(header_factory=_CachedHeaderFactory())


def header_values(msg: Message, name: str) -> list[str]:
    """Every value of header `name`, unfolded, 8-bit bytes decoded (as UTF-8)."""
    name = name.lower()
    return [text_8bit(_FOLD.sub("", value)) for key, value in msg.raw_items()
            if key.lower() == name and isinstance(value, str)]


def header_first(msg: Message, name: str) -> str:
    values = header_values(msg, name)
    return values[0].strip() if values else ""


def header_text(msg: Message, name: str, limit: int | None = None) -> str:
    """The first value of an unstructured header (Subject...), decoded for display:
    encoded words decoded, control characters (CR, LF, NUL...) and runs of white space
    collapsed to one space. With a `limit`, only the first `limit * 64` characters of the
    raw value are decoded (cut at white space, so no encoded word is split): far more
    than any encoding needs for `limit` characters, and a 200 KB Subject of encoded words
    is not decoded whole to show 500 characters of it."""
    value = header_first(msg, name)
    if limit is not None and len(value) > limit * _RAW_PER_SHOWN_CHAR:
        end = limit * _RAW_PER_SHOWN_CHAR
        cut = max(value.rfind(" ", 0, end), value.rfind("\t", 0, end))
        value = value[:cut if cut > 0 else end]
    return line_clean(words_decode(value))[:limit]


def text_8bit(value: str) -> str:
    """Undo the parser's surrogate escapes of raw 8-bit header bytes (read as UTF-8)."""
    if not _SURROGATES.search(value):
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def line_clean(value: str) -> str:
    return " ".join(_CONTROL.sub(" ", value).split())


def words_decode(value: str) -> str:
    """Decode RFC 2047 encoded words with the charset fallbacks of `bytes_decode`."""
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except Exception:  # broken base64 inside an encoded word: show it as written
        return value
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
        elif charset:
            out.append(bytes_decode(chunk, charset))
        else:  # literal text between encoded words
            try:
                out.append(chunk.decode("ascii"))
            except UnicodeDecodeError:
                out.append(chunk.decode("latin-1"))
    return "".join(out)


# --- charsets -------------------------------------------------------------------------

def bytes_decode(data: bytes, charset: str | None) -> str:
    """Decode text in any declared charset without raising: the declared codec (or the
    superset senders really use), then UTF-8, then the declared codec with replacement
    characters; an unknown charset falls back to UTF-8, then Latin-1."""
    name = (charset or "").strip().strip("\"'").lower()
    decoders = []
    if name in _ISO_2022_JP:
        decoders = [lambda b: b.decode("iso2022_jp"), _iso2022jp_ms_decode]
    elif name:
        codec = _CHARSET_CODECS.get(name, name)
        if _is_text_codec(codec):
            decoders = [lambda b: b.decode(codec)]
    for decode in [*decoders, lambda b: b.decode("utf-8")]:
        try:
            return decode(data)
        except (UnicodeDecodeError, LookupError, ValueError):
            continue
    if decoders and name not in _ISO_2022_JP:
        return data.decode(_CHARSET_CODECS.get(name, name), "replace")
    return data.decode("latin-1")


def html_charset(data: bytes) -> str | None:
    """The charset an HTML document names in a <meta> tag, if any."""
    match = _META_CHARSET.search(data[:4096])
    return match.group(1).decode("ascii") if match else None


def _is_text_codec(name: str) -> bool:
    try:
        return getattr(codecs.lookup(name), "_is_text_encoding", True)
    except (LookupError, ValueError, TypeError):
        return False


def _iso2022jp_ms_decode(data: bytes) -> str:
    """ISO-2022-JP as Microsoft writes it (CP50220): JIS X 0208 plus the NEC and IBM
    extension rows (№, ①...) the strict codec rejects. Re-encode as Shift_JIS, read CP932."""
    out, mode, i = bytearray(), "ascii", 0
    while i < len(data):
        if data[i] == 0x1B and i + 2 < len(data):
            sequence = data[i + 1:i + 3]
            if sequence in (b"$B", b"$@"):
                mode, i = "jis", i + 3
                continue
            if sequence in (b"(B", b"(J", b"(I"):
                mode, i = ("kana" if sequence == b"(I" else "ascii"), i + 3
                continue
        byte = data[i]
        if mode == "jis" and 0x21 <= byte <= 0x7E and i + 1 < len(data):
            out += _jis_to_sjis(byte, data[i + 1])
            i += 2
            continue
        out.append(byte + 0x80 if mode == "kana" and 0x21 <= byte <= 0x5F else byte)
        i += 1
    return bytes(out).decode("cp932", "replace")


def _jis_to_sjis(first: int, second: int) -> bytes:
    lead = (first + 1) // 2 + 0x70
    if lead > 0x9F:
        lead += 0x40
    if first % 2:
        trail = second + 0x1F + (1 if second >= 0x60 else 0)
    else:
        trail = second + 0x7E
    return bytes((lead, trail & 0xFF))


# --- addresses, ids, dates ------------------------------------------------------------

def addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-case addr-spec) for every valid address in every `name`
    header, in order, without duplicates."""
    found, seen = [], set()
    for value in header_values(msg, name):
        for display, address in _address_list(value):
            address = address.strip().lower()
            if address in seen or not _ADDR_SPEC.match(address):
                continue
            seen.add(address)
            found.append((line_clean(text_8bit(display)), address))
    return found


def _address_list(value: str) -> list[tuple[str, str]]:
    if len(value) > _ADDRESS_HEADER_MAX:  # the parsers slow down sharply on huge values
        value = value[:value.rfind(",", 0, _ADDRESS_HEADER_MAX) + 1 or _ADDRESS_HEADER_MAX]
    try:
        parsed = [(a.display_name, a.addr_spec)
                  for a in header_object("to", value).addresses]
    except Exception:  # the RFC 5322 parser has crashed on odd input before
        try:
            parsed = getaddresses([words_decode(value)])
        except Exception:  # and the old one recurses once per "<(" pair
            parsed = [("", a) for a in _ANGLE_ADDR.findall(value)]
    angle = _ANGLE_ADDR.findall(value)
    # `jang@host <jang@host.it>`: an unquoted display name holding "@" makes the parser
    # take the name for the address; trust the one address written in angle brackets.
    if len(angle) == 1 and angle[0].lower() not in {a.lower() for _, a in parsed}:
        display = words_decode(value[:value.find("<")]).strip().strip('"').strip()
        return [(display, angle[0])]
    return parsed


def msg_id_first(value: str) -> str:
    match = _MSG_ID.search(value)
    return match.group() if match else ""


def msg_ids(value: str) -> list[str]:
    return _MSG_ID.findall(value)


def message_id(msg: Message) -> str:
    """The Message-ID as written ("<...>"); a value without brackets is kept as is."""
    value = line_clean(header_first(msg, "message-id"))
    return (msg_id_first(value) or value.replace(" ", ""))[:998]


def date_parse(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(line_clean(value))
    except Exception:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --- parts ----------------------------------------------------------------------------

def content_id(part: Message) -> str:
    return line_clean(header_first(part, "content-id")).strip("<>").strip()


def raw_filename(part: Message) -> str:
    """The file name a part declares, decoded (RFC 2231 / RFC 2047). An unquoted name
    with tspecials (`name=Invoice_(3021).pdf`) is read from the raw header, because the
    RFC parser takes "(3021)" for a comment."""
    try:
        name = part.get_filename() or ""
    except Exception:
        name = ""
    for header, param in (("content-disposition", "filename"), ("content-type", "name")):
        match = re.search(rf"(?i)(?:^|;)\s*{param}\s*=\s*([^\s\";][^;]*)",
                          header_first(part, header))
        if match and "(" in match.group(1) and len(match.group(1).strip()) > len(name):
            return words_decode(match.group(1).strip())
    return words_decode(name) if isinstance(name, str) else ""


def filename_safe(name: str, content_type: str, index: int) -> str:
    """A file name safe to store and offer for download: no directory parts, control or
    bidi characters, reserved characters or leading/trailing dots; at most 150 characters
    with the extension kept; never empty (`attachment-<index><ext>`)."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _NAME_RESERVED.sub("_", _NAME_UNSAFE.sub("", name))
    name = " ".join(name.split()).strip(". ")
    if not name:
        name = f"attachment-{index}{extension_for(content_type)}"
    if len(name) > 150:
        stem, extension = os.path.splitext(name)
        extension = extension[:20]
        name = stem[:150 - len(extension)].rstrip(". ") + extension
    return name


def extension_for(content_type: str) -> str:
    extension = _EXTENSIONS.get(content_type) or _BUILTIN_TYPES.guess_extension(content_type)
    if extension:
        return extension
    return ".txt" if content_type.startswith("text/") else ".bin"


def cid_references(html: str) -> set[str]:
    """Lower-cased Content-IDs an HTML body points at with cid: URLs."""
    return {unquote(ref).strip("<>").lower()
            for ref in re.findall(r"(?i)\bcid:([^\s\"'<>)]+)", html)}


# --- raw repair -------------------------------------------------------------------------

def header_block_repair(raw: bytes) -> tuple[bytes, int]:
    """Fold header lines that lost their leading white space (Exchange wraps long
    diagnostics headers that way), which would otherwise end the header block early and
    push From/Subject/Content-Type into the body. A line is folded only when a real
    header follows it in the block. Returns the bytes and how many lines were folded."""
    end = min((i for i in (raw.find(b"\n\n"), raw.find(b"\n\r\n")) if i >= 0),
              default=len(raw))
    lines = raw[:end].split(b"\n")
    is_header = [bool(_HEADER_LINE.match(line)) for line in lines]
    repaired, later_header = 0, False
    for i in range(len(lines) - 1, 0, -1):
        line = lines[i]
        if is_header[i]:
            later_header = True
        elif later_header and line.strip(b"\r") and line[:1] not in b" \t":
            lines[i] = b" " + line
            repaired += 1
    if not repaired:
        return raw, 0
    return b"\n".join(lines) + raw[end:], repaired
