"""Report pages for admins (/reports/): thin views over the report selectors."""

import csv
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from inbox.errors import InvalidInput
from inbox.models import Agent, Channel, Inbox, Team

from . import presenters
from .feedback import recovery_counts, survey_comments
from .cache import report_cached
from .kpis import OVERVIEW_BREAKDOWNS, kpi_breakdown, kpi_overview, kpi_summary
from .params import kpi_query_parse, previous_query
from .staffing import hourly_arrivals, staffing_plan

DEFAULT_DAYS = 28
COMMON_ZONES = ("UTC", "Asia/Jakarta", "Asia/Shanghai", "Asia/Singapore", "Asia/Kolkata",
                "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles",
                "Australia/Sydney")


def admin_required(view):
    @wraps(view)
    @login_required
    @require_GET
    def wrapped(request, *args, **kwargs):
        if not request.user.is_admin:
            return render(request, "reports/error.html", {
                "title": _("Not allowed"),
                "message": _("Reports are for admins and support leads."),
            }, status=403)
        try:
            return view(request, *args, **kwargs)
        except InvalidInput as error:
            return render(request, "reports/error.html", {
                "title": _("Check the report settings"), "message": error.message,
                "fields": error.fields or {}, "form": _form(request),
            }, status=400)
    return wrapped


def _query(request):
    return kpi_query_parse(params=request.GET, default_days=DEFAULT_DAYS)


def _form(request, query=None) -> dict:
    """The filter form: current values and the choices."""
    values = request.GET.dict()
    if query is not None:
        values.update(start=query.period.start.isoformat(), end=query.period.end.isoformat(),
                      tz=query.period.tz)
    return {
        "values": values, "zones": COMMON_ZONES, "channels": Channel.choices,
        "inboxes": Inbox.objects.order_by("name").values_list("pk", "name"),
        "teams": Team.objects.order_by("name").values_list("pk", "name"),
        "agents": [(a.pk, a.name) for a in Agent.objects.filter(is_active=True)
                   .order_by("display_name", "username")],
        "query_string": request.GET.urlencode(),
    }


@admin_required
def overview(request):
    query = _query(request)
    overview = _overview(query)
    report = overview["report"]
    previous_period = previous_query(query)
    previous = report_cached(name="summary", query=previous_period,
                             compute=lambda: kpi_summary(query=previous_period))
    tables = {by: presenters.table_present(rows=overview["breakdowns"][by], by=by)
              for by in ("channel", "agent", "team")}
    days = overview["breakdowns"]["day"]
    return render(request, "reports/overview.html", {
        "form": _form(request, query), "query": query, "report": report,
        "previous_period": query.period.previous(),
        "tiles": presenters.tiles_present(report, previous),
        "charts": presenters.charts_present(days=days, backlog_daily=report["backlog"]["daily"]),
        "channel_charts": presenters.channel_charts(channels=tables["channel"]),
        "columns": [label for _key, label, _kind, _value in presenters.COLUMNS],
        "tables": tables, "recovery": recovery_counts(query=query),
    })


def _overview(query) -> dict:
    return report_cached(name="overview", query=query, compute=lambda: kpi_overview(query=query))


def _score_param(request) -> tuple[str | None, int | None]:
    kind = request.GET.get("kind") or None
    raw = request.GET.get("score") or None
    errors = {}
    if kind not in (None, "csat", "nps", "ces"):
        errors["kind"] = [_("Choose CSAT, NPS or CES.")]
    if raw is not None and not (raw.isdigit() and int(raw) <= 10):
        errors["score"] = [_("A score is a whole number from 0 to 10.")]
    if errors:
        raise InvalidInput(_("Some report parameters are invalid."), fields=errors)
    return kind, None if raw is None else int(raw)


@admin_required
def comments(request):
    query = _query(request)
    kind, score = _score_param(request)
    return render(request, "reports/comments.html", {
        "form": _form(request, query), "query": query, "kind": kind, "score": score,
        "scores": range(0, 11), "comments": survey_comments(query=query, kind=kind, score=score),
    })


def _number(request, name: str, default: float, low: float, high: float, errors: dict):
    raw = request.GET.get(name) or ""
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        errors[name] = [_("Enter a number from %(low)s to %(high)s.") % {"low": low,
                                                                          "high": high}]
        return default
    return value


def _staffing_inputs(request) -> dict:
    errors: dict = {}
    inputs = {
        "handle_seconds": _number(request, "handle_seconds", 300, 1, 86400, errors),
        "target_percent": _number(request, "target_percent", 80, 1, 99.9, errors),
        "target_seconds": _number(request, "target_seconds", 60, 0, 86400, errors),
    }
    if errors:
        raise InvalidInput(_("Some staffing inputs are invalid."), fields=errors)
    return inputs


def _staffing_rows(query, inputs) -> list:
    plan = staffing_plan(arrivals=hourly_arrivals(query=query),
                         handle_seconds=inputs["handle_seconds"],
                         target_level=inputs["target_percent"] / 100,
                         target_seconds=inputs["target_seconds"])
    return [{"hour": f"{p.hour:02d}:00", "arrivals": p.staffing.arrivals_per_hour,
             "traffic": p.staffing.traffic, "agents": p.staffing.agents,
             "service_level": p.staffing.service_level,
             "average_wait_s": p.staffing.average_wait_s, "occupancy": p.staffing.occupancy}
            for p in plan]


@admin_required
def staffing(request):
    query = _query(request)
    inputs = _staffing_inputs(request)
    return render(request, "reports/staffing.html", {
        "form": _form(request, query), "query": query, "inputs": inputs,
        "rows": _staffing_rows(query, inputs),
    })


@admin_required
def export_csv(request, table: str):
    query = _query(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    period = query.period
    response["Content-Disposition"] = (
        f'attachment; filename="{table}-{period.start}-{period.end}.csv"')
    writer = csv.writer(response)
    if table == "comments":
        kind, score = _score_param(request)
        writer.writerow(["ticket", "subject", "kind", "score", "comment", "answered_at"])
        for row in survey_comments(query=query, kind=kind, score=score):
            writer.writerow([row["ticket"], row["subject"], row["kind"], row["score"],
                             row["comment"], row["at"]])
    elif table == "staffing":
        rows = _staffing_rows(query, _staffing_inputs(request))
        writer.writerow(list(rows[0]))
        writer.writerows([list(row.values()) for row in rows])
    else:
        if table in OVERVIEW_BREAKDOWNS:  # the page's figures, usually cached by now
            breakdown = _overview(query)["breakdowns"][table]
        else:
            breakdown = kpi_breakdown(query=query, by=table)
        rows = presenters.table_present(rows=breakdown, by=table)
        writer.writerow([table, "name", *(key for key, *_rest in presenters.COLUMNS)])
        for row in rows:
            writer.writerow([row["key"], row["name"],
                             *("" if v is None else v for v in row["values"].values())])
    return response
