"""Body text helpers: plain text from an HTML-only body (stdlib html.parser), and the
part of a reply worth showing (the new text without the quoted history)."""

import html
import re
from html.parser import HTMLParser

from mailparser_reply import EmailMessage as ReplyText

_SKIPPED = {"script", "style", "head", "title", "template", "noscript"}
_BLOCKS = {
    "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "footer", "form",
    "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section",
    "table", "tr", "ul",
}
_TAGS = re.compile(r"<[^>]*>")


class _TextExtractor(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.skipping = 0
        self.preformatted = 0

    def handle_starttag(self, tag, attrs):
        if tag == "body":  # a <head> that was never closed must not swallow the body
            self.skipping = 0
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag == "br" or tag in _BLOCKS:
            self.chunks.append("\n")
        elif tag in ("td", "th"):
            self.chunks.append(" ")
        if tag == "pre":
            self.preformatted += 1

    def handle_endtag(self, tag):
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.chunks.append("\n")
        if tag == "pre":
            self.preformatted = max(0, self.preformatted - 1)

    def handle_data(self, data):
        if self.skipping:
            return
        self.chunks.append(data if self.preformatted else re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    """Visible text with line breaks where the layout breaks lines; at most one blank
    line in a row."""
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
        text = "".join(parser.chunks)
    except Exception:  # html.parser rejects a few malformed declarations
        text = html.unescape(_TAGS.sub(" ", markup))
    lines = [line.strip() for line in text.replace("\xa0", " ").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# mail-parser-reply's languages minus "pl", whose header rule needs only ONE line such as
# "Data: ..." or "Do: ..." to cut a message (an English "Do: call me" would vanish).
# It has no Portuguese.
LANGUAGES = ("en", "de", "fr", "it", "es", "nl", "sv", "da", "cs", "ja", "zh", "ko")
# The library's "On ... wrote:" rule backtracks badly on very long lines (45 s for one
# 50,000-character line): it only ever sees lines cut to this length, and the first
# _PROBE_CHARS of the text.
_PROBE_LINE = 500
_PROBE_CHARS = 100_000
_FORWARD = re.compile(
    r"(?im)^[>\s]*(?:-{3,}\s*"
    r"(?:forwarded message|weitergeleitete nachricht|message transf[ée]r[ée])"
    r"|begin forwarded message:|anfang der weitergeleiteten nachricht:)"
)


def reply_visible(text: str) -> str:
    """`text` without the quoted history ("On ... wrote:" / "From: ... Sent: ..." blocks and
    a trailing "> " quote). The lines kept are the original ones, untouched. A forward
    (the forwarded message is the point) and anything this cannot map back exactly keep
    the whole text, so nothing the customer wrote is hidden by a wrong guess."""
    lines = text.split("\n")
    probe = "\n".join(line.strip()[:_PROBE_LINE] for line in lines)[:_PROBE_CHARS]
    replies = ReplyText(text=probe, languages=list(LANGUAGES)).read().replies
    kept = lines
    if len(replies) > 1:
        kept = _original_lines(lines, replies[0].content.split("\n"))
        if kept is None:
            return text
    kept = _trailing_quote_drop(kept)
    visible = "\n".join(kept).strip("\n").rstrip()
    if not visible.strip() or _FORWARD.search(visible):
        return text
    return visible


def _original_lines(lines: list[str], reply: list[str]) -> list[str] | None:
    """The original lines the library's (stripped, truncated) reply was made of."""
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        return None
    candidate = lines[start:start + len(reply)]
    if [line.strip()[:_PROBE_LINE] for line in candidate] != reply:
        return None
    return candidate


def _trailing_quote_drop(lines: list[str]) -> list[str]:
    end = len(lines)
    while end and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith(">")):
        end -= 1
    return lines[:end] if end else lines
