import pytest

from inbox.models import Channel, Inbox, Ticket, TicketEvent
from inbox.services import Identity, InboundMessage, message_ingest
from tests.factories import AgentFactory, InboxFactory, TeamFactory

pytestmark = pytest.mark.django_db


def ingest(inbox, sender="v-1", body="Hello", channel=Channel.WIDGET, **kwargs):
    return message_ingest(data=InboundMessage(
        inbox=inbox, channel=channel, sender=[Identity("visitor", sender)], body_text=body,
        **kwargs,
    )).message.ticket


@pytest.fixture
def setup(agent):
    mine = InboxFactory(kind=Inbox.Kind.WIDGET, members=[agent])
    theirs = InboxFactory(kind=Inbox.Kind.WIDGET)
    return mine, theirs


def test_list_shows_only_member_inboxes_newest_first(api, agent, admin_agent, setup):
    mine, theirs = setup
    t1 = ingest(mine, "a", subject="First")
    t2 = ingest(mine, "b", subject="Second")
    hidden = ingest(theirs, "c", subject="Hidden")
    body = api(agent).get("/api/v1/tickets/").json()
    assert [t["id"] for t in body["results"]] == [t2.pk, t1.pk]
    assert body["next"] is None
    assert body["results"][0]["inbox"] == {"id": mine.pk, "name": mine.name, "kind": "widget",
                                           "slug": mine.slug}
    admin_ids = [t["id"] for t in api(admin_agent).get("/api/v1/tickets/").json()["results"]]
    assert admin_ids == [hidden.pk, t2.pk, t1.pk]


def test_keyset_pagination_walks_every_ticket_once(api, admin_agent, setup):
    mine, _ = setup
    ids = [ingest(mine, f"v{i}").pk for i in range(7)]
    client, seen, url = api(admin_agent), [], "/api/v1/tickets/?limit=3"
    while url:
        page = client.get(url).json()
        seen += [t["id"] for t in page["results"]]
        url = page["next"]
    assert seen == list(reversed(ids))


def test_list_filters(api, admin_agent, agent, setup):
    mine, theirs = setup
    team = TeamFactory()
    a = ingest(mine, "a", subject="Refund please")
    b = ingest(theirs, "b", subject="Shipping")
    client = api(admin_agent)
    client.patch(f"/api/v1/tickets/{a.pk}/",
                 {"status": "pending", "assignee": agent.email, "team": team.pk,
                  "labels": ["vip"]}, format="json")

    def ids(query):
        response = client.get(f"/api/v1/tickets/?{query}")
        assert response.status_code == 200, response.json()
        return [t["id"] for t in response.json()["results"]]

    assert ids("status=pending") == [a.pk]
    assert ids("status=open,pending") == [b.pk, a.pk]
    assert ids(f"inbox={theirs.pk}") == [b.pk]
    assert ids(f"assignee={agent.pk}") == [a.pk]
    assert ids(f"assignee={agent.email}") == [a.pk]
    assert ids("assignee=none") == [b.pk]
    assert ids(f"team={team.pk}") == [a.pk]
    assert ids("label=vip") == [a.pk]
    assert ids("channel=widget") == [b.pk, a.pk]
    assert ids("channel=email") == []
    assert ids("q=refund") == [a.pk]
    assert ids("q=Hello") == [b.pk, a.pk]  # message body
    assert ids(f"q=%23{b.pk}") == [b.pk]
    assert api(agent).get("/api/v1/tickets/?assignee=me").json()["results"][0]["id"] == a.pk


def test_messages_get_and_post_reply_and_note(api, agent, setup, live_events):
    mine, _ = setup
    ticket = ingest(mine)
    client = api(agent)
    with live_events() as sent:
        reply = client.post(f"/api/v1/tickets/{ticket.pk}/messages/",
                            {"type": "reply", "body": "Hi there"}, format="json")
        note = client.post(f"/api/v1/tickets/{ticket.pk}/messages/",
                           {"type": "note", "body": "VIP customer"}, format="json")
    assert reply.status_code == 201 and note.status_code == 201
    assert reply.json()["direction"] == "outbound" and reply.json()["channel"] == "widget"
    assert reply.json()["author"] == {"type": "agent", "id": agent.pk, "name": agent.name}
    assert note.json()["direction"] == "note" and note.json()["channel"] is None
    # The note is never announced to the contact's group.
    note_groups = [groups for event, groups, p in sent if p.get("direction") == "note"]
    assert note_groups == [[f"inbox.{mine.pk}", f"ticket.{ticket.pk}"]]
    body = client.get(f"/api/v1/tickets/{ticket.pk}/messages/").json()
    assert [(m["seq"], m["direction"], m["body"]) for m in body["results"]] == [
        (1, "inbound", "Hello"), (2, "outbound", "Hi there"), (3, "note", "VIP customer")
    ]
    after = client.get(f"/api/v1/tickets/{ticket.pk}/messages/?after_seq=2").json()
    assert [m["seq"] for m in after["results"]] == [3]


