"""WhatsApp replies and media against a fake Graph API on 127.0.0.1: the request Meta gets,
retries, errors on the message, the 24-hour customer-care window, templates, media both
ways, status callbacks."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.channels.tasks import media_fetch
from inbox.models import Attachment, Message, Ticket
from inbox.services import AttachmentData, message_reply
from inbox.tasks import message_deliver
from tests.channels.fake_provider import Reply
from tests.factories import InboxFactory, TicketFactory

from .conftest import (
    ACCESS_TOKEN,
    PHONE_NUMBER_ID,
    whatsapp_body,
    whatsapp_status,
    whatsapp_text,
)

pytestmark = pytest.mark.django_db

WA_ID = "6281234567890"
MESSAGES = f"/v21.0/{PHONE_NUMBER_ID}/messages"
WINDOW_CLOSED = "outside the 24-hour window: only approved templates can be sent"


def accepted(message_id: str) -> Reply:
    return Reply(200, {"messaging_product": "whatsapp",
                       "contacts": [{"input": WA_ID, "wa_id": WA_ID}],
                       "messages": [{"id": message_id}]})


@pytest.fixture
def customer_wrote(whatsapp_inbox, post_ok):
    """The customer writes on WhatsApp `hours_ago`; returns the ticket."""

    def write(hours_ago: float, text: str = "Pesanan saya belum sampai", mid: str = "wamid.IN1"):
        timestamp = int(time.time() - hours_ago * 3600)
        post_ok(whatsapp_inbox, whatsapp_body(messages=[
            whatsapp_text(text, message_id=mid, timestamp=timestamp)]))
        return Ticket.objects.get(messages__external_id=mid)

    return write


def deliver(message: Message) -> Message:
    message_deliver.apply(args=[message.pk])
    message.refresh_from_db()
    return message


def test_reply_inside_the_window_is_sent(customer_wrote, fake_provider, agent):
    fake_provider.script("POST", MESSAGES, accepted("wamid.OUT1"))
    ticket = customer_wrote(hours_ago=2)
    reply = deliver(message_reply(ticket=ticket, agent=agent, body="Kami cek dulu ya 🙏"))
    assert (reply.channel, reply.delivery_status, reply.external_id, reply.delivery_error) == (
        "whatsapp", "sent", "wamid.OUT1", "")
    [request] = fake_provider.sent()
    assert request.path == MESSAGES
    assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert request.json() == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID,
        "type": "text", "text": {"body": "Kami cek dulu ya 🙏", "preview_url": False}}


def test_rate_limited_then_sent(customer_wrote, fake_provider, agent):
    fake_provider.script(
        "POST", MESSAGES,
        Reply(429, {"error": {"message": "(#130429) Rate limit hit", "code": 130429}}),
        accepted("wamid.OUT2"))
    reply = deliver(message_reply(ticket=customer_wrote(hours_ago=1), agent=agent, body="hi"))
    assert (reply.delivery_status, reply.external_id) == ("sent", "wamid.OUT2")
    assert len(fake_provider.sent(path=MESSAGES)) == 2


def test_throttling_answered_with_400_is_retried(customer_wrote, fake_provider, agent):
    fake_provider.script("POST", MESSAGES, Reply(400, {"error": {
        "message": "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "code": 131056}}), accepted("wamid.OUT3"))
    reply = deliver(message_reply(ticket=customer_wrote(hours_ago=1), agent=agent, body="hi"))
    assert reply.delivery_status == "sent"
    assert len(fake_provider.sent(path=MESSAGES)) == 2


def test_permanent_error_is_shown_on_the_message(customer_wrote, fake_provider, agent):
    fake_provider.script("POST", MESSAGES, Reply(400, {"error": {
        "message": "(#131030) Recipient phone number not in allowed list",
        "type": "OAuthException", "code": 131030,
        "error_data": {"messaging_product": "whatsapp",
                       "details": "Add recipient phone number to recipient list and try again."},
        "fbtrace_id": "AxyzL"}}))
    reply = deliver(message_reply(ticket=customer_wrote(hours_ago=1), agent=agent, body="hi"))
    assert reply.delivery_status == "failed"
    assert reply.delivery_error == (
        "(#131030) Recipient phone number not in allowed list: Add recipient phone number to "
        "recipient list and try again. (code 131030, HTTP 400)")
    assert len(fake_provider.sent()) == 1  # not retried


def test_free_form_reply_outside_the_window_fails_with_the_reason(customer_wrote, fake_provider,
                                                                  agent):
    fake_provider.script("POST", MESSAGES, accepted("wamid.never"))
    reply = deliver(message_reply(ticket=customer_wrote(hours_ago=25), agent=agent, body="hi"))
    assert (reply.delivery_status, reply.delivery_error) == ("failed", WINDOW_CLOSED)
    assert fake_provider.requests == []


def test_template_outside_the_window_is_sent_as_a_template(customer_wrote, fake_provider, agent):
    fake_provider.script("POST", MESSAGES, accepted("wamid.TPL"))
    ticket = customer_wrote(hours_ago=30)
    components = [{"type": "body", "parameters": [{"type": "text", "text": "#1042"}]}]
    reply = deliver(message_reply(
        ticket=ticket, agent=agent, body="Pesanan #1042 sudah dikirim.",
        metadata={"whatsapp_template": {"name": "order_shipped", "language": "id",
                                        "components": components}}))
    assert (reply.delivery_status, reply.external_id) == ("sent", "wamid.TPL")
    assert fake_provider.sent()[0].json() == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID,
        "type": "template", "template": {"name": "order_shipped", "language": {"code": "id"},
                                         "components": components}}


def test_reply_with_a_file_uploads_it_then_sends_it_by_id(customer_wrote, fake_provider, agent):
    fake_provider.script("POST", MESSAGES, accepted("wamid.TEXT"), accepted("wamid.DOC"))
    fake_provider.script("POST", f"/v21.0/{PHONE_NUMBER_ID}/media", Reply(200, {"id": "media-77"}))
    reply = deliver(message_reply(
        ticket=customer_wrote(hours_ago=1), agent=agent, body="Invoice attached",
        attachments=[AttachmentData(name="invoice-1042.pdf", content=b"%PDF-1.7 invoice",
                                    content_type="application/pdf")]))
    assert (reply.delivery_status, reply.external_id) == ("sent", "wamid.TEXT")
    text, upload, document = fake_provider.sent()
    assert text.json()["text"]["body"] == "Invoice attached"
    assert upload.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    assert upload.multipart() == {
        "messaging_product": (None, b"whatsapp"), "type": (None, b"application/pdf"),
        "file": ("invoice-1042.pdf", b"%PDF-1.7 invoice")}
    assert document.json() == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": WA_ID,
        "type": "document", "document": {"id": "media-77", "filename": "invoice-1042.pdf"}}


def test_failure_after_a_first_part_went_out_is_not_retried(customer_wrote, fake_provider, agent):
    fake_provider.script("POST", MESSAGES, accepted("wamid.TEXT"))
    fake_provider.script("POST", f"/v21.0/{PHONE_NUMBER_ID}/media",
                         Reply(503, {"error": {"message": "Service unavailable", "code": 2}}))
    reply = deliver(message_reply(
        ticket=customer_wrote(hours_ago=1), agent=agent, body="photo",
        attachments=[AttachmentData(name="p.png", content=b"png", content_type="image/png")]))
    assert reply.delivery_status == "failed"
    assert reply.delivery_error == (
        "Only 1 of 2 parts were sent: Service unavailable (code 2, HTTP 503)")
    assert len(fake_provider.sent(path=MESSAGES)) == 1  # the text went out once, never again


def test_media_download_into_an_attachment(whatsapp_inbox, post_ok, media_queued, fake_provider):
    fake_provider.script("GET", "/v21.0/65463453", Reply(200, {
        "messaging_product": "whatsapp", "url": f"{fake_provider.url}/lookaside/65463453?ext=1",
        "mime_type": "image/jpeg", "file_size": 13, "id": "65463453"}))
    fake_provider.script("GET", "/lookaside/65463453",
                         Reply(200, body=b"\xff\xd8\xff jpeg data", content_type="image/jpeg"))
    post_ok(whatsapp_inbox, whatsapp_body(messages=[{
        "from": WA_ID, "id": "wamid.IMG", "timestamp": "1767600000", "type": "image",
        "image": {"mime_type": "image/jpeg", "id": "65463453", "caption": "Paketnya rusak"}}]))
    [(message_id, refs)] = media_queued
    assert media_fetch.apply(args=[message_id, refs]).get() == 1
    attachment = Attachment.objects.get()
    assert (attachment.message.body_text, attachment.name, attachment.content_type,
            attachment.size) == ("Paketnya rusak", "image.jpg", "image/jpeg", 13)
    assert attachment.file.read() == b"\xff\xd8\xff jpeg data"
    assert [r.headers["Authorization"] for r in fake_provider.requests] == [
        f"Bearer {ACCESS_TOKEN}"] * 2
    # Idempotent: a second run downloads nothing again.
    assert media_fetch.apply(args=[message_id, refs]).get() == 0
    assert len(fake_provider.requests) == 2


@pytest.mark.parametrize("file_size", [5000, None])  # declared by Meta, or only by the bytes
def test_media_over_the_size_limit_is_not_stored(whatsapp_inbox, post_ok, media_queued,
                                                  fake_provider, file_size):
    whatsapp_inbox.config["max_attachment_mb"] = 0.001  # 1048 bytes
    whatsapp_inbox.save()
    fake_provider.script("GET", "/v21.0/m-big", Reply(200, {
        "url": f"{fake_provider.url}/lookaside/m-big", "mime_type": "video/mp4",
        "file_size": file_size}))
    fake_provider.script("GET", "/lookaside/m-big",
                         Reply(200, body=b"x" * 5000, content_type="video/mp4"))
    post_ok(whatsapp_inbox, whatsapp_body(messages=[{
        "from": WA_ID, "id": "wamid.VID", "timestamp": "1767600000", "type": "video",
        "video": {"mime_type": "video/mp4", "id": "m-big"}}]))
    [(message_id, refs)] = media_queued
    assert media_fetch.apply(args=[message_id, refs]).get() == 0
    assert Attachment.objects.count() == 0
    assert Message.objects.get().metadata["media_fetched"] == ["m-big"]
    assert len(fake_provider.sent("GET", "/lookaside/m-big")) == (0 if file_size else 1)


def test_statuses_out_of_order_never_move_backwards(customer_wrote, fake_provider, post_ok, agent):
    fake_provider.script("POST", MESSAGES, accepted("wamid.OUT"))
    reply = deliver(message_reply(ticket=customer_wrote(hours_ago=1), agent=agent, body="hi"))
    for status in ("read", "delivered", "sent"):
        post_ok(reply.inbox, whatsapp_body(statuses=[whatsapp_status("wamid.OUT", status,
                                                                     1767600000)]))
        reply.refresh_from_db()
        assert reply.delivery_status == "read"


def test_failed_status_carries_whatsapps_reason(customer_wrote, fake_provider, post_ok, agent):
    fake_provider.script("POST", MESSAGES, accepted("wamid.OUT"))
    reply = deliver(message_reply(ticket=customer_wrote(hours_ago=1), agent=agent, body="hi"))
    post_ok(reply.inbox, whatsapp_body(statuses=[whatsapp_status(
        "wamid.OUT", "failed", 1767600000, errors=[{
            "code": 131047, "title": "Re-engagement message",
            "message": "Re-engagement message",
            "error_data": {"details": "Message failed to send because more than 24 hours have "
                                      "passed since the customer last replied to this number."},
        }])]))
    reply.refresh_from_db()
    assert (reply.delivery_status, reply.delivery_error) == ("failed", (
        "Re-engagement message: Message failed to send because more than 24 hours have passed "
        "since the customer last replied to this number. (131047)"))


# --- the window in the ticket API ----------------------------------------------------------

def test_ticket_detail_shows_an_open_window(customer_wrote, whatsapp_inbox, api, agent):
    whatsapp_inbox.members.add(agent)
    ticket = customer_wrote(hours_ago=3)
    wrote_at = ticket.messages.get().created_at
    data = api(agent).get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert data["reply_window"] == {
        "channel": "whatsapp", "open": True,
        "closes_at": (wrote_at + timedelta(hours=24)).isoformat()}


def test_ticket_detail_shows_a_closed_window(customer_wrote, whatsapp_inbox, api, agent):
    whatsapp_inbox.members.add(agent)
    ticket = customer_wrote(hours_ago=24.5)
    data = api(agent).get(f"/api/v1/tickets/{ticket.pk}/").json()
    assert data["reply_window"]["open"] is False
    assert data["reply_window"]["closes_at"] < timezone.now().isoformat()


def test_channels_without_a_window_have_none(api, admin_agent):
    ticket = TicketFactory(inbox=InboxFactory(kind="email"))
    assert api(admin_agent).get(f"/api/v1/tickets/{ticket.pk}/").json()["reply_window"] is None
