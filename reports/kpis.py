"""KPI selectors (SPEC §7): every figure is an aggregate query over the sources of
`reports.sources`; Python only divides the counts the database returns.

Filters: `inbox`, `channel` (the ticket's first message's), `team` (the ticket's team) and
`agent` (the ticket's assignee: its first response, resolution, backlog and survey answers
all count for the agent it is assigned to, whoever wrote the replies).
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from . import metrics
from .period import Period
from .sources import Source, source_get
from .sql import duration_units, fetch_all, local_date, percentiles_sql, seconds_between

DIMENSIONS = ("inbox", "channel", "team", "agent")
GROUPS = (None, "day", *DIMENSIONS)
END = '"end"'  # a reserved word, quoted the same way by both databases
TOTAL = "*total*"  # the key of all groups together


@dataclass(frozen=True)
class KpiQuery:
    period: Period
    inbox: int | None = None
    channel: str | None = None
    team: int | None = None
    agent: int | None = None
    live: bool = False  # bypass the rollups (tests, and checking them)

    def filters(self) -> dict:
        return {name: getattr(self, name) for name in DIMENSIONS if getattr(self, name) is not None}


def _column(dimension: str, *, ticket_alias: str | None = None) -> str:
    """The column of a dimension in the rollup rows, or on inbox_ticket when aliased."""
    if ticket_alias:
        return f"{ticket_alias}.{'assignee' if dimension == 'agent' else dimension}" + (
            "" if dimension == "channel" else "_id")
    return dimension if dimension == "channel" else f"{dimension}_id"


def filters_sql(query: KpiQuery, *, ticket_alias: str | None = None) -> tuple[str, list]:
    """` AND column = %s` for each filter of `query`, and the values."""
    filters = query.filters()
    sql = "".join(f" AND {_column(name, ticket_alias=ticket_alias)} = %s" for name in filters)
    return sql, list(filters.values())


def _group(by: str | None, time_column: str, query: KpiQuery) -> str:
    """The GROUP BY expression: one group, the local date of `time_column`, or a dimension."""
    if by is None:
        return "0"
    if by == "day":
        return local_date(time_column, query.period.tz)
    return _column(by)


def _key(value):
    return str(value) if hasattr(value, "isoformat") or isinstance(value, str) else value


# --- tickets: created, resolved, FCR, reopens, first response, resolution --------------------

def _created(source: Source, query: KpiQuery, by) -> dict:
    where, params = filters_sql(query)
    sql = (f"SELECT {_group(by, 'created_at', query)} AS g, COUNT(*) FROM ({source.facts.sql}) f "
           f"WHERE created_at >= %s AND created_at < %s{where} GROUP BY 1")
    p = query.period
    rows = fetch_all(sql, [*source.facts.params, p.since, p.until, *params])
    return {_key(g): {"tickets_created": n} for g, n in rows}


def _durations(source: Source, query: KpiQuery, by, *, kind: str, total: bool = False) -> dict:
    """Counts, mean, median and p90 of first-response or resolution times, per group, and
    with `total` for all groups together too (key TOTAL), from the same scan."""
    p = query.period
    where, params = filters_sql(query)
    if kind == "resolution":
        time_column, extra, extra_params = "last_resolved_at", " AND resolved_now = %s", [True]
    else:
        time_column, extra, extra_params = "first_reply_at", "", []
    seconds = seconds_between(time_column, "created_at")
    base = (f"FROM ({source.facts.sql}) f WHERE {time_column} >= %s AND {time_column} < %s"
            f"{extra}{where}")
    base_params = [*source.facts.params, p.since, p.until, *extra_params, *params]
    group = _group(by, time_column, query)
    units, per_second = duration_units(time_column, "created_at")
    values = f"SELECT {group} AS g, {seconds} AS v, {units} AS u, agent_replies, reopens {base}"
    # The mean from an integer sum: a float AVG could differ in its last bit between two
    # plans that add the same rows in another order.
    aggregates = ("COUNT(*)", "SUM(u)", "SUM(CASE WHEN agent_replies >= 1 THEN 1 ELSE 0 END)",
                  "SUM(CASE WHEN agent_replies = 1 AND reopens = 0 THEN 1 ELSE 0 END)",
                  "SUM(CASE WHEN reopens > 0 THEN 1 ELSE 0 END)")
    out = defaultdict(dict)
    rows = fetch_all(*percentiles_sql(values_sql=values, params=base_params,
                                      aggregates=aggregates, total=total))
    for is_total, g, count, total_units, with_reply, first_contact, reopened, median, p90 in rows:
        if not count:
            continue  # PostgreSQL's grand total of no rows
        g = TOTAL if is_total else _key(g)
        out[g][kind] = {"count": count, "median_s": float(median), "p90_s": float(p90),
                        "mean_s": int(total_units) / count / per_second}
        if kind == "resolution":
            out[g]["resolved"] = {"count": count, "with_reply": int(with_reply),
                                  "first_contact": int(first_contact),
                                  "reopened": int(reopened)}
    return out


# --- surveys ----------------------------------------------------------------------------------

def _survey_answers(source: Source, query: KpiQuery, by) -> dict:
    """Invitations whose latest answer falls in the period, per group and survey kind."""
    p = query.period
    where, params = filters_sql(query)
    sql = f"""
        SELECT {_group(by, "answered_at", query)} AS g, kind, COUNT(*),
               SUM(CASE WHEN score >= 4 THEN 1 ELSE 0 END),
               SUM(CASE WHEN score >= 9 THEN 1 ELSE 0 END),
               SUM(CASE WHEN score BETWEEN 7 AND 8 THEN 1 ELSE 0 END),
               SUM(CASE WHEN score <= 6 THEN 1 ELSE 0 END), SUM(score)
        FROM ({source.surveys.sql}) s
        WHERE answered_at >= %s AND answered_at < %s{where}
        GROUP BY 1, kind"""
    rows = fetch_all(sql, [*source.surveys.params, p.since, p.until, *params])
    out = defaultdict(dict)
    for g, kind, answers, satisfied, promoters, passives, detractors, total in rows:
        out[_key(g)][kind] = {"answers": answers, "satisfied": int(satisfied),
                              "promoters": int(promoters), "passives": int(passives),
                              "detractors": int(detractors), "total": int(total)}
    return out


def _survey_sent(source: Source, query: KpiQuery, by, *, kind: str = "csat") -> dict:
    """Invitations of `kind` sent in the period, and how many of them have an answer."""
    p = query.period
    where, params = filters_sql(query)
    sql = (f"SELECT {_group(by, 'sent_at', query)} AS g, COUNT(*), COUNT(answered_at) "
           f"FROM ({source.surveys.sql}) s "
           f"WHERE sent_at >= %s AND sent_at < %s AND kind = %s{where} GROUP BY 1")
    rows = fetch_all(sql, [*source.surveys.params, p.since, p.until, kind, *params])
    return {_key(g): {"sent": sent, "sent_answered": answered} for g, sent, answered in rows}


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


# --- assembling --------------------------------------------------------------------------------

EMPTY_DURATIONS = {"count": 0, "median_s": None, "p90_s": None, "mean_s": None}
EMPTY_RESOLVED = {"count": 0, "with_reply": 0, "first_contact": 0, "reopened": 0}
EMPTY_ANSWERS = {"answers": 0, "satisfied": 0, "promoters": 0, "passives": 0, "detractors": 0,
                 "total": 0}


def _figures(source: Source, query: KpiQuery, by, *, sent: bool = True,
             total: bool = False) -> dict:
    """Every raw figure per group: {group: {"tickets_created", "resolved", ...}}.
    `sent`: also count survey invitations (not needed by `by_channel`); `total`: also the
    durations of all groups together (key TOTAL)."""
    parts = [_created(source, query, by),
             *(_durations(source, query, by, kind=kind, total=total)
               for kind in ("first_response", "resolution"))]
    if sent:
        parts.append(_survey_sent(source, query, by))
    groups = defaultdict(dict)
    for part in parts:
        for g, values in part.items():
            groups[g].update(values)
    for g, kinds in _survey_answers(source, query, by).items():
        groups[g]["surveys"] = kinds
    return groups


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


def _overall(source: Source, query: KpiQuery, by_channel: dict, total: dict) -> dict:
    """The whole period's figures: counts add up over channels; percentiles do not (they
    come with `total`, computed alongside the channels')."""
    overall = {"tickets_created": sum(g.get("tickets_created", 0) for g in by_channel.values()),
               **total}
    overall.update(_survey_sent(source, query, None).get(0, {}))
    surveys = defaultdict(lambda: dict.fromkeys(EMPTY_ANSWERS, 0))
    for group in by_channel.values():
        for kind, answers in group.get("surveys", {}).items():
            for name, value in answers.items():
                surveys[kind][name] += value
    overall["surveys"] = dict(surveys)
    return overall


