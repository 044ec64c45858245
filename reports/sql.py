"""SQL fragments that differ between PostgreSQL and SQLite.

Every KPI is an aggregate in the database; these helpers hide the dialect: durations in
seconds, JSON keys of the event log, local dates in a time zone and exact percentiles
(percentile_cont on PostgreSQL; ROW_NUMBER/COUNT windows on SQLite, same formula).
"""

from datetime import datetime

import re

from django.db import connection

PERCENTILES = (0.5, 0.9)
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_+\-/]+$")


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def seconds_between(end: str, start: str) -> str:
    if is_postgres():
        return f"EXTRACT(EPOCH FROM ({end} - {start}))::float8"
    # julianday has millisecond precision; rounding to it keeps whole seconds exact.
    return f"(ROUND((julianday({end}) - julianday({start})) * 86400000.0) / 1000.0)"


def duration_units(end: str, start: str) -> tuple[str, int]:
    """A duration as an exact integer (microseconds on PostgreSQL, milliseconds on SQLite),
    and the units per second: sums of it do not depend on the order rows are added in."""
    if is_postgres():
        return f"(EXTRACT(EPOCH FROM ({end} - {start})) * 1000000)::bigint", 1_000_000
    return (f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400000.0) AS INTEGER)",
            1000)


def json_text(column: str, key: str) -> str:
    if is_postgres():
        return f"({column} ->> '{key}')"
    return f"json_extract({column}, '$.{key}')"


def json_int(column: str, key: str) -> str:
    if is_postgres():
        return f"({column} ->> '{key}')::int"
    return f"CAST(json_extract({column}, '$.{key}') AS INTEGER)"


def _zone(tz: str) -> str:
    # Validated by period_parse; checked again because it is written into the SQL text.
    if not _ZONE_NAME.match(tz):
        raise ValueError(f"bad time zone name {tz!r}")
    return tz


def local_date(column: str, tz: str) -> str:
    """The calendar date of a UTC timestamp column in the IANA zone `tz`."""
    if is_postgres():
        return f"(({column}) AT TIME ZONE '{_zone(tz)}')::date"
    # Django registers these functions on every SQLite connection (TruncDate, ExtractHour).
    return f"django_datetime_cast_date({column}, '{_zone(tz)}', 'UTC')"


def local_hour(column: str, tz: str) -> str:
    if is_postgres():
        return f"EXTRACT(HOUR FROM ({column}) AT TIME ZONE '{_zone(tz)}')::int"
    return f"django_datetime_extract('hour', {column}, '{_zone(tz)}', 'UTC')"


def percentiles_sql(*, values_sql: str, params, aggregates=(), percentiles=PERCENTILES,
                    total: bool = False) -> tuple[str, list]:
    """One row per group `g` of `values_sql` (which has columns `g`, `v` and any others):
    (is_total, g, *aggregates, *percentiles of v), percentiles interpolated linearly between
    closest ranks. `aggregates` are SQL aggregate expressions over the columns of
    `values_sql`. With `total`, one more row (is_total = 1) covers every group together.
    Returns the SQL and its parameters (`params` are those of `values_sql`)."""
    extra = "".join(f"{aggregate} AS a{i}, " for i, aggregate in enumerate(aggregates))
    if is_postgres():
        columns = ", ".join(
            f"percentile_cont({p}) WITHIN GROUP (ORDER BY v)" for p in percentiles
        )
        grouping = "GROUPING SETS ((g), ())" if total else "g"
        return (f"SELECT GROUPING(g), g, {extra}{columns} FROM ({values_sql}) pv "
                f"GROUP BY {grouping}", list(params))
    parts = [_ranked_percentiles(values_sql, extra, len(aggregates), percentiles, total=False)]
    if total:
        parts.append(_ranked_percentiles(values_sql, extra, len(aggregates), percentiles,
                                         total=True))
    return " UNION ALL ".join(parts), list(params) * len(parts)


def _ranked_percentiles(values_sql, extra, aggregates, percentiles, *, total: bool) -> str:
    """SQLite: percentiles per group (or of all rows) from ROW_NUMBER() and COUNT() windows.
    position = p(n−1); value = x[floor] + (x[ceil] − x[floor]) × (position − floor)."""
    picks = ", ".join(
        f"MAX(CASE WHEN rn = CAST({p} * (n - 1) AS INTEGER) + 1 THEN v END) AS lo{i}, "
        f"MAX(CASE WHEN rn = CAST({p} * (n - 1) AS INTEGER) + 2 THEN v END) AS hi{i}, "
        f"{p} * (MAX(n) - 1) - CAST({p} * (MAX(n) - 1) AS INTEGER) AS fr{i}"
        for i, p in enumerate(percentiles)
    )
    interpolated = ", ".join(
        f"CASE WHEN fr{i} = 0 OR hi{i} IS NULL THEN lo{i} ELSE lo{i} + (hi{i} - lo{i}) * fr{i} END"
        for i in range(len(percentiles))
    )
    outer_extra = "".join(f"a{i}, " for i in range(aggregates))
    partition = "" if total else "PARTITION BY g"
    ranked = (
        f"SELECT pv.*, ROW_NUMBER() OVER ({partition} ORDER BY v) AS rn, "
        f"COUNT(*) OVER ({partition}) AS n FROM ({values_sql}) pv"
    )
    grouped = "NULL AS g" if total else "g"
    group_by = "HAVING COUNT(*) > 0" if total else "GROUP BY g"
    return (f"SELECT * FROM (SELECT {int(total)}, g, {outer_extra}{interpolated} "
            f"FROM (SELECT {grouped}, {extra}{picks} FROM ({ranked}) r {group_by}) q)")


def params_adapt(params) -> list:
    """Timestamps as the database stores them (SQLite compares them as text)."""
    return [connection.ops.adapt_datetimefield_value(value) if isinstance(value, datetime)
            else value for value in params]


def fetch_all(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params_adapt(params))
        return cursor.fetchall()
