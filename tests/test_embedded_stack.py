"""The README's first command, end to end: `manage.py up` on embedded defaults (SQLite, no
Redis) serves the API with demo data and runs a real Celery worker that delivers replies."""

import email
import email.policy
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def stack(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")}
    env.update(DJANGO_SETTINGS_MODULE="config.settings.dev", SWITCHBOARD_VAR_DIR=str(tmp_path))
    port = free_port()
    log = open(tmp_path / "up.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "up", "--port", str(port), "--demo-tickets", "30"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, (tmp_path / "up.log").read_text()
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
    else:
        pytest.fail("the product did not come up:\n" + (tmp_path / "up.log").read_text())
    token = subprocess.run(
        [sys.executable, "manage.py", "create_api_token", "admin"], cwd=ROOT, env=env,
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    yield base, token, tmp_path
    process.terminate()
    process.wait(timeout=30)
    log.close()


def test_up_serves_demo_data_and_runs_the_worker(stack):
    base, token, var = stack
    output = (var / "up.log").read_text()
    login = re.search(r"admin login: (\S+) / (\S+)", output)
    assert login and login.group(1) == "admin"
    assert (var / "admin-credentials.txt").read_text().split() == [login.group(1),
                                                                   login.group(2)]
    api = httpx.Client(base_url=base, headers={"Authorization": f"Token {token}"})
    tickets = api.get("/api/v1/tickets/", params={"limit": 200}).json()["results"]
    assert len(tickets) == 30
    assert {t["channel"] for t in tickets} >= {"email", "widget"}
    # A reply by email is queued, then the real worker (on the SQLite broker) runs the
    # delivery task, which writes the mail where the embedded default keeps sent mail.
    email_ticket = next(t for t in tickets if t["channel"] == "email")
    reply = api.post(f"/api/v1/tickets/{email_ticket['id']}/messages/",
                     json={"type": "reply", "body": "Thanks, on it", "channel": "email"})
    assert reply.status_code == 201 and reply.json()["delivery_status"] == "queued"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        messages = api.get(f"/api/v1/tickets/{email_ticket['id']}/messages/",
                           params={"after_seq": reply.json()["seq"] - 1}).json()["results"]
        if messages[0]["delivery_status"] != "queued":
            break
        time.sleep(0.5)
    assert messages[0]["delivery_status"] == "sent", messages[0]["delivery_error"]
    mails = [
        email.message_from_bytes(block, policy=email.policy.default)
        for path in (var / "sent-mail").iterdir()
        for block in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n") if block.strip()
    ]
    assert any(
        f"[#{email_ticket['id']}]" in str(m["Subject"])
        and "Thanks, on it" in m.get_body(("plain",)).get_content()
        for m in mails
    )
    assert httpx.get(f"{base}/api/docs/").status_code == 200
    assert httpx.get(f"{base}/admin/login/").status_code == 200
