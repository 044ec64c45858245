import email
import smtplib
from email import policy
from types import SimpleNamespace

import pytest
from aiosmtpd.controller import Controller
from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

from inbox import delivery
from inbox.channels.email.send import (
    connection_open,
    email_send,
    header_clean,
    reply_subject_build,
    send_error_classify,
)
from inbox.delivery import PermanentDeliveryError, TransientDeliveryError
from inbox.models import Channel, Inbox, Message
from inbox.services import (
    AttachmentData,
    EmailThreadRefs,
    Identity,
    InboundMessage,
    message_ingest,
    message_reply,
)
from inbox.tasks import message_deliver
from tests.factories import ContactFactory, InboxFactory, TicketFactory

pytestmark = pytest.mark.django_db

SIGNATURE = "Acme Support\nhttps://acme.example"


@pytest.fixture
def support(agent):
    return InboxFactory(
        kind=Inbox.Kind.EMAIL, slug="support", members=[agent],
        config={"address": "support@example.com", "from_name": "Acme Support",
                "signature": SIGNATURE},
    )


def customer_writes(inbox, *, subject="Refund for order 42", external_id="<cust-1@example.net>",
                    address="ana@example.net", thread=None, metadata=None, is_auto_reply=False):
    return message_ingest(data=InboundMessage(
        inbox=inbox, channel=Channel.EMAIL, external_id=external_id, subject=subject,
        sender=[Identity("email", address)], thread=thread or EmailThreadRefs(subject=subject),
        body_text="Where is my refund?", metadata=metadata or {}, is_auto_reply=is_auto_reply,
    )).message


@pytest.fixture
def ticket(support):
    return customer_writes(support).ticket


def reply_deliver(ticket, agent, body="We refunded it.\nThanks!", **kwargs) -> Message:
    reply = message_reply(ticket=ticket, agent=agent, body=body, **kwargs)
    message_deliver.apply(args=[reply.pk])
    reply.refresh_from_db()
    return reply


def mime(raw: bytes):
    return email.message_from_bytes(raw, policy=policy.default)


def sent_mime(mailoutbox, index=-1):
    return mime(mailoutbox[index].message().as_bytes())


# --- The message on the wire (Django's locmem backend) --------------------------------------

def test_reply_is_sent_with_threading_headers(mailoutbox, agent, ticket):
    reply = reply_deliver(ticket, agent, attachments=[
        AttachmentData(name="invoice.pdf", content=b"%PDF-1.4 refund",
                       content_type="application/pdf")
    ])

    assert (reply.delivery_status, reply.delivery_error) == ("sent", "")
    assert len(mailoutbox) == 1
    sent = sent_mime(mailoutbox)
    assert sent["From"] == "Acme Support <support@example.com>"
    assert sent["To"] == "ana@example.net"
    assert sent["Subject"] == f"Re: Refund for order 42 [#{ticket.number}]"
    assert sent["Reply-To"] == f"support+t{ticket.token}@example.com"
    assert sent["In-Reply-To"] == "<cust-1@example.net>"
    assert sent["References"] == "<cust-1@example.net>"
    assert sent["Message-ID"] == reply.external_id
    assert reply.external_id.startswith("<") and reply.external_id.endswith("@example.com>")
    assert sent["X-Switchboard-Ticket"] == str(ticket.number)
    assert sent["Auto-Submitted"] is None
    assert mailoutbox[0].recipients() == ["ana@example.net"]
    assert sent.get_body(("plain",)).get_content() == (
        "We refunded it.\nThanks!\n\n-- \nAcme Support\nhttps://acme.example"
    )
    assert sent.get_body(("html",)).get_content() == (
        "<p>We refunded it.<br>Thanks!</p>\n"
        '<div class="signature">-- <br>\nAcme Support<br>\nhttps://acme.example</div>'
    )
    [attachment] = sent.iter_attachments()
    assert (attachment.get_filename(), attachment.get_content_type(),
            attachment.get_content()) == ("invoice.pdf", "application/pdf", b"%PDF-1.4 refund")


def test_second_reply_references_the_first(mailoutbox, agent, ticket):
    first = reply_deliver(ticket, agent, body="First")
    second = reply_deliver(ticket, agent, body="Second")

    assert second.delivery_status == "sent"
    assert second.external_id != first.external_id
    sent = sent_mime(mailoutbox)
    assert sent["In-Reply-To"] == "<cust-1@example.net>"
    assert sent["References"] == f"<cust-1@example.net> {first.external_id}"
    assert sent["Message-ID"] == second.external_id


