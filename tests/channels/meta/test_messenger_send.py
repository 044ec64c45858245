"""Messenger and Instagram replies, receipts and media against a fake Graph API."""

import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from inbox.channels.tasks import media_fetch
from inbox.models import Attachment, Message, Ticket
from inbox.services import AttachmentData, message_reply
from inbox.tasks import message_deliver
from tests.channels.fake_provider import Reply

from .conftest import PAGE_TOKEN, messaging_body, messaging_text

pytestmark = pytest.mark.django_db

SEND = "/v21.0/me/messages"
PSID = "7001"
KINDS = ["messenger", "instagram"]


@pytest.fixture
def inbox_of(request):
    def get(kind):
        return request.getfixturevalue(f"{kind}_inbox")

    return get


@pytest.fixture
def conversation(inbox_of, post_ok):
    """A customer who wrote to the inbox of `kind`; returns the ticket."""

    def start(kind: str) -> Ticket:
        post_ok(inbox_of(kind), messaging_body(kind, messaging_text(
            "Is this still available?", mid="m_in_1", timestamp=1767600000000)))
        return Ticket.objects.get()

    return start


def deliver(message: Message) -> Message:
    message_deliver.apply(args=[message.pk])
    message.refresh_from_db()
    return message


@pytest.mark.parametrize("kind", KINDS)
def test_reply_is_sent_with_the_send_api(kind, conversation, fake_provider, agent):
    fake_provider.script("POST", SEND, Reply(200, {"recipient_id": PSID, "message_id": "m_out_1"}))
    reply = deliver(message_reply(ticket=conversation(kind), agent=agent, body="Yes, it is!"))
    assert (reply.channel, reply.delivery_status, reply.external_id) == (kind, "sent", "m_out_1")
    [request] = fake_provider.sent()
    assert request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert request.json() == {"recipient": {"id": PSID}, "messaging_type": "RESPONSE",
                              "message": {"text": "Yes, it is!"}}


def test_messenger_reply_with_a_file_is_uploaded_with_the_message(conversation, fake_provider,
                                                                  agent):
    fake_provider.script("POST", SEND, Reply(200, {"message_id": "m_text"}),
                         Reply(200, {"message_id": "m_photo", "attachment_id": "987"}))
    reply = deliver(message_reply(
        ticket=conversation("messenger"), agent=agent, body="Here is the photo",
        attachments=[AttachmentData(name="shelf.png", content=b"\x89PNG shelf",
                                    content_type="image/png")]))
    assert (reply.delivery_status, reply.external_id) == ("sent", "m_text")
    text, upload = fake_provider.sent()
    assert text.json()["message"] == {"text": "Here is the photo"}
    parts = upload.multipart()
    assert {name: json.loads(value) for name, (_, value) in parts.items()
            if name in ("recipient", "message")} == {
        "recipient": {"id": PSID},
        "message": {"attachment": {"type": "image", "payload": {"is_reusable": False}}}}
    assert (parts["messaging_type"], parts["filedata"]) == (
        (None, b"RESPONSE"), ("shelf.png", b"\x89PNG shelf"))


def test_instagram_reply_with_a_file_sends_a_signed_link(conversation, fake_provider, agent,
                                                         settings, client):
    settings.SITE_URL = "https://support.example.com"
    fake_provider.script("POST", SEND, Reply(200, {"message_id": "m_text"}),
                         Reply(200, {"message_id": "m_photo"}))
    reply = deliver(message_reply(
        ticket=conversation("instagram"), agent=agent, body="photo",
        attachments=[AttachmentData(name="a.png", content=b"\x89PNG a", content_type="image/png")]))
    assert (reply.delivery_status, reply.external_id) == ("sent", "m_text")
    text, photo = fake_provider.sent()
    assert text.json()["message"] == {"text": "photo"}
    message = photo.json()["message"]
    url = message["attachment"]["payload"]["url"]
    assert message == {"attachment": {"type": "image", "payload": {"url": url}}}
    assert url.startswith("https://support.example.com/media/") and url.endswith("/a.png")
    response = client.get(urlsplit(url).path)
    assert (response.status_code, b"".join(response.streaming_content)) == (200, b"\x89PNG a")


