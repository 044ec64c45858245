"""SQL fragments that differ between PostgreSQL and SQLite.

Every KPI is an aggregate in the database; these helpers hide the dialect: durations in
seconds, JSON keys of the event log, local dates in a time zone and exact percentiles
(percentile_cont on PostgreSQL; ROW_NUMBER/COUNT windows on SQLite, same formula).
"""

from datetime import date, datetime

import re

from django.db import connection

PERCENTILES = (0.5, 0.9)
_ZONE_NAME = re.compile(r"^[A-Za-z0-9_+\-/]+$")


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def _microseconds(end: str, start: str) -> str:
    """PostgreSQL: `end - start` in whole microseconds, in floating point arithmetic.

    date_part gives the interval's seconds as a double (days × 86400 + µs / 10⁶), off by at
    most a few units in the last place: far less than half a microsecond for any duration
    under a century, so rounding recovers the exact count. EXTRACT gives the same number
    through `numeric` arithmetic, about twice as slow over a large period."""
    return f"ROUND(date_part('epoch', {end} - {start}) * 1000000)::bigint"


def seconds_between(end: str, start: str) -> str:
    if is_postgres():
        # Microseconds over 10⁶: the double nearest the exact number of seconds, the value
        # EXTRACT(EPOCH FROM …)::float8 gives too (both are correctly rounded).
        return f"({_microseconds(end, start)}::float8 / 1000000)"
    # julianday has millisecond precision; rounding to it keeps whole seconds exact.
    return f"(ROUND((julianday({end}) - julianday({start})) * 86400000.0) / 1000.0)"


def duration_units(end: str, start: str) -> tuple[str, int]:
    """A duration as an exact integer (microseconds on PostgreSQL, milliseconds on SQLite),
    and the units per second: sums of it do not depend on the order rows are added in."""
    if is_postgres():
        return _microseconds(end, start), 1_000_000
    return (f"CAST(ROUND((julianday({end}) - julianday({start})) * 86400000.0) AS INTEGER)",
            1000)


# Buckets per factor e of (1 + seconds): each bucket spans about 6% of its values.
BUCKETS_PER_E = 16


def duration_bucket(units: str, per_second: int) -> str:
    """The histogram bucket of a duration in `units` (reports.sql.duration_units): floor(16 ×
    ln(1 + seconds)), -1 for a negative duration (a reply dated before its ticket).

    A non-decreasing function of the duration, so all the values of a bucket sort between
    those of the buckets below and above it. It is computed by the database wherever it is
    needed (stored facts, live rows), so one duration always gets one bucket."""
    if is_postgres():
        scaled = f"{BUCKETS_PER_E} * ln(1 + ({units})::float8 / {per_second})"
        return f"(CASE WHEN ({units}) < 0 THEN -1 ELSE floor({scaled})::int END)"
    scaled = f"{BUCKETS_PER_E} * LN(1 + ({units}) / {per_second}.0)"
    return f"(CASE WHEN ({units}) < 0 THEN -1 ELSE CAST({scaled} AS INTEGER) END)"


def json_text(column: str, key: str) -> str:
    if is_postgres():
        return f"({column} ->> '{key}')"
    return f"json_extract({column}, '$.{key}')"


def json_int(column: str, key: str) -> str:
    return f"CAST({json_text(column, key)} AS INTEGER)"


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


def local_week(column: str, tz: str) -> str:
    """The Monday of the calendar week of a UTC timestamp column in the IANA zone `tz`."""
    if is_postgres():
        return f"date_trunc('week', ({column}) AT TIME ZONE '{_zone(tz)}')::date"
    return f"date({local_date(column, tz)}, 'weekday 0', '-6 days')"


def before_days_after(later: str, earlier: str, days: int) -> str:
    """`later` is less than `days` days after `earlier` (two timestamp columns)."""
    if is_postgres():
        return f"{later} < {earlier} + interval '{int(days)} days'"
    return f"julianday({later}) < julianday({earlier}) + {int(days)}"


def local_hour(column: str, tz: str) -> str:
    if is_postgres():
        return f"EXTRACT(HOUR FROM ({column}) AT TIME ZONE '{_zone(tz)}')::int"
    return f"django_datetime_extract('hour', {column}, '{_zone(tz)}', 'UTC')"