def test_reply_goes_to_the_address_the_customer_last_wrote_from(mailoutbox, agent, support,
                                                                 ticket):
    first = reply_deliver(ticket, agent, body="First")
    customer_writes(
        support, external_id="<cust-2@example.net>", address="ana.work@example.net",
        thread=EmailThreadRefs(ticket_token=ticket.token),
        metadata={"email": {"from": "ana.work@example.net"}},
    )
    reply_deliver(ticket, agent, body="Second")

    sent = sent_mime(mailoutbox)
    assert sent["To"] == "ana.work@example.net"
    assert sent["In-Reply-To"] == "<cust-2@example.net>"
    assert sent["References"] == (
        f"<cust-1@example.net> {first.external_id} <cust-2@example.net>"
    )


def test_a_bounce_on_the_ticket_is_not_answered(mailoutbox, agent, support, ticket):
    customer_writes(
        support, external_id="<dsn-1@mx.example.net>", address="mailer-daemon@mx.example.net",
        thread=EmailThreadRefs(ticket_token=ticket.token), is_auto_reply=True,
        metadata={"email": {"from": "mailer-daemon@mx.example.net"}},
    )
    reply_deliver(ticket, agent)

    sent = sent_mime(mailoutbox)
    assert sent["To"] == "ana@example.net"
    assert sent["In-Reply-To"] == "<cust-1@example.net>"
    assert sent["References"] == "<cust-1@example.net> <dsn-1@mx.example.net>"


def test_references_keep_the_last_20_real_message_ids(mailoutbox, agent, support, ticket):
    for n in range(2, 24):
        customer_writes(support, external_id=f"<cust-{n}@example.net>",
                        thread=EmailThreadRefs(ticket_token=ticket.token))
    # ingest names a Message-ID-less email after its digest: no mail client knows that id
    customer_writes(support, external_id="<abc123@switchboard.invalid>",
                    thread=EmailThreadRefs(ticket_token=ticket.token))
    reply_deliver(ticket, agent)

    sent = sent_mime(mailoutbox)
    assert sent["References"] == " ".join(f"<cust-{n}@example.net>" for n in range(4, 24))
    assert sent["In-Reply-To"] is None


def test_html_reply_keeps_its_html_and_text_parts(mailoutbox, agent, ticket):
    reply = reply_deliver(ticket, agent, body="Rich text", body_html="<p>Rich <b>text</b></p>")

    sent = sent_mime(mailoutbox)
    assert sent.get_body(("plain",)).get_content() == (
        "Rich text\n\n-- \nAcme Support\nhttps://acme.example"
    )
    assert sent.get_body(("html",)).get_content() == (
        f'{reply.body_html}\n<div class="signature">-- <br>\nAcme Support<br>\n'
        "https://acme.example</div>"
    )
    assert reply.body_html == "<p>Rich <b>text</b></p>"


def test_text_is_escaped_into_html_and_no_signature_is_added_when_unset(
    mailoutbox, agent, support, ticket
):
    support.config = {"address": "support@example.com"}
    support.save()
    reply_deliver(ticket, agent, body="1 < 2 & <script>x</script>")

    sent = sent_mime(mailoutbox)
    assert sent["From"] == "support@example.com"
    assert sent.get_body(("plain",)).get_content() == "1 < 2 & <script>x</script>"
    assert sent.get_body(("html",)).get_content() == (
        "<p>1 &lt; 2 &amp; &lt;script&gt;x&lt;/script&gt;</p>"
    )


def test_system_reply_is_marked_auto_submitted(mailoutbox, ticket):
    reply_deliver(ticket, None, body="We got your message.", author_type="system")

    assert sent_mime(mailoutbox)["Auto-Submitted"] == "auto-replied"


def test_header_injection_in_subject_stays_in_the_subject(mailoutbox, agent, support):
    ticket = customer_writes(support, subject="Hello\r\nBcc: evil@x").ticket
    reply = reply_deliver(ticket, agent)

    assert reply.delivery_status == "sent"
    raw = mailoutbox[0].message().as_bytes()
    sent = mime(raw)
    assert sent["Subject"] == f"Re: Hello Bcc: evil@x [#{ticket.number}]"
    assert sent["Bcc"] is None
    assert b"\nBcc:" not in raw
    assert mailoutbox[0].recipients() == ["ana@example.net"]


def test_missing_inbox_address_fails_with_a_clear_error(mailoutbox, agent, support, ticket):
    support.config = {"from_name": "Acme Support"}
    support.save()
    reply = reply_deliver(ticket, agent)

    assert (reply.delivery_status, reply.delivery_error) == (
        "failed", "The inbox support has no sending address: set `address` in its config.")
    assert mailoutbox == []


