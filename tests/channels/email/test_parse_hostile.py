"""The email parser against broken and hostile input: it returns a ParsedEmail or raises
EmailParseError, never anything else, and never passes on anything unsafe."""

import random
import time
from email.message import EmailMessage

import pytest

from inbox.channels.email import parse as parse_module
from inbox.channels.email.parse import EmailParseError, ParsedEmail, email_parse

MB = 1024 * 1024


def mail(**headers) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = headers.pop("sender", "Ann <ann@example.com>")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("See attached.")
    return msg


def parse_or_refuse(raw: bytes) -> ParsedEmail | None:
    try:
        return email_parse(raw)
    except EmailParseError:
        return None


# --- structure ------------------------------------------------------------------------

def test_missing_message_id_parses_with_empty_id():
    parsed = email_parse(b"From: ann@example.com\r\nSubject: hello\r\n\r\nBody text\r\n")
    assert (parsed.message_id, parsed.in_reply_to, parsed.references) == ("", "", ())
    assert (parsed.sender_address, parsed.subject, parsed.text) == (
        "ann@example.com", "hello", "Body text",
    )


def test_misspelled_boundary_is_recovered_from_the_delimiter_lines():
    raw = (
        b"From: ann@example.com\nContent-Type: multipart/mixed; boundary=\"right\"\n\n"
        b"--wrong\nContent-Type: text/plain\n\nfirst part\n"
        b"--wrong\nContent-Type: text/html\n\n<p>second <b>part</b></p>\n--wrong--\n"
    )
    parsed = email_parse(raw)
    assert parsed.text == "first part"
    assert parsed.html == "<p>second <b>part</b></p>"
    assert "StartBoundaryNotFoundDefect" in parsed.defects


def test_multipart_without_boundary_parameter_keeps_its_text():
    raw = b"From: ann@example.com\nContent-Type: multipart/mixed\n\nJust some text\n"
    parsed = email_parse(raw)
    assert parsed.text == "Just some text"
    assert "NoBoundaryInMultipartDefect" in parsed.defects


def test_unclosed_multipart_keeps_its_parts():
    raw = (
        b"From: ann@example.com\nContent-Type: multipart/mixed; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nhello\n"
        b"--b\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\n"
        b"JVBERi0=\n"
    )
    parsed = email_parse(raw)
    assert parsed.text == "hello"
    assert [(a.name, a.content) for a in parsed.attachments] == [("a.pdf", b"%PDF-")]
    assert "CloseBoundaryNotFoundDefect" in parsed.defects


def test_flanker_missing_boundaries_is_plain_text(fixtures_dir):
    parsed = email_parse((fixtures_dir / "email" / "flanker_missing_boundaries.eml").read_bytes())
    assert parsed.attachments == () and parsed.html == ""
    assert parsed.text_full.startswith("Hi This is a broken message\n\nContent-Type: text/html;")
    assert parsed.text_full.endswith("Subject: Messy part\n\nHey")


def test_deep_nesting_is_cut_off_not_a_crash():
    raw = b"From: ann@example.com\nContent-Type: multipart/mixed; boundary=b0\n\n"
    for level in range(1, 60):
        raw += b"--b%d\nContent-Type: multipart/mixed; boundary=b%d\n\n" % (level - 1, level)
    raw += b"--b59\nContent-Type: text/plain\n\ndeep\n"
    parsed = email_parse(raw)
    assert parsed.text == ""
    assert "NestingTooDeep: parts below level 30 ignored" in parsed.defects


def test_text_labelled_base64_that_is_not_base64_is_taken_as_written():
    raw = (b"From: ann@example.com\nContent-Type: text/plain\n"
           b"Content-Transfer-Encoding: base64\n\nCall me back tomorrow please\n")
    assert email_parse(raw).text == "Call me back tomorrow please"


# --- size and type limits -------------------------------------------------------------

