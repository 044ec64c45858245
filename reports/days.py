"""The day layer of the rollups (reports.models: TicketDay, SurveyDay, DurationDay).

Each day table is a SUM … GROUP BY of per-ticket rows (stored facts, spans and survey
invitations, each with a weight `w`) by local date in a report time zone and by its keys.
The same aggregation serves three purposes, so the tables always equal the sum of the
per-ticket rows they come from:

- `days_rebuild`: every stored row with weight 1;
- `days_apply`: the stored rows of some tickets with weight −1 before they are rewritten,
  and +1 after (a refresh), added to the tables with INSERT … ON CONFLICT DO UPDATE;
- `day_rows` over `overlay_get()`: a report's correction for the tickets touched since the
  last refresh (their stored rows −1, their live rows +1).
"""

from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from .models import (NONE_ID, BacklogAgeDay, DurationDay, StatusSpan, SurveyDay, SurveyFact,
                     TicketDay, TicketFact)
from .sources import (FACT_COLUMNS, SPAN_COLUMNS, SURVEY_COLUMNS, Fragment, facts_live,
                      spans_live, surveys_live)
from .sql import before_days_after, local_date, local_week, params_adapt

END = '"end"'
DIMENSIONS = ("inbox_id", "channel", f"COALESCE(team_id, {NONE_ID})",
              f"COALESCE(agent_id, {NONE_ID})")
DIMENSION_NAMES = ("inbox_id", "channel", "team_id", "agent_id")


@dataclass(frozen=True)
class Part:
    """One SELECT of a day table's aggregation: the rows of `rows` (f: facts, s: spans,
    v: survey invitations) dated by `time`, with `values` (the others are 0)."""

    rows: str
    time: str
    values: dict
    where: str | Callable[[], str] = ""  # a condition; True is the value of its `%s`
    keys: tuple = ()  # expressions, or functions of the time zone giving one


@dataclass(frozen=True)
class DayTable:
    model: type
    keys: tuple  # besides tz and day
    key_exprs: tuple  # their expressions over the per-ticket rows, or functions of the zone
    values: tuple
    parts: tuple
    # The lengths of the rows in days, when the table has a `days` column (weeks: 7, dated
    # by their Monday); without one, a row is one day.
    lengths: tuple = ()

    @property
    def table(self) -> str:
        return self.model._meta.db_table


TICKET_DAY = DayTable(
    model=TicketDay, keys=DIMENSION_NAMES, key_exprs=DIMENSIONS,
    values=("created", "first_responses", "first_response_units", "resolved",
            "resolution_units", "resolved_with_reply", "first_contact", "reopened",
            "backlog_starts", "backlog_ends"),
    parts=(
        Part("f", "created_at", {"created": "w"}),
        Part("f", "first_reply_at", {"first_responses": "w",
                                     "first_response_units": "w * first_response_units"}),
        Part("f", "last_resolved_at", {
            "resolved": "w", "resolution_units": "w * resolution_units",
            "resolved_with_reply": "w * (CASE WHEN agent_replies >= 1 THEN 1 ELSE 0 END)",
            "first_contact": "w * (CASE WHEN agent_replies = 1 AND reopens = 0 THEN 1 ELSE 0 END)",
            "reopened": "w * (CASE WHEN reopens > 0 THEN 1 ELSE 0 END)"},
            where=" AND resolved_now = %s"),
        Part("s", "start", {"backlog_starts": "w"}),
        Part("s", END, {"backlog_ends": "w"}),
    ),
)

# Moves less than 8 days after the creation: every one within 6 local days of it (a local
# day lasts at most 25 hours), which is all the aging of a backlog needs.
AGE_WINDOW_DAYS = 8
BACKLOG_AGE_DAY = DayTable(
    model=BacklogAgeDay, keys=("created_day", *DIMENSION_NAMES),
    key_exprs=(lambda tz: local_date("created_at", tz), *DIMENSIONS),
    values=("backlog_starts", "backlog_ends"),
    parts=(
        Part("s", "start", {"backlog_starts": "w"},
             where=lambda: " AND " + before_days_after("start", "created_at", AGE_WINDOW_DAYS)),
        Part("s", END, {"backlog_ends": "w"},
             where=lambda: " AND " + before_days_after(END, "created_at", AGE_WINDOW_DAYS)),
    ),
)

