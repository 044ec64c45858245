"""Rollups the KPI reports read instead of the raw log (docs/reports.md).

Two layers. The first is per ticket: each ticket's first-reply time, reply count, reopens
and latest resolution (`TicketFact`), the spans of time it spent unresolved (`StatusSpan`)
and its survey invitations with their latest answers (`SurveyFact`); any period in any IANA
time zone is a GROUP BY over them. They are recomputed from `TicketEvent` and `Message` for
the tickets touched since the last refresh, so they can be thrown away and rebuilt
(`manage.py compute_kpis`) at any time.

The second sums the first per local day in each zone of `REPORT_ROLLUP_TIME_ZONES` and per
combination of the filter dimensions (`TicketDay`, `BacklogAgeDay`, `SurveyDay`), and counts the durations
per day, channel and logarithmic bucket (`DurationDay`), so exact percentiles read only the
values of the one or two buckets that hold the ranks asked for. Its size follows days ×
dimensions, not tickets. It is kept equal to the sum of the first layer's rows by the same
refresh (reports/days.py).
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
    # The two durations in the database's exact units (reports.sql.duration_units) and
    # their histogram bucket (reports.sql.duration_bucket); NULL without a reply/resolution.
    first_response_units = models.BigIntegerField(null=True)
    first_response_bucket = models.IntegerField(null=True)
    resolution_units = models.BigIntegerField(null=True)
    resolution_bucket = models.IntegerField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], name="fact_created"),
            models.Index(fields=["first_reply_at"], name="fact_first_reply"),
            models.Index(fields=["last_resolved_at"], name="fact_resolved"),
            # The values of one bucket and channel in a period, read from the index alone:
            # the last columns are there to be read, not searched (INCLUDE is PostgreSQL's).
            models.Index(fields=["first_response_bucket", "channel", "first_reply_at",
                                 "first_response_units", "ticket"], name="fact_frt_bucket"),
            models.Index(fields=["resolution_bucket", "channel", "last_resolved_at",
                                 "resolution_units", "resolved_now", "ticket"],
                         name="fact_res_bucket"),
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
            # Backlog aging: the spans of the tickets created at or after an instant.
            models.Index(fields=["created_at"], name="span_created"),
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
    # The time zones the day tables hold, comma-separated; NULL until they are first built.
    day_zones = models.CharField(max_length=500, null=True, default=None)

    def zones(self) -> list[str]:
        return [zone for zone in (self.day_zones or "").split(",") if zone]


# The day layer. `team_id` and `agent_id` store 0 for "none", so the unique keys hold on both
# databases (NULLs never conflict).
NONE_ID = 0


class DayRow(models.Model):
    """The key of a day table's row: a local date in the report time zone `tz` and a
    combination of the report's filter dimensions (0 for no team or no assignee)."""

    tz = models.CharField(max_length=64)
    day = models.DateField()
    inbox_id = models.BigIntegerField()
    channel = models.CharField(max_length=16)
    team_id = models.BigIntegerField()
    agent_id = models.BigIntegerField()

    class Meta:
        abstract = True


class TicketDay(DayRow):
    """Ticket counts per local date in `tz` and per combination of the filter dimensions.
    Each count is dated by its own instant: created by `created_at`, first responses by the
    first reply, resolutions by the latest resolution (tickets resolved now), backlog span
    starts and ends by theirs."""

    created = models.IntegerField(default=0)
    first_responses = models.IntegerField(default=0)
    first_response_units = models.BigIntegerField(default=0)
    resolved = models.IntegerField(default=0)
    resolution_units = models.BigIntegerField(default=0)
    resolved_with_reply = models.IntegerField(default=0)
    first_contact = models.IntegerField(default=0)
    reopened = models.IntegerField(default=0)
    backlog_starts = models.IntegerField(default=0)
    backlog_ends = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["tz", "day", "inbox_id", "channel", "team_id", "agent_id"],
            name="ticket_day_key")]


class BacklogAgeDay(DayRow):
    """Backlog span starts and ends per local date of the ticket's creation and local date
    of the start or end, for those within a week of the creation: the backlog at a midnight
    by the age of its tickets, up to 7 days (reports.day_kpis.day_backlog)."""

    created_day = models.DateField()
    backlog_starts = models.IntegerField(default=0)
    backlog_ends = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["tz", "created_day", "day", "inbox_id", "channel", "team_id", "agent_id"],
            name="backlog_age_day_key")]


class SurveyDay(DayRow):
    """Survey answers per local date of the latest answer, and invitations per date sent,
    per kind and combination of the filter dimensions."""

    kind = models.CharField(max_length=8)
    answers = models.IntegerField(default=0)
    satisfied = models.IntegerField(default=0)  # CSAT 4–5
    promoters = models.IntegerField(default=0)  # NPS 9–10
    passives = models.IntegerField(default=0)  # NPS 7–8
    detractors = models.IntegerField(default=0)  # NPS 0–6
    score_total = models.BigIntegerField(default=0)
    sent = models.IntegerField(default=0)
    sent_answered = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["tz", "day", "inbox_id", "channel", "team_id", "agent_id", "kind"],
            name="survey_day_key")]


class DurationDay(models.Model):
    """How many first-response or resolution times fall in each bucket, per local date (of
    the reply, of the latest resolution) and channel; and the same per week (`days` 7,
    `day` its Monday), so a long period reads a week's row instead of seven."""

    tz = models.CharField(max_length=64)
    days = models.SmallIntegerField()  # 1 or 7
    day = models.DateField()
    channel = models.CharField(max_length=16)
    metric = models.CharField(max_length=16)  # first_response, resolution
    bucket = models.IntegerField()
    tickets = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["tz", "days", "day", "metric", "channel", "bucket"],
            name="duration_day_key")]
