"""What the timeline shows for each kind of Telegram message, and which files it fetches."""

import pytest

from inbox.channels.base import MediaRef
from inbox.channels.telegram.parse import message_content

VOICE = {"file_id": "V1", "file_unique_id": "v", "duration": 7, "mime_type": "audio/ogg"}
DOCUMENT = {"file_id": "D1", "file_unique_id": "d", "file_name": "invoice-1042.pdf"}


@pytest.mark.parametrize("message,body,media", [
    ({"voice": VOICE}, "[voice message]", [MediaRef("V1", "audio/ogg")]),
    ({"document": DOCUMENT, "caption": "the invoice"}, "the invoice",
     [MediaRef("D1", "", "invoice-1042.pdf")]),
    ({"document": DOCUMENT}, "[document: invoice-1042.pdf]",
     [MediaRef("D1", "", "invoice-1042.pdf")]),
    ({"video": {"file_id": "M1", "mime_type": "video/quicktime"}}, "[video]",
     [MediaRef("M1", "video/quicktime")]),
    ({"video_note": {"file_id": "N1", "length": 240}}, "[video message]",
     [MediaRef("N1", "video/mp4")]),
    # A GIF comes as both animation and document: one file.
    ({"animation": {"file_id": "A1", "mime_type": "video/mp4", "file_name": "cat.mp4"},
      "document": {"file_id": "A1", "mime_type": "video/mp4", "file_name": "cat.mp4"}},
     "[GIF]", [MediaRef("A1", "video/mp4", "cat.mp4")]),
    ({"sticker": {"file_id": "S1", "emoji": "😀", "is_animated": False, "is_video": False}},
     "[sticker: 😀]", [MediaRef("S1", "image/webp")]),
    ({"sticker": {"file_id": "S2", "emoji": "🎉", "is_animated": True}},
     "[sticker: 🎉]", [MediaRef("S2", "application/x-tgsticker")]),
    ({"venue": {"title": "Toko Budi", "address": "Jl. Sudirman 1, Jakarta",
                "location": {"latitude": -6.2, "longitude": 106.8}},
      "location": {"latitude": -6.2, "longitude": 106.8}},
     ("Location: Toko Budi, Jl. Sudirman 1, Jakarta — -6.2, 106.8\n"
      "https://www.openstreetmap.org/?mlat=-6.2&mlon=106.8"), []),
    ({"dice": {"emoji": "🎲", "value": 4}}, "🎲 4", []),
    ({"poll": {"question": "Which size?", "options": [{"text": "M"}, {"text": "L"}]}},
     "Poll: Which size?\n- M\n- L", []),
    ({"forward_origin": {"type": "hidden_user", "sender_user_name": "Ani", "date": 1},
      "text": "see this"}, "Forwarded from Ani:\nsee this", []),
    ({"forward_origin": {"type": "channel", "chat": {"id": -100, "title": "Promo News",
                                                      "type": "channel"}, "message_id": 5,
                         "date": 1}, "text": "50% off"},
     "Forwarded from Promo News:\n50% off", []),
    ({"forward_from": {"id": 5, "first_name": "Ani", "last_name": "W"}, "text": "old API"},
     "Forwarded from Ani W:\nold API", []),
    ({"new_chat_title": "renamed"}, "", []),  # a service message: nothing to store
    ({"forward_origin": {"type": "user", "sender_user": {"id": 1, "first_name": "A"}}},
     "", []),
])
def test_message_content(message, body, media):
    text, refs, attachments = message_content(message)
    assert (text, refs, attachments) == (body, media, [])
