"""Telegram Bot API updates → plain inbound data (docs/channels/telegram.md).

A customer message is a `message` or `edited_message` update from a person in a private
chat with the bot. Everything else (channel posts, group and forum chats, reactions,
inline-button presses, service messages) is acknowledged and dropped: it is not a customer
writing to support, and a reply from the bot could not reach them privately.
"""

from datetime import UTC, datetime

from ...models import Channel, ContactIdentity, Inbox
from ...services import AttachmentData, Identity, InboundMessage
from ..base import Inbound, MediaRef, PayloadInvalid

# Files a message may carry, in the order checked (an animation also comes as a document),
# with how the timeline names one that has no caption and the type of fixed-format files
# (for the others, the file's name tells when Telegram gives no mime_type).
_FILES = {
    "animation": ("GIF", "video/mp4"),
    "video": ("video", ""),
    "video_note": ("video message", "video/mp4"),
    "voice": ("voice message", "audio/ogg"),
    "audio": ("audio", ""),
    "document": ("document", ""),
    "sticker": ("sticker", "image/webp"),
}
_STICKER_TYPES = {"is_animated": "application/x-tgsticker", "is_video": "video/webm"}
EDITED_PREFIX = "(edited) "


def update_parse(update, *, inbox: Inbox, raw: bytes) -> Inbound | None:
    """The customer message in one update, or None for updates that are not one."""
    if not isinstance(update, dict):
        raise PayloadInvalid("A Telegram update is a JSON object.")
    edited = "message" not in update
    message = update.get("edited_message" if edited else "message")
    if not isinstance(message, dict):
        return None
    chat, sender = message.get("chat"), message.get("from")
    if not isinstance(chat, dict) or chat.get("type") != "private":
        return None
    if not isinstance(sender, dict) or sender.get("is_bot"):
        return None
    chat_id, message_id = _int(chat.get("id"), "chat.id"), _int(message.get("message_id"),
                                                                   "message_id")
    if edited and "location" in message and "venue" not in message:
        return None  # a live location moving: Telegram edits the message every few seconds
    body, media, attachments = message_content(message)
    if not body and not media:
        return None  # a service message (e.g. write access allowed): nothing to say
    external_id = f"{chat_id}:{message_id}"
    timestamp = message.get("date")
    if edited:
        timestamp = message.get("edit_date") or timestamp
        external_id += f":edit:{_int(timestamp, 'edit_date')}"
        body = EDITED_PREFIX + body
    metadata = {"chat_id": chat_id, "message_id": message_id}
    for key, value in (("username", sender.get("username")),
                       ("reply_to_message_id", _dict(message.get("reply_to_message"))
                        .get("message_id")),
                       ("forward_origin", message.get("forward_origin"))):
        if value:
            metadata[key] = value
    user_id = str(_int(sender.get("id"), "from.id"))
    return Inbound(
        message=InboundMessage(
            inbox=inbox, channel=Channel.TELEGRAM,
            # The Bot API vouches for the user id: no one else can post as this user.
            sender=[Identity(ContactIdentity.Kind.TELEGRAM, user_id, verified=True)],
            sender_name=person_name(sender), body_text=body, external_id=external_id,
            at=_timestamp(timestamp), attachments=attachments,
            metadata={"telegram": metadata},
            raw=AttachmentData(name=f"telegram-{external_id.replace(':', '-')}.json",
                               content=raw, content_type="application/json"),
        ),
        media=tuple(media),
    )


def message_content(message: dict) -> tuple[str, list[MediaRef], list[AttachmentData]]:
    """The text the timeline shows, the files to download, and files carried inline."""
    media, attachments, label = [], [], ""
    if isinstance(message.get("photo"), list) and message["photo"]:
        media.append(_photo_ref(message["photo"]))
        label = "[photo]"
    for key, (what, default_type) in _FILES.items():
        item = message.get(key)
        if not media and isinstance(item, dict) and _str(item.get("file_id")):
            ref, label = _file_ref(key, item, what, default_type)
            media.append(ref)
    text = _str(message.get("text") or message.get("caption"))
    lines = [line for line in (text or label, *_described(message, attachments)) if line]
    origin = forward_origin_name(message)
    if lines and origin:
        lines.insert(0, f"Forwarded from {origin}:")
    return "\n".join(lines), media, attachments