def test_attachment_over_the_limit_is_skipped_and_the_message_kept():
    msg = mail(Subject="big file")
    msg.add_attachment(b"\0" * (20 * MB), maintype="application", subtype="zip",
                       filename="big.zip")
    msg.add_attachment(b"small", maintype="text", subtype="plain", filename="notes.txt")
    parsed = email_parse(msg.as_bytes(), max_attachment_bytes=10 * MB)
    assert parsed.skipped_attachments == ("big.zip (20.0 MB): over the 10 MB limit",)
    assert [(a.name, a.content) for a in parsed.attachments] == [("notes.txt", b"small")]
    assert (parsed.text, parsed.subject) == ("See attached.", "big file")


def test_attachments_past_the_total_limit_are_skipped():
    msg = mail()
    for name in ("a.bin", "b.bin", "c.bin"):
        msg.add_attachment(b"x" * (4 * MB), maintype="application", subtype="octet-stream",
                           filename=name)
    parsed = email_parse(msg.as_bytes(), max_attachment_bytes=5 * MB, max_total_bytes=10 * MB)
    assert [a.name for a in parsed.attachments] == ["a.bin", "b.bin"]
    assert parsed.skipped_attachments == ("c.bin (4.0 MB): over the 10 MB total limit",)


@pytest.mark.parametrize("name", ["setup.exe", "invoice.pdf.exe", "run.JS", "macro.vbs",
                                  "tool.jar", "lib.dll", "x.ps1", "screensaver.scr"])
def test_executable_attachment_is_blocked(name):
    msg = mail()
    msg.add_attachment(b"MZ\x90\x00", maintype="application", subtype="octet-stream",
                       filename=name)
    parsed = email_parse(msg.as_bytes())
    assert parsed.attachments == ()
    assert parsed.skipped_attachments == (f"{name}: blocked file type",)
    assert parsed.text == "See attached."


def test_nameless_executable_type_is_blocked_by_its_derived_name():
    raw = (
        b"From: ann@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
        b"Content-Type: text/plain\n\nhi\n--b\nContent-Type: application/x-msdownload\n"
        b"Content-Transfer-Encoding: base64\n\nTVqQAA==\n--b--\n"
    )
    assert email_parse(raw).skipped_attachments == ("attachment-1.exe: blocked file type",)


# --- header injection -----------------------------------------------------------------

def test_raw_crlf_in_subject_starts_a_new_header_not_a_longer_subject():
    parsed = email_parse(b"From: ann@example.com\r\nSubject: Hi\r\nBcc: x@evil\r\n\r\nbody")
    assert parsed.subject == "Hi"


@pytest.mark.parametrize("encoded", [
    b"=?utf-8?q?Hi=0D=0ABcc:_x@evil?=",
    b"=?utf-8?b?SGkNCkJjYzogeEBldmls?=",
])
def test_encoded_crlf_in_subject_is_flattened(encoded):
    parsed = email_parse(b"From: ann@example.com\nSubject: " + encoded + b"\n\nbody")
    assert parsed.subject == "Hi Bcc: x@evil"


def test_nul_and_raw_8bit_bytes_in_headers():
    parsed = email_parse(
        b"From: J\xc3\xb6rg <jorg@example.com>\nSubject: caf\xc3\xa9\x00 \xff menu\n\nbody\x00 text"
    )
    assert parsed.subject == "café \ufffd menu"
    assert parsed.sender_name == "Jörg"
    assert parsed.text == "body text"


# --- HTML -----------------------------------------------------------------------------

def test_hostile_html_is_sanitized():
    msg = mail()
    msg.set_content(
        '<p onclick="steal()">Hello<script>alert(1)</script>'
        '<img src="x.png" onerror="alert(2)">'
        '<a href="javascript:alert(3)">one</a> <a href="JaVaScRiPt:alert(4)">two</a>'
        '<iframe src="https://evil.example/"></iframe>'
        '<div style="width: expression(alert(5))">styled</div>'
        '<form action="https://evil.example/"><input name="password"></form></p>',
        subtype="html",
    )
    parsed = email_parse(msg.as_bytes())
    lowered = parsed.html.lower()
    for unsafe in ("<script", "alert(", "onerror", "onclick", "javascript:", "<iframe",
                   "expression(", "style=", "<form", "<input"):
        assert unsafe not in lowered, unsafe
    assert parsed.html.startswith("<p>Hello<img src=\"x.png\">")
    assert "alert" not in parsed.text_full  # script text is not shown as text either
    assert parsed.text_full == "Helloone two\nstyled"


