"""Report figures → what the pages and CSV files show: tiles, chart series, table rows."""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inbox.models import Agent, Channel, Inbox, Team

from . import charts, metrics

# (key, label, value in the report, kind, which way is better)
TILES = (
    ("tickets_created", gettext_lazy("Tickets created"), lambda r: r["tickets_created"],
     "count", None),
    ("tickets_resolved", gettext_lazy("Tickets resolved"), lambda r: r["tickets_resolved"],
     "count", "up"),
    ("fcr", gettext_lazy("First contact resolution"), lambda r: r["fcr"]["rate"], "rate", "up"),
    ("frt_median", gettext_lazy("First response, median"),
     lambda r: r["first_response"]["median_s"], "duration", "down"),
    ("frt_p90", gettext_lazy("First response, 90th percentile"),
     lambda r: r["first_response"]["p90_s"], "duration", "down"),
    ("resolution_median", gettext_lazy("Resolution time, median"),
     lambda r: r["resolution"]["median_s"], "duration", "down"),
    ("reopen_rate", gettext_lazy("Reopen rate"), lambda r: r["reopen_rate"], "rate", "down"),
    ("backlog", gettext_lazy("Backlog at the end"), lambda r: r["backlog"]["end"], "count",
     "down"),
    ("csat", gettext_lazy("CSAT"), lambda r: r["csat"]["score"], "score", "up"),
    ("nps", gettext_lazy("NPS"), lambda r: r["nps"]["score"], "score", "up"),
    ("ces", gettext_lazy("Customer effort (1–7)"), lambda r: r["ces"]["mean"], "score", "down"),
)

# Columns of the breakdown tables and their CSV files: (key, label, kind, value).
COLUMNS = (
    ("tickets_created", gettext_lazy("Created"), "count", lambda r: r["tickets_created"]),
    ("tickets_resolved", gettext_lazy("Resolved"), "count", lambda r: r["tickets_resolved"]),
    ("fcr_rate", gettext_lazy("FCR"), "rate", lambda r: r["fcr"]["rate"]),
    ("first_response_median_s", gettext_lazy("First response, median"), "duration",
     lambda r: r["first_response"]["median_s"]),
    ("first_response_p90_s", gettext_lazy("First response, p90"), "duration",
     lambda r: r["first_response"]["p90_s"]),
    ("resolution_median_s", gettext_lazy("Resolution, median"), "duration",
     lambda r: r["resolution"]["median_s"]),
    ("reopen_rate", gettext_lazy("Reopen rate"), "rate", lambda r: r["reopen_rate"]),
    ("csat_score", gettext_lazy("CSAT"), "score", lambda r: r["csat"]["score"]),
    ("csat_answers", gettext_lazy("CSAT answers"), "count", lambda r: r["csat"]["answers"]),
    ("nps_score", gettext_lazy("NPS"), "score", lambda r: r["nps"]["score"]),
    ("ces_mean", gettext_lazy("CES"), "score", lambda r: r["ces"]["mean"]),
)


