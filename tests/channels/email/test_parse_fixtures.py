"""One test per shared email fixture (../shared/fixtures/email, see SOURCES.md for what each
file exercises). Values were checked against the raw files."""

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from inbox.channels.email.parse import Bounce, ParsedAttachment, email_parse

GMAIL_ID = "<CABzQGhkMXDxUt_tSVQcg=43aniUhtsVfCZVzu-PG0kwS_uzqMw@mail.gmail.com>"
CHATWOOT_PARENT_ID = "<0CB459E0-0336-41DA-BC88-E6E28C697DDB@chatwoot.com>"
CHATWOOT_ROOT_ID = "<4e6e35f5a38b4_479f13bb90078178@small-app-01.mail>"


def parse(fixtures_dir: Path, name: str):
    return email_parse((fixtures_dir / "email" / name).read_bytes())


def test_every_fixture_email_has_exactly_one_test(fixtures_dir):
    tested = re.findall(r'parse\(fixtures_dir, "([\w.-]+\.eml)"\)', Path(__file__).read_text())
    assert sorted(tested) == sorted(p.name for p in (fixtures_dir / "email").glob("*.eml"))


# --- replies and threading ------------------------------------------------------------

def test_chatwoot_in_reply_to(fixtures_dir):
    parsed = parse(fixtures_dir, "chatwoot_in_reply_to.eml")
    assert parsed.message_id == "<0CB459E0-0336-41DA-BC88-E6E28C697DDBF@chatwoot.com>"
    assert parsed.in_reply_to == CHATWOOT_PARENT_ID  # disagrees with References
    assert parsed.references == (CHATWOOT_ROOT_ID,)
    assert (parsed.sender_name, parsed.sender_address) == ("Sony Mathew", "sony@chatwoot.com")
    assert parsed.to == ()  # no To header
    assert parsed.text == "Let's talk about these images:"
    assert parsed.auto_reply == "" and parsed.bounce is None


def test_chatwoot_support_thread_parent(fixtures_dir):
    parsed = parse(fixtures_dir, "chatwoot_support_thread_parent.eml")
    assert parsed.message_id == CHATWOOT_PARENT_ID
    assert parsed.in_reply_to == CHATWOOT_ROOT_ID
    assert parsed.references == (CHATWOOT_ROOT_ID,)
    assert parsed.to == ("care@example.com",)
    assert parsed.subject == "Discussion: Let's debate these attachments"
    assert parsed.date == datetime(2020, 4, 20, 4, 20, 20, tzinfo=timezone(timedelta(hours=-4)))
    assert parsed.text == "Let's talk about these images:"
    assert parsed.html == ""  # the multipart/related holds only the two JPEGs
    assert [(a.name, a.content_type, len(a.content), a.content_id, a.inline)
            for a in parsed.attachments] == [
        ("avatar1.jpeg", "image/jpg", 20535, "7AAEB353-2341-4D46-A054-5CA5CB2363B7", False),
        ("avatar2.jpg", "image/jpg", 12686, "4594E827-6E69-4329-8691-6BC35E3E73A0", False),
    ]
    assert all(a.content.startswith(b"\xff\xd8") for a in parsed.attachments)


def test_talon_apple_mail_reply(fixtures_dir):
    parsed = parse(fixtures_dir, "talon_apple_mail_reply.eml")
    assert parsed.text == "Hello"
    assert parsed.text_full == (
        "Hello\n> On 22 Aug 2015, at 19:21, Adam Renberg <tgwizard@gmail.com> wrote:\n>\n"
        "> Hi there!"
    )
    assert parsed.in_reply_to == GMAIL_ID
    assert parsed.references == (GMAIL_ID,)
    assert parsed.message_id == "<68001B29-8EA4-444C-A894-0537D2CA5208@tictail.com>"
    assert (parsed.sender_name, parsed.sender_address) == ("Adam Renberg", "adam@tictail.com")
    assert parsed.to == ("tgwizard@gmail.com",)


