"""Messenger and Instagram DMs: the same Messenger Platform webhooks (`object` "page" or
"instagram", `entry[].messaging[]`) and the same Send API (`/me/messages`).

Choices (docs/channels/meta.md): echoes of our own messages are ignored; `standby[]`
messages (another app owns the thread, handover protocol) are recorded so agents see the
whole conversation; delivery and read receipts mark our outbound messages delivered/read,
a watermark covering every message sent before it.
"""

import json
import logging

from django.http import HttpRequest

from ...media_links import media_link, public_site
from ...models import Inbox, Message
from ...services import Identity, InboundMessage
from ..base import Inbound, MediaRef, StatusUpdate, WebhookBatch, adapter_register
from .base import MetaAdapter, items_parse, meta_time
from .graph import attachment_read, media_file, media_get, parts_send, url_file_name
from .selectors import outbound_created_at, outbound_ids_until

logger = logging.getLogger(__name__)

FILE_ATTACHMENTS = ("image", "video", "audio", "file")
# Attachments that are links to something on Meta rather than files: shown as text.
SHARED_LABELS = {
    "ig_reel": "Shared a reel", "reel": "Shared a reel", "share": "Shared a post",
    "story_mention": "Mentioned you in a story", "fallback": "Shared a link",
}
READ_STATUSES = [Message.DeliveryStatus.SENT, Message.DeliveryStatus.DELIVERED]


@adapter_register
class MessengerAdapter(MetaAdapter):
    kind = Inbox.Kind.MESSENGER
    webhook_object = "page"
    token_secret = "page_access_token"
    account_config_key = "page_id"  # entry[].id: the Page
    upload_attachments = True

    def parse(self, request: HttpRequest, inbox: Inbox) -> WebhookBatch:
        batch = WebhookBatch()
        account = str(inbox.config.get(self.account_config_key) or "")
        for entry in self.entries(request):
            if account and str(entry.get("id")) != account:
                logger.warning("%s inbox %s ignored an entry for %s", self.kind, inbox.slug,
                               entry.get("id"))
                continue
            for standby, events in ((False, entry.get("messaging")),
                                    (True, entry.get("standby"))):
                batch.inbound.extend(items_parse(
                    events, lambda event, s=standby: self._inbound_parse(inbox, event, s),
                    f"{self.kind} event"))
                if not standby:
                    for statuses in items_parse(
                            events, lambda event: self._receipts_parse(inbox, event),
                            f"{self.kind} receipt"):
                        batch.statuses.extend(statuses)
        return batch

    def _inbound_parse(self, inbox: Inbox, event: dict, standby: bool) -> Inbound | None:
        if "message" not in event and "postback" not in event:
            return None  # receipts (below); reactions, referrals, handover notices: ignored
        sender = str(event["sender"]["id"])
        at = meta_time(event.get("timestamp"))
        details = {"from": sender}
        if standby:
            details["standby"] = True
        if "message" in event:
            message = event["message"]
            if message.get("is_echo") or message.get("is_deleted"):
                return None  # our own (or the Page's) message coming back; an unsent one
            body, media = _message_content(message, details)
            external_id = str(message["mid"])
        elif standby:
            return None  # a button press meant for the app that owns the thread
        else:
            postback = event["postback"]
            body = str(postback.get("title") or postback.get("payload") or "")
            details["postback_payload"] = str(postback.get("payload") or "")
            media = []
            # Older postbacks carry no mid: sender + time is unique enough to deduplicate.
            external_id = str(postback.get("mid") or f"postback:{sender}:{event['timestamp']}")
        return Inbound(
            message=InboundMessage(
                inbox=inbox, channel=inbox.channel, sender=[Identity(self.kind, sender)],
                body_text=body, external_id=external_id, at=at, metadata={self.kind: details},
            ),
            media=tuple(media),
        )

    def _receipts_parse(self, inbox: Inbox, event: dict) -> list[StatusUpdate] | None:
        """Delivery (mids and/or watermark) and read (watermark, or Instagram's mid)."""
        if "delivery" in event:
            receipt, status, covered = event["delivery"], "delivered", [Message.DeliveryStatus.SENT]
        elif "read" in event:
            receipt, status, covered = event["read"], "read", READ_STATUSES
        else:
            return None
        ids = [str(mid) for mid in receipt.get("mids") or []]
        until = meta_time(receipt.get("watermark"))
        if receipt.get("mid"):
            ids.append(str(receipt["mid"]))
            until = outbound_created_at(inbox=inbox, external_id=str(receipt["mid"]))
        if until is not None:
            ids += outbound_ids_until(inbox=inbox, recipient_id=str(event["sender"]["id"]),
                                      until=until, statuses=covered)
        at = meta_time(event.get("timestamp"))
        return [StatusUpdate(external_id=mid, status=status, at=at) for mid in dict.fromkeys(ids)]

    def media_download(self, inbox: Inbox, media: MediaRef) -> tuple[bytes, str, str]:
        """Attachment URLs in Messenger webhooks are signed CDN links: no token needed."""
        content, served_type = media_get(media.ref, limit=inbox.attachment_limit_bytes)
        name, content_type = media_file(media, served_type)
        return content, content_type, name

    def send(self, message: Message) -> str:
        client = self.client(message.inbox)
        recipient = {"id": self.recipient_id(message, [self.kind])}

        def post_text() -> str:
            return _message_id(client.post("me/messages", json={
                "recipient": recipient, "messaging_type": "RESPONSE",
                "message": {"text": message.body_text},
            }))

        def post_file(attachment) -> str:
            kind = _attachment_type(attachment.content_type)
            if not self.upload_attachments:
                return _message_id(client.post("me/messages", json={
                    "recipient": recipient, "messaging_type": "RESPONSE",
                    "message": {"attachment": {"type": kind,
                                               "payload": {"url": media_link(attachment)}}},
                }))
            return _message_id(client.post("me/messages", data={
                "recipient": json.dumps(recipient), "messaging_type": "RESPONSE",
                "message": json.dumps({"attachment": {"type": kind,
                                                      "payload": {"is_reusable": False}}}),
            }, files={"filedata": (attachment.name, attachment_read(attachment),
                                   attachment.content_type)}))

        attachments = list(message.attachments.all())
        if attachments and not self.upload_attachments:
            public_site()  # nothing is sent when the files could not follow the text
        parts = [post_text] if message.body_text.strip() else []
        parts += [lambda a=attachment: post_file(a) for attachment in attachments]
        return parts_send(parts)


