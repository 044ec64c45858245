"""Visitors' messages reach the database in batches: group commit for the widget sockets.

All consumers of a daphne process do their database work on one thread
(`database_sync_to_async`), so their messages queue there one after another anyway. Rather
than a transaction (and a hop to that thread) each, the messages that arrive while a batch
is being written are written together by the next one: one transaction, a few statements
per batch for the common case (`chat.services.visitor_messages_send`) and one hop to the
event loop for all its live events. A message is acknowledged only once its batch has
committed. Nothing waits for a batch to fill: a lone message is written at once, so
batching adds no latency when the process is quiet and absorbs bursts when it is busy.
"""

import asyncio
import logging
import weakref

from channels.db import database_sync_to_async

from inbox.errors import ServiceError

from . import services
from .presenters import visitor_message

logger = logging.getLogger(__name__)

MAX_BATCH = 200


@database_sync_to_async
def _store(sends: list[services.VisitorSend]) -> list[dict | ServiceError]:
    return [outcome if isinstance(outcome, ServiceError) else visitor_message(outcome)
            for outcome in services.visitor_messages_send(sends=sends)]


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
        try:
            outcomes = await _store(sends)
        except Exception:
            # Something other than a refusal (a lost connection, a deadlock with another
            # process's batch): every message is tried again alone, so only a message
            # that fails by itself fails.
            logger.warning("a batch of %d messages failed; writing them one by one",
                           len(batch), exc_info=True)
            outcomes = [await self._alone(send) for send in sends]
        for (_, future), outcome in zip(batch, outcomes):
            if future.done():  # its socket has gone
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    @staticmethod
    async def _alone(send):
        try:
            return (await _store([send]))[0]
        except Exception as error:
            return error


_writers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, MessageWriter]" = (
    weakref.WeakKeyDictionary()
)


def writer() -> MessageWriter:
    loop = asyncio.get_running_loop()
    if loop not in _writers:
        _writers[loop] = MessageWriter()
    return _writers[loop]
