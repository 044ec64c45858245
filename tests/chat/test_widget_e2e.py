"""The widget protocol end to end (SPEC §4): a real daphne process, PostgreSQL, Redis and a
websocket client that behaves like the widget.

"No message is lost or duplicated across disconnects, server restarts or Redis restarts" is
only believable when TCP connections really break, the server process really dies and Redis
really goes away, which the in-process WebsocketCommunicator tests cannot show. Each test
starts its own daphne on a free loopback port, pointed at pytest's test database (rows are
committed, `transaction=True`, so that process sees them) and at a redis-server of its own
(see `private_redis`). PostgreSQL only: SQLite's single writer is not what is deployed.
"""

import asyncio
import json
import os
import random
import time
import uuid
from collections import defaultdict

import httpx
import pytest
import redis
from django.conf import settings
from django.test import Client
from rest_framework.authtoken.models import Token
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from inbox.models import Inbox, Message
from tests.factories import AdminFactory, InboxFactory
from tests.live import Daphne, RedisServer, log_tail

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


# The scripted client sends far faster than a person types; the frame rate limit has its own
# test (test_widget_security.py).
FAST_FRAMES = {"WIDGET_FRAMES_PER_SECOND": "1000", "WIDGET_FRAME_BURST": "1000"}


@pytest.fixture
def daphne(postgres_only, redis_url, tmp_path):
    server = Daphne(tmp_path, redis_url=redis_url, **FAST_FRAMES)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def world(daphne):
    """A widget inbox, an admin agent's API token and a visitor's bearer token, the way a
    browser gets one: POST /api/widget/v1/session over HTTP."""
    inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
    agent_token = Token.objects.create(user=AdminFactory()).key
    response = httpx.post(f"{daphne.base}/api/widget/v1/session", json={"inbox": inbox.key},
                          trust_env=False)
    assert response.status_code == 201, response.text
    return inbox, agent_token, response.json()["token"]


# Waits are upper bounds, met early on an idle machine; CI machines are shared and slow.
SLOW = float(os.environ.get("SWITCHBOARD_TEST_SLOWDOWN", "3"))


async def wait_until(condition, timeout: float, what: str, daphne: Daphne | None = None):
    timeout *= SLOW
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            tail = f"\n--- daphne log ---\n{log_tail(daphne.log_path)}" if daphne else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}{tail}")
        await asyncio.sleep(0.01)


