"""X-Twilio-Signature, as Twilio documents it (twilio.com/docs/usage/security): base64 of
HMAC-SHA1, keyed with the account's auth token, over the full URL Twilio requested followed
by every POST parameter as name + value, sorted by name.

Our own few lines rather than the `twilio` package's RequestValidator: that package brings
its whole REST client (aiohttp, requests, PyJWT...) for this one function. This follows the
official helpers' details (repeated names and values de-duplicated and sorted; the URL tried
with and without its port) and is tested against Twilio's published example vectors.
"""

import base64
import hashlib
import hmac
import re
from urllib.parse import urlsplit, urlunsplit

from django.http import HttpRequest

from ...models import Inbox

_PORT = re.compile(r":\d*$")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def signature_compute(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    signed = url
    for name in sorted({name for name, _ in params}):
        for value in sorted({v for n, v in params if n == name}):
            signed += name + value
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signature_valid(auth_token: str, url: str, params: list[tuple[str, str]],
                    signature: str) -> bool:
    """Whether `signature` signs the request, with the URL's port written or not (Twilio
    signs with the port in some set-ups and without it in others)."""
    given = signature.encode()
    return any(
        hmac.compare_digest(signature_compute(auth_token, candidate, params).encode(), given)
        for candidate in url_port_variants(url)
    )


def url_port_variants(url: str) -> list[str]:
    """The URL without its port, and with it (the scheme's default when none is written)."""
    parts = urlsplit(url)
    host = _PORT.sub("", parts.netloc) if not parts.netloc.endswith("]") else parts.netloc
    port = parts.netloc[len(host) + 1:] or _DEFAULT_PORTS.get(parts.scheme.lower(), "")
    without = urlunsplit(parts._replace(netloc=host))
    return [without, urlunsplit(parts._replace(netloc=f"{host}:{port}"))] if port else [without]


def request_signed_url(request: HttpRequest, inbox: Inbox) -> str:
    """The URL Twilio requested. Behind a TLS-terminating proxy it is the public one:
    the inbox's `webhook_url` when set, else what Django rebuilds, which trusts
    X-Forwarded-Proto / X-Forwarded-Host only as SECURE_PROXY_SSL_HEADER and
    USE_X_FORWARDED_HOST allow."""
    configured = str(inbox.config.get("webhook_url") or "").strip()
    return configured or request.build_absolute_uri()
