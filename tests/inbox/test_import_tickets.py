import json
from datetime import datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inbox.models import Agent, Contact, ContactIdentity, Inbox, Message, Ticket, TicketEvent
from tests.factories import AgentFactory, InboxFactory

pytestmark = pytest.mark.django_db


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def run_import(tmp_path, *lines) -> tuple[str, str]:
    """Write `lines` (dicts as JSON, str as is) to a .jsonl file and import it."""
    path = tmp_path / "tickets.jsonl"
    path.write_text("\n".join(json.dumps(x) if isinstance(x, dict) else x for x in lines) + "\n")
    out, err = StringIO(), StringIO()
    call_command("import_tickets", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def ticket_line(external_id="Z-1", **changes) -> dict:
    line = {
        "external_id": external_id, "inbox": "support-email", "channel": "email",
        "contact": {"name": "Ana", "email": f"{external_id.lower()}@example.net", "phone": None},
        "subject": "Hello", "priority": "normal", "assignee": None,
        "messages": [{"direction": "inbound", "author": None, "body": "Hi",
                      "at": "2026-01-05T09:00:00Z"}],
        "events": [], "surveys": [],
    }
    return line | changes


def events_of(ticket) -> list[tuple]:
    return [(e.type, e.at, e.data) for e in ticket.events.order_by("at", "id")]


FULL = ticket_line(
    "Z-1001", subject="Refund", priority="high", assignee="Bo@Example.com",
    contact={"name": "Ana", "email": "Ana@Example.com", "phone": "+62 812-555"},
    messages=[
        {"direction": "inbound", "author": None, "body": "Where is my refund?",
         "at": "2026-01-05T09:00:00Z"},
        # Listed out of time order: seq follows time, not the file.
        {"direction": "outbound", "author": "bo@example.com", "body": "Sent today",
         "at": "2026-01-05T11:30:00+01:00"},
        {"direction": "note", "author": "cy@example.com", "body": "Check Stripe",
         "at": "2026-01-05T09:05:00Z"},
        {"direction": "outbound", "author": None, "body": "How did we do?",
         "at": "2026-01-05T10:45:00Z"},
    ],
    events=[{"type": "resolved", "at": "2026-01-05T10:40:00Z"}],
    surveys=[{"kind": "csat", "score": 4, "sent_at": "2026-01-05T10:45:00Z",
              "answered_at": "2026-01-05T12:00:00Z"}],
)


def test_full_line_imports_contact_inbox_agents_ticket_messages_and_events(tmp_path):
    cy = AgentFactory(username="cy", email="CY@example.com")
    AgentFactory(username="bo", email="bo@elsewhere.org")  # takes the username "bo"
    out, err = run_import(tmp_path, FULL)
    assert (out, err) == ("imported=1 skipped=0 bad=0\n", "")

    bo = Agent.objects.get(email="bo@example.com")
    assert (bo.username, bo.has_usable_password(), Agent.objects.count()) == ("bo-2", False, 3)
    inbox = Inbox.objects.get()
    assert (inbox.slug, inbox.kind, inbox.name) == ("support-email", "email", "support-email")
    assert set(inbox.members.all()) == {bo, cy}
    contact = Contact.objects.get()
    assert contact.name == "Ana"
    assert set(contact.identities.values_list("kind", "value", "verified")) == {
        ("email", "ana@example.com", True), ("phone", "+62812555", True)
    }

    ticket = Ticket.objects.get()
    assert (ticket.external_id, ticket.inbox, ticket.contact, ticket.channel) == (
        "Z-1001", inbox, contact, "email"
    )
    assert (ticket.subject, ticket.priority, ticket.assignee, ticket.status) == (
        "Refund", "high", bo, "resolved"
    )
    assert ticket.created_at == at("2026-01-05T09:00:00Z")
    assert ticket.resolved_at == at("2026-01-05T10:40:00Z")
    assert ticket.last_activity_at == at("2026-01-05T12:00:00Z")
    assert ticket.last_seq == 4

    assert [
        (m.seq, m.direction, m.channel, m.author_type, m.author_agent, m.author_contact,
         m.body_text, m.created_at, m.delivery_status, m.inbox)
        for m in ticket.messages.order_by("seq")
    ] == [
        (1, "inbound", "email", "contact", None, contact, "Where is my refund?",
         at("2026-01-05T09:00:00Z"), "", inbox),
        (2, "note", "", "agent", cy, None, "Check Stripe", at("2026-01-05T09:05:00Z"), "", inbox),
        (3, "outbound", "email", "agent", bo, None, "Sent today", at("2026-01-05T10:30:00Z"),
         "sent", inbox),
        (4, "outbound", "email", "bot", None, None, "How did we do?",
         at("2026-01-05T10:45:00Z"), "sent", inbox),
    ]
    assert events_of(ticket) == [
        ("created", at("2026-01-05T09:00:00Z"), {"channel": "email", "parent": None}),
        ("message_in", at("2026-01-05T09:00:00Z"), {"author_type": "contact", "channel": "email"}),
        # The bare assignee is logged when the ticket opened, after the message at that time.
        ("assigned", at("2026-01-05T09:00:00Z"), {"agent": bo.pk, "from": None}),
        ("note", at("2026-01-05T09:05:00Z"), {"author_type": "agent", "channel": ""}),
        ("message_out", at("2026-01-05T10:30:00Z"), {"author_type": "agent", "channel": "email"}),
        ("resolved", at("2026-01-05T10:40:00Z"), {"from": "open", "to": "resolved"}),
        # A message and a survey at the same time: the message first.
        ("message_out", at("2026-01-05T10:45:00Z"), {"author_type": "bot", "channel": "email"}),
        ("survey_sent", at("2026-01-05T10:45:00Z"),
         {"kind": "csat", "invitation": "import:Z-1001:surveys[0]"}),
        ("survey_answered", at("2026-01-05T12:00:00Z"),
         {"kind": "csat", "score": 4, "invitation": "import:Z-1001:surveys[0]"}),
    ]
    message_events = ticket.events.filter(message__isnull=False).order_by("at", "id")
    assert [e.message.seq for e in message_events] == [1, 2, 3, 4]


def test_sms_line_creates_a_twilio_inbox_and_a_phone_only_contact(tmp_path):
    line = ticket_line("S-1", inbox="sms-line", channel="sms",
                       contact={"name": None, "email": None, "phone": "+1 (555) 010-9999"})
    out, _ = run_import(tmp_path, line)
    assert out == "imported=1 skipped=0 bad=0\n"
    ticket = Ticket.objects.get()
    assert (ticket.inbox.slug, ticket.inbox.kind, ticket.channel) == ("sms-line", "twilio", "sms")
    assert (ticket.status, ticket.resolved_at, ticket.assignee, ticket.contact.name) == (
        "open", None, None, ""
    )
    assert list(ContactIdentity.objects.values_list("kind", "value")) == [("phone", "+15550109999")]
    assert ticket.messages.get().channel == "sms"
    assert [e[0] for e in events_of(ticket)] == ["created", "message_in"]
    assert ticket.last_activity_at == at("2026-01-05T09:00:00Z")


def test_existing_inbox_agent_and_contact_are_reused(tmp_path):
    inbox = InboxFactory(slug="support-email", kind="email")
    bo = AgentFactory(username="bo", email="bo@example.com")
    known = ContactIdentity.objects.create(
        contact=Contact.objects.create(name="Known"), kind="email", value="z-1@example.net"
    ).contact
    run_import(tmp_path, ticket_line(assignee="BO@example.com"))
    ticket = Ticket.objects.get()
    assert (ticket.inbox, ticket.assignee, ticket.contact) == (inbox, bo, known)
    assert (Inbox.objects.count(), Agent.objects.count(), Contact.objects.count()) == (1, 1, 1)
    assert list(inbox.members.all()) == [bo]
    assert known.name == "Known"


def table_counts() -> dict:
    return {model.__name__: model.objects.count() for model in
            (Agent, Inbox, Inbox.members.through, Contact, ContactIdentity, Ticket, Message,
             TicketEvent)}


def test_reimport_changes_nothing(tmp_path):
    sms = ticket_line("S-1", inbox="sms-line", channel="sms",
                      contact={"name": "Bea", "phone": "+15550100"})
    run_import(tmp_path, FULL, sms)
    before = table_counts()
    assert before == {"Agent": 2, "Inbox": 2, "Inbox_members": 2, "Contact": 2,
                      "ContactIdentity": 3, "Ticket": 2, "Message": 5, "TicketEvent": 11}
    ticket = Ticket.objects.get(external_id="Z-1001")
    # Same key, other content: still skipped, nothing rewritten.
    edited = FULL | {"subject": "Changed", "inbox": "another-inbox", "assignee": "new@example.com"}
    out, err = run_import(tmp_path, FULL, "", sms, edited)
    assert (out, err) == ("imported=0 skipped=3 bad=0\n", "")
    assert table_counts() == before
    ticket_after = Ticket.objects.get(external_id="Z-1001")
    assert (ticket_after.subject, ticket_after.last_activity_at, ticket_after.last_seq) == (
        "Refund", ticket.last_activity_at, 4
    )


def test_bad_lines_are_reported_with_their_number_and_the_rest_loads(tmp_path):
    late_survey = ticket_line("BAD-5", surveys=[
        {"kind": "csat", "score": 6, "sent_at": "2026-01-05T10:00:00Z",
         "answered_at": "2026-01-05T11:00:00Z"}])
    naive = ticket_line("BAD-4", messages=[
        {"direction": "inbound", "author": None, "body": "x", "at": "2026-01-05T09:00:00"}])
    no_channel = ticket_line("BAD-3", inbox="never-created")
    del no_channel["channel"]
    out, err = run_import(
        tmp_path,
        ticket_line("A-1"),
        '{"external_id": "BAD-2", "inbox": ',
        no_channel,
        naive,
        late_survey | {"assignee": "ghost@example.com"},
        "   ",
        "[1, 2]",
        ticket_line("BAD-8", messages=[{"direction": "sideways", "body": "x",
                                        "at": "2026-01-05T09:00:00Z"}]),
        ticket_line("BAD-9", channel="fax"),
        ticket_line("BAD-10", events=[{"type": "escalated", "at": "2026-01-05T10:00:00Z"}]),
        ticket_line("BAD-11", contact={"name": "Nobody", "email": None, "phone": None}),
        ticket_line("BAD-12", messages=[]),
        ticket_line("BAD-13", events=[{"type": "snoozed", "at": "2026-01-05T10:00:00Z",
                                       "until": "2026-01-05T09:00:00Z"}]),
        ticket_line("BAD-14", surveys=[{"kind": "nps", "score": 7.5, "sent_at":
                                        "2026-01-05T10:00:00Z", "answered_at":
                                        "2026-01-05T10:10:00Z"}]),
        ticket_line("A-15"),
    )
    assert out == "imported=2 skipped=0 bad=12\n"
    assert err.splitlines() == [
        "line 2: invalid JSON: Expecting value at column 35",
        "line 3: channel: required",
        "line 4: messages[0].at: '2026-01-05T09:00:00' has no time zone (add Z or an offset)",
        "line 5: surveys[0].score: 6 is outside the csat scale 1-5",
        "line 7: line: expected an object, got a list",
        "line 8: messages[0].direction: unknown 'sideways' "
        "(expected one of inbound, outbound, note)",
        "line 9: channel: unknown 'fax' "
        "(expected one of email, widget, telegram, whatsapp, messenger, instagram, sms)",
        "line 10: events[0].type: unknown 'escalated' "
        "(expected one of resolved, reopened, closed, pending, snoozed, assigned)",
        "line 11: contact: needs an email or a phone",
        "line 12: messages: a ticket needs at least one message",
        "line 13: events[0].until: must be after its at",
        "line 14: surveys[0].score: expected an integer, got a number",
    ]
    assert set(Ticket.objects.values_list("external_id", flat=True)) == {"A-1", "A-15"}
    assert list(Inbox.objects.values_list("slug", flat=True)) == ["support-email"]
    assert (Agent.objects.count(), Contact.objects.count()) == (0, 2)


def test_invalid_utf8_line_is_bad_and_the_rest_loads(tmp_path):
    path = tmp_path / "tickets.jsonl"
    path.write_bytes(b'{"external_id": "\xff"}\n' + json.dumps(ticket_line()).encode() + b"\n")
    out, err = StringIO(), StringIO()
    call_command("import_tickets", str(path), stdout=out, stderr=err)
    assert (out.getvalue(), err.getvalue()) == ("imported=1 skipped=0 bad=1\n",
                                                "line 1: not valid UTF-8\n")


@pytest.mark.parametrize("changes, reason", [
    ({"events": [{"type": "reopened", "at": "2026-01-05T10:00:00Z"}]},
     "events[0]: reopened, but the ticket is already open"),
    ({"events": [{"type": "resolved", "at": "2026-01-05T10:00:00Z"},
                 {"type": "resolved", "at": "2026-01-05T11:00:00Z"}]},
     "events[1]: resolved, but the ticket is already resolved"),
    ({"events": [{"type": "closed", "at": "2026-01-05T08:00:00Z"}]},
     "events[0]: at 2026-01-05T08:00:00+00:00, before the first message"),
    ({"assignee": "bo@example.com",
      "events": [{"type": "assigned", "agent": "cy@example.com", "at": "2026-01-05T10:00:00Z"}]},
     "assignee: bo@example.com disagrees with the last assigned event"),
    ({"events": [{"type": "assigned", "agent": None, "at": "2026-01-05T10:00:00Z"}]},
     "events[0]: the ticket is already unassigned"),
    ({"inbox": "chat"}, "channel: inbox 'chat' is a widget inbox, which carries widget, not email"),
])
def test_a_history_that_fails_while_writing_rolls_back_the_whole_line(tmp_path, changes, reason):
    InboxFactory(slug="chat", kind="widget")
    out, err = run_import(tmp_path, ticket_line("X-1", **changes), ticket_line("A-2"))
    assert (out, err) == ("imported=1 skipped=0 bad=1\n", f"line 1: {reason}\n")
    ticket = Ticket.objects.get()
    assert ticket.external_id == "A-2"
    # Nothing of line 1 stays: no contact, agent, message or event of it.
    assert list(Contact.objects.all()) == [ticket.contact]
    assert (Agent.objects.count(), Message.objects.count(), TicketEvent.objects.count()) == (
        0, 1, 2
    )


def test_reopened_then_resolved_history(tmp_path):
    line = ticket_line("R-1", assignee="bo@example.com", messages=[
        {"direction": "inbound", "body": "Broken", "at": "2026-01-05T09:00:00Z"},
        {"direction": "outbound", "author": "bo@example.com", "body": "Fixed",
         "at": "2026-01-05T10:00:00Z"},
        {"direction": "inbound", "body": "Still broken", "at": "2026-01-06T09:00:00Z"},
        {"direction": "outbound", "author": "bo@example.com", "body": "Now fixed",
         "at": "2026-01-06T11:00:00Z"},
    ], events=[
        {"type": "resolved", "at": "2026-01-05T10:05:00Z"},
        {"type": "reopened", "at": "2026-01-06T09:00:00Z"},
        {"type": "resolved", "at": "2026-01-06T12:00:00Z"},
    ])
    out, _ = run_import(tmp_path, line)
    assert out == "imported=1 skipped=0 bad=0\n"
    ticket = Ticket.objects.get()
    bo = Agent.objects.get()
    assert (ticket.status, ticket.resolved_at, ticket.last_activity_at, ticket.assignee) == (
        "resolved", at("2026-01-06T12:00:00Z"), at("2026-01-06T12:00:00Z"), bo
    )
    assert [(kind, time, data.get("to")) for kind, time, data in events_of(ticket)] == [
        ("created", at("2026-01-05T09:00:00Z"), None),
        ("message_in", at("2026-01-05T09:00:00Z"), None),
        ("assigned", at("2026-01-05T09:00:00Z"), None),
        ("message_out", at("2026-01-05T10:00:00Z"), None),
        ("resolved", at("2026-01-05T10:05:00Z"), "resolved"),
        # Same instant: the customer's message, then the reopen it caused.
        ("message_in", at("2026-01-06T09:00:00Z"), None),
        ("reopened", at("2026-01-06T09:00:00Z"), "open"),
        ("message_out", at("2026-01-06T11:00:00Z"), None),
        ("resolved", at("2026-01-06T12:00:00Z"), "resolved"),
    ]
    reopened = ticket.events.get(type="reopened")
    assert reopened.data == {"from": "resolved", "to": "open"}
    assert list(ticket.messages.order_by("seq").values_list("seq", "body_text")) == [
        (1, "Broken"), (2, "Fixed"), (3, "Still broken"), (4, "Now fixed")
    ]


def test_assignment_pending_snooze_and_close_follow_the_live_event_rules(tmp_path):
    line = ticket_line("P-1", events=[
        {"type": "assigned", "agent": "bo@example.com", "at": "2026-01-05T09:10:00Z"},
        {"type": "pending", "at": "2026-01-05T09:20:00Z"},
        {"type": "snoozed", "at": "2026-01-05T09:30:00Z", "until": "2026-01-06T09:00:00Z"},
        {"type": "reopened", "at": "2026-01-05T09:40:00Z"},  # snoozed -> open
        {"type": "assigned", "agent": "cy@example.com", "at": "2026-01-05T09:50:00Z"},
        {"type": "resolved", "at": "2026-01-05T10:00:00Z"},
        {"type": "pending", "at": "2026-01-05T10:10:00Z"},  # resolved -> pending: a reopen
        {"type": "snoozed", "at": "2026-01-05T10:20:00Z", "until": "2026-01-07T00:00:00Z"},
    ], surveys=[{"kind": "nps", "sent_at": "2026-01-05T10:01:00Z", "answered_at": None}])
    out, _ = run_import(tmp_path, line)
    assert out == "imported=1 skipped=0 bad=0\n"
    ticket = Ticket.objects.get()
    bo, cy = Agent.objects.get(username="bo"), Agent.objects.get(username="cy")
    assert (ticket.status, ticket.snoozed_until, ticket.resolved_at, ticket.assignee) == (
        "snoozed", at("2026-01-07T00:00:00Z"), None, cy
    )
    assert [(kind, data) for kind, _, data in events_of(ticket)][2:] == [
        ("assigned", {"agent": bo.pk, "from": None}),
        ("status_changed", {"from": "open", "to": "pending"}),
        ("status_changed", {"from": "pending", "to": "snoozed"}),
        ("status_changed", {"from": "snoozed", "to": "open"}),
        ("assigned", {"agent": cy.pk, "from": bo.pk}),
        ("resolved", {"from": "open", "to": "resolved"}),
        ("survey_sent", {"kind": "nps", "invitation": "import:P-1:surveys[0]"}),
        ("reopened", {"from": "resolved", "to": "pending"}),
        ("status_changed", {"from": "pending", "to": "snoozed"}),
    ]
    assert ticket.last_activity_at == at("2026-01-05T10:20:00Z")


def test_closed_keeps_resolved_at(tmp_path):
    run_import(tmp_path, ticket_line("C-1", events=[
        {"type": "resolved", "at": "2026-01-05T10:00:00Z"},
        {"type": "closed", "at": "2026-01-08T10:00:00Z"},
    ]))
    ticket = Ticket.objects.get()
    assert (ticket.status, ticket.resolved_at) == ("closed", at("2026-01-05T10:00:00Z"))
    assert ticket.events.get(type="closed").data == {"from": "resolved", "to": "closed"}


def test_verbosity_2_prints_one_line_per_ticket(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(ticket_line("V-1")) + "\n" + json.dumps(ticket_line("V-1")) + "\n")
    out = StringIO()
    call_command("import_tickets", str(path), verbosity=2, stdout=out, stderr=StringIO())
    assert out.getvalue() == "line 1: imported\nline 2: skipped\nimported=1 skipped=1 bad=0\n"


def test_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match=r"^Cannot read .*nope\.jsonl: No such file"):
        call_command("import_tickets", str(tmp_path / "nope.jsonl"))
    assert Ticket.objects.count() == 0


def test_snooze_without_end_lasts_until_the_customer_writes(tmp_path):
    out, err = run_import(
        tmp_path, ticket_line("S-1", events=[{"type": "snoozed", "at": "2026-01-05T10:00:00Z"}])
    )
    assert (out, err) == ("imported=1 skipped=0 bad=0\n", "")
    ticket = Ticket.objects.get(external_id="S-1")
    assert (ticket.status, ticket.snoozed_until) == ("snoozed", None)



def test_an_import_notifies_no_subscriber(tmp_path, domain_event_log, django_capture_on_commit_callbacks):
    """Replayed history is not news: no survey or integration hears of imported events."""
    with django_capture_on_commit_callbacks(execute=True):
        out, _ = run_import(tmp_path, ticket_line("MUTE-1", events=[
            {"type": "resolved", "at": "2026-01-05T10:40:00Z"}]))
    assert out == "imported=1 skipped=0 bad=0\n"
    assert Ticket.objects.get(external_id="MUTE-1").status == "resolved"
    assert domain_event_log == []
