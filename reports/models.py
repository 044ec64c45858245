"""Rollups the KPI reports read instead of the raw log (docs/reports.md).

They are per ticket, not per day: each ticket's first-reply time, reply count, reopens and
latest resolution (`TicketFact`), the spans of time it spent unresolved (`StatusSpan`) and
its survey invitations with their latest answers (`SurveyFact`). Medians and p90 are then
exact (computed over the stored durations), and daily series in any IANA time zone are a
GROUP BY at read time. The tables are recomputed from
`TicketEvent` and `Message` for the tickets touched since the last refresh, so they can be
thrown away and rebuilt (`manage.py compute_kpis`) at any time.
"""

from django.db import models

from inbox.models import Ticket


class TicketFact(models.Model):
    ticket = models.OneToOneField(
        Ticket, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    # The ticket's dimensions when it was last refreshed (report filters).
    inbox_id = models.BigIntegerField()
    channel = models.CharField(max_length=16)
    team_id = models.BigIntegerField(null=True)
    agent_id = models.BigIntegerField(null=True)  # the assignee
    created_at = models.DateTimeField()
    first_reply_at = models.DateTimeField(null=True)  # first agent reply
    agent_replies = models.PositiveIntegerField()
    reopens = models.PositiveIntegerField()
    last_resolved_at = models.DateTimeField(null=True)  # latest `resolved` event
    resolved_now = models.BooleanField()  # resolved or closed at refresh time

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], name="fact_created"),
            models.Index(fields=["first_reply_at"], name="fact_first_reply"),
            models.Index(fields=["last_resolved_at"], name="fact_resolved"),
        ]


class StatusSpan(models.Model):
    """A stretch of time a ticket was open, pending or snoozed: [start, end), end NULL while
    it still is. Backlog at T = spans with start < T <= end."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    inbox_id = models.BigIntegerField()
    channel = models.CharField(max_length=16)
    team_id = models.BigIntegerField(null=True)
    agent_id = models.BigIntegerField(null=True)
    created_at = models.DateTimeField()  # the ticket's, for backlog aging
    start = models.DateTimeField()
    end = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["start"], name="span_start"),
            models.Index(fields=["end"], name="span_end"),
        ]


class SurveyFact(models.Model):
    """One survey invitation: when it was sent, and its latest answer (answers can change)."""

    invitation = models.CharField(max_length=200, primary_key=True)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    inbox_id = models.BigIntegerField()
    channel = models.CharField(max_length=16)
    team_id = models.BigIntegerField(null=True)
    agent_id = models.BigIntegerField(null=True)
    kind = models.CharField(max_length=8)
    sent_at = models.DateTimeField(null=True)
    answered_at = models.DateTimeField(null=True)  # of the latest answer
    score = models.SmallIntegerField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["answered_at"], name="survey_fact_answered"),
            models.Index(fields=["sent_at"], name="survey_fact_sent"),
            models.Index(fields=["ticket"], name="survey_fact_ticket"),
        ]


class RollupState(models.Model):
    """One row: the last TicketEvent id whose ticket the rollups reflect."""

    last_event_id = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True)
