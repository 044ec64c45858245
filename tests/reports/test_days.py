"""The day layer gives the figures of the per-ticket rows and of the log, for the zones it
holds, with any filter, before and after the tickets touched since a refresh are folded in;
its percentiles are percentile_cont's to the bit."""

from datetime import UTC, date, datetime
from io import StringIO

import pytest
from django.core.management import call_command

from inbox.models import Ticket, TicketEvent
from inbox.services.messages import message_reply
from inbox.services.tickets import ticket_event_record, ticket_set_status
from reports import kpis
from reports.day_kpis import day_layer_get
from reports.kpis import KpiQuery, kpi_report
from reports.models import DurationDay, RollupState, SurveyDay, TicketDay
from reports.period import Period
from reports.tasks import kpi_rollups_refresh
from tests.reports.conftest import email, message, tickets_import, widget

pytestmark = pytest.mark.django_db

ZONES = ["UTC", "Asia/Jakarta"]


@pytest.fixture(autouse=True)
def rollup_zones(settings):
    settings.REPORT_ROLLUP_TIME_ZONES = ZONES


def compute_kpis(*args) -> str:
    out = StringIO()
    call_command("compute_kpis", *args, stdout=out)
    return out.getvalue()


def query(start="2026-01-05", end="2026-01-06", tz="UTC", **filters) -> KpiQuery:
    return KpiQuery(period=Period(date.fromisoformat(start), date.fromisoformat(end), tz),
                    **filters)


def three_ways(monkeypatch, q: KpiQuery) -> tuple[dict, dict, dict]:
    """The report from the log, from the per-ticket rows and as the API computes it."""
    live = kpi_report(query=KpiQuery(**{**q.__dict__, "live": True}))
    with monkeypatch.context() as patch:
        patch.setattr(kpis, "day_layer_get", lambda tz: None)
        per_ticket = kpi_report(query=q)
    return live, per_ticket, kpi_report(query=q)


def day_rows():
    return [sorted(model.objects.values_list(*[f.attname for f in model._meta.fields][1:]),
                   key=str) for model in (TicketDay, SurveyDay, DurationDay)]


FILTERS = [{}, {"channel": "email"}, {"channel": "widget"}, {"inbox": "chat"},
           {"team": "team"}, {"agent": "bo"}, {"agent": "ana", "channel": "email"}]


@pytest.mark.parametrize("tz", ["UTC", "Asia/Jakarta", "America/New_York"])
@pytest.mark.parametrize(("start", "end"), [("2026-01-05", "2026-01-06"),
                                            ("2026-01-06", "2026-01-06"),
                                            ("2025-12-15", "2026-01-10")])
def test_day_layer_equals_per_ticket_rows_and_log(history, monkeypatch, tz, start, end):
    compute_kpis("--all")
    assert (day_layer_get(tz) is not None) == (tz in ZONES)
    for filters in FILTERS:
        ids = {name: history[value].pk if name != "channel" else value
               for name, value in filters.items()}
        live, per_ticket, report = three_ways(monkeypatch, query(start, end, tz, **ids))
        assert report == per_ticket == live, filters


def test_utc_figures_by_hand_from_the_day_layer(history):
    from tests.reports.test_kpis import UTC_REPORT

    compute_kpis("--all")
    assert TicketDay.objects.filter(tz="UTC").exists()
    assert kpi_report(query=query()) == UTC_REPORT