def kpi_report(*, query: KpiQuery) -> dict:
    """The JSON of `GET /api/v1/reports/kpis` (SPEC §7)."""
    p = query.period
    source = source_get(live=query.live)
    by_channel = _figures(source, query, "channel", sent=False, total=True)
    total = by_channel.pop(TOTAL, {})
    report = {"period": {"start": p.start.isoformat(), "end": p.end.isoformat(), "tz": p.tz},
              **_present(_overall(source, query, by_channel, total)),
              "backlog": _backlog(source, query),
              # Knowledge-base and bot deflections count once those exist; none do yet.
              "self_service": {"rate": None}}
    channels = {key: _present(values) for key, values in by_channel.items()}
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


def kpi_breakdown(*, query: KpiQuery, by: str) -> list[dict]:
    """The report's ticket and survey figures per channel, inbox, team, agent or day
    (`key`), sorted by key; days with no activity are included."""
    if by not in GROUPS or by is None:
        raise ValueError(f"unknown breakdown {by!r}")
    groups = _figures(source_get(live=query.live), query, by)
    if by == "day":
        for day in query.period.days:
            groups.setdefault(day.isoformat(), {})
    rows = [{"key": key, **_present(values)} for key, values in groups.items()]
    return sorted(rows, key=lambda row: (row["key"] is None, str(row["key"])))