@adapter_register
class InstagramAdapter(MessengerAdapter):
    kind = Inbox.Kind.INSTAGRAM
    webhook_object = "instagram"
    account_config_key = "instagram_account_id"  # entry[].id: the Instagram account
    # Instagram's Send API takes no file uploads: it downloads each file from a public link.
    upload_attachments = False


def _message_content(message: dict, details: dict) -> tuple[str, list[MediaRef]]:
    """Body text and files of a message; fills `details` with what is metadata."""
    lines = [str(message["text"])] if message.get("text") else []
    media = []
    for attachment in message.get("attachments") or []:
        kind = str(attachment.get("type") or "")
        payload = attachment.get("payload") or {}
        url = str(payload.get("url") or "")
        if kind in FILE_ATTACHMENTS and url:
            media.append(MediaRef(ref=url, name=url_file_name(url)))
        elif kind == "location" and payload.get("coordinates"):
            point = payload["coordinates"]
            lines.append(f"Shared location: {point['lat']}, {point['long']}\n"
                         f"https://www.google.com/maps?q={point['lat']},{point['long']}")
        else:
            label = SHARED_LABELS.get(kind, f"Shared {kind or 'an attachment'}")
            title = payload.get("title") or attachment.get("title")
            lines.append(f"{label}: {title}" if title else label)
            if url:
                lines[-1] += f"\n{url}"
    if (message.get("quick_reply") or {}).get("payload"):
        details["quick_reply_payload"] = str(message["quick_reply"]["payload"])
    reply_to = message.get("reply_to") or {}
    if reply_to.get("mid"):
        details["reply_to"] = str(reply_to["mid"])
    if (reply_to.get("story") or {}).get("url"):
        lines.insert(0, f"Replied to your story: {reply_to['story']['url']}")
    if not lines and not media:
        lines.append("[Unsupported message: nothing Switchboard can show]")
    return "\n".join(lines), media


def _attachment_type(content_type: str) -> str:
    major = content_type.split("/")[0].lower()
    return major if major in ("image", "video", "audio") else "file"


def _message_id(answer: dict) -> str:
    return str(answer.get("message_id") or "")
