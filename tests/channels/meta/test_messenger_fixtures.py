"""One test per Messenger and Instagram fixture (shared/fixtures/webhooks/{messenger,instagram}),
posted signed. The docs_* Messenger fixtures are inner events: the test wraps them in the
envelope Meta posts and signs the wrapped bytes. Instagram's chatwoot fixtures carry ISO
string timestamps where Meta sends epoch milliseconds: both are accepted."""

from datetime import UTC, datetime, timedelta

import pytest

from inbox.models import Message
from inbox.services import Identity, InboundMessage, message_ingest, message_reply

from .conftest import fixture_bytes, messenger_envelope

pytestmark = pytest.mark.django_db

FIXTURES_TIME = datetime(2021, 9, 8, 6, 34, 4, tzinfo=UTC)  # the instagram fixtures' time
IG_SENDER = "Sender-id-1a2b3c4d"


def stored_message(inbox, *, sender: str, at: datetime, external_id: str) -> Message:
    """The one inbound message stored, from `sender`, on a new ticket of its channel."""
    message = Message.objects.select_related("ticket", "author_contact").get()
    contact = message.author_contact
    assert contact.name == ""  # Messenger and Instagram webhooks carry no name
    assert list(contact.identities.values_list("kind", "value", "verified")) == [
        (inbox.kind, sender, False)]
    assert (message.direction, message.channel, message.inbox, message.external_id) == (
        "inbound", inbox.kind, inbox, external_id)
    assert (message.ticket.contact, message.ticket.channel) == (contact, inbox.kind)
    assert message.created_at == at
    return message


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)


# --- messenger ---------------------------------------------------------------------------

def test_docs_messages_reply_to(fixtures_dir, post_ok, messenger_inbox):
    event = fixture_bytes(fixtures_dir, "messenger", "docs_messages_reply_to.json")
    post_ok(messenger_inbox, messenger_envelope(event))
    message = stored_message(messenger_inbox, sender="<PSID>", at=ms(1458692752478),
                             external_id="m_1457764197618:41d102a3e1ae206a38")
    assert message.body_text == "hello, world!"
    assert message.metadata == {"messenger": {
        "from": "<PSID>", "reply_to": "m_1fTq8oLumEyIp3Q2MR-aY7IfLZDamVrALniheU"}}


def test_docs_messages_text_with_quick_reply(fixtures_dir, post_ok, messenger_inbox):
    event = fixture_bytes(fixtures_dir, "messenger", "docs_messages_text_with_quick_reply.json")
    post_ok(messenger_inbox, messenger_envelope(event))
    message = stored_message(messenger_inbox, sender="<PSID>", at=ms(1458692752478),
                             external_id="mid.1457764197618:41d102a3e1ae206a38")
    assert message.body_text == "hello, world!"
    assert message.metadata["messenger"]["quick_reply_payload"] == "<DEVELOPER_DEFINED_PAYLOAD>"


def test_structured_message_image_only(fixtures_dir, post_ok, messenger_inbox, media_queued):
    post_ok(messenger_inbox, fixture_bytes(
        fixtures_dir, "messenger", "fbmessenger-api-hs_wsStructuredMessageRequest.json"))
    message = stored_message(messenger_inbox, sender="USER_ID", at=ms(1458696618268),
                             external_id="mid.1458696618141:b4ef9d19ec21086067")
    assert message.body_text == ""
    assert media_queued == [(message.pk, [{"ref": "IMAGE_URL", "content_type": "", "name": ""}])]


def test_text_message(fixtures_dir, post_ok, messenger_inbox, media_queued):
    post_ok(messenger_inbox, fixture_bytes(
        fixtures_dir, "messenger", "fbmessenger-api-hs_wsTextMessageRequest.json"))
    message = stored_message(messenger_inbox, sender="USER_ID", at=ms(1457764197627),
                             external_id="mid.1457764197618:41d102a3e1ae206a38")
    assert message.body_text == "hello, world!"
    assert message.ticket.status == "open"
    assert media_queued == []


