"""Telegram bots (docs/channels/telegram.md): webhook updates in, Bot API replies out."""

import hmac
import json
from functools import partial

from django.http import HttpRequest

from ...delivery import PermanentDeliveryError
from ...models import Channel, ContactIdentity, Inbox, Message
from ..base import (
    ChannelAdapter,
    MediaRef,
    PayloadInvalid,
    WebhookBatch,
    WebhookRejected,
    adapter_register,
)
from ..meta.graph import attachment_read, parts_send
from ..provider_http import media_name_and_type
from .api import BotApi
from .parse import update_parse

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
TEXT_LIMIT = 4096  # UTF-16 code units per sendMessage
PHOTO_TYPES = {"image/jpeg", "image/png"}
PHOTO_MAX_BYTES = 10 * 1024 * 1024  # larger images go as documents


@adapter_register
class TelegramAdapter(ChannelAdapter):
    kind = Inbox.Kind.TELEGRAM

    def verify(self, request: HttpRequest, inbox: Inbox) -> None:
        """Telegram echoes the secret_token given to setWebhook in a header. It proves who
        sent the update; TLS, not the token, keeps the body intact."""
        expected = inbox.secret("webhook_secret")
        if not expected:
            raise WebhookRejected(
                "This inbox has no webhook_secret: run manage.py telegram_set_webhook.",
                code="not_configured")
        given = request.headers.get(SECRET_HEADER, "")
        if not given:
            raise WebhookRejected(f"{SECRET_HEADER} is missing.", status=401,
                                  code="unauthorized")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookRejected(f"{SECRET_HEADER} is wrong.")

    def parse(self, request: HttpRequest, inbox: Inbox) -> WebhookBatch:
        try:
            update = json.loads(request.body)
        except ValueError as exc:  # includes bodies that are not UTF-8
            raise PayloadInvalid(f"The body is not JSON: {exc}") from None
        inbound = update_parse(update, inbox=inbox, raw=request.body)
        return WebhookBatch(inbound=[inbound] if inbound else [])

    def media_download(self, inbox: Inbox, media: MediaRef) -> tuple[bytes, str, str]:
        """getFile, then the file itself, refused above the inbox's size limit (Telegram
        itself serves bots files of at most 20 MB)."""
        bot, limit = BotApi(inbox), inbox.attachment_limit_bytes
        info = bot.call("getFile", {"file_id": media.ref})
        info = info if isinstance(info, dict) else {}
        size, file_path = info.get("file_size"), info.get("file_path")
        if isinstance(size, int) and size > limit:
            raise PermanentDeliveryError(
                f"The Telegram file is larger than the {limit / 1024 / 1024:g} MB limit.")
        if not file_path or not isinstance(file_path, str):
            raise PermanentDeliveryError("Telegram did not offer the file for download.")
        content = bot.file_download(file_path, limit)
        name, content_type = media_name_and_type(
            media.name or file_path.rsplit("/", 1)[-1], media.content_type, "telegram-file")
        return content, content_type, name

    def send(self, message: Message) -> str:
        """The text (split at Telegram's length limit), then each attachment; returns
        "<chat id>:<message id>" of the first message sent."""
        bot, chat_id = BotApi(message.inbox), chat_id_for(message)
        parts = [partial(_part_send, bot, chat_id, "sendMessage", {"text": chunk})
                 for chunk in text_chunks(message.body_text)]
        for attachment in message.attachments.all():
            method, field = "sendDocument", "document"
            if attachment.content_type in PHOTO_TYPES and attachment.size <= PHOTO_MAX_BYTES:
                method, field = "sendPhoto", "photo"
            parts.append(partial(_part_send, bot, chat_id, method, {}, {
                field: (attachment.name, attachment_read(attachment), attachment.content_type)}))
        return parts_send(parts)


def _part_send(bot: BotApi, chat_id: int, method: str, params: dict,
               files: dict | None = None) -> str:
    result = bot.call(method, {"chat_id": chat_id, **params}, files=files)
    sent = result if isinstance(result, dict) else {}
    return f"{chat_id}:{sent.get('message_id', '')}"


def chat_id_for(message: Message) -> int:
    """The private chat the customer last wrote to this bot from, else their user id (the
    same number for a private chat)."""
    contact_id = message.ticket.contact_id
    latest = (
        Message.objects.filter(inbox=message.inbox, channel=Channel.TELEGRAM,
                               direction=Message.Direction.INBOUND,
                               ticket__contact_id=contact_id)
        .order_by("-created_at", "-pk").values_list("metadata", flat=True).first()
    )
    chat_id = ((latest or {}).get("telegram") or {}).get("chat_id")
    if isinstance(chat_id, int):
        return chat_id
    user_id = (
        ContactIdentity.objects.filter(contact_id=contact_id, kind=ContactIdentity.Kind.TELEGRAM)
        .order_by("-verified", "-created_at").values_list("value", flat=True).first()
    )
    if user_id and user_id.lstrip("-").isdigit():
        return int(user_id)
    raise PermanentDeliveryError("The contact has no Telegram chat with this bot.")


def text_chunks(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """`text` in pieces of at most `limit` UTF-16 units, cut at a line break when one is in
    the second half of a piece."""
    chunks = []
    while text.strip():
        units = cut = 0
        while cut < len(text) and units + (2 if ord(text[cut]) > 0xFFFF else 1) <= limit:
            units += 2 if ord(text[cut]) > 0xFFFF else 1
            cut += 1
        if cut < len(text):
            newline = text.rfind("\n", cut // 2, cut)
            cut = newline + 1 if newline > 0 else cut
        if text[:cut].strip():
            chunks.append(text[:cut].rstrip("\n"))
        text = text[cut:]
    return chunks
