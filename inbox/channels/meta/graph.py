"""Meta's Graph API, shared by the WhatsApp Cloud API and the Messenger/Instagram Send API.

Meta's answers become delivery errors (`TransientDeliveryError` is retried by the Celery
task, `PermanentDeliveryError` ends up on the message); timeouts, size limits and file
naming come from `provider_http`, shared with the other messaging channels.
"""

from collections.abc import Callable
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import httpx

from ...delivery import PermanentDeliveryError, TransientDeliveryError
from ...models import Attachment, Inbox
from ..base import MediaRef
from ..provider_http import (
    body_read_limited,
    http_client,
    json_object,
    media_name_and_type,
    retry_after_parse,
    status_failure,
    transport_failure,
)

DEFAULT_API_BASE = "https://graph.facebook.com"
DEFAULT_API_VERSION = "v21.0"
# Meta answers some throttling and outage errors with HTTP 400: these codes are worth a retry
# (API busy, app/user/page/account rate limits, temporary send failure, WhatsApp
# throughput and pair rate limits, service unavailable).
TRANSIENT_ERROR_CODES = frozenset(
    {1, 2, 4, 17, 32, 613, 1200, 80007, 130429, 131016, 131056, 133004}
)


class GraphClient:
    """`{api_base}/{api_version}/...` with the inbox's bearer token (in a header, never in a
    URL, so no error message or log line carries it)."""

    def __init__(self, inbox: Inbox, *, token_secret: str):
        config = inbox.config
        self.base = str(config.get("api_base") or DEFAULT_API_BASE).rstrip("/")
        self.version = str(config.get("api_version") or DEFAULT_API_VERSION).strip("/")
        token = inbox.secret(token_secret)
        if not token:
            raise PermanentDeliveryError(
                f"The inbox {inbox.slug} has no {token_secret} secret: set it to send.")
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, path: str, **kwargs) -> dict:
        """POST json=..., or data=... with files=... (multipart); the JSON answer."""
        return self._call("POST", path, **kwargs)

    def get(self, path: str) -> dict:
        return self._call("GET", path)

    def download(self, url: str, *, limit: int) -> tuple[bytes, str]:
        """A file Meta serves only to the token holder (WhatsApp media URLs)."""
        return media_get(url, limit=limit, headers=self.headers)

    def _call(self, method: str, path: str, **kwargs) -> dict:
        url = f"{self.base}/{self.version}/{path.lstrip('/')}"
        try:
            with http_client() as client:
                response = client.request(method, url, headers=self.headers, **kwargs)
        except httpx.HTTPError as exc:
            raise transport_failure("Meta", exc) from None
        if response.status_code >= 400:
            raise graph_failure(response)
        return json_object(response)


def media_get(url: str, *, limit: int, headers: dict | None = None) -> tuple[bytes, str]:
    """(content, content type) of a media URL, refused past `limit` bytes. httpx drops the
    Authorization header if a redirect leaves the origin."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise PermanentDeliveryError("The media reference is not an http(s) URL.")
    try:
        with http_client(follow_redirects=True) as client, \
                client.stream("GET", url, headers=headers) as response:
            if response.status_code >= 400:
                response.read()
                raise graph_failure(response)
            content = body_read_limited(response, limit, "The media file")
            content_type = response.headers.get("content-type", "")
    except httpx.HTTPError as exc:
        raise transport_failure("Meta", exc) from None
    return content, content_type


def media_file(media: MediaRef, served_type: str) -> tuple[str, str]:
    """(file name, content type) for downloaded media; blocked file types are refused."""
    content_type = media.content_type or served_type
    major = content_type.split("/")[0].strip() or "file"
    return media_name_and_type(media.name, content_type, major)


def graph_failure(response: httpx.Response) -> Exception:
    """Meta's `{"error": {"message", "code", "error_data": {"details"}}}` as a delivery
    error: throttling and outages are transient, whatever the HTTP status."""
    error = json_object(response).get("error")
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message") or response.reason_phrase or "error")
    data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    if data.get("details") and str(data["details"]) not in message:
        message = f"{message}: {data['details']}"
    code = error.get("code")
    text = f"{message} ({f'code {code}, ' if code is not None else ''}HTTP {response.status_code})"
    retry_after = retry_after_parse(response.headers.get("retry-after"))
    if code in TRANSIENT_ERROR_CODES or error.get("is_transient"):
        return TransientDeliveryError(text, retry_after=retry_after)
    return status_failure(response.status_code, text, retry_after=retry_after)


def parts_send(parts: list[Callable[[], str]]) -> str:
    """Send a message the provider takes in several requests (text, then each file); returns
    the first part's id. Once a part is out, a later failure is permanent: a retry would
    send the earlier parts twice."""
    if not parts:
        raise PermanentDeliveryError("The message has neither text nor attachments.")
    first_id = ""
    for index, part in enumerate(parts):
        try:
            provider_id = part()
        except (TransientDeliveryError, PermanentDeliveryError) as exc:
            if index == 0:
                raise
            raise PermanentDeliveryError(
                f"Only {index} of {len(parts)} parts were sent: {exc}") from exc
        first_id = first_id or provider_id
    return first_id


def attachment_read(attachment: Attachment) -> bytes:
    try:
        with attachment.file.open("rb") as handle:
            return handle.read()
    except OSError as exc:
        raise PermanentDeliveryError(f"Attachment {attachment.name} is unreadable: {exc}")


def url_file_name(url: str) -> str:
    """The last path segment of a URL if it looks like a file name (has a dot), else ""."""
    segment = unquote(PurePosixPath(urlsplit(url).path).name)
    return segment if "." in segment else ""
