"""Twilio Messaging (docs/channels/twilio.md): SMS, and WhatsApp through Twilio, on the
`sms` channel. Signed webhooks in, the Messages API out."""

from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

from ...delivery import PermanentDeliveryError
from ...media_links import media_link
from ...models import Channel, ContactIdentity, Inbox, Message
from ..base import ChannelAdapter, MediaRef, WebhookBatch, WebhookRejected, adapter_register
from ..provider_http import (
    body_read_limited,
    http_client,
    json_object,
    media_name_and_type,
    retry_after_parse,
    status_failure,
    transport_failure,
)
from .parse import params_parse, phone_e164
from .signature import request_signed_url, signature_valid

SIGNATURE_HEADER = "X-Twilio-Signature"
DEFAULT_API_BASE = "https://api.twilio.com"


@adapter_register
class TwilioAdapter(ChannelAdapter):
    kind = Inbox.Kind.TWILIO

    def verify(self, request: HttpRequest, inbox: Inbox) -> None:
        auth_token = inbox.secret("auth_token")
        if not auth_token:
            raise WebhookRejected("This inbox has no auth_token.", code="not_configured")
        signature = request.headers.get(SIGNATURE_HEADER, "")
        if not signature:
            raise WebhookRejected(f"{SIGNATURE_HEADER} is missing.", status=401,
                                  code="unauthorized")
        _, params = _form(request)
        if not signature_valid(auth_token, request_signed_url(request, inbox), params,
                               signature):
            raise WebhookRejected(f"{SIGNATURE_HEADER} does not match the request.")

    def parse(self, request: HttpRequest, inbox: Inbox) -> WebhookBatch:
        raw, params = _form(request)
        return params_parse(params, inbox=inbox, raw=raw)

    def media_download(self, inbox: Inbox, media: MediaRef) -> tuple[bytes, str, str]:
        """Twilio media needs the account's credentials; they go to Twilio's API host only
        (its redirect to the storage host drops them)."""
        if urlsplit(media.ref).scheme not in ("http", "https"):
            raise PermanentDeliveryError("The media URL is not an http(s) URL.")
        auth = _credentials(inbox) if _origin(media.ref) == _origin(_api_base(inbox)) else None
        try:
            with http_client(follow_redirects=True) as client, \
                    client.stream("GET", media.ref, auth=auth) as response:
                if response.status_code != 200:
                    raise status_failure(
                        response.status_code,
                        f"Twilio media download failed (HTTP {response.status_code}).",
                        retry_after=retry_after_parse(response.headers.get("retry-after")))
                content = body_read_limited(response, inbox.attachment_limit_bytes,
                                            "The Twilio media file")
                served_type = response.headers.get("content-type", "")
        except httpx.HTTPError as exc:
            raise transport_failure("Twilio", exc) from None
        name, content_type = media_name_and_type("", media.content_type or served_type,
                                                 media.name or "twilio-media")
        return content, content_type, name

    def send(self, message: Message) -> str:
        """POST to the Messages API; returns the message SID status callbacks will name."""
        inbox = message.inbox
        account_sid, auth_token = _credentials(inbox)
        # Replies carry at most 10 files (MAX_REPLY_ATTACHMENTS), Twilio's MediaUrl limit.
        attachments = list(message.attachments.all())
        data = {**_addresses(message), "Body": message.body_text,
                "StatusCallback": status_callback_url(inbox)}
        if attachments:
            # MMS (and WhatsApp through Twilio) takes each file as a URL Twilio downloads.
            data["MediaUrl"] = [media_link(attachment) for attachment in attachments]
        url = f"{_api_base(inbox)}/2010-04-01/Accounts/{account_sid}/Messages.json"
        try:
            with http_client() as client:
                response = client.post(url, data=data, auth=(account_sid, auth_token))
        except httpx.HTTPError as exc:
            raise transport_failure("Twilio", exc) from None
        payload = json_object(response)
        if response.status_code in (200, 201) and payload.get("sid"):
            return str(payload["sid"])
        description = str(payload.get("message") or response.reason_phrase or "error")
        code = payload.get("code")
        raise status_failure(
            response.status_code,
            f"{description} (Twilio error {code})" if code
            else f"{description} (Twilio HTTP {response.status_code})",
            retry_after=retry_after_parse(response.headers.get("retry-after")),
        )


def status_callback_url(inbox: Inbox) -> str:
    """Where Twilio reports delivery: the inbox's public webhook URL."""
    configured = str(inbox.config.get("webhook_url") or "").strip()
    return configured or settings.SITE_URL.rstrip("/") + reverse(
        "provider-webhook", args=[Inbox.Kind.TWILIO, inbox.key])


def _addresses(message: Message) -> dict:
    """To and From (or MessagingServiceSid). A reply goes to the address the customer last
    wrote from on this inbox: a WhatsApp conversation stays on WhatsApp, from the number
    it was written to."""
    inbox, contact_id = message.inbox, message.ticket.contact_id
    latest = (
        Message.objects.filter(inbox=inbox, channel=Channel.SMS, ticket__contact_id=contact_id,
                               direction=Message.Direction.INBOUND)
        .order_by("-created_at", "-pk").values_list("metadata", flat=True).first()
    )
    written = (latest or {}).get("twilio") or {}
    if written.get("whatsapp") and written.get("from") and written.get("to"):
        return {"To": written["from"], "From": written["to"]}
    to = phone_e164(str(written.get("from") or ""))
    if not to:
        phones = ContactIdentity.objects.filter(
            contact_id=contact_id, kind=ContactIdentity.Kind.PHONE,
        ).order_by("-verified", "-created_at").values_list("value", flat=True)
        to = next((p for p in phones if phone_e164(p)), "")
    if not to:
        raise PermanentDeliveryError("The contact has no phone number.")
    sender = inbox.config.get("from_number")
    if sender:
        return {"To": to, "From": str(sender)}
    if inbox.config.get("messaging_service_sid"):
        return {"To": to, "MessagingServiceSid": str(inbox.config["messaging_service_sid"])}
    if written.get("to"):
        return {"To": to, "From": str(written["to"])}
    raise PermanentDeliveryError(
        f"The inbox {inbox.slug} has no from_number or messaging_service_sid.")


def _credentials(inbox: Inbox) -> tuple[str, str]:
    account_sid, auth_token = str(inbox.config.get("account_sid") or ""), inbox.secret(
        "auth_token")
    if not account_sid or not auth_token:
        raise PermanentDeliveryError(
            f"The inbox {inbox.slug} needs account_sid in its config and the auth_token secret.")
    return account_sid, auth_token


def _api_base(inbox: Inbox) -> str:
    return str(inbox.config.get("api_base") or DEFAULT_API_BASE).rstrip("/")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _form(request: HttpRequest) -> tuple[bytes, list[tuple[str, str]]]:
    """The raw body (read first, so the form can still be parsed from it) and every
    posted parameter, decoded, as Twilio signed them."""
    raw = request.body
    return raw, [(name, value) for name, values in request.POST.lists() for value in values]
