"""The widget on a host page of another origin, against a real daphne process: fixtures and
steps the widget's browser tests share (tests/chat, tests/surveys).

Daphne's channel layer follows REDIS_URL like the product: Redis when set, else in-memory.
"""

import functools
import http.server
import os
import threading
from contextlib import contextmanager

import httpx
import pytest
from django.conf import settings
from django.db import connection
from django.template.loader import render_to_string
from django.test import Client
from rest_framework.authtoken.models import Token
from websockets.sync.client import connect as ws_connect

from inbox.models import Channel, Inbox, Message
from tests.factories import AgentFactory, InboxFactory
from tests.live import Daphne, QuietHandler, wait_for


@pytest.fixture
def daphne(postgres_only, tmp_path):
    server = Daphne(tmp_path, redis_url=os.environ.get("REDIS_URL"))
    server.start()
    yield server
    server.stop()
    # Its database sessions end a moment after the process does; the test database can only
    # be dropped once they have.
    with connection.cursor() as cursor:
        wait_for(lambda: cursor.execute(
            "SELECT count(*) = 0 FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ) or cursor.fetchone()[0], 10, "daphne's database sessions to close")


@pytest.fixture
def agent(db):
    return AgentFactory(display_name="Maya Chen")


@pytest.fixture
def widget_inbox(agent):
    return InboxFactory(
        kind=Inbox.Kind.WIDGET, name="Acme Support", members=[agent],
        config={"reply_time_minutes": 5, "color": "#4f46e5",
                "greeting": {"en": "Hi! Ask us anything about your order."}},
    )


@pytest.fixture
def host_page(tmp_path, daphne, widget_inbox):
    """The demo page (hostile CSS included) served from another origin than daphne's."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text(render_to_string("widget_demo.html", {
        "inbox_key": widget_inbox.key, "widget_src": f"{daphne.base}/widget.js"}))
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


def inbound(inbox, body):
    return Message.objects.filter(ticket__inbox=inbox, direction=Message.Direction.INBOUND,
                                  channel=Channel.WIDGET, body_text=body)


def send(page, body):
    textbox = page.get_by_role("textbox", name="Write a message…")
    textbox.fill(body)
    textbox.press("Enter")


@contextmanager
def agent_socket(daphne, agent):
    """The agent inbox's websocket, logged in with a session cookie like the web UI."""
    client = Client()
    client.force_login(agent)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    with ws_connect(f"ws://127.0.0.1:{daphne.port}/ws/agent/", origin=daphne.base,
                    additional_headers={"Cookie": f"{settings.SESSION_COOKIE_NAME}={cookie}"}
                    ) as socket_:
        yield socket_


def agent_reply(daphne, agent, ticket_id: int, body: str) -> dict:
    """The agent replies through the REST API of the running server; returns the message."""
    token, _ = Token.objects.get_or_create(user=agent)
    reply = httpx.post(f"{daphne.base}/api/v1/tickets/{ticket_id}/messages/",
                       json={"type": "reply", "body": body},
                       headers={"Authorization": f"Token {token.key}"}, trust_env=False)
    assert reply.status_code == 201, reply.text
    return reply.json()


def start_conversation(page, url):
    page.goto(url)
    page.get_by_role("button", name="Open chat").click()
    page.get_by_role("button", name="Send us a message").click()
