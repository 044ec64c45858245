"""Where the KPI queries read per-ticket facts and status spans from.

`live`: computed from the event log and messages, one SQL query each. `rollup`: the stored
tables (reports.models), except for tickets with events after the last refresh, whose rows
are computed live and take the stored rows' place: today's partial day is always live and
both sources give the same numbers (tests/reports/test_rollups.py).

Each source is a SQL fragment with the same columns, so the aggregates in `kpis` are
written once. `rows_replace` stores the live rows of a set of tickets (reports.refresh).
"""

from dataclasses import dataclass

from django.db import connection

from inbox.models import Message, Ticket, TicketEvent

from .models import RollupState, StatusSpan, SurveyFact, TicketFact
from .sql import duration_bucket, duration_units, json_int, json_text, params_adapt

FACT_COLUMNS = ("ticket_id", "inbox_id", "channel", "team_id", "agent_id", "created_at",
                "first_reply_at", "agent_replies", "reopens", "last_resolved_at", "resolved_now",
                "first_response_units", "first_response_bucket", "resolution_units",
                "resolution_bucket")
SPAN_COLUMNS = ("ticket_id", "inbox_id", "channel", "team_id", "agent_id", "created_at",
                "start", "end")
SURVEY_COLUMNS = ("invitation", "ticket_id", "inbox_id", "channel", "team_id", "agent_id", "kind",
                  "sent_at", "answered_at", "score")
# Log entries that set a ticket's status, and those after which it is unresolved.
STATUS_EVENTS = (TicketEvent.Type.CREATED, TicketEvent.Type.REOPENED,
                 TicketEvent.Type.STATUS_CHANGED, TicketEvent.Type.RESOLVED,
                 TicketEvent.Type.CLOSED)
UNRESOLVED_EVENTS = (TicketEvent.Type.CREATED, TicketEvent.Type.REOPENED,
                     TicketEvent.Type.STATUS_CHANGED)


@dataclass(frozen=True)
class Fragment:
    sql: str
    params: tuple = ()


def _marks(values) -> str:
    return ", ".join(["%s"] * len(values))


def _quoted(columns) -> str:
    return ", ".join(connection.ops.quote_name(column) for column in columns)


def _only(column: str, tickets: Fragment | None) -> tuple[str, tuple]:
    """` AND column IN (tickets)`, or nothing for every ticket."""
    if tickets is None:
        return "", ()
    return f" AND {column} IN ({tickets.sql})", tickets.params


def facts_live(tickets: Fragment | None = None) -> Fragment:
    """One row per ticket of `tickets` (a SELECT of ticket ids; None: every ticket)."""
    done = (Ticket.Status.RESOLVED, Ticket.Status.CLOSED)
    in_replies, p_replies = _only("ticket_id", tickets)
    in_events, p_events = _only("ticket_id", tickets)
    in_tickets, p_tickets = _only("t.id", tickets)
    sql = f"""
        SELECT t.id AS ticket_id, t.inbox_id, t.channel, t.team_id, t.assignee_id AS agent_id,
               t.created_at, r.first_reply_at, COALESCE(r.replies, 0) AS agent_replies,
               COALESCE(e.reopens, 0) AS reopens, e.last_resolved_at,
               (t.status IN ({_marks(done)})) AS resolved_now
        FROM inbox_ticket t
        LEFT JOIN (SELECT ticket_id, MIN(created_at) AS first_reply_at, COUNT(*) AS replies
                   FROM inbox_message
                   WHERE direction = %s AND author_type = %s AND is_auto_reply = %s{in_replies}
                   GROUP BY ticket_id) r ON r.ticket_id = t.id
        LEFT JOIN (SELECT ticket_id, SUM(CASE WHEN type = %s THEN 1 ELSE 0 END) AS reopens,
                          MAX(CASE WHEN type = %s THEN at END) AS last_resolved_at
                   FROM inbox_ticketevent WHERE type IN (%s, %s){in_events}
                   GROUP BY ticket_id) e ON e.ticket_id = t.id
        WHERE 1 = 1{in_tickets}"""
    frt_units, per_second = duration_units("first_reply_at", "created_at")
    res_units, _ = duration_units("last_resolved_at", "created_at")
    sql = f"""
        SELECT d.*, {duration_bucket("first_response_units", per_second)} AS first_response_bucket,
               {duration_bucket("resolution_units", per_second)} AS resolution_bucket
        FROM (SELECT f.*, {frt_units} AS first_response_units, {res_units} AS resolution_units
              FROM ({sql}) f) d"""
    reopened, resolved = TicketEvent.Type.REOPENED, TicketEvent.Type.RESOLVED
    params = (*done, Message.Direction.OUTBOUND, Message.AuthorType.AGENT, False, *p_replies,
              reopened, resolved, reopened, resolved, *p_events, *p_tickets)
    return Fragment(sql, params)


