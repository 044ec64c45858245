"""What every Meta webhook shares: the GET subscription handshake, the X-Hub-Signature-256
check over the exact bytes (refusals store nothing), redelivery, bad bodies."""

import json

import pytest

from inbox.models import Message

from .conftest import (
    APP_SECRET,
    VERIFY_TOKEN,
    messaging_body,
    messaging_text,
    sign,
    whatsapp_body,
    whatsapp_text,
)

pytestmark = pytest.mark.django_db

KINDS = ["whatsapp", "messenger", "instagram"]
INDONESIAN_CHINESE = "Halo, pesanan saya belum sampai 🙏 我的订单还没有到，请帮忙查一下。"


@pytest.fixture
def inbox_of(request):
    def get(kind):
        return request.getfixturevalue(f"{kind}_inbox")

    return get


def text_body(kind: str, text: str, message_id: str = "m-1") -> bytes:
    if kind == "whatsapp":
        return whatsapp_body(messages=[whatsapp_text(text, message_id=message_id,
                                                     timestamp=1767600000)])
    return messaging_body(kind, messaging_text(text, mid=message_id, timestamp=1767600000000))


@pytest.mark.parametrize("kind", KINDS)
def test_signed_body_is_accepted(kind, inbox_of, post_hook):
    response = post_hook(inbox_of(kind), text_body(kind, "Where is my order?"))
    assert response.status_code == 200
    assert list(Message.objects.values_list("body_text", "channel")) == [
        ("Where is my order?", kind)]


@pytest.mark.parametrize("kind", KINDS)
def test_missing_signature_is_401_and_stores_nothing(kind, inbox_of, post_hook, stored):
    response = post_hook(inbox_of(kind), text_body(kind, "hello"), signature=None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_missing"
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_signature_is_403_and_stores_nothing(kind, inbox_of, post_hook, stored):
    body = text_body(kind, "hello")
    response = post_hook(inbox_of(kind), body, signature=sign(body, "another-app-secret"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "bad_signature"
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("kind", KINDS)
def test_reserialized_body_no_longer_matches(kind, inbox_of, client, stored):
    """The signature covers the bytes as sent: the same JSON spaced differently fails."""
    inbox = inbox_of(kind)
    body = text_body(kind, "hello")
    reserialized = json.dumps(json.loads(body), indent=1).encode()
    assert json.loads(reserialized) == json.loads(body) and reserialized != body
    response = client.post(f"/hooks/{kind}/{inbox.key}/", data=reserialized,
                           content_type="application/json", HTTP_X_HUB_SIGNATURE_256=sign(body))
    assert response.status_code == 403
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("kind", KINDS)
def test_non_ascii_body_signed_over_its_utf8_bytes(kind, inbox_of, post_hook):
    body = text_body(kind, INDONESIAN_CHINESE)
    assert INDONESIAN_CHINESE.encode() in body  # sent unescaped, as Meta does
    assert post_hook(inbox_of(kind), body).status_code == 200
    assert Message.objects.get().body_text == INDONESIAN_CHINESE


@pytest.mark.parametrize("kind", KINDS)
def test_non_ascii_body_with_wrong_signature_stores_nothing(kind, inbox_of, post_hook,
                                                             stored):
    inbox = inbox_of(kind)
    assert post_hook(inbox, text_body(kind, "first", message_id="m-0")).status_code == 200
    before = stored()
    body = text_body(kind, INDONESIAN_CHINESE, message_id="m-2")
    # Signed over the text encoded differently: what a proxy re-encoding the body causes.
    forged = sign(body.decode().encode("utf-16"))
    assert post_hook(inbox, body, signature=forged).status_code == 403
    assert stored() == before == (1, 1, 1)


@pytest.mark.parametrize("kind", KINDS)
def test_inbox_without_app_secret_refuses_everything(kind, inbox_of, post_hook, stored):
    inbox = inbox_of(kind)
    inbox.secrets_update({"app_secret": None})
    inbox.save()
    body = text_body(kind, "hello")
    response = post_hook(inbox, body, signature=sign(body, ""))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_configured"
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("kind", KINDS)
def test_redelivery_of_the_same_message_id_stores_one_message(kind, inbox_of, post_hook):
    inbox, body = inbox_of(kind), text_body(kind, "only once", message_id="m-dup")
    assert post_hook(inbox, body).status_code == 200
    assert post_hook(inbox, body).status_code == 200
    assert list(Message.objects.values_list("external_id", "body_text")) == [
        ("m-dup", "only once")]


@pytest.mark.parametrize("kind", KINDS)
def test_subscription_challenge_with_the_right_token(kind, inbox_of, client):
    inbox = inbox_of(kind)
    response = client.get(f"/hooks/{kind}/{inbox.key}/", {
        "hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"1158201444"


@pytest.mark.parametrize("params", [
    {"hub.mode": "subscribe", "hub.verify_token": "guessed", "hub.challenge": "42"},
    {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "42"},
    {"hub.challenge": "42"},
])
@pytest.mark.parametrize("kind", KINDS)
def test_subscription_challenge_refused(kind, params, inbox_of, client):
    inbox = inbox_of(kind)
    response = client.get(f"/hooks/{kind}/{inbox.key}/", params)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "verification_failed"
    assert b"42" not in response.content


def test_inbox_without_verify_token_never_subscribes(whatsapp_inbox, client):
    whatsapp_inbox.secrets_update({"verify_token": None})
    whatsapp_inbox.save()
    response = client.get(f"/hooks/whatsapp/{whatsapp_inbox.key}/", {
        "hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "42"})
    assert response.status_code == 403


def test_webhook_of_another_kind_is_refused(messenger_inbox, post_hook, stored):
    response = post_hook(messenger_inbox, text_body("instagram", "hello"))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[]", b'{"object": "page"}'])
def test_signed_nonsense_is_400(body, messenger_inbox, post_hook, stored):
    assert post_hook(messenger_inbox, body).status_code == 400
    assert stored() == (0, 0, 0)


def test_malformed_item_does_not_cost_the_valid_ones(whatsapp_inbox, post_hook):
    body = whatsapp_body(messages=[
        {"id": "wamid.no-sender", "type": "text", "text": {"body": "who am I?"}},
        whatsapp_text("I am fine", message_id="wamid.ok", timestamp=1767600000),
    ])
    assert post_hook(whatsapp_inbox, body).status_code == 200
    assert list(Message.objects.values_list("external_id", flat=True)) == ["wamid.ok"]


def test_changes_for_another_business_number_are_ignored(whatsapp_inbox, post_hook,
                                                         stored):
    body = whatsapp_body(messages=[whatsapp_text("hi", message_id="w-1", timestamp=1767600000)],
                         number="999999999")
    assert post_hook(whatsapp_inbox, body).status_code == 200
    assert stored() == (0, 0, 0)


def test_secret_is_the_app_secret_not_the_verify_token(whatsapp_inbox, post_hook):
    body = text_body("whatsapp", "hello")
    assert post_hook(whatsapp_inbox, body, signature=sign(body, VERIFY_TOKEN)).status_code == 403
    assert post_hook(whatsapp_inbox, body, signature=sign(body, APP_SECRET)).status_code == 200
