"""Every field of the KPI JSON against figures computed by hand from the history in
conftest.py (SPEC §7)."""

from datetime import date

import pytest

from reports.kpis import KpiQuery, kpi_breakdown, kpi_report
from reports.period import Period

pytestmark = pytest.mark.django_db

UTC_REPORT = {
    "period": {"start": "2026-01-05", "end": "2026-01-06", "tz": "UTC"},
    # E1 E2 E3 E4 W5 W6 W8 W9; E7 and E10 are older.
    "tickets_created": 8,
    # Latest resolution in the period and resolved/closed now: E1 E2 E3 E4 E7 (not W8).
    "tickets_resolved": 5,
    # With a reply: E2 E3 E4 E7; one reply and no reopen: E2 E7 (E3 two replies, E4 reopened).
    "fcr": {"rate": 0.5, "resolved_with_reply": 4, "first_contact": 2},
    # W9 30, W8 300, E4 600, E2 1800, E3 3600, W5 4800 (its bot message does not count);
    # E7's reply was on 01-04. Median at rank 2.5, p90 at 4.5.
    "first_response": {"count": 6, "median_s": 1200.0, "p90_s": 4200.0, "mean_s": 1855.0},
    # E1 3600, E2 3600, E3 14400, E4 86400 (to its latest resolution), E7 86400.
    "resolution": {"count": 5, "median_s": 14400.0, "p90_s": 86400.0, "mean_s": 38880.0},
    "reopen_rate": 0.2,  # E4
    # At 01-05 00:00: E7, E10. End of 01-05: E4 W5 W8 E10. End of 01-06: W5 W6 W8 W9 E10.
    "backlog": {"end": 5, "daily": [{"date": "2026-01-05", "count": 4},
                                    {"date": "2026-01-06", "count": 5}],
                "aging": {"lt_1d": 2, "d1_3": 2, "d3_7": 0, "gt_7d": 1}},
    # E2 5, E3 3 (changed from 2), E4 4; sent E2 E3 E4 E7, E7 unanswered.
    "csat": {"score": 100 * 2 / 3, "answers": 3, "sent": 4, "response_rate": 0.75},
    # E1 9, E2 10, E3 7, E4 0.
    "nps": {"score": 25.0, "promoters": 2, "passives": 1, "detractors": 1, "answers": 4},
    # E2 2, W5 5; W9's answer came on 01-07.
    "ces": {"mean": 3.5, "answers": 2},
    "self_service": {"rate": None},
    "by_channel": {
        "email": {"tickets_created": 4, "fcr_rate": 0.5, "first_response_median_s": 1800.0,
                  "csat_score": 100 * 2 / 3},
        "widget": {"tickets_created": 4, "fcr_rate": None, "first_response_median_s": 300.0,
                   "csat_score": None},
    },
}


def report(live=True, start="2026-01-05", end="2026-01-06", tz="UTC", **filters):
    period = Period(start=date.fromisoformat(start), end=date.fromisoformat(end), tz=tz)
    return kpi_report(query=KpiQuery(period=period, live=live, **filters))


def test_every_field_in_utc(history):
    assert report() == UTC_REPORT


def test_days_and_backlog_follow_the_report_time_zone(history):
    jakarta = report(tz="Asia/Jakarta")  # UTC+7: the period is 01-04 17:00Z..01-06 17:00Z
    # E7 (01-04 10:00Z) is before it and W6 (01-06 23:00Z) after it.
    assert jakarta["tickets_created"] == 7
    # At the start: E7, E10. 01-05 17:00Z: E4 W5 W8 E10. 01-06 17:00Z: W5 W8 W9 E10.
    assert jakarta["backlog"] == {
        "end": 4, "daily": [{"date": "2026-01-05", "count": 4},
                            {"date": "2026-01-06", "count": 4}],
        "aging": {"lt_1d": 1, "d1_3": 2, "d3_7": 0, "gt_7d": 1},
    }
    assert jakarta["period"] == {"start": "2026-01-05", "end": "2026-01-06",
                                 "tz": "Asia/Jakarta"}


