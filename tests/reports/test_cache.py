"""The overview's figures in one pass, and the tiles' summary, equal the separate selectors;
the pages cache them:
a finished period until the rollups are refreshed, a period including now for 60 s."""

from datetime import UTC, date, datetime

import pytest

from reports import views
from reports.cache import report_cache_clear, report_cache_timeout
from reports.kpis import KpiQuery, kpi_breakdown, kpi_overview, kpi_report, kpi_summary
from reports.period import Period
from reports.tasks import kpi_rollups_refresh

pytestmark = pytest.mark.django_db
PERIOD = {"start": "2026-01-05", "end": "2026-01-06"}


@pytest.mark.parametrize("live", [True, False])
@pytest.mark.parametrize("tz", ["UTC", "Asia/Jakarta"])
def test_overview_equals_the_report_and_each_breakdown(history, live, tz):
    kpi_rollups_refresh()
    for filters in ({}, {"agent": history["bo"].pk}, {"channel": "email"}):
        query = KpiQuery(period=Period(date(2026, 1, 4), date(2026, 1, 6), tz), live=live,
                         **filters)
        overview = kpi_overview(query=query)
        report = kpi_report(query=query)
        assert overview["report"] == report
        # The tiles' previous period: the same figures, without by_channel and the series.
        summary = kpi_summary(query=query)
        assert summary == {**{key: report[key] for key in summary if key != "backlog"},
                           "backlog": {"end": report["backlog"]["end"]}}
        assert set(report) - set(summary) == {"period", "self_service", "by_channel"}
        assert list(overview["breakdowns"]) == ["channel", "agent", "team", "day"]
        for by, rows in overview["breakdowns"].items():
            assert rows == kpi_breakdown(query=query, by=by)


def test_overview_figures_by_agent_and_day(history):
    query = KpiQuery(period=Period(date(2026, 1, 5), date(2026, 1, 6)))
    breakdowns = kpi_overview(query=query)["breakdowns"]
    days = {row["key"]: row for row in breakdowns["day"]}
    assert [(key, row["tickets_created"], row["tickets_resolved"])
            for key, row in days.items()] == [("2026-01-05", 6, 4), ("2026-01-06", 2, 1)]
    agents = {row["key"]: row for row in breakdowns["agent"]}
    ana = agents[history["ana"].pk]
    assert (ana["tickets_created"], ana["first_response"]["median_s"],
            ana["first_response"]["p90_s"]) == (2, 2700.0, 3420.0)


def test_cache_timeout_depends_on_whether_the_period_has_ended():
    period = Period(date(2026, 1, 5), date(2026, 1, 6), "Asia/Jakarta")  # until 01-06 17:00Z
    query = KpiQuery(period=period)
    assert report_cache_timeout(query=query, now=datetime(2026, 1, 6, 17, tzinfo=UTC)) == 86400
    assert report_cache_timeout(query=query, now=datetime(2026, 1, 6, 16, 59, tzinfo=UTC)) == 60


@pytest.fixture
def computed(monkeypatch):
    """Counts the overview computations of the page."""
    calls = []

    def counting(*, query):
        calls.append(query)
        return kpi_overview(query=query)

    monkeypatch.setattr(views, "kpi_overview", counting)
    return calls


def test_a_finished_period_is_cached_until_the_rollups_are_refreshed(history, admin_agent,
                                                                     client, computed):
    client.force_login(admin_agent)
    kpi_rollups_refresh()
    first = client.get("/reports/", PERIOD).context["report"]
    assert client.get("/reports/", PERIOD).context["report"] == first
    assert client.get("/reports/export/agent.csv", PERIOD).status_code == 200
    assert len(computed) == 1
    kpi_rollups_refresh()  # a new refresh stamp: computed again, same figures
    assert client.get("/reports/", PERIOD).context["report"] == first
    assert len(computed) == 2
    # Other filters are other figures.
    client.get("/reports/", {**PERIOD, "channel": "email"})
    assert len(computed) == 3
    report_cache_clear()
    client.get("/reports/", PERIOD)
    assert len(computed) == 4


def test_a_period_including_today_is_cached_for_a_minute(history, admin_agent, client,
                                                         computed, report_cache):
    client.force_login(admin_agent)
    client.get("/reports/")
    client.get("/reports/")
    assert len(computed) == 1
    query = computed[0]
    assert query.period.until > datetime.now(UTC)
    from reports.cache import report_cache_key

    key = report_cache.make_and_validate_key(report_cache_key(name="overview", query=query))
    import time

    assert 59 <= report_cache._expire_info[key] - time.time() <= 60