def test_patch_ticket_writes_events(api, agent, setup):
    mine, _ = setup
    ticket = ingest(mine)
    response = api(agent).patch(
        f"/api/v1/tickets/{ticket.pk}/",
        {"status": "resolved", "priority": "high", "assignee": agent.pk, "labels": ["b", "a"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    data = response.json()
    assert (data["status"], data["priority"], data["assignee"]["id"], data["labels"]) == (
        "resolved", "high", agent.pk, ["a", "b"]
    )
    types = list(TicketEvent.objects.filter(ticket=ticket).order_by("id")
                 .values_list("type", flat=True))
    assert types == ["created", "message_in", "resolved", "priority_changed", "assigned",
                     "labeled"]
    assert Ticket.objects.get().resolved_at is not None


def test_action_endpoints(api, agent, setup):
    mine, _ = setup
    ticket = ingest(mine)
    client = api(agent)
    url = f"/api/v1/tickets/{ticket.pk}"
    assert client.post(f"{url}/assign/", {"assignee": agent.email},
                       format="json").json()["assignee"]["id"] == agent.pk
    assert client.post(f"{url}/assign/", {"assignee": None}, format="json").json()[
        "assignee"] is None
    assert client.post(f"{url}/status/", {"status": "snoozed",
                                          "snoozed_until": "2030-01-01T00:00:00Z"},
                       format="json").json()["status"] == "snoozed"
    assert client.post(f"{url}/labels/", {"add": ["x", "y"]}, format="json").json()[
        "labels"] == ["x", "y"]
    assert client.post(f"{url}/labels/", {"remove": ["x"]}, format="json").json()[
        "labels"] == ["y"]
    timeline = client.get(f"{url}/timeline/").json()["results"]
    assert [e["kind"] for e in timeline][:2] == ["event", "message"]
    assert [e["event"]["type"] for e in timeline if e["kind"] == "event"] == [
        "created", "assigned", "assigned", "status_changed", "labeled", "labeled"
    ]


def test_assignee_must_be_inbox_member(api, agent, setup):
    mine, _ = setup
    outsider = AgentFactory()
    ticket = ingest(mine)
    response = api(agent).post(f"/api/v1/tickets/{ticket.pk}/assign/",
                               {"assignee": outsider.pk}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "not_inbox_member"
    assert Ticket.objects.get().assignee is None


@pytest.mark.parametrize("method,path,payload,status,code", [
    ("patch", "/api/v1/tickets/{id}/", {"status": "bogus"}, 400, "invalid"),
    ("patch", "/api/v1/tickets/{id}/", {}, 400, "invalid"),
    ("patch", "/api/v1/tickets/{id}/", {"assignee": "nobody@example.com"}, 400, "invalid"),
    ("patch", "/api/v1/tickets/{id}/", {"labels": "not-a-list"}, 400, "invalid"),
    ("post", "/api/v1/tickets/{id}/messages/", {"type": "reply"}, 400, "invalid"),
    ("post", "/api/v1/tickets/{id}/messages/", {"type": "shout", "body": "x"}, 400, "invalid"),
    ("post", "/api/v1/tickets/{id}/messages/", {"type": "reply", "body": "x",
                                                "channel": "email"}, 400, "channel_unreachable"),
    ("post", "/api/v1/tickets/{id}/status/", {"status": "open",
                                              "snoozed_until": "2030-01-01T00:00:00Z"}, 400,
     "invalid"),
    ("get", "/api/v1/tickets/?cursor=%%%", None, 400, "invalid"),
    ("get", "/api/v1/tickets/?limit=0", None, 400, "invalid"),
    ("get", "/api/v1/tickets/?inbox=abc", None, 400, "invalid"),
    ("get", "/api/v1/tickets/999999/", None, 404, "not_found"),
    ("get", "/api/v1/nowhere/", None, 404, "not_found"),
])
def test_bad_input_gets_json_4xx(api, agent, setup, method, path, payload, status, code):
    mine, _ = setup
    ticket = ingest(mine)
    kwargs = {"format": "json"} if payload is not None else {}
    response = getattr(api(agent), method)(path.format(id=ticket.pk), payload, **kwargs)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


def test_malformed_json_body(api, agent, setup):
    mine, _ = setup
    ticket = ingest(mine)
    response = api(agent).generic("PATCH", f"/api/v1/tickets/{ticket.pk}/", "{not json",
                                  content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_anonymous_is_401_and_token_auth_works(api, agent, setup, client):
    from django.core.management import call_command

    mine, _ = setup
    ingest(mine)
    response = api(None).get("/api/v1/tickets/")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    from io import StringIO

    out = StringIO()
    call_command("create_api_token", agent.username, stdout=out)
    token = out.getvalue().strip()
    response = client.get("/api/v1/tickets/", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200 and len(response.json()["results"]) == 1


def test_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/v1/tickets/{ticket_id}/messages/" in schema.content
    assert client.get("/api/docs/").status_code == 200