def test_talon_gmail_reply(fixtures_dir):
    parsed = parse(fixtures_dir, "talon_gmail_reply.eml")
    assert parsed.text == "Hello"
    assert "wrote:" not in parsed.text and "> Hi" not in parsed.text
    assert parsed.text_full.endswith("Megan One <xxx@gmail.com> wrote:\n\n> Hi")
    assert parsed.subject == "Re: Test"
    assert (parsed.in_reply_to, parsed.references) == ("", ())
    assert 'class="gmail_quote"' not in parsed.html and "Hello<br><br><div>" in parsed.html
    assert (parsed.sender_name, parsed.sender_address) == ("Megan One", "xxx@gmail.com")


def test_talon_hotmail_reply(fixtures_dir):
    parsed = parse(fixtures_dir, "talon_hotmail_reply.eml")
    assert parsed.text == "Hello"
    assert "> Subject: Test\n> From: bob@xxx.mailgun.org" in parsed.text_full
    assert not parsed.text_full.endswith((" ", "\t"))  # the trailing white-space junk line
    assert parsed.subject == "RE: Test"
    assert parsed.to == ("bob@xxx.mailgun.org",)
    assert "<style" not in parsed.html and "hmmessage" not in parsed.html


def test_talon_outlook_reply(fixtures_dir):
    parsed = parse(fixtures_dir, "talon_outlook_reply.eml")
    assert parsed.text == "Hello"
    assert parsed.text_full.startswith(
        "Hello\n\nFrom: xxx@xxx.mailgun.org [mailto:xxx@xxx.mailgun.org]\nSent: March-09-12"
    )
    assert "The manager's comment" in parsed.text_full
    assert (parsed.message_id, parsed.date) == ("", None)
    assert parsed.html.startswith("<div><p><span>Allo! Follow up MIME!</span></p>")
    assert "mso-style" not in parsed.html


# --- forwards -------------------------------------------------------------------------

def test_flanker_gmail_fwd_inline(fixtures_dir):
    parsed = parse(fixtures_dir, "flanker_gmail_fwd_inline.eml")
    # An inline forward is kept whole: the forwarded text is what the customer sends us.
    assert parsed.text == parsed.text_full
    assert parsed.text.startswith("---------- Forwarded message ----------\nFrom: Hello")
    assert parsed.text.endswith("Forward please\n\n-- \nRegards,\nHello")
    assert parsed.in_reply_to == "<AANLkTinUdYK2NpEiYCKGnCEp_OXKqst_bWNdBVHsfDVh@mail.gmail.com>"
    assert parsed.references == (
        "<AANLkTi=1ANR2FzeeQ-vK3-_ty0gUrOsAxMRYkob6CL-c@mail.gmail.com>",
        "<AANLkTinUdYK2NpEiYCKGnCEp_OXKqst_bWNdBVHsfDVh@mail.gmail.com>",
    )
    assert parsed.delivered_to == ("example@example.com",)
    assert parsed.subject == "Fwd: Please forward this email to me"


def test_mikel_fwd_as_rfc822_attachment(fixtures_dir):
    parsed = parse(fixtures_dir, "mikel_fwd_as_rfc822_attachment.eml")
    assert parsed.text == "This is the first part."
    forwarded, pdf = parsed.attachments
    assert (forwarded.name, forwarded.content_type) == ("ForwardedMessage.eml", "message/rfc822")
    assert b"\nSubject: Another PDF\n" in forwarded.content
    assert b"Just attaching another PDF, here" in forwarded.content
    assert (pdf.name, pdf.content_type, len(pdf.content)) == ("broken.pdf", "application/pdf", 1026)
    assert pdf.content.startswith(b"%PDF-1.4")


# --- automatic mail ---------------------------------------------------------------------

def test_chatwoot_autoreply_x_autoreply(fixtures_dir):
    parsed = parse(fixtures_dir, "chatwoot_autoreply_x_autoreply.eml")
    assert parsed.auto_reply == "x-autoreply"
    assert parsed.bounce is None
    assert parsed.message_id == CHATWOOT_PARENT_ID  # same id as the thread parent
    assert (parsed.sender_name, parsed.sender_address) == ("Sony Mathew", "sony@chatwoot.com")
    assert parsed.to == ("replies@example.com",)
    assert [(a.name, a.inline) for a in parsed.attachments] == [
        ("avatar1.jpeg", False), ("avatar2.jpg", False),
    ]