# --- file names -----------------------------------------------------------------------

@pytest.mark.parametrize(("declared", "safe"), [
    (b'filename="../../etc/passwd"', "passwd"),
    (b'filename="C:\\\\evil\\\\x.pdf"', "x.pdf"),
    (b"filename*=utf-8''a%00b.pdf", "ab.pdf"),
    (b"filename*=utf-8''invoice%E2%80%AEfdp.pdf", "invoicefdp.pdf"),
    (b'filename=".."', "attachment-1.pdf"),
    (b"filename*=utf-8''..%0D%0A", "attachment-1.pdf"),
    (b'filename=".htaccess"', "htaccess"),
    (b'filename="what?<why>:.pdf"', "what__why__.pdf"),
    (b"", "attachment-1.pdf"),
])
def test_attachment_names_are_made_safe(declared, safe):
    raw = (
        b"From: ann@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
        b"Content-Type: text/plain\n\nhi\n--b\nContent-Type: application/pdf\n"
        b"Content-Disposition: attachment; " + declared + b"\n\n%PDF-\n--b--\n"
    )
    [attachment] = email_parse(raw).attachments
    assert attachment.name == safe


def test_long_attachment_name_is_cut_keeping_the_extension():
    msg = mail()
    msg.add_attachment(b"data", maintype="application", subtype="pdf",
                       filename="y" * 300 + ".pdf")
    [attachment] = email_parse(msg.as_bytes()).attachments
    assert attachment.name == "y" * 146 + ".pdf"


def test_unquoted_tspecials_in_content_type_name():
    raw = (
        b"From: ann@example.com\nContent-Type: multipart/mixed; boundary=b\n\n--b\n"
        b"Content-Type: text/plain\n\nhi\n--b\n"
        b"Content-Type: application/pdf; name=Invoice_(302232133150612).pdf\n\n%PDF-\n--b--\n"
    )
    [attachment] = email_parse(raw).attachments
    assert attachment.name == "Invoice_(302232133150612).pdf"


# --- charsets -------------------------------------------------------------------------

@pytest.mark.parametrize(("charset", "body", "text"), [
    (b"x-unknown-charset", "Grüße".encode(), "Grüße"),  # unknown: UTF-8 first
    (b"x-unknown-charset", "Grüße".encode("latin-1"), "Grüße"),  # then Latin-1
    (b"us-ascii", "naïve".encode(), "naïve"),  # 8-bit text labelled ASCII
    (b"iso-8859-1", b"\x93quoted\x94", "\u201cquoted\u201d"),  # Windows-1252 quotes
    (b"gb2312", "镕".encode("gb18030"), "镕"),  # beyond GB2312
    (b"utf-8", b"bad \xff byte", "bad \ufffd byte"),
])
def test_body_charsets_decode(charset, body, text):
    raw = (b"From: ann@example.com\nContent-Type: text/plain; charset=" + charset
           + b"\nContent-Transfer-Encoding: 8bit\n\n" + body)
    assert email_parse(raw).text == text


# --- automatic mail -------------------------------------------------------------------

@pytest.mark.parametrize(("headers", "reason"), [
    (b"Auto-Submitted: no\n", ""),
    (b"Auto-Submitted: auto-replied\nPrecedence: bulk\n", "auto-submitted: auto-replied"),
    (b"X-Autorespond: vacation\n", "x-autoreply"),
    (b"Precedence: list\nList-Id: <a.example.com>\n", "precedence: list"),
    (b"List-Id: Announcements <announce.example.com>\n", "list-id"),
    (b"Return-Path: <>\n", "null-sender"),
    # A request not to auto-respond, set on people's mail too: not an auto-reply.
    (b"X-Auto-Response-Suppress: All\n", ""),
])
def test_auto_reply_reasons(headers, reason):
    raw = b"From: ann@example.com\n" + headers + b"Subject: Hi\n\nhello"
    assert email_parse(raw).auto_reply == reason


