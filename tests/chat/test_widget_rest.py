"""The widget's REST side: session endpoint and the fallback API with a bearer token."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from inbox.models import Inbox, Message
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox():
    return InboxFactory(kind=Inbox.Kind.WIDGET, config={
        "reply_time_minutes": 5, "prechat_email": True, "max_attachment_mb": 1,
        "business_hours": {"timezone": "Asia/Jakarta", "days": {}},
    })


def session(client, inbox, **extra):
    response = client.post("/api/widget/v1/session", {"inbox": inbox.key, **extra},
                           content_type="application/json")
    assert response.status_code == 201, response.json()
    return response.json()


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_session_then_send_list_fetch(client, inbox):
    data = session(client, inbox)
    assert set(data) == {"token", "visitor_id", "expires_at"} and len(data["token"]) >= 40
    client_id = str(uuid.uuid4())
    sent = client.post("/api/widget/v1/messages", {"client_id": client_id, "body": "Hi!"},
                       content_type="application/json", **bearer(data["token"]))
    assert sent.status_code == 201 and sent.json()["seq"] == 1
    again = client.post("/api/widget/v1/messages", {"client_id": client_id, "body": "Hi!"},
                        content_type="application/json", **bearer(data["token"]))
    assert again.status_code == 200 and again.json()["id"] == sent.json()["id"]
    tickets = client.get("/api/widget/v1/tickets", **bearer(data["token"])).json()["results"]
    assert [(t["id"], t["last_seq"], t["unread"]) for t in tickets] == [
        (sent.json()["ticket_id"], 1, 0)]
    messages = client.get(f"/api/widget/v1/tickets/{tickets[0]['id']}/messages?after_seq=0",
                          **bearer(data["token"])).json()
    assert [m["body"] for m in messages["results"]] == ["Hi!"] and messages["last_seq"] == 1
    assert Message.objects.count() == 1


def test_previous_token_continues_the_same_visitor(client, inbox):
    first = session(client, inbox)
    second = session(client, inbox, token=first["token"])
    assert second["visitor_id"] == first["visitor_id"] and second["token"] != first["token"]
    stranger = session(client, inbox, token="not-a-token")
    assert stranger["visitor_id"] != first["visitor_id"]


def test_upload_then_attach(client, inbox):
    token = session(client, inbox)["token"]
    upload = client.post("/api/widget/v1/uploads",
                         {"file": SimpleUploadedFile("receipt.png", b"\x89PNG....",
                                                     content_type="image/png")},
                         **bearer(token))
    assert upload.status_code == 201
    sent = client.post("/api/widget/v1/messages", {
        "client_id": str(uuid.uuid4()), "body": "", "attachments": [upload.json()["id"]],
    }, content_type="application/json", **bearer(token)).json()
    attachment = sent["attachments"][0]
    assert (attachment["name"], attachment["content_type"], attachment["size"]) == (
        "receipt.png", "image/png", 8)
    assert attachment["url"] == f"/api/widget/v1/attachments/{attachment['id']}"
    served = client.get(attachment["url"], **bearer(token))
    assert served.status_code == 200 and b"".join(served.streaming_content) == b"\x89PNG...."
    assert served["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("name,size,code", [("big.pdf", 2 * 1024 * 1024, "too_large"),
                                            ("run.exe", 10, "blocked_type")])
def test_upload_limits(client, inbox, name, size, code):
    token = session(client, inbox)["token"]
    response = client.post("/api/widget/v1/uploads",
                           {"file": SimpleUploadedFile(name, b"x" * size)}, **bearer(token))
    assert response.status_code == 400 and response.json()["error"]["code"] == code


def test_an_unreadable_attachment_limit_counts_as_the_default(client, inbox):
    """`max_attachment_mb` typed as words in the admin: uploads keep working (10 MB, the
    widget's default) and the widget is told the limit it enforces."""
    inbox.config["max_attachment_mb"] = "ten"
    inbox.save()
    token = session(client, inbox)["token"]
    small = client.post("/api/widget/v1/uploads",
                        {"file": SimpleUploadedFile("a.pdf", b"x" * 2 * 1024 * 1024)},
                        **bearer(token))
    large = client.post("/api/widget/v1/uploads",
                        {"file": SimpleUploadedFile("b.pdf", b"x" * 11 * 1024 * 1024)},
                        **bearer(token))
    assert small.status_code == 201
    assert large.status_code == 400 and large.json()["error"]["code"] == "too_large"
    config = client.get(f"/api/widget/v1/config?inbox={inbox.key}").json()
    assert config["max_attachment_mb"] == 10.0


@pytest.mark.parametrize("kind,config,megabytes", [
    (Inbox.Kind.WIDGET, {}, 10.0), (Inbox.Kind.EMAIL, {}, 10.0),
    (Inbox.Kind.TELEGRAM, {}, 20.0), (Inbox.Kind.TWILIO, {}, 20.0),
    (Inbox.Kind.WHATSAPP, {"max_attachment_mb": "5"}, 5.0),
    (Inbox.Kind.MESSENGER, {"max_attachment_mb": None}, 20.0),
])
def test_attachment_limit_per_kind_and_setting(kind, config, megabytes):
    inbox = Inbox(kind=kind, config=config)
    assert (inbox.attachment_limit_mb, inbox.attachment_limit_bytes) == (
        megabytes, int(megabytes * 1024 * 1024))


@pytest.mark.parametrize("payload,status", [
    ({"inbox": "nope"}, 404),
    ({}, 400),
    ({"inbox": "KEY", "user": {"email": "x@y.z"}}, 400),
])
def test_session_bad_input(client, inbox, payload, status):
    if payload.get("inbox") == "KEY":
        payload["inbox"] = inbox.key
    response = client.post("/api/widget/v1/session", payload, content_type="application/json")
    assert response.status_code == status and "error" in response.json()


def test_requests_without_token_are_401(client, inbox):
    for method, url in [("get", "/api/widget/v1/tickets"), ("post", "/api/widget/v1/messages")]:
        response = getattr(client, method)(url)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
    assert client.get("/api/widget/v1/tickets", HTTP_AUTHORIZATION="Bearer junk").status_code \
        == 401


def test_config_is_public_and_cors_enabled(client, inbox):
    response = client.get(f"/api/widget/v1/config?inbox={inbox.key}",
                          HTTP_ORIGIN="https://shop.example")
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    data = response.json()
    assert (data["reply_time_minutes"], data["prechat_email"], data["open_now"]) == (
        5, True, None)
    assert "identity_secret" not in response.content.decode()
    preflight = client.options("/api/widget/v1/session", HTTP_ORIGIN="https://shop.example",
                               HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert preflight["Access-Control-Allow-Origin"] == "*"


def test_business_hours():
    from datetime import datetime, timezone

    from chat.views import business_hours_open

    hours = {"timezone": "Asia/Jakarta", "days": {"mon": ["09:00", "17:00"]}}
    monday_10_jakarta = datetime(2026, 11, 23, 3, 0, tzinfo=timezone.utc)
    assert business_hours_open(hours, monday_10_jakarta) is True
    assert business_hours_open(hours, monday_10_jakarta.replace(hour=11)) is False
    assert business_hours_open(hours, datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)) is False
    assert business_hours_open({}, monday_10_jakarta) is None