# --- instagram ---------------------------------------------------------------------------

def test_instagram_message_create(fixtures_dir, post_ok, instagram_inbox):
    post_ok(instagram_inbox, fixture_bytes(
        fixtures_dir, "instagram", "chatwoot_factory_instagram_message_create_event.json"))
    message = stored_message(instagram_inbox, sender=IG_SENDER, at=FIXTURES_TIME,
                             external_id="message-id-1")
    assert message.body_text == "This is the first message from the customer"
    assert message.metadata == {"instagram": {"from": IG_SENDER}}


def test_instagram_message_reply(fixtures_dir, post_ok, instagram_inbox):
    post_ok(instagram_inbox, fixture_bytes(
        fixtures_dir, "instagram", "chatwoot_factory_instagram_message_reply_event.json"))
    message = stored_message(instagram_inbox, sender=IG_SENDER, at=FIXTURES_TIME,
                             external_id="message-id-2")
    assert message.body_text == "This is message with replyto mid"
    assert message.metadata == {"instagram": {"from": IG_SENDER, "reply_to": "message-id-1"}}
    # The message it quotes (the create fixture) joins the same conversation.
    post_ok(instagram_inbox, fixture_bytes(
        fixtures_dir, "instagram", "chatwoot_factory_instagram_message_create_event.json"))
    assert set(Message.objects.values_list("ticket", "external_id")) == {
        (message.ticket_id, "message-id-2"), (message.ticket_id, "message-id-1")}


def test_instagram_standby_message_is_recorded(fixtures_dir, post_ok, instagram_inbox):
    post_ok(instagram_inbox, fixture_bytes(
        fixtures_dir, "instagram", "chatwoot_factory_instagram_message_standby_event.json"))
    message = stored_message(instagram_inbox, sender=IG_SENDER, at=FIXTURES_TIME,
                             external_id="message-id-1")
    assert message.body_text == (
        "This is the first standby message from the customer, after 24 hours.")
    assert message.metadata == {"instagram": {"from": IG_SENDER, "standby": True}}


def test_instagram_shared_reel(fixtures_dir, post_ok, instagram_inbox, media_queued):
    post_ok(instagram_inbox, fixture_bytes(
        fixtures_dir, "instagram", "chatwoot_factory_instagram_shared_reel_event.json"))
    message = stored_message(instagram_inbox, sender=IG_SENDER, at=FIXTURES_TIME,
                             external_id="message-id-1")
    assert message.body_text == "Shared a reel: Reel title\nhttps://www.example.com/test.jpeg"
    assert media_queued == []  # a link to the reel, not a file to download


def test_instagram_messaging_seen(fixtures_dir, post_ok, instagram_inbox, agent, stored):
    ticket = message_ingest(data=InboundMessage(
        inbox=instagram_inbox, channel="instagram", sender=[Identity("instagram", IG_SENDER)],
        body_text="hi", at=FIXTURES_TIME - timedelta(hours=1),
    )).message.ticket
    replies = {}
    for minutes, mid in ((-30, "message-id-0"), (-20, "message-id-1"), (-10, "message-id-3")):
        reply = message_reply(ticket=ticket, agent=agent, body=mid,
                              at=FIXTURES_TIME + timedelta(minutes=minutes))
        Message.objects.filter(pk=reply.pk).update(external_id=mid, delivery_status="sent")
        replies[mid] = reply
    before = stored()
    post_ok(instagram_inbox, fixture_bytes(
        fixtures_dir, "instagram", "chatwoot_factory_messaging_seen_event.json"))
    # Seeing message-id-1 means having seen what came before it, not what came after.
    assert dict(Message.objects.filter(direction="outbound").values_list(
        "external_id", "delivery_status")) == {
        "message-id-0": "read", "message-id-1": "read", "message-id-3": "sent"}
    assert stored() == before
