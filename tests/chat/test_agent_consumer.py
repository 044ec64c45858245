import asyncio
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat.consumers import AgentConsumer
from inbox.models import Channel, Inbox
from inbox.services import Identity, InboundMessage, message_ingest
from tests.factories import AgentFactory, InboxFactory

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def make_world():
    alice = AgentFactory(username="alice")
    mine = InboxFactory(kind=Inbox.Kind.WIDGET, members=[alice])
    other = InboxFactory(kind=Inbox.Kind.WIDGET)
    return alice, mine, other


@database_sync_to_async
def ingest(inbox, body):
    return message_ingest(data=InboundMessage(
        inbox=inbox, channel=Channel.WIDGET, sender=[Identity("visitor", body)], body_text=body,
    )).message


async def connect(user):
    communicator = WebsocketCommunicator(AgentConsumer.as_asgi(), "/ws/agent/")
    communicator.scope["user"] = user
    connected, code = await communicator.connect()
    return communicator, connected, code


async def test_agent_receives_live_events_of_own_inboxes_only():
    alice, mine, other = await make_world()
    communicator, connected, _ = await connect(alice)
    assert connected
    await ingest(other, "not for alice")
    message = await ingest(mine, "for alice")
    created = await communicator.receive_json_from(timeout=5)
    new = await communicator.receive_json_from(timeout=5)
    assert created["type"] == "ticket.created" and created["data"]["id"] == message.ticket_id
    assert new["type"] == "message.new" and new["data"]["body"] == "for alice"
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_a_batch_of_visitors_messages_reaches_the_agent_one_by_one_in_order():
    """A batch's events share one channel-layer message per group (`live.events`): the
    agent's socket unpacks it into one frame per event, in the batch's order."""
    from chat import services

    alice, mine, _ = await make_world()

    @database_sync_to_async
    def two_open_conversations():
        sends = []
        for n in range(2):
            session, _ = services.widget_session_start(inbox_key=mine.key)
            message, _ = services.visitor_message_send(
                session=session, client_id=uuid.uuid4(), body=f"opening {n}")
            sends.append((session, message.ticket_id))
        return sends

    @database_sync_to_async
    def batch(sends):
        return services.visitor_messages_send(sends=[
            services.VisitorSend(session=session, client_id=uuid.uuid4(), body=f"then {n}",
                                 ticket_id=ticket_id)
            for n, (session, ticket_id) in enumerate(sends)])

    sends = await two_open_conversations()
    communicator, connected, _ = await connect(alice)
    assert connected
    stored = await batch(sends)
    frames = [await communicator.receive_json_from(timeout=5) for _ in range(2)]
    assert [(f["type"], f["data"]["id"], f["data"]["body"]) for f in frames] == [
        ("message.new", stored[0].pk, "then 0"), ("message.new", stored[1].pk, "then 1")]
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_anonymous_socket_is_closed_with_4401():
    from django.contrib.auth.models import AnonymousUser

    communicator, connected, code = await connect(AnonymousUser())
    assert (connected, code) == (False, 4401)


async def test_idle_socket_stays_open():
    """An idle agent must not be dropped (redis-py's default socket timeout did that)."""
    alice, mine, _ = await make_world()
    communicator, connected, _ = await connect(alice)
    assert connected
    await asyncio.sleep(6)
    await ingest(mine, "after a pause")
    assert (await communicator.receive_json_from(timeout=5))["type"] == "ticket.created"
    await communicator.disconnect()


async def test_a_closed_socket_leaves_its_inbox_and_agent_groups():
    from channels.layers import InMemoryChannelLayer, get_channel_layer

    from inbox.realtime import agent_group, inbox_group

    layer = get_channel_layer()
    if not isinstance(layer, InMemoryChannelLayer):
        pytest.skip("reads the in-memory channel layer's group table")
    alice, mine, other = await make_world()
    groups = [inbox_group(mine.pk), agent_group(alice.pk), inbox_group(other.pk)]

    def members():
        return [len(layer.groups.get(group, {})) for group in groups]

    before = members()
    communicator, connected, _ = await connect(alice)
    assert connected
    assert members() == [before[0] + 1, before[1] + 1, before[2]]
    await communicator.disconnect()
    assert members() == before


@database_sync_to_async
def make_ticket_world():
    alice = AgentFactory(username="alice")
    bob = AgentFactory(username="bob")
    carol = AgentFactory(username="carol")  # not a member of the inbox
    inbox = InboxFactory(kind=Inbox.Kind.WIDGET, members=[alice, bob])
    ticket = message_ingest(data=InboundMessage(
        inbox=inbox, channel=Channel.WIDGET, sender=[Identity("visitor", "v-1")],
        body_text="hello",
    )).message.ticket
    return alice, bob, carol, ticket


async def drain(communicator):
    frames = []
    while not await communicator.receive_nothing(timeout=0.2):
        frames.append(await communicator.receive_json_from())
    return frames