SURVEY_DAY = DayTable(
    model=SurveyDay, keys=(*DIMENSION_NAMES, "kind"), key_exprs=(*DIMENSIONS, "kind"),
    values=("answers", "satisfied", "promoters", "passives", "detractors", "score_total",
            "sent", "sent_answered"),
    parts=(
        Part("v", "answered_at", {
            "answers": "w", "satisfied": "w * (CASE WHEN score >= 4 THEN 1 ELSE 0 END)",
            "promoters": "w * (CASE WHEN score >= 9 THEN 1 ELSE 0 END)",
            "passives": "w * (CASE WHEN score BETWEEN 7 AND 8 THEN 1 ELSE 0 END)",
            "detractors": "w * (CASE WHEN score <= 6 THEN 1 ELSE 0 END)",
            "score_total": "w * COALESCE(score, 0)"}),
        Part("v", "sent_at", {
            "sent": "w", "sent_answered": "w * (CASE WHEN answered_at IS NULL THEN 0 ELSE 1 END)"}),
    ),
)

DURATION_DAY = DayTable(
    model=DurationDay, keys=("channel", "metric", "bucket"), key_exprs=(),
    values=("tickets",),
    parts=(
        Part("f", "first_reply_at", {"tickets": "w"},
             keys=("channel", "'first_response'", "first_response_bucket")),
        Part("f", "last_resolved_at", {"tickets": "w"}, where=" AND resolved_now = %s",
             keys=("channel", "'resolution'", "resolution_bucket")),
    ),
    lengths=(1, 7),
)

DAY_TABLES = (TICKET_DAY, BACKLOG_AGE_DAY, SURVEY_DAY, DURATION_DAY)


@dataclass(frozen=True)
class Rows:
    """Weighted per-ticket rows: SELECTs with the stored tables' columns and `w`."""

    facts: Fragment
    spans: Fragment
    surveys: Fragment


def rollup_zones() -> list[str]:
    """The time zones of `REPORT_ROLLUP_TIME_ZONES`, checked."""
    zones = list(dict.fromkeys(settings.REPORT_ROLLUP_TIME_ZONES))
    for zone in zones:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ImproperlyConfigured(
                f"REPORT_ROLLUP_TIME_ZONES: {zone!r} is not an IANA time zone name.") from None
    return zones


def _quoted(columns) -> str:
    return ", ".join(connection.ops.quote_name(column) for column in columns)


def _stored(model, columns, weight: int, tickets: Fragment | None) -> Fragment:
    where, params = ("", ()) if tickets is None else (
        f" WHERE ticket_id IN ({tickets.sql})", tickets.params)
    return Fragment(f"SELECT {_quoted(columns)}, {weight} AS w FROM {model._meta.db_table}"
                    f"{where}", params)


def stored_rows(*, weight: int = 1, tickets: Fragment | None = None) -> Rows:
    """The stored per-ticket rows (of `tickets`, a SELECT of ids; None: all) with a weight."""
    return Rows(facts=_stored(TicketFact, FACT_COLUMNS, weight, tickets),
                spans=_stored(StatusSpan, SPAN_COLUMNS, weight, tickets),
                surveys=_stored(SurveyFact, SURVEY_COLUMNS, weight, tickets))


def _signed(stored: Fragment, live: Fragment, columns) -> Fragment:
    return Fragment(f"{stored.sql} UNION ALL SELECT {_quoted(columns)}, 1 AS w "
                    f"FROM ({live.sql}) live", (*stored.params, *live.params))


