import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inbox.demo import demo_seed
from inbox.demo.phrases import PHRASES
from inbox.models import (
    MESSAGING_CHANNELS,
    Agent,
    Contact,
    ContactIdentity,
    Inbox,
    Message,
    Ticket,
    TicketEvent,
)
from inbox.services.messages import CHANNEL_IDENTITY_KINDS

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MESSAGE_EVENT = {"inbound": "message_in", "outbound": "message_out", "note": "note"}


@pytest.fixture
def seeded(db):
    return demo_seed(tickets=60, seed=4, now=NOW, batch_size=25)  # batches of 25, 25, 10


def tickets_with_history():
    return (
        Ticket.objects.order_by("id")
        .select_related("inbox", "assignee", "contact")
        .prefetch_related("messages", "events", "labels", "contact__identities")
    )


def test_creates_exactly_the_tickets_asked_for_with_gap_free_messages(seeded):
    assert Ticket.objects.count() == 60
    assert seeded.counts["tickets"] == 60
    assert seeded.counts["messages"] == Message.objects.count()
    assert seeded.counts["events"] == TicketEvent.objects.count()
    assert seeded.counts["contacts"] == Contact.objects.count()
    for ticket in tickets_with_history():
        messages = sorted(ticket.messages.all(), key=lambda m: m.seq)
        assert [m.seq for m in messages] == list(range(1, ticket.last_seq + 1))
        assert 2 <= ticket.last_seq <= 8
        assert [m.created_at for m in messages] == sorted(m.created_at for m in messages)
        assert messages[0].direction == "inbound"
        assert ticket.created_at == messages[0].created_at
        assert ticket.last_activity_at == messages[-1].created_at
        assert ticket.channel == ticket.inbox.channel
        assert ticket.team_id == ticket.inbox.team_id
        assert NOW - timedelta(days=180) <= ticket.created_at <= NOW
        for message in messages:
            assert message.inbox_id == ticket.inbox_id
            assert message.channel == ("" if message.direction == "note" else ticket.channel)
            assert (message.author_contact_id == ticket.contact_id) == (
                message.direction == "inbound"
            )


def test_events_mirror_messages_and_status(seeded):
    statuses, reopened = Counter(), 0
    for ticket in tickets_with_history():
        statuses[ticket.status] += 1
        events = sorted(ticket.events.all(), key=lambda e: e.pk)
        types = [e.type for e in events]
        reopened += "reopened" in types
        assert [e.at for e in events] == sorted(e.at for e in events)
        assert types[0] == "created" and types.count("created") == 1
        assert events[0].at == ticket.created_at
        assert sorted((e.message_id, e.type) for e in events if e.message_id) == sorted(
            (m.pk, MESSAGE_EVENT[m.direction]) for m in ticket.messages.all()
        )
        assert types.count("assigned") == (1 if ticket.assignee_id else 0)
        if ticket.assignee_id:
            assigned = next(e for e in events if e.type == "assigned")
            assert assigned.data == {"agent": ticket.assignee_id, "from": None}
        if ticket.status in ("resolved", "closed"):
            resolved = [e for e in events if e.type == "resolved"]
            assert len(resolved) == 1 + types.count("reopened")
            assert ticket.resolved_at == resolved[-1].at > ticket.last_activity_at
            assert types[-1] == ("closed" if ticket.status == "closed" else "resolved")
        else:
            assert ticket.resolved_at is None
            assert "resolved" not in types and "closed" not in types
        if ticket.status in ("pending", "snoozed"):
            assert events[-1].type == "status_changed"
            assert events[-1].data == {"from": "open", "to": ticket.status}
        assert (ticket.snoozed_until is not None) == (ticket.status == "snoozed")
        if ticket.snoozed_until:
            assert ticket.snoozed_until > NOW
        assert sorted(label.name for label in ticket.labels.all()) == next(
            (e.data["added"] for e in events if e.type == "labeled"), []
        )
    assert set(statuses) == {"open", "pending", "snoozed", "resolved", "closed"}
    assert reopened > 0


def test_assignees_and_agent_authors_are_members_of_the_ticket_inbox(seeded):
    members = set(Inbox.members.through.objects.values_list("inbox_id", "agent_id"))
    for ticket in tickets_with_history():
        agent_messages = [m for m in ticket.messages.all() if m.direction != "inbound"]
        assert (ticket.assignee_id is not None) == bool(agent_messages)
        if ticket.assignee_id:
            assert (ticket.inbox_id, ticket.assignee_id) in members
        for message in agent_messages:
            assert (ticket.inbox_id, message.author_agent_id) in members
            if message.direction == "outbound":
                assert message.author_agent_id == ticket.assignee_id


