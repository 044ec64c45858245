"""A real Celery worker process, consuming the real broker, against the test database."""

import time

import pytest

from inbox.models import Channel, Inbox, Message
from inbox.services import Identity, InboundMessage, message_ingest, message_reply
from tests.channels.fake_provider import Reply, fake_provider_running
from tests.factories import AgentFactory, InboxFactory


@pytest.mark.django_db(transaction=True)
def test_reply_is_delivered_by_a_real_worker_after_commit(worker):
    with fake_provider_running() as telegram:
        telegram.script("POST", "/bot123:SECRET/sendMessage",
                        Reply(json={"ok": True, "result": {"message_id": 77}}))
        agent = AgentFactory()
        inbox = InboxFactory(kind=Inbox.Kind.TELEGRAM, members=[agent],
                             config={"api_base": telegram.url})
        inbox.secrets_update({"bot_token": "123:SECRET"})
        inbox.save()
        ticket = message_ingest(data=InboundMessage(
            inbox=inbox, channel=Channel.TELEGRAM, sender=[Identity("telegram", "8")],
            body_text="hi", metadata={"chat_id": 8},
        )).message.ticket
        reply = message_reply(ticket=ticket, agent=agent, body="hello")
        _wait_for_delivery(reply, worker)
        [sent] = telegram.sent("POST", "/bot123:SECRET/sendMessage")
    assert sent.json()["text"] == "hello" and str(sent.json()["chat_id"]) == "8"
    assert (reply.delivery_status, reply.external_id) == ("sent", "8:77")


def _wait_for_delivery(reply, worker):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reply.refresh_from_db()
        if reply.delivery_status != Message.DeliveryStatus.QUEUED:
            break
        assert worker.poll() is None, worker.stdout.read().decode()
        time.sleep(0.2)
