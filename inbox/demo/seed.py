import gc
import random
import secrets
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from .bulk import foreign_key_checks_skip, tables_analyze
from .history import HistoryPlanner, PlannedContact
from .rows import BATCH_MODELS, batch_write
from .workspace import Workspace, workspace_ensure

# A big load is bound by PostgreSQL's own work (indexes), which two connections spread over
# two cores while the main thread plans the next batches.
WRITER_THREADS = 2


@dataclass(frozen=True)
class SeedResult:
    seed: int
    counts: Counter  # rows written: contacts, identities, tickets, labels, messages, events
    seconds: float


def demo_seed(
    *,
    tickets: int,
    days: int = 180,
    seed: int | None = None,
    batch_size: int = 5000,
    agent_password: str | None = None,
    now: datetime | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> SeedResult:
    """Append `tickets` tickets of history over the last `days` days (plus the inboxes, teams,
    agents and labels they need, if missing). The same `seed` and `now` give the same data."""
    started = time.monotonic()
    seed = secrets.randbelow(2**32) if seed is None else seed
    workspace = workspace_ensure(agent_password=agent_password)
    planner = HistoryPlanner(
        workspace, rng=random.Random(seed), now=now or timezone.now(), days=days
    )
    # Inside a caller's transaction (tests) every write must join it, so no threads then.
    threaded = connection.vendor == "postgresql" and not connection.in_atomic_block
    counts: Counter = Counter()
    planned = 0
    with _garbage_collector_paused(), ThreadPoolExecutor(max_workers=WRITER_THREADS) as writers:
        in_flight: deque[Future] = deque()
        while planned < tickets:
            contacts = planner.contacts(min(batch_size, tickets - planned))
            planned += sum(len(contact.tickets) for contact in contacts)
            if threaded:
                in_flight.append(writers.submit(_batch_commit_in_thread, contacts, workspace))
            else:
                with transaction.atomic():
                    counts += batch_write(contacts=contacts, workspace=workspace)
            # Keep one batch queued behind the busy writers; memory stays bounded.
            while in_flight and (len(in_flight) > WRITER_THREADS or planned >= tickets):
                counts += in_flight.popleft().result()
            if progress and counts["tickets"]:
                progress(counts["tickets"], tickets, time.monotonic() - started)
    if tickets:
        tables_analyze(BATCH_MODELS)
    return SeedResult(seed=seed, counts=counts, seconds=time.monotonic() - started)


@contextmanager
def _garbage_collector_paused() -> Iterator[None]:
    # Batches are hundreds of thousands of acyclic objects; the cycle collector rescanning
    # them again and again costs more than planning them.
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _batch_commit_in_thread(contacts: list[PlannedContact], workspace: Workspace) -> Counter:
    try:
        with transaction.atomic():
            foreign_key_checks_skip()
            return batch_write(contacts=contacts, workspace=workspace)
    finally:
        connection.close()  # this thread's own connection
