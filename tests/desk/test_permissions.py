"""An agent never sees another inbox's tickets: not in lists, search, counts, rows,
pages, timelines, writes or live events."""

import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections

from chat.consumers import AgentConsumer
from inbox.models import Message
from inbox.services import ticket_set_status

from .conftest import ingest_email

pytestmark = pytest.mark.django_db


def row_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'id="ticket-(\d+)"', html)]


def count(html: str, key: str) -> str:
    return re.search(rf'data-count="{key}">([^<]*)<', html).group(1)


def test_lists_and_search_hold_only_own_inbox_tickets(world, client_for):
    alice = client_for(world.alice)
    for path in ("/", "/?status=any", "/?assignee=none", "/?q=twice", "/?q=Secret",
                 f"/?inbox={world.theirs.pk}", "/?status=open"):
        html = alice.get(path).content.decode()
        assert world.secret.pk not in row_ids(html), path
    assert row_ids(alice.get("/?q=twice").content.decode()) == [world.invoice.pk]
    assert row_ids(alice.get(f"/?inbox={world.theirs.pk}").content.decode()) == []
    # The admin sees every inbox.
    assert row_ids(client_for(world.admin).get("/?q=twice").content.decode()) == [
        world.secret.pk, world.invoice.pk]


def test_counts_count_only_own_inbox_tickets(world, client_for):
    html = client_for(world.alice).get("/nav/").content.decode()
    assert (count(html, "all"), count(html, "unassigned"), count(html, "status-open")) == (
        "2", "2", "2")
    assert f'data-count="inbox-{world.theirs.pk}"' not in html
    carol = client_for(world.carol).get("/nav/").content.decode()
    assert (count(carol, "all"), count(carol, f"inbox-{world.theirs.pk}")) == ("1", "1")
    admin = client_for(world.admin).get("/nav/").content.decode()
    assert count(admin, "all") == "3"


@pytest.mark.parametrize("method,path", [
    ("get", "/tickets/{}/"), ("get", "/tickets/{}/timeline/?after_seq=0"),
    ("get", "/tickets/{}/properties/"), ("get", "/tickets/{}/row/"),
    ("post", "/tickets/{}/compose/"), ("post", "/tickets/{}/change/"),
])
def test_another_inbox_ticket_is_not_found(world, client_for, method, path):
    alice = client_for(world.alice)
    data = {"kind": "note", "body": "peek", "status": "resolved"} if method == "post" else {}
    response = getattr(alice, method)(path.format(world.secret.pk), data)
    assert response.status_code in (404, 204)
    assert b"Secret" not in response.content
    world.secret.refresh_from_db()
    assert world.secret.status == "open"
    assert world.secret.messages.count() == 1


def test_another_inbox_contact_is_not_found(world, client_for):
    alice = client_for(world.alice)
    assert alice.get(f"/contacts/{world.secret.contact_id}/").status_code == 404
    response = alice.post(f"/contacts/{world.invoice.contact_id}/merge/",
                          {"source": world.secret.contact_id})
    assert response.status_code == 404
    world.secret.refresh_from_db()
    assert world.secret.contact_id != world.invoice.contact_id


@pytest.mark.django_db(transaction=True)
async def test_live_events_of_another_inbox_never_reach_the_agent():
    from tests.factories import AgentFactory, InboxFactory

    @database_sync_to_async
    def setup():
        alice = AgentFactory(username="alice")
        mine = InboxFactory(members=[alice])
        theirs = InboxFactory()
        return alice, mine, theirs

    alice, mine, theirs = await setup()
    communicator = WebsocketCommunicator(AgentConsumer.as_asgi(), "/ws/agent/")
    communicator.scope["user"] = alice
    assert (await communicator.connect())[0]
    hidden = await database_sync_to_async(ingest_email)(theirs, "x@example.com", "Hidden", "x")
    await database_sync_to_async(ticket_set_status)(ticket=hidden.ticket, status="resolved",
                                                    by=None)
    assert await communicator.receive_nothing(timeout=0.5)
    shown = await database_sync_to_async(ingest_email)(mine, "y@example.com", "Shown", "y")
    frame = await communicator.receive_json_from(timeout=5)
    assert (frame["type"], frame["data"]["id"]) == ("ticket.created", shown.ticket_id)
    await communicator.disconnect()
    assert await database_sync_to_async(Message.objects.count)() == 2
    await database_sync_to_async(connections.close_all)()
