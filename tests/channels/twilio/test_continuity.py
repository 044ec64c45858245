"""SPEC §2 continuity across Telegram and SMS: one customer, one open ticket, and the reply
leaves on the channel the customer last wrote on."""

import pytest

from inbox.models import Contact, ContactIdentity, Inbox, Message, Ticket
from inbox.services import Identity, InboundMessage, message_ingest, message_reply
from inbox.tasks import message_deliver
from tests.channels.fake_provider import Reply
from tests.channels.twilio.conftest import MESSAGES_PATH, fixture_bytes
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db

BOT_TOKEN = "999:continuity-bot"


@pytest.fixture
def telegram_ticket(fake_provider) -> Ticket:
    """Mario wrote to the Telegram bot; his phone is a verified identity of his contact."""
    telegram = InboxFactory.build(kind=Inbox.Kind.TELEGRAM, slug="telegram",
                                  config={"api_base": fake_provider.url})
    telegram.secrets_update({"bot_token": BOT_TOKEN})
    telegram.save()
    ticket = message_ingest(data=InboundMessage(
        inbox=telegram, channel="telegram", sender=[Identity("telegram", "456", verified=True)],
        sender_name="Mario", body_text="Ciao, where is my order?", external_id="456:1",
        metadata={"telegram": {"chat_id": 456, "message_id": 1}},
    )).message.ticket
    ContactIdentity.objects.create(contact=ticket.contact, kind="phone", value="+14155552671",
                                   verified=True)
    return ticket


def test_sms_joins_the_telegram_ticket_and_the_reply_goes_by_sms(
    telegram_ticket, twilio_inbox, post_form, fixtures_dir, agent, fake_provider
):
    body = fixture_bytes(fixtures_dir, "docs_inbound_sms_text.form.txt")
    assert post_form(twilio_inbox, body).status_code == 200
    assert Contact.objects.count() == 1 and Ticket.objects.count() == 1
    assert list(telegram_ticket.messages.values_list("channel", "inbox__kind", "body_text")) == [
        ("telegram", "telegram", "Ciao, where is my order?"),
        ("sms", "twilio", "Hi, my order #12345 never arrived. Can you help?"),
    ]
    telegram_ticket.refresh_from_db()
    assert (telegram_ticket.status, telegram_ticket.channel) == ("open", "telegram")

    fake_provider.script("POST", MESSAGES_PATH, Reply(201, {"sid": "SMreply1"}))
    reply = message_reply(ticket=telegram_ticket, agent=agent, body="It ships tomorrow.")
    assert (reply.channel, reply.inbox_id) == ("sms", twilio_inbox.pk)
    message_deliver.apply(args=[reply.pk])
    (request,) = fake_provider.requests
    assert request.path == MESSAGES_PATH
    form = request.form()
    assert (form["To"], form["From"], form["Body"]) == (
        ["+14155552671"], ["+15005550006"], ["It ships tomorrow."])
    assert Message.objects.get(pk=reply.pk).delivery_status == "sent"

    # The agent may still pick Telegram: it goes to Mario's chat with the bot.
    fake_provider.script("POST", f"/bot{BOT_TOKEN}/sendMessage",
                         Reply(json={"ok": True, "result": {"message_id": 2}}))
    on_telegram = message_reply(ticket=telegram_ticket, agent=agent, body="Tracking: TG-1",
                                channel="telegram")
    message_deliver.apply(args=[on_telegram.pk])
    assert fake_provider.requests[-1].json() == {"chat_id": 456, "text": "Tracking: TG-1"}
    assert Message.objects.get(pk=on_telegram.pk).external_id == "456:2"
