"""The API report's figures from the day layer (reports.days), for a time zone it holds.

Each statement reads the day rows of the period plus the overlay of the tickets touched
since the last refresh (their stored rows subtracted, their live rows added), so the
figures equal those computed from the per-ticket rows (reports.kpis), which equal those
computed from the log. Exact percentiles take two passes: the bucket counts of the period
give the buckets that hold the two ranks each percentile interpolates between, then one
statement fetches the values at those ranks within their buckets from the per-ticket rows
(an index on bucket, channel and time).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from . import metrics
from .days import (BACKLOG_AGE_DAY, DURATION_DAY, SURVEY_DAY, TICKET_DAY, DayTable, Rows,
                   day_rows, overlay_get)
from .models import RollupState
from .query import KpiQuery, filters_sql
from .sources import Fragment, facts_live, source_since, touched_since
from .sql import PERCENTILES, duration_units, fetch_all, grouped_rows, grouping_sets_sql

END = '"end"'
GROUPINGS = (None, "channel")
# The percentiles the API shows: all of them for the report, the median first response per
# channel (`by_channel`); the others are not computed.
SHOWN = {None: {"first_response": PERCENTILES, "resolution": PERCENTILES},
         "channel": {"first_response": (0.5,)}}
PERCENTILE_NAMES = {0.5: "median_s", 0.9: "p90_s"}
# Where each duration is read in the per-ticket facts: its units, bucket and time columns,
# and whether it counts only tickets resolved now.
DURATIONS = {
    "first_response": ("first_response_units", "first_response_bucket", "first_reply_at", False),
    "resolution": ("resolution_units", "resolution_bucket", "last_resolved_at", True),
}


@dataclass(frozen=True)
class DayLayer:
    tz: str
    touched: Fragment  # tickets with events after the last refresh
    overlay: Rows


def day_layer_get(tz: str) -> DayLayer | None:
    """The day layer for reports in `tz`, or None when it does not hold that zone."""
    state = RollupState.objects.first()
    if state is None or tz not in state.zones():
        return None
    touched = touched_since(state.last_event_id)
    return DayLayer(tz=tz, touched=touched, overlay=overlay_get(touched))


def _period_rows(layer: DayLayer, day_table: DayTable, columns, *, first, last) -> Fragment:
    """`columns` of `day_table`'s rows dated `first`..`last` (None: from the beginning),
    the stored ones and the overlay's (by day). Tables with weeks read whole weeks from
    their week rows and the days before and after from their day rows."""
    names = ", ".join(columns)
    overlay = day_rows(day_table, layer.tz, layer.overlay)
    ranges = [(first, last, None)]
    if day_table.lengths:
        ranges = _week_ranges(first, last)
    stored = []
    for since, until, days in ranges:
        length = "" if days is None else f" AND days = {days}"
        stored.append(Fragment(f"SELECT {names} FROM {day_table.table} WHERE tz = %s{length}"
                               f"{'' if since is None else ' AND day >= %s'} AND day <= %s",
                               (layer.tz, *([] if since is None else [since]), until)))
    since_sql = "" if first is None else " AND day >= %s"
    since = [] if first is None else [first]
    sql = " UNION ALL ".join([*(part.sql for part in stored),
                              f"SELECT {names} FROM ({overlay.sql}) o "
                              f"WHERE 1 = 1{since_sql} AND day <= %s"])
    return Fragment(sql, (*(param for part in stored for param in part.params),
                          *overlay.params, *since, last))


def _week_ranges(first: date, last: date) -> list[tuple[date, date, int]]:
    """`first`..`last` as (since, until, days) ranges of rows: the whole weeks (Monday to
    Sunday) in week rows, the days around them in day rows."""
    monday = first + timedelta(days=-first.weekday() % 7)
    sunday = last - timedelta(days=(last.weekday() + 1) % 7)
    if monday > sunday:
        return [(first, last, 1)]
    ranges = [(monday, sunday - timedelta(days=6), 7)]
    if first < monday:
        ranges.append((first, monday - timedelta(days=1), 1))
    if sunday < last:
        ranges.append((sunday + timedelta(days=1), last, 1))
    return ranges


def _grouped(sql: str, params, *, aggregates, also=()) -> list[tuple]:
    """(grouping, key, *also, *aggregates) over the whole period and per channel."""
    full, all_params = grouping_sets_sql(values_sql=sql, params=params, sets=2, whole=0,
                                         aggregates=aggregates, also=also)
    return [(GROUPINGS[i], key, *rest)
            for i, key, *rest in grouped_rows(fetch_all(full, all_params), sets=2, whole=0)]


def _ints(values) -> list[int]:
    return [int(value or 0) for value in values]


def _tickets(layer: DayLayer, query: KpiQuery, out: dict, *, durations: bool) -> dict:
    """Created, first responses and resolutions (with FCR and reopen counts) per group;
    returns the duration sums and counts for the means."""
    p = query.period
    where, params = filters_sql(query)
    values = TICKET_DAY.values[:-2]  # all but the backlog's
    rows = _period_rows(layer, TICKET_DAY, (*TICKET_DAY.keys, *values),
                        first=p.start, last=p.end)
    sql = (f"SELECT 0 AS g0, channel AS g1, {', '.join(values)} FROM ({rows.sql}) r "
           f"WHERE 1 = 1{where}")
    totals = {}
    for by, key, *sums in _grouped(sql, [*rows.params, *params],
                                   aggregates=[f"SUM({name})" for name in values]):
        (created, responses, response_units, resolved, resolution_units, with_reply,
         first_contact, reopened) = _ints(sums)
        group = out[by][key]
        if created:
            group["tickets_created"] = created
        if resolved:
            group["resolved"] = {"count": resolved, "with_reply": with_reply,
                                 "first_contact": first_contact, "reopened": reopened}
        if durations:
            totals[by, key] = {"first_response": (responses, response_units),
                               "resolution": (resolved, resolution_units)}
    return totals


def _surveys(layer: DayLayer, query: KpiQuery, out: dict) -> None:
    """Answers per kind, and CSAT invitations sent and answered, per group."""
    p = query.period
    where, params = filters_sql(query)
    values = SURVEY_DAY.values
    rows = _period_rows(layer, SURVEY_DAY, (*SURVEY_DAY.keys, *values),
                        first=p.start, last=p.end)
    sql = (f"SELECT 0 AS g0, channel AS g1, kind, {', '.join(values)} FROM ({rows.sql}) r "
           f"WHERE 1 = 1{where}")
    for by, key, kind, *sums in _grouped(sql, [*rows.params, *params], also=("kind",),
                                         aggregates=[f"SUM({name})" for name in values]):
        answers, satisfied, promoters, passives, detractors, total, sent, answered = _ints(sums)
        group = out[by][key]
        if answers:
            group.setdefault("surveys", {})[kind] = {
                "answers": answers, "satisfied": satisfied, "promoters": promoters,
                "passives": passives, "detractors": detractors, "total": total}
        if kind == "csat" and sent:
            group["sent"], group["sent_answered"] = sent, answered


def _bucket_counts(layer: DayLayer, query: KpiQuery) -> dict:
    """{(grouping, key, metric): [(bucket, count), …] in bucket order} over the period."""
    p = query.period
    where, params = filters_sql(query)  # the channel filter alone (see day_figures)
    rows = _period_rows(layer, DURATION_DAY, ("channel", "metric", "bucket", "tickets"),
                        first=p.start, last=p.end)
    sql = (f"SELECT 0 AS g0, channel AS g1, metric, bucket, tickets FROM ({rows.sql}) r "
           f"WHERE 1 = 1{where}")
    counts = defaultdict(list)
    for by, key, metric, bucket, count in sorted(
            _grouped(sql, [*rows.params, *params], also=("metric", "bucket"),
                     aggregates=("SUM(tickets)",)),
            key=lambda row: (row[2], row[3])):
        if count:
            counts[by, key, metric].append((bucket, int(count)))
    return counts


def _values_at(layer: DayLayer, query: KpiQuery, requests: dict, channels_in: dict) -> dict:
    """One statement: for each (grouping, key, (metric, bucket)) asked for, the values of
    the period in that bucket at the ranks asked for (within the bucket), as {request:
    {rank: units}}. Stored facts of untouched tickets and live facts of touched ones
    (computed once, in a CTE). `channels_in`: the channels with values in each (metric,
    bucket) in the period."""
    p = query.period
    live = facts_live(Fragment("SELECT ticket_id FROM touched"))
    selects, params = [], []
    for n, ((by, key, (metric, bucket)), ranks) in enumerate(requests.items()):
        units, bucket_column, time_column, resolved_only = DURATIONS[metric]
        condition = f"{bucket_column} = %s AND {time_column} >= %s AND {time_column} < %s"
        condition_params = [bucket, p.since, p.until]
        if resolved_only:
            condition += " AND resolved_now = %s"
            condition_params.append(True)
        # A channel always, as the index is on bucket, channel and time.
        channels = [key] if by == "channel" else sorted(channels_in[metric, bucket])
        condition += f" AND channel IN ({', '.join(['%s'] * len(channels))})"
        condition_params += channels
        first, last = min(ranks), max(ranks)
        selects.append(
            f"SELECT {n} AS request, u FROM ("
            f"SELECT u FROM (SELECT {units} AS u FROM reports_ticketfact WHERE {condition} "
            f"AND ticket_id NOT IN (SELECT ticket_id FROM touched) "
            f"UNION ALL SELECT {units} AS u FROM live WHERE {condition}) v "
            f"ORDER BY u LIMIT {last - first + 1} OFFSET {first}) picked")
        params += [*condition_params, *condition_params]
    union = " UNION ALL ".join(f"SELECT * FROM ({select}) s{n}"
                               for n, select in enumerate(selects))
    sql = f"WITH touched AS ({layer.touched.sql}), live AS ({live.sql}) {union}"
    picked = defaultdict(list)
    for request, units in fetch_all(sql, [*layer.touched.params, *live.params, *params]):
        picked[request].append(units)
    out = {}
    for n, (request, ranks) in enumerate(requests.items()):
        out[request] = {min(ranks) + i: units for i, units in enumerate(sorted(picked[n]))}
    return out


def _durations(layer: DayLayer, query: KpiQuery, out: dict, totals: dict) -> None:
    """Count, mean and the percentiles of `SHOWN` of first response and resolution times per
    group."""
    counts = _bucket_counts(layer, query)
    _, per_second = duration_units("first_reply_at", "created_at")
    wanted = {}  # (grouping, key, metric, p) → ((bucket, offset) low, … high, fraction)
    requests = defaultdict(set)
    for (by, key, metric), buckets in counts.items():
        total = sum(count for _, count in buckets)
        for p in SHOWN[by].get(metric, ()):
            low, high, fraction = metrics.percentile_ranks(total, p)
            located = [metrics.rank_locate(buckets, rank) for rank in (low, high)]
            for bucket, offset in located:
                requests[by, key, (metric, bucket)].add(offset)
            wanted[by, key, metric, p] = (*located, fraction)
    channels_in = defaultdict(set)
    for (by, key, metric), buckets in counts.items():
        if by == "channel":
            for bucket, _ in buckets:
                channels_in[metric, bucket].add(key)
    values = _values_at(layer, query, requests, channels_in) if requests else {}
    for (by, key, metric), buckets in counts.items():
        if metric not in SHOWN[by]:
            continue
        count, units = totals[by, key][metric]
        figures = {"count": count, "mean_s": units / count / per_second}
        for p in SHOWN[by][metric]:
            (low_bucket, low), (high_bucket, high), fraction = wanted[by, key, metric, p]
            figures[PERCENTILE_NAMES[p]] = metrics.interpolate(
                values[by, key, (metric, low_bucket)][low] / per_second,
                values[by, key, (metric, high_bucket)][high] / per_second, fraction)
        out[by][key][metric] = figures


def day_figures(layer: DayLayer, query: KpiQuery, *, durations: bool) -> dict:
    """The raw figures of kpis._figures for the groupings None and "channel". Without
    `durations` (filters on inbox, team or agent: the bucket counts are per channel only)
    first response and resolution times are left to the per-ticket rows."""
    out = {by: defaultdict(dict) for by in GROUPINGS}
    totals = _tickets(layer, query, out, durations=durations)
    _surveys(layer, query, out)
    if durations:
        _durations(layer, query, out, totals)
    return out


def day_backlog(layer: DayLayer, query: KpiQuery) -> dict:
    """Backlog at each day's end from the span starts and ends per day (those before the
    period give its start), and the aging of the last one: the spans of tickets created in
    the 7 days before (`_recent_ages`); the rest are older."""
    p = query.period
    where, params = filters_sql(query)
    rows = _period_rows(layer, TICKET_DAY, (*TICKET_DAY.keys, "day", "backlog_starts",
                                            "backlog_ends"), first=None, last=p.end)
    moves = {}
    for day, starts, ends in fetch_all(
            f"SELECT CASE WHEN day < %s THEN NULL ELSE day END AS d, SUM(backlog_starts), "
            f"SUM(backlog_ends) FROM ({rows.sql}) r WHERE 1 = 1{where} "
            f"GROUP BY CASE WHEN day < %s THEN NULL ELSE day END",
            [p.start, *rows.params, *params, p.start]):
        moves[None if day is None else str(day)] = int(starts or 0) - int(ends or 0)
    daily, count = [], moves.get(None, 0)
    for day in p.days:
        count += moves.get(day.isoformat(), 0)
        daily.append({"date": day.isoformat(), "count": count})
    lt_1d, d1_3, d3_7 = _recent_ages(layer, query)
    return {"end": count, "daily": daily,
            "aging": {"lt_1d": lt_1d, "d1_3": d1_3, "d3_7": d3_7,
                      "gt_7d": count - lt_1d - d1_3 - d3_7}}


AGES = (1, 3, 7)  # the limits of the aging classes, in days before the end


def _open_at_end(layer: DayLayer, query: KpiQuery, sums: str, sums_params, condition: str,
                 condition_params) -> list[int]:
    """`sums` over the per-ticket spans open at the period's end that meet `condition`."""
    where, params = filters_sql(query)
    at = query.period.until
    spans = source_since(layer.touched).spans
    (row,) = fetch_all(
        f"SELECT {sums} FROM ({spans.sql}) s WHERE {condition} AND start < %s "
        f"AND ({END} IS NULL OR {END} >= %s){where}",
        [*sums_params, *spans.params, *condition_params, at, at, *params])
    return _ints(row)


