import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import AdminFactory, AgentFactory

_ROOT = Path(__file__).resolve().parent.parent

FIXTURES_DIR = Path(
    os.environ.get("SWITCHBOARD_FIXTURES", Path(__file__).resolve().parent.parent.parent
                   / "shared" / "fixtures")
)


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES_DIR.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES_DIR} (set SWITCHBOARD_FIXTURES)")
    return FIXTURES_DIR


@pytest.fixture
def postgres_only(db):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://...")


@pytest.fixture
def agent(db):
    return AgentFactory()


@pytest.fixture
def admin_agent(db):
    return AdminFactory()


@pytest.fixture
def api():
    def client_for(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return client_for


@pytest.fixture
def live_events(monkeypatch, django_capture_on_commit_callbacks):
    """`with live_events() as sent:` captures the live events the code inside emits, as they
    would be sent after commit: a list of (event, groups, payload)."""

    @contextmanager
    def capture():
        sent = []
        monkeypatch.setattr(
            "inbox.realtime._send",
            lambda groups, message: sent.append(
                (message["event"], groups, message["payload"])
            ),
        )
        with django_capture_on_commit_callbacks(execute=True):
            yield sent

    return capture


@pytest.fixture
def domain_event_log():
    """Every domain event dispatched during the test, as (event, data) in order."""
    from inbox import domain_events

    log = []
    events = (domain_events.TICKET_CREATED, domain_events.TICKET_RESOLVED,
              domain_events.TICKET_REOPENED, domain_events.MESSAGE_CREATED)
    handlers = {event: (lambda event=event, **data: log.append((event, data))) for event in events}
    for event, handler in handlers.items():
        domain_events.subscribe(event, handler)
    yield log
    for event, handler in handlers.items():
        domain_events.unsubscribe(event, handler)


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
    subprocess.run([*celery, "purge", "-f"], env=env, cwd=_ROOT, check=True,
                   capture_output=True)
    process = subprocess.Popen(
        [*celery, "worker", "--pool=solo", "--loglevel=WARNING", "--without-heartbeat",
         "--without-gossip", "--without-mingle"],
        env=env, cwd=_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    process.wait(timeout=20)