def spans_live(tickets: Fragment | None = None) -> Fragment:
    """Unresolved spans of `tickets`: each status entry of the log up to the next one."""
    in_events, p_events = _only("ticket_id", tickets)
    sql = f"""
        SELECT s.ticket_id, t.inbox_id, t.channel, t.team_id, t.assignee_id AS agent_id,
               t.created_at, s.at AS start, s.next_at AS {connection.ops.quote_name("end")}
        FROM (SELECT ticket_id, type, at,
                     LEAD(at) OVER (PARTITION BY ticket_id ORDER BY at, id) AS next_at
              FROM inbox_ticketevent
              WHERE type IN ({_marks(STATUS_EVENTS)}){in_events}) s
        JOIN inbox_ticket t ON t.id = s.ticket_id
        WHERE s.type IN ({_marks(UNRESOLVED_EVENTS)})"""
    return Fragment(sql, (*STATUS_EVENTS, *p_events, *UNRESOLVED_EVENTS))


def surveys_live(tickets: Fragment | None = None) -> Fragment:
    """One row per invitation of `tickets`: its first `survey_sent` entry and its latest
    `survey_answered` entry (by time, then id)."""
    in_sent, p_sent = _only("ticket_id", tickets)
    in_answers, p_answers = _only("ticket_id", tickets)
    invitation = json_text("data", "invitation")
    sent, answered = TicketEvent.Type.SURVEY_SENT, TicketEvent.Type.SURVEY_ANSWERED
    sql = f"""
        SELECT i.invitation, i.ticket_id, t.inbox_id, t.channel, t.team_id,
               t.assignee_id AS agent_id, i.kind, i.sent_at, a.at AS answered_at, a.score
        FROM (SELECT {invitation} AS invitation, MIN(ticket_id) AS ticket_id,
                     MIN({json_text("data", "kind")}) AS kind,
                     MIN(CASE WHEN type = %s THEN at END) AS sent_at
              FROM inbox_ticketevent WHERE type IN (%s, %s){in_sent}
              GROUP BY {invitation}) i
        JOIN inbox_ticket t ON t.id = i.ticket_id
        LEFT JOIN (SELECT invitation, at, score
                   FROM (SELECT {invitation} AS invitation, at,
                                {json_int("data", "score")} AS score,
                                ROW_NUMBER() OVER (PARTITION BY {invitation}
                                                   ORDER BY at DESC, id DESC) AS rn
                         FROM inbox_ticketevent WHERE type = %s{in_answers}) r
                   WHERE rn = 1) a ON a.invitation = i.invitation
        WHERE i.invitation IS NOT NULL"""
    return Fragment(sql, (sent, sent, answered, *p_sent, answered, *p_answers))


def touched_since(event_id: int) -> Fragment:
    return Fragment("SELECT ticket_id FROM inbox_ticketevent WHERE id > %s", (event_id,))


def touched_between(since, until) -> Fragment:
    return Fragment(
        "SELECT DISTINCT ticket_id FROM inbox_ticketevent WHERE at >= %s AND at < %s",
        (since, until),
    )


def _stored_or_live(table: str, columns, live, touched: Fragment) -> Fragment:
    quoted = _quoted(columns)
    fresh = live(touched)
    sql = (f"SELECT {quoted} FROM {table} WHERE ticket_id NOT IN ({touched.sql}) "
           f"UNION ALL SELECT {quoted} FROM ({fresh.sql}) fresh")
    return Fragment(sql, (*touched.params, *fresh.params))


@dataclass(frozen=True)
class Source:
    facts: Fragment
    spans: Fragment
    surveys: Fragment


# Each rollup table, its columns and the live query that fills it.
ROLLUPS = ((TicketFact, FACT_COLUMNS, facts_live), (StatusSpan, SPAN_COLUMNS, spans_live),
           (SurveyFact, SURVEY_COLUMNS, surveys_live))


def rows_replace(tickets: Fragment) -> None:
    """Rewrite the stored rows of `tickets` from the log (inside a transaction)."""
    for model, columns, live in ROLLUPS:
        table = model._meta.db_table
        fresh = live(tickets)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE ticket_id IN ({tickets.sql})",
                           params_adapt(tickets.params))
            cursor.execute(f"INSERT INTO {table} ({_quoted(columns)}) "
                           f"SELECT {_quoted(columns)} FROM ({fresh.sql}) fresh",
                           params_adapt(fresh.params))


def rows_rebuild() -> None:
    """Recompute every ticket's rows (inside a transaction)."""
    for model, columns, live in ROLLUPS:
        model.objects.all().delete()
        fresh = live(None)
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {model._meta.db_table} ({_quoted(columns)}) "
                           f"SELECT {_quoted(columns)} FROM ({fresh.sql}) fresh",
                           params_adapt(fresh.params))


def source_get(*, live: bool = False) -> Source:
    """Rows to aggregate: the rollups with every ticket touched since their refresh
    recomputed, or (`live`) everything computed from the log."""
    if live:
        return Source(facts=facts_live(), spans=spans_live(), surveys=surveys_live())
    state = RollupState.objects.first()
    return source_since(touched_since(state.last_event_id if state else 0))


def source_since(touched: Fragment) -> Source:
    """The stored rows but those of `touched`, whose rows are computed live."""
    return Source(*(_stored_or_live(model._meta.db_table, columns, live, touched)
                    for model, columns, live in ROLLUPS))
