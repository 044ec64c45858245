import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from rest_framework.test import APIClient

from tests.factories import AdminFactory, AgentFactory
from tests.live import CHROMIUM, CHROMIUM_ARGS, RedisServer

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


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of this test's own on a free port, not the machine's shared Redis:
    restarting the shared one would disrupt every other process using it, and Redis pub/sub
    channels ignore database numbers, so on the shared Redis a test's daphne would also
    receive (and send) the live events of any other test run using the same group names
    (`contact.1`, `inbox.1`...) at the same time."""
    if shutil.which("redis-server") is None:
        pytest.skip("needs the redis-server binary (apt-get install redis-server)")
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def redis_url(request):
    """Redis for a daphne process's channel layer: a private one when redis-server is
    installed (see `private_redis`), else the configured REDIS_URL if it answers."""
    import redis

    if shutil.which("redis-server"):
        return request.getfixturevalue("private_redis").url
    if not settings.REDIS_URL:
        pytest.skip("needs Redis: install redis-server or set REDIS_URL=redis://...")
    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis at REDIS_URL is not answering: {error}")
    return settings.REDIS_URL


@pytest.fixture
def browser(monkeypatch):
    """Debian's chromium, headless, through Playwright's sync API."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    # Playwright's sync API keeps an event loop running in this thread; the ORM calls the
    # test makes meanwhile are plain blocking calls, as Django's docs allow for this case.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        # Django keeps connections per async context: those opened while Playwright's loop
        # ran are closed here, in that context, or the test database cannot be dropped.
        connections.close_all()


@pytest.fixture
def context(browser):
    """A desktop-sized English browser context with a 10 s default timeout."""
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    yield context
    context.close()
