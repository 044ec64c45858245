"""WhatsApp Cloud API: `/hooks/whatsapp/<inbox-key>/` in, `/{phone_number_id}/messages` out.

WhatsApp proves the customer's number, so every sender gets a verified `phone` identity
next to the `whatsapp` one: a customer known by that phone from any other channel (the
widget, SMS) continues the same ticket. Free-form replies are allowed only within 24 hours
of the customer's last WhatsApp message; after that only approved templates
(docs/channels/whatsapp.md).
"""

import logging

from django.http import HttpRequest

from ...delivery import PermanentDeliveryError
from ...models import Channel, ContactIdentity, Inbox, Message
from ...services import Identity, InboundMessage
from ...services.messages import CHANNEL_IDENTITY_KINDS
from ..base import Inbound, MediaRef, StatusUpdate, WebhookBatch, adapter_register
from .base import MetaAdapter, items_parse, meta_time
from .graph import GraphClient, attachment_read, media_file, parts_send
from .selectors import whatsapp_window_open

logger = logging.getLogger(__name__)

WINDOW_CLOSED = "outside the 24-hour window: only approved templates can be sent"
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
STATUSES = {"sent", "delivered", "read", "failed"}
# What WhatsApp accepts as each outbound media type; anything else goes as a document.
OUTBOUND_MEDIA = {
    "image": {"image/jpeg", "image/png"},
    "video": {"video/mp4", "video/3gpp"},
    "audio": {"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"},
}


@adapter_register
class WhatsAppAdapter(MetaAdapter):
    kind = Inbox.Kind.WHATSAPP
    webhook_object = "whatsapp_business_account"
    token_secret = "access_token"

    def parse(self, request: HttpRequest, inbox: Inbox) -> WebhookBatch:
        batch = WebhookBatch()
        own_number = str(inbox.config.get("phone_number_id") or "")
        for entry in self.entries(request):
            for change in entry.get("changes") or []:
                value = change.get("value") if isinstance(change, dict) else None
                if not isinstance(value, dict):
                    continue
                number = str((value.get("metadata") or {}).get("phone_number_id") or "")
                if own_number and number and number != own_number:
                    logger.warning("whatsapp inbox %s ignored a change for number %s",
                                   inbox.slug, number)
                    continue
                names = {
                    str(contact.get("wa_id")): (contact.get("profile") or {}).get("name") or ""
                    for contact in value.get("contacts") or [] if isinstance(contact, dict)
                }
                batch.inbound.extend(items_parse(
                    value.get("messages"), lambda item: _message_parse(inbox, item, names),
                    "whatsapp message"))
                batch.statuses.extend(items_parse(value.get("statuses"), _status_parse,
                                                  "whatsapp status"))
        return batch

    def media_download(self, inbox: Inbox, media: MediaRef) -> tuple[bytes, str, str]:
        """Media ids resolve to a short-lived URL, fetched with the same token."""
        client, limit = self.client(inbox), inbox.attachment_limit_bytes
        info = client.get(media.ref)
        if int(info.get("file_size") or 0) > limit:
            raise PermanentDeliveryError(
                f"The WhatsApp file is larger than the {limit / 1024 / 1024:g} MB limit.")
        if not info.get("url"):
            raise PermanentDeliveryError(f"Meta offered no download for media {media.ref}.")
        content, served_type = client.download(str(info["url"]), limit=limit)
        name, content_type = media_file(media, str(info.get("mime_type") or "") or served_type)
        return content, content_type, name

    def send(self, message: Message) -> str:
        client = self.client(message.inbox)
        number = str(message.inbox.config.get("phone_number_id") or "")
        if not number:
            raise PermanentDeliveryError(
                f"The inbox {message.inbox.slug} has no phone_number_id in its config.")
        to = self.recipient_id(message, CHANNEL_IDENTITY_KINDS[Channel.WHATSAPP])

        def post(kind: str, content: dict) -> str:
            answer = client.post(f"{number}/messages", json={
                "messaging_product": "whatsapp", "recipient_type": "individual", "to": to,
                "type": kind, kind: content,
            })
            return str(((answer.get("messages") or [{}])[0]).get("id") or "")

        template = (message.metadata or {}).get("whatsapp_template")
        if template:
            return post("template", _template_build(template))
        if not whatsapp_window_open(message.ticket, inbox_id=message.inbox_id):
            raise PermanentDeliveryError(WINDOW_CLOSED)
        parts = []
        if message.body_text.strip():
            parts.append(lambda: post("text", {"body": message.body_text, "preview_url": False}))
        for attachment in message.attachments.all():
            parts.append(lambda a=attachment: post(*_media_upload(client, number, a)))
        return parts_send(parts)


