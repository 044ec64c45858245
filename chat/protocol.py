"""Frame validation for /ws/widget/ (SPEC §4): plain functions, no I/O."""

import time
import uuid

CLOSE_UNAUTHENTICATED = 4401
CLOSE_BAD_FRAME = 4400
CLOSE_FORBIDDEN = 4403
CLOSE_RATE_LIMITED = 4429
HELLO_TIMEOUT_S = 10


class BadFrame(Exception):
    """A frame that does not follow the protocol: the connection is closed with 4400."""


class FrameError(Exception):
    """A well-formed frame that cannot be honoured: answered with an error frame."""

    def __init__(self, code: str, message: str, client_id: str | None = None):
        super().__init__(message)
        self.code, self.message, self.client_id = code, message, client_id


def _int(frame: dict, name: str, *, optional: bool = False) -> int | None:
    value = frame.get(name)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadFrame(f"{name} must be a non-negative integer")
    return value


def message_send_parse(frame: dict) -> dict:
    try:
        client_id = uuid.UUID(str(frame.get("client_id")))
    except ValueError:
        raise BadFrame("client_id must be a UUID") from None
    body = frame.get("body", "")
    attachments = frame.get("attachments") or []
    if not isinstance(body, str):
        raise BadFrame("body must be a string")
    if not isinstance(attachments, list) or not all(
        isinstance(a, int) and not isinstance(a, bool) for a in attachments
    ):
        raise BadFrame("attachments must be a list of ids")
    return {"client_id": client_id, "ticket_id": _int(frame, "ticket_id", optional=True),
            "body": body, "attachment_ids": attachments}


def sync_parse(frame: dict) -> dict:
    return {"ticket_id": _int(frame, "ticket_id"), "after_seq": _int(frame, "after_seq")}


def typing_parse(frame: dict) -> dict:
    if frame.get("state") not in ("start", "stop"):
        raise BadFrame("state must be start or stop")
    return {"ticket_id": _int(frame, "ticket_id"), "state": frame["state"]}


def read_parse(frame: dict) -> dict:
    return {"ticket_id": _int(frame, "ticket_id"), "seq": _int(frame, "seq")}


class TokenBucket:
    """Per-connection rate limit: `rate` frames per second with bursts up to `capacity`."""

    def __init__(self, rate: float, capacity: int, clock=time.monotonic):
        self.rate, self.capacity, self.clock = rate, capacity, clock
        self.tokens, self.updated = float(capacity), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
