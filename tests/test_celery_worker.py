"""A real Celery worker process, consuming the real broker, against the test database."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from inbox.models import Channel, Inbox, Message
from inbox.services import Identity, InboundMessage, message_ingest, message_reply
from tests.factories import AgentFactory, InboxFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def worker(postgres_only):
    """Start `celery worker` on the test broker and the test database; stop it afterwards."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
    }
    celery = [sys.executable, "-m", "celery", "-A", "config"]
    subprocess.run([*celery, "purge", "-f"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    process = subprocess.Popen(
        [*celery, "worker", "--pool=solo", "--loglevel=WARNING", "--without-heartbeat",
         "--without-gossip", "--without-mingle"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    process.wait(timeout=20)


@pytest.mark.django_db(transaction=True)
def test_reply_is_delivered_by_a_real_worker_after_commit(worker):
    agent = AgentFactory()
    inbox = InboxFactory(kind=Inbox.Kind.TELEGRAM, members=[agent])
    ticket = message_ingest(data=InboundMessage(
        inbox=inbox, channel=Channel.TELEGRAM, sender=[Identity("telegram", "8")], body_text="hi",
    )).message.ticket
    reply = message_reply(ticket=ticket, agent=agent, body="hello")
    # The worker has no Telegram adapter yet: it records a visible failure on the message.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reply.refresh_from_db()
        if reply.delivery_status != Message.DeliveryStatus.QUEUED:
            break
        assert worker.poll() is None, worker.stdout.read().decode()
        time.sleep(0.2)
    assert reply.delivery_status == "failed"
    assert reply.delivery_error == "No outbound adapter is installed for telegram."