def test_phpmp_autoreply_polish_win1250(fixtures_dir):
    parsed = parse(fixtures_dir, "phpmp_autoreply_polish_win1250.eml")
    assert parsed.subject == (
        "Automatyczna odpowiedź: Piotrze, test z 6 miesięcy nauki ciągle na Ciebie czeka"
    )
    assert parsed.auto_reply == "subject: automatyczna odpowiedź"  # no headers say so
    assert (parsed.sender_address, parsed.sender_name) == ("", "")  # ingest quarantines
    assert (parsed.message_id, parsed.date, parsed.to) == ("", None, ())
    assert parsed.text == "toto"
    assert parsed.html == ""  # an empty <body>


def test_chatwoot_bounce_gmail_dsn(fixtures_dir):
    parsed = parse(fixtures_dir, "chatwoot_bounce_gmail_dsn.eml")
    # Its message/delivery-status part is empty: the rest comes from the headers and text.
    assert parsed.bounce == Bounce(
        original_message_id=(
            "<conversation/93775311-9416-4428-964b-862001f8a8b2/messages/27855337@gmail.com>"
        ),
        recipient="alex.jones@fictionalcorp.com",
        reason=(
            "550 5.1.1 The email account that you tried to reach does not exist. Please try "
            "double-checking the recipient's email address for typos or unnecessary spaces. "
            "For more information, go to https://support.google.com/mail/?p=NoSuchUser "
            "d2e1a72fcca58-74ce2b0525csor332154b3a.0 - gsmtp"
        ),
    )
    assert parsed.auto_reply == "auto-submitted: auto-replied"
    assert parsed.sender_address == "mailer-daemon@googlemail.com"
    assert parsed.delivered_to == ("robert.smith@gmail.com",)
    assert parsed.text.startswith("** Address not found **\n\nYour message wasn't delivered")
    icon, returned = parsed.attachments
    assert icon == ParsedAttachment(
        name="icon.png", content_type="image/png", content=b"", content_id="icon.png",
        inline=True,
    )
    assert (returned.name, returned.content_type) == ("Just checking in.eml", "message/rfc822")
    assert returned.content.startswith(b"Date: Thu, 03 Jul 2025 15:44:23 -0700\nFrom: Robert")


def test_cpython_dsn_quota(fixtures_dir):
    parsed = parse(fixtures_dir, "cpython_dsn_quota.eml")
    assert parsed.bounce == Bounce(
        original_message_id="<002001c144a6$8752e060$56104586@oxy.edu>",
        recipient="jangel1@cougar.noc.ucla.edu",
        reason="5.0.0 (recipient reached disk quota)",
    )
    assert parsed.auto_reply == "precedence: bulk"  # Precedence is checked before List-Id
    assert parsed.sender_address == "postmaster@ucla.edu"
    # A bounce's listing of the returned headers is not quoted history: all of it shows.
    assert parsed.text == parsed.text_full
    assert parsed.text.endswith("Reason: recipient reached disk quota")
    [returned] = parsed.attachments
    assert (returned.name, returned.content_type) == ("[scr] yeah for Ians!!.eml",
                                                      "message/rfc822")
    assert b"I always love to find more Ian's that are over 3 years old!!" in returned.content


def test_flanker_bounce_gmail_plaintext(fixtures_dir):
    parsed = parse(fixtures_dir, "flanker_bounce_gmail_plaintext.eml")
    assert parsed.bounce == Bounce(
        original_message_id="<CAKsfaBUUGqVZiaMrmH3TRPfq1odQPtM7Ey5YW1SgyJJRHtAjgw@mail.gmail.com>",
        recipient="awfawfawfawfawfaw@someserverhere.com",
        reason="550 5.1.0 Recipient rejected: <awfawfawfawfawfaw@someserverhere.com>",
    )
    assert parsed.auto_reply == "null-sender"
    assert parsed.message_id == "<001a11c2449205704f04e0cbff5b@google.com>"
    assert parsed.text.startswith("Delivery to the following recipient failed permanently:")
    assert parsed.attachments == ()