def touch_every_kind(history):
    """After the refresh: a reply, a reopen, a new resolution, a changed survey answer."""
    w9, e2, w5 = (Ticket.objects.get(external_id=name) for name in ("W9", "E2", "W5"))
    # W6 gets its first agent reply (on 01-06, first response 30 min).
    message_reply(ticket=Ticket.objects.get(external_id="W6"), agent=history["bo"],
                  body="Hello", at=datetime(2026, 1, 6, 23, 30, tzinfo=UTC))
    ticket_set_status(ticket=e2, status="open", by=None, at=datetime(2026, 1, 6, 8, tzinfo=UTC))
    ticket_set_status(ticket=w5, status="resolved", by=None,
                      at=datetime(2026, 1, 6, 20, tzinfo=UTC))
    ticket_set_status(ticket=w9, status="resolved", by=None,
                      at=datetime(2026, 1, 6, 12, tzinfo=UTC))
    answer = e2.events.get(type=TicketEvent.Type.SURVEY_ANSWERED, data__kind="csat")
    ticket_event_record(ticket=e2, type=TicketEvent.Type.SURVEY_ANSWERED,
                        at=datetime(2026, 1, 6, 9, tzinfo=UTC), data={**answer.data, "score": 1})


@pytest.mark.parametrize("tz", ZONES)
def test_tickets_touched_after_the_refresh_give_the_same_report_before_and_after_the_next(
        history, monkeypatch, tz):
    kpi_rollups_refresh()
    before = kpi_report(query=query(tz=tz))
    touch_every_kind(history)
    live, per_ticket, overlaid = three_ways(monkeypatch, query(tz=tz))
    assert overlaid == per_ticket == live
    assert overlaid != before
    # E2 is no longer resolved; W9 is, and W5 too before the end of 01-06 in UTC, as is W6's
    # reply (23:30Z is 01-07 in Jakarta).
    in_utc = int(tz == "UTC")
    assert (overlaid["tickets_resolved"], overlaid["first_response"]["count"]) == (
        before["tickets_resolved"] + in_utc, before["first_response"]["count"] + in_utc)
    stale = day_rows()
    kpi_rollups_refresh()
    assert day_rows() != stale
    assert kpi_report(query=query(tz=tz)) == live
    for filters in ({"agent": history["bo"].pk}, {"channel": "widget"}):
        live, per_ticket, report = three_ways(monkeypatch, query(tz=tz, **filters))
        assert report == per_ticket == live
    # Two whole weeks (Monday 12-29 to Sunday 01-11): read from the week rows.
    ticket_set_status(ticket=Ticket.objects.get(external_id="W8"), status="resolved", by=None,
                      at=datetime(2026, 1, 8, 9, tzinfo=UTC))
    live, per_ticket, report = three_ways(monkeypatch, query("2025-12-29", "2026-01-11", tz))
    assert report == per_ticket == live


def test_refresh_keeps_the_day_tables_equal_to_a_rebuild(history):
    kpi_rollups_refresh()
    touch_every_kind(history)
    kpi_rollups_refresh()
    refreshed = day_rows()
    kpi_rollups_refresh()
    compute_kpis("--start", "2026-01-01", "--end", "2026-01-31")
    assert day_rows() == refreshed
    compute_kpis("--all")
    assert day_rows() == refreshed
    # No row is all zeros: those left by the changes were deleted.
    assert not TicketDay.objects.filter(created=0, first_responses=0, resolved=0,
                                        backlog_starts=0, backlog_ends=0).exists()
    assert not DurationDay.objects.filter(tickets=0).exists()


def test_zones_follow_the_setting(history, settings, monkeypatch):
    compute_kpis("--all")
    assert set(TicketDay.objects.values_list("tz", flat=True)) == set(ZONES)
    settings.REPORT_ROLLUP_TIME_ZONES = ["UTC", "Asia/Kolkata"]
    assert day_layer_get("Asia/Kolkata") is None  # not built yet: the per-ticket rows answer
    kpi_rollups_refresh()
    assert set(TicketDay.objects.values_list("tz", flat=True)) == {"UTC", "Asia/Kolkata"}
    assert RollupState.objects.get().zones() == ["UTC", "Asia/Kolkata"]
    assert day_layer_get("Asia/Jakarta") is None
    live, per_ticket, report = three_ways(monkeypatch, query(tz="Asia/Kolkata"))
    assert report == per_ticket == live


def test_day_layer_is_built_by_the_first_refresh_after_the_upgrade(history):
    compute_kpis("--all")
    RollupState.objects.update(day_zones=None)
    TicketDay.objects.all().delete()
    assert day_layer_get("UTC") is None
    compute_kpis()
    assert day_layer_get("UTC") is not None and TicketDay.objects.filter(tz="UTC").exists()


