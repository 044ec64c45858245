"""Telegram files reach the timeline: getFile, then the file, through media_fetch."""

import pytest

from inbox.channels.tasks import media_fetch
from inbox.models import Attachment, Message
from tests.channels.fake_provider import Reply
from tests.channels.telegram.conftest import BOT_TOKEN, bot_path, fixture_bytes, text_update

pytestmark = pytest.mark.django_db

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


def file_info(file_id: str, file_path: str, size: int | None = None) -> Reply:
    result = {"file_id": file_id, "file_unique_id": "u-" + file_id, "file_path": file_path}
    if size is not None:
        result["file_size"] = size
    return Reply(json={"ok": True, "result": result})


def fetch_queued(media_queued) -> Message:
    ((message_id, refs),) = media_queued
    media_fetch.apply(args=[message_id, refs])
    return Message.objects.get(pk=message_id)


def test_photo_is_downloaded_and_attached(fixtures_dir, telegram_inbox, post_update,
                                          media_queued, fake_provider):
    fake_provider.script("POST", bot_path("getFile"), file_info("SAAS", "photos/file_7.jpg",
                                                                len(JPEG)))
    fake_provider.script("GET", f"/file/bot{BOT_TOKEN}/photos/file_7.jpg",
                         Reply(body=JPEG, content_type="image/jpeg"))
    post_update(telegram_inbox, fixture_bytes(fixtures_dir, "nutgram_photo.json"))
    message = fetch_queued(media_queued)
    get_file, download = fake_provider.requests
    assert get_file.json() == {"file_id": "SAAS"}
    assert (download.method, download.path) == ("GET", f"/file/bot{BOT_TOKEN}/photos/file_7.jpg")
    attachment = message.attachments.get()
    assert (attachment.name, attachment.content_type, attachment.size) == (
        "file_7.jpg", "image/jpeg", len(JPEG))
    assert attachment.file.read() == JPEG
    assert message.metadata["media_fetched"] == ["SAAS"]
    # Running the task again (a retry, a redelivered job) attaches nothing more.
    media_fetch.apply(args=[message.pk, media_queued[0][1]])
    assert message.attachments.count() == 1 and len(fake_provider.requests) == 2


def test_document_keeps_its_name_and_type(telegram_inbox, post_update, media_queued,
                                          fake_provider):
    document = {"file_id": "DOC1", "file_unique_id": "d", "file_name": "Faktur Mei.pdf",
                "mime_type": "application/pdf", "file_size": 9}
    post_update(telegram_inbox, text_update("", document=document))
    fake_provider.script("POST", bot_path("getFile"), file_info("DOC1", "documents/file_3"))
    fake_provider.script("GET", f"/file/bot{BOT_TOKEN}/documents/file_3",
                         Reply(body=b"%PDF-1.7\n", content_type="application/octet-stream"))
    message = fetch_queued(media_queued)
    assert message.body_text == "[document: Faktur Mei.pdf]"
    attachment = message.attachments.get()
    assert (attachment.name, attachment.content_type) == ("Faktur Mei.pdf", "application/pdf")


def test_file_over_the_inbox_limit_is_not_downloaded(fixtures_dir, telegram_inbox,
                                                     post_update, media_queued, fake_provider):
    telegram_inbox.config["max_attachment_mb"] = 5  # the fixture's mp3 is 6.5 MB
    telegram_inbox.save()
    post_update(telegram_inbox, fixture_bytes(fixtures_dir, "nutgram_audio.json"))
    fake_provider.script("POST", bot_path("getFile"),
                         file_info("dfhhdfhgdfghdf", "music/file_1.mp3", 6858008))
    message = fetch_queued(media_queued)
    assert Attachment.objects.count() == 0
    assert [r.path for r in fake_provider.requests] == [bot_path("getFile")]
    assert message.metadata["media_fetched"] == ["dfhhdfhgdfghdf"]
    assert message.body_text == "[audio: afads – Worst Day]"  # the agent still sees what came


def test_download_stops_at_the_limit_when_the_size_was_not_announced(
    telegram_inbox, post_update, media_queued, fake_provider
):
    telegram_inbox.config["max_attachment_mb"] = 0.001  # 1048 bytes
    telegram_inbox.save()
    post_update(telegram_inbox, text_update("", voice={"file_id": "VOICE1", "duration": 3}))
    fake_provider.script("POST", bot_path("getFile"), file_info("VOICE1", "voice/file_9.oga"))
    fake_provider.script("GET", f"/file/bot{BOT_TOKEN}/voice/file_9.oga",
                         Reply(body=b"O" * 5000, content_type="audio/ogg"))
    fetch_queued(media_queued)
    assert Attachment.objects.count() == 0


def test_file_telegram_will_not_serve_is_skipped(telegram_inbox, post_update, media_queued,
                                                 fake_provider):
    post_update(telegram_inbox, text_update("big video", video={"file_id": "VID1"}))
    fake_provider.script("POST", bot_path("getFile"), Reply(400, {
        "ok": False, "error_code": 400, "description": "Bad Request: file is too big"}))
    message = fetch_queued(media_queued)
    assert Attachment.objects.count() == 0 and message.metadata["media_fetched"] == ["VID1"]


def test_download_outage_is_retried(telegram_inbox, post_update, media_queued, fake_provider):
    post_update(telegram_inbox, text_update("", voice={"file_id": "VOICE2", "duration": 3}))
    fake_provider.script("POST", bot_path("getFile"), file_info("VOICE2", "voice/file_2.oga"))
    fake_provider.script("GET", f"/file/bot{BOT_TOKEN}/voice/file_2.oga",
                         Reply(503, body=b"busy", content_type="text/plain"),
                         Reply(body=b"OggS voice", content_type="audio/ogg"))
    message = fetch_queued(media_queued)
    attachment = message.attachments.get()
    assert (attachment.name, attachment.content_type) == ("file_2.oga", "audio/ogg")
    assert attachment.file.read() == b"OggS voice"
    assert message.metadata["media_fetched"] == ["VOICE2"]