def test_flanker_bounce_office365(fixtures_dir):
    parsed = parse(fixtures_dir, "flanker_bounce_office365.eml")
    original = "<20171013111011.20866.254C2F3A4D7AA526@ninomail.com>"
    assert parsed.bounce == Bounce(
        original_message_id=original,
        recipient="noname@example.com",
        reason=(
            "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient noname@example.com not found "
            "by SMTP address lookup"
        ),
    )
    assert parsed.auto_reply == "auto-submitted: auto-replied"
    assert (parsed.in_reply_to, parsed.references) == (original, (original,))
    assert parsed.subject == "Undeliverable: test_bounce 8"
    assert "Your message to noname@example.com couldn't be delivered." in parsed.text
    assert [(a.name, a.content_type) for a in parsed.attachments] == [
        ("test_bounce 8.eml", "message/rfc822"),
    ]


def test_mikel_dsn_sendmail_530(fixtures_dir):
    parsed = parse(fixtures_dir, "mikel_dsn_sendmail_530.eml")
    assert parsed.bounce == Bounce(
        original_message_id="<200712232303.lBNN3jDq002941@mail12.rrrr.com.au>",
        recipient="edwin@zzzzzzz.com",
        reason="553 5.3.0 <edwin@zzzzzzz.com>... Unknown E-Mail Address",
    )
    assert parsed.auto_reply == "auto-submitted: auto-generated (failure)"
    assert (parsed.sender_name, parsed.sender_address) == (
        "Mail Delivery Subsystem", "mailer-daemon@tttttt.com.au",
    )
    [headers] = parsed.attachments  # the text/rfc822-headers part
    assert (headers.name, headers.content_type) == ("attachment-1.txt", "text/rfc822-headers")
    assert b"Message-Id: <200712232303.lBNN3jDq002941@mail12.rrrr.com.au>" in headers.content


# --- charsets ---------------------------------------------------------------------------

def test_enmime_qp_latin1_multi_from(fixtures_dir):
    parsed = parse(fixtures_dir, "enmime_qp_latin1_multi_from.eml")
    assert (parsed.sender_name, parsed.sender_address) == (
        "James Hillyerd", "jamehi03@jamehi03lx.noa.com",  # the first of two From addresses
    )
    assert parsed.to == ("marczak@inbucket.com",)
    assert parsed.subject == "MIME UTF8 Test ¢ More Text"
    assert parsed.text.startswith("Lorem ipsum dolor sit amet, consectetur adipiscing elit. "
                                  "Nullam venenatis ante")  # QP soft line break joined
    assert parsed.text.endswith("Proin sollicitudin laoreet vehicula. Praesent non nibh odio.")
    assert len(parsed.text) == 1294
    assert "<p>\n        Lorem ipsum dolor sit amet" in parsed.html


def test_mimekit_iso2022jp(fixtures_dir):
    parsed = parse(fixtures_dir, "mimekit_iso2022jp.eml")
    assert parsed.subject == "日本語メールテスト (testing Japanese emails)"
    assert parsed.text == (
        "Let's see if both subject and body works fine...\n\n"
        "日本語が\n正常に\n送れているか\nテスト."
    )
    assert (parsed.sender_name, parsed.sender_address) == ("Atsushi Eno", "x@x.com")


def test_phpmp_iso2022jp_subject_no_from(fixtures_dir):
    parsed = parse(fixtures_dir, "phpmp_iso2022jp_subject_no_from.eml")
    # Cyrillic and the NEC "№" through ISO-2022-JP: the strict codec fails on "№".
    assert parsed.subject == "ЖД№41 от 28.09.2016"
    assert (parsed.sender_address, parsed.message_id, parsed.date) == ("", "", None)
    assert parsed.text == "toto"
    assert parsed.auto_reply == ""


