"""HTTP plumbing the messaging adapters share: timeouts, how provider failures map onto
delivery errors, and downloads that stop at the inbox's attachment size limit."""

import mimetypes
import os

import httpx

from ..delivery import PermanentDeliveryError, TransientDeliveryError
from .email.mime import extension_for, filename_safe
from .email.parse import BLOCKED_EXTENSIONS

# A provider that has not answered in this time is treated as down: the task retries.
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MB = 1024 * 1024
_BUILTIN_TYPES = mimetypes.MimeTypes()  # built-in table only: the same on every host


def http_client(**options) -> httpx.Client:
    return httpx.Client(timeout=TIMEOUT, **options)


def transport_failure(provider: str, exc: httpx.HTTPError) -> TransientDeliveryError:
    # Only the exception's class: its text or request may carry a URL with a token in it.
    return TransientDeliveryError(f"{provider} did not answer ({type(exc).__name__}).")


def status_failure(status: int, description: str,
                   retry_after: float | None = None) -> Exception:
    """429 and 5xx are worth retrying; any other refusal will not change by itself."""
    if status == 429 or status >= 500:
        return TransientDeliveryError(description, retry_after=retry_after)
    return PermanentDeliveryError(description)


def json_object(response: httpx.Response) -> dict:
    """A provider's JSON answer, or {} when the body is not a JSON object (an HTML error
    page from a proxy, an empty 502)."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def retry_after_parse(value) -> float | None:
    """Seconds from a `Retry-After` header or a provider's retry_after field."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None  # absent, or an HTTP date: our own backoff will do
    return seconds if seconds > 0 else None


def body_read_limited(response: httpx.Response, limit: int, what: str) -> bytes:
    """The body of a streamed response, refused as soon as it passes `limit` bytes."""
    too_big = PermanentDeliveryError(f"{what} is larger than the {limit / MB:g} MB limit.")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_big
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


def media_name_and_type(name: str, content_type: str, fallback_stem: str) -> tuple[str, str]:
    """A safe file name and a content type for downloaded media; blocked types refused."""
    content_type = (content_type or "").split(";")[0].strip().lower()
    if not content_type and name:
        content_type = _BUILTIN_TYPES.guess_type(name)[0] or ""
    content_type = content_type or "application/octet-stream"
    name = (filename_safe(name, content_type, 1) if name.strip()
            else fallback_stem + extension_for(content_type))
    if os.path.splitext(name.lower())[1] in BLOCKED_EXTENSIONS:
        raise PermanentDeliveryError(f"{name}: blocked file type.")
    return name, content_type
