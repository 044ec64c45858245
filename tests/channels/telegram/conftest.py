"""A Telegram inbox that talks to the fake Bot API, and webhook posts with its secret."""

import json
from pathlib import Path

import pytest

from inbox.models import Inbox
from tests.factories import InboxFactory

BOT_TOKEN = "123456:TEST-bot-token"
WEBHOOK_SECRET = "tg-webhook-secret_for-tests"


def bot_path(method: str) -> str:
    return f"/bot{BOT_TOKEN}/{method}"


def text_update(text: str, *, message_id: int = 7, user_id: int = 9001, update_id: int = 1,
                **extra) -> bytes:
    """A private-chat text message from Budi (user and chat `user_id`)."""
    return json.dumps({"update_id": update_id, "message": {
        "message_id": message_id, "date": 1767225600, "text": text,
        "from": {"id": user_id, "is_bot": False, "first_name": "Budi", "last_name": "Santoso"},
        "chat": {"id": user_id, "type": "private", "first_name": "Budi"}, **extra,
    }}, ensure_ascii=False).encode()


def fixture_bytes(fixtures_dir: Path, name: str) -> bytes:
    return (fixtures_dir / "webhooks" / "telegram" / name).read_bytes()


@pytest.fixture
def telegram_inbox(db, fake_provider) -> Inbox:
    inbox = InboxFactory.build(kind=Inbox.Kind.TELEGRAM, slug="telegram", name="Telegram bot",
                               config={"api_base": fake_provider.url})
    inbox.secrets_update({"bot_token": BOT_TOKEN, "webhook_secret": WEBHOOK_SECRET})
    inbox.save()
    return inbox


@pytest.fixture
def post_update(client, media_queued, django_capture_on_commit_callbacks):
    """POST an update to an inbox's webhook with the secret token header (None: without
    it), running what the request queued for after commit."""

    def post(inbox: Inbox, body: bytes, token: str | None = WEBHOOK_SECRET):
        headers = {} if token is None else {"HTTP_X_TELEGRAM_BOT_API_SECRET_TOKEN": token}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/hooks/telegram/{inbox.key}/", data=body,
                               content_type="application/json", **headers)

    return post