def test_smp_gb2312_html_only_bad_subject(fixtures_dir):
    parsed = parse(fixtures_dir, "smp_gb2312_html_only_bad_subject.eml")
    # Not valid GB2312 (one GBK character): decoded with GB18030, nothing replaced.
    assert parsed.subject.startswith("我把镜头拉近些，你们看看这个是什么")
    assert len(parsed.subject) == 30 and "\ufffd" not in parsed.subject
    assert parsed.text_full.startswith(
        "http://go2buy.com.cn/ 9065\n\n13:33:39 13:33:39\n\n我把镜头"
    )
    assert "\ufffd" not in parsed.text_full
    assert '<a href="http://go2buy.com.cn/" rel="noopener noreferrer nofollow">' in parsed.html
    assert len(parsed.to) == 21
    assert (parsed.to[0], parsed.to[-1]) == ("webmaster@khaleejtimes.com", "sale@taida-hk.net")
    assert parsed.delivered_to == ("sherlock@dada.com",)
    assert (parsed.sender_name, parsed.sender_address) == ("xwfcpggy", "zyb@sgis.com.cn")


def test_zbateson_outlook2000_windows1252(fixtures_dir):
    parsed = parse(fixtures_dir, "zbateson_outlook2000_windows1252.eml")
    assert parsed.subject == "Die Hasen und die Frösche (Microsoft Outlook 00)"
    assert (parsed.sender_name, parsed.sender_address) == ("Doug Sauder", "doug@example.com")
    assert parsed.to == ("mueller@example.com",)
    assert parsed.text.startswith(
        "Die Hasen und die Frösche\n\nDie Hasen klagten einst über ihre mißliche Lage;"
    )
    assert "Unsere stete Angst ist ärger als der Tod selbst." in parsed.text
    assert parsed.message_id == "<NDBBIAKOPKHFGPLCODIGCEKECHAA.doug@example.com>"


# --- HTML-only --------------------------------------------------------------------------

def test_chatwoot_html_only_marketing(fixtures_dir):
    parsed = parse(fixtures_dir, "chatwoot_html_only_marketing.eml")
    assert parsed.text_full == (
        "Hi,\n\nWe are providing you platform from here you can sell paid posts on your "
        "website.\n\nChatwoot | CS team | C\n\nSkype: live:.cid.something"
    )
    assert parsed.text == parsed.text_full
    assert "<p>Skype: live:.cid.something</p>" in parsed.html
    assert "<style" not in parsed.html and "font-family" not in parsed.html
    assert parsed.sender_address == "sony@chatwoot.com"


def test_enmime_html_only_inline_cid(fixtures_dir):
    parsed = parse(fixtures_dir, "enmime_html_only_inline_cid.eml")
    cid = "8B8481A2-25CA-4886-9B5A-8EB9115DD064@skynet"
    assert parsed.text == "Test of HTML section"
    assert parsed.html == f'Test of HTML section<img height="16" width="16" src="cid:{cid}">'
    [image] = parsed.attachments
    assert (image.name, image.content_type, image.content_id, image.inline) == (
        "favicon.png", "image/png", cid, True,
    )
    assert image.content.startswith(b"\x89PNG\r\n")


# --- attachments and inline images ------------------------------------------------------

def test_chatwoot_email_with_inline_pdf(fixtures_dir):
    parsed = parse(fixtures_dir, "chatwoot_email_with_inline_pdf.eml")
    assert parsed.text == "Here is an example mail with inline PDF"
    [pdf] = parsed.attachments  # Content-Disposition: inline, still an attachment
    assert (pdf.name, pdf.content_type, len(pdf.content), pdf.inline) == (
        "dummy.pdf", "application/pdf", 13264, False,
    )
    assert pdf.content.startswith(b"%PDF-1.4")


