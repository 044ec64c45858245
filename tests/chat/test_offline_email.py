from datetime import timedelta

import pytest
from django.utils import timezone

from chat import services
from chat.offline import offline_due, offline_email_send
from inbox.channels.email.ingest import email_ingest
from inbox.models import Channel, ContactIdentity, Inbox, Message
from inbox.services import message_reply
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def chat(agent):
    widget = InboxFactory(kind=Inbox.Kind.WIDGET, members=[agent])
    support = InboxFactory(kind=Inbox.Kind.EMAIL, slug="support", members=[agent],
                           config={"address": "support@acme.test", "from_name": "ACME"})
    session, _ = services.widget_session_start(inbox_key=widget.key)
    ContactIdentity.objects.create(contact=session.contact, kind="email",
                                   value="rina@example.co.id")
    import uuid

    message, _ = services.visitor_message_send(session=session, client_id=uuid.uuid4(),
                                               body="Where is my order?")
    return widget, support, session, message.ticket


def age(message, minutes):
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(minutes=minutes))


def test_unread_reply_is_emailed_once_and_the_answer_threads_back(chat, agent, mailoutbox):
    widget, support, session, ticket = chat
    reply = message_reply(ticket=ticket, agent=agent, body="It ships tomorrow.")
    assert offline_due() == []  # too early: the customer may still be reading
    age(reply, 3)
    assert offline_due() == [(ticket.pk, reply.seq)]
    assert offline_email_send(ticket_id=ticket.pk, up_to_seq=reply.seq) is True
    assert offline_email_send(ticket_id=ticket.pk, up_to_seq=reply.seq) is False
    assert offline_due() == []
    [email] = mailoutbox
    assert email.to == ["rina@example.co.id"]
    assert email.reply_to == [f"support+t{ticket.token}@acme.test"]
    assert "Where is my order?" in email.body and "It ships tomorrow." in email.body
    # The customer answers the email: it lands on the same (widget) ticket.
    answer = (f"From: rina@example.co.id\r\nTo: {email.reply_to[0]}\r\n"
              f"Subject: {email.subject}\r\nMessage-ID: <ans-1@example.co.id>\r\n\r\n"
              "Thanks, see you tomorrow\r\n").encode()
    outcome = email_ingest(inbox=support, raw=answer, source="command")
    assert outcome.status == "ingested" and outcome.message.ticket_id == ticket.pk
    assert outcome.message.channel == Channel.EMAIL


def test_read_reply_is_not_emailed(chat, agent, mailoutbox):
    _, _, session, ticket = chat
    reply = message_reply(ticket=ticket, agent=agent, body="Done")
    services.visitor_read(session=session, ticket_id=ticket.pk, seq=reply.seq)
    age(reply, 10)
    assert offline_due() == []
    assert offline_email_send(ticket_id=ticket.pk, up_to_seq=reply.seq) is False
    assert mailoutbox == []


def test_no_email_identity_no_email(chat, agent, mailoutbox):
    _, _, session, ticket = chat
    session.contact.identities.filter(kind="email").delete()
    reply = message_reply(ticket=ticket, agent=agent, body="Done")
    age(reply, 10)
    assert offline_email_send(ticket_id=ticket.pk, up_to_seq=reply.seq) is False
    assert mailoutbox == []


def test_inbox_setting_controls_the_delay(chat, agent):
    widget, _, _, ticket = chat
    widget.config["offline_email_minutes"] = 30
    widget.save()
    reply = message_reply(ticket=ticket, agent=agent, body="Done")
    age(reply, 10)
    assert offline_due() == []
    age(reply, 31)
    assert offline_due() == [(ticket.pk, reply.seq)]
    widget.config["offline_email_minutes"] = None
    widget.save()
    assert offline_due() == []