def replies(*seconds_list, channel="email", day="2026-02-02"):
    """One ticket per first-response time, all created at 09:00 on `day`."""
    lines = []
    for n, seconds in enumerate(seconds_list):
        at = datetime.fromisoformat(f"{day}T09:00:00+00:00")
        reply = datetime.fromtimestamp(at.timestamp() + seconds, UTC)
        make = email if channel == "email" else widget
        lines.append(make(f"P{day}{channel}{n}", [
            message("inbound", at.isoformat()), message("outbound", reply.isoformat(),
                                                         "ana@example.com")]))
    return lines


@pytest.mark.parametrize("seconds", [
    [0], [0, 0], [0, 0.001], [42.5], [10, 1000],  # N = 1, 2: across buckets
    [0, 0, 0, 7, 7, 7.001, 3600, 3600.5, 50000],
    # Ranks 4 and 5 of the median (position 4.5) in adjacent buckets, and p90 (8.1) too.
    [1, 2, 3, 4, 100, 106, 112, 118, 124, 10000],
])
def test_percentiles_equal_percentile_cont(db, tmp_path, monkeypatch, seconds):
    from inbox.models import Inbox
    from tests.factories import InboxFactory

    InboxFactory(slug="support-email", kind=Inbox.Kind.EMAIL)
    tickets_import(tmp_path, [*replies(*seconds), *replies(5, 50, 500, channel="widget")])
    compute_kpis("--all")
    q = query("2026-02-02", "2026-02-02")
    live, per_ticket, report = three_ways(monkeypatch, q)
    assert report == per_ticket == live
    assert report["by_channel"]["email"]["first_response_median_s"] == (
        live["by_channel"]["email"]["first_response_median_s"])
    assert report["first_response"]["count"] == len(seconds) + 3
    email_only = three_ways(monkeypatch, query("2026-02-02", "2026-02-02", channel="email"))
    assert email_only[2] == email_only[1] == email_only[0]
    assert email_only[2]["first_response"]["median_s"] == pytest.approx(
        sorted(seconds)[(len(seconds) - 1) // 2] if len(seconds) % 2 else
        (sorted(seconds)[len(seconds) // 2 - 1] + sorted(seconds)[len(seconds) // 2]) / 2)


def test_backlog_aging_of_tickets_created_on_a_limit(history, tmp_path, monkeypatch):
    """Created exactly 1, 3 and 7 days before the end: each is in the older class."""
    tickets_import(tmp_path, [
        widget(f"L{days}", [message("inbound", at)])
        for days, at in ((1, "2026-01-06T00:00:00Z"), (3, "2026-01-04T00:00:00Z"),
                         (7, "2025-12-31T00:00:00Z"))])
    compute_kpis("--all")
    live, per_ticket, report = three_ways(monkeypatch, query())
    assert report == per_ticket == live
    # Before: lt_1d W6 W9, d1_3 W5 W8, gt_7d E10. L1 joins d1_3, L3 d3_7, L7 gt_7d.
    assert report["backlog"]["aging"] == {"lt_1d": 2, "d1_3": 3, "d3_7": 1, "gt_7d": 2}


@pytest.mark.parametrize(("start", "end"), [("2026-03-02", "2026-03-10"),
                                            ("2026-01-05", "2026-01-06")])
def test_aging_across_a_change_of_utc_offset_reads_the_spans(history, settings, monkeypatch,
                                                             start, end):
    """New York moved its clocks on 2026-03-08: a week before 03-10 is not 7 local days."""
    settings.REPORT_ROLLUP_TIME_ZONES = ["UTC", "America/New_York"]
    compute_kpis("--all")
    assert day_layer_get("America/New_York") is not None
    live, per_ticket, report = three_ways(monkeypatch, query(start, end, "America/New_York"))
    assert report == per_ticket == live
    assert report["backlog"]["end"] > 0
