"""A Twilio inbox that talks to the fake Messages API, and webhook posts signed the way
Twilio signs them."""

import base64
import hashlib
import hmac
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from inbox.models import Inbox
from tests.factories import InboxFactory

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "twilio-auth-token-for-tests"
INBOX_NUMBER = "+15005550006"  # the number the docs fixtures' customers write to
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def fixture_bytes(fixtures_dir: Path, name: str) -> bytes:
    return (fixtures_dir / "webhooks" / "twilio" / name).read_bytes()


def twilio_signature(url: str, body: bytes, token: str = AUTH_TOKEN) -> str:
    """Twilio's documented recipe, written out independently of the code under test: the
    URL, then each posted name and value sorted by name; HMAC-SHA1; base64."""
    params = sorted(parse_qsl(body.decode(), keep_blank_values=True))
    signed = url + "".join(name + value for name, value in params)
    return base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
                            ).decode()


@pytest.fixture
def twilio_inbox(db, fake_provider) -> Inbox:
    inbox = InboxFactory.build(kind=Inbox.Kind.TWILIO, slug="sms", name="SMS", config={
        "api_base": fake_provider.url, "account_sid": ACCOUNT_SID, "from_number": INBOX_NUMBER})
    inbox.secrets_update({"auth_token": AUTH_TOKEN})
    inbox.save()
    return inbox


@pytest.fixture
def post_form(client, media_queued, django_capture_on_commit_callbacks):
    """POST a form body to an inbox's webhook, signed for `signed_url` (default: the URL the
    test client requests) unless `signature` is given (None: no header)."""

    def post(inbox: Inbox, body: bytes, *, signature: str | None = "valid",
             signed_url: str | None = None, **headers):
        path = f"/hooks/twilio/{inbox.key}/"
        if signature == "valid":
            signature = twilio_signature(signed_url or f"http://testserver{path}", body)
        if signature is not None:
            headers["HTTP_X_TWILIO_SIGNATURE"] = signature
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(path, data=body,
                               content_type="application/x-www-form-urlencoded", **headers)

    return post
