from datetime import timedelta

import pytest
from django.utils import timezone

from inbox.models import Channel, ContactIdentity, Inbox, Message, Ticket, TicketEvent
from inbox.services import EmailThreadRefs, Identity, InboundMessage, message_ingest
from inbox.services import message_reply, ticket_set_status
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0) - timedelta(days=30)


def inbound(inbox, channel, sender, body="Hello", **kwargs):
    return message_ingest(
        data=InboundMessage(inbox=inbox, channel=channel, sender=sender, body_text=body, **kwargs)
    )


@pytest.fixture
def widget():
    return InboxFactory(kind=Inbox.Kind.WIDGET, slug="widget")


@pytest.fixture
def telegram():
    return InboxFactory(kind=Inbox.Kind.TELEGRAM, slug="tg")


@pytest.fixture
def email_inbox():
    return InboxFactory(kind=Inbox.Kind.EMAIL, slug="support")


def test_first_message_creates_contact_ticket_message_and_events(widget, live_events):
    with live_events() as sent:
        result = inbound(
            widget, Channel.WIDGET, [Identity("visitor", "v-1")], sender_name="Ana", subject="Hi"
        )
    ticket = result.message.ticket
    assert result.created and result.ticket_created
    assert ticket.contact.name == "Ana"
    assert ticket.channel == "widget" and ticket.status == "open" and ticket.last_seq == 1
    assert result.message.seq == 1 and result.message.author_contact_id == ticket.contact_id
    assert list(ticket.events.values_list("type", flat=True).order_by("id")) == [
        "created", "message_in"
    ]
    assert [(event, groups) for event, groups, _ in sent] == [
        ("ticket.created", [f"inbox.{widget.pk}"]),
        ("message.new", [f"inbox.{widget.pk}", f"ticket.{ticket.pk}",
                         f"contact.{ticket.contact_id}"]),
    ]
    assert sent[1][2]["body"] == "Hello" and sent[1][2]["seq"] == 1


def test_chat_ticket_continued_by_telegram_from_same_contact(widget, telegram):
    first = inbound(widget, Channel.WIDGET, [Identity("visitor", "v-1"),
                                             Identity("phone", "+62 812 555", verified=True)])
    # The same person writes on Telegram; the bot knows their verified phone number.
    second = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "777"),
                                                  Identity("phone", "+62812555", verified=True)])
    assert second.message.ticket_id == first.message.ticket_id
    assert second.message.seq == 2 and second.message.channel == "telegram"
    assert second.message.inbox == telegram
    contact = first.message.ticket.contact
    assert set(contact.identities.values_list("kind", "value")) == {
        ("visitor", "v-1"), ("phone", "+62812555"), ("telegram", "777")
    }
    assert Ticket.objects.count() == 1


def test_email_opens_its_own_ticket_even_with_an_open_chat(widget, email_inbox):
    chat = inbound(widget, Channel.WIDGET, [Identity("visitor", "v-1"),
                                            Identity("email", "ana@example.com", verified=True)])
    mail = inbound(email_inbox, Channel.EMAIL, [Identity("email", "Ana@Example.com")],
                   subject="Invoice", external_id="<m1@example.com>")
    assert mail.ticket_created
    assert mail.message.ticket_id != chat.message.ticket_id
    assert mail.message.ticket.contact_id == chat.message.ticket.contact_id


def test_email_threading_precedence(email_inbox):
    sender = [Identity("email", "bob@example.com")]
    a = inbound(email_inbox, Channel.EMAIL, sender, external_id="<a@x>", subject="A").message.ticket
    b = inbound(email_inbox, Channel.EMAIL, sender, external_id="<b@x>", subject="B").message.ticket
    # Token beats subject number beats In-Reply-To beats References.
    refs = EmailThreadRefs(ticket_token=a.token, subject=f"Re: [#{b.pk}]", in_reply_to="<b@x>")
    assert inbound(email_inbox, Channel.EMAIL, sender, external_id="<c@x>",
                   thread=refs).message.ticket_id == a.pk
    refs = EmailThreadRefs(subject=f"Re: B [#{b.pk}]", in_reply_to="<a@x>")
    assert inbound(email_inbox, Channel.EMAIL, sender, external_id="<d@x>",
                   thread=refs).message.ticket_id == b.pk
    refs = EmailThreadRefs(subject="Re: A", in_reply_to="<a@x>", references=("<b@x>",))
    assert inbound(email_inbox, Channel.EMAIL, sender, external_id="<e@x>",
                   thread=refs).message.ticket_id == a.pk
    refs = EmailThreadRefs(subject="Re", in_reply_to="<unknown@x>", references=("<b@x>", "<zz>"))
    assert inbound(email_inbox, Channel.EMAIL, sender, external_id="<f@x>",
                   thread=refs).message.ticket_id == b.pk
    refs = EmailThreadRefs(subject="Re", in_reply_to="<unknown@x>")
    assert inbound(email_inbox, Channel.EMAIL, sender, external_id="<g@x>",
                   thread=refs).ticket_created