def test_dsn_reporting_only_a_delay_is_not_a_bounce():
    raw = (
        b"From: MAILER-DAEMON@mx.example.com\nAuto-Submitted: auto-replied\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n"
        b"--b\nContent-Type: text/plain\n\nStill trying.\n"
        b"--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
        b"Final-Recipient: rfc822; bob@example.org\nAction: delayed\nStatus: 4.4.7\n--b--\n"
    )
    parsed = email_parse(raw)
    assert parsed.bounce is None
    assert parsed.auto_reply == "auto-submitted: auto-replied"


# --- garbage --------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "error"), [
    (b"", "empty input"),
    (b" \r\n\t\n", "empty input"),
    (b"just some words, no headers at all\n", "no header block"),
    (b"\xff\xfe\x00\x01binary", "no header block"),
    (b"Subject: only headers\r\n", "neither a sender address nor any content"),
    (b"Subject: nothing\r\nTo: bob@example.org\r\n\r\n  \r\n", "neither a sender address"),
])
def test_unparseable_input_is_refused(raw, error):
    with pytest.raises(EmailParseError, match=error):
        email_parse(raw)


def test_headers_only_with_a_sender_is_a_message():
    parsed = email_parse(b"From: ann@example.com\r\nSubject: empty\r\n")
    assert (parsed.sender_address, parsed.subject, parsed.text, parsed.text_full) == (
        "ann@example.com", "empty", "", "",
    )


def test_not_bytes_is_refused():
    with pytest.raises(EmailParseError, match="expected bytes, got str"):
        email_parse("From: ann@example.com\n\nhi")


def test_unexpected_errors_become_parse_errors(monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(parse_module, "bounce_find", broken)
    with pytest.raises(EmailParseError, match="unexpected KeyError: 'boom'"):
        email_parse(b"From: ann@example.com\n\nhi")


def test_random_bytes_never_raise_anything_else():
    rng = random.Random(20240501)
    pieces = [b"From: a@b.example\n", b"Content-Type: multipart/mixed; boundary=x\n", b"\n",
              b"--x\n", b"--x--\n", b"Content-Transfer-Encoding: base64\n", b"=?utf-8?q?",
              b"?=", b"\r\n", b"\x00", b"\xff\xfe", b":", b"<", b">", b"filename=\"", b"\t"]
    outcomes = []
    for size in [0, 1, 3, 10, 50, 200, 1000, 5000] * 5:
        outcomes.append(parse_or_refuse(bytes(rng.getrandbits(8) for _ in range(size))))
        outcomes.append(parse_or_refuse(b"".join(rng.choice(pieces)
                                                 for _ in range(size // 4 + 1))))
    assert len(outcomes) == 80
    assert any(o is not None for o in outcomes) and any(o is None for o in outcomes)


def test_truncated_fixtures_never_raise_anything_else(fixtures_dir):
    for path in sorted((fixtures_dir / "email").glob("*.eml")):
        raw = path.read_bytes()
        header_end = raw.find(b"\n\n") if b"\n\n" in raw else raw.find(b"\r\n\r\n")
        for cut in {1, 20, header_end, header_end + 2, *(int(len(raw) * f) for f in
                                                          (0.1, 0.3, 0.5, 0.7, 0.9, 0.99))}:
            result = parse_or_refuse(raw[:max(cut, 0)])
            assert result is None or isinstance(result, ParsedEmail), path.name


def test_pathological_reply_line_is_fast():
    """The reply parser's "On ... wrote:" rule backtracks on one huge line (45 s for 50 kB
    unguarded); only a cut-down probe of each line reaches it."""
    body = b"On " + b"a " * 50_000 + b"\n\n> quoted\n"
    started = time.monotonic()
    parsed = email_parse(b"From: ann@example.com\n\n" + body)
    assert time.monotonic() - started < 5
    assert parsed.text == parsed.text_full.split("\n")[0].rstrip()  # the quote is gone
