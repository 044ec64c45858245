"""An exact history imported with `manage.py import_tickets`, and the figures it gives.

Period 2026-01-05..2026-01-06. Email inbox `support-email` (team Billing), widget inbox
`chat`. Agents ana@example.com and bo@example.com. Times are UTC.

| ticket | created | agent replies | status history | assignee |
|---|---|---|---|---|
| E1 | 01-05 09:00 | none | resolved 10:00 | - |
| E2 | 01-05 09:00 | 09:30 | resolved 10:00 | ana |
| E3 | 01-05 08:00 | 09:00, 11:00 | resolved 12:00 | ana |
| E4 | 01-05 09:00 | 09:10 | resolved 09:20, reopened 10:00, resolved 01-06 09:00 | bo |
| E7 | 01-04 10:00 | 01-04 11:00 | resolved 01-05 10:00, closed 20:00 | bo |
| E10 | 2025-12-20 08:00 | none | pending 12-21 | - |
| W5 | 01-05 12:00 | bot 12:01, agent 13:20 | open | - |
| W6 | 01-06 23:00 | a note only | open | - |
| W8 | 01-05 09:00 | 09:05 | resolved 10:00, reopened 11:00 | - |
| W9 | 01-06 10:00 | 10:00:30 | open | - |
"""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from inbox.models import Inbox, Team
from tests.factories import InboxFactory, TeamFactory

ANA, BO = "ana@example.com", "bo@example.com"


@pytest.fixture(autouse=True)
def report_cache(settings):
    """A cache of the tests' own (the report pages cache their figures), empty each test."""
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "reports-tests"}}
    cache.clear()
    return cache


def message(direction, at, author=None, body="..."):
    return {"direction": direction, "author": author, "body": body, "at": at}


def line(external_id, inbox, channel, messages, events=(), surveys=(), assignee=None):
    return {"external_id": external_id, "inbox": inbox, "channel": channel,
            "contact": {"name": external_id, "email": f"{external_id.lower()}@example.net"},
            "subject": external_id, "priority": "normal", "assignee": assignee,
            "messages": list(messages), "events": list(events), "surveys": list(surveys)}


def survey(kind, sent_at, score=None, answered_at=None):
    return {"kind": kind, "score": score, "sent_at": sent_at, "answered_at": answered_at}


def email(external_id, *args, **kwargs):
    return line(external_id, "support-email", "email", *args, **kwargs)


def widget(external_id, *args, **kwargs):
    return line(external_id, "chat", "widget", *args, **kwargs)


