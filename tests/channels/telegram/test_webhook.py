"""The Telegram webhook: the secret token, redelivery, edits, commands, bad bodies."""

import json

import pytest

from inbox.models import Message, Ticket
from tests.channels.telegram.conftest import WEBHOOK_SECRET, fixture_bytes, text_update

pytestmark = pytest.mark.django_db

# Indonesian and Chinese: "Hello, my order has not arrived yet."
NON_ASCII_TEXT = "Halo, pesanan saya belum sampai. 你好，我的订单还没到。"


def test_valid_secret_stores_non_ascii_text_exactly(telegram_inbox, post_update):
    response = post_update(telegram_inbox, text_update(NON_ASCII_TEXT))
    assert response.status_code == 200
    message = Message.objects.get()
    assert (message.body_text, message.external_id) == (NON_ASCII_TEXT, "9001:7")
    assert message.ticket.contact.name == "Budi Santoso"


@pytest.mark.parametrize("token,status,code", [
    (None, 401, "unauthorized"),
    ("", 401, "unauthorized"),
    ("wrong-secret", 403, "bad_signature"),
    (WEBHOOK_SECRET[:-1], 403, "bad_signature"),
    (WEBHOOK_SECRET + "x", 403, "bad_signature"),
])
def test_missing_or_wrong_secret_is_refused_and_stores_nothing(
    telegram_inbox, post_update, stored, media_queued, token, status, code
):
    response = post_update(telegram_inbox, text_update(NON_ASCII_TEXT), token=token)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert stored() == (0, 0, 0) and media_queued == []


def test_inbox_without_a_secret_refuses_everything(telegram_inbox, post_update, stored):
    telegram_inbox.secrets_update({"webhook_secret": None})
    telegram_inbox.save()
    for token in (None, "", WEBHOOK_SECRET):
        response = post_update(telegram_inbox, text_update("hi"), token=token)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "not_configured"
    assert stored() == (0, 0, 0)


def test_secret_from_an_environment_variable(telegram_inbox, post_update, monkeypatch):
    monkeypatch.setenv("TG_HOOK_SECRET", "from-the-environment")
    telegram_inbox.secrets_update({"webhook_secret": None})
    telegram_inbox.config["webhook_secret"] = "env:TG_HOOK_SECRET"
    telegram_inbox.save()
    assert post_update(telegram_inbox, text_update("hi"), token=WEBHOOK_SECRET).status_code == 403
    assert post_update(telegram_inbox, text_update("hi"), token="from-the-environment"
                       ).status_code == 200


def test_reserialized_body_is_the_same_update(fixtures_dir, telegram_inbox, post_update):
    """The secret token authenticates the sender, not the bytes (TLS protects those): the
    same update re-serialized differently is accepted, and is the same message."""
    original = fixture_bytes(fixtures_dir, "nutgram_message.json")
    reserialized = json.dumps(json.loads(original), separators=(",", ":"),
                              sort_keys=True).encode()
    assert reserialized != original
    assert post_update(telegram_inbox, original).status_code == 200
    assert post_update(telegram_inbox, reserialized).status_code == 200
    assert Message.objects.get().body_text == "Ciao"


def test_redelivery_is_one_message(fixtures_dir, telegram_inbox, post_update):
    body = fixture_bytes(fixtures_dir, "nutgram_photo.json")
    for _ in range(3):
        assert post_update(telegram_inbox, body).status_code == 200
    assert Message.objects.count() == 1 and Ticket.objects.count() == 1


def test_update_id_is_not_the_identity_of_a_message(telegram_inbox, post_update):
    """nutgram reuses update_id 1 for different messages; so do restarted bots."""
    post_update(telegram_inbox, text_update("first", message_id=1, update_id=1))
    post_update(telegram_inbox, text_update("second", message_id=2, update_id=1))
    post_update(telegram_inbox, text_update("other chat", message_id=1, user_id=77, update_id=1))
    assert sorted(Message.objects.values_list("external_id", "body_text")) == [
        ("77:1", "other chat"), ("9001:1", "first"), ("9001:2", "second")]


def test_edit_is_stored_as_a_new_message_once(telegram_inbox, post_update):
    post_update(telegram_inbox, text_update("I ordered 2 shirts"))
    edited = json.loads(text_update("I ordered 3 shirts", update_id=2))
    edited["edited_message"] = {**edited.pop("message"), "edit_date": 1767225660}
    for _ in range(2):
        assert post_update(telegram_inbox, json.dumps(edited).encode()).status_code == 200
    first, edit = Message.objects.order_by("seq")
    assert (first.body_text, first.external_id) == ("I ordered 2 shirts", "9001:7")
    assert (edit.body_text, edit.external_id) == ("(edited) I ordered 3 shirts",
                                                  "9001:7:edit:1767225660")
    assert edit.ticket_id == first.ticket_id
    assert edit.created_at.timestamp() == 1767225660


def test_live_location_updates_are_not_messages(telegram_inbox, post_update):
    location = {"latitude": -6.2, "longitude": 106.816666, "live_period": 900}
    body = json.loads(text_update("", location=location))
    del body["message"]["text"]
    post_update(telegram_inbox, json.dumps(body).encode())
    body["edited_message"] = {**body.pop("message"), "edit_date": 1767225610,
                              "location": {**location, "latitude": -6.21}}
    post_update(telegram_inbox, json.dumps(body).encode())
    assert list(Message.objects.values_list("body_text", flat=True)) == [
        "Location: -6.2, 106.816666\nhttps://www.openstreetmap.org/?mlat=-6.2&mlon=106.816666"]


def test_start_opens_the_conversation_and_later_joins_it(telegram_inbox, post_update):
    post_update(telegram_inbox, text_update("/start", message_id=1))
    ticket = Ticket.objects.get()
    assert (ticket.status, ticket.channel) == ("open", "telegram")
    post_update(telegram_inbox, text_update("/start promo-2026", message_id=2))
    post_update(telegram_inbox, text_update("Where is my parcel?", message_id=3))
    assert list(ticket.messages.values_list("body_text", flat=True)) == [
        "/start", "/start promo-2026", "Where is my parcel?"]


def test_messages_from_bots_are_ignored(telegram_inbox, post_update, stored):
    body = json.loads(text_update("beep"))
    body["message"]["from"]["is_bot"] = True
    assert post_update(telegram_inbox, json.dumps(body).encode()).status_code == 200
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("body", [
    b"{not json", b"\xff\xfe\x00garbage", b"[]", b'"an update"',
    json.dumps({"update_id": 1, "message": {"message_id": "seven", "text": "x",
                                            "from": {"id": 1}, "chat": {"id": 1,
                                                                        "type": "private"}}
                }).encode(),
])
def test_nonsense_with_the_right_secret_is_400_and_stores_nothing(
    telegram_inbox, post_update, stored, body
):
    response = post_update(telegram_inbox, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"
    assert stored() == (0, 0, 0)


def test_unknown_inbox_key_is_404(client, telegram_inbox):
    response = client.post("/hooks/telegram/nope/", data=text_update("hi"),
                           content_type="application/json",
                           HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN=WEBHOOK_SECRET)
    assert response.status_code == 404
