"""One test per Twilio fixture (shared/fixtures/webhooks/twilio): the file's bytes, posted
form-encoded and signed as Twilio signs them."""

import pytest

from inbox.models import Message
from inbox.services import message_reply
from inbox.tasks import message_deliver
from tests.channels.fake_provider import Reply
from tests.channels.stored_message import identities, inbound_message_get
from tests.channels.twilio.conftest import MESSAGES_PATH, fixture_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def post_fixture(fixtures_dir, twilio_inbox, post_form):
    def post(name: str):
        response = post_form(twilio_inbox, fixture_bytes(fixtures_dir, name))
        assert response.status_code == 200
        return response

    return post


def stored_message() -> Message:
    return inbound_message_get(channel="sms")


def test_inbound_sms(post_fixture, media_queued, fixtures_dir):
    post_fixture("docs_inbound_sms_text.form.txt")
    message = stored_message()
    assert identities(message) == [("phone", "+14155552671", False)]
    assert message.ticket.contact.name == ""
    assert message.body_text == "Hi, my order #12345 never arrived. Can you help?"
    assert message.external_id == "SM0f5c0b7c9d8e4f1a2b3c4d5e6f708192"
    assert message.metadata == {"twilio": {"from": "+14155552671", "to": "+15005550006"}}
    assert message.raw.read() == fixture_bytes(fixtures_dir, "docs_inbound_sms_text.form.txt")
    assert media_queued == []


def test_inbound_whatsapp_through_twilio(post_fixture, media_queued):
    post_fixture("docs_inbound_whatsapp_via_twilio.form.txt")
    message = stored_message()
    # WhatsApp vouches for the number: a verified phone identity, on the sms channel.
    assert identities(message) == [("phone", "+34600123456", True)]
    assert message.ticket.contact.name == "María José"
    assert message.body_text == "Hola, ¿sigue abierto mi ticket?"
    assert message.external_id == "SM4c3b2a19180706f5e4d3c2b1a0918273"
    assert message.metadata == {"twilio": {
        "from": "whatsapp:+34600123456", "to": "whatsapp:+14155238886", "whatsapp": True,
        "profile_name": "María José", "wa_id": "34600123456"}}
    assert media_queued == []


def test_status_callback_marks_our_reply_delivered(post_fixture, post_form, twilio_inbox,
                                                   fixtures_dir, agent, fake_provider):
    post_form(twilio_inbox, fixture_bytes(fixtures_dir, "docs_inbound_sms_text.form.txt"))
    fake_provider.script("POST", MESSAGES_PATH, Reply(201, {
        "sid": "SM9d8c7b6a5f4e3d2c1b0a99887766554f", "status": "queued"}))
    reply = message_reply(ticket=Message.objects.get().ticket, agent=agent,
                          body="We are on it.")
    message_deliver.apply(args=[reply.pk])
    reply.refresh_from_db()
    assert (reply.delivery_status, reply.external_id) == (
        "sent", "SM9d8c7b6a5f4e3d2c1b0a99887766554f")
    post_fixture("docs_status_callback_delivered.form.txt")
    reply.refresh_from_db()
    assert (reply.delivery_status, reply.delivery_error) == ("delivered", "")
    assert Message.objects.count() == 2  # a status callback is not a message
