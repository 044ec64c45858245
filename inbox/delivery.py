"""Outbound delivery: channel adapters register a sender; a Celery task calls it.

A sender takes a Message and returns the provider's id for it. It raises
`TransientDeliveryError` for failures worth retrying (timeouts, 429, 5xx) and
`PermanentDeliveryError` for the rest; both messages end up on the Message.
"""

from collections.abc import Callable

from .models import Message

Sender = Callable[[Message], str | None]
_senders: dict[str, Sender] = {}


class TransientDeliveryError(Exception):
    """Worth retrying; `retry_after`: the seconds the provider asked us to wait, if it did."""

    def __init__(self, message: str = "", retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(Exception):
    pass


def sender_register(channel: str) -> Callable[[Sender], Sender]:
    def register(func: Sender) -> Sender:
        _senders[channel] = func
        return func

    return register


def sender_for(channel: str) -> Sender | None:
    return _senders.get(channel)
