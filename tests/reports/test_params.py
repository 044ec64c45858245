from datetime import date

from reports.kpis import KpiQuery
from reports.params import previous_query
from reports.period import Period


def test_previous_query_keeps_every_filter_over_the_period_before():
    query = KpiQuery(period=Period(start=date(2026, 1, 5), end=date(2026, 1, 6),
                                   tz="Asia/Jakarta"),
                     inbox=1, channel="email", team=2, agent=3, live=True)
    assert previous_query(query) == KpiQuery(
        period=Period(start=date(2026, 1, 3), end=date(2026, 1, 4), tz="Asia/Jakarta"),
        inbox=1, channel="email", team=2, agent=3, live=True)