def grouping_sets_sql(*, values_sql: str, params, sets: int, whole: int | None = None,
                      aggregates=(), also=(), percentiles=()) -> tuple[str, list]:
    """Aggregates over several groupings of the same rows in one statement.

    `values_sql` has the columns g0 … g{sets-1} (one grouping each; a constant for "all
    rows"), `v` (the value the `percentiles` are of, interpolated linearly between closest
    ranks) and whatever `aggregates` (SQL aggregate expressions) and `also` (columns every
    grouping is also grouped by) read. The result has one row per group of each grouping:
    (grouping mask, g0 … g{sets-1}, *also, *aggregates, *percentiles); `grouped_rows` turns
    it into (set index, key, …). `whole`: the index of the grouping of all rows together
    (its g is a constant); PostgreSQL computes it along with another grouping's sort
    instead of sorting the rows by a constant, and returns it even from no rows (aggregates
    0 or NULL). Returns the SQL and its parameters."""
    extra = "".join(f", {aggregate} AS a{i}" for i, aggregate in enumerate(aggregates))
    also_sql = "".join(f", {column}" for column in also)
    if is_postgres():
        columns = "".join(
            f", percentile_cont({p}) WITHIN GROUP (ORDER BY v)" for p in percentiles)
        grouping = ", ".join(f"({also_sql[2:]})" if i == whole else f"(g{i}{also_sql})"
                             for i in range(sets))
        grouped = ", ".join(f"g{i}" for i in range(sets) if i != whole)
        mask = f"GROUPING({grouped})" if grouped else "0"
        keys = ", ".join("0" if i == whole else f"g{i}" for i in range(sets))
        return (f"SELECT {mask}, {keys}{also_sql}{extra}{columns} "
                f"FROM ({values_sql}) pv GROUP BY GROUPING SETS ({grouping})", list(params))
    parts = []
    for i in range(sets):
        # SQLite has no GROUPING SETS: one SELECT per grouping, the others' keys NULL, and
        # the mask PostgreSQL gives.
        mask = _mask(sets, i, whole)
        others = ", ".join(f"g{i}" if j == i else "NULL" for j in range(sets))
        if percentiles:
            parts.append(_ranked_percentiles(values_sql, mask, i, others, also_sql, extra,
                                             len(aggregates), percentiles))
        else:
            parts.append(f"SELECT {mask}, {others}{also_sql}{extra} FROM ({values_sql}) pv "
                         f"GROUP BY g{i}{also_sql}")
    return " UNION ALL ".join(f"SELECT * FROM ({part})" for part in parts), list(params) * sets


def _mask(sets: int, i: int, whole: int | None) -> int:
    """PostgreSQL's GROUPING() of the keys (all but the whole grouping's) for grouping i:
    a 0 bit for the key grouped by, the first key highest; all ones for the whole one."""
    keys = [k for k in range(sets) if k != whole]
    ones = 2 ** len(keys) - 1
    return ones if i == whole else ones - 2 ** (len(keys) - 1 - keys.index(i))


def grouped_rows(rows, *, sets: int, whole: int | None = None) -> list[tuple]:
    """Rows of `grouping_sets_sql` as (set index, key, *the rest); the whole grouping's
    key is 0."""
    index = {_mask(sets, i, whole): i for i in range(sets)}
    out = []
    for row in rows:
        i = index[row[0]]
        out.append((i, 0 if i == whole else row[1 + i], *row[1 + sets:]))
    return out


def _ranked_percentiles(values_sql, mask, i, others, also_sql, extra, aggregates,
                        percentiles) -> str:
    """SQLite: percentiles per group of g{i} (and `also`) from ROW_NUMBER() and COUNT()
    windows. position = p(n−1); value = x[floor] + (x[ceil] − x[floor]) × (position − floor)."""
    picks = ", ".join(
        f"MAX(CASE WHEN rn = CAST({p} * (n - 1) AS INTEGER) + 1 THEN v END) AS lo{k}, "
        f"MAX(CASE WHEN rn = CAST({p} * (n - 1) AS INTEGER) + 2 THEN v END) AS hi{k}, "
        f"{p} * (MAX(n) - 1) - CAST({p} * (MAX(n) - 1) AS INTEGER) AS fr{k}"
        for k, p in enumerate(percentiles)
    )
    interpolated = "".join(
        f", CASE WHEN fr{k} = 0 OR hi{k} IS NULL THEN lo{k} "
        f"ELSE lo{k} + (hi{k} - lo{k}) * fr{k} END"
        for k in range(len(percentiles))
    )
    outer_extra = "".join(f", a{k}" for k in range(aggregates))
    partition = f"g{i}{also_sql}"
    ranked = (f"SELECT pv.*, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY v) AS rn, "
              f"COUNT(*) OVER (PARTITION BY {partition}) AS n FROM ({values_sql}) pv")
    also_outer = also_sql  # the `also` columns keep their names through the subquery
    return (f"SELECT {mask}, {others}{also_outer}{outer_extra}{interpolated} "
            f"FROM (SELECT g{i}{also_sql}{extra}, {picks} FROM ({ranked}) r "
            f"GROUP BY {partition}) q")


def _adapt(value):
    if isinstance(value, datetime):
        return connection.ops.adapt_datetimefield_value(value)
    if isinstance(value, date):
        return connection.ops.adapt_datefield_value(value)
    return value


def params_adapt(params) -> list:
    """Timestamps and dates as the database stores them (SQLite compares them as text)."""
    return [_adapt(value) for value in params]


def fetch_all(sql: str, params) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params_adapt(params))
        return cursor.fetchall()
