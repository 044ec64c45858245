"""What a visitor's token must never do (SPEC §4, §8), over the real protocol: the REST API
through Django's test client and /ws/widget/ through the ASGI application.

Visitor A and visitor B chat on the same widget inbox; A knows B's ids (ticket, message,
attachment, upload, client_id), as an attacker who guesses or sniffs them would. Each
refusal is checked for its side effect too: nothing stored, nothing delivered.

The channel layer is in-memory here, even when REDIS_URL is set: these tests assert that
nothing arrives, which live events of another test run sharing the Redis (same group names)
could break. The Redis layer itself is covered by test_widget_e2e.py.
"""

import asyncio
import hashlib
import hmac
import uuid
from dataclasses import dataclass

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from chat import services
from chat.models import ReadMarker, WidgetSession, WidgetUpload
from config.asgi import application
from inbox.models import Contact, ContactIdentity, ContactMerge, Inbox, Message, Ticket
from inbox.realtime import contact_group, ticket_group
from inbox.services import AttachmentData, message_reply
from tests.factories import AgentFactory, InboxFactory

pytestmark = pytest.mark.django_db(transaction=True)
SHOP = "https://shop.example"


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@dataclass
class Visitor:
    token: str
    session: WidgetSession
    ticket_id: int | None = None
    message: Message | None = None
    attachment_id: int | None = None


def widget_inbox(**config) -> Inbox:
    return InboxFactory(kind=Inbox.Kind.WIDGET, config=config)


def visitor(inbox: Inbox, body: str | None = None, *, with_file: bool = False,
            user: services.VisitorClaim | None = None, origin: str | None = None) -> Visitor:
    session, token = services.widget_session_start(inbox_key=inbox.key, user=user,
                                                   origin=origin)
    result = Visitor(token=token, session=session)
    if body is not None:
        uploads = [services.visitor_upload(
            session=session, name="invoice.pdf", content_type="application/pdf",
            content=f"private to {body}".encode())] if with_file else []
        result.message, _ = services.visitor_message_send(
            session=session, client_id=uuid.uuid4(), body=body,
            attachment_ids=[u.pk for u in uploads])
        result.ticket_id = result.message.ticket_id
        result.attachment_id = next(iter(result.message.attachments.values_list("id", flat=True)),
                                    None)
    return result