def test_chatwoot_html_plus_big_jpeg(fixtures_dir):
    parsed = parse(fixtures_dir, "chatwoot_html_plus_big_jpeg.eml")
    assert parsed.html == "<h1>\nThis is html and attachments only mail\n</h1>"
    assert parsed.text == "This is html and attachments only mail"
    assert parsed.in_reply_to == ""  # the header is present but empty
    [jpeg] = parsed.attachments
    assert (jpeg.name, jpeg.content_type, len(jpeg.content), jpeg.inline) == (
        "1610894557447.jpg", "image/jpeg", 172081, False,  # has a Content-ID, not used
    )
    assert jpeg.content_id == "6215d6ad2aab6_10bc6191402227d@tejaswinis-MacBook-Pro.local.mail"
    assert jpeg.content.startswith(b"\xff\xd8\xff\xe0")


def test_enmime_unquoted_tspecials_filename(fixtures_dir):
    parsed = parse(fixtures_dir, "enmime_unquoted_tspecials_filename.eml")
    [pdf] = parsed.attachments
    assert (pdf.name, pdf.content_type) == ("Invoice_(302232133150612).pdf", "application/pdf")
    assert pdf.content.startswith(b"%PDF-1.2")
    assert parsed.sender_address == "bookings@easyhotel.com"
    assert parsed.text.startswith("Thank you for booking with easyHotel.\n\n")
    assert parsed.text.endswith("We wish you a pleasant stay.\n\n\n\neasyHotel")


def test_flanker_iphone_photo_between_text(fixtures_dir):
    parsed = parse(fixtures_dir, "flanker_iphone_photo_between_text.eml")
    assert parsed.text_full == "Hello\n\n~Danielle"  # the text parts around the photo
    [photo] = parsed.attachments
    assert (photo.name, photo.content_type, len(photo.content), photo.inline) == (
        "photo.JPG", "image/jpeg", 9023, False,
    )
    assert photo.content.startswith(b"\xff\xd8")
    assert (parsed.sender_name, parsed.sender_address) == ("Danielle", "someone@somewhere.com")
    assert parsed.defects == ("FirstHeaderLineIsContinuationDefect",)


def test_phpmp_300_attachments(fixtures_dir):
    parsed = parse(fixtures_dir, "phpmp_300_attachments.eml")
    assert len(parsed.attachments) == 328
    assert {a.content_type for a in parsed.attachments} == {"text/plain"}
    assert len({a.name for a in parsed.attachments}) == 328
    assert parsed.attachments[0].name == "6294736_18_01042023_1.txt"
    assert parsed.attachments[-1].name == "9198540_1608_01042023_328.txt"
    assert parsed.attachments[0].content.startswith(b":20:XYZ1801/04XXX\n:25:TR6100062")
    assert (parsed.html, parsed.text) == ("test", "test")
    assert parsed.skipped_attachments == ()


# --- malformed, hostile, long -----------------------------------------------------------

def test_enmime_bad_header_start(fixtures_dir):
    parsed = parse(fixtures_dir, "enmime_bad_header_start.eml")
    assert (parsed.sender_address, parsed.sender_name) == ("", "")  # From was folded away
    assert parsed.subject == "plain text"
    assert parsed.message_id == "<07B7061D-2676-487E-942E-C341CE4D13DC@makita.skynet>"
    assert parsed.to == ("greg@inbucket",)
    assert parsed.text == "A text section"  # the first of two text/plain alternatives
    assert parsed.defects == (
        "FirstHeaderLineIsContinuationDefect: From: James Hillyerd <james@makita.skynet>",
    )


def test_flanker_8bit_garbage_headers(fixtures_dir):
    parsed = parse(fixtures_dir, "flanker_8bit_garbage_headers.eml")
    assert (parsed.sender_name, parsed.sender_address) == (
        "Юникод запрещен\ufffd", "headers@gmail.com",  # raw UTF-8, truncated last char
    )
    assert parsed.subject == "\ufffd!"
    assert parsed.to == ()  # "\xb4google@example.com" is no address
    # The first boundary is misspelled and the "base64" part is plain text.
    assert (parsed.text, parsed.html) == ("Hello", "Hello")
    assert parsed.defects == ("StartBoundaryNotFoundDefect", "MultipartInvariantViolationDefect")