def overlay_get(touched: Fragment) -> Rows:
    """The correction for the tickets touched since the refresh: their stored rows with
    weight −1 and their rows computed from the log with weight +1."""
    stored = stored_rows(weight=-1, tickets=touched)
    return Rows(facts=_signed(stored.facts, facts_live(touched), FACT_COLUMNS),
                spans=_signed(stored.spans, spans_live(touched), SPAN_COLUMNS),
                surveys=_signed(stored.surveys, surveys_live(touched), SURVEY_COLUMNS))


def day_rows(day_table: DayTable, tz: str, rows: Rows, *, days: int = 1) -> Fragment:
    """`rows` summed into `day_table`'s rows for `tz`: columns day, its keys, its values.
    `days` 7: per week, `day` being its Monday."""
    dated = local_date if days == 1 else local_week
    sources = {"f": rows.facts, "s": rows.spans, "v": rows.surveys}
    used = [alias for alias in sources if any(part.rows == alias for part in day_table.parts)]
    selects, params = [], []
    for part in day_table.parts:
        keys = ", ".join(f"{expr(tz) if callable(expr) else expr} AS {name}" for expr, name in
                         zip(part.keys or day_table.key_exprs, day_table.keys, strict=True))
        values = ", ".join(f"{part.values.get(name, '0')} AS {name}"
                           for name in day_table.values)
        where = part.where() if callable(part.where) else part.where
        selects.append(f"SELECT {dated(part.time, tz)} AS day, {keys}, {values} "
                       f"FROM {part.rows} WHERE {part.time} IS NOT NULL{where}")
        params.extend([True] if "%s" in where else [])
    keys = ", ".join(day_table.keys)
    sums = ", ".join(f"SUM({name}) AS {name}" for name in day_table.values)
    union = " UNION ALL ".join(f"SELECT * FROM ({select}) p" for select in selects)
    ctes = ", ".join(f"{alias} AS ({sources[alias].sql})" for alias in used)
    cte_params = [param for alias in used for param in sources[alias].params]
    sql = (f"SELECT * FROM (WITH {ctes} SELECT day, {keys}, {sums} FROM ({union}) u "
           f"GROUP BY day, {keys}) grouped")
    return Fragment(sql, (*cte_params, *params))


def _columns(day_table: DayTable) -> tuple:
    return ("day", *day_table.keys, *day_table.values)


def _insert(day_table: DayTable, tz: str, rows: Rows, *, add: bool) -> None:
    """Insert `rows` summed for `tz` (in each length of the table); `add`: add them to the
    rows already there."""
    table, columns = day_table.table, _columns(day_table)
    fixed = ("tz", "days") if day_table.lengths else ("tz",)
    conflict = ""
    if add:
        updates = ", ".join(f"{name} = {table}.{name} + excluded.{name}"
                            for name in day_table.values)
        conflict = (f" ON CONFLICT ({', '.join(fixed)}, day, {', '.join(day_table.keys)}) "
                    f"DO UPDATE SET {updates}")
    for days in day_table.lengths or (1,):
        summed = day_rows(day_table, tz, rows, days=days)
        constants = [tz, days][:len(fixed)]
        # `WHERE 1 = 1`: SQLite reads ON CONFLICT after a bare SELECT … FROM as a join's ON.
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(fixed)}, {_quoted(columns)}) "
                f"SELECT {', '.join(['%s'] * len(fixed))}, {', '.join(columns)} "
                f"FROM ({summed.sql}) d WHERE 1 = 1{conflict}",
                params_adapt([*constants, *summed.params]))


def days_apply(*, rows: Rows, zones) -> None:
    """Add weighted per-ticket rows to the day tables of `zones`, then drop the rows whose
    counts all came back to zero."""
    for day_table in DAY_TABLES:
        for tz in zones:
            _insert(day_table, tz, rows, add=True)
        zero = " AND ".join(f"{name} = 0" for name in day_table.values)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {day_table.table} WHERE {zero}")


def days_rebuild(*, zones) -> None:
    """The day tables of `zones` from every stored per-ticket row; other zones' rows go."""
    rows = stored_rows()
    for day_table in DAY_TABLES:
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {day_table.table}")
        for tz in zones:
            _insert(day_table, tz, rows, add=False)
