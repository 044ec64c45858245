"""Finished report figures in Django's cache, for the report pages (docs/reports.md).

A period that ended before now only changes when the rollups do, so its figures are kept
under a key that names the rollups' refresh stamp (`RollupState`): the next refresh (every
10 minutes by Celery beat, or `compute_kpis`) moves to a new key, and the old one expires.
A period that includes now gets new events all the time: its figures are kept for
`RECENT_SECONDS`. The API does not use this cache.
"""

import hashlib
import uuid
from datetime import datetime

from django.core.cache import cache
from django.utils import timezone

from .kpis import KpiQuery
from .models import RollupState

RECENT_SECONDS = 60
# A cap for finished periods; their key changes with every refresh of the rollups anyway.
PAST_SECONDS = 24 * 3600
GENERATION_KEY = "reports:generation"


def report_cache_timeout(*, query: KpiQuery, now: datetime) -> int:
    """How long the figures of `query` may be kept, in seconds."""
    return PAST_SECONDS if query.period.until <= now else RECENT_SECONDS


def _rollup_stamp() -> str:
    state = RollupState.objects.values_list("last_event_id", "refreshed_at").first()
    if state is None:
        return "none"
    last_event_id, refreshed_at = state
    return f"{last_event_id}@{refreshed_at.isoformat() if refreshed_at else ''}"


def report_cache_key(*, name: str, query: KpiQuery) -> str:
    p = query.period
    generation = cache.get(GENERATION_KEY) or ""
    parts = (name, p.start.isoformat(), p.end.isoformat(), p.tz, repr(sorted(
        query.filters().items())), str(query.live), _rollup_stamp(), generation)
    return "reports:" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def report_cached(*, name: str, query: KpiQuery, compute):
    """`compute()`'s result for `query`, from the cache when it is there."""
    key = report_cache_key(name=name, query=query)
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, report_cache_timeout(query=query, now=timezone.now()))
    return value


def report_cache_clear() -> None:
    """Forget every cached report (a new generation in every key)."""
    cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
