"""The /ws/widget/ protocol (SPEC §4) through WebsocketCommunicator and the real consumer."""

import hashlib
import hmac
import uuid
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat import services
from chat.consumers import AgentConsumer
from config.asgi import application
from inbox import realtime
from inbox.models import Inbox, Message
from inbox.services import message_reply, note_add
from tests.factories import AgentFactory, InboxFactory

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def widget_inbox(**config):
    return InboxFactory(kind=Inbox.Kind.WIDGET, config=config)


@database_sync_to_async
def start_session(inbox, **kwargs):
    return services.widget_session_start(inbox_key=inbox.key, **kwargs)


async def open_socket(token, origin=b"https://shop.example"):
    communicator = WebsocketCommunicator(application, "/ws/widget/",
                                         headers=[(b"origin", origin)])
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"type": "hello", "token": token})
    return communicator


async def send(communicator, body, ticket_id=None, client_id=None):
    client_id = client_id or str(uuid.uuid4())
    await communicator.send_json_to({"type": "message.send", "client_id": client_id,
                                     "ticket_id": ticket_id, "body": body, "attachments": []})
    return client_id


async def next_of(communicator, kind, timeout=5, where=lambda frame: True):
    """The next frame of `kind` matching `where`, skipping others (e.g. the live echo of
    our own message)."""
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame["type"] == kind and where(frame):
            return frame


def from_agent(frame):
    return frame["message"]["direction"] == "outbound"


async def visitor_in_conversation():
    """A visitor's bearer token and open socket (after the welcome), and the ticket their
    first message ("hello") opened."""
    inbox = await widget_inbox()
    _, token = await start_session(inbox)
    ws = await open_socket(token)
    await ws.receive_json_from()
    await send(ws, "hello")
    return token, ws, (await next_of(ws, "message.ack"))["message"]["ticket_id"]


async def test_hello_welcome_send_ack_and_live_echo():
    inbox = await widget_inbox()
    session, token = await start_session(inbox)
    ws = await open_socket(token)
    welcome = await ws.receive_json_from()
    assert welcome == {"type": "welcome", "visitor_id": session.visitor_id, "tickets": []}
    client_id = await send(ws, "Halo, pesanan saya belum sampai")
    ack = await next_of(ws, "message.ack")
    message = ack["message"]
    assert ack["client_id"] == client_id
    assert (message["seq"], message["direction"], message["channel"], message["body"]) == (
        1, "inbound", "widget", "Halo, pesanan saya belum sampai")
    assert set(message) >= {"id", "ticket_id", "seq", "direction", "channel", "author", "body",
                            "attachments", "created_at"}
    stored = await database_sync_to_async(Message.objects.get)(pk=message["id"])
    assert str(stored.client_id) == client_id
    await ws.disconnect()


async def test_the_echo_of_a_first_message_needs_no_visibility_lookup():
    """The conversation a visitor's message opened is theirs: its live echo is forwarded
    without asking the database whether they may see it."""
    inbox = await widget_inbox()
    _, token = await start_session(inbox)
    ws = await open_socket(token)
    await next_of(ws, "welcome")
    with mock.patch("chat.consumers._visible", side_effect=AssertionError("looked up")):
        client_id = await send(ws, "first words")
        ack = await next_of(ws, "message.ack")
        echo = await next_of(ws, "message.new")
    assert ack["client_id"] == client_id
    assert echo["message"]["id"] == ack["message"]["id"]
    await ws.disconnect()


async def test_resend_same_client_id_returns_same_ack_and_stores_nothing():
    inbox = await widget_inbox()
    _, token = await start_session(inbox)
    ws = await open_socket(token)
    await ws.receive_json_from()
    client_id = await send(ws, "once")
    first = (await next_of(ws, "message.ack"))["message"]
    for _ in range(3):
        await send(ws, "once", client_id=client_id)
        again = await next_of(ws, "message.ack")
        assert again["message"]["id"] == first["id"] and again["message"]["seq"] == 1
    assert await database_sync_to_async(Message.objects.count)() == 1
    await ws.disconnect()


async def test_agent_reply_arrives_live_and_notes_never_do():
    token, ws, ticket_id = await visitor_in_conversation()
    agent = await database_sync_to_async(AgentFactory)(display_name="Lina")

    @database_sync_to_async
    def agent_writes():
        from inbox.models import Ticket

        ticket = Ticket.objects.get(pk=ticket_id)
        note_add(ticket=ticket, agent=agent, body="internal: VIP")
        return message_reply(ticket=ticket, agent=agent, body="你好！我们来看看")

    reply = await agent_writes()
    frame = await next_of(ws, "message.new", where=from_agent)
    assert frame["message"]["id"] == reply.pk
    assert frame["message"]["author"] == {"type": "agent", "name": "Lina"}
    assert frame["message"]["seq"] == 3  # seq 2 is the note, which the visitor never sees
    assert await ws.receive_nothing(timeout=0.3)
    await ws.send_json_to({"type": "sync", "ticket_id": ticket_id, "after_seq": 0})
    result = await next_of(ws, "sync.result")
    assert [(m["seq"], m["direction"]) for m in result["messages"]] == [
        (1, "inbound"), (3, "outbound")]
    assert result["last_seq"] == 3
    await ws.disconnect()