def test_instagram_file_without_a_public_site_sends_nothing(conversation, fake_provider, agent,
                                                            settings):
    settings.SITE_URL = "http://localhost:8000"
    reply = deliver(message_reply(
        ticket=conversation("instagram"), agent=agent, body="photo",
        attachments=[AttachmentData(name="a.png", content=b"png", content_type="image/png")]))
    assert reply.delivery_status == "failed"
    assert "is not reachable from the internet" in reply.delivery_error
    assert fake_provider.requests == []


def test_send_api_refusal_is_shown_on_the_message(conversation, fake_provider, agent):
    fake_provider.script("POST", SEND, Reply(400, {"error": {
        "message": "(#10) This message is sent outside of allowed window.",
        "type": "OAuthException", "code": 10, "error_subcode": 2018278}}))
    reply = deliver(message_reply(ticket=conversation("messenger"), agent=agent, body="hi"))
    assert (reply.delivery_status, reply.delivery_error) == ("failed", (
        "(#10) This message is sent outside of allowed window. (code 10, HTTP 400)"))
    assert len(fake_provider.sent()) == 1


def test_server_error_is_retried(conversation, fake_provider, agent):
    fake_provider.script(
        "POST", SEND, Reply(500, {"error": {"message": "An unknown error occurred"}}),
        Reply(502, body=b"<html>Bad gateway</html>", content_type="text/html"),
        Reply(200, {"message_id": "m_ok"}))
    reply = deliver(message_reply(ticket=conversation("messenger"), agent=agent, body="hi"))
    assert (reply.delivery_status, reply.external_id) == ("sent", "m_ok")
    assert len(fake_provider.sent()) == 3


def test_missing_page_token_fails_clearly(conversation, messenger_inbox, agent):
    messenger_inbox.secrets_update({"page_access_token": None})
    messenger_inbox.save()
    reply = deliver(message_reply(ticket=conversation("messenger"), agent=agent, body="hi"))
    assert (reply.delivery_status, reply.delivery_error) == (
        "failed", "The inbox messenger has no page_access_token secret: set it to send.")


# --- receipts ------------------------------------------------------------------------------

@pytest.fixture
def three_replies(conversation, agent):
    """Our replies m_out_1..3 to the customer (who wrote at 08:00), sent at 10:00, 10:01
    and 10:02 UTC on 2026-01-05; 10:01 is 1767607260000 in epoch ms."""
    ticket = conversation("messenger")
    replies = []
    for n in range(3):
        at = datetime(2026, 1, 5, 10, n, tzinfo=UTC)
        reply = message_reply(ticket=ticket, agent=agent, body=f"reply {n + 1}", at=at)
        Message.objects.filter(pk=reply.pk).update(external_id=f"m_out_{n + 1}",
                                                   delivery_status="sent")
        replies.append(reply)
    return replies


def statuses() -> dict:
    return dict(Message.objects.filter(direction="outbound").values_list(
        "external_id", "delivery_status"))


def receipt(kind: str, body: dict) -> dict:
    return {"sender": {"id": PSID}, "recipient": {"id": "1234"}, "timestamp": 1767607300000,
            kind: body}


def test_delivery_with_mids(three_replies, messenger_inbox, post_ok):
    post_ok(messenger_inbox, messaging_body("messenger", receipt(
        "delivery", {"mids": ["m_out_2"], "watermark": 1767600000000})))
    assert statuses() == {"m_out_1": "sent", "m_out_2": "delivered", "m_out_3": "sent"}


def test_delivery_watermark_covers_earlier_messages(three_replies, messenger_inbox, post_ok):
    post_ok(messenger_inbox, messaging_body("messenger", receipt(
        "delivery", {"watermark": 1767607260000})))  # 10:01
    assert statuses() == {"m_out_1": "delivered", "m_out_2": "delivered", "m_out_3": "sent"}


