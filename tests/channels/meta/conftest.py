"""Meta inboxes with test credentials (their Graph API is the shared `fake_provider`),
signed webhook posts, and webhook bodies as Meta sends them."""

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from inbox.models import Inbox
from tests.channels.fake_provider import FakeProvider
from tests.factories import InboxFactory

APP_SECRET = "meta-app-secret-for-tests"
VERIFY_TOKEN = "verify-token-for-tests"
ACCESS_TOKEN = "EAAG-whatsapp-token"
PAGE_TOKEN = "EAAG-page-token"
PHONE_NUMBER_ID = "1122334455667"  # the business number of the pywa fixtures


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def fixture_bytes(fixtures_dir: Path, kind: str, name: str) -> bytes:
    return (fixtures_dir / "webhooks" / kind / name).read_bytes()


def messenger_envelope(event_bytes: bytes, page_id: str = "<PAGE_ID>") -> bytes:
    """The docs' inner `messaging[]` event inside the envelope Meta posts it in."""
    event = json.loads(event_bytes)
    return json.dumps({"object": "page", "entry": [
        {"id": page_id, "time": event.get("timestamp"), "messaging": [event]}]}).encode()


def _meta_inbox(kind: str, slug: str, provider: FakeProvider, config: dict,
                token: dict) -> Inbox:
    inbox = InboxFactory.build(kind=kind, slug=slug, name=slug.title(),
                               config={"api_base": provider.url, **config})
    inbox.secrets_update({"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, **token})
    inbox.save()
    return inbox


@pytest.fixture
def whatsapp_inbox(db, fake_provider) -> Inbox:
    return _meta_inbox(Inbox.Kind.WHATSAPP, "whatsapp", fake_provider,
                       {"phone_number_id": PHONE_NUMBER_ID}, {"access_token": ACCESS_TOKEN})


@pytest.fixture
def messenger_inbox(db, fake_provider) -> Inbox:
    return _meta_inbox(Inbox.Kind.MESSENGER, "messenger", fake_provider, {},
                       {"page_access_token": PAGE_TOKEN})


@pytest.fixture
def instagram_inbox(db, fake_provider) -> Inbox:
    return _meta_inbox(Inbox.Kind.INSTAGRAM, "instagram", fake_provider, {},
                       {"page_access_token": PAGE_TOKEN})


@pytest.fixture
def post_hook(client):
    """POST a body to an inbox's webhook URL, signed with the app secret unless
    `signature` says otherwise (None: no header)."""

    def post(inbox: Inbox, body: bytes, signature: str | None = "valid"):
        headers = {}
        if signature is not None:
            headers["HTTP_X_HUB_SIGNATURE_256"] = sign(body) if signature == "valid" else signature
        return client.post(f"/hooks/{inbox.kind}/{inbox.key}/", data=body,
                           content_type="application/json", **headers)

    return post


def whatsapp_body(*, messages=(), statuses=(), name: str = "Budi Santoso",
                  wa_id: str = "6281234567890", number: str = PHONE_NUMBER_ID) -> bytes:
    """A webhook body as WhatsApp posts it, non-ASCII text left unescaped (UTF-8)."""
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550001111", "phone_number_id": number}}
    if messages:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id}]
        value["messages"] = list(messages)
    if statuses:
        value["statuses"] = list(statuses)
    return json.dumps({"object": "whatsapp_business_account", "entry": [
        {"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}]},
        ensure_ascii=False).encode()


def whatsapp_text(text: str, *, message_id: str, timestamp: int,
                  wa_id: str = "6281234567890") -> dict:
    return {"from": wa_id, "id": message_id, "timestamp": str(timestamp), "type": "text",
            "text": {"body": text}}


def whatsapp_status(message_id: str, status: str, timestamp: int, **extra) -> dict:
    return {"id": message_id, "status": status, "timestamp": str(timestamp),
            "recipient_id": "6281234567890", **extra}


def messaging_body(kind: str, *events: dict, account_id: str = "1234") -> bytes:
    """A Messenger (`page`) or Instagram webhook body carrying `events` in messaging[]."""
    return json.dumps({"object": "page" if kind == "messenger" else "instagram", "entry": [
        {"id": account_id, "time": 1767600000000, "messaging": list(events)}]},
        ensure_ascii=False).encode()


def messaging_text(text: str, *, mid: str, sender: str = "7001", timestamp: int) -> dict:
    return {"sender": {"id": sender}, "recipient": {"id": "1234"}, "timestamp": timestamp,
            "message": {"mid": mid, "text": text}}


@pytest.fixture
def post_ok(post_hook, media_queued, django_capture_on_commit_callbacks):
    """POST a validly signed body, run what it queues on commit, and expect a 200."""

    def post(inbox: Inbox, body: bytes):
        with django_capture_on_commit_callbacks(execute=True):
            response = post_hook(inbox, body)
        assert response.status_code == 200, response.content
        return response

    return post
