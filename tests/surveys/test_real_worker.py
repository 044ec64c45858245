"""A real Celery worker process on the real broker: the invitation waits for the inbox's
delay (eta), goes out once on Telegram through the real sender, and a redelivered task
sends nothing more."""

import time
from datetime import timedelta

import pytest

from inbox.models import Inbox, Message, Ticket
from inbox.services import (
    Identity,
    InboundMessage,
    message_ingest,
    message_reply,
    ticket_set_status,
)
from surveys.models import Invitation, SurveySettings
from surveys.tasks import survey_send
from tests.channels.fake_provider import Reply, fake_provider_running
from tests.factories import AgentFactory, InboxFactory

BOT_TOKEN = "123:SECRET"
SEND = f"/bot{BOT_TOKEN}/sendMessage"


def wait_for(condition, timeout: float, what: str, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert process is None or process.poll() is None, process.stdout.read().decode()
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_invitation_sent_once_by_a_real_worker_after_the_delay(worker):  # noqa: F811
    with fake_provider_running() as telegram:
        telegram.script("POST", SEND, *(Reply(json={"ok": True, "result": {"message_id": n}})
                                         for n in (77, 78, 79)))
        agent = AgentFactory()
        inbox = InboxFactory.build(kind=Inbox.Kind.TELEGRAM, config={"api_base": telegram.url})
        inbox.secrets_update({"bot_token": BOT_TOKEN})
        inbox.save()
        inbox.members.add(agent)
        SurveySettings.objects.create(inbox=inbox, delay=timedelta(seconds=2))
        ticket = message_ingest(data=InboundMessage(
            inbox=inbox, channel="telegram", sender=[Identity("telegram", "8")],
            body_text="halo", metadata={"chat_id": 8},
        )).message.ticket
        reply = message_reply(ticket=ticket, agent=agent, body="Sudah dikirim.")
        wait_for(lambda: len(telegram.sent("POST", SEND)) == 1, 30, "the agent's reply", worker)
        resolved_at = time.monotonic()
        ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=agent)
        invitation = Invitation.objects.get()
        wait_for(lambda: len(telegram.sent("POST", SEND)) == 2, 30, "the invitation", worker)
        assert time.monotonic() - resolved_at >= 1.5  # not before the delay
        survey = Message.objects.get(author_type=Message.AuthorType.SYSTEM)
        wait_for(lambda: Message.objects.get(pk=survey.pk).delivery_status == "sent", 30,
                 "the delivery status", worker)
        survey_send.delay(invitation.pk)  # redelivered after a lost acknowledgement
        message_reply(ticket=ticket, agent=agent, body="Terima kasih!")  # a marker after it
        wait_for(lambda: len(telegram.sent("POST", SEND)) == 3, 30, "the marker", worker)
        texts = [request.json()["text"] for request in telegram.sent("POST", SEND)]
    invitation.refresh_from_db()
    url = invitation.message.metadata["survey"]["url"]
    assert texts == ["Sudah dikirim.",
                     f"How satisfied are you with the support you received? Answer here: {url}",
                     "Terima kasih!"]
    assert (invitation.status, Message.objects.filter(author_type="system").count()) == ("sent", 1)
    assert reply.pk != survey.pk
