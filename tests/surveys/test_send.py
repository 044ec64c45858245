"""Resolving a ticket sends exactly one invitation per resolution episode, after the
inbox's delay, on the ticket's channel, through the channel's real sender."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone

from inbox.models import ContactIdentity, Inbox, Label, Message, Ticket, TicketEvent
from inbox.services import Identity, ticket_set_status
from surveys.models import Invitation, SurveySettings
from surveys.tasks import survey_send
from surveys.tokens import token_read
from tests.channels.fake_provider import Reply
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db

BOT_TOKEN = "123456:TEST-bot-token"
PHONE_NUMBER_ID = "1122334455667"
ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
TWILIO_MESSAGES = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


def survey_link(invitation: Invitation) -> str:
    """The link the invitation carries, checked to name this invitation."""
    invitation.refresh_from_db()
    url = invitation.message.metadata["survey"]["url"]
    prefix = "http://127.0.0.1:8000/survey/"
    assert url.startswith(prefix) and url.endswith("/")
    assert token_read(url[len(prefix):-1]) == invitation.pk
    return url


def test_email_invitation_has_one_click_links(email_inbox, conversation, resolve, queue, work):
    ticket = conversation(email_inbox, Identity("email", "budi@example.net"), "email")
    resolved = resolve(ticket)
    [invitation] = Invitation.objects.all()
    assert queue.surveys == [(invitation.pk, resolved.resolved_at + timedelta(hours=1))]
    work()
    [email] = mail.outbox
    link = survey_link(invitation)
    assert email.to == ["budi@example.net"]
    assert email.subject == f"Re: Pesanan 1234 [#{ticket.number}]"
    assert email.extra_headers["Auto-Submitted"] == "auto-replied"
    html = email.alternatives[0][0]
    for score in range(1, 6):
        assert f'href="{link}?score={score}"' in html
    assert f"5: {link}?score=5" in email.body
    message = Message.objects.get(author_type=Message.AuthorType.SYSTEM)
    assert (message.channel, message.delivery_status) == ("email", "sent")
    assert message.metadata["survey"] == {
        "invitation": invitation.pk, "kind": "csat", "min": 1, "max": 5, "url": link,
        "question": "How satisfied are you with the support you received?"}
    invitation.refresh_from_db()
    assert (invitation.status, invitation.message_id) == ("sent", message.pk)
    sent = TicketEvent.objects.get(type=TicketEvent.Type.SURVEY_SENT)
    assert (sent.data, sent.at) == ({"kind": "csat", "invitation": str(invitation.pk)},
                                    invitation.sent_at)


def test_invitation_is_in_the_contacts_language(email_inbox, conversation, resolve, work):
    ticket = conversation(email_inbox, Identity("email", "budi@example.net"), "email",
                          language="id")
    resolve(ticket)
    work()
    [email] = mail.outbox
    assert email.body.startswith("Seberapa puas Anda dengan bantuan yang Anda terima?\n")
    assert "1 = Sangat tidak puas, 5 = Sangat puas" in email.body


def _telegram(fake_provider):
    fake_provider.script("POST", f"/bot{BOT_TOKEN}/sendMessage", Reply(json={
        "ok": True, "result": {"message_id": 8, "chat": {"id": 9001, "type": "private"}}}))
    inbox = InboxFactory.build(kind=Inbox.Kind.TELEGRAM, slug="telegram",
                               config={"api_base": fake_provider.url})
    inbox.secrets_update({"bot_token": BOT_TOKEN})
    inbox.save()
    return inbox, Identity("telegram", "9001"), {"chat_id": 9001}


def _whatsapp(fake_provider):
    fake_provider.script("POST", f"/v21.0/{PHONE_NUMBER_ID}/messages", Reply(200, {
        "messaging_product": "whatsapp", "messages": [{"id": "wamid.SURVEY"}]}))
    inbox = InboxFactory.build(kind=Inbox.Kind.WHATSAPP, slug="whatsapp", config={
        "api_base": fake_provider.url, "phone_number_id": PHONE_NUMBER_ID})
    inbox.secrets_update({"access_token": "EAAG-token"})
    inbox.save()
    return inbox, Identity("whatsapp", "6281234567890"), {}


def _sms(fake_provider):
    fake_provider.script("POST", TWILIO_MESSAGES, Reply(201, {"sid": "SM1", "status": "queued"}))
    inbox = InboxFactory.build(kind=Inbox.Kind.TWILIO, slug="sms", config={
        "api_base": fake_provider.url, "account_sid": ACCOUNT_SID, "from_number": "+15005550006"})
    inbox.secrets_update({"auth_token": "twilio-token"})
    inbox.save()
    return inbox, Identity("phone", "+6281234567890"), {"from": "+6281234567890"}


def _messenger(fake_provider):
    fake_provider.script("POST", "/v21.0/me/messages", Reply(200, {"message_id": "m_1"}))
    inbox = InboxFactory.build(kind=Inbox.Kind.MESSENGER, slug="messenger",
                               config={"api_base": fake_provider.url})
    inbox.secrets_update({"page_access_token": "EAAG-page"})
    inbox.save()
    return inbox, Identity("messenger", "7001"), {}


def _sent_text(channel: str, request) -> str:
    if channel == "telegram":
        return request.json()["text"]
    if channel == "whatsapp":
        return request.json()["text"]["body"]
    if channel == "messenger":
        return request.json()["message"]["text"]
    return request.form()["Body"][0]


@pytest.mark.parametrize("channel, make", [
    ("telegram", _telegram), ("whatsapp", _whatsapp), ("sms", _sms), ("messenger", _messenger),
])
def test_messaging_channels_get_one_short_text_with_the_link(channel, make, fake_provider,
                                                             conversation, resolve, work):
    inbox, identity, metadata = make(fake_provider)
    ticket = conversation(inbox, identity, channel, metadata=metadata)
    resolve(ticket)
    work()
    [invitation] = Invitation.objects.all()
    [request] = fake_provider.sent("POST")
    assert _sent_text(channel, request) == (
        "How satisfied are you with the support you received? Answer here: "
        + survey_link(invitation))
    message = Message.objects.get(author_type=Message.AuthorType.SYSTEM)
    assert (message.channel, message.delivery_status) == (channel, "sent")
    survey_send.apply(args=[invitation.pk])  # a redelivered task
    assert len(fake_provider.sent("POST")) == 1


def test_widget_gets_a_rating_card(conversation, resolve, work):
    widget = InboxFactory(kind=Inbox.Kind.WIDGET, slug="widget")
    ticket = conversation(widget, Identity("visitor", "v-1"), "widget")
    resolve(ticket)
    work()
    [invitation] = Invitation.objects.all()
    message = Message.objects.get(author_type=Message.AuthorType.SYSTEM)
    assert (message.channel, message.delivery_status) == ("widget", "sent")
    assert message.metadata["survey"]["url"] == survey_link(invitation)
    assert (message.metadata["survey"]["min"], message.metadata["survey"]["max"]) == (1, 5)


def test_every_enabled_kind_is_sent_once(email_inbox, conversation, resolve, queue, work):
    SurveySettings.objects.create(inbox=email_inbox, kinds=["nps", "csat"],
                                  delay=timedelta(minutes=30))
    ticket = conversation(email_inbox, Identity("email", "budi@example.net"), "email")
    resolved = resolve(ticket)
    assert sorted(Invitation.objects.values_list("kind", flat=True)) == ["csat", "nps"]
    assert {eta for _, eta in queue.surveys} == {resolved.resolved_at + timedelta(minutes=30)}
    work()
    assert len(mail.outbox) == 2
    assert "0: http" in mail.outbox[1].body and "10: http" in mail.outbox[1].body


def test_reopen_before_the_delay_cancels(email_inbox, conversation, resolve, queue, work,
                                         django_capture_on_commit_callbacks):
    ticket = conversation(email_inbox, Identity("email", "budi@example.net"), "email")
    resolve(ticket)
    with django_capture_on_commit_callbacks(execute=True):
        ticket_set_status(ticket=ticket, status=Ticket.Status.OPEN, by=None)
    work()
    assert mail.outbox == []
    invitation = Invitation.objects.get()
    assert (invitation.status, invitation.skip_reason) == ("skipped", "reopened")
    assert not TicketEvent.objects.filter(type=TicketEvent.Type.SURVEY_SENT).exists()


def test_reopened_and_resolved_again_sends_for_the_new_episode_only(
        email_inbox, conversation, resolve, queue, work, django_capture_on_commit_callbacks):
    ticket = conversation(email_inbox, Identity("email", "budi@example.net"), "email")
    resolve(ticket)
    first = Invitation.objects.get()
    # The reopen's handler is lost (say the process died): the send-time check still holds.
    ticket_set_status(ticket=ticket, status=Ticket.Status.OPEN, by=None)
    resolve(ticket)
    work()
    assert len(mail.outbox) == 1
    first.refresh_from_db()
    second = Invitation.objects.exclude(pk=first.pk).get()
    assert (first.status, first.skip_reason, second.status) == ("skipped", "reopened", "sent")


def test_rolled_back_resolution_sends_nothing(email_inbox, conversation, queue,
                                              django_capture_on_commit_callbacks):
    ticket = conversation(email_inbox, Identity("email", "budi@example.net"), "email")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=None)
            raise RuntimeError("the request failed after resolving")
    assert (queue.surveys, Invitation.objects.count(), mail.outbox) == ([], 0, [])
    ticket.refresh_from_db()
    assert ticket.status == "open"


def test_retried_or_redelivered_task_sends_one_invitation(email_inbox, conversation, resolve,
                                                          queue, work,
                                                          django_capture_on_commit_callbacks):
    ticket = conversation(email_inbox, Identity("email", "budi@example.net"), "email")
    resolved = resolve(ticket)
    [(invitation_id, _eta)] = queue.surveys
    # The worker dies mid-send: its transaction rolls back, nothing is sent, the broker
    # redelivers (acks_late) and the next worker sends once.
    with pytest.raises(RuntimeError), transaction.atomic():
        survey_send.apply(args=[invitation_id], throw=True)
        raise RuntimeError("worker lost")
    assert Invitation.objects.get().status == "scheduled"
    assert Message.objects.filter(author_type="system").count() == 0
    queue.surveys.append((invitation_id, None))  # redelivered
    queue.surveys.append((invitation_id, None))  # and retried once more
    work()
    # The resolution's handler running twice (a duplicate event) creates nothing new.
    from surveys.services import invitations_schedule
    assert invitations_schedule(ticket_id=ticket.pk,
                                event_id=TicketEvent.objects.get(type="resolved").pk) == []
    assert len(mail.outbox) == 1
    assert Message.objects.filter(author_type="system").count() == 1
    assert TicketEvent.objects.filter(type=TicketEvent.Type.SURVEY_SENT).count() == 1
    assert survey_send.acks_late is True
    assert resolved.status == "resolved"


@pytest.mark.parametrize("setup, reason", [
    (lambda t: t.labels.add(Label.objects.create(name="spam")), "spam"),
    (lambda t: Message.objects.filter(ticket=t, direction="inbound").update(is_auto_reply=True),
     "auto_reply"),
    (lambda t: Message.objects.filter(ticket=t, author_type="agent").update(author_type="bot"),
     "no_agent_reply"),
])
def test_never_sent_to(setup, reason, email_inbox, conversation, resolve, work):
    ticket = conversation(email_inbox, Identity("email", "budi@example.net"), "email")
    setup(ticket)
    resolve(ticket)
    work()
    assert mail.outbox == []
    invitation = Invitation.objects.get()
    assert (invitation.status, invitation.skip_reason) == ("skipped", reason)


def test_merged_contact_is_not_surveyed(email_inbox, conversation, resolve, work):
    from tests.factories import ContactFactory

    ticket = conversation(email_inbox, Identity("email", "budi@example.net"), "email")
    ticket.contact.merged_into = ContactFactory()
    ticket.contact.save()
    resolve(ticket)
    work()
    assert (mail.outbox, Invitation.objects.get().skip_reason) == ([], "merged")


def test_tickets_without_agent_reply_are_surveyed_when_the_inbox_says_so(
        email_inbox, conversation, resolve, work):
    SurveySettings.objects.create(inbox=email_inbox, survey_without_agent_reply=True)
    ticket = conversation(email_inbox, Identity("email", "budi@example.net"), "email",
                          agent_reply=False)
    resolve(ticket)
    work()
    assert len(mail.outbox) == 1


def test_no_kinds_means_no_surveys(email_inbox, conversation, resolve, queue):
    SurveySettings.objects.create(inbox=email_inbox, kinds=[])
    resolve(conversation(email_inbox, Identity("email", "budi@example.net"), "email"))
    assert (queue.surveys, Invitation.objects.count()) == ([], 0)


def test_imported_history_schedules_nothing(email_inbox, queue, django_capture_on_commit_callbacks):
    from inbox import domain_events

    ticket = Ticket.objects.create(inbox=email_inbox, contact_id=_contact().pk, channel="email")
    with django_capture_on_commit_callbacks(execute=True), domain_events.muted():
        ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=None)
    assert (queue.surveys, Invitation.objects.count()) == ([], 0)


def test_lost_task_is_sent_by_the_sweep(email_inbox, conversation, resolve, queue, work):

    from surveys.services import invitations_send_due

    resolve(conversation(email_inbox, Identity("email", "budi@example.net"), "email"))
    queue.surveys.clear()  # the broker lost it
    invitation = Invitation.objects.get()
    assert invitations_send_due(now=invitation.scheduled_for) == 0
    assert invitations_send_due(now=invitation.scheduled_for + timedelta(minutes=11)) == 1
    work()
    assert len(mail.outbox) == 1


def _contact():
    from tests.factories import ContactFactory

    return ContactFactory()


def _whatsapp_customer_wrote(fake_provider, conversation, *, hours_ago: float, email: bool):
    inbox, identity, _ = _whatsapp(fake_provider)
    ticket = conversation(inbox, identity, "whatsapp")
    Message.objects.filter(ticket=ticket).update(
        created_at=timezone.now() - timedelta(hours=hours_ago))
    if email:
        ContactIdentity.objects.create(contact=ticket.contact, kind="email",
                                       value="budi@example.net")
    return ticket


def test_whatsapp_window_closed_falls_back_to_email(fake_provider, conversation, resolve, work):
    InboxFactory(kind=Inbox.Kind.EMAIL, slug="mail", config={"address": "cs@toko.example"})
    resolve(_whatsapp_customer_wrote(fake_provider, conversation, hours_ago=25, email=True))
    work()
    assert fake_provider.sent("POST") == []
    [email] = mail.outbox
    assert email.to == ["budi@example.net"]
    assert Invitation.objects.get().message.channel == "email"


def test_whatsapp_window_closed_without_email_skips(fake_provider, conversation, resolve, work):
    resolve(_whatsapp_customer_wrote(fake_provider, conversation, hours_ago=25, email=False))
    work()
    assert (fake_provider.sent("POST"), mail.outbox) == ([], [])
    invitation = Invitation.objects.get()
    assert (invitation.status, invitation.skip_reason) == ("skipped", "unreachable")


def test_inbox_language_when_the_contact_has_none(email_inbox, conversation, resolve, work):
    email_inbox.config["language"] = "zh-CN"
    email_inbox.save()
    resolve(conversation(email_inbox, Identity("email", "budi@example.net"), "email"))
    work()
    [email] = mail.outbox
    assert email.body.startswith("您对我们提供的支持满意吗？\n")
    assert Invitation.objects.get().language == "zh-hans"