def test_contacts_are_reachable_on_their_channels_and_some_use_two(seeded):
    channels_of_contact: dict[int, set[str]] = {}
    for ticket in tickets_with_history():
        kinds = {identity.kind for identity in ticket.contact.identities.all()}
        assert kinds & CHANNEL_IDENTITY_KINDS[ticket.channel]
        channels_of_contact.setdefault(ticket.contact_id, set()).add(ticket.channel)
        if ticket.parent_id:
            parent = Ticket.objects.get(pk=ticket.parent_id)
            assert ticket.channel in MESSAGING_CHANNELS and parent.channel in MESSAGING_CHANNELS
            assert parent.contact_id == ticket.contact_id
            assert parent.status in ("resolved", "closed")
            assert parent.last_activity_at < ticket.created_at
    assert sum(len(channels) > 1 for channels in channels_of_contact.values()) >= 3
    for identity in ContactIdentity.objects.all():
        pattern = {
            "email": r"[a-z]+\.[a-z]+\.\d+@example\.(com|net|org)",
            "phone": r"\+\d{11,15}",
            "whatsapp": r"\d{11,15}",
        }.get(identity.kind, r"[0-9a-f-]+")
        assert re.fullmatch(pattern, identity.value), identity


def test_texts_are_in_the_contacts_language_and_all_three_appear(seeded):
    languages = Counter()
    for ticket in tickets_with_history():
        language = ticket.contact.language
        phrases = PHRASES[language]
        languages[language] += 1
        subject = re.sub(r"\d{6}", "{order}", ticket.subject)
        assert subject in phrases.subjects
        first = min(ticket.messages.all(), key=lambda m: m.seq)
        assert any(opening in first.body_text for opening in phrases.openings)
    assert set(languages) == {"en", "id", "zh-hans"}


def history_fingerprint(tickets) -> list[tuple]:
    """Everything about the tickets but ids and the id-derived identity values and tokens."""
    return [
        (
            t.subject, t.status, t.priority, t.channel, t.inbox.slug,
            t.assignee.username if t.assignee else None, t.contact.name, t.contact.language,
            t.created_at, t.last_activity_at, t.resolved_at, t.snoozed_until,
            sorted(label.name for label in t.labels.all()),
            sorted(identity.kind for identity in t.contact.identities.all()),
            [(m.seq, m.direction, m.body_text, m.created_at, m.author_agent_id)
             for m in sorted(t.messages.all(), key=lambda m: m.seq)],
            [(e.type, e.at, e.actor_id) for e in sorted(t.events.all(), key=lambda e: e.pk)],
        )
        for t in tickets
    ]


def test_same_seed_gives_the_same_history_and_another_seed_does_not(seeded):
    demo_seed(tickets=60, seed=4, now=NOW, batch_size=25)
    demo_seed(tickets=60, seed=5, now=NOW, batch_size=25)
    tickets = list(tickets_with_history())
    first, again, other = tickets[:60], tickets[60:120], tickets[120:]
    assert history_fingerprint(again) == history_fingerprint(first)
    assert history_fingerprint(other) != history_fingerprint(first)
    assert len({t.token for t in tickets}) == 180


def test_command_appends_and_sets_up_the_workspace_once(db):
    out = StringIO()
    call_command("seed_demo", "--tickets", "15", "--seed", "1", stdout=out)
    call_command("seed_demo", "--tickets", "15", "--seed", "1", stdout=out)
    assert Ticket.objects.count() == 30
    assert re.findall(r"Seeded (\d+) tickets", out.getvalue()) == ["15", "15"]
    assert sorted(Inbox.objects.values_list("slug", "kind")) == [
        ("instagram", "instagram"), ("messenger", "messenger"), ("sms", "twilio"),
        ("support", "email"), ("telegram", "telegram"), ("website-chat", "widget"),
        ("whatsapp", "whatsapp"),
    ]
    assert Agent.objects.count() == 10
    assert Agent.objects.get(username="admin").is_admin
    assert Agent.objects.get(username="maria").inboxes.count() == 2
    assert not any(agent.has_usable_password() for agent in Agent.objects.all())


def test_agent_password_option_leaves_an_existing_admin_login_alone(db):
    admin = Agent.objects.create_user("admin", "admin@example.com", "admin-secret-1",
                                      role=Agent.Role.ADMIN)
    call_command("seed_demo", "--tickets", "3", "--agent-password", "demo-pass-1",
                 stdout=StringIO())
    assert Agent.objects.get(pk=admin.pk).check_password("admin-secret-1")
    assert Agent.objects.get(username="maria").check_password("demo-pass-1")


def test_command_rejects_bad_arguments(db):
    with pytest.raises(CommandError):
        call_command("seed_demo", "--tickets", "-1", stdout=StringIO())
    assert Ticket.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_threaded_load_on_postgresql_keeps_references_whole(postgres_only):
    result = demo_seed(tickets=90, seed=3, batch_size=20)  # own transactions: writer threads
    assert Ticket.objects.count() == result.counts["tickets"] == 90
    assert not Message.objects.exclude(ticket__in=Ticket.objects.all()).exists()
    assert not Ticket.objects.exclude(contact__in=Contact.objects.all()).exists()
    assert not TicketEvent.objects.exclude(ticket__in=Ticket.objects.all()).exists()
    assert not TicketEvent.objects.filter(message__isnull=False).exclude(
        message__in=Message.objects.all()
    ).exists()
    assert not Ticket.objects.filter(parent__isnull=False).exclude(
        parent__in=Ticket.objects.all()
    ).exists()
    for ticket in Ticket.objects.all():
        seqs = list(ticket.messages.order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, ticket.last_seq + 1))