class WidgetClient:
    """What the widget does: one socket at a time, reconnecting with backoff; an outbox of
    unacked sends, re-sent with the same client_id after each reconnect; a `sync` after each
    (re)connect and whenever seqs skip. The timeline holds each seq once; `arrived_by` says
    how each message first arrived (ack, new or sync)."""

    def __init__(self, base: str, token: str):
        self.url, self.token = base.replace("http", "ws", 1) + "/ws/widget/", token
        self.ticket_id: int | None = None
        self.timeline: dict[int, dict] = {}
        self.arrived_by: dict[int, str] = {}
        self.outbox: dict[str, dict] = {}  # client_id -> frame, oldest first
        self.frames: dict[str, dict] = {}
        self.acks: dict[str, list[dict]] = defaultdict(list)
        self.errors: list[dict] = []
        self.conflicts: list[tuple[dict, dict]] = []
        self.connections = 0
        self.contiguous = 0  # every seq up to this one is in the timeline
        self.ready = asyncio.Event()  # connected, welcomed, synced, outbox re-sent
        self.may_connect = asyncio.Event()
        self.may_connect.set()
        self._ws = None
        self._sync_in_flight = False
        self._lose_frames_until_ack: str | None = None
        self._ack_passed = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> "WidgetClient":
        self._task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.ready.wait(), 10 * SLOW)
        return self

    async def stop(self) -> None:
        self._task.cancel()
        if self._ws is not None:
            self._ws.transport.abort()

    async def _run(self) -> None:
        delay = 0.05
        while True:
            await self.may_connect.wait()
            try:
                async with connect(self.url, proxy=None, ping_interval=None, open_timeout=3,
                                   close_timeout=0.5, compression=None) as ws:
                    self._ws, self._sync_in_flight = ws, False
                    self._lose_frames_until_ack = None
                    self.connections += 1
                    delay = 0.05
                    await ws.send(json.dumps({"type": "hello", "token": self.token}))
                    async for raw in ws:
                        await self._on_frame(ws, json.loads(raw))
            except (OSError, TimeoutError, WebSocketException):
                pass
            finally:
                self._ws = None
                self.ready.clear()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.5)

    async def _on_frame(self, ws, frame: dict) -> None:
        kind = frame["type"]
        if self._lose_frames_until_ack:  # this connection is about to drop: frames are lost
            if kind == "message.ack" and frame["client_id"] == self._lose_frames_until_ack:
                self._ack_passed.set()
            return
        if kind == "welcome":
            if self.ticket_id is None and frame["tickets"]:
                self.ticket_id = frame["tickets"][0]["id"]
            if self.ticket_id is None:
                await self._become_ready(ws)
            else:
                await self._sync(ws)
            return
        if kind == "sync.result":
            self._sync_in_flight = False
            for message in frame["messages"]:
                self._store(message, "sync")
            if not self.ready.is_set():
                await self._become_ready(ws)
        elif kind == "message.ack":
            self.acks[frame["client_id"]].append(frame["message"])
            self.outbox.pop(frame["client_id"], None)
            self._store(frame["message"], "ack")
        elif kind == "message.new":
            self._store(frame["message"], "new")
        elif kind == "error":
            self.errors.append(frame)
        if self.ready.is_set() and self.timeline and max(self.timeline) > self.contiguous:
            await self._sync(ws)  # seqs skipped: something was missed

    def _store(self, message: dict, arrived_by: str) -> None:
        self.ticket_id = self.ticket_id or message["ticket_id"]
        seq = message["seq"]
        if seq in self.timeline:
            if self.timeline[seq]["id"] != message["id"]:
                self.conflicts.append((self.timeline[seq], message))
            return
        self.timeline[seq], self.arrived_by[seq] = message, arrived_by
        while self.contiguous + 1 in self.timeline:
            self.contiguous += 1

    async def _sync(self, ws) -> None:
        if not self._sync_in_flight:
            self._sync_in_flight = True
            await ws.send(json.dumps({"type": "sync", "ticket_id": self.ticket_id,
                                      "after_seq": self.contiguous}))

    async def _become_ready(self, ws) -> None:
        sent: set[str] = set()
        while unsent := [cid for cid in self.outbox if cid not in sent]:
            for cid in unsent:
                sent.add(cid)
                await ws.send(json.dumps(self.outbox[cid]))
        self.ready.set()  # no await since the last check: nothing can slip into the outbox

    async def send(self, body: str) -> str:
        client_id = str(uuid.uuid4())
        frame = {"type": "message.send", "client_id": client_id, "ticket_id": self.ticket_id,
                 "body": body, "attachments": []}
        self.outbox[client_id] = self.frames[client_id] = frame
        if self.ready.is_set():
            await self._transmit(frame)
        return client_id

    async def resend(self, client_id: str) -> None:
        """Send an already acked message again, as a client retrying too eagerly would."""
        await self._transmit(self.frames[client_id])

    async def _transmit(self, frame: dict) -> None:
        try:
            await self._ws.send(json.dumps(frame))
        except (ConnectionClosed, AttributeError):
            pass  # still in the outbox: re-sent after the reconnect

    def drop(self) -> None:
        """Lose the connection the way a train tunnel does: no close frame, and whatever is
        still in flight is gone."""
        self._ws.transport.abort()

    async def send_then_drop_before_ack(self, body: str) -> str:
        """Send; the server commits and acks; the connection dies before the ack is read."""
        await asyncio.wait_for(self.ready.wait(), 10 * SLOW)
        self._ack_passed.clear()
        client_id = str(uuid.uuid4())
        self._lose_frames_until_ack = client_id
        frame = {"type": "message.send", "client_id": client_id, "ticket_id": self.ticket_id,
                 "body": body, "attachments": []}
        self.outbox[client_id] = self.frames[client_id] = frame
        await self._transmit(frame)
        await asyncio.wait_for(self._ack_passed.wait(), 10 * SLOW)
        self.drop()
        return client_id

    def bodies(self) -> list[tuple[int, int, str]]:
        return [(seq, m["id"], m["body"]) for seq, m in sorted(self.timeline.items())]


