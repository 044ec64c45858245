"""Agent A, a member of inbox A only, can neither read nor change inbox B's tickets."""

import pytest

from inbox.models import Attachment, Channel, Inbox, Message, Ticket, TicketEvent
from inbox.services import AttachmentData, Identity, InboundMessage, message_ingest
from tests.factories import AgentFactory, InboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    agent_a = AgentFactory(username="alice")
    agent_b = AgentFactory(username="bob")
    inbox_a = InboxFactory(kind=Inbox.Kind.WIDGET, members=[agent_a])
    inbox_b = InboxFactory(kind=Inbox.Kind.WIDGET, members=[agent_b])
    ticket_b = message_ingest(data=InboundMessage(
        inbox=inbox_b, channel=Channel.WIDGET, sender=[Identity("visitor", "secret-visitor")],
        body_text="my card number", sender_name="Bea",
        attachments=[AttachmentData(name="id.pdf", content=b"%PDF-1.4", content_type="application/pdf")],
    )).message.ticket
    return agent_a, agent_b, inbox_a, inbox_b, ticket_b


def _snapshot():
    return (
        list(Ticket.objects.values()), Message.objects.count(), TicketEvent.objects.count(),
    )


READS = [
    "/api/v1/tickets/{t}/",
    "/api/v1/tickets/{t}/messages/",
    "/api/v1/tickets/{t}/timeline/",
    "/api/v1/contacts/{c}/",
    "/api/v1/contacts/{c}/timeline/",
    "/api/v1/attachments/{a}/download/",
    "/api/v1/inboxes/{i}/",
]
WRITES = [
    ("patch", "/api/v1/tickets/{t}/", {"status": "resolved"}),
    ("post", "/api/v1/tickets/{t}/messages/", {"type": "reply", "body": "x"}),
    ("post", "/api/v1/tickets/{t}/messages/", {"type": "note", "body": "x"}),
    ("post", "/api/v1/tickets/{t}/assign/", {"assignee": None}),
    ("post", "/api/v1/tickets/{t}/status/", {"status": "closed"}),
    ("post", "/api/v1/tickets/{t}/labels/", {"add": ["x"]}),
    ("post", "/api/v1/contacts/{c}/merge/", {"into": 1}),
]


def _fill(path, ticket):
    attachment = Attachment.objects.get(message__ticket=ticket)
    return path.format(t=ticket.pk, c=ticket.contact_id, a=attachment.pk, i=ticket.inbox_id)


@pytest.mark.parametrize("path", READS)
def test_other_inbox_is_invisible_to_reads(api, world, path):
    agent_a, agent_b, _, _, ticket_b = world
    response = api(agent_a).get(_fill(path, ticket_b))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    # The member of inbox B reads the same URL fine.
    assert api(agent_b).get(_fill(path, ticket_b)).status_code == 200


@pytest.mark.parametrize("method,path,payload", WRITES)
def test_other_inbox_is_untouchable_by_writes(api, world, method, path, payload):
    agent_a, _, _, _, ticket_b = world
    before = _snapshot()
    response = getattr(api(agent_a), method)(_fill(path, ticket_b), payload, format="json")
    assert response.status_code == 404
    assert _snapshot() == before


def test_other_inbox_is_absent_from_lists_and_search(api, world):
    agent_a, agent_b, _, _, ticket_b = world
    client = api(agent_a)
    for url in ["/api/v1/tickets/", "/api/v1/tickets/?q=card", "/api/v1/tickets/?q=Bea",
                f"/api/v1/tickets/?inbox={ticket_b.inbox_id}", "/api/v1/contacts/",
                "/api/v1/contacts/?q=secret"]:
        assert client.get(url).json()["results"] == [], url
    assert [i["id"] for i in client.get("/api/v1/inboxes/").json()] == [world[2].pk]
    assert [t["id"] for t in api(agent_b).get("/api/v1/tickets/?q=card").json()["results"]] == [
        ticket_b.pk
    ]


@pytest.mark.parametrize("method,path,payload", [
    ("post", "/api/v1/inboxes/", {"kind": "email", "name": "X", "slug": "x"}),
    ("patch", "/api/v1/inboxes/{i}/", {"name": "hacked"}),
    ("delete", "/api/v1/inboxes/{i}/", None),
    ("get", "/api/v1/agents/", None),
    ("post", "/api/v1/agents/", {"username": "mallory", "role": "admin"}),
    ("post", "/api/v1/teams/", {"name": "T"}),
])
def test_admin_only_endpoints_refuse_agents(api, world, method, path, payload):
    agent_a, _, inbox_a, _, _ = world
    response = getattr(api(agent_a), method)(path.format(i=inbox_a.pk), payload, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert Inbox.objects.filter(name="hacked").count() == 0


def test_attachment_download_headers(api, world):
    _, agent_b, _, _, ticket_b = world
    response = api(agent_b).get(_fill("/api/v1/attachments/{a}/download/", ticket_b))
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/octet-stream"
    assert b"".join(response.streaming_content) == b"%PDF-1.4"
