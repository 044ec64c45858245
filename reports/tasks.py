from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from .refresh import rollups_refresh

# Events are numbered when inserted but visible when committed: one that committed after a
# refresh with a lower id than the watermark is picked up by re-reading the last two days.
RECENT_DAYS = 2


@shared_task(acks_late=True)
def kpi_rollups_refresh() -> int:
    """Bring the KPI rollups up to date with the tickets touched since the last run."""
    return rollups_refresh()


@shared_task(acks_late=True)
def kpi_rollups_recent_days() -> int:
    """Recompute every ticket with an event in the last days (beat, daily)."""
    now = timezone.now()
    return rollups_refresh(since=now - timedelta(days=RECENT_DAYS), until=now)