def _message_parse(inbox: Inbox, item: dict, names: dict) -> Inbound | None:
    kind = str(item.get("type") or "")
    if kind == "reaction":
        # A reaction is not something the customer asked: it would reopen tickets and count
        # as a customer message in reports. Ignored (docs/channels/whatsapp.md).
        return None
    wa_id, message_id = str(item["from"]), str(item["id"])
    body, media, details = _content_parse(kind, item)
    context = item.get("context") or {}
    details |= {"from": wa_id, "type": kind}
    if context.get("forwarded") or context.get("frequently_forwarded"):
        details["forwarded"] = True
    if context.get("id"):
        details["reply_to"] = str(context["id"])
    return Inbound(
        message=InboundMessage(
            inbox=inbox, channel=Channel.WHATSAPP,
            sender=[Identity(ContactIdentity.Kind.WHATSAPP, wa_id, verified=True),
                    Identity(ContactIdentity.Kind.PHONE, "+" + wa_id, verified=True)],
            sender_name=names.get(wa_id, ""), body_text=body, external_id=message_id,
            at=meta_time(item.get("timestamp")), metadata={"whatsapp": details},
        ),
        media=tuple(media),
    )


def _content_parse(kind: str, item: dict) -> tuple[str, list[MediaRef], dict]:
    """(body text, media to fetch, details for metadata) of one message by its type."""
    content = item.get(kind) or {}
    if kind == "text":
        return str(content.get("body") or ""), [], {}
    if kind in MEDIA_TYPES:
        media = MediaRef(ref=str(content["id"]), content_type=str(content.get("mime_type") or ""),
                         name=str(content.get("filename") or ""))
        details = {"voice": True} if content.get("voice") else {}
        return str(content.get("caption") or ""), [media], details
    if kind == "location":
        return _location_text(content), [], {"location": content}
    if kind == "contacts":
        return _contacts_text(content), [], {}
    if kind == "interactive":
        choice = content.get(content.get("type")) or {}
        if content.get("type") in ("button_reply", "list_reply"):
            return str(choice.get("title") or ""), [], {"reply_id": str(choice.get("id") or "")}
    if kind == "button":  # a quick-reply button of a template message
        return str(content.get("text") or ""), [], {"reply_id": str(content.get("payload") or "")}
    errors = item.get("errors") or [{}]
    reason = errors[0].get("title") or errors[0].get("message") or ""
    return f"[Unsupported WhatsApp message: {kind}{f' ({reason})' if reason else ''}]", [], {}


def _location_text(location: dict) -> str:
    latitude, longitude = location["latitude"], location["longitude"]
    place = ", ".join(str(location[key]) for key in ("name", "address") if location.get(key))
    return (f"Shared location: {place or f'{latitude}, {longitude}'}\n"
            f"https://www.google.com/maps?q={latitude},{longitude}")


def _contacts_text(cards: list) -> str:
    """Shared contact cards as lines an agent can read and copy."""
    lines = []
    for card in cards:
        name = card.get("name") or {}
        full_name = name.get("formatted_name") or " ".join(
            part for part in (name.get("first_name"), name.get("last_name")) if part)
        reachable = [f"{phone['phone']} ({phone['type']})" if phone.get("type") else phone["phone"]
                     for phone in card.get("phones") or [] if phone.get("phone")]
        reachable += [email["email"] for email in card.get("emails") or [] if email.get("email")]
        lines.append(f"{full_name or 'Unnamed'}: {', '.join(reachable) or '-'}")
    title = "Shared contact" if len(lines) == 1 else "Shared contacts"
    return f"{title}:\n" + "\n".join(lines)


def _status_parse(item: dict) -> StatusUpdate | None:
    status = item.get("status")
    if status not in STATUSES:
        return None
    error = ""
    if status == "failed":
        error = "; ".join(_error_text(e) for e in item.get("errors") or [] if isinstance(e, dict))
        error = error or "WhatsApp could not deliver the message."
    return StatusUpdate(external_id=str(item["id"]), status=status, error=error,
                        at=meta_time(item.get("timestamp")))


def _error_text(error: dict) -> str:
    title = str(error.get("title") or error.get("message") or "Error")
    details = (error.get("error_data") or {}).get("details") or error.get("message") or ""
    text = f"{title}: {details}" if details and details != title else title
    return f"{text} ({error['code']})" if error.get("code") is not None else text


def _template_build(template) -> dict:
    if not isinstance(template, dict) or not template.get("name"):
        raise PermanentDeliveryError("whatsapp_template needs at least a name.")
    language = template.get("language") or "en_US"
    built = {"name": template["name"],
             "language": language if isinstance(language, dict) else {"code": language}}
    if template.get("components"):
        built["components"] = template["components"]
    return built


def _media_upload(client: GraphClient, number: str, attachment) -> tuple[str, dict]:
    """Upload a file to WhatsApp (our attachment URLs are private, so sending by link is not
    an option); returns the message type and content that send it by media id."""
    content_type = attachment.content_type.split(";")[0].strip().lower()
    answer = client.post(
        f"{number}/media", data={"messaging_product": "whatsapp", "type": content_type},
        files={"file": (attachment.name, attachment_read(attachment), content_type)},
    )
    if not answer.get("id"):
        raise PermanentDeliveryError(f"WhatsApp did not accept {attachment.name}.")
    kind = next((k for k, types in OUTBOUND_MEDIA.items() if content_type in types), "document")
    content = {"id": str(answer["id"])}
    if kind == "document":
        content["filename"] = attachment.name
    return kind, content