def test_read_watermark_then_late_delivery_never_goes_backwards(three_replies, messenger_inbox,
                                                                post_ok):
    post_ok(messenger_inbox, messaging_body("messenger", receipt(
        "read", {"watermark": 1767607260000})))
    assert statuses() == {"m_out_1": "read", "m_out_2": "read", "m_out_3": "sent"}
    post_ok(messenger_inbox, messaging_body("messenger", receipt(
        "delivery", {"mids": ["m_out_1", "m_out_2", "m_out_3"]})))
    assert statuses() == {"m_out_1": "read", "m_out_2": "read", "m_out_3": "delivered"}


def test_receipts_from_another_customer_change_nothing(three_replies, messenger_inbox, post_ok):
    event = receipt("read", {"watermark": 1767607300000})
    event["sender"]["id"] = "8002"
    post_ok(messenger_inbox, messaging_body("messenger", event))
    assert set(statuses().values()) == {"sent"}


def test_echo_of_our_own_message_is_ignored(messenger_inbox, post_ok):
    post_ok(messenger_inbox, messaging_body("messenger", {
        "sender": {"id": "1234"}, "recipient": {"id": PSID}, "timestamp": 1767600000000,
        "message": {"mid": "m_echo", "is_echo": True, "app_id": 1517776481860111,
                    "text": "Yes, it is!"}}))
    assert Message.objects.count() == 0


def test_postback_becomes_the_button_title(messenger_inbox, post_ok):
    post_ok(messenger_inbox, messaging_body("messenger", {
        "sender": {"id": PSID}, "recipient": {"id": "1234"}, "timestamp": 1767600000000,
        "postback": {"title": "Talk to a human", "payload": "HUMAN", "mid": "m_pb"}}))
    message = Message.objects.get()
    assert (message.body_text, message.external_id) == ("Talk to a human", "m_pb")
    assert message.metadata == {"messenger": {"from": PSID, "postback_payload": "HUMAN"}}


def test_entries_for_another_page_are_ignored(messenger_inbox, post_ok):
    messenger_inbox.config["page_id"] = "1234"
    messenger_inbox.save()
    body = messaging_body("messenger", messaging_text("hi", mid="m_1", timestamp=1767600000000),
                          account_id="5678")
    post_ok(messenger_inbox, body)
    assert Message.objects.count() == 0


# --- media ---------------------------------------------------------------------------------

def test_attachment_url_downloaded_without_the_token(messenger_inbox, post_ok, media_queued,
                                                     fake_provider):
    fake_provider.script("GET", "/cdn/t39.1997-6/receipt.jpg",
                         Reply(200, body=b"\xff\xd8 receipt", content_type="image/jpeg"))
    post_ok(messenger_inbox, messaging_body("messenger", {
        "sender": {"id": PSID}, "recipient": {"id": "1234"}, "timestamp": 1767600000000,
        "message": {"mid": "m_img", "attachments": [{"type": "image", "payload": {
            "url": f"{fake_provider.url}/cdn/t39.1997-6/receipt.jpg?_nc_cat=1&oh=abc"}}]}}))
    [(message_id, refs)] = media_queued
    assert media_fetch.apply(args=[message_id, refs]).get() == 1
    attachment = Attachment.objects.get()
    assert (attachment.name, attachment.content_type, attachment.file.read()) == (
        "receipt.jpg", "image/jpeg", b"\xff\xd8 receipt")
    [download] = fake_provider.requests
    assert "Authorization" not in download.headers


def test_blocked_file_type_is_not_stored(messenger_inbox, post_ok, media_queued, fake_provider,
                                         caplog):
    fake_provider.script("GET", "/cdn/setup.exe",
                         Reply(200, body=b"MZ", content_type="application/x-msdownload"))
    post_ok(messenger_inbox, messaging_body("messenger", {
        "sender": {"id": PSID}, "recipient": {"id": "1234"}, "timestamp": 1767600000000,
        "message": {"mid": "m_exe", "attachments": [{"type": "file", "payload": {
            "url": f"{fake_provider.url}/cdn/setup.exe"}}]}}))
    [(message_id, refs)] = media_queued
    assert media_fetch.apply(args=[message_id, refs]).get() == 0
    assert Attachment.objects.count() == 0
    assert "setup.exe: blocked file type" in caplog.text
