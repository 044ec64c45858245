"""Live events: group names, event shapes and publishing after commit.

The database is the log; the channel layer is only a wake-up signal. A failed publish is
logged and never undoes or blocks the write that caused it.
"""

import asyncio
import logging
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
MESSAGE_NEW = "message.new"
MESSAGE_UPDATED = "message.updated"
# The agent inbox's own events on /ws/agent/: someone is writing a reply (collision
# warning), and a note mentioned you.
REPLYING = "replying"
MENTION = "mention"


def inbox_group(inbox_id: int) -> str:
    return f"inbox.{inbox_id}"


def ticket_group(ticket_id: int) -> str:
    return f"ticket.{ticket_id}"


def contact_group(contact_id: int) -> str:
    return f"contact.{contact_id}"


def agent_group(agent_id: int) -> str:
    """Every /ws/agent/ socket of one agent joins this group (mention notifications)."""
    return f"agent.{agent_id}"


_muted: ContextVar[bool] = ContextVar("realtime_muted", default=False)
_coalescing: ContextVar[list | None] = ContextVar("realtime_coalescing", default=None)

Payload = dict | Callable[[], dict]
T = TypeVar("T")


def publish(groups: list[str], event_type: str, payload: Payload) -> None:
    """Send `payload` to `groups` once the current transaction commits.

    `payload` may be a function that builds it: it is then called after the commit, and
    only when there is a channel layer to send to, so a payload that costs queries (a
    message with its attachments) is never built for nobody.
    """
    if _muted.get():
        return
    transaction.on_commit(lambda: _deliver(groups, event_type, payload))


@contextmanager
def process_local_muted() -> Iterator[None]:
    """Publish nothing inside the block if the channel layer is the in-memory one.

    That layer reaches only sockets served by this same process; a management command
    (a bulk email import) serves none, so its events could reach no one and building and
    sending them is pure cost. With a shared layer (Redis) the block changes nothing:
    agents connected to the web processes still see the imported mail arrive live.
    """
    if not isinstance(get_channel_layer(), InMemoryChannelLayer):
        yield
        return
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def _deliver(groups: list[str], event_type: str, payload: Payload) -> None:
    if get_channel_layer() is None:
        return
    try:
        payload = payload() if callable(payload) else payload
    except Exception:  # the write already committed; clients catch up with sync
        logger.exception("live event %s not built", event_type)
        return
    _send(groups, {"type": "live.event", "event": event_type, "payload": payload})


@contextmanager
def coalesced() -> Iterator[None]:
    """Live events sent inside the block go out when it ends, in order, all in one
    `async_to_sync` call: for a batch of writes that commits many events at once (each
    call waits for a hop to the event loop). Nested blocks join the outermost."""
    if _coalescing.get() is not None:
        yield
        return
    token = _coalescing.set([])
    try:
        yield
    finally:
        pending = _coalescing.get()
        _coalescing.reset(token)
        if pending:
            _send_all(pending)


Events = list[tuple[list[str], dict]]


@contextmanager
def collected() -> Iterator[Events]:
    """Live events sent inside the block are kept in the list it yields, in order, and not
    sent: its caller hands them to `send_soon` from the event loop. For the consumers'
    database work, whose thread would otherwise wait while the loop publishes them, before
    it can start on the next write. `coalesced` blocks inside join it."""
    events: Events = []
    token = _coalescing.set(events)
    try:
        yield events
    finally:
        _coalescing.reset(token)


def _send(groups: list[str], message: dict) -> None:
    pending = _coalescing.get()
    if pending is not None:
        pending.append((groups, message))
    else:
        _send_all([(groups, message)])


def _send_all(events: Events) -> None:
    """Each event to each of its groups (`_group_send_all`): a single `async_to_sync` call
    (each one starts an event loop in a helper thread, or waits for the server's), whatever
    the number of events and groups."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(_group_send_all)(layer, events)
    except Exception:  # the write already committed; clients catch up with sync
        logger.exception("%d live events not delivered", len(events))


def send_soon(events: Events) -> None:
    """Send `events` from the running event loop without waiting for them: they leave
    after any that earlier calls in this loop handed over, in order."""
    if events:
        _publisher().put(events)


class _Publisher:
    """The live events one event loop has yet to send, sent by one task in the order they
    were handed over; whatever piled up while it sent the last lot goes out together."""

    def __init__(self):
        self.pending: Events = []
        self.task: asyncio.Task | None = None

    def put(self, events: Events) -> None:
        self.pending.extend(events)
        if self.task is None:
            self.task = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        try:
            while self.pending:
                events, self.pending = self.pending, []
                layer = get_channel_layer()
                if layer is not None:
                    await _group_send_all(layer, events)
        finally:
            self.task = None


def per_loop(factory: Callable[[], T]) -> Callable[[], T]:
    """A function that returns the running event loop's own `factory()`, made on first
    use (one per daphne process; tests run each in a loop of its own)."""
    instances: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def get() -> T:
        loop = asyncio.get_running_loop()
        if loop not in instances:
            instances[loop] = factory()
        return instances[loop]

    return get


_publisher = per_loop(_Publisher)


async def _group_send_all(layer, events: Events) -> None:
    """One channel-layer message per group: a group with several events gets them together,
    in order, as `live.events` (consumers hand each to their `live_event`). Order holds
    per group, which is all a socket can rely on (each process's events reach it through
    different groups)."""
    by_group: dict[str, list[dict]] = {}
    for groups, message in events:
        for group in groups:
            by_group.setdefault(group, []).append(message)
    for group, messages in by_group.items():
        message = (messages[0] if len(messages) == 1
                   else {"type": "live.events", "events": messages})
        try:
            await layer.group_send(group, message)
        except Exception:  # one group's failure must not cost the others their events
            logger.exception("%d live events to %s not delivered", len(messages), group)
