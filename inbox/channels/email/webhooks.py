"""Inbound mail from ESPs: `POST /hooks/email/<inbox-key>/{mailgun,sendgrid,postmark}`.

django-anymail's inbound views validate and parse the ESP's post; every message then goes
through `email_ingest` like mail from any other source. Authentication fails closed:
Mailgun posts must carry a fresh, unused signature made with MAILGUN_WEBHOOK_SIGNING_KEY;
SendGrid and Postmark do not sign inbound posts, so they must carry HTTP basic auth
matching ANYMAIL_WEBHOOK_SECRET. With those settings unset every post is refused.
"""

import time

from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from anymail.signals import AnymailInboundEvent
from anymail.utils import get_anymail_setting, get_request_basic_auth
from anymail.webhooks.base import AnymailBasicAuthMixin
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse

from ...api.errors import error_body
from ...models import Inbox
from .ingest import email_ingest
from .models import QuarantinedEmail

# Mailgun signs `timestamp + token`, not the body, so a used token must never pass again.
# Mailgun retries a post that failed for about 8 hours (10 min, 10 min, 15 min, 30 min, 1 h,
# 2 h, 4 h) with its first signature, so a signature is accepted for 9 hours (a shorter
# window would turn every retry into lost mail) and its token remembered as long; one more
# than 5 minutes in the future is refused (clock skew).
MAILGUN_MAX_AGE_S = 9 * 60 * 60
MAILGUN_MAX_CLOCK_SKEW_S = 5 * 60
MAILGUN_TOKEN_MEMORY_S = MAILGUN_MAX_AGE_S + MAILGUN_MAX_CLOCK_SKEW_S


def _refusal(status: int, code: str, message: str) -> JsonResponse:
    response = JsonResponse(error_body(code, message), status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Basic realm="Switchboard webhooks"'
    return response


class EmailInboundWebhookMixin:
    """Goes before an anymail inbound view in the bases: replaces its signal dispatch with
    `email_ingest` into the inbox named in the URL, and turns validation failures into
    JSON 401/403 answers instead of anymail's bare 400."""

    # Whether posts must carry basic auth (the ESP does not sign them).
    basic_auth_required = True

    def post(self, request: HttpRequest, inbox_key: str) -> JsonResponse:
        refusal = self.refusal(request)
        if refusal is not None:
            return refusal
        inbox = Inbox.objects.filter(key=inbox_key, kind=Inbox.Kind.EMAIL).first()
        if inbox is None:
            return _refusal(404, "not_found", "No such email inbox.")
        try:
            events = self.parse_events(request)
        except (AnymailConfigurationError, KeyError, ValueError) as exc:
            return _refusal(400, "invalid_payload",
                            f"Not a {self.esp_name} inbound message post: {exc}")
        results = []
        for event in events:
            # Stored, duplicate and quarantined all answer 200: quarantine keeps the mail,
            # and an error status would only make the ESP retry it forever.
            outcome = email_ingest(inbox=inbox, raw=self.event_raw(event),
                                   source=QuarantinedEmail.Source.WEBHOOK)
            results.append({
                "status": outcome.status,
                "message_id": outcome.message.pk if outcome.message else None,
                "ticket_id": outcome.message.ticket_id if outcome.message else None,
            })
        return JsonResponse({"results": results})

    def refusal(self, request: HttpRequest) -> JsonResponse | None:
        """The answer to a post that is not authentic, or None."""
        if self.basic_auth:
            if get_request_basic_auth(request) is None:
                return _refusal(401, "unauthorized", "HTTP basic auth credentials are required.")
            try:
                AnymailBasicAuthMixin.validate_request(self, request)
            except AnymailWebhookValidationFailure:
                return _refusal(403, "unauthorized", "Wrong webhook credentials.")
        elif self.basic_auth_required:
            return _refusal(403, "unauthorized", f"{self.esp_name} inbound webhooks are "
                            "disabled: ANYMAIL_WEBHOOK_SECRET is not configured.")
        try:
            self.run_validators(request)  # the ESP's signature check, where it signs
        except AnymailWebhookValidationFailure as exc:
            return _refusal(403, "bad_signature", str(exc))
        return None

    def event_raw(self, event: AnymailInboundEvent) -> bytes:
        # anymail keeps the original MIME when the ESP posts it (body-mime, send_raw).
        return event.message.as_bytes()


class MailgunInboundView(EmailInboundWebhookMixin, MailgunInboundWebhookView):
    """A Mailgun route's `forward("https://HOST/hooks/email/<key>/mailgun")`."""

    basic_auth_required = False  # Mailgun signs its posts

    def __init__(self, **kwargs):
        # Unset, anymail would raise on every request (a 500); an empty key refuses instead.
        kwargs.setdefault("webhook_signing_key", get_anymail_setting(
            "webhook_signing_key", esp_name=self.esp_name, default="") or "")
        super().__init__(**kwargs)

    def post(self, request: HttpRequest, inbox_key: str) -> JsonResponse:
        try:
            return super().post(request, inbox_key)
        except Exception:
            # Nothing was stored: Mailgun retries with the same signature, which must pass.
            cache.delete(_token_key(request))
            raise

    def refusal(self, request: HttpRequest) -> JsonResponse | None:
        if not self.webhook_signing_key:  # anyone can sign with an empty key
            return _refusal(403, "bad_signature", "Mailgun inbound webhooks are disabled: "
                            "MAILGUN_WEBHOOK_SIGNING_KEY is not configured.")
        return super().refusal(request) or self._replay_refusal(request)

    def _replay_refusal(self, request: HttpRequest) -> JsonResponse | None:
        """A valid signature is still refused when it is stale or was already used."""
        try:
            age = time.time() - int(request.POST["timestamp"])
        except (KeyError, ValueError):
            return _refusal(403, "bad_signature", "The signed form field timestamp is missing.")
        if age > MAILGUN_MAX_AGE_S:
            return _refusal(403, "bad_signature",
                            "The signature's timestamp is more than 9 hours old.")
        if -age > MAILGUN_MAX_CLOCK_SKEW_S:
            return _refusal(403, "bad_signature",
                            "The signature's timestamp is more than 5 minutes ahead of ours.")
        # cache.add is atomic on Redis: of two concurrent replays, only one gets through.
        if not cache.add(_token_key(request), True, timeout=MAILGUN_TOKEN_MEMORY_S):
            return _refusal(403, "bad_signature", "This signed request was already received.")
        return None


def _token_key(request: HttpRequest) -> str:
    return f"webhooks:mailgun:token:{request.POST.get('token', '')}"


class SendGridInboundView(EmailInboundWebhookMixin, SendGridInboundWebhookView):
    """SendGrid Inbound Parse with "POST the raw, full MIME message" checked, posting to
    `https://USER:PASSWORD@HOST/hooks/email/<key>/sendgrid`."""


class PostmarkInboundView(EmailInboundWebhookMixin, PostmarkInboundWebhookView):
    """A Postmark inbound stream's webhook URL,
    `https://USER:PASSWORD@HOST/hooks/email/<key>/postmark`."""

    def event_raw(self, event: AnymailInboundEvent) -> bytes:
        # Rebuilt from Postmark's JSON, the MIME differs on each delivery (random multipart
        # boundaries); without a Message-ID, Postmark's own id identifies a redelivery.
        if "Message-ID" not in event.message and event.event_id:
            event.message["Message-ID"] = f"<{event.event_id}@inbound.postmarkapp.com>"
        return super().event_raw(event)
