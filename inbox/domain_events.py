"""Domain events other apps subscribe to, so `inbox` never imports them.

Surveys learn that a ticket was resolved, outbound webhooks learn of new tickets and
messages, without the inbox knowing either exists. Handlers run after the transaction that
caused the event commits (a rolled-back resolution notifies nobody) and must be cheap: the
usual handler enqueues a Celery task. A failing handler is logged; it never undoes the
write and never stops the other handlers.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

logger = logging.getLogger(__name__)

TICKET_CREATED = "ticket.created"
TICKET_RESOLVED = "ticket.resolved"
TICKET_REOPENED = "ticket.reopened"
MESSAGE_CREATED = "message.created"

Handler = Callable[..., None]

_handlers: dict[str, list[Handler]] = defaultdict(list)
_muted: ContextVar[bool] = ContextVar("domain_events_muted", default=False)
_round: ContextVar[dict | None] = ContextVar("domain_events_round", default=None)


def subscribe(event: str, handler: Handler) -> None:
    """Call `handler(**data)` after each commit that emitted `event`. Idempotent, so an
    app's `ready()` may run more than once."""
    if handler not in _handlers[event]:
        _handlers[event].append(handler)


def unsubscribe(event: str, handler: Handler) -> None:
    if handler in _handlers.get(event, ()):
        _handlers[event].remove(handler)


def emit(event: str, **data) -> None:
    """Notify `event`'s subscribers once the current transaction commits.

    ticket.created / ticket.resolved / ticket.reopened: `ticket_id`, `event_id` (the
    TicketEvent that records it). message.created: `ticket_id`, `message_id`.
    """
    emit_all([(event, data)])


def emit_all(events: list[tuple[str, dict]]) -> None:
    """Several events of one change (a ticket opened by its first message), dispatched in
    order in one round after the commit: handlers can share a look-up through
    `round_cached` instead of repeating it per event."""
    events = [(event, data) for event, data in events if _handlers.get(event)]
    if events and not _muted.get():
        transaction.on_commit(lambda: _dispatch_round(events))


def round_cached(key: str, compute: Callable[[], object]):
    """`compute()`, evaluated once per dispatch round and shared by the handlers of that
    round's events (outside a round: every time)."""
    memo = _round.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


@contextmanager
def shared_round() -> Iterator[None]:
    """The rounds dispatched inside the block (a batch of changes committed together)
    share one `round_cached` memo."""
    if _round.get() is not None:
        yield
        return
    token = _round.set({})
    try:
        yield
    finally:
        _round.reset(token)


@contextmanager
def muted() -> Iterator[None]:
    """Emit nothing inside the block: replayed history (an import) is not news, and must
    not send surveys or call integrations for tickets resolved years ago."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def _dispatch_round(events: list[tuple[str, dict]]) -> None:
    with shared_round():
        for event, data in events:
            _dispatch(event, data)


def _dispatch(event: str, data: dict) -> None:
    for handler in list(_handlers.get(event, ())):
        try:
            handler(**data)
        except Exception:  # one subscriber's failure must not cost the others their event
            logger.exception("%s handler %r failed", event, handler)