def bearer(token: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def post_json(client, url: str, data: dict, **extra):
    return client.post(url, data, content_type="application/json", **extra)


@database_sync_to_async
def rest_post(url: str, data: dict, token: str):
    """POST JSON with a bearer token, from async tests."""
    return post_json(Client(), url, data, **bearer(token))


def identity_hash(inbox: Inbox, user_id: str) -> str:
    return hmac.new(inbox.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


async def socket(token: str | None = None, origin: str | None = SHOP) -> WebsocketCommunicator:
    """A connected /ws/widget/ socket; with a token, after hello (the welcome is not read)."""
    headers = [(b"origin", origin.encode())] if origin else []
    ws = WebsocketCommunicator(application, "/ws/widget/", headers=headers)
    connected, _ = await ws.connect()
    assert connected
    if token is not None:
        await ws.send_json_to({"type": "hello", "token": token})
    return ws


async def close_code(ws: WebsocketCommunicator) -> int:
    """How the server closed the socket, skipping any frames it sent first."""
    while True:
        output = await ws.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output["code"]


async def welcomed(token: str, origin: str | None = SHOP):
    ws = await socket(token, origin)
    welcome = await ws.receive_json_from()
    assert welcome["type"] == "welcome", welcome
    return ws, welcome


# --- another visitor's conversation ---------------------------------------------------------

def test_rest_a_cannot_read_or_write_bs_ticket(client):
    inbox = widget_inbox()
    a, b = visitor(inbox, "I am A"), visitor(inbox, "B's order 5531")
    tickets = client.get("/api/widget/v1/tickets", **bearer(a.token)).json()["results"]
    assert [t["id"] for t in tickets] == [a.ticket_id]
    read = client.get(f"/api/widget/v1/tickets/{b.ticket_id}/messages", **bearer(a.token))
    assert (read.status_code, read.json()["error"]["code"]) == (404, "not_found")
    assert "5531" not in read.content.decode()
    sent = post_json(client, "/api/widget/v1/messages", {
        "client_id": str(uuid.uuid4()), "ticket_id": b.ticket_id, "body": "injected"},
        **bearer(a.token))
    assert (sent.status_code, sent.json()["error"]["code"]) == (404, "not_found")
    assert list(Message.objects.filter(ticket_id=b.ticket_id).values_list("body_text",
                                                                          flat=True)) == [
        "B's order 5531"]
    assert not Message.objects.filter(body_text="injected").exists()
    # The same requests with B's own token succeed: the ids above are the right ones.
    assert client.get(f"/api/widget/v1/tickets/{b.ticket_id}/messages",
                      **bearer(b.token)).status_code == 200


async def test_ws_a_cannot_sync_send_type_or_read_into_bs_ticket():
    inbox = await database_sync_to_async(widget_inbox)()
    a = await database_sync_to_async(visitor)(inbox, "I am A")
    b = await database_sync_to_async(visitor)(inbox, "B's order 5531")
    layer = get_channel_layer()
    watcher = await layer.new_channel()  # what an agent viewing B's ticket, or B, would get
    for group in (ticket_group(b.ticket_id), contact_group(b.session.contact_id)):
        await layer.group_add(group, watcher)
    ws, _ = await welcomed(a.token)
    client_id = str(uuid.uuid4())
    frames = [
        {"type": "sync", "ticket_id": b.ticket_id, "after_seq": 0},
        {"type": "message.send", "client_id": client_id, "ticket_id": b.ticket_id,
         "body": "injected", "attachments": []},
        {"type": "typing", "ticket_id": b.ticket_id, "state": "start"},
        {"type": "read", "ticket_id": b.ticket_id, "seq": 1},
    ]
    answers = []
    for frame in frames:
        await ws.send_json_to(frame)
        answers.append(await ws.receive_json_from())
    not_found = {"type": "error", "code": "not_found", "message": "No such conversation."}
    assert answers == [not_found, {**not_found, "client_id": client_id}, not_found, not_found]
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(watcher), 0.3)
    stored = await database_sync_to_async(
        lambda: list(Message.objects.filter(ticket_id=b.ticket_id).values_list("body_text",
                                                                                flat=True)))()
    assert stored == ["B's order 5531"]
    assert not await database_sync_to_async(
        ReadMarker.objects.filter(ticket_id=b.ticket_id).exists)()
    await ws.disconnect()


def test_a_cannot_download_bs_attachment(client):
    inbox = widget_inbox()
    a, b = visitor(inbox, "I am A"), visitor(inbox, "B's passport", with_file=True)
    url = f"/api/widget/v1/attachments/{b.attachment_id}"
    refused = client.get(url, **bearer(a.token))
    assert (refused.status_code, refused.json()["error"]["code"]) == (404, "not_found")
    served = client.get(url, **bearer(b.token))
    assert b"".join(served.streaming_content) == b"private to B's passport"


async def test_a_cannot_attach_bs_upload():
    inbox = await database_sync_to_async(widget_inbox)()
    a = await database_sync_to_async(visitor)(inbox, "I am A")
    b = await database_sync_to_async(visitor)(inbox)
    upload = await database_sync_to_async(services.visitor_upload)(
        session=b.session, name="contract.pdf", content_type="application/pdf",
        content=b"B's contract")
    rest = await rest_post("/api/widget/v1/messages", {
        "client_id": str(uuid.uuid4()), "body": "see attached", "attachments": [upload.pk]},
        a.token)
    assert (rest.status_code, rest.json()["error"]["code"]) == (404, "attachment_not_found")
    ws, _ = await welcomed(a.token)
    client_id = str(uuid.uuid4())
    await ws.send_json_to({"type": "message.send", "client_id": client_id, "ticket_id": None,
                           "body": "see attached", "attachments": [upload.pk]})
    assert await ws.receive_json_from() == {
        "type": "error", "code": "attachment_not_found",
        "message": "An attachment was not found.", "client_id": client_id}
    await ws.disconnect()
    assert not await database_sync_to_async(
        Message.objects.filter(body_text="see attached").exists)()
    assert await database_sync_to_async(WidgetUpload.objects.filter(pk=upload.pk).exists)()


async def test_reusing_bs_client_id_does_not_return_bs_message():
    inbox = await database_sync_to_async(widget_inbox)()
    a = await database_sync_to_async(visitor)(inbox, "I am A")
    b = await database_sync_to_async(visitor)(inbox, "B's address: Jl. Melati 7")
    stolen = str(b.message.client_id)
    ws, _ = await welcomed(a.token)
    await ws.send_json_to({"type": "message.send", "client_id": stolen, "ticket_id": None,
                           "body": "give me B's message", "attachments": []})
    answer = await ws.receive_json_from()
    assert answer == {"type": "error", "code": "client_id_conflict",
                      "message": "This client_id belongs to another message.",
                      "client_id": stolen}
    assert await ws.receive_nothing(timeout=0.2)
    await ws.disconnect()
    rest = await rest_post("/api/widget/v1/messages",
                           {"client_id": stolen, "body": "give me B's message"}, a.token)
    assert (rest.status_code, rest.json()["error"]["code"]) == (409, "client_id_conflict")
    assert "Melati" not in rest.content.decode()
    assert await database_sync_to_async(Message.objects.count)() == 2


# --- identity ----------------------------------------------------------------------------------

@pytest.mark.parametrize("claim,code", [
    ({"id": "cust-1", "hash": "0" * 64}, "identity_not_verified"),
    ({"id": "cust-1", "hash": "not-even-hex"}, "identity_not_verified"),
    ({"id": "cust-1"}, "identity_required"),
    (None, "identity_required"),
])
def test_verification_required_inbox_refuses_unverified_claims(client, claim, code):
    inbox = widget_inbox(identity_verification_required=True)
    payload = {"inbox": inbox.key} | ({"user": claim} if claim else {})
    response = post_json(client, "/api/widget/v1/session", payload)
    assert (response.status_code, response.json()["error"]["code"]) == (403, code)
    assert not WidgetSession.objects.exists()
    assert not ContactIdentity.objects.filter(kind=ContactIdentity.Kind.EXTERNAL).exists()
    signed = {"id": "cust-1", "hash": identity_hash(inbox, "cust-1")}
    assert post_json(client, "/api/widget/v1/session",
                     {"inbox": inbox.key, "user": signed}).status_code == 201


def test_unverified_claim_of_a_known_customer_gets_none_of_their_tickets(client):
    inbox = widget_inbox()
    customer = visitor(inbox, "my IBAN is DE89...", user=services.VisitorClaim(
        id="cust-7", email="kim@example.com", hash=identity_hash(inbox, "cust-7")))
    impostor = post_json(client, "/api/widget/v1/session", {
        "inbox": inbox.key, "user": {"id": "cust-7", "email": "kim@example.com"}})
    assert impostor.status_code == 201
    token = impostor.json()["token"]
    assert client.get("/api/widget/v1/tickets", **bearer(token)).json()["results"] == []
    assert client.get(f"/api/widget/v1/tickets/{customer.ticket_id}/messages",
                      **bearer(token)).status_code == 404
    owners = dict(ContactIdentity.objects.filter(value__in=["cust-7", "kim@example.com"])
                  .values_list("value", "contact_id"))
    assert owners == {"cust-7": customer.session.contact_id,
                      "kim@example.com": customer.session.contact_id}


def test_unverified_claim_made_first_does_not_capture_the_customer_who_verifies_later(client):
    """An impostor claims an external id nobody has used yet, without a hash. When the real
    customer later proves that id, their chat must not flow into the impostor's contact."""
    inbox = widget_inbox()
    impostor = post_json(client, "/api/widget/v1/session", {
        "inbox": inbox.key, "user": {"id": "cust-9"}}).json()["token"]
    customer = visitor(inbox, "my password reset code is 551-204")
    verified = post_json(client, "/api/widget/v1/session", {
        "inbox": inbox.key, "token": customer.token,
        "user": {"id": "cust-9", "hash": identity_hash(inbox, "cust-9")}})
    assert verified.status_code == 201
    assert client.get("/api/widget/v1/tickets", **bearer(impostor)).json()["results"] == []
    assert client.get(f"/api/widget/v1/tickets/{customer.ticket_id}/messages",
                      **bearer(impostor)).status_code == 404
    mine = client.get("/api/widget/v1/tickets", **bearer(verified.json()["token"]))
    assert [t["id"] for t in mine.json()["results"]] == [customer.ticket_id]


async def test_verified_identify_merges_anonymous_history_into_the_known_contact():
    inbox = await database_sync_to_async(widget_inbox)()
    claim = services.VisitorClaim(id="cust-5", name="Dewi", hash=identity_hash(inbox, "cust-5"))

    @database_sync_to_async
    def history():
        known = visitor(inbox, "last week: where is order 88?", user=claim)
        Ticket.objects.filter(pk=known.ticket_id).update(status=Ticket.Status.RESOLVED,
                                                         resolved_at=timezone.now())
        anonymous = visitor(inbox, "today, before logging in: order 91")
        session, token = services.widget_session_start(inbox_key=inbox.key,
                                                       token=anonymous.token, user=claim)
        return known, anonymous, session, token

    known, anonymous, session, token = await history()
    assert session.contact_id == known.session.contact_id
    ws, welcome = await welcomed(token)
    assert sorted(t["id"] for t in welcome["tickets"]) == sorted(
        [known.ticket_id, anonymous.ticket_id])
    await ws.send_json_to({"type": "message.send", "client_id": str(uuid.uuid4()),
                           "ticket_id": anonymous.ticket_id, "body": "now logged in",
                           "attachments": []})
    seen = {}
    for ticket_id in (known.ticket_id, anonymous.ticket_id):
        await ws.send_json_to({"type": "sync", "ticket_id": ticket_id, "after_seq": 0})
    while len(seen) < 2:
        frame = await ws.receive_json_from()
        if frame["type"] == "sync.result":
            seen[frame["ticket_id"]] = [m["body"] for m in frame["messages"]]
    assert seen == {known.ticket_id: ["last week: where is order 88?"],
                    anonymous.ticket_id: ["today, before logging in: order 91", "now logged in"]}
    await ws.disconnect()
    merged = await database_sync_to_async(Contact.objects.get)(pk=anonymous.session.contact_id)
    assert merged.merged_into_id == known.session.contact_id
    assert await database_sync_to_async(
        ContactMerge.objects.filter(source_contact_id=merged.pk).exists)()


# --- origin ------------------------------------------------------------------------------------

@pytest.mark.parametrize("origin", ["https://evil.example", None])
def test_session_from_a_foreign_origin_is_403(client, origin):
    inbox = widget_inbox(allowed_origins=[SHOP])
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    response = post_json(client, "/api/widget/v1/session", {"inbox": inbox.key}, **headers)
    assert (response.status_code, response.json()["error"]["code"]) == (
        403, "origin_not_allowed")
    assert not WidgetSession.objects.exists()
    assert post_json(client, "/api/widget/v1/session", {"inbox": inbox.key},
                     HTTP_ORIGIN=SHOP).status_code == 201


@pytest.mark.parametrize("origin", ["https://evil.example", None])
async def test_hello_from_a_foreign_origin_closes_4403(origin):
    inbox = await database_sync_to_async(widget_inbox)(allowed_origins=[SHOP])
    a = await database_sync_to_async(visitor)(inbox, "hi", origin=SHOP)
    ws = await socket(a.token, origin=origin)
    assert await close_code(ws) == 4403
    ws, _ = await welcomed(a.token, origin=SHOP)
    await ws.disconnect()


# --- frames ------------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    "not json",
    "[1, 2]",
    '{"ticket_id": 1}',
    '{"type": 7}',
    '{"type": "message.delete", "id": 1}',
    '{"type": "message.send", "client_id": "1234", "body": "x"}',
    '{"type": "sync", "ticket_id": "1 OR 1=1", "after_seq": 0}',
])
async def test_bad_frame_after_hello_closes_4400(raw):
    inbox = await database_sync_to_async(widget_inbox)()
    a = await database_sync_to_async(visitor)(inbox)
    ws, _ = await welcomed(a.token)
    await ws.send_to(text_data=raw)
    assert await close_code(ws) == 4400
    assert not await database_sync_to_async(Message.objects.exists)()