def test_contact_without_email_fails(mailoutbox, agent, support):
    ticket = TicketFactory(inbox=support, contact=ContactFactory())
    reply = reply_deliver(ticket, agent)

    assert (reply.delivery_status, reply.delivery_error) == (
        "failed", "The contact has no email address.")
    assert mailoutbox == []


def test_email_sender_is_registered_at_startup():
    assert delivery.sender_for(Channel.EMAIL) is email_send


@pytest.mark.parametrize(("subject", "expected"), [
    ("Refund", "Re: Refund [#7]"),
    ("Re: Refund", "Re: Refund [#7]"),
    ("RE: re:Refund [#7]", "Re: Refund [#7]"),
    ("Refund [#7] again", "Re: Refund again [#7]"),
    ("", "Your request [#7]"),
    (" \r\n ", "Your request [#7]"),
    ("Re:", "Your request [#7]"),
    ("Hello\r\nBcc: evil@x", "Re: Hello Bcc: evil@x [#7]"),
    ("Tab\there\x00nul\u2028sep", "Re: Tab here nul sep [#7]"),
])
def test_reply_subject(subject, expected):
    assert reply_subject_build(subject, 7) == expected


def test_header_clean_leaves_one_line():
    assert header_clean("Acme\r\nBcc: evil@x\x0b ") == "Acme Bcc: evil@x"


# --- Failures and the retry decision ------------------------------------------------------

def esp_error(status):
    response = SimpleNamespace(reason="Reason", json=lambda: {"message": "nope"})
    return AnymailAPIError("Mailgun API error", status_code=status, response=response,
                           esp_name="Mailgun")


@pytest.mark.parametrize(("exc", "kind", "text"), [
    (smtplib.SMTPRecipientsRefused({"a@x": (450, b"4.2.1 mailbox busy")}),
     TransientDeliveryError, "Recipient deferred: 450 4.2.1 mailbox busy"),
    (smtplib.SMTPRecipientsRefused({"a@x": (450, b"busy"), "b@x": (550, b"no such user")}),
     PermanentDeliveryError, "Recipient refused: 450 busy; 550 no such user"),
    (smtplib.SMTPSenderRefused(451, b"try later", "s@x"),
     TransientDeliveryError, "SMTP server deferred: 451 try later"),
    (smtplib.SMTPSenderRefused(553, b"sender not allowed", "s@x"),
     PermanentDeliveryError, "SMTP server refused: 553 sender not allowed"),
    (smtplib.SMTPDataError(554, b"5.7.1 looks like\r\n spam"),
     PermanentDeliveryError, "SMTP server refused: 554 5.7.1 looks like spam"),
    (smtplib.SMTPAuthenticationError(535, b"5.7.8 bad credentials"),
     PermanentDeliveryError, "SMTP authentication failed: 535 5.7.8 bad credentials"),
    (smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
     TransientDeliveryError, "SMTP server disconnected: Connection unexpectedly closed"),
    (smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."),
     PermanentDeliveryError, "SMTP error: STARTTLS extension not supported by server."),
    (ConnectionRefusedError(111, "Connection refused"),
     TransientDeliveryError, "Cannot reach the mail server: [Errno 111] Connection refused"),
    (TimeoutError("timed out"), TransientDeliveryError, "Cannot reach the mail server: timed out"),
    (esp_error(429), TransientDeliveryError,
     'Email provider error: Mailgun API error Mailgun API response 429 (Reason): '
     '{ "message": "nope" }'),
    (esp_error(503), TransientDeliveryError,
     'Email provider error: Mailgun API error Mailgun API response 503 (Reason): '
     '{ "message": "nope" }'),
    (esp_error(400), PermanentDeliveryError,
     'Email provider refused: Mailgun API error Mailgun API response 400 (Reason): '
     '{ "message": "nope" }'),
    (AnymailAPIError("connection reset"), TransientDeliveryError,
     "Email provider error: connection reset"),
    (AnymailRecipientsRefused("All message recipients were rejected"), PermanentDeliveryError,
     "Email not sendable: All message recipients were rejected"),
])
def test_send_error_classify(exc, kind, text):
    error = send_error_classify(exc)
    assert (type(error), str(error)) == (kind, text)


