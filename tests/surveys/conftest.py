"""Surveys under test: tasks queued with their eta instead of going to a broker, a worker
that runs them as Celery would, and tickets with a conversation on each channel."""

from dataclasses import dataclass, field

import pytest

from inbox.models import Inbox, Ticket
from inbox.services import (
    Identity,
    InboundMessage,
    message_ingest,
    message_reply,
    ticket_set_status,
)
from inbox.tasks import message_deliver
from surveys.tasks import survey_send
from tests.channels.fake_provider import FakeProvider, fake_provider_running
from tests.factories import AgentFactory, InboxFactory, TeamFactory


@dataclass
class Queue:
    """What went to the broker: (invitation id, eta) survey sends and message deliveries."""

    surveys: list = field(default_factory=list)
    deliveries: list = field(default_factory=list)


@pytest.fixture
def queue(monkeypatch) -> Queue:
    queued = Queue()
    monkeypatch.setattr(survey_send, "apply_async",
                        lambda args, eta=None, **options: queued.surveys.append((args[0], eta)))
    monkeypatch.setattr(message_deliver, "delay", lambda pk: queued.deliveries.append(pk))
    return queued


@pytest.fixture
def work(queue, django_capture_on_commit_callbacks):
    """`work()`: a worker takes every queued survey send, then every queued delivery."""

    def run():
        surveys, queue.surveys[:] = list(queue.surveys), []
        for invitation_id, _eta in surveys:
            with django_capture_on_commit_callbacks(execute=True):
                survey_send.apply(args=[invitation_id])
        deliveries, queue.deliveries[:] = list(queue.deliveries), []
        for message_id in deliveries:
            message_deliver.apply(args=[message_id])

    return run


@pytest.fixture
def lead(db):
    return AgentFactory(username="lead")


@pytest.fixture
def support_agent(db):
    return AgentFactory(username="siti")


@pytest.fixture
def resolve(django_capture_on_commit_callbacks):
    """Resolve a ticket and let its after-commit handlers run."""

    def run(ticket: Ticket, by=None) -> Ticket:
        with django_capture_on_commit_callbacks(execute=True):
            return ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=by)

    return run


@pytest.fixture
def conversation(queue, support_agent, lead, django_capture_on_commit_callbacks):
    """`conversation(inbox, identity, channel)`: the customer writes, an agent answers
    (delivered), and the ticket is returned ready to resolve."""

    def make(inbox: Inbox, identity: Identity, channel: str, *, language: str = "",
             metadata: dict | None = None, agent_reply: bool = True) -> Ticket:
        team = TeamFactory(lead=lead)
        inbox.team = team
        inbox.save()
        inbox.members.add(support_agent, lead)
        with django_capture_on_commit_callbacks(execute=True):
            ticket = message_ingest(data=InboundMessage(
                inbox=inbox, channel=channel, sender=[identity],
                body_text="Pesanan saya belum sampai",
                subject="Pesanan 1234", metadata=metadata or {},
            )).message.ticket
            if language:
                ticket.contact.language = language
                ticket.contact.save(update_fields=["language"])
            if agent_reply:
                message_reply(ticket=ticket, agent=support_agent, body="Sudah kami kirim ulang.")
        queue.deliveries.clear()
        ticket.refresh_from_db()
        return ticket

    return make


@pytest.fixture
def email_inbox(db) -> Inbox:
    return InboxFactory(kind=Inbox.Kind.EMAIL, slug="support",
                        config={"address": "support@toko.example"})


@pytest.fixture
def fake_provider() -> FakeProvider:
    """A provider API on 127.0.0.1 that answers from a script (tests/channels/fake_provider)."""
    with fake_provider_running() as fake:
        yield fake


@pytest.fixture
def sent_invitation(email_inbox, conversation, resolve, work):
    """`sent_invitation(language="", **settings)`: a CSAT (or other kind) invitation
    emailed after a resolved email conversation."""
    from surveys.models import Invitation, SurveySettings

    def make(*, language: str = "", **survey_settings) -> Invitation:
        if survey_settings:
            SurveySettings.objects.create(inbox=email_inbox, **survey_settings)
        ticket = conversation(email_inbox, Identity("email", "budi@example.net"), "email",
                              language=language)
        resolve(ticket)
        work()
        return Invitation.objects.filter(status=Invitation.Status.SENT).earliest("pk")

    return make