def stored(ticket_id: int) -> list[tuple[int, int, str]]:
    return list(Message.objects.filter(ticket_id=ticket_id).order_by("seq")
                .values_list("seq", "id", "body_text"))


class Agent:
    """An agent replying through the REST API. A reply is only retried when the connection
    was refused (the request never reached a server), so each reply is posted exactly once."""

    def __init__(self, base: str, token: str):
        self.http = httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Token {token}"}, trust_env=False,
            limits=httpx.Limits(max_keepalive_connections=0), timeout=10,
        )

    async def reply(self, ticket_id: int, body: str) -> dict:
        while True:
            try:
                response = await self.http.post(f"/api/v1/tickets/{ticket_id}/messages/",
                                                json={"type": "reply", "body": body})
            except httpx.ConnectError:
                await asyncio.sleep(0.05)
                continue
            assert response.status_code == 201, response.text
            return response.json()


def test_200_messages_across_5_abrupt_drops_and_a_triple_resend(daphne, world):
    inbox, _, token = world
    rng = random.Random(20261124)
    modes = ["ack_lost", "in_flight", "idle", "ack_lost", "in_flight"]
    rng.shuffle(modes)
    drops = dict(zip(sorted(rng.sample(range(3, 196), 5)), modes))
    resent_index = rng.choice([i for i in range(10, 190) if all(abs(i - d) > 2 for d in drops)])

    async def scenario():
        client = await WidgetClient(daphne.base, token).start()
        for index in range(200):
            body = f"message {index + 1:03d}"
            if drops.get(index) == "ack_lost":
                client_id = await client.send_then_drop_before_ack(body)
            else:
                client_id = await client.send(body)
            if drops.get(index) == "in_flight":
                client.drop()
            elif drops.get(index) == "idle":
                await wait_until(lambda: not client.outbox, 10, "acks before the idle drop")
                client.drop()
            if index == resent_index:
                await wait_until(lambda: client.acks[client_id], 10, "the first ack", daphne)
                for _ in range(3):
                    await client.resend(client_id)
                await wait_until(lambda: len(client.acks[client_id]) == 4, 10, "3 more acks")
                resent = client.acks[client_id]
            await asyncio.sleep(rng.random() * 0.004)  # often several sends are in flight
        await wait_until(lambda: not client.outbox and client.contiguous == 200, 30,
                         "every message acked and in the timeline", daphne)
        await client.stop()
        return client, resent

    client, resent = asyncio.run(scenario())

    expected = [f"message {i:03d}" for i in range(1, 201)]
    in_database = stored(client.ticket_id)
    assert [(seq, body) for seq, _, body in in_database] == list(enumerate(expected, start=1))
    assert Message.objects.filter(inbox=inbox).count() == 200
    assert client.bodies() == in_database
    assert client.connections == 6
    assert len({(m["id"], m["seq"], m["body"]) for m in resent}) == 1
    assert (client.errors, client.conflicts) == ([], [])


def test_daphne_killed_mid_stream_the_client_fills_the_gap_with_sync(daphne, world):
    _, agent_token, token = world

    async def scenario():
        client = await WidgetClient(daphne.base, token).start()
        await client.send("hello, is anyone there?")
        await wait_until(lambda: not client.outbox, 10, "the first ack", daphne)
        agent = Agent(daphne.base, agent_token)
        posted = [await agent.reply(client.ticket_id, f"reply {n:02d}") for n in range(1, 21)]
        client.may_connect.clear()
        daphne.kill()  # between two posts: no reply is left half-posted
        await asyncio.to_thread(daphne.start)
        # The visitor's network comes back later than the server: these go unseen live.
        posted += [await agent.reply(client.ticket_id, f"reply {n:02d}") for n in range(21, 31)]
        client.may_connect.set()
        await asyncio.wait_for(client.ready.wait(), 10 * SLOW)
        posted += [await agent.reply(client.ticket_id, f"reply {n:02d}") for n in range(31, 61)]
        await wait_until(lambda: client.contiguous == 61, 15, "all 60 replies", daphne)
        await asyncio.sleep(0.3)  # anything extra (a duplicate) would arrive by now
        await agent.http.aclose()
        await client.stop()
        return client, posted

    client, posted = asyncio.run(scenario())

    in_database = stored(client.ticket_id)
    assert [body for _, _, body in in_database] == (
        ["hello, is anyone there?"] + [f"reply {n:02d}" for n in range(1, 61)])
    assert [m["seq"] for m in posted] == list(range(2, 62))
    assert client.bodies() == in_database
    assert client.connections == 2
    # Posted while the visitor was away: only `sync` can have brought them.
    assert {client.arrived_by[seq] for seq in range(22, 32)} == {"sync"}
    # Posted after the reconnect: live from the new process.
    assert {client.arrived_by[seq] for seq in range(32, 62)} == {"new"}
    assert (client.errors, client.conflicts) == ([], [])


