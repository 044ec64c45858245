import asyncio

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
