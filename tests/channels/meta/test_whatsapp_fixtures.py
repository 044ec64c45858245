"""One test per WhatsApp Cloud API fixture (shared/fixtures/webhooks/whatsapp), posted signed
to the inbox's webhook URL. The pywa fixtures reuse ids: every test has a fresh database."""

from datetime import UTC, datetime

import pytest
from django.test import RequestFactory

from inbox.channels.base import StatusUpdate, adapter_for
from inbox.models import Contact, ContactIdentity, Message
from inbox.services import Identity, InboundMessage, message_ingest, message_reply

from .conftest import fixture_bytes

pytestmark = pytest.mark.django_db

WA_ID = "972987654321"


@pytest.fixture
def post_fixture(fixtures_dir, post_ok, whatsapp_inbox):
    def post(name: str):
        return post_ok(whatsapp_inbox, fixture_bytes(fixtures_dir, "whatsapp", name))

    return post


def stored_message(whatsapp_inbox, *, at: int) -> Message:
    """The one inbound message stored, from the fixtures' customer, on a new ticket."""
    message = Message.objects.select_related("ticket", "author_contact").get()
    contact = message.author_contact
    assert contact.name == "Test Name"
    assert set(contact.identities.values_list("kind", "value", "verified")) == {
        ("whatsapp", WA_ID, True), ("phone", "+" + WA_ID, True)}
    assert (message.direction, message.channel, message.inbox) == (
        "inbound", "whatsapp", whatsapp_inbox)
    assert (message.ticket.contact, message.ticket.channel, message.ticket.status) == (
        contact, "whatsapp", "open")
    assert message.created_at == datetime.fromtimestamp(at, tz=UTC)
    return message


def whatsapp_reply(inbox, agent, *, external_id: str, status: str) -> Message:
    """Our outbound reply to the fixtures' customer, as the delivery task records it."""
    ticket = message_ingest(data=InboundMessage(
        inbox=inbox, channel="whatsapp", sender=[Identity("whatsapp", WA_ID)], body_text="hi",
    )).message.ticket
    reply = message_reply(ticket=ticket, agent=agent, body="Hello!")
    Message.objects.filter(pk=reply.pk).update(external_id=external_id, delivery_status=status)
    return reply


def test_callback_selection(post_fixture, whatsapp_inbox):
    post_fixture("pywa_callback_selection__callback.json")
    message = stored_message(whatsapp_inbox, at=1698266905)
    assert (message.body_text, message.external_id) == ("title", "wamid.zyzxyz")
    assert message.metadata["whatsapp"] == {
        "from": WA_ID, "type": "interactive", "reply_id": "callback_data",
        "reply_to": "wamid.xyzxyz"}


def test_contacts(post_fixture, whatsapp_inbox):
    post_fixture("pywa_message__contacts.json")
    message = stored_message(whatsapp_inbox, at=1697044621)
    assert message.external_id == "wamid.xyzxyz"
    assert message.body_text == (
        "Shared contacts:\n"
        "Chandler Bing: +1 555-555-5555 (CELL)\n"
        "Monica: +1 666-666-6666 (HOME)\n"
        "Rachel Green: +1 777-777-7777 (WORK)"
    )
    # The shared cards are not the sender: only one contact exists.
    assert Contact.objects.count() == 1


def test_current_location(post_fixture, whatsapp_inbox):
    post_fixture("pywa_message__current_location.json")
    message = stored_message(whatsapp_inbox, at=1697044557)
    assert message.body_text == (
        "Shared location: 12.25089, 43.90539\nhttps://www.google.com/maps?q=12.25089,43.90539")
    assert message.metadata["whatsapp"] == {
        "from": WA_ID, "type": "location", "forwarded": True,
        "location": {"latitude": 12.25089, "longitude": 43.90539}}


