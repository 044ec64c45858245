"""KPI selectors (SPEC §7): every figure is an aggregate query over the per-ticket rows of
`reports.sources` or, for the API report in a time zone the day tables hold, over the day
tables (`reports.day_kpis`); Python only divides the counts the database returns.

Filters: `inbox`, `channel` (the ticket's first message's), `team` (the ticket's team) and
`agent` (the ticket's assignee: its first response, resolution, backlog and survey answers
all count for the agent it is assigned to, whoever wrote the replies).
"""

from collections import defaultdict
from datetime import timedelta

from . import metrics
from .day_kpis import day_backlog, day_figures, day_layer_get
from .query import DIMENSIONS, KpiQuery, dimension_column, filters_sql
from .sources import Source, source_get, source_since
from .sql import (PERCENTILES, duration_units, fetch_all, grouped_rows, grouping_sets_sql,
                  local_date, seconds_between)

GROUPS = (None, "day", *DIMENSIONS)
END = '"end"'  # a reserved word, quoted the same way by both databases


def _sets(groupings, time_column: str, query: KpiQuery) -> str:
    """`expr AS g0, expr AS g1, …`: one grouping each, None for all rows together, "day" for
    the local date of `time_column`, or a dimension."""
    exprs = []
    for by in groupings:
        if by is None:
            exprs.append("0")
        elif by == "day":
            exprs.append(local_date(time_column, query.period.tz))
        else:
            exprs.append(dimension_column(by))
    return ", ".join(f"{expr} AS g{i}" for i, expr in enumerate(exprs))


def _rows(groupings, values_sql: str, params, **options) -> list[tuple]:
    """`grouping_sets_sql` over `values_sql` for `groupings`, as (set index, key, …)."""
    whole = groupings.index(None) if None in groupings else None
    sql, all_params = grouping_sets_sql(values_sql=values_sql, params=params,
                                        sets=len(groupings), whole=whole, **options)
    return grouped_rows(fetch_all(sql, all_params), sets=len(groupings), whole=whole)


def _key(value):
    return str(value) if hasattr(value, "isoformat") or isinstance(value, str) else value


def _grouped(groupings, rows) -> dict:
    """(set index, key, *values) rows → {grouping: {key: values}} (key 0 for None)."""
    out = {by: {} for by in groupings}
    for i, key, *values in rows:
        out[groupings[i]][_key(key)] = values
    return out


# --- tickets: created, resolved, FCR, reopens, first response, resolution --------------------

def _created(source: Source, query: KpiQuery, groupings) -> dict:
    where, params = filters_sql(query)
    p = query.period
    values = (f"SELECT {_sets(groupings, 'created_at', query)} FROM ({source.facts.sql}) f "
              f"WHERE created_at >= %s AND created_at < %s{where}")
    rows = _rows(groupings, values, [*source.facts.params, p.since, p.until, *params],
                 aggregates=("COUNT(*)",))
    return {by: {g: {"tickets_created": n} for g, (n,) in groups.items()}
            for by, groups in _grouped(groupings, rows).items()}


def _durations(source: Source, query: KpiQuery, groupings, *, kind: str) -> dict:
    """Counts, mean, median and p90 of first-response or resolution times, per group of
    each grouping, from one scan."""
    p = query.period
    where, params = filters_sql(query)
    if kind == "resolution":
        time_column, extra, extra_params = "last_resolved_at", " AND resolved_now = %s", [True]
    else:
        time_column, extra, extra_params = "first_reply_at", "", []
    seconds = seconds_between(time_column, "created_at")
    units, per_second = duration_units(time_column, "created_at")
    values = (f"SELECT {_sets(groupings, time_column, query)}, {seconds} AS v, {units} AS u, "
              f"agent_replies, reopens FROM ({source.facts.sql}) f "
              f"WHERE {time_column} >= %s AND {time_column} < %s{extra}{where}")
    # The mean from an integer sum: a float AVG could differ in its last bit between two
    # plans that add the same rows in another order.
    aggregates = ("COUNT(*)", "SUM(u)", "SUM(CASE WHEN agent_replies >= 1 THEN 1 ELSE 0 END)",
                  "SUM(CASE WHEN agent_replies = 1 AND reopens = 0 THEN 1 ELSE 0 END)",
                  "SUM(CASE WHEN reopens > 0 THEN 1 ELSE 0 END)")
    rows = _rows(groupings, values,
                 [*source.facts.params, p.since, p.until, *extra_params, *params],
                 aggregates=aggregates, percentiles=PERCENTILES)
    out = {}
    for by, groups in _grouped(groupings, rows).items():
        out[by] = {}
        for g, (count, total_units, with_reply, first_contact, reopened, median, p90) in (
                groups.items()):
            if not count:
                continue  # PostgreSQL's whole grouping of no rows
            figures = {kind: {"count": count, "median_s": float(median), "p90_s": float(p90),
                              "mean_s": int(total_units) / count / per_second}}
            if kind == "resolution":
                figures["resolved"] = {"count": count, "with_reply": int(with_reply),
                                       "first_contact": int(first_contact),
                                       "reopened": int(reopened)}
            out[by][g] = figures
    return out


