"""Real processes for the end-to-end and browser tests: daphne serving the product on pytest's
test database, a redis-server of a test's own, and Debian's chromium through Playwright.

Daphne runs as a subprocess, so its tests need PostgreSQL (an in-memory SQLite test database
cannot be shared between processes) and `transaction=True` (rows are committed, so that
process sees them). The fixtures built on these live in tests/conftest.py.
"""

import http.server
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium "
           "(apt-get install -y chromium; never `playwright install`)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout: float, what: str):
    """Poll `condition` until it returns something true (returned), or fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class RedisServer:
    """A redis-server of the test's own, which it may kill and restart."""

    def __init__(self, workdir: Path):
        self.port, self.workdir, self.process = free_port(), workdir, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()


class Daphne:
    """`daphne config.asgi:application` as deployed, on the test database, on a free loopback
    port it keeps across restarts. Its channel layer is Redis at `redis_url`, or in-memory
    without one; `env` adds settings (e.g. a higher widget frame rate for scripted clients)."""

    def __init__(self, workdir: Path, *, redis_url: str | None = None, **env: str):
        db = connection.settings_dict
        password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
        self.env = {key: value for key, value in os.environ.items()
                    if key not in ("REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
        self.env.update(
            DJANGO_SETTINGS_MODULE="config.settings.test",
            DATABASE_URL=(f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT']}"
                          f"/{db['NAME']}"),
            SWITCHBOARD_VAR_DIR=str(workdir / "var"),
            LOG_LEVEL="WARNING",
            **env,
        )
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "daphne.log"
        self.process = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
                 "--websocket_timeout", "-1", "config.asgi:application"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1, trust_env=False).is_success:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"daphne did not start:\n{self.log()}")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # Seen on a loaded machine: the reactor had stopped but the interpreter did
                # not exit. A stuck process must not outlive the test (or its database).
                self.kill()

    def log(self) -> str:
        return log_tail(self.log_path)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a directory (a host page of another origin) without logging each request."""

    def log_message(self, *args):
        pass
