import re
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from inbox.models import Message, Ticket, TicketEvent
from inbox.services import ticket_assign, ticket_event_record, ticket_label, ticket_set_status
from tests.factories import AgentFactory

from .conftest import ingest_email

pytestmark = pytest.mark.django_db


def row_ids(response) -> list[int]:
    return [int(n) for n in re.findall(r'id="ticket-(\d+)"', response.content.decode())]


def test_signed_out_visitors_are_sent_to_the_login_page(client):
    response = client.get("/tickets/1/")
    assert (response.status_code, response["Location"]) == (302, "/login/?next=/tickets/1/")


def test_login_with_username_and_password_opens_the_inbox(client, world):
    page = client.get("/login/")
    assert b'autocomplete="current-password"' in page.content
    response = client.post("/login/", {"username": "alice", "password": "pw-123456"})
    assert (response.status_code, response["Location"]) == (302, "/")
    assert client.get("/").status_code == 200
    wrong = Client().post("/login/", {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200 and b'role="alert"' in wrong.content


def test_existing_urls_keep_working(client, world):
    assert client.get("/healthz").status_code == 200
    assert client.get("/widget.js").status_code == 200
    assert client.get("/admin/")["Location"].startswith("/admin/login/")
    assert client.get("/api/v1/tickets/").status_code == 401


def test_views_list_unresolved_tickets_newest_activity_first(world, client_for):
    alice = client_for(world.alice)
    assert row_ids(alice.get("/")) == [world.login.pk, world.invoice.pk]
    ticket_set_status(ticket=world.login, status="resolved", by=None)
    ticket_assign(ticket=world.invoice, assignee=world.alice, by=None)
    assert row_ids(alice.get("/")) == [world.invoice.pk]
    assert row_ids(alice.get("/?assignee=me")) == [world.invoice.pk]
    assert row_ids(alice.get("/?assignee=none")) == []
    assert row_ids(alice.get("/?status=resolved")) == [world.login.pk]
    assert row_ids(alice.get("/?status=any")) == [world.login.pk, world.invoice.pk]
    assert row_ids(client_for(world.bob).get("/?assignee=me")) == []


def test_label_team_and_inbox_views(world, client_for):
    ticket_label(ticket=world.invoice, by=None, add=["billing"])
    alice = client_for(world.alice)
    assert row_ids(alice.get("/?label=billing")) == [world.invoice.pk]
    assert row_ids(alice.get("/?label=unknown")) == []
    assert row_ids(alice.get(f"/?inbox={world.mine.pk}")) == [world.login.pk, world.invoice.pk]


def test_search_finds_subjects_bodies_and_contacts(world, client_for):
    alice = client_for(world.alice)
    assert row_ids(alice.get("/?q=Invoice")) == [world.invoice.pk]
    assert row_ids(alice.get("/?q=expired")) == [world.login.pk]
    assert row_ids(alice.get("/?q=ben@example.com")) == [world.login.pk]
    assert row_ids(alice.get("/?q=nothing-like-this")) == []


def test_keyset_pages_follow_load_more(world, client_for, monkeypatch):
    monkeypatch.setattr("desk.selectors.PAGE_SIZE", 1)
    alice = client_for(world.alice)
    first = alice.get("/")
    assert row_ids(first) == [world.login.pk]
    next_url = re.search(r'class="load-more"><a href="([^"]+)"', first.content.decode()).group(1)
    second = alice.get("/" + next_url.replace("&amp;", "&"), HTTP_HX_REQUEST="true")
    assert row_ids(second) == [world.invoice.pk]
    assert b"<html" not in second.content and b"load-more" not in second.content


@pytest.mark.parametrize("query", ["after=yesterday_1", "inbox=abc", "status=lost",
                                   "assignee=some+one", "filter=999"])
def test_bad_list_parameters_get_a_clear_400(world, client_for, query):
    response = client_for(world.alice).get(f"/?{query}")
    assert response.status_code == 400
    assert b"Invalid list filter." in response.content


def test_counts_are_capped(world, client_for, monkeypatch):
    monkeypatch.setattr("desk.selectors.COUNT_CAP", 1)
    html = client_for(world.alice).get("/nav/").content.decode()
    counts = dict(re.findall(r'data-count="([\w-]+)">([^<]*)<', html))
    assert (counts["all"], counts["mine"], counts["status-open"]) == ("1+", "0", "1+")


def test_row_endpoint_says_whether_a_ticket_belongs_in_the_view(world, client_for):
    alice = client_for(world.alice)
    row = alice.get(f"/tickets/{world.invoice.pk}/row/?status=open")
    assert row.status_code == 200 and row_ids(row) == [world.invoice.pk]
    assert alice.get(f"/tickets/{world.invoice.pk}/row/?status=resolved").status_code == 204


def entry_ids(html: str) -> list[str]:
    return re.findall(r'id="((?:message|event)-\d+)"', html)


def test_ticket_page_shows_the_timeline_with_event_lines(world, client_for):
    ticket = world.invoice
    ticket_assign(ticket=ticket, assignee=world.bob, by=world.alice)
    ticket_set_status(ticket=ticket, status="pending", by=world.alice)
    ticket_event_record(ticket=ticket, type="survey_sent", data={"kind": "csat", "invitation": "7"})
    ticket_event_record(ticket=ticket, type="survey_answered",
                        data={"kind": "csat", "score": 2, "comment": "Too slow",
                              "invitation": "7"})
    html = client_for(world.alice).get(f"/tickets/{ticket.pk}/").content.decode()
    lines = re.findall(r'<span class="event__line">([^<]*)</span>', html)
    assert lines == ["Ticket created via Email", "Assigned to Bob",
                     "Status changed from Open to Pending", "CSAT survey sent",
                     "CSAT survey answered: 2 — “Too slow”"]
    assert "Charged twice" in html and 'class="entry msg msg--inbound"' in html
    assert '<option value="email" selected>Email</option>' in html


def test_long_tickets_show_the_latest_window_and_load_earlier(world, client_for):
    from inbox.services import note_add

    ticket = world.invoice
    for n in range(2, 61):
        note_add(ticket=ticket, agent=world.alice, body=f"note {n}",
                 at=timezone.now() + timedelta(seconds=n))
    alice = client_for(world.alice)
    html = alice.get(f"/tickets/{ticket.pk}/").content.decode()
    seqs = [int(s) for s in re.findall(r'data-seq="(\d+)"', html)]
    assert seqs == list(range(11, 61))
    assert f"/tickets/{ticket.pk}/timeline/?before_seq=11" in html
    earlier = alice.get(f"/tickets/{ticket.pk}/timeline/?before_seq=11").content.decode()
    assert [int(s) for s in re.findall(r'data-seq="(\d+)"', earlier)] == list(range(1, 11))
    assert "event-" in earlier and "before_seq" not in earlier  # the start: creation event
    after = alice.get(f"/tickets/{ticket.pk}/timeline/?after_seq=58&after_event=999999")
    assert [int(s) for s in re.findall(r'data-seq="(\d+)"', after.content.decode())] == [59, 60]
    assert alice.get(f"/tickets/{ticket.pk}/timeline/?after_seq=x").status_code == 400


def test_reply_and_note_from_the_composer(world, client_for, django_capture_on_commit_callbacks):
    alice = client_for(world.alice)
    url = f"/tickets/{world.invoice.pk}/compose/"
    with django_capture_on_commit_callbacks():
        reply = alice.post(url, {"kind": "reply", "body": "We refunded you.", "channel": ""},
                           HTTP_HX_REQUEST="true")
    assert reply.status_code == 200
    message = Message.objects.get(ticket=world.invoice, direction="outbound")
    assert (message.body_text, message.channel, message.author_agent_id) == (
        "We refunded you.", "email", world.alice.pk)
    assert entry_ids(reply.content.decode())[0] == f"message-{message.pk}"
    note = alice.post(url, {"kind": "note", "body": "Refund done"})
    assert (note.status_code, note["Location"]) == (302, f"/tickets/{world.invoice.pk}/")
    assert world.invoice.messages.filter(direction="note").get().body_text == "Refund done"


def test_a_reply_carries_attachments(world, client_for, django_capture_on_commit_callbacks):
    alice = client_for(world.alice)
    files = [SimpleUploadedFile("refund.pdf", b"%PDF-1.4 refund", content_type="application/pdf"),
             SimpleUploadedFile("photo.png", b"\x89PNG fake", content_type="image/png")]
    with django_capture_on_commit_callbacks():
        response = alice.post(f"/tickets/{world.invoice.pk}/compose/",
                              {"kind": "reply", "body": "", "channel": "", "attachments": files},
                              HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    message = Message.objects.get(ticket=world.invoice, direction="outbound")
    assert message.body_text == ""
    assert sorted((a.name, a.content_type, a.size) for a in message.attachments.all()) == [
        ("photo.png", "image/png", 9), ("refund.pdf", "application/pdf", 15)]
    assert "refund.pdf" in response.content.decode()


@pytest.mark.parametrize("files,note,message", [
    ([("tool.exe", b"MZ")], False, b"this type of file cannot be sent"),
    ([("big.bin", b"x" * (10 * 1024 * 1024 + 1))], False, b"files are at most 10 MB"),
    ([(f"f{i}.txt", b"x") for i in range(11)], False, b"At most 10 attachments"),
    ([("a.txt", b"x")], True, b"Internal notes take no attachments."),
])
def test_composer_refuses_bad_attachments(world, client_for, files, note, message):
    uploads = [SimpleUploadedFile(name, content) for name, content in files]
    response = client_for(world.alice).post(
        f"/tickets/{world.invoice.pk}/compose/",
        {"kind": "note" if note else "reply", "body": "see attached", "attachments": uploads})
    assert response.status_code == 400 and message in response.content
    assert world.invoice.messages.count() == 1


@pytest.mark.parametrize("data,message", [
    ({"kind": "reply", "body": "  "}, b"Write something first."),
    ({"kind": "shout", "body": "hi"}, b"The message was not sent."),
    ({"kind": "reply", "body": "hi", "channel": "whatsapp"}, b"cannot be reached on whatsapp"),
])
def test_composer_refuses_bad_input_clearly(world, client_for, data, message):
    response = client_for(world.alice).post(f"/tickets/{world.invoice.pk}/compose/", data)
    assert response.status_code == 400 and message in response.content
    assert world.invoice.messages.count() == 1


def test_ticket_changes(world, client_for):
    alice = client_for(world.alice)
    url = f"/tickets/{world.invoice.pk}/change/"
    until = (timezone.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    response = alice.post(url, {"status": "snoozed", "snoozed_until": until.strftime("%Y-%m-%dT%H:%M"),
                                "priority": "high", "assignee": str(world.bob.pk),
                                "labels": "billing, vip", "labels_present": "on"},
                          HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and b'data-status="snoozed"' in response.content
    ticket = Ticket.objects.get(pk=world.invoice.pk)
    assert (ticket.status, ticket.snoozed_until, ticket.priority, ticket.assignee_id) == (
        "snoozed", until, "high", world.bob.pk)
    assert sorted(ticket.labels.values_list("name", flat=True)) == ["billing", "vip"]
    alice.post(url, {"assignee": "me"})
    alice.post(url, {"status": "resolved"})
    ticket.refresh_from_db()
    assert (ticket.assignee_id, ticket.status, ticket.snoozed_until) == (
        world.alice.pk, "resolved", None)
    assert list(ticket.events.filter(type__in=["assigned", "resolved"]).values_list(
        "type", "actor_id")) == [("assigned", world.alice.pk), ("assigned", world.alice.pk),
                                 ("resolved", world.alice.pk)]


@pytest.mark.parametrize("data,message", [
    ({"assignee": "carol-id"}, b"Choose an agent."),
    ({"status": "snoozed", "snoozed_until": "2001-01-01T10:00"}, b"Choose a time in the future."),
    ({"priority": "whenever"}, b"The ticket was not changed."),
])
def test_ticket_changes_refuse_bad_input(world, client_for, data, message):
    response = client_for(world.alice).post(f"/tickets/{world.invoice.pk}/change/", data)
    assert response.status_code == 400 and message in response.content
    world.invoice.refresh_from_db()
    assert (world.invoice.status, world.invoice.priority) == ("open", "normal")


def test_assigning_to_an_agent_outside_the_inbox_is_refused(world, client_for):
    response = client_for(world.alice).post(f"/tickets/{world.invoice.pk}/change/",
                                            {"assignee": str(world.carol.pk)})
    assert response.status_code == 400
    assert b"not a member of this ticket&#x27;s inbox" in response.content
    assert Ticket.objects.get(pk=world.invoice.pk).assignee_id is None


def test_contact_page_and_merge(world, client_for):
    duplicate = ingest_email(world.mine, "ana.work@example.com", "Same person", "hi").ticket
    alice = client_for(world.alice)
    target = world.invoice.contact_id
    page = alice.get(f"/contacts/{target}/").content.decode()
    assert "ana@example.com" in page and f"ticket-{world.invoice.pk}" in page
    assert re.findall(r'id="(message-\d+)"', page) == [f"message-{m.pk}" for m in
                                                        world.invoice.messages.all()]
    response = alice.post(f"/contacts/{target}/merge/", {"source": duplicate.contact_id})
    assert (response.status_code, response["Location"]) == (302, f"/contacts/{target}/")
    duplicate.refresh_from_db()
    assert duplicate.contact_id == target
    html = alice.get(f"/tickets/{duplicate.pk}/").content.decode()
    assert f"Contact #{duplicate.contact.merges.get().source_contact_id} merged into #{target}" \
        in html
    assert alice.post(f"/contacts/{target}/merge/", {"source": target}).status_code == 400
    assert alice.post(f"/contacts/{target}/merge/", {"source": "x"}).status_code == 400


def test_event_lines_of_every_kind():
    from desk.presenters import event_line

    cases = [
        ({"type": "assigned", "data": {"agent": None, "from": 3}}, "Unassigned"),
        ({"type": "priority_changed", "data": {"from": "normal", "to": "urgent"}},
         "Priority changed from Normal to Urgent"),
        ({"type": "labeled", "data": {"added": ["vip"], "removed": ["bug"]}}, "Labels +vip −bug"),
        ({"type": "reopened", "data": {"from": "resolved", "to": "open"}}, "Reopened"),
        ({"type": "merged", "data": {"from_contact": 4, "into_contact": 2}},
         "Contact #4 merged into #2"),
        ({"type": "survey_answered", "data": {"kind": "nps", "score": 9, "comment": ""}},
         "NPS survey answered: 9"),
        ({"type": "assigned", "data": {"agent": 5}}, "Assigned to Dewi"),
    ]
    for fields, line in cases:
        assert event_line(TicketEvent(**fields), {5: "Dewi"}) == line


def test_profile_language_applies_to_every_page(world, client_for):
    alice = client_for(world.alice)
    response = alice.post("/profile/", {"display_name": "Alice L.", "avatar_url": "",
                                        "language": "id", "availability": "away"})
    assert response.status_code == 302
    world.alice.refresh_from_db()
    assert (world.alice.display_name, world.alice.language, world.alice.availability) == (
        "Alice L.", "id", "away")
    page = alice.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="id">' in page and "Kotak masuk" in page
    world.alice.language = "zh-hans"
    world.alice.save()
    page = alice.get("/").content.decode()
    assert '<html lang="zh-hans">' in page and "收件箱" in page
    bad = alice.post("/profile/", {"language": "xx", "availability": "online"})
    assert bad.status_code == 400


def test_saved_filters(world, client_for):
    ticket_label(ticket=world.invoice, by=None, add=["billing"])
    alice = client_for(world.alice)
    response = alice.post("/filters/?label=billing&q=&after=x", {"name": "Billing"})
    assert response.status_code == 400  # a bad cursor is refused, not saved
    response = alice.post("/filters/?label=billing&status=open", {"name": "Billing"})
    saved = world.alice.saved_filters.get()
    assert (response["Location"], saved.params) == (f"/?filter={saved.pk}",
                                                    {"label": "billing", "status": "open"})
    assert row_ids(alice.get(f"/?filter={saved.pk}")) == [world.invoice.pk]
    assert client_for(world.bob).get(f"/?filter={saved.pk}").status_code == 400
    assert client_for(world.bob).post(f"/filters/{saved.pk}/delete/").status_code == 404
    assert alice.post(f"/filters/{saved.pk}/delete/").status_code == 302
    assert not world.alice.saved_filters.exists()


def test_canned_responses(world, client_for):
    alice, bob = client_for(world.alice), client_for(world.bob)
    data = {"shortcut": "thanks", "title": "Thanks", "body": "Thank you for waiting!"}
    assert alice.post("/canned/", data).status_code == 302
    again = bob.post("/canned/", data)
    assert again.status_code == 400
    listing = bob.get("/canned/", HTTP_ACCEPT="application/json").json()
    assert listing == {"results": [{"shortcut": "thanks", "title": "Thanks",
                                    "body": "Thank you for waiting!"}]}
    page = bob.get(f"/tickets/{world.invoice.pk}/").content.decode()
    assert 'data-shortcut="thanks" data-body="Thank you for waiting!"' in page
    from desk.models import CannedResponse

    canned = CannedResponse.objects.get()
    assert bob.post(f"/canned/{canned.pk}/delete/").status_code == 404
    assert client_for(world.admin).post(f"/canned/{canned.pk}/delete/").status_code == 302


def test_mentions_become_notifications(world, client_for):
    alice, bob = client_for(world.alice), client_for(world.bob)
    alice.post(f"/tickets/{world.invoice.pk}/compose/",
               {"kind": "note", "body": "@bob and @carol, see @alice's note"})
    assert [n.agent for n in world.bob.notifications.all()] == [world.bob]
    assert not world.carol.notifications.exists() and not world.alice.notifications.exists()
    assert 'id="notifications-count">1<' in bob.get("/notifications/").content.decode()
    page = bob.get("/notifications/").content.decode()
    assert f"/tickets/{world.invoice.pk}/#message-" in page and "Alice mentioned you on" in page
    bob.get(f"/tickets/{world.invoice.pk}/")  # opening the ticket reads its mentions
    assert world.bob.notifications.get().read_at is not None


def test_admin_nav_links_and_agent_nav(world, client_for):
    admin_page = client_for(world.admin).get("/").content.decode()
    assert 'href="/reports/"' in admin_page and 'href="/surveys/recovery/"' in admin_page
    agent_page = client_for(world.alice).get("/").content.decode()
    assert 'href="/reports/"' not in agent_page


def test_unknown_ticket_and_contact_are_clear_404s(world, client_for):
    alice = client_for(world.alice)
    for path in ("/tickets/999999/", "/contacts/999999/"):
        response = alice.get(path)
        assert response.status_code == 404 and b"not found" in response.content


def test_an_inactive_agent_is_signed_out(world, client_for):
    other = AgentFactory(username="gone", is_active=False)
    assert client_for(other).get("/").status_code == 302


def test_rows_preview_the_latest_message(world, client_for):
    from inbox.services import note_add

    note_add(ticket=world.login, agent=world.bob, body="Sent a new link " * 20)
    html = client_for(world.alice).get("/").content.decode()
    previews = re.findall(r'<span class="ticket-row__preview">([^<]*)</span>', html)
    assert previews == ["Sent a new link " * 10, "Charged twice"]  # 160 characters