@pytest.mark.parametrize("frame", [
    {"type": "message.send", "client_id": "c7a1a1f2-8d0e-4a43-9a55-0f7b0f1f9e01",
     "ticket_id": None, "body": "before hello", "attachments": []},
    {"type": "sync", "ticket_id": 1, "after_seq": 0},
    {"type": "typing", "ticket_id": 1, "state": "start"},
    {"type": "hello", "token": "made-up"},
    {"type": "hello"},
])
async def test_frames_before_a_valid_hello_close_4401(frame):
    ws = await socket()
    await ws.send_json_to(frame)
    assert await close_code(ws) == 4401
    assert not await database_sync_to_async(Message.objects.exists)()


async def test_flooding_past_the_rate_limit_closes_4429():
    inbox = await database_sync_to_async(widget_inbox)()
    a = await database_sync_to_async(visitor)(inbox, "hi")
    ws, _ = await welcomed(a.token)
    typing = {"type": "typing", "ticket_id": a.ticket_id, "state": "start"}
    for _ in range(django_settings.WIDGET_FRAME_BURST + 30):
        await ws.send_json_to(typing)
    frames = []
    while (output := await ws.receive_output(timeout=5))["type"] != "websocket.close":
        frames.append(output["text"])
    assert output["code"] == 4429
    assert frames[-1] == '{"type": "error", "code": "rate_limited", "message": "Too many frames."}'