def test_sockets_and_the_api_served_by_separate_processes(postgres_only, redis_url, tmp_path):
    """docs/deployment.md: `/ws/` on daphne processes of their own, the REST API on others.
    A visitor on the socket process and an agent on the API process (replies over REST, live
    events on /ws/agent/) share one conversation live and in order, through Redis."""
    servers = {}
    for name in ("sockets", "api"):
        (tmp_path / name).mkdir()
        servers[name] = Daphne(tmp_path / name, redis_url=redis_url, **FAST_FRAMES)
        servers[name].start()
    sockets, api = servers["sockets"], servers["api"]
    try:
        inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
        admin = AdminFactory()
        agent_token = Token.objects.create(user=admin).key
        browser = Client()
        browser.force_login(admin)
        cookie = browser.cookies[settings.SESSION_COOKIE_NAME].value
        token = httpx.post(f"{api.base}/api/widget/v1/session", json={"inbox": inbox.key},
                           trust_env=False).json()["token"]

        async def scenario():
            client = await WidgetClient(sockets.base, token).start()
            agent = Agent(api.base, agent_token)
            seen_by_agent = []
            async with connect(f"ws://127.0.0.1:{api.port}/ws/agent/", origin=api.base,
                               additional_headers={"Cookie": f"sessionid={cookie}"}) as inbox_ws:

                async def read_inbox():
                    async for raw in inbox_ws:
                        frame = json.loads(raw)
                        if frame["type"] == "message.new":
                            seen_by_agent.append(frame["data"]["body"])

                reader = asyncio.create_task(read_inbox())
                for n in range(1, 31):
                    await client.send(f"customer {n:02d}")
                    await wait_until(lambda: not client.outbox, 10, f"ack of customer {n}",
                                     sockets)
                    await agent.reply(client.ticket_id, f"agent {n:02d}")
                await wait_until(lambda: client.contiguous == 60, 15, "all 60 messages", sockets)
                await wait_until(lambda: len(seen_by_agent) == 60, 15, "the agent's 60", api)
                reader.cancel()
            await agent.http.aclose()
            await client.stop()
            return client, seen_by_agent

        client, seen_by_agent = asyncio.run(scenario())
    finally:
        for server in servers.values():
            server.stop()

    in_database = stored(client.ticket_id)
    assert [body for _, _, body in in_database] == [
        body for n in range(1, 31) for body in (f"customer {n:02d}", f"agent {n:02d}")]
    assert client.bodies() == in_database
    # Every reply reached the visitor live from the other process: no sync was needed.
    assert {client.arrived_by[seq] for seq in range(2, 61, 2)} == {"new"}
    # Each process's events come in its order; between the two processes, in any.
    assert [b for b in seen_by_agent if b.startswith("customer")] == [
        f"customer {n:02d}" for n in range(1, 31)]
    assert [b for b in seen_by_agent if b.startswith("agent")] == [
        f"agent {n:02d}" for n in range(1, 31)]
    assert (client.connections, client.errors, client.conflicts) == (1, [], [])