# --- surveys ----------------------------------------------------------------------------------

def _survey_answers(source: Source, query: KpiQuery, groupings) -> dict:
    """Invitations whose latest answer falls in the period, per group and survey kind."""
    p = query.period
    where, params = filters_sql(query)
    values = (f"SELECT {_sets(groupings, 'answered_at', query)}, kind, score "
              f"FROM ({source.surveys.sql}) s "
              f"WHERE answered_at >= %s AND answered_at < %s{where}")
    aggregates = ("COUNT(*)", "SUM(CASE WHEN score >= 4 THEN 1 ELSE 0 END)",
                  "SUM(CASE WHEN score >= 9 THEN 1 ELSE 0 END)",
                  "SUM(CASE WHEN score BETWEEN 7 AND 8 THEN 1 ELSE 0 END)",
                  "SUM(CASE WHEN score <= 6 THEN 1 ELSE 0 END)", "SUM(score)")
    rows = _rows(groupings, values, [*source.surveys.params, p.since, p.until, *params],
                 aggregates=aggregates, also=("kind",))
    out = {by: defaultdict(lambda: {"surveys": {}}) for by in groupings}
    for i, g, kind, answers, satisfied, promoters, passives, detractors, total in rows:
        out[groupings[i]][_key(g)]["surveys"][kind] = {
            "answers": answers, "satisfied": int(satisfied), "promoters": int(promoters),
            "passives": int(passives), "detractors": int(detractors), "total": int(total)}
    return out


def _survey_sent(source: Source, query: KpiQuery, groupings, *, kind: str = "csat") -> dict:
    """Invitations of `kind` sent in the period, and how many of them have an answer."""
    p = query.period
    where, params = filters_sql(query)
    values = (f"SELECT {_sets(groupings, 'sent_at', query)}, answered_at "
              f"FROM ({source.surveys.sql}) s "
              f"WHERE sent_at >= %s AND sent_at < %s AND kind = %s{where}")
    rows = _rows(groupings, values,
                 [*source.surveys.params, p.since, p.until, kind, *params],
                 aggregates=("COUNT(*)", "COUNT(answered_at)"))
    return {by: {g: {"sent": sent, "sent_answered": answered}
                 for g, (sent, answered) in groups.items()}
            for by, groups in _grouped(groupings, rows).items()}


# --- backlog -----------------------------------------------------------------------------------

