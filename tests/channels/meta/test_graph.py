"""The Graph client's failure classes and Meta's timestamp formats."""

import socket
from datetime import UTC, datetime

import httpx
import pytest

from inbox.channels.meta.base import meta_time
from inbox.channels.meta.graph import GraphClient
from inbox.delivery import PermanentDeliveryError, TransientDeliveryError
from tests.channels.fake_provider import Reply

from .conftest import ACCESS_TOKEN

pytestmark = pytest.mark.django_db


def test_timeout_is_transient(whatsapp_inbox, fake_provider, monkeypatch):
    monkeypatch.setattr("inbox.channels.provider_http.TIMEOUT", httpx.Timeout(0.2))
    fake_provider.script("GET", "/v21.0/slow", Reply(200, {}, delay=1.0))
    with pytest.raises(TransientDeliveryError, match=r"Meta did not answer \(ReadTimeout\)"):
        GraphClient(whatsapp_inbox, token_secret="access_token").get("slow")


def test_unreachable_server_is_transient(whatsapp_inbox):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    whatsapp_inbox.config["api_base"] = f"http://127.0.0.1:{port}"
    with pytest.raises(TransientDeliveryError, match="ConnectError"):
        GraphClient(whatsapp_inbox, token_secret="access_token").get("x")


def test_error_messages_never_carry_the_token(whatsapp_inbox, fake_provider):
    fake_provider.script("GET", "/v21.0/me", Reply(401, {"error": {
        "message": "Error validating access token: Session has expired", "code": 190}}))
    with pytest.raises(PermanentDeliveryError) as refused:
        GraphClient(whatsapp_inbox, token_secret="access_token").get("me")
    assert str(refused.value) == (
        "Error validating access token: Session has expired (code 190, HTTP 401)")
    assert ACCESS_TOKEN not in str(refused.value)


@pytest.mark.parametrize("value,expected", [
    ("1697043223", datetime(2023, 10, 11, 16, 53, 43, tzinfo=UTC)),  # WhatsApp: seconds
    (1458692752478, datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC)),  # Messenger: ms
    ("2021-09-08T06:34:04+0000", datetime(2021, 9, 8, 6, 34, 4, tzinfo=UTC)),  # fixtures: ISO
    ("2021-09-08T06:34:04", datetime(2021, 9, 8, 6, 34, 4, tzinfo=UTC)),
    ("yesterday", None), ("2021-13-45T00:00:00", None), (None, None), (True, None),
    (10**20, None),
])
def test_meta_time(value, expected):
    assert meta_time(value) == expected
