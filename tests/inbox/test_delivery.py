import pytest
from django.db import transaction

from inbox import delivery
from inbox.models import Channel, Inbox, Message
from inbox.services import Identity, InboundMessage, message_ingest, message_reply
from inbox.tasks import message_deliver
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_reply(agent):
    inbox = InboxFactory(kind=Inbox.Kind.TELEGRAM, members=[agent])
    ticket = message_ingest(data=InboundMessage(
        inbox=inbox, channel=Channel.TELEGRAM, sender=[Identity("telegram", "5")], body_text="hi",
    )).message.ticket
    return message_reply(ticket=ticket, agent=agent, body="hello")


@pytest.fixture
def sender(monkeypatch):
    monkeypatch.setattr(delivery, "_senders", {})

    def install(func):
        delivery.sender_register(Channel.TELEGRAM)(func)

    return install


def test_reply_enqueues_delivery_only_after_commit(
    agent, monkeypatch, django_capture_on_commit_callbacks
):
    inbox = InboxFactory(kind=Inbox.Kind.TELEGRAM)
    ticket = message_ingest(data=InboundMessage(
        inbox=inbox, channel=Channel.TELEGRAM, sender=[Identity("telegram", "5")], body_text="hi",
    )).message.ticket
    enqueued = []
    monkeypatch.setattr(message_deliver, "delay", enqueued.append)
    with django_capture_on_commit_callbacks(execute=True):
        reply = message_reply(ticket=ticket, agent=agent, body="hello")
        assert enqueued == []
    assert enqueued == [reply.pk]
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            message_reply(ticket=ticket, agent=agent, body="rolled back")
            raise RuntimeError
    assert enqueued == [reply.pk]
    assert not Message.objects.filter(body_text="rolled back").exists()


def test_sent_with_provider_id(queued_reply, sender):
    sender(lambda message: "tg-out-1")
    message_deliver.apply(args=[queued_reply.pk])
    queued_reply.refresh_from_db()
    assert (queued_reply.delivery_status, queued_reply.external_id) == ("sent", "tg-out-1")


def test_permanent_failure_is_shown_on_the_message(queued_reply, sender):
    def refuse(message):
        raise delivery.PermanentDeliveryError("chat not found (400)")

    sender(refuse)
    message_deliver.apply(args=[queued_reply.pk])
    queued_reply.refresh_from_db()
    assert (queued_reply.delivery_status, queued_reply.delivery_error) == (
        "failed", "chat not found (400)")


def test_transient_failure_retries_then_succeeds(queued_reply, sender):
    calls = []

    def flaky(message):
        calls.append(1)
        if len(calls) < 3:
            raise delivery.TransientDeliveryError("429 Too Many Requests")
        return "tg-out-2"

    sender(flaky)
    message_deliver.apply(args=[queued_reply.pk])
    queued_reply.refresh_from_db()
    assert len(calls) == 3 and queued_reply.delivery_status == "sent"


def test_missing_adapter_fails_visibly(queued_reply, sender):
    message_deliver.apply(args=[queued_reply.pk])
    queued_reply.refresh_from_db()
    assert queued_reply.delivery_status == "failed"
    assert queued_reply.delivery_error == "No outbound adapter is installed for telegram."


def test_already_sent_message_is_not_sent_twice(queued_reply, sender):
    calls = []
    sender(lambda message: calls.append(1) or "id")
    message_deliver.apply(args=[queued_reply.pk])
    message_deliver.apply(args=[queued_reply.pk])
    assert len(calls) == 1
    assert Message.objects.get(pk=queued_reply.pk).delivery_status == "sent"


@pytest.mark.parametrize("sequence,final", [
    (["delivered", "read"], "read"),
    (["read", "delivered"], "read"),  # out of order: never backwards
    (["delivered", "sent"], "delivered"),
    (["failed"], "failed"),
    (["delivered", "failed"], "delivered"),
    (["failed", "sent"], "failed"),
    (["failed", "delivered"], "delivered"),
])
def test_status_callbacks_never_move_backwards(queued_reply, sequence, final):
    from inbox.services import message_status_update

    Message.objects.filter(pk=queued_reply.pk).update(delivery_status="sent",
                                                      external_id="prov-1")
    for status in sequence:
        message_status_update(inbox=queued_reply.inbox, external_id="prov-1", status=status,
                              error="rejected" if status == "failed" else "")
    queued_reply.refresh_from_db()
    assert queued_reply.delivery_status == final
    assert queued_reply.delivery_error == ("rejected" if final == "failed" else "")


def test_status_callback_for_unknown_id_is_ignored(queued_reply):
    from inbox.services import message_status_update

    assert message_status_update(inbox=queued_reply.inbox, external_id="nope",
                                 status="read") is None