def test_flanker_missing_boundaries(fixtures_dir):
    parsed = parse(fixtures_dir, "flanker_missing_boundaries.eml")
    # A text/plain message: its MIME-looking lines are just text.
    assert parsed.text_full == (
        "Hi This is a broken message\n\nContent-Type: text/html;\nSubject: This part misses "
        "boundaries\n\nBody\n\nContent-Type: text/html\nSubject: Messy part\n\nHey"
    )
    assert parsed.text == parsed.text_full
    assert (parsed.subject, parsed.message_id, parsed.date) == ("", "", None)
    assert parsed.attachments == () and parsed.html == ""


def test_flanker_very_long_subject_header(fixtures_dir):
    parsed = parse(fixtures_dir, "flanker_very_long_subject_header.eml")
    assert len(parsed.subject) == 500
    assert parsed.subject.startswith(
        "Die heiße Zypernsonne quälte Max und Victoria ja böse auf dem Weg bis zur Küste"
        "Die heiße Zypernsonne"
    )
    assert "\n" not in parsed.subject and "=?" not in parsed.subject
    assert parsed.text == "test"


def test_mikel_bad_date_header(fixtures_dir):
    parsed = parse(fixtures_dir, "mikel_bad_date_header.eml")
    assert parsed.date is None  # "Date:" followed by a "<HR>" continuation
    assert parsed.in_reply_to == ""  # a bare address is not a msg-id
    assert parsed.auto_reply == "precedence: junk"
    assert parsed.subject == "You may_be Eligible for Legitimate_Cash from_GovAgencies!"
    assert (parsed.sender_name, parsed.sender_address) == (
        "Grants-Notification", "infoz@reactive-outpost.com",
    )
    assert parsed.text_full == ""  # the body is empty


def test_mimekit_exchange_broken_header_fold(fixtures_dir):
    parsed = parse(fixtures_dir, "mimekit_exchange_broken_header_fold.eml")
    # A header line wrapped without leading white space no longer ends the header block.
    assert parsed.defects == ("FoldedHeaderLineRepaired: 1 line(s)",)
    assert parsed.text == "Test headers"
    assert "x-ms-exchange" not in parsed.text_full
    assert "<div>Test headers</div>" in parsed.html
    # "jang.abcdef@xyzlinu <jang.abcdef@xyzlinux12345678.it>": the name holds an "@".
    assert (parsed.sender_name, parsed.sender_address) == (
        "jang.abcdef@xyzlinu", "jang.abcdef@xyzlinux12345678.it",
    )
    assert parsed.subject == "R: R: R: I: FR-selca LA selcaE"
    assert parsed.in_reply_to == (
        "<5185e377-81c5-4361-91ba-11d42f4c5cc9@AM5EUR02FT056.eop-EUR02.prod.protection.outlook.com>"
    )
    assert parsed.references == (
        "<AM4PR01MB1444920F2AF5B6F4856FEA13F7290@AM4PR01MB1444.eurprd01.prod.exchangelabs.com>",
        parsed.in_reply_to,
    )


def test_phpmp_long_base64_line_24k(fixtures_dir):
    parsed = parse(fixtures_dir, "phpmp_long_base64_line_24k.eml")
    assert [(a.name, a.content_type, len(a.content), a.content_id, a.inline)
            for a in parsed.attachments] == [
        ("logo.jpg", "image/gif", 2695, "ae0357e57f04b8347f7621662cb63855.jpg", True),
        ("background.jpg", "image/gif", 18255, "4c837ed463ad29c820668e835a270e8a.jpg", True),
        ("attachment.txt", "text/plain", 2229, "", False),
    ]
    # The 24,340-character base64 line decodes to a whole JPEG (start and end markers).
    background = parsed.attachments[1].content
    assert background.startswith(b"\xff\xd8") and background.endswith(b"\xff\xd9")
    assert parsed.text == (
        "This is an HTML message. Please use an HTML capable mail program to read\nthis message."
    )
    assert parsed.reply_to == ("name@company.com",)