def test_one_day_period_ends_at_its_midnight(history):
    one_day = report(end="2026-01-05")
    assert one_day["backlog"] == {
        "end": 4, "daily": [{"date": "2026-01-05", "count": 4}],
        # At 01-06 00:00: E4 and W5 (12h, 15h), W8 (15h), E10.
        "aging": {"lt_1d": 3, "d1_3": 0, "d3_7": 0, "gt_7d": 1},
    }
    # E4's latest resolution is on 01-06: it is not resolved on 01-05.
    assert (one_day["tickets_resolved"], one_day["fcr"]) == (
        4, {"rate": 2 / 3, "resolved_with_reply": 3, "first_contact": 2})
    assert one_day["resolution"] == {"count": 4, "median_s": 9000.0,
                                     "p90_s": pytest.approx(64800.0, rel=1e-12),
                                     "mean_s": 27000.0}


def test_empty_period_gives_zeros_and_nulls(history):
    empty = report(start="2025-06-01", end="2025-06-01")
    assert empty["tickets_created"] == 0
    assert empty["fcr"] == {"rate": None, "resolved_with_reply": 0, "first_contact": 0}
    assert empty["first_response"] == {"count": 0, "median_s": None, "p90_s": None,
                                       "mean_s": None}
    assert empty["reopen_rate"] is None
    assert empty["csat"] == {"score": None, "answers": 0, "sent": 0, "response_rate": None}
    assert empty["nps"]["score"] is None and empty["ces"] == {"mean": None, "answers": 0}
    assert empty["backlog"]["end"] == 0 and empty["by_channel"] == {}


def test_inbox_and_channel_filters(history):
    chat = report(inbox=history["chat"].pk)
    assert chat == report(channel="widget")
    assert (chat["tickets_created"], chat["tickets_resolved"]) == (4, 0)
    # W9 30, W8 300, W5 4800: p90 at rank 1.8.
    assert chat["first_response"] == {"count": 3, "median_s": 300.0,
                                      "p90_s": pytest.approx(300 + 0.8 * 4500),
                                      "mean_s": 1710.0}
    assert [d["count"] for d in chat["backlog"]["daily"]] == [2, 4]
    assert chat["ces"] == {"mean": 5.0, "answers": 1}
    assert list(chat["by_channel"]) == ["widget"]


def test_team_filter(history):
    billing = report(team=history["team"].pk)
    assert billing == report(inbox=history["email"].pk)
    assert billing["tickets_created"] == 4 and billing["tickets_resolved"] == 5
    assert [d["count"] for d in billing["backlog"]["daily"]] == [2, 1]


def test_agent_filter_counts_the_tickets_assigned_to_the_agent(history):
    ana = report(agent=history["ana"].pk)  # E2 and E3
    assert (ana["tickets_created"], ana["tickets_resolved"]) == (2, 2)
    assert ana["fcr"] == {"rate": 0.5, "resolved_with_reply": 2, "first_contact": 1}
    assert ana["first_response"] == {"count": 2, "median_s": 2700.0, "p90_s": 3420.0,
                                     "mean_s": 2700.0}
    assert ana["csat"] == {"score": 50.0, "answers": 2, "sent": 2, "response_rate": 1.0}
    assert ana["nps"] == {"score": 50.0, "promoters": 1, "passives": 1, "detractors": 0,
                          "answers": 2}
    assert ana["backlog"]["daily"] == [{"date": "2026-01-05", "count": 0},
                                       {"date": "2026-01-06", "count": 0}]
    bo = report(agent=history["bo"].pk)  # E4 and E7
    assert (bo["tickets_created"], bo["tickets_resolved"], bo["reopen_rate"]) == (1, 2, 0.5)
    assert [d["count"] for d in bo["backlog"]["daily"]] == [1, 0]


def test_breakdown_by_day_and_agent(history):
    query = KpiQuery(period=Period(date(2026, 1, 5), date(2026, 1, 6)), live=True)
    days = {row["key"]: row for row in kpi_breakdown(query=query, by="day")}
    assert days["2026-01-05"]["tickets_resolved"] == 4
    assert days["2026-01-06"]["tickets_resolved"] == 1  # E4
    assert days["2026-01-06"]["csat"]["answers"] == 2  # E3's change and E4
    agents = {row["key"]: row for row in kpi_breakdown(query=query, by="agent")}
    assert set(agents) == {None, history["ana"].pk, history["bo"].pk}
    assert agents[history["bo"].pk]["first_response"]["count"] == 1  # E4; E7's was on 01-04
