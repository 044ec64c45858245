"""MMS media: MediaUrlN → MediaRef → media_fetch downloads it with the account's
credentials (Twilio's own host only) into an Attachment."""

import base64
from urllib.parse import urlencode, urlsplit

import pytest

from inbox.channels.tasks import media_fetch
from inbox.models import Attachment, Message
from tests.channels.fake_provider import Reply
from tests.channels.twilio.conftest import ACCOUNT_SID, AUTH_TOKEN

pytestmark = pytest.mark.django_db

MEDIA_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MMabc/Media/ME{{}}"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 600
BASIC = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()


def mms(*media: tuple[str, str], body: str = "Foto paketnya rusak") -> bytes:
    params = {"MessageSid": "MMabc", "SmsMessageSid": "MMabc", "AccountSid": ACCOUNT_SID,
              "From": "+6281234567890", "To": "+15005550006", "Body": body,
              "NumMedia": str(len(media)), "SmsStatus": "received"}
    for index, (url, content_type) in enumerate(media):
        params[f"MediaUrl{index}"], params[f"MediaContentType{index}"] = url, content_type
    return urlencode(params).encode()


def fetch_queued(media_queued) -> Message:
    ((message_id, refs),) = media_queued
    media_fetch.apply(args=[message_id, refs])
    return Message.objects.get(pk=message_id)


def test_mms_media_are_queued_then_stored(twilio_inbox, post_form, media_queued,
                                          fake_provider):
    first = fake_provider.url + MEDIA_PATH.format(1)
    second = fake_provider.url + MEDIA_PATH.format(2)
    assert post_form(twilio_inbox, mms((first, "image/png"), (second, "application/pdf"))
                     ).status_code == 200
    message = Message.objects.get()
    assert message.body_text == "Foto paketnya rusak" and message.external_id == "MMabc"
    assert media_queued == [(message.pk, [
        {"ref": first, "content_type": "image/png", "name": "MMabc-0"},
        {"ref": second, "content_type": "application/pdf", "name": "MMabc-1"}])]
    fake_provider.script("GET", MEDIA_PATH.format(1), Reply(body=PNG, content_type="image/png"))
    fake_provider.script("GET", MEDIA_PATH.format(2),
                         Reply(body=b"%PDF-1.4", content_type="application/pdf"))
    fetch_queued(media_queued)
    assert [r.headers["Authorization"] for r in fake_provider.requests] == [BASIC, BASIC]
    assert sorted(message.attachments.values_list("name", "content_type", "size")) == [
        ("MMabc-0.png", "image/png", len(PNG)), ("MMabc-1.pdf", "application/pdf", 8)]


def test_credentials_do_not_follow_a_redirect_off_twilio(twilio_inbox, post_form, media_queued,
                                                         fake_provider):
    """Twilio answers media URLs with a redirect to its storage host."""
    port = urlsplit(fake_provider.url).port
    storage = f"http://localhost:{port}/storage/ME1.jpg"
    fake_provider.script("GET", MEDIA_PATH.format(1),
                         Reply(307, body=b"", headers={"Location": storage}))
    fake_provider.script("GET", "/storage/ME1.jpg", Reply(body=b"\xff\xd8jpeg",
                                                          content_type="image/jpeg"))
    post_form(twilio_inbox, mms((fake_provider.url + MEDIA_PATH.format(1), "image/jpeg")))
    message = fetch_queued(media_queued)
    to_twilio, to_storage = fake_provider.requests
    assert to_twilio.headers["Authorization"] == BASIC
    assert "Authorization" not in to_storage.headers
    assert message.attachments.get().file.read() == b"\xff\xd8jpeg"


def test_media_elsewhere_is_fetched_without_credentials(twilio_inbox, post_form, media_queued,
                                                        fake_provider):
    twilio_inbox.config["api_base"] = "https://api.twilio.com"
    twilio_inbox.save()
    fake_provider.script("GET", "/elsewhere/pic", Reply(body=PNG, content_type="image/png"))
    post_form(twilio_inbox, mms((fake_provider.url + "/elsewhere/pic", "image/png")))
    fetch_queued(media_queued)
    assert "Authorization" not in fake_provider.requests[0].headers
    assert Attachment.objects.get().name == "MMabc-0.png"


def test_media_over_the_limit_is_not_stored(twilio_inbox, post_form, media_queued,
                                            fake_provider):
    twilio_inbox.config["max_attachment_mb"] = 0.0005  # 524 bytes: the PNG is larger
    twilio_inbox.save()
    fake_provider.script("GET", MEDIA_PATH.format(1), Reply(body=PNG, content_type="image/png"))
    post_form(twilio_inbox, mms((fake_provider.url + MEDIA_PATH.format(1), "image/png")))
    message = fetch_queued(media_queued)
    assert Attachment.objects.count() == 0
    assert message.metadata["media_fetched"] == [fake_provider.url + MEDIA_PATH.format(1)]


def test_media_that_is_gone_is_skipped(twilio_inbox, post_form, media_queued, fake_provider):
    fake_provider.script("GET", MEDIA_PATH.format(1), Reply(404, {"code": 20404}))
    post_form(twilio_inbox, mms((fake_provider.url + MEDIA_PATH.format(1), "image/png")))
    fetch_queued(media_queued)
    assert Attachment.objects.count() == 0 and len(fake_provider.requests) == 1
