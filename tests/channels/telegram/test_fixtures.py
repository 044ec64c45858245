"""One test per Telegram fixture (shared/fixtures/webhooks/telegram), posted as Telegram
posts it: the file's bytes with the secret token header."""

from datetime import UTC, datetime

import pytest

from inbox.models import Message, Ticket
from tests.channels.stored_message import identities, inbound_message_get
from tests.channels.telegram.conftest import fixture_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def post_fixture(fixtures_dir, telegram_inbox, post_update):
    def post(name: str):
        response = post_update(telegram_inbox, fixture_bytes(fixtures_dir, name))
        assert response.status_code == 200
        return response

    return post


def stored_message() -> Message:
    return inbound_message_get(channel="telegram")


def test_audio(post_fixture, media_queued):
    post_fixture("nutgram_audio.json")
    message = stored_message()
    assert identities(message) == [("telegram", "12345", True)]
    assert message.ticket.contact.name == "Mario Bros"
    assert message.body_text == "[audio: afads – Worst Day]"
    assert message.external_id == "12345:123456"
    assert message.created_at == datetime(2022, 11, 16, 21, 26, 38, tzinfo=UTC)
    assert message.metadata == {"telegram": {"chat_id": 12345, "message_id": 123456,
                                             "username": "MarioBros"}}
    assert media_queued == [(message.pk, [
        {"ref": "dfhhdfhgdfghdf", "content_type": "audio/mpeg", "name": "dsagfds.mp3"}])]


def test_callback_query_is_not_a_customer_message(post_fixture, stored, media_queued):
    post_fixture("nutgram_callback_query.json")
    assert stored() == (0, 0, 0) and media_queued == []


def test_channel_post_is_ignored(post_fixture, stored):
    post_fixture("nutgram_channel_post.json")
    assert stored() == (0, 0, 0)


def test_command_with_parameters_is_kept_as_written(post_fixture, media_queued):
    post_fixture("nutgram_command_with_parameters.json")
    message = stored_message()
    assert identities(message) == [("telegram", "456", True)]
    assert message.ticket.contact.name == "Mario"
    assert (message.body_text, message.external_id) == ("/register HR John Doe", "456:123")
    assert media_queued == []


def test_contact_card_is_described_and_its_vcard_attached(post_fixture, media_queued):
    post_fixture("nutgram_contact.json")
    message = stored_message()
    assert message.ticket.contact.name == "Mario Bros"
    assert (message.body_text, message.external_id) == ("Contact: 911, 911", "12345:123456")
    attachment = message.attachments.get()
    assert (attachment.name, attachment.content_type) == ("contact.vcf", "text/vcard")
    assert attachment.file.read() == b"BEGIN:VCARD\nVERSION:3.0\nFN:911\nTEL;VOICE:911\nEND:VCARD"
    assert media_queued == []


def test_location(post_fixture):
    post_fixture("nutgram_location.json")
    message = stored_message()
    assert message.body_text == ("Location: 41.899977, 12.501028\n"
                                 "https://www.openstreetmap.org/?mlat=41.899977&mlon=12.501028")
    assert message.external_id == "12345:123456"


def test_plain_text_message(post_fixture, media_queued, fixtures_dir):
    post_fixture("nutgram_message.json")
    message = stored_message()
    assert identities(message) == [("telegram", "456", True)]
    assert message.ticket.contact.name == "Mario"
    assert (message.body_text, message.external_id) == ("Ciao", "456:123")
    assert message.created_at == datetime(2023, 5, 25, 3, 17, 44, tzinfo=UTC)
    assert message.ticket.created_at == message.created_at
    assert message.raw.read() == fixture_bytes(fixtures_dir, "nutgram_message.json")
    assert media_queued == []


def test_forwarded_message_names_its_origin(post_fixture):
    post_fixture("nutgram_message_forward_origin.json")
    message = stored_message()
    assert message.body_text == "Forwarded from Stickers (@Stickers):\nCiao"
    assert message.metadata["telegram"]["forward_origin"] == {
        "type": "user", "date": 1707234740,
        "sender_user": {"id": 429000, "is_bot": True, "first_name": "Stickers",
                        "username": "Stickers"}}
    # The customer is who forwarded it, not the bot it came from.
    assert identities(message) == [("telegram", "456", True)]


def test_reaction_is_not_a_message(post_fixture, stored):
    post_fixture("nutgram_message_reaction.json")
    assert stored() == (0, 0, 0)


def test_forum_topic_in_a_supergroup_is_ignored(post_fixture, stored):
    post_fixture("nutgram_message_topic.json")
    assert stored() == (0, 0, 0)


def test_photo_takes_the_largest_size_and_the_caption(post_fixture, media_queued):
    post_fixture("nutgram_photo.json")
    message = stored_message()
    assert identities(message) == [("telegram", "11111111", True)]
    assert (message.body_text, message.external_id) == ("asdasdasdasdasdasd", "11111111:456901")
    assert Ticket.objects.get().subject == ""
    assert media_queued == [(message.pk, [{"ref": "SAAS", "content_type": "image/jpeg",
                                           "name": ""}])]