def test_forwarded(post_fixture, whatsapp_inbox):
    post_fixture("pywa_message__forwarded.json")
    message = stored_message(whatsapp_inbox, at=1697044815)
    assert (message.body_text, message.external_id) == ("forwarded text", "wamid.xyzxyz")
    assert message.metadata["whatsapp"] == {"from": WA_ID, "type": "text", "forwarded": True}


def test_media_with_url(post_fixture, whatsapp_inbox, media_queued):
    post_fixture("pywa_message__media_with_url.json")
    message = stored_message(whatsapp_inbox, at=1697043379)
    assert (message.body_text, message.external_id) == ("", "wamid.xyzxyz")
    # Fetched by media id (the webhook's lookaside URL also needs the token, and expires).
    assert media_queued == [(message.pk, [
        {"ref": "65463453", "content_type": "image/jpeg", "name": ""}])]


def test_reaction_stores_nothing(post_fixture, media_queued, stored):
    post_fixture("pywa_message__reaction.json")
    assert stored() == (0, 0, 0)
    assert media_queued == []


def test_reply(post_fixture, whatsapp_inbox):
    post_fixture("pywa_message__reply.json")
    message = stored_message(whatsapp_inbox, at=1697044746)
    assert (message.body_text, message.external_id) == ("replied text", "wamid.xyzxyz")
    assert message.metadata["whatsapp"]["reply_to"] == "wamid.xyzxyz=="


def test_static_sticker(post_fixture, whatsapp_inbox, media_queued):
    post_fixture("pywa_message__static_sticker.json")
    message = stored_message(whatsapp_inbox, at=1697043760)
    assert message.body_text == ""
    assert media_queued == [(message.pk, [
        {"ref": "1234567890987654321", "content_type": "image/webp", "name": ""}])]


def test_text(post_fixture, whatsapp_inbox):
    post_fixture("pywa_message__text.json")
    message = stored_message(whatsapp_inbox, at=1697043223)
    assert (message.body_text, message.external_id) == ("Body Text", "wamid.xyzxyz")
    assert message.metadata == {"whatsapp": {"from": WA_ID, "type": "text"}}
    assert message.ticket.created_at == message.created_at


def test_voice(post_fixture, whatsapp_inbox, media_queued):
    post_fixture("pywa_message__voice.json")
    message = stored_message(whatsapp_inbox, at=1697043473)
    assert message.metadata["whatsapp"] == {"from": WA_ID, "type": "audio", "voice": True}
    assert media_queued == [(message.pk, [
        {"ref": "1234567890987654321", "content_type": "audio/ogg; codecs=opus", "name": ""}])]


def test_status_delivered(post_fixture, whatsapp_inbox, agent, stored):
    reply = whatsapp_reply(whatsapp_inbox, agent, external_id="wamid.xyzxyz", status="sent")
    before = stored()
    post_fixture("pywa_message_status__delivered.json")
    reply.refresh_from_db()
    assert reply.delivery_status == "delivered"
    assert stored() == before


def test_status_sent(fixtures_dir, post_fixture, whatsapp_inbox, agent):
    body = fixture_bytes(fixtures_dir, "whatsapp", "pywa_message_status__sent.json")
    request = RequestFactory().post("/", data=body, content_type="application/json")
    batch = adapter_for("whatsapp").parse(request, whatsapp_inbox)
    assert (batch.inbound, batch.statuses) == ([], [StatusUpdate(
        external_id="wamid.xyzxyz", status="sent", at=datetime.fromtimestamp(1698266945, UTC))])
    # Meta's "sent" often arrives after "delivered": it never moves the status back.
    reply = whatsapp_reply(whatsapp_inbox, agent, external_id="wamid.xyzxyz",
                           status="delivered")
    post_fixture("pywa_message_status__sent.json")
    reply.refresh_from_db()
    assert reply.delivery_status == "delivered"
    assert ContactIdentity.objects.filter(kind="phone").count() == 0  # statuses add no contacts