async def test_live_events_sent_together_arrive_one_by_one_in_order():
    """Events committed together reach a group as one channel-layer message
    (`live.events`); the socket unpacks it into the frames each would have given alone."""
    token, ws, ticket_id = await visitor_in_conversation()
    agent = await database_sync_to_async(AgentFactory)()

    @database_sync_to_async
    def two_replies_at_once():
        from inbox.models import Ticket

        ticket = Ticket.objects.get(pk=ticket_id)
        with mock.patch.object(realtime, "_send_all", wraps=realtime._send_all) as send_all, \
                realtime.coalesced():
            message_reply(ticket=ticket, agent=agent, body="first")
            message_reply(ticket=ticket, agent=agent, body="second")
        return send_all.call_count

    assert await two_replies_at_once() == 1
    frames = [await next_of(ws, "message.new", where=from_agent) for _ in range(2)]
    assert [(f["message"]["seq"], f["message"]["body"]) for f in frames] == [
        (2, "first"), (3, "second")]
    assert await ws.receive_nothing(timeout=0.3)
    await ws.disconnect()


async def test_welcome_lists_tickets_with_unread_and_read_clears_them():
    token, ws, ticket_id = await visitor_in_conversation()
    agent = await database_sync_to_async(AgentFactory)()

    @database_sync_to_async
    def replies(n):
        from inbox.models import Ticket

        ticket = Ticket.objects.get(pk=ticket_id)
        return [message_reply(ticket=ticket, agent=agent, body=f"r{i}") for i in range(n)]

    await replies(2)
    await ws.disconnect()
    ws = await open_socket(token)
    welcome = await ws.receive_json_from()
    assert welcome["tickets"] == [{"id": ticket_id, "last_seq": 3, "unread": 2,
                                   "status": "open", "subject": "",
                                   "last_activity_at": welcome["tickets"][0][
                                       "last_activity_at"]}]
    await ws.send_json_to({"type": "read", "ticket_id": ticket_id, "seq": 3})
    await ws.disconnect()
    ws = await open_socket(token)
    assert (await ws.receive_json_from())["tickets"][0]["unread"] == 0
    statuses = await database_sync_to_async(lambda: list(
        Message.objects.filter(direction="outbound").values_list("delivery_status", flat=True)))()
    assert statuses == ["read", "read"]
    await ws.disconnect()


async def test_typing_and_read_from_agents_reach_the_visitor():
    token, ws, ticket_id = await visitor_in_conversation()
    agent = await database_sync_to_async(AgentFactory)(role="admin", display_name="Budi")
    agent_ws = WebsocketCommunicator(AgentConsumer.as_asgi(), "/ws/agent/")
    agent_ws.scope["user"] = agent
    assert (await agent_ws.connect())[0]
    await agent_ws.send_json_to({"type": "view", "ticket_id": ticket_id, "state": "start"})
    await agent_ws.send_json_to({"type": "typing", "ticket_id": ticket_id, "state": "start"})
    typing = await next_of(ws, "typing")
    assert (typing["ticket_id"], typing["state"], typing["by"]) == (ticket_id, "start", "agent")
    await agent_ws.send_json_to({"type": "read", "ticket_id": ticket_id, "seq": 1})
    read = await next_of(ws, "read")
    assert (read["ticket_id"], read["seq"], read["by"]) == (ticket_id, 1, "agent")
    # And the visitor typing reaches the agent viewing the ticket.
    await ws.send_json_to({"type": "typing", "ticket_id": ticket_id, "state": "start"})
    while True:
        frame = await agent_ws.receive_json_from(timeout=5)
        if frame["type"] == "typing" and frame["data"]["by"] == "contact":
            break
    assert frame["data"] == {"ticket_id": ticket_id, "state": "start", "by": "contact"}
    await agent_ws.disconnect()
    await ws.disconnect()


async def test_error_frame_for_unknown_ticket_keeps_connection():
    inbox = await widget_inbox()
    _, token = await start_session(inbox)
    ws = await open_socket(token)
    await ws.receive_json_from()
    client_id = await send(ws, "into the void", ticket_id=999999)
    error = await ws.receive_json_from()
    assert error == {"type": "error", "code": "not_found", "message": "No such conversation.",
                     "client_id": client_id}
    await send(ws, "still connected")
    assert (await next_of(ws, "message.ack"))["message"]["body"] == "still connected"
    await ws.disconnect()


async def test_verified_identity_keeps_anonymous_history():
    inbox = await widget_inbox(identity_verification_required=False)
    _, anon_token = await start_session(inbox)
    ws = await open_socket(anon_token)
    await ws.receive_json_from()
    await send(ws, "asked before logging in")
    await next_of(ws, "message.ack")
    await ws.disconnect()
    digest = hmac.new(inbox.identity_secret.encode(), b"user-42", hashlib.sha256).hexdigest()
    claim = services.VisitorClaim(id="user-42", email="rina@example.co.id", name="Rina",
                                  hash=digest)
    session, token = await start_session(inbox, token=anon_token, user=claim)
    ws = await open_socket(token)
    welcome = await ws.receive_json_from()
    assert len(welcome["tickets"]) == 1 and welcome["visitor_id"] == session.visitor_id
    # A new device of the same customer: a fresh anonymous visitor who identifies.
    _, other_device = await start_session(inbox)
    _, token2 = await start_session(inbox, token=other_device, user=claim)
    ws2 = await open_socket(token2)
    assert [t["id"] for t in (await ws2.receive_json_from())["tickets"]] == [
        t["id"] for t in welcome["tickets"]]
    await ws.disconnect()
    await ws2.disconnect()
