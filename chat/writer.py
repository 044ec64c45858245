"""Visitors' messages reach the database in batches: group commit for the widget sockets.

All consumers of a daphne process do their database work on one thread
(`database_sync_to_async`), so their messages queue there one after another anyway. Rather
than a transaction (and a hop to that thread) each, the messages that arrive while a batch
is being written are written together by the next one: one transaction, a few statements
per batch for the common case (`chat.services.visitor_messages_send`). Its live events
are handed back to the event loop, which sends them (one channel-layer message per group)
while the thread writes the next batch. A message is acknowledged only once its batch has
committed. Nothing waits for a batch to fill: a lone message is written at once, so
batching adds no latency when the process is quiet and absorbs bursts when it is busy.
"""

import asyncio
import logging

from channels.db import database_sync_to_async

from inbox import realtime
from inbox.errors import ServiceError

from . import services
from .presenters import visitor_message

logger = logging.getLogger(__name__)

MAX_BATCH = 200


@database_sync_to_async
def _store(sends: list[services.VisitorSend]) -> tuple[list | Exception, realtime.Events]:
    """The visitor's payload of each stored message (or the ServiceError that refused
    it), or the exception that failed the batch; and the live events the batch committed,
    for the event loop to send: this thread goes on to the next batch without waiting
    for them."""
    with realtime.collected() as events:
        try:
            return [outcome if isinstance(outcome, ServiceError) else visitor_message(outcome)
                    for outcome in services.visitor_messages_send(sends=sends)], events
        except Exception as error:  # the writer retries its messages one by one
            return error, events


class MessageWriter:
    """The batches of one event loop (one per daphne process)."""

    def __init__(self):
        self.pending: list[tuple[services.VisitorSend, asyncio.Future]] = []
        self.task: asyncio.Task | None = None

    async def send(self, send: services.VisitorSend) -> dict:
        """Store `send` with whatever else is waiting; the visitor's payload of the stored
        message, or the ServiceError that refused it, raised."""
        future = asyncio.get_running_loop().create_future()
        self.pending.append((send, future))
        if self.task is None:
            self.task = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self):
        try:
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                await self._write(batch)
        finally:
            self.task = None

    async def _write(self, batch):
        sends = [send for send, _ in batch]
        outcomes, events = await _store(sends)
        if isinstance(outcomes, Exception):
            # Something other than a refusal (a lost connection, a deadlock with another
            # process's batch): every message is tried again alone, so only a message
            # that fails by itself fails.
            logger.warning("a batch of %d messages failed; writing them one by one",
                           len(batch), exc_info=outcomes)
            outcomes = []
            for send in sends:
                outcome, more = await _store([send])
                outcomes.append(outcome if isinstance(outcome, Exception) else outcome[0])
                events += more
        for (_, future), outcome in zip(batch, outcomes):
            if future.done():  # its socket has gone
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
        # After the acks: a visitor's ack marks the conversation theirs before its echo.
        realtime.send_soon(events)


writer = realtime.per_loop(MessageWriter)
