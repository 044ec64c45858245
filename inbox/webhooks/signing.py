"""The signature on outbound webhooks, shared by the sender and by receivers' docs/tests.

`X-Switchboard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the
timestamp is signed with the body, so a receiver can refuse stale replays.
"""

import hashlib
import hmac
import time

HEADER = "X-Switchboard-Signature"


def signature_header(*, secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def signature_verify(*, secret: str, body: bytes, header: str, tolerance_s: int = 300,
                     now: int | None = None) -> bool:
    """True when `header` signs `body` with `secret` and is at most `tolerance_s` old."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        digest = fields["v1"]
    except (KeyError, ValueError):
        return False
    now = int(time.time()) if now is None else now
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(digest, _digest(secret, timestamp, body))


def _digest(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
