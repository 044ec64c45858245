"""The few Telegram Bot API calls Switchboard makes, failures classified for the tasks."""

from typing import Any

import httpx

from ...delivery import PermanentDeliveryError
from ...models import Inbox
from ..provider_http import (
    body_read_limited,
    http_client,
    json_object,
    retry_after_parse,
    status_failure,
    transport_failure,
)

DEFAULT_API_BASE = "https://api.telegram.org"


class BotApi:
    """A bot's API: `inbox.secret("bot_token")` at `inbox.config["api_base"]`. The token is
    part of every URL, so no URL ever goes into an error message."""

    def __init__(self, inbox: Inbox):
        self.token = inbox.secret("bot_token")
        if not self.token:
            raise PermanentDeliveryError(
                f"The inbox {inbox.slug} has no bot_token: add the token BotFather gave you.")
        self.base = str(inbox.config.get("api_base") or DEFAULT_API_BASE).rstrip("/")

    def call(self, method: str, params: dict | None = None, files: dict | None = None) -> Any:
        """POST a method (JSON, or multipart when uploading files); its `result`."""
        url = f"{self.base}/bot{self.token}/{method}"
        try:
            with http_client() as client:
                if files:
                    response = client.post(url, data={k: str(v) for k, v in params.items()},
                                           files=files)
                else:
                    response = client.post(url, json=params or {})
        except httpx.HTTPError as exc:
            raise transport_failure("Telegram", exc) from None
        payload = json_object(response)
        if response.status_code == 200 and payload.get("ok"):
            return payload.get("result")
        description = str(payload.get("description") or response.reason_phrase or "error")
        parameters = payload.get("parameters") if isinstance(payload.get("parameters"),
                                                             dict) else {}
        raise status_failure(
            response.status_code, f"{description} (Telegram {response.status_code})",
            retry_after=retry_after_parse(parameters.get("retry_after")
                                          or response.headers.get("retry-after")),
        )

    def file_download(self, file_path: str, limit: int) -> bytes:
        """A file's bytes from the bot file endpoint, given getFile's `file_path`."""
        url = f"{self.base}/file/bot{self.token}/{file_path.lstrip('/')}"
        try:
            with http_client() as client, client.stream("GET", url) as response:
                if response.status_code != 200:
                    raise status_failure(
                        response.status_code,
                        f"Telegram file download failed (HTTP {response.status_code}).",
                        retry_after=retry_after_parse(response.headers.get("retry-after")),
                    )
                return body_read_limited(response, limit, "The Telegram file")
        except httpx.HTTPError as exc:
            raise transport_failure("Telegram", exc) from None
