"""Refreshing both rollup layers in one transaction (docs/reports.md).

The per-ticket rows of the touched tickets are rewritten from the log (reports.sources),
and the day tables (reports.days) get the difference: the old rows with weight −1, the
new ones with +1. So the day tables stay the exact sum of the per-ticket rows.
"""

from django.db import transaction
from django.utils import timezone

from inbox.models import TicketEvent

from .days import days_apply, days_rebuild, rollup_zones, stored_rows
from .models import RollupState
from .sources import Fragment, rows_rebuild, rows_replace, touched_between


def _latest_event_id() -> int:
    return TicketEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _replace(tickets: Fragment, zones) -> None:
    days_apply(rows=stored_rows(weight=-1, tickets=tickets), zones=zones)
    rows_replace(tickets)
    days_apply(rows=stored_rows(weight=1, tickets=tickets), zones=zones)


def rollups_refresh(*, since=None, until=None) -> int:
    """Bring the rollups up to date: the tickets with events after the last refresh, and
    (with `since`/`until`) every ticket with an event in that range. Idempotent.

    The day tables are built from scratch when `REPORT_ROLLUP_TIME_ZONES` names zones they
    do not hold; when they were never built (before the day layer existed), the per-ticket
    rows are rebuilt too, since older rows lack the duration columns the day layer reads.
    Returns the TicketEvent id the rollups now reflect."""
    zones = rollup_zones()
    with transaction.atomic():
        state, _ = RollupState.objects.select_for_update().get_or_create(pk=1)
        if state.day_zones is None:
            return _rebuild(state, zones)
        latest = _latest_event_id()
        touched = Fragment(
            "SELECT ticket_id FROM inbox_ticketevent WHERE id > %s AND id <= %s",
            (state.last_event_id, latest),
        )
        kept = [zone for zone in zones if zone in state.zones()]
        _replace(touched, kept)
        if since is not None:
            _replace(touched_between(since, until), kept)
        if set(state.zones()) != set(zones):
            days_rebuild(zones=zones)
        state.last_event_id, state.refreshed_at = latest, timezone.now()
        state.day_zones = ",".join(zones)
        state.save()
    return latest


def _rebuild(state: RollupState, zones) -> int:
    latest = _latest_event_id()
    rows_rebuild()
    days_rebuild(zones=zones)
    state.last_event_id, state.refreshed_at = latest, timezone.now()
    state.day_zones = ",".join(zones)
    state.save()
    return latest


def rollups_rebuild() -> int:
    """Recompute every ticket's rows and the day tables from them."""
    zones = rollup_zones()
    with transaction.atomic():
        state, _ = RollupState.objects.select_for_update().get_or_create(pk=1)
        return _rebuild(state, zones)
