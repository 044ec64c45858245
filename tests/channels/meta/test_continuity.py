"""SPEC §2 continuity across channels: a customer who chatted in the widget and later writes
on WhatsApp from the same (verified) phone continues the same ticket, and the agent's reply
goes out on WhatsApp, the channel they wrote on last."""

import time
import uuid

import pytest

from chat.services import visitor_message_send, widget_session_start
from inbox.models import Contact, ContactIdentity, Inbox, Message
from inbox.services import message_reply
from inbox.tasks import message_deliver
from tests.channels.fake_provider import Reply
from tests.factories import InboxFactory

from .conftest import PHONE_NUMBER_ID, whatsapp_body, whatsapp_text

pytestmark = pytest.mark.django_db

PHONE = "+6281234567890"


def test_widget_then_whatsapp_is_one_ticket_and_the_reply_goes_on_whatsapp(
    whatsapp_inbox, post_ok, fake_provider, agent, monkeypatch, django_capture_on_commit_callbacks
):
    widget = InboxFactory(kind=Inbox.Kind.WIDGET, slug="website")
    session, _token = widget_session_start(inbox_key=widget.key)
    chat, _ = visitor_message_send(session=session, client_id=uuid.uuid4(),
                                   body="Hi, my order #1042 has not arrived")
    ticket = chat.ticket
    # The site verified the customer's phone (e.g. by OTP) and told us.
    ContactIdentity.objects.create(contact=session.contact, kind="phone", value=PHONE,
                                   verified=True)

    post_ok(whatsapp_inbox, whatsapp_body(messages=[whatsapp_text(
        "Halo, saya yang tadi di chat website", message_id="wamid.CONT",
        timestamp=int(time.time()) - 60, wa_id=PHONE.removeprefix("+"))]))

    inbound = Message.objects.get(external_id="wamid.CONT")
    assert (inbound.ticket_id, inbound.channel, inbound.author_contact_id) == (
        ticket.pk, "whatsapp", session.contact.pk)
    assert Contact.objects.count() == 1
    assert set(session.contact.identities.values_list("kind", "value")) == {
        ("visitor", session.visitor_id), ("phone", PHONE), ("whatsapp", PHONE[1:])}

    fake_provider.script("POST", f"/v21.0/{PHONE_NUMBER_ID}/messages",
                         Reply(200, {"messages": [{"id": "wamid.REPLY"}]}))
    monkeypatch.setattr(message_deliver, "delay",
                        lambda message_id: message_deliver.apply(args=[message_id]))
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_reply(ticket=ticket, agent=agent, body="Sudah kami cek, besok sampai.")
    reply.refresh_from_db()
    assert (reply.channel, reply.inbox, reply.delivery_status, reply.external_id) == (
        "whatsapp", whatsapp_inbox, "sent", "wamid.REPLY")
    [request] = fake_provider.sent()
    assert request.json()["to"] == PHONE[1:]
    assert request.json()["text"]["body"] == "Sudah kami cek, besok sampai."
    assert list(ticket.messages.values_list("channel", "direction")) == [
        ("widget", "inbound"), ("whatsapp", "inbound"), ("whatsapp", "outbound")]