def _backlog(source: Source, query: KpiQuery) -> dict:
    """Backlog at each day's end: the backlog at the period's start plus the spans that
    started, minus those that ended, up to that midnight; and the aging of the last one."""
    p = query.period
    where, params = filters_sql(query)
    spans, span_params = source.spans.sql, list(source.spans.params)
    (at_start,), = fetch_all(
        f"SELECT COUNT(*) FROM ({spans}) s WHERE start < %s AND ({END} IS NULL OR {END} >= %s)"
        f"{where}", [*span_params, p.since, p.since, *params])
    moves = {}
    for column in ("start", END):
        sql = (f"SELECT {local_date(column, p.tz)}, COUNT(*) FROM ({spans}) s "
               f"WHERE {column} >= %s AND {column} < %s{where} GROUP BY 1")
        moves[column] = {_key(d): n for d, n in
                         fetch_all(sql, [*span_params, p.since, p.until, *params])}
    daily, count = [], at_start
    for day in p.days:
        key = day.isoformat()
        count += moves["start"].get(key, 0) - moves[END].get(key, 0)
        daily.append({"date": key, "count": count})
    at = p.until
    (lt_1d, d1_3, d3_7, gt_7d), = fetch_all(
        f"""SELECT SUM(CASE WHEN created_at > %s THEN 1 ELSE 0 END),
                   SUM(CASE WHEN created_at <= %s AND created_at > %s THEN 1 ELSE 0 END),
                   SUM(CASE WHEN created_at <= %s AND created_at > %s THEN 1 ELSE 0 END),
                   SUM(CASE WHEN created_at <= %s THEN 1 ELSE 0 END)
            FROM ({spans}) s WHERE start < %s AND ({END} IS NULL OR {END} >= %s){where}""",
        [at - timedelta(days=1), at - timedelta(days=1), at - timedelta(days=3),
         at - timedelta(days=3), at - timedelta(days=7), at - timedelta(days=7),
         *span_params, at, at, *params])
    return {"end": daily[-1]["count"], "daily": daily,
            "aging": {"lt_1d": int(lt_1d or 0), "d1_3": int(d1_3 or 0), "d3_7": int(d3_7 or 0),
                      "gt_7d": int(gt_7d or 0)}}


def _backlog_end(source: Source, query: KpiQuery) -> int:
    """The backlog at the period's end alone: spans open at the last midnight."""
    where, params = filters_sql(query)
    at = query.period.until
    (count,), = fetch_all(
        f"SELECT COUNT(*) FROM ({source.spans.sql}) s "
        f"WHERE start < %s AND ({END} IS NULL OR {END} >= %s){where}",
        [*source.spans.params, at, at, *params])
    return count


# --- assembling --------------------------------------------------------------------------------

EMPTY_DURATIONS = {"count": 0, "median_s": None, "p90_s": None, "mean_s": None}
EMPTY_RESOLVED = {"count": 0, "with_reply": 0, "first_contact": 0, "reopened": 0}
EMPTY_ANSWERS = {"answers": 0, "satisfied": 0, "promoters": 0, "passives": 0, "detractors": 0,
                 "total": 0}


def _figures(source: Source, query: KpiQuery, groupings) -> dict:
    """Every raw figure per group of each grouping (None: all rows together):
    {grouping: {group: {"tickets_created", "resolved", "surveys", ...}}}. Five statements,
    whatever the number of groupings."""
    parts = [_created(source, query, groupings),
             *(_durations(source, query, groupings, kind=kind)
               for kind in ("first_response", "resolution")),
             _survey_sent(source, query, groupings),
             _survey_answers(source, query, groupings)]
    out = {by: defaultdict(dict) for by in groupings}
    for part in parts:
        for by, groups in part.items():
            for g, values in groups.items():
                out[by][g].update(values)
    return out


def _present(values: dict) -> dict:
    resolved = values.get("resolved", EMPTY_RESOLVED)
    surveys = values.get("surveys", {})
    csat = surveys.get("csat", EMPTY_ANSWERS)
    nps = surveys.get("nps", EMPTY_ANSWERS)
    ces = surveys.get("ces", EMPTY_ANSWERS)
    sent = values.get("sent", 0)
    return {
        "tickets_created": values.get("tickets_created", 0),
        "tickets_resolved": resolved["count"],
        "fcr": {"rate": metrics.ratio(resolved["first_contact"], resolved["with_reply"]),
                "resolved_with_reply": resolved["with_reply"],
                "first_contact": resolved["first_contact"]},
        "first_response": {**EMPTY_DURATIONS, **values.get("first_response", {})},
        "resolution": {**EMPTY_DURATIONS, **values.get("resolution", {})},
        "reopen_rate": metrics.ratio(resolved["reopened"], resolved["count"]),
        "csat": {"score": metrics.csat_score(satisfied=csat["satisfied"],
                                             answers=csat["answers"]),
                 "answers": csat["answers"], "sent": sent,
                 "response_rate": metrics.ratio(values.get("sent_answered", 0), sent)},
        "nps": {"score": metrics.nps_score(promoters=nps["promoters"],
                                           detractors=nps["detractors"], answers=nps["answers"]),
                "promoters": nps["promoters"], "passives": nps["passives"],
                "detractors": nps["detractors"], "answers": nps["answers"]},
        "ces": {"mean": metrics.ratio(ces["total"], ces["answers"]), "answers": ces["answers"]},
    }


