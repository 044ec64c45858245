"""Twilio webhooks that are signed but not something we can store."""

from urllib.parse import urlencode

import pytest

from inbox.models import Message

pytestmark = pytest.mark.django_db


def form(**params) -> bytes:
    return urlencode({"MessageSid": "SMx", "AccountSid": "ACx", "From": "+6281234567890",
                      "To": "+15005550006", "Body": "halo", "NumMedia": "0", **params}).encode()


@pytest.mark.parametrize("body,message", [
    (form(MessageSid="", SmsMessageSid="", SmsSid=""), "MessageSid is missing."),
    (form(From="ACME"), "From 'ACME' is not a phone number."),
    (form(From="whatsapp:not-a-number"), "From 'whatsapp:not-a-number' is not a phone number."),
    (form(NumMedia="two"), "NumMedia must be a number."),
])
def test_signed_nonsense_is_400_and_stores_nothing(twilio_inbox, post_form, stored, body,
                                                   message):
    response = post_form(twilio_inbox, body)
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "invalid_payload", "message": message}
    assert stored() == (0, 0, 0)


def test_media_only_mms_says_what_came(twilio_inbox, post_form, media_queued):
    post_form(twilio_inbox, form(Body="", NumMedia="2", MediaUrl0="https://api.twilio.com/m0",
                                 MediaContentType0="image/jpeg",
                                 MediaUrl1="https://api.twilio.com/m1",
                                 MediaContentType1="text/vcard"))
    message = Message.objects.get()
    assert message.body_text == "[image, file]"
    assert media_queued == [(message.pk, [
        {"ref": "https://api.twilio.com/m0", "content_type": "image/jpeg", "name": "SMx-0"},
        {"ref": "https://api.twilio.com/m1", "content_type": "text/vcard", "name": "SMx-1"}])]
