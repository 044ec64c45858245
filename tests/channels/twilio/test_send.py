"""Agent replies through Twilio's Messages API (a fake one on 127.0.0.1), and the status
callbacks that follow them."""

import base64
from urllib.parse import urlencode, urlsplit

import pytest

from inbox.models import ContactIdentity, Inbox, Message, Ticket
from inbox.services import AttachmentData, Identity, InboundMessage, message_ingest, message_reply
from inbox.tasks import message_deliver
from tests.channels.fake_provider import Reply
from tests.channels.twilio.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    INBOX_NUMBER,
    MESSAGES_PATH,
    fixture_bytes,
)
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db

CUSTOMER = "+14155552671"
SID = "SM9d8c7b6a5f4e3d2c1b0a99887766554f"
QUEUED = Reply(201, {"sid": SID, "status": "queued", "to": CUSTOMER})


def twilio_error(status: int, code: int, message: str, **headers) -> Reply:
    return Reply(status, {"code": code, "message": message, "status": status,
                          "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                 headers=headers)


@pytest.fixture
def sms_ticket(fixtures_dir, twilio_inbox, post_form) -> Ticket:
    post_form(twilio_inbox, fixture_bytes(fixtures_dir, "docs_inbound_sms_text.form.txt"))
    return Ticket.objects.get()


def deliver(ticket: Ticket, agent, body: str = "Your parcel left today. Paket Anda sudah dikirim.",
            **options) -> Message:
    reply = message_reply(ticket=ticket, agent=agent, body=body, **options)
    message_deliver.apply(args=[reply.pk])
    reply.refresh_from_db()
    return reply


def test_reply_is_posted_to_the_messages_api(sms_ticket, agent, fake_provider, settings,
                                             twilio_inbox):
    settings.SITE_URL = "https://support.example.com"
    fake_provider.script("POST", MESSAGES_PATH, QUEUED)
    reply = deliver(sms_ticket, agent)
    (request,) = fake_provider.requests
    assert request.path == MESSAGES_PATH
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(
        f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.form() == {
        "To": [CUSTOMER], "From": [INBOX_NUMBER],
        "Body": ["Your parcel left today. Paket Anda sudah dikirim."],
        "StatusCallback": [f"https://support.example.com/hooks/twilio/{twilio_inbox.key}/"],
    }
    assert (reply.channel, reply.inbox_id) == ("sms", twilio_inbox.pk)
    assert (reply.delivery_status, reply.external_id, reply.delivery_error) == ("sent", SID, "")


def test_messaging_service_picks_the_sender(sms_ticket, agent, fake_provider, twilio_inbox):
    twilio_inbox.config.pop("from_number")
    twilio_inbox.config.update(messaging_service_sid="MG0123456789abcdef0123456789abcdef",
                               webhook_url="https://hooks.example.com/twilio")
    twilio_inbox.save()
    fake_provider.script("POST", MESSAGES_PATH, QUEUED)
    deliver(sms_ticket, agent, body="你好")
    form = fake_provider.requests[0].form()
    assert "From" not in form
    assert form["MessagingServiceSid"] == ["MG0123456789abcdef0123456789abcdef"]
    assert (form["Body"], form["StatusCallback"]) == (["你好"], ["https://hooks.example.com/twilio"])


def test_without_a_configured_sender_the_reply_leaves_from_the_number_written_to(
    sms_ticket, agent, fake_provider, twilio_inbox
):
    twilio_inbox.config.pop("from_number")
    twilio_inbox.save()
    fake_provider.script("POST", MESSAGES_PATH, QUEUED)
    deliver(sms_ticket, agent)
    form = fake_provider.requests[0].form()
    assert (form["To"], form["From"]) == ([CUSTOMER], ["+15005550006"])


def test_agent_can_text_a_contact_known_only_by_phone(agent, twilio_inbox, fake_provider):
    widget = InboxFactory(kind=Inbox.Kind.WIDGET)
    ticket = message_ingest(data=InboundMessage(
        inbox=widget, channel="widget", sender=[Identity("visitor", "v-1")], body_text="hi",
    )).message.ticket
    ContactIdentity.objects.create(contact=ticket.contact, kind="phone", value="+6281234567890")
    fake_provider.script("POST", MESSAGES_PATH, QUEUED)
    reply = deliver(ticket, agent, body="Kami akan menelepon Anda.", channel="sms")
    form = fake_provider.requests[0].form()
    assert (form["To"], form["From"]) == (["+6281234567890"], [INBOX_NUMBER])
    assert (reply.inbox_id, reply.delivery_status) == (twilio_inbox.pk, "sent")


def test_contact_without_a_phone_cannot_be_texted(agent, twilio_inbox, fake_provider):
    ticket = message_ingest(data=InboundMessage(
        inbox=twilio_inbox, channel="sms", sender=[Identity("phone", "+6281234567890")],
        body_text="hi",
    )).message.ticket
    ContactIdentity.objects.filter(contact=ticket.contact).delete()
    Message.objects.filter(ticket=ticket).update(metadata={})
    reply = deliver(ticket, agent, body="hello")
    assert fake_provider.requests == []
    assert (reply.delivery_status, reply.delivery_error) == (
        "failed", "The contact has no phone number.")


def test_whatsapp_conversation_is_answered_on_whatsapp(fixtures_dir, twilio_inbox, post_form,
                                                      agent, fake_provider):
    post_form(twilio_inbox, fixture_bytes(fixtures_dir,
                                          "docs_inbound_whatsapp_via_twilio.form.txt"))
    fake_provider.script("POST", MESSAGES_PATH, QUEUED)
    reply = deliver(Ticket.objects.get(), agent, body="Sí, sigue abierto.")
    form = fake_provider.requests[0].form()
    assert (form["To"], form["From"]) == (["whatsapp:+34600123456"], ["whatsapp:+14155238886"])
    assert reply.delivery_status == "sent"


def test_rate_limit_is_retried_after_twilios_retry_after(sms_ticket, agent, fake_provider,
                                                         retry_countdowns):
    fake_provider.script("POST", MESSAGES_PATH,
                         twilio_error(429, 20429, "Too Many Requests", **{"Retry-After": "2"}),
                         QUEUED)
    reply = deliver(sms_ticket, agent)
    assert len(fake_provider.requests) == 2 and retry_countdowns == [2.0]
    assert (reply.delivery_status, reply.external_id) == ("sent", SID)


def test_outage_is_retried_with_backoff(sms_ticket, agent, fake_provider):
    fake_provider.script("POST", MESSAGES_PATH,
                         Reply(500, body=b"<html>oops</html>", content_type="text/html"),
                         twilio_error(503, 20503, "Service unavailable"), QUEUED)
    reply = deliver(sms_ticket, agent)
    assert len(fake_provider.requests) == 3 and reply.delivery_status == "sent"


@pytest.mark.parametrize("answer,error", [
    (twilio_error(400, 21211, "Invalid 'To' Phone Number: +1415555267"),
     "Invalid 'To' Phone Number: +1415555267 (Twilio error 21211)"),
    (twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"),
     "Attempt to send to unsubscribed recipient (Twilio error 21610)"),
    (twilio_error(401, 20003, "Authenticate"), "Authenticate (Twilio error 20003)"),
    (Reply(404, body=b"Not Found", content_type="text/plain"), "Not Found (Twilio HTTP 404)"),
])
def test_refusal_fails_the_reply_with_twilios_reason(sms_ticket, agent, fake_provider, answer,
                                                     error):
    fake_provider.script("POST", MESSAGES_PATH, answer)
    reply = deliver(sms_ticket, agent)
    assert len(fake_provider.requests) == 1
    assert (reply.delivery_status, reply.delivery_error) == ("failed", error)


def test_attachments_go_as_signed_links_twilio_downloads(sms_ticket, agent, fake_provider,
                                                         settings, client):
    settings.SITE_URL = "https://support.example.com"
    fake_provider.script("POST", MESSAGES_PATH, QUEUED)
    reply = deliver(sms_ticket, agent, body="label attached", attachments=[
        AttachmentData("label.pdf", b"%PDF-1.7 label", "application/pdf"),
        AttachmentData("shelf photo.png", b"\x89PNG shelf", "image/png")])
    assert reply.delivery_status == "sent"
    form = fake_provider.requests[0].form()
    assert form["Body"] == ["label attached"]
    pdf, png = form["MediaUrl"]
    assert pdf.startswith("https://support.example.com/media/") and pdf.endswith("/label.pdf")
    assert png.endswith("/shelf%20photo.png")
    # What Twilio gets when it fetches them:
    response = client.get(urlsplit(pdf).path)
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF-1.7 label"
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    response = client.get(urlsplit(png).path)
    assert (response.status_code, response["Content-Type"]) == (200, "image/png")


def test_attachments_need_a_public_site_url(sms_ticket, agent, fake_provider, settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    reply = deliver(sms_ticket, agent, body="label attached",
                    attachments=[AttachmentData("label.pdf", b"%PDF", "application/pdf")])
    assert fake_provider.requests == []
    assert reply.delivery_status == "failed"
    assert "http://127.0.0.1:8000 is not reachable from the internet" in reply.delivery_error


def test_inbox_without_an_account_sid_fails_visibly(sms_ticket, agent, fake_provider,
                                                    twilio_inbox):
    twilio_inbox.config.pop("account_sid")
    twilio_inbox.save()
    reply = deliver(sms_ticket, agent)
    assert fake_provider.requests == []
    assert reply.delivery_error == (
        "The inbox sms needs account_sid in its config and the auth_token secret.")


@pytest.fixture
def sent_reply(sms_ticket, agent, fake_provider) -> Message:
    fake_provider.script("POST", MESSAGES_PATH, QUEUED)
    return deliver(sms_ticket, agent)


def status_callback(status: str, **extra) -> bytes:
    return urlencode({"MessageSid": SID, "SmsSid": SID, "MessageStatus": status,
                      "SmsStatus": status, "AccountSid": ACCOUNT_SID, "To": CUSTOMER,
                      "From": INBOX_NUMBER, "ApiVersion": "2010-04-01", **extra}).encode()


@pytest.mark.parametrize("statuses,final,error", [
    (["queued", "sending", "sent"], "sent", ""),
    (["sent", "delivered", "read"], "read", ""),
    (["undelivered"], "failed", "Unreachable destination handset (Twilio error 30003)"),
    (["failed"], "failed", "Twilio error 12345"),
    (["delivered", "failed"], "delivered", ""),
])
def test_status_callbacks(sent_reply, twilio_inbox, post_form, statuses, final, error):
    codes = {"undelivered": "30003", "failed": "12345"}
    for status in statuses:
        extra = {"ErrorCode": codes[status]} if status in codes else {}
        assert post_form(twilio_inbox, status_callback(status, **extra)).status_code == 200
    sent_reply.refresh_from_db()
    assert (sent_reply.delivery_status, sent_reply.delivery_error) == (final, error)
    assert Message.objects.count() == 2


def test_status_callback_for_an_unknown_message_changes_nothing(sent_reply, twilio_inbox,
                                                                post_form):
    body = status_callback("delivered").replace(SID.encode(), b"SMunknown")
    assert post_form(twilio_inbox, body).status_code == 200
    sent_reply.refresh_from_db()
    assert sent_reply.delivery_status == "sent"