async def test_viewers_see_each_other_and_who_is_replying():
    alice, bob, _, ticket = await make_ticket_world()
    a, _, _ = await connect(alice)
    b, _, _ = await connect(bob)
    await a.send_json_to({"type": "view", "ticket_id": ticket.pk, "state": "start"})
    await drain(a)
    await b.send_json_to({"type": "view", "ticket_id": ticket.pk, "state": "start"})
    # Alice hears Bob arrive; Bob hears Alice answer that she is there.
    assert await a.receive_json_from(timeout=5) == {"type": "viewing", "data": {
        "ticket_id": ticket.pk, "state": "start", "agent": {"id": bob.pk, "name": "Bob"},
        "replying": False}}
    assert await b.receive_json_from(timeout=5) == {"type": "viewing", "data": {
        "ticket_id": ticket.pk, "state": "start", "agent": {"id": alice.pk, "name": "Alice"},
        "replying": False}}
    await a.send_json_to({"type": "replying", "ticket_id": ticket.pk, "state": "start"})
    assert await b.receive_json_from(timeout=5) == {"type": "replying", "data": {
        "ticket_id": ticket.pk, "state": "start", "agent": {"id": alice.pk, "name": "Alice"},
        "replying": True}}
    assert await a.receive_nothing(timeout=0.3)  # no echo of one's own presence
    # Closing the page stops both viewing and replying.
    await a.disconnect()
    frames = await drain(b)
    assert [(f["type"], f["data"]["state"]) for f in frames] == [
        ("replying", "stop"), ("viewing", "stop")]
    await b.disconnect()


async def test_a_newcomer_learns_who_is_already_replying():
    alice, bob, _, ticket = await make_ticket_world()
    a, _, _ = await connect(alice)
    await a.send_json_to({"type": "view", "ticket_id": ticket.pk, "state": "start"})
    await a.send_json_to({"type": "replying", "ticket_id": ticket.pk, "state": "start"})
    await drain(a)
    b, _, _ = await connect(bob)
    await b.send_json_to({"type": "view", "ticket_id": ticket.pk, "state": "start"})
    answer = await b.receive_json_from(timeout=5)
    assert (answer["type"], answer["data"]["agent"]["id"], answer["data"]["replying"]) == (
        "viewing", alice.pk, True)
    await a.disconnect()
    await b.disconnect()


async def test_presence_of_another_inbox_ticket_is_refused():
    _, _, carol, ticket = await make_ticket_world()
    c, _, _ = await connect(carol)
    for kind in ("view", "replying", "typing"):
        await c.send_json_to({"type": kind, "ticket_id": ticket.pk, "state": "start"})
        assert await c.receive_json_from(timeout=5) == {
            "type": "error", "code": "not_found", "message": "Ticket not found."}
    await c.send_json_to({"type": "replying", "ticket_id": ticket.pk, "state": "maybe"})
    assert (await c.receive_json_from(timeout=5))["code"] == "bad_frame"
    await c.disconnect()


async def test_agent_typing_reaches_other_viewers_but_not_the_typist():
    alice, bob, _, ticket = await make_ticket_world()
    a, _, _ = await connect(alice)
    b, _, _ = await connect(bob)
    for communicator in (a, b):
        await communicator.send_json_to({"type": "view", "ticket_id": ticket.pk, "state": "start"})
    await drain(a)
    await drain(b)
    await a.send_json_to({"type": "typing", "ticket_id": ticket.pk, "state": "start"})
    assert await b.receive_json_from(timeout=5) == {"type": "typing", "data": {
        "ticket_id": ticket.pk, "state": "start", "by": "agent",
        "agent": {"id": alice.pk, "name": "Alice"}}}
    assert await a.receive_nothing(timeout=0.3)
    await a.disconnect()
    await b.disconnect()


@database_sync_to_async
def note_mentioning(ticket, author, body):
    from desk.services import note_post

    return note_post(ticket=ticket, agent=author, body=body)


async def test_a_mention_reaches_only_the_mentioned_agent():
    alice, bob, carol, ticket = await make_ticket_world()
    b, _, _ = await connect(bob)
    c, _, _ = await connect(carol)
    note = await note_mentioning(ticket, alice, "@bob can you take this? @carol too")
    frames = [f for f in await drain(b) if f["type"] == "mention"]
    assert frames == [{"type": "mention", "data": {
        "ticket_id": ticket.pk, "number": ticket.pk, "subject": "", "message_id": note.pk,
        "by": {"id": alice.pk, "name": "Alice"},
        "excerpt": "@bob can you take this? @carol too"}}]
    # Carol is not in the ticket's inbox: no notification, and no event of that inbox.
    assert await drain(c) == []
    await b.disconnect()
    await c.disconnect()


async def test_replying_stops_when_the_socket_closes_even_without_viewing():
    alice, bob, _, ticket = await make_ticket_world()
    b, _, _ = await connect(bob)
    await b.send_json_to({"type": "view", "ticket_id": ticket.pk, "state": "start"})
    a, _, _ = await connect(alice)
    await a.send_json_to({"type": "replying", "ticket_id": ticket.pk, "state": "start"})
    assert [(f["type"], f["data"]["state"]) for f in await drain(b)] == [("replying", "start")]
    await a.disconnect()
    assert [(f["type"], f["data"]["state"]) for f in await drain(b)] == [("replying", "stop")]
    await b.disconnect()


async def test_a_live_event_does_not_wait_for_other_sockets_database_work():
    """Every consumer's database work in a process runs on one thread; a live event to an
    idle socket is sent without queueing behind it."""
    import time

    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer

    from inbox.realtime import agent_group

    alice, mine, _ = await make_world()
    communicator, connected, _ = await connect(alice)
    assert connected
    # Another socket's slow write holds the database thread for 3 s.
    busy = asyncio.ensure_future(sync_to_async(time.sleep, thread_sensitive=True)(3))
    await asyncio.sleep(0.1)
    await get_channel_layer().group_send(agent_group(alice.pk), {
        "type": "live.event", "event": "mention",
        "payload": {"ticket_id": 1, "by": "Bob"}})
    started = time.monotonic()
    received = await communicator.receive_json_from(timeout=2)
    assert received == {"type": "mention", "data": {"ticket_id": 1, "by": "Bob"}}
    assert time.monotonic() - started < 2
    assert not busy.done()
    await busy
    await communicator.disconnect()