HISTORY = [
    email("E1", [message("inbound", "2026-01-05T09:00:00Z")],
          [{"type": "resolved", "at": "2026-01-05T10:00:00Z"}],
          [survey("nps", "2026-01-05T10:01:00Z", 9, "2026-01-05T10:30:00Z")]),
    email("E2", [message("inbound", "2026-01-05T09:00:00Z"),
                 message("outbound", "2026-01-05T09:30:00Z", ANA)],
          [{"type": "resolved", "at": "2026-01-05T10:00:00Z"}],
          [survey("csat", "2026-01-05T10:05:00Z", 5, "2026-01-05T11:00:00Z"),
           survey("nps", "2026-01-05T10:05:00Z", 10, "2026-01-05T11:00:00Z"),
           survey("ces", "2026-01-05T10:05:00Z", 2, "2026-01-05T11:00:00Z")], assignee=ANA),
    email("E3", [message("inbound", "2026-01-05T08:00:00Z"),
                 message("outbound", "2026-01-05T09:00:00Z", ANA),
                 message("inbound", "2026-01-05T10:00:00Z"),
                 message("outbound", "2026-01-05T11:00:00Z", ANA)],
          [{"type": "resolved", "at": "2026-01-05T12:00:00Z"}],
          # The csat answer 2 is changed to 3 on 01-06 (added by the fixture below).
          [survey("csat", "2026-01-05T12:05:00Z", 2, "2026-01-05T13:00:00Z"),
           survey("nps", "2026-01-05T12:05:00Z", 7, "2026-01-05T13:00:00Z")], assignee=ANA),
    email("E4", [message("inbound", "2026-01-05T09:00:00Z"),
                 message("outbound", "2026-01-05T09:10:00Z", BO)],
          [{"type": "resolved", "at": "2026-01-05T09:20:00Z"},
           {"type": "reopened", "at": "2026-01-05T10:00:00Z"},
           {"type": "resolved", "at": "2026-01-06T09:00:00Z"}],
          [survey("csat", "2026-01-06T09:05:00Z", 4, "2026-01-06T10:00:00Z"),
           survey("nps", "2026-01-06T09:05:00Z", 0, "2026-01-06T10:00:00Z")], assignee=BO),
    email("E7", [message("inbound", "2026-01-04T10:00:00Z"),
                 message("outbound", "2026-01-04T11:00:00Z", BO)],
          [{"type": "resolved", "at": "2026-01-05T10:00:00Z"},
           {"type": "closed", "at": "2026-01-05T20:00:00Z"}],
          [survey("csat", "2026-01-05T10:10:00Z")], assignee=BO),
    email("E10", [message("inbound", "2025-12-20T08:00:00Z")],
          [{"type": "pending", "at": "2025-12-21T08:00:00Z"}]),
    widget("W5", [message("inbound", "2026-01-05T12:00:00Z"),
                  message("outbound", "2026-01-05T12:01:00Z"),  # a bot
                  message("outbound", "2026-01-05T13:20:00Z", ANA)],
           surveys=[survey("ces", "2026-01-05T14:00:00Z", 5, "2026-01-05T15:00:00Z")]),
    widget("W6", [message("inbound", "2026-01-06T23:00:00Z"),
                  message("note", "2026-01-06T23:30:00Z", BO)]),
    widget("W8", [message("inbound", "2026-01-05T09:00:00Z"),
                  message("outbound", "2026-01-05T09:05:00Z", BO),
                  message("inbound", "2026-01-05T11:00:00Z")],
           [{"type": "resolved", "at": "2026-01-05T10:00:00Z"},
            {"type": "reopened", "at": "2026-01-05T11:00:00Z"}]),
    widget("W9", [message("inbound", "2026-01-06T10:00:00Z"),
                  message("outbound", "2026-01-06T10:00:30Z", BO)],
           # Answered after the period: counts in neither 01-05 nor 01-06 (UTC).
           surveys=[survey("ces", "2026-01-06T11:00:00Z", 7, "2026-01-07T01:00:00Z")]),
]


def tickets_import(tmp_path, lines) -> str:
    path = tmp_path / "history.jsonl"
    path.write_text("\n".join(json.dumps(item) for item in lines) + "\n")
    out = StringIO()
    call_command("import_tickets", str(path), stdout=out, stderr=out)
    return out.getvalue()


@pytest.fixture
def history(db, tmp_path):
    """The history above, plus E3's changed csat answer. Returns the objects tests filter by."""
    from inbox.models import Agent, Ticket, TicketEvent
    from inbox.services.tickets import ticket_event_record

    billing = TeamFactory(name="Billing")
    InboxFactory(slug="support-email", kind=Inbox.Kind.EMAIL, team=billing)
    assert tickets_import(tmp_path, HISTORY) == "imported=10 skipped=0 bad=0\n"
    e3 = Ticket.objects.get(external_id="E3")
    first = e3.events.get(type=TicketEvent.Type.SURVEY_ANSWERED, data__kind="csat")
    ticket_event_record(ticket=e3, type=TicketEvent.Type.SURVEY_ANSWERED,
                        at=first.at.replace(day=6, hour=8),
                        data={**first.data, "score": 3, "comment": "Better now"})
    return {"billing": billing, "email": Inbox.objects.get(slug="support-email"),
            "chat": Inbox.objects.get(slug="chat"), "ana": Agent.objects.get(email=ANA),
            "bo": Agent.objects.get(email=BO), "team": Team.objects.get(name="Billing")}