def test_inbox_smtp_connection_uses_its_own_credentials(support, settings, monkeypatch):
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "site-user", "site-pass"
    support.config.update(smtp_host="smtp.example.com", smtp_username="mailer")
    support.secrets_update({"smtp_password": "s3cret"})
    connection = connection_open(support)
    assert (connection.host, connection.port, connection.username, connection.password,
            connection.use_tls, connection.use_ssl, connection.timeout) == (
        "smtp.example.com", 587, "mailer", "s3cret", True, False, 30)

    monkeypatch.setenv("ACME_SMTP_PASSWORD", "from-env")
    support.config.update(smtp_security="ssl", smtp_password="env:ACME_SMTP_PASSWORD")
    support.secrets_update({"smtp_password": None})
    connection = connection_open(support)
    assert (connection.port, connection.password, connection.use_tls, connection.use_ssl) == (
        465, "from-env", False, True)

    support.config.update(smtp_security="none", smtp_port="2525", smtp_username="")
    connection = connection_open(support)
    assert (connection.port, connection.username, connection.use_tls, connection.use_ssl) == (
        2525, "", False, False)


def test_inbox_without_smtp_host_uses_the_site_backend(support, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert type(connection_open(support)).__module__ == "django.core.mail.backends.locmem"


@pytest.mark.parametrize(("config", "error"), [
    ({"smtp_security": "tls"}, "smtp_security must be starttls, ssl or none, not 'tls'."),
    ({"smtp_port": "twenty"}, "smtp_port 'twenty' is not a number."),
])
def test_bad_smtp_config_is_permanent(support, config, error):
    support.config.update(smtp_host="smtp.example.com", **config)
    with pytest.raises(PermanentDeliveryError) as caught:
        connection_open(support)
    assert str(caught.value) == error


# --- A real SMTP server (aiosmtpd) ----------------------------------------------------------

class RecordingHandler:
    """Accepts mail and records it; `rcpt_reply` / `data_replies` script refusals."""

    def __init__(self):
        self.received = []  # (mail_from, rcpt_tos, raw bytes)
        self.rcpt_reply = None
        self.data_replies = []  # answered to successive DATA commands, then 250
        self.data_attempts = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.data_attempts += 1
        if self.data_replies:
            return self.data_replies.pop(0)
        self.received.append((envelope.mail_from, envelope.rcpt_tos, envelope.original_content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(support, unused_tcp_port):
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=unused_tcp_port)
    controller.start()
    support.config.update(smtp_host="127.0.0.1", smtp_port=controller.port, smtp_security="none")
    support.save()
    yield handler
    controller.stop()


def test_smtp_server_receives_the_reply(smtp_server, agent, ticket, mailoutbox):
    reply = reply_deliver(ticket, agent)

    assert (reply.delivery_status, reply.delivery_error) == ("sent", "")
    [(mail_from, rcpt_tos, raw)] = smtp_server.received
    assert (mail_from, rcpt_tos) == ("support@example.com", ["ana@example.net"])
    sent = mime(raw)
    assert sent["From"] == "Acme Support <support@example.com>"
    assert sent["To"] == "ana@example.net"
    assert sent["Subject"] == f"Re: Refund for order 42 [#{ticket.number}]"
    assert sent["Message-ID"] == reply.external_id
    assert sent["In-Reply-To"] == "<cust-1@example.net>"
    assert sent["Reply-To"] == f"support+t{ticket.token}@example.com"
    assert mailoutbox == []  # the inbox's own server, not the site backend


def test_smtp_try_later_is_retried_until_accepted(smtp_server, agent, ticket):
    smtp_server.data_replies = ["451 try later", "451 try later"]
    reply = reply_deliver(ticket, agent)

    assert smtp_server.data_attempts == 3
    assert (reply.delivery_status, reply.delivery_error) == ("sent", "")
    [(_, _, raw)] = smtp_server.received
    assert mime(raw)["Message-ID"] == reply.external_id


def test_smtp_unknown_user_fails_for_good(smtp_server, agent, ticket):
    smtp_server.rcpt_reply = "550 no such user"
    reply = reply_deliver(ticket, agent)

    assert (reply.delivery_status, reply.delivery_error) == (
        "failed", "Recipient refused: 550 no such user")
    assert reply.external_id is None
    assert smtp_server.received == []


def test_unreachable_smtp_server_is_retried_then_fails(support, agent, ticket, monkeypatch,
                                                       unused_tcp_port):
    # Nothing listens on the port: the connection is refused.
    support.config.update(smtp_host="127.0.0.1", smtp_port=unused_tcp_port, smtp_security="none")
    support.save()
    attempts = []

    def counted(message):
        attempts.append(message.pk)
        return email_send(message)

    monkeypatch.setitem(delivery._senders, Channel.EMAIL, counted)
    monkeypatch.setattr(message_deliver, "max_retries", 2)
    reply = reply_deliver(ticket, agent)

    assert attempts == [reply.pk] * 3
    assert reply.delivery_status == "failed"
    assert reply.delivery_error.startswith("Cannot reach the mail server: [Errno 111]")
