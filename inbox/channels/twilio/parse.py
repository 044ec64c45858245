"""Twilio Messaging webhooks → plain data (docs/channels/twilio.md): an incoming message,
or a status callback about one of our replies."""

import re

from ...models import Channel, ContactIdentity, Inbox, Message
from ...services import AttachmentData, Identity, InboundMessage
from ..base import Inbound, MediaRef, PayloadInvalid, StatusUpdate, WebhookBatch

WHATSAPP_PREFIX = "whatsapp:"
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Twilio's message statuses that move our delivery status; the others (accepted, queued,
# sending, scheduled, receiving, received...) say nothing we do not know already.
_STATUSES = {
    "sent": Message.DeliveryStatus.SENT,
    "delivered": Message.DeliveryStatus.DELIVERED,
    "read": Message.DeliveryStatus.READ,
    "undelivered": Message.DeliveryStatus.FAILED,
    "failed": Message.DeliveryStatus.FAILED,
    "canceled": Message.DeliveryStatus.FAILED,
}
# What the most common delivery error codes mean (twilio.com/docs/api/errors).
ERROR_MEANINGS = {
    "30001": "Queue overflow",
    "30002": "Account suspended",
    "30003": "Unreachable destination handset",
    "30004": "Message blocked",
    "30005": "Unknown destination handset",
    "30006": "Landline or unreachable carrier",
    "30007": "Message filtered by the carrier",
    "30008": "Unknown error",
    "21610": "The recipient replied STOP: unsubscribed",
    "63016": "Outside the WhatsApp 24-hour window: only templates may be sent",
}


def params_parse(params: list[tuple[str, str]], *, inbox: Inbox, raw: bytes) -> WebhookBatch:
    form = dict(params)  # Twilio never repeats a parameter name in these webhooks
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or ""
    if not sid:
        raise PayloadInvalid("MessageSid is missing.")
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if status in ("received", "receiving", ""):
        return WebhookBatch(inbound=[_inbound(form, sid, inbox, raw)])
    if status not in _STATUSES:
        return WebhookBatch()
    delivery = _STATUSES[status]
    error = ""
    if delivery == Message.DeliveryStatus.FAILED:
        error = _error_text(form.get("ErrorCode", ""), form.get("ErrorMessage", ""), status)
    return WebhookBatch(statuses=[StatusUpdate(external_id=sid, status=delivery, error=error)])


def _inbound(form: dict, sid: str, inbox: Inbox, raw: bytes) -> Inbound:
    sender, to = form.get("From", ""), form.get("To", "")
    whatsapp = sender.startswith(WHATSAPP_PREFIX)
    phone = phone_e164(sender)
    if not phone:
        raise PayloadInvalid(f"From {sender!r} is not a phone number.")
    media = []
    for index in range(_count(form.get("NumMedia"))):
        url = form.get(f"MediaUrl{index}", "")
        if url:
            media.append(MediaRef(ref=url, content_type=form.get(f"MediaContentType{index}", ""),
                                  name=f"{sid}-{index}"))
    metadata = {"from": sender, "to": to}
    if whatsapp:
        metadata.update(whatsapp=True, profile_name=form.get("ProfileName", ""),
                        wa_id=form.get("WaId", ""))
    return Inbound(
        message=InboundMessage(
            inbox=inbox, channel=Channel.SMS,
            # WhatsApp proves the number it delivers for; an SMS sender id can be spoofed.
            sender=[Identity(ContactIdentity.Kind.PHONE, phone, verified=whatsapp)],
            sender_name=form.get("ProfileName", "") if whatsapp else "",
            body_text=form.get("Body", "") or _media_label(media), external_id=sid,
            metadata={"twilio": metadata},
            raw=AttachmentData(name=f"twilio-{sid}.txt", content=raw,
                               content_type="application/x-www-form-urlencoded"),
        ),
        media=tuple(media),
    )


def phone_e164(address: str) -> str:
    """"+14155552671" from "+14155552671" or "whatsapp:+14155552671"; "" for short codes,
    alphanumeric sender ids and anything else that is not a number."""
    number = address.removeprefix(WHATSAPP_PREFIX).strip()
    return number if _E164.match(number) else ""


def _media_label(media: list[MediaRef]) -> str:
    """What a media-only message says in the timeline, e.g. "[image, file]"."""
    kinds = [m.content_type.split("/")[0] if m.content_type.split("/")[0] in
             ("image", "video", "audio") else "file" for m in media]
    return f"[{', '.join(kinds)}]" if kinds else ""


def _error_text(code: str, message: str, status: str) -> str:
    meaning = message or ERROR_MEANINGS.get(code, "")
    if not code:
        return f"Twilio reported the message {status}."
    return f"{meaning} (Twilio error {code})" if meaning else f"Twilio error {code}"


def _count(value) -> int:
    try:
        return max(0, min(int(value or 0), 10))  # Twilio sends at most 10 media
    except ValueError:
        raise PayloadInvalid("NumMedia must be a number.") from None
