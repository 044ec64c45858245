import pytest

from tests.channels.fake_provider import FakeProvider, fake_provider_running


@pytest.fixture
def fake_provider() -> FakeProvider:
    """A provider API on 127.0.0.1 that answers from a script (tests/channels/fake_provider)."""
    with fake_provider_running() as fake:
        yield fake


@pytest.fixture
def stored(db):
    """`stored()`: how many contacts, tickets and messages exist, to assert that a refused
    webhook wrote nothing."""
    from inbox.models import Contact, Message, Ticket

    return lambda: (Contact.objects.count(), Ticket.objects.count(), Message.objects.count())


@pytest.fixture
def media_queued(monkeypatch) -> list:
    """The (message id, refs) of every media download a webhook queued, instead of queuing."""
    from inbox.channels.tasks import media_fetch

    queued = []
    monkeypatch.setattr(media_fetch, "delay", lambda message_id, refs: queued.append(
        (message_id, refs)))
    return queued


@pytest.fixture
def retry_countdowns(monkeypatch) -> list:
    """The countdown of every retry `message_deliver` asks Celery for (eager runs ignore it)."""
    from inbox.tasks import message_deliver

    countdowns, original = [], message_deliver.retry

    def retry(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return original(*args, **kwargs)

    monkeypatch.setattr(message_deliver, "retry", retry)
    return countdowns