def _recent_ages(layer: DayLayer, query: KpiQuery) -> tuple[int, int, int]:
    """The end backlog's spans of tickets created less than 1, 1–3 and 3–7 days before the
    end, from the backlog age rows: those created on the last day, the two days before and
    the four before those. When the UTC offset changed in that week, the limits are not
    local midnights: the per-ticket spans answer instead."""
    p = query.period
    limits = [p.until - timedelta(days=days) for days in AGES]
    firsts = [p.end - timedelta(days=days - 1) for days in AGES]
    if [p.midnight(day) for day in firsts] != limits:
        return tuple(_open_at_end(
            layer, query,
            "SUM(CASE WHEN created_at > %s THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN created_at <= %s AND created_at > %s THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN created_at <= %s THEN 1 ELSE 0 END)",
            [limits[0], limits[0], limits[1], limits[1]], "created_at > %s", [limits[2]]))
    where, params = filters_sql(query)
    overlay = day_rows(BACKLOG_AGE_DAY, layer.tz, layer.overlay)
    names = ", ".join((*BACKLOG_AGE_DAY.keys, *BACKLOG_AGE_DAY.values))
    recent = "created_day >= %s AND day <= %s"
    rows = (f"SELECT {names} FROM {BACKLOG_AGE_DAY.table} WHERE tz = %s AND {recent} "
            f"UNION ALL SELECT {names} FROM ({overlay.sql}) o WHERE {recent}")
    still_open = "backlog_starts - backlog_ends"
    (row,) = fetch_all(
        f"SELECT SUM(CASE WHEN created_day >= %s THEN {still_open} ELSE 0 END), "
        f"SUM(CASE WHEN created_day >= %s AND created_day < %s THEN {still_open} ELSE 0 END), "
        f"SUM(CASE WHEN created_day < %s THEN {still_open} ELSE 0 END) "
        f"FROM ({rows}) r WHERE 1 = 1{where}",
        [firsts[0], firsts[1], firsts[0], firsts[1], layer.tz, firsts[2], p.end,
         *overlay.params, firsts[2], p.end, *params])
    younger, middle, older = _ints(row)
    # A ticket created at a limit itself belongs to the older class ("less than 1 day" is
    # created_at > limit), while its local date puts it in the younger one.
    on_1d, on_3d, on_7d = _open_at_end(
        layer, query, ", ".join(["SUM(CASE WHEN created_at = %s THEN 1 ELSE 0 END)"] * 3),
        limits, "created_at IN (%s, %s, %s)", limits)
    return younger - on_1d, middle + on_1d - on_3d, older + on_3d - on_7d
