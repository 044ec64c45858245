"""Agent replies through the Bot API, against a fake Telegram on 127.0.0.1."""

import httpx
import pytest

from inbox.channels import provider_http
from inbox.models import ContactIdentity, Inbox, Message, Ticket
from inbox.services import (
    AttachmentData,
    Identity,
    InboundMessage,
    message_ingest,
    message_reply,
)
from inbox.tasks import message_deliver
from tests.channels.fake_provider import Reply
from tests.channels.telegram.conftest import BOT_TOKEN, bot_path, text_update
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db

CHAT_ID = 9001


def sent_message(message_id: int, text: str = "") -> Reply:
    return Reply(json={"ok": True, "result": {
        "message_id": message_id, "date": 1767225700, "text": text,
        "chat": {"id": CHAT_ID, "type": "private"}}})


def refused(code: int, description: str, **parameters) -> Reply:
    body = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Reply(code, body)


@pytest.fixture
def ticket(telegram_inbox, post_update) -> Ticket:
    assert post_update(telegram_inbox, text_update("Halo, pesanan saya?")).status_code == 200
    return Ticket.objects.get()


def deliver(ticket: Ticket, agent, body: str = "Pesanan Anda sudah dikirim. 已发货。",
            **options) -> Message:
    reply = message_reply(ticket=ticket, agent=agent, body=body, **options)
    message_deliver.apply(args=[reply.pk])
    reply.refresh_from_db()
    return reply


def test_reply_goes_to_the_customers_chat(ticket, agent, fake_provider):
    fake_provider.script("POST", bot_path("sendMessage"), sent_message(8))
    reply = deliver(ticket, agent)
    (request,) = fake_provider.requests
    assert (request.method, request.path) == ("POST", f"/bot{BOT_TOKEN}/sendMessage")
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {"chat_id": CHAT_ID, "text": "Pesanan Anda sudah dikirim. 已发货。"}
    assert (reply.channel, reply.delivery_status, reply.delivery_error) == ("telegram", "sent", "")
    assert reply.external_id == "9001:8"


def test_long_text_is_split_at_a_line_break(ticket, agent, fake_provider):
    fake_provider.script("POST", bot_path("sendMessage"), sent_message(8), sent_message(9))
    first, second = "a" * 3000, "b" * 2000
    reply = deliver(ticket, agent, body=f"{first}\n{second}")
    assert [r.json()["text"] for r in fake_provider.requests] == [first, second]
    assert reply.external_id == "9001:8"


def test_attachments_follow_the_text(ticket, agent, fake_provider):
    fake_provider.script("POST", bot_path("sendMessage"), sent_message(8))
    fake_provider.script("POST", bot_path("sendPhoto"), sent_message(9))
    fake_provider.script("POST", bot_path("sendDocument"), sent_message(10))
    reply = deliver(ticket, agent, body="Here you go", attachments=[
        AttachmentData("label.png", b"\x89PNG fake", "image/png"),
        AttachmentData("invoice.pdf", b"%PDF-1.7 fake", "application/pdf"),
    ])
    text, photo, document = fake_provider.requests
    assert text.json() == {"chat_id": CHAT_ID, "text": "Here you go"}
    assert photo.path == bot_path("sendPhoto")
    assert photo.multipart() == {"chat_id": (None, b"9001"),
                                 "photo": ("label.png", b"\x89PNG fake")}
    assert document.multipart() == {"chat_id": (None, b"9001"),
                                    "document": ("invoice.pdf", b"%PDF-1.7 fake")}
    assert (reply.delivery_status, reply.external_id) == ("sent", "9001:8")


def test_rate_limit_is_retried_after_the_time_telegram_asks(
    ticket, agent, fake_provider, retry_countdowns
):
    fake_provider.script("POST", bot_path("sendMessage"),
                         refused(429, "Too Many Requests: retry after 3", retry_after=3),
                         sent_message(8))
    reply = deliver(ticket, agent)
    assert len(fake_provider.requests) == 2 and retry_countdowns == [3]
    assert (reply.delivery_status, reply.delivery_error, reply.external_id) == (
        "sent", "", "9001:8")


