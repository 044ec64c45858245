"""The rollups give the live figures for any range; compute_kpis is idempotent; tickets
touched after a refresh are read live."""

from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inbox.models import Ticket, TicketEvent
from inbox.services.tickets import ticket_set_status
from reports.kpis import KpiQuery, kpi_breakdown, kpi_report
from reports.models import RollupState, StatusSpan, SurveyFact, TicketFact
from reports.period import Period
from reports.tasks import kpi_rollups_recent_days, kpi_rollups_refresh

pytestmark = pytest.mark.django_db

RANGES = [("2026-01-05", "2026-01-06", "UTC"), ("2026-01-04", "2026-01-04", "UTC"),
          ("2025-12-15", "2026-01-10", "UTC"), ("2026-01-05", "2026-01-05", "Asia/Jakarta"),
          ("2026-01-01", "2026-01-07", "America/New_York"),
          ("2026-01-06", "2026-01-07", "Asia/Kolkata")]


def both(start, end, tz, **filters):
    period = Period(date.fromisoformat(start), date.fromisoformat(end), tz)
    return [kpi_report(query=KpiQuery(period=period, live=live, **filters))
            for live in (True, False)]


def compute_kpis(*args) -> str:
    out = StringIO()
    call_command("compute_kpis", *args, stdout=out)
    return out.getvalue()


def stored_rows():
    return (sorted(TicketFact.objects.values_list(), key=str),
            sorted(SurveyFact.objects.values_list(), key=str),
            sorted(StatusSpan.objects.values_list(
                "ticket_id", "inbox_id", "channel", "team_id", "agent_id", "created_at",
                "start", "end"), key=str))


@pytest.mark.parametrize(("start", "end", "tz"), RANGES)
def test_rollups_equal_live_figures(history, start, end, tz):
    compute_kpis("--all")
    assert TicketFact.objects.count() == 10
    live, rolled_up = both(start, end, tz)
    assert rolled_up == live
    for name in ("agent", "team", "inbox"):
        key = {"agent": "bo", "team": "team", "inbox": "chat"}[name]
        live, rolled_up = both(start, end, tz, **{name: history[key].pk})
        assert rolled_up == live


def test_rollups_equal_live_breakdowns(history):
    compute_kpis("--all")
    period = Period(date(2026, 1, 1), date(2026, 1, 7), "Asia/Jakarta")
    for by in ("day", "channel", "agent", "team", "inbox"):
        assert (kpi_breakdown(query=KpiQuery(period=period), by=by)
                == kpi_breakdown(query=KpiQuery(period=period, live=True), by=by))


def test_compute_kpis_is_idempotent_for_any_range(history):
    # Spans: one per ticket, two for E4, W8 (reopened) and E10 (open, then pending).
    # Survey invitations: E1 1, E2 3, E3 2, E4 2, E7 1, W5 1, W9 1.
    assert compute_kpis("--start", "2026-01-05", "--end", "2026-01-06") == (
        f"facts=10 spans=13 surveys=11 last_event={TicketEvent.objects.latest('id').pk}\n")
    first = stored_rows()
    compute_kpis("--start", "2026-01-05", "--end", "2026-01-06")
    compute_kpis("--start", "2025-12-01", "--end", "2026-01-31", "--tz", "Asia/Jakarta")
    compute_kpis()
    assert stored_rows() == first
    compute_kpis("--all")
    assert stored_rows() == first


def test_tickets_touched_after_a_refresh_are_read_live(history):
    kpi_rollups_refresh()
    before = both("2026-01-05", "2026-01-06", "UTC")[1]
    w5 = Ticket.objects.get(external_id="W5")
    ticket_set_status(ticket=w5, status="resolved", by=None,
                      at=datetime(2026, 1, 6, 20, tzinfo=UTC))
    live, rolled_up = both("2026-01-05", "2026-01-06", "UTC")
    assert rolled_up == live
    assert rolled_up["tickets_resolved"] == before["tickets_resolved"] + 1
    assert rolled_up["backlog"]["end"] == before["backlog"]["end"] - 1
    # The stored rows are still the old ones until the next refresh.
    assert TicketFact.objects.get(ticket=w5).resolved_now is False
    kpi_rollups_refresh()
    assert TicketFact.objects.get(ticket=w5).resolved_now is True
    assert RollupState.objects.get().last_event_id == TicketEvent.objects.latest("id").pk
    assert both("2026-01-05", "2026-01-06", "UTC")[1] == live


def test_recent_days_task_rereads_tickets_with_recent_events(history):
    compute_kpis("--all")
    e10 = Ticket.objects.get(external_id="E10")
    TicketFact.objects.filter(ticket=e10).update(reopens=9)  # as if a refresh missed it
    TicketEvent.objects.filter(ticket=e10).update(at=datetime.now(UTC) - timedelta(hours=1))
    kpi_rollups_recent_days()
    assert TicketFact.objects.get(ticket=e10).reopens == 0


def test_compute_kpis_rejects_bad_arguments(history):
    with pytest.raises(CommandError, match="not a date"):
        compute_kpis("--start", "2026-13-01")
    with pytest.raises(CommandError, match="IANA"):
        compute_kpis("--start", "2026-01-01", "--tz", "Mars/Base")
    with pytest.raises(CommandError, match="--all"):
        compute_kpis("--all", "--start", "2026-01-01")
    assert TicketFact.objects.count() == 0


def test_rollups_equal_live_on_random_periods_of_a_demo_history(db):
    """Property: for any period, time zone and filter, rollups + live overlay = live."""
    import random

    from inbox.demo import demo_seed
    from inbox.models import Agent, Inbox, Team

    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    demo_seed(tickets=120, seed=7, now=now, days=30)
    compute_kpis("--all")
    # Some tickets change after the refresh: they must be read live.
    for ticket in Ticket.objects.filter(status="open").order_by("id")[:5]:
        ticket_set_status(ticket=ticket, status="resolved", by=None, at=now)
    rng = random.Random(11)
    zones = ["UTC", "Asia/Jakarta", "America/Los_Angeles", "Asia/Kathmandu"]
    dimensions = {"inbox": list(Inbox.objects.values_list("pk", flat=True)),
                  "team": list(Team.objects.values_list("pk", flat=True)),
                  "agent": list(Agent.objects.values_list("pk", flat=True)),
                  "channel": ["email", "whatsapp", "widget"]}
    for _ in range(8):
        start = date(2026, 2, 1) + timedelta(days=rng.randrange(30))
        end = start + timedelta(days=rng.randrange(10))
        filters = {}
        if rng.random() < 0.6:
            name = rng.choice(sorted(dimensions))
            filters[name] = rng.choice(dimensions[name])
        live, rolled_up = both(start.isoformat(), end.isoformat(), rng.choice(zones), **filters)
        assert rolled_up == live, (start, end, filters)
