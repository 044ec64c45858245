"""Hourly arrivals from history, and the agents each hour needs (Erlang C, `erlang`)."""

from dataclasses import dataclass

from . import erlang
from .query import KpiQuery, filters_sql
from .sources import source_get
from .sql import fetch_all, local_hour


def hourly_arrivals(*, query: KpiQuery) -> list[float]:
    """Mean tickets created in each hour of the day (0–23, report time zone) over the
    period's days."""
    p = query.period
    where, params = filters_sql(query)
    facts = source_get(live=query.live).facts
    rows = fetch_all(
        f"SELECT {local_hour('created_at', p.tz)}, COUNT(*) FROM ({facts.sql}) f "
        f"WHERE created_at >= %s AND created_at < %s{where} GROUP BY 1",
        [*facts.params, p.since, p.until, *params])
    counts = dict(rows)
    days = len(p.days)
    return [counts.get(hour, 0) / days for hour in range(24)]


@dataclass(frozen=True)
class HourPlan:
    hour: int
    staffing: erlang.Staffing


def staffing_plan(*, arrivals: list[float], handle_seconds: float, target_level: float,
                  target_seconds: float) -> list[HourPlan]:
    return [HourPlan(hour, erlang.agents_needed(
        arrivals_per_hour=per_hour, handle_seconds=handle_seconds, target_level=target_level,
        target_seconds=target_seconds)) for hour, per_hour in enumerate(arrivals)]