def _report(query: KpiQuery, figures: dict, backlog: dict) -> dict:
    """The JSON of SPEC §7 from the figures of the groupings None and "channel"."""
    p = query.period
    report = {"period": {"start": p.start.isoformat(), "end": p.end.isoformat(), "tz": p.tz},
              **_present(figures[None].get(0, {})),
              "backlog": backlog,
              # Knowledge-base and bot deflections count once those exist; none do yet.
              "self_service": {"rate": None}}
    # The channels with tickets created, replied to, resolved or surveys answered in the
    # period; CSAT invitations sent alone do not add one.
    channels = {key: _present(values) for key, values in figures["channel"].items()
                if set(values) - {"sent", "sent_answered"}}
    report["by_channel"] = {
        key: {"tickets_created": row["tickets_created"], "fcr_rate": row["fcr"]["rate"],
              "first_response_median_s": row["first_response"]["median_s"],
              "csat_score": row["csat"]["score"]}
        for key, row in sorted(channels.items())
    }
    ordered = ("period", "tickets_created", "tickets_resolved", "fcr", "first_response",
               "resolution", "reopen_rate", "backlog", "csat", "nps", "ces", "self_service",
               "by_channel")
    return {key: report[key] for key in ordered}


def _breakdown(query: KpiQuery, by: str, groups: dict) -> list[dict]:
    if by == "day":
        for day in query.period.days:
            groups.setdefault(day.isoformat(), {})
    rows = [{"key": key, **_present(values)} for key, values in groups.items()]
    return sorted(rows, key=lambda row: (row["key"] is None, str(row["key"])))


def kpi_report(*, query: KpiQuery) -> dict:
    """The JSON of `GET /api/v1/reports/kpis` (SPEC §7).

    From the day layer when it holds the report's time zone (reports.day_kpis), except
    first response and resolution times under an inbox, team or agent filter, which the
    per-ticket rows give; from the per-ticket rows otherwise. The figures are the same."""
    groupings = (None, "channel")
    layer = None if query.live else day_layer_get(query.period.tz)
    if layer is None:
        source = source_get(live=query.live)
        return _report(query, _figures(source, query, groupings), _backlog(source, query))
    by_channel_only = not (set(query.filters()) - {"channel"})
    figures = day_figures(layer, query, durations=by_channel_only)
    if not by_channel_only:
        source = source_since(layer.touched)
        for kind in ("first_response", "resolution"):
            for by, groups in _durations(source, query, groupings, kind=kind).items():
                for g, values in groups.items():
                    figures[by][g].update(values)
    return _report(query, figures, day_backlog(layer, query))


def kpi_breakdown(*, query: KpiQuery, by: str) -> list[dict]:
    """The report's ticket and survey figures per channel, inbox, team, agent or day
    (`key`), sorted by key; days with no activity are included."""
    if by not in GROUPS or by is None:
        raise ValueError(f"unknown breakdown {by!r}")
    figures = _figures(source_get(live=query.live), query, (by,))
    return _breakdown(query, by, figures[by])


def kpi_summary(*, query: KpiQuery) -> dict:
    """The report's figures for the whole period without `by_channel` and with only the
    backlog's `end` (the tiles' previous period): six statements instead of nine."""
    source = source_get(live=query.live)
    figures = _figures(source, query, (None,))
    return {**_present(figures[None].get(0, {})),
            "backlog": {"end": _backlog_end(source, query)}}


OVERVIEW_BREAKDOWNS = ("channel", "agent", "team", "day")


def kpi_overview(*, query: KpiQuery) -> dict:
    """The report and its breakdowns by channel, agent, team and day from the same five
    statements (one scan per figure for every grouping): {"report", "breakdowns": {by: rows}}."""
    source = source_get(live=query.live)
    figures = _figures(source, query, (None, *OVERVIEW_BREAKDOWNS))
    return {"report": _report(query, figures, _backlog(source, query)),
            "breakdowns": {by: _breakdown(query, by, figures[by])
                           for by in OVERVIEW_BREAKDOWNS}}