def test_redelivery_is_a_noop(telegram, live_events):
    first = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "1")], external_id="tg-1")
    with live_events() as sent:
        again = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "1")],
                        external_id="tg-1", body="changed")
    assert not again.created and again.message.pk == first.message.pk
    assert Message.objects.count() == 1 and TicketEvent.objects.count() == 2
    assert sent == []
    # The same provider id on another inbox is a different message.
    other = InboxFactory(kind=Inbox.Kind.TELEGRAM)
    assert inbound(other, Channel.TELEGRAM, [Identity("telegram", "1")], external_id="tg-1").created


def test_client_id_makes_sends_idempotent(widget):
    import uuid

    client_id = uuid.uuid4()
    first = inbound(widget, Channel.WIDGET, [Identity("visitor", "v")], client_id=client_id)
    again = inbound(widget, Channel.WIDGET, [Identity("visitor", "v")], client_id=client_id)
    assert (again.created, again.message.pk, again.message.seq) == (False, first.message.pk, 1)


def test_message_on_resolved_ticket_reopens_within_window(telegram):
    first = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "1")], at=T0)
    ticket = ticket_set_status(ticket=first.message.ticket, status="resolved", by=None,
                               at=T0 + timedelta(hours=1))
    again = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "1")],
                    at=T0 + timedelta(days=2))
    ticket.refresh_from_db()
    assert again.reopened and again.message.ticket_id == ticket.pk
    assert ticket.status == "open" and ticket.resolved_at is None
    assert list(ticket.events.values_list("type", flat=True).order_by("at", "id")) == [
        "created", "message_in", "resolved", "reopened", "message_in"
    ]


def test_message_after_reopen_window_opens_linked_ticket(telegram):
    first = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "1")], at=T0)
    old = ticket_set_status(ticket=first.message.ticket, status="resolved", by=None,
                            at=T0 + timedelta(hours=1))
    later = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "1")],
                    at=T0 + timedelta(days=8))
    old.refresh_from_db()
    assert later.ticket_created and later.message.ticket.parent_id == old.pk
    assert old.status == "resolved"


def test_closed_ticket_is_never_reopened(telegram):
    first = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "1")])
    ticket_set_status(ticket=first.message.ticket, status="closed", by=None)
    later = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "1")])
    assert later.ticket_created and later.message.ticket.parent_id == first.message.ticket_id


def test_customer_reply_moves_pending_ticket_back_to_open(telegram):
    first = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "1")])
    ticket_set_status(ticket=first.message.ticket, status="pending", by=None)
    inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "1")])
    ticket = Ticket.objects.get()
    assert ticket.status == "open"
    assert ticket.events.filter(type="status_changed", data__to="open").count() == 1


def test_auto_reply_does_not_reopen(email_inbox):
    first = inbound(email_inbox, Channel.EMAIL, [Identity("email", "a@x.org")], external_id="<1>")
    ticket_set_status(ticket=first.message.ticket, status="resolved", by=None)
    ooo = inbound(email_inbox, Channel.EMAIL, [Identity("email", "a@x.org")], external_id="<2>",
                  is_auto_reply=True, thread=EmailThreadRefs(in_reply_to="<1>"))
    assert ooo.message.ticket_id == first.message.ticket_id and ooo.message.is_auto_reply
    assert Ticket.objects.get().status == "resolved"


def test_html_is_sanitized_before_storage(widget):
    result = inbound(widget, Channel.WIDGET, [Identity("visitor", "v")],
                     body_html='<p onclick="x()">Hi<script>alert(1)</script></p>'
                               '<a href="javascript:evil()">link</a>')
    assert result.message.body_html == '<p>Hi</p><a rel="noopener noreferrer nofollow">link</a>'


def test_identity_is_unique_per_kind_and_value(widget):
    inbound(widget, Channel.WIDGET, [Identity("email", "Same@Example.com")])
    inbound(widget, Channel.WIDGET, [Identity("email", "same@example.com ")])
    assert ContactIdentity.objects.filter(kind="email").count() == 1


def test_agent_reply_goes_out_on_latest_inbound_channel(widget, telegram, agent):
    inbound(widget, Channel.WIDGET, [Identity("visitor", "v"), Identity("phone", "+1555",
                                                                       verified=True)])
    last = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "9"),
                                                Identity("phone", "+1555", verified=True)])
    reply = message_reply(ticket=last.message.ticket, agent=agent, body="On it")
    assert (reply.channel, reply.inbox, reply.delivery_status) == ("telegram", telegram, "queued")
    # The agent may pick the widget instead: the contact has a visitor identity.
    chat_reply = message_reply(ticket=last.message.ticket, agent=agent, body="Or here",
                               channel="widget")
    assert (chat_reply.channel, chat_reply.inbox, chat_reply.delivery_status) == (
        "widget", widget, "sent"
    )


def test_due_snoozed_tickets_reopen(telegram):
    from inbox.services import tickets_unsnooze_due

    now = timezone.now()
    due = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "1")]).message.ticket
    later = inbound(telegram, Channel.TELEGRAM, [Identity("telegram", "2")]).message.ticket
    ticket_set_status(ticket=due, status="snoozed", by=None, snoozed_until=now)
    ticket_set_status(ticket=later, status="snoozed", by=None,
                      snoozed_until=now + timedelta(hours=1))
    assert tickets_unsnooze_due(now=now) == 1
    due.refresh_from_db(), later.refresh_from_db()
    assert (due.status, due.snoozed_until, later.status) == ("open", None, "snoozed")
    assert tickets_unsnooze_due(now=now) == 0
