"""Query-string parameters of the KPI API and pages → a `KpiQuery`, or InvalidInput."""

from dataclasses import replace
from datetime import timedelta

from django.utils import timezone

from inbox.errors import InvalidInput
from inbox.models import Agent, Channel, Inbox, Team

from .kpis import KpiQuery
from .period import PeriodError, period_parse

_MODELS = {"inbox": Inbox, "team": Team, "agent": Agent}


def kpi_query_parse(*, params, default_days: int | None = None) -> KpiQuery:
    """`default_days`: when start and end are both missing, the last N days (pages)."""
    start, end, tz = params.get("start"), params.get("end"), params.get("tz") or None
    errors: dict[str, list[str]] = {}
    period = None
    if default_days and not start and not end:
        today = timezone.now().date()
        start, end = (today - timedelta(days=default_days - 1)).isoformat(), today.isoformat()
    try:
        period = period_parse(start=start, end=end, tz=tz)
    except PeriodError as error:
        errors.update(error.fields)
    filters = {}
    for name, model in _MODELS.items():
        raw = params.get(name)
        if raw in (None, ""):
            continue
        if not raw.isdigit() or not model.objects.filter(pk=int(raw)).exists():
            errors[name] = [f"No {name} with id {raw!r}."]
        else:
            filters[name] = int(raw)
    channel = params.get("channel") or None
    if channel is not None:
        if channel in Channel.values:
            filters["channel"] = channel
        else:
            errors["channel"] = [f"Unknown channel {channel!r}."]
    if errors:
        raise InvalidInput("Some report parameters are invalid.", fields=errors)
    return KpiQuery(period=period, **filters)


def previous_query(query: KpiQuery) -> KpiQuery:
    """The same filters over the period before."""
    return replace(query, period=query.period.previous())

