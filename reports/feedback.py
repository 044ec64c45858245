"""Survey comments and service-recovery counts for the report pages."""

from django.db.models import Count

from inbox.models import TicketEvent
from surveys.models import RecoveryTask

from .query import KpiQuery, filters_sql
from .sql import fetch_all, json_int, json_text

COMMENTS_LIMIT = 500


def survey_comments(*, query: KpiQuery, kind: str | None = None, score: int | None = None,
                    limit: int = COMMENTS_LIMIT) -> list[dict]:
    """Latest answers with a comment received in the period, newest first."""
    p = query.period
    where, params = filters_sql(query, ticket_alias="t")
    data = "e.data"
    chosen, chosen_params = "", []
    if kind:
        chosen += " AND kind = %s"
        chosen_params.append(kind)
    if score is not None:
        chosen += " AND score = %s"
        chosen_params.append(score)
    sql = f"""
        SELECT ticket_id, subject, kind, score, comment, at FROM (
          SELECT e.ticket_id, t.subject, {json_text(data, "kind")} AS kind,
                 {json_int(data, "score")} AS score, {json_text(data, "comment")} AS comment,
                 e.at, ROW_NUMBER() OVER (PARTITION BY {json_text(data, "invitation")}
                                          ORDER BY e.at DESC, e.id DESC) AS rn
          FROM inbox_ticketevent e JOIN inbox_ticket t ON t.id = e.ticket_id
          WHERE e.type = %s AND e.at >= %s{where}) a
        WHERE rn = 1 AND at < %s AND comment IS NOT NULL AND comment <> ''{chosen}
        ORDER BY at DESC LIMIT %s"""
    rows = fetch_all(sql, [TicketEvent.Type.SURVEY_ANSWERED, p.since, *params, p.until,
                           *chosen_params, limit])
    return [{"ticket": ticket, "subject": subject, "kind": kind, "score": score,
             "comment": comment, "at": at} for ticket, subject, kind, score, comment, at in rows]


def recovery_counts(*, query: KpiQuery) -> dict[str, int]:
    """Service-recovery tasks opened in the period, by their status now."""
    p = query.period
    tasks = RecoveryTask.objects.filter(created_at__gte=p.since, created_at__lt=p.until)
    lookups = {"inbox": "ticket__inbox_id", "channel": "ticket__channel",
               "team": "ticket__team_id", "agent": "ticket__assignee_id"}
    tasks = tasks.filter(**{lookups[name]: value for name, value in query.filters().items()})
    counts = dict(tasks.order_by().values_list("status").annotate(n=Count("id")))
    return {status: counts.get(status, 0) for status in RecoveryTask.Status.values}
