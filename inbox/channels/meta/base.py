"""What every Meta webhook shares: the subscription handshake, the X-Hub-Signature-256
check, the `{"object", "entry": [...]}` envelope, timestamps, and who a reply goes to."""

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.dateparse import parse_datetime

from ...api.errors import error_body
from ...delivery import PermanentDeliveryError
from ...models import ContactIdentity, Inbox, Message
from ..base import ChannelAdapter, PayloadInvalid, WebhookRejected
from .graph import GraphClient
from .selectors import inbound_latest

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"


class MetaAdapter(ChannelAdapter):
    webhook_object: str  # the `object` this kind's webhooks carry
    token_secret: str  # the secret holding the token replies are sent with

    def handshake(self, request: HttpRequest, inbox: Inbox) -> HttpResponse:
        """Meta's GET when the callback URL is saved: echo hub.challenge if the verify token
        is ours. An inbox without a verify_token secret never subscribes."""
        expected = inbox.secret("verify_token")
        token = request.GET.get("hub.verify_token", "")
        if (request.GET.get("hub.mode") == "subscribe" and expected
                and hmac.compare_digest(token.encode(), expected.encode())):
            return HttpResponse(request.GET.get("hub.challenge", ""),
                                content_type="text/plain; charset=utf-8")
        logger.warning("%s subscription for %s refused: wrong mode or verify token",
                       self.kind, inbox.slug)
        return JsonResponse(error_body("verification_failed",
                                       "The verify token does not match."), status=403)

    def verify(self, request: HttpRequest, inbox: Inbox) -> None:
        """X-Hub-Signature-256 = "sha256=" + hex HMAC-SHA256(app secret, raw body)."""
        secret = inbox.secret("app_secret")
        if not secret:
            raise WebhookRejected("The inbox has no app_secret: every request is refused.",
                                  status=403, code="not_configured")
        signature = request.headers.get(SIGNATURE_HEADER, "").strip()
        if not signature:
            raise WebhookRejected(f"{SIGNATURE_HEADER} is missing.", status=401,
                                  code="signature_missing")
        expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), signature.lower().encode()):
            raise WebhookRejected(f"{SIGNATURE_HEADER} does not match the body.")

    def entries(self, request: HttpRequest) -> list[dict]:
        """The entries of a verified webhook body for this kind's `object`."""
        try:
            payload = json.loads(request.body)
        except (UnicodeDecodeError, ValueError) as exc:
            raise PayloadInvalid(f"The body is not JSON: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("object") != self.webhook_object:
            raise PayloadInvalid(f"Expected a webhook with object={self.webhook_object!r}.")
        entries = payload.get("entry")
        if not isinstance(entries, list):
            raise PayloadInvalid("The webhook has no entry list.")
        return [entry for entry in entries if isinstance(entry, dict)]

    def client(self, inbox: Inbox) -> GraphClient:
        return GraphClient(inbox, token_secret=self.token_secret)

    def recipient_id(self, message: Message, identity_kinds: Iterable[str]) -> str:
        """The id the customer last wrote to this inbox from (ids are scoped to a page or a
        business number), else the contact's identity on the channel."""
        contact_id = message.ticket.contact_id
        latest = inbound_latest(contact_id=contact_id, channel=self.kind, inbox_id=message.inbox_id)
        sender = latest and (latest.metadata.get(self.kind) or {}).get("from")
        if sender:
            return str(sender)
        identity = (
            ContactIdentity.objects.filter(contact_id=contact_id, kind__in=list(identity_kinds))
            .order_by("-verified", "-created_at", "-pk").first()
        )
        if identity is None:
            raise PermanentDeliveryError(f"The contact has no {self.kind} id to write to.")
        return identity.value.removeprefix("+")


def items_parse(items, parse_one: Callable, what: str) -> list:
    """`parse_one` of every item, skipping (and logging) malformed ones, so one bad item
    does not cost the valid ones of the same delivery. None results are left out."""
    results = []
    for item in items if isinstance(items, list) else []:
        try:
            result = parse_one(item)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            logger.warning("skipped a malformed %s: %r (%s)", what, item, exc)
            continue
        if result is not None:
            results.append(result)
    return results


def meta_time(value) -> datetime | None:
    """Epoch seconds (WhatsApp, as a string), epoch milliseconds (Messenger, Instagram) or an
    ISO-8601 string; None when absent or unreadable."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, int | float):
        # 10^11 seconds is the year 5138: anything larger is milliseconds.
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            return None
        if parsed is not None and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed
    return None