def test_server_error_is_retried(ticket, agent, fake_provider):
    fake_provider.script("POST", bot_path("sendMessage"),
                         refused(502, "Bad Gateway"), sent_message(8))
    reply = deliver(ticket, agent)
    assert len(fake_provider.requests) == 2 and reply.delivery_status == "sent"


def test_timeout_is_retried(ticket, agent, fake_provider, monkeypatch):
    monkeypatch.setattr(provider_http, "TIMEOUT", httpx.Timeout(0.3))
    fake_provider.script("POST", bot_path("sendMessage"),
                         Reply(json={"ok": True, "result": {"message_id": 1}}, delay=1.0),
                         sent_message(8))
    reply = deliver(ticket, agent)
    assert len(fake_provider.requests) == 2
    assert (reply.delivery_status, reply.external_id) == ("sent", "9001:8")


@pytest.mark.parametrize("answer,error", [
    (refused(403, "Forbidden: bot was blocked by the user"),
     "Forbidden: bot was blocked by the user (Telegram 403)"),
    (refused(400, "Bad Request: chat not found"), "Bad Request: chat not found (Telegram 400)"),
    (refused(401, "Unauthorized"), "Unauthorized (Telegram 401)"),
    # Not Telegram's JSON envelope (a proxy's page, a stray array): the HTTP reason stands in.
    (Reply(404, body=b"<html>Not Found</html>", content_type="text/html"),
     "Not Found (Telegram 404)"),
    (Reply(400, ["unexpected"]), "Bad Request (Telegram 400)"),
])
def test_refusal_fails_the_reply_with_telegrams_reason(ticket, agent, fake_provider, answer,
                                                       error):
    fake_provider.script("POST", bot_path("sendMessage"), answer)
    reply = deliver(ticket, agent)
    assert len(fake_provider.requests) == 1  # not retried
    assert (reply.delivery_status, reply.delivery_error) == ("failed", error)
    assert BOT_TOKEN not in reply.delivery_error


def test_failure_after_a_part_went_out_is_not_retried(ticket, agent, fake_provider):
    fake_provider.script("POST", bot_path("sendMessage"), sent_message(8))
    fake_provider.script("POST", bot_path("sendDocument"), refused(502, "Bad Gateway"))
    reply = deliver(ticket, agent, body="See attached", attachments=[
        AttachmentData("invoice.pdf", b"%PDF", "application/pdf")])
    assert len(fake_provider.sent(path=bot_path("sendMessage"))) == 1
    assert reply.delivery_status == "failed"
    assert reply.delivery_error == "Only 1 of 2 parts were sent: Bad Gateway (Telegram 502)"


def test_inbox_without_a_bot_token_fails_visibly(ticket, agent, fake_provider, telegram_inbox):
    telegram_inbox.secrets_update({"bot_token": None})
    telegram_inbox.save()
    reply = deliver(ticket, agent)
    assert fake_provider.requests == []
    assert (reply.delivery_status, reply.delivery_error) == (
        "failed", "The inbox telegram has no bot_token: add the token BotFather gave you.")


def test_agent_can_pick_telegram_for_a_contact_known_only_by_user_id(
    agent, telegram_inbox, fake_provider
):
    widget = InboxFactory(kind=Inbox.Kind.WIDGET)
    ticket = message_ingest(data=InboundMessage(
        inbox=widget, channel="widget", sender=[Identity("visitor", "v-1")], body_text="hi",
    )).message.ticket
    ContactIdentity.objects.create(contact=ticket.contact, kind="telegram", value="555")
    fake_provider.script("POST", bot_path("sendMessage"), sent_message(3))
    reply = deliver(ticket, agent, body="Replying on Telegram", channel="telegram")
    assert fake_provider.requests[0].json() == {"chat_id": 555, "text": "Replying on Telegram"}
    assert (reply.inbox_id, reply.delivery_status) == (telegram_inbox.pk, "sent")


def test_reply_goes_to_the_chat_last_written_from(ticket, agent, fake_provider):
    """A contact with two Telegram accounts (merged, say) is answered where they wrote."""
    ContactIdentity.objects.create(contact=ticket.contact, kind="telegram", value="4242",
                                   verified=True)
    fake_provider.script("POST", bot_path("sendMessage"), sent_message(8))
    deliver(ticket, agent)
    assert fake_provider.requests[0].json()["chat_id"] == CHAT_ID