def test_redis_restarted_mid_stream_loses_nothing(postgres_only, private_redis, tmp_path):
    server = Daphne(tmp_path, redis_url=private_redis.url, **FAST_FRAMES)
    server.start()
    try:
        inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
        agent_token = Token.objects.create(user=AdminFactory()).key
        token = httpx.post(f"{server.base}/api/widget/v1/session", json={"inbox": inbox.key},
                           trust_env=False).json()["token"]
        client, acked_while_down, replied_while_down = asyncio.run(
            _redis_restart_scenario(server, private_redis, token, agent_token))
    finally:
        server.stop()

    in_database = stored(client.ticket_id)
    inbound = [body for _, _, body in in_database if body.startswith("customer")]
    outbound = [body for _, _, body in in_database if body.startswith("agent")]
    assert inbound == [f"customer {n:02d}" for n in range(1, 61)]
    assert outbound == [f"agent {n:02d}" for n in range(1, 31)] + ["agent after recovery"]
    assert [seq for seq, _, _ in in_database] == list(range(1, 92))
    assert client.bodies() == in_database
    # The database is the log: writes went on while the channel layer had no Redis.
    assert acked_while_down and replied_while_down
    # The new process-wide subscription works again: the last reply came live.
    assert client.arrived_by[91] == "new"
    assert client.connections == 1
    assert (client.errors, client.conflicts) == ([], [])


async def _redis_restart_scenario(server: Daphne, redis_server: RedisServer, token: str,
                                  agent_token: str):
    client = await WidgetClient(server.base, token).start()
    agent = Agent(server.base, agent_token)
    down: list[float] = []  # [killed at, restarted at]
    acked_at: dict[str, float] = {}
    replied_at: list[float] = []

    async def customer():
        for n in range(1, 61):
            client_id = await client.send(f"customer {n:02d}")
            await wait_until(lambda: not client.outbox, 15, f"ack of customer {n}", server)
            acked_at[client_id] = time.monotonic()
            await asyncio.sleep(0.02)

    async def replies():
        await wait_until(lambda: client.ticket_id, 10, "the ticket")
        for n in range(1, 31):
            await agent.reply(client.ticket_id, f"agent {n:02d}")
            replied_at.append(time.monotonic())
            await asyncio.sleep(0.04)

    async def outage():
        await wait_until(lambda: len(acked_at) >= 15, 15, "15 acks before the outage")
        down.append(time.monotonic())
        await asyncio.to_thread(redis_server.kill)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(redis_server.start)
        down.append(time.monotonic())

    await asyncio.gather(customer(), replies(), outage())
    # The channel layer reconnects on its own, its subscriber within about a second of
    # Redis coming back (a publish before that reaches no one: the database is the log).
    # Once Redis lists the process's subscriptions again, a reply comes live, and the
    # client notices any seq gap and syncs.
    with redis.Redis.from_url(redis_server.url) as probe:
        await wait_until(lambda: probe.pubsub_channels("*__group__contact.*"), 10,
                         "the process to subscribe again", server)
    await agent.reply(client.ticket_id, "agent after recovery")
    await wait_until(lambda: client.contiguous == 91, 20, "all 91 messages", server)
    await agent.http.aclose()
    await client.stop()
    killed, restarted = down
    return (client, [t for t in acked_at.values() if killed < t < restarted],
            [t for t in replied_at if killed < t < restarted])


def test_idle_socket_lives_on_and_a_silent_one_is_closed_at_the_hello_timeout(daphne, world):
    """Both timers of a quiet socket, in one 12 s wait. The idle socket catches the redis-py 8
    default socket timeout (5 s), which used to drop idle consumers (STACK-NOTES). The hello
    timeout (10 s) is a constant of chat.protocol, not a setting, so it is waited for real."""
    _, agent_token, token = world

    async def silent_socket() -> tuple[int, float]:
        started = time.monotonic()
        async with connect(daphne.base.replace("http", "ws", 1) + "/ws/widget/", proxy=None,
                           ping_interval=None) as ws:
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            return ws.close_code, time.monotonic() - started

    async def scenario():
        client = await WidgetClient(daphne.base, token).start()
        await client.send("one question, then silence")
        await wait_until(lambda: not client.outbox, 10, "the ack", daphne)
        silent = asyncio.create_task(silent_socket())
        await asyncio.sleep(12)
        agent = Agent(daphne.base, agent_token)
        await agent.reply(client.ticket_id, "still there?")
        await wait_until(lambda: 2 in client.timeline, 5,
                         "the reply on the idle socket", daphne)
        await agent.http.aclose()
        await client.stop()
        return client, await silent

    client, (close_code, closed_after) = asyncio.run(scenario())

    assert client.arrived_by[2] == "new" and client.timeline[2]["body"] == "still there?"
    assert client.connections == 1
    assert close_code == 4401
    assert 9.5 < closed_after < 11.5
