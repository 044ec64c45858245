"""NPS campaigns: contacts whose last resolved ticket is N days old get one NPS survey on
their preferred channel, at most once per cooldown."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from inbox.models import Inbox, Ticket
from inbox.services import Identity, InboundMessage, message_ingest, ticket_set_status
from surveys import services
from surveys.models import Invitation, SurveySettings
from tests.channels.fake_provider import Reply
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()
BOT_TOKEN = "123456:TEST-bot-token"


@pytest.fixture
def campaign(email_inbox):
    return SurveySettings.objects.create(inbox=email_inbox, kinds=[], nps_campaign_days=30)


@pytest.fixture
def resolved_ago(email_inbox, conversation):
    def make(address: str, days: float) -> Ticket:
        ticket = conversation(email_inbox, Identity("email", address), "email")
        return ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=None,
                                 at=NOW - timedelta(days=days))

    return make


@pytest.fixture
def nps_campaign_run(django_capture_on_commit_callbacks):
    """The beat task's service, its sends queued after commit."""

    def run(now):
        with django_capture_on_commit_callbacks(execute=True):
            return services.nps_campaign_run(now=now)

    return run


def invited():
    return sorted(Invitation.objects.filter(trigger="campaign")
                  .values_list("contact__identities__value", flat=True))


def test_contacts_whose_last_resolved_ticket_is_n_days_old(campaign, resolved_ago,
                                                           nps_campaign_run, work):
    resolved_ago("due@example.net", 30.2)
    resolved_ago("recent@example.net", 10)
    resolved_ago("long-ago@example.net", 60)
    again = resolved_ago("came-back@example.net", 30.5)
    resolved_ago("came-back@example.net", 2)
    assert nps_campaign_run(now=NOW) == 1
    assert invited() == ["due@example.net"]
    work()
    [email] = mail.outbox
    assert email.to == ["due@example.net"]
    assert "0 = Not at all likely, 10 = Extremely likely" in email.body
    invitation = Invitation.objects.get()
    assert (invitation.kind, invitation.status, invitation.campaign_date) == (
        "nps", "sent", NOW.date())
    assert again.contact_id != invitation.contact_id


def test_at_most_once_per_cooldown(campaign, resolved_ago, nps_campaign_run, work):
    resolved_ago("due@example.net", 30.2)
    assert nps_campaign_run(now=NOW) == 1
    work()
    assert nps_campaign_run(now=NOW) == 0  # the same day again
    assert nps_campaign_run(now=NOW + timedelta(days=1)) == 0  # surveyed within 90 days
    assert len(mail.outbox) == 1


def test_surveyed_recently_by_another_invitation_is_left_out(campaign, resolved_ago,
                                                             nps_campaign_run):
    resolved_ago("due@example.net", 30.2)
    invitation = Invitation.objects.create(
        ticket=Ticket.objects.get(), contact=Ticket.objects.get().contact, kind="nps",
        trigger="resolution", status="sent", sent_at=NOW - timedelta(days=89))
    assert nps_campaign_run(now=NOW) == 0
    Invitation.objects.filter(pk=invitation.pk).update(sent_at=NOW - timedelta(days=91))
    assert nps_campaign_run(now=NOW) == 1


def test_campaign_off_by_default(email_inbox, resolved_ago, nps_campaign_run):
    SurveySettings.objects.create(inbox=email_inbox, kinds=[])
    resolved_ago("due@example.net", 30.2)
    assert nps_campaign_run(now=NOW) == 0


def test_sent_on_the_preferred_channel(campaign, resolved_ago, nps_campaign_run, fake_provider,
                                       work, django_capture_on_commit_callbacks):
    fake_provider.script("POST", f"/bot{BOT_TOKEN}/sendMessage", Reply(json={
        "ok": True, "result": {"message_id": 8, "chat": {"id": 9001, "type": "private"}}}))
    ticket = resolved_ago("budi@example.net", 30.2)
    telegram = InboxFactory.build(kind=Inbox.Kind.TELEGRAM, slug="telegram",
                                  config={"api_base": fake_provider.url})
    telegram.secrets_update({"bot_token": BOT_TOKEN})
    telegram.save()
    # Later the customer wrote on Telegram (that chat is still open).
    with django_capture_on_commit_callbacks(execute=True):
        message_ingest(data=InboundMessage(
            inbox=telegram, channel="telegram", metadata={"chat_id": 9001},
            sender=[Identity("telegram", "9001"), Identity("email", "budi@example.net")],
            body_text="Halo lagi"))
    assert nps_campaign_run(now=NOW) == 1
    work()
    [request] = fake_provider.sent("POST")
    assert request.json()["text"].startswith(
        "How likely are you to recommend us to a friend or colleague? Answer here: http")
    invitation = Invitation.objects.get()
    assert (invitation.ticket_id, invitation.message.channel, invitation.message.ticket_id) == (
        ticket.pk, "telegram", ticket.pk)
    assert mail.outbox == []