def value_format(value, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "duration":
        return duration_format(value)
    if kind == "score":
        return f"{value:.1f}"
    return f"{value:,}"


def duration_format(seconds: float) -> str:
    if seconds < 60:
        return _("%(n)s s") % {"n": f"{seconds:.0f}"}
    if seconds < 3600:
        return _("%(n)s min") % {"n": f"{seconds / 60:.0f}"}
    if seconds < 86400:
        return _("%(n)s h") % {"n": f"{seconds / 3600:.1f}"}
    return _("%(n)s d") % {"n": f"{seconds / 86400:.1f}"}


def tiles_present(current: dict, previous: dict) -> list[dict]:
    tiles = []
    for key, label, value_of, kind, better in TILES:
        now, before = value_of(current), value_of(previous)
        change = metrics.change(now, before)
        verdict = None
        if change and better:
            verdict = "better" if (change > 0) == (better == "up") else "worse"
        tiles.append({"key": key, "label": label, "display": value_format(now, kind),
                      "previous": value_format(before, kind),
                      "change": None if change is None else _change_format(change),
                      "verdict": verdict})
    return tiles


def _change_format(change: float) -> str:
    return f"{change * 100:+.1f}%" if abs(change) < 0.1 else f"{change * 100:+.0f}%"


def names_for(by: str, keys) -> dict:
    """Display names of the breakdown keys (ids of agents, teams, inboxes; channels)."""
    if by == "channel":
        return {value: str(label) for value, label in Channel.choices}
    model = {"agent": Agent, "team": Team, "inbox": Inbox}.get(by)
    if model is None:
        return {}
    ids = [key for key in keys if key is not None]
    return {obj.pk: obj.name for obj in model.objects.filter(pk__in=ids)}


def table_present(*, rows: list[dict], by: str) -> list[dict]:
    """Breakdown rows with a display name, raw values (CSV) and formatted cells (pages)."""
    names = names_for(by, [row["key"] for row in rows])
    unnamed = {"agent": _("Unassigned"), "team": _("No team")}.get(by, "–")
    out = []
    for row in rows:
        key = row["key"]
        name = unnamed if key is None else names.get(key, str(key))
        values = {column: value_of(row) for column, _label, _kind, value_of in COLUMNS}
        cells = [value_format(values[column], kind) for column, _label, kind, _v in COLUMNS]
        out.append({"key": key, "name": name, "values": values, "cells": cells})
    if by != "day":
        out.sort(key=lambda row: (row["key"] is None, str(row["name"]).lower()))
    return out


def charts_present(*, days: list[dict], backlog_daily: list[dict]) -> list:
    """The charts over time: one SVG per KPI."""
    labels = [row["key"][5:] for row in days]  # MM-DD

    def series(label, value_of):
        return charts.Series(str(label), [value_of(row) for row in days])

    rate = lambda v: f"{v * 100:.0f}%"  # noqa: E731
    return [
        charts.line_chart(
            title=_("First contact resolution"), y_max=1.0, fmt=rate, labels=labels,
            description=_("Share of tickets resolved each day with one reply and no reopen."),
            series=[series(_("FCR rate"), lambda r: r["fcr"]["rate"])]),
        charts.line_chart(
            title=_("Backlog"), labels=labels, fmt=lambda v: f"{v:.0f}",
            description=_("Open, pending and snoozed tickets at the end of each day."),
            series=[charts.Series(_("Backlog"), [d["count"] for d in backlog_daily])]),
        charts.line_chart(
            title=_("First response time"), labels=labels, fmt=duration_format,
            description=_("Median and 90th percentile of first response times, by the day of "
                          "the first reply."),
            series=[series(_("Median"), lambda r: r["first_response"]["median_s"]),
                    series(_("90th percentile"), lambda r: r["first_response"]["p90_s"])]),
        charts.line_chart(
            title=_("Resolution time"), labels=labels, fmt=duration_format,
            description=_("Median time from creation to resolution, by the day of resolution."),
            series=[series(_("Median"), lambda r: r["resolution"]["median_s"])]),
        charts.line_chart(
            title=_("CSAT"), labels=labels, y_max=100.0, fmt=lambda v: f"{v:.0f}",
            description=_("Share of satisfied answers (4 or 5 of 5), by day answered."),
            series=[series(_("CSAT"), lambda r: r["csat"]["score"])]),
        charts.line_chart(
            title=_("NPS"), labels=labels, fmt=lambda v: f"{v:.0f}",
            description=_("Promoters minus detractors, per 100 answers, by day answered."),
            y_max=100.0, y_min=-100.0, series=[series(_("NPS"), lambda r: r["nps"]["score"])]),
    ]


def channel_charts(*, channels: list[dict]) -> list:
    bars = [(row["name"], row["values"]["tickets_created"]) for row in channels]
    fcr = [(row["name"], row["values"]["fcr_rate"]) for row in channels]
    return [
        charts.bar_chart(title=_("Tickets created by channel"), bars=bars,
                         description=_("Tickets created in the period, per channel.")),
        charts.bar_chart(title=_("FCR by channel"), bars=fcr,
                         fmt=lambda v: f"{v * 100:.0f}%",
                         description=_("First contact resolution rate, per channel.")),
    ]