async def test_expired_token_is_refused_on_ws_and_rest():
    inbox = await database_sync_to_async(widget_inbox)()
    a = await database_sync_to_async(visitor)(inbox, "hi")
    await database_sync_to_async(WidgetSession.objects.filter(pk=a.session.pk).update)(
        expires_at=timezone.now() - timezone.timedelta(seconds=1))
    ws = await socket(a.token)
    assert await close_code(ws) == 4401

    tickets = await database_sync_to_async(Client().get)("/api/widget/v1/tickets",
                                                         **bearer(a.token))
    renewed = (await rest_post("/api/widget/v1/session", {"inbox": inbox.key,
                                                          "token": a.token}, "")).json()
    assert (tickets.status_code, tickets.json()["error"]["code"]) == (
        401, "authentication_failed")
    # An expired token does not continue the old visitor either.
    assert renewed["visitor_id"] != a.session.visitor_id


# --- the token stays out of URLs -----------------------------------------------------------

async def test_token_never_appears_in_urls_or_payloads_the_server_produces():
    inbox = await database_sync_to_async(widget_inbox)()

    @database_sync_to_async
    def conversation():
        a = visitor(inbox, "here is a photo", with_file=True)
        message_reply(ticket=Ticket.objects.get(pk=a.ticket_id), agent=AgentFactory(),
                      body="thanks, see the label",
                      attachments=[AttachmentData("label.png", b"\x89PNG", "image/png")])
        return a

    a = await conversation()
    ws, welcome = await welcomed(a.token)
    await ws.send_json_to({"type": "sync", "ticket_id": a.ticket_id, "after_seq": 0})
    synced = await ws.receive_json_from()
    await ws.send_json_to({"type": "message.send", "client_id": str(uuid.uuid4()),
                           "ticket_id": a.ticket_id, "body": "ok", "attachments": []})
    acked = await ws.receive_json_from()
    await ws.disconnect()

    @database_sync_to_async
    def rest():
        client = Client()
        upload = client.post("/api/widget/v1/uploads",
                             {"file": SimpleUploadedFile("scan.pdf", b"%PDF")},
                             **bearer(a.token))
        return [client.get(url, **bearer(a.token)) for url in (
            "/api/widget/v1/tickets", f"/api/widget/v1/tickets/{a.ticket_id}/messages")
        ] + [upload]

    responses = await rest()
    bodies = [r.content.decode() for r in responses] + [str(welcome), str(synced), str(acked)]
    assert all(r.status_code in (200, 201) for r in responses)
    assert not [body for body in bodies if a.token in body]
    urls = [att["url"] for m in synced["messages"] for att in m["attachments"]]
    assert urls == [f"/api/widget/v1/attachments/{m['attachments'][0]['id']}"
                    for m in synced["messages"]]
    assert all(r.get("Location") is None for r in responses)