def _described(message: dict, attachments: list[AttachmentData]) -> list[str]:
    """Lines for content that is data, not a file: places, contact cards, dice, polls."""
    venue, location = _dict(message.get("venue")), _dict(message.get("location"))
    if venue or location:
        place = _dict(venue.get("location")) or location
        lat, lon = place.get("latitude"), place.get("longitude")
        name = ", ".join(_str(venue.get(k)) for k in ("title", "address") if venue.get(k))
        return [f"Location: {name + ' — ' if name else ''}{lat}, {lon}",
                f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}"]
    contact = _dict(message.get("contact"))
    if contact:
        name = person_name(contact) or "contact"
        if contact.get("vcard"):
            attachments.append(AttachmentData(name="contact.vcf", content_type="text/vcard",
                                              content=_str(contact["vcard"]).encode()))
        return [f"Contact: {name}, {_str(contact.get('phone_number'))}"]
    dice = _dict(message.get("dice"))
    if dice:
        return [f"{_str(dice.get('emoji'))} {dice.get('value')}"]
    poll = _dict(message.get("poll"))
    if poll:
        options = [f"- {_str(o.get('text'))}" for o in _list(poll.get("options"))
                   if isinstance(o, dict)]
        return [f"Poll: {_str(poll.get('question'))}", *options]
    return []


def _photo_ref(photo: list) -> MediaRef:
    """The largest of the sizes Telegram offers: most pixels, then most bytes."""
    sizes = [p for p in photo if isinstance(p, dict) and _str(p.get("file_id"))]
    if not sizes:
        raise PayloadInvalid("A photo without sizes.")
    best = max(sizes, key=lambda p: (_num(p.get("width")) * _num(p.get("height")),
                                     _num(p.get("file_size"))))
    return MediaRef(ref=best["file_id"], content_type="image/jpeg")


def _file_ref(key: str, item: dict, what: str, default_type: str) -> tuple[MediaRef, str]:
    content_type = _str(item.get("mime_type"))
    if key == "sticker":
        content_type = next((t for flag, t in _STICKER_TYPES.items() if item.get(flag)),
                            default_type)
    name = _str(item.get("file_name"))
    detail = {
        "document": name,
        "audio": " – ".join(_str(item[k]) for k in ("performer", "title") if item.get(k)),
        "sticker": _str(item.get("emoji")),
    }.get(key, "")
    label = f"[{what}: {detail}]" if detail else f"[{what}]"
    return MediaRef(ref=item["file_id"], content_type=content_type or default_type,
                    name=name), label


def forward_origin_name(message: dict) -> str:
    """Who a forwarded message first came from (Bot API 7 `forward_origin`, or the older
    `forward_from*` fields)."""
    origin = _dict(message.get("forward_origin"))
    if origin:
        kind = _str(origin.get("type"))
        if kind == "user":
            return person_name(_dict(origin.get("sender_user")), with_username=True) or "a user"
        if kind == "hidden_user":
            return _str(origin.get("sender_user_name")) or "a hidden user"
        chat = _dict(origin.get("sender_chat" if kind == "chat" else "chat"))
        return _str(chat.get("title")) or f"a {kind or 'chat'}"
    if _dict(message.get("forward_from")):
        return person_name(message["forward_from"], with_username=True) or "a user"
    if _str(message.get("forward_sender_name")):
        return message["forward_sender_name"]
    if _dict(message.get("forward_from_chat")):
        return _str(message["forward_from_chat"].get("title")) or "a chat"
    return ""


def person_name(user: dict, with_username: bool = False) -> str:
    name = " ".join(_str(user.get(k)).strip() for k in ("first_name", "last_name")
                    if user.get(k)).strip()
    username = _str(user.get("username")) if with_username else ""
    if username:
        return f"{name} (@{username})" if name else f"@{username}"
    return name


def _timestamp(value) -> datetime | None:
    try:
        return datetime.fromtimestamp(_int(value, "date"), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise PayloadInvalid("date is out of range.") from None


def _int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadInvalid(f"{what} must be an integer.")
    return value


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value) -> list:
    return value if isinstance(value, list) else []


def _num(value) -> int:
    return value if isinstance(value, int) else 0


def _str(value) -> str:
    return value if isinstance(value, str) else ""
