"""Chat delivery latency and throughput through daphne + channels-redis, against a bare relay.

    .venv/bin/python bench/chat_latency.py

Serves the product (`config.asgi:application`: the real WidgetConsumer, AgentConsumer,
services and PostgreSQL writes) and a bare Channels relay (`bench/relay_asgi.py`: no database)
with one daphne process each, on the same Redis layer, and measures both in the same run:

- customer→agent: a visitor sends `message.send` on /ws/widget/; timed until the agent's
  /ws/agent/ socket (session cookie, allowed Origin) receives `message.new`;
- agent→customer: the agent posts a reply to the REST API (the relay: `POST /relay/<id>`);
  timed until the visitor's socket receives `message.new`;

at 1 and at 200 concurrent conversations, each sending at a fixed aggregate rate (`--rate`),
with the two servers taking turns so that a noisy spell on the shared machine hits both.
Then the saturated throughput of each (every conversation sends as soon as its last message
is acked), once per channel layer (`--layers`: RedisPubSubChannelLayer, the product's, and
RedisChannelLayer). Last, one fresh daphne process holds `--idle` idle widget sockets after
hello for longer than redis-py's old 5 s socket timeout: how many survive, and RSS per socket.

Uses its own PostgreSQL database, `switchboard_bench_chat` (created and migrated when
missing, emptied at each run), and its own redis-server on a free port (Redis pub/sub
channels are shared across database numbers: a shared Redis would mix the benchmark's events
with those of anything else using it).
"""

import argparse
import asyncio
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import psycopg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.protocol import State

from common import (OUT_DIR, ROOT, DaphneProcess, database_create, free_port,
                    percentile, wait_for_port)

DATABASE = "switchboard_bench_chat"
APP, RELAY = "app", "relay"
ASGI = {APP: "config.asgi:application", RELAY: "bench.relay_asgi:application"}
IDLE_PROBES = 20  # idle visitors with a conversation, who must still get a reply live
IDLE_SECONDS = 12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", default="1,200",
                        help="Comma-separated numbers of concurrent conversations.")
    parser.add_argument("--layers", default="pubsub,core",
                        help="Channel layers to compare: pubsub (the product's), core.")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="Messages per second over all conversations and both "
                             "directions, while measuring latency.")
    parser.add_argument("--samples", type=int, default=300,
                        help="Latency samples per direction, server and size, per turn "
                             "(0: skip latency).")
    parser.add_argument("--turns", type=int, default=2,
                        help="Turns the product and the relay take at each size.")
    parser.add_argument("--agent-connections", type=int, default=16,
                        help="HTTP connections the agents' replies share (their browsers).")
    parser.add_argument("--saturate", type=float, default=10.0,
                        help="Seconds of saturated sending for throughput (0: skip).")
    parser.add_argument("--idle", type=int, default=5000,
                        help="Idle widget sockets held by one process (0: skip).")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL, without database name.")
    parser.add_argument("--redis", default="",
                        help="Use this Redis instead of starting a private redis-server.")
    parser.add_argument("--db-pool-max", default="10",
                        help="DB_POOL_MAX of the product process (the product's default, 10: a "
                             "psycopg pool per process); 0 opens a connection per request.")
    parser.add_argument("--conn-max-age", default="0",
                        help="CONN_MAX_AGE of the product process, with --db-pool-max 0 only. "
                             "60 keeps a PostgreSQL connection open per REST request under "
                             "daphne until the server refuses more (see RESULTS.md).")
    parser.add_argument("--api-process", action="store_true",
                        help="Serve the product's REST API (the agents' replies) from a "
                             "second daphne process, the websockets from the first.")
    parser.add_argument("--settings", default="bench.chat_settings",
                        help="Settings module of the product process (to try a change).")
    parser.add_argument("--profile", action="store_true",
                        help="Record the product's saturated run with py-spy (must be on "
                             "PATH) into bench/out/.")
    args = parser.parse_args()
    sizes = [int(n) for n in args.conversations.split(",")]
    layers = [layer for layer in args.layers.split(",") if layer]
    OUT_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    database_url = f"{args.server}/{DATABASE}"
    database_prepare(args.server, database_url)
    redis = RedisServer(args.redis)
    try:
        django_setup(database_url)
        results = {"sizes": sizes, "rate": args.rate, "settings": args.settings,
                   "conn_max_age": args.conn_max_age, "db_pool_max": args.db_pool_max,
                   "layers": {}, "machine": machine()}
        for layer in layers:
            try:
                results["layers"][layer] = measure_layer(layer, sizes, redis.url,
                                                         database_url, args, stamp)
            except Exception as error:  # keep what the other layers measured
                results["layers"][layer] = {"error": f"{type(error).__name__}: {error}"}
            save(results, stamp)
        if args.idle:
            results["idle"] = idle_sockets(args.idle, redis.url, database_url, args)
    finally:
        redis.stop()
    results["machine"]["load_average_at_end"] = os.getloadavg()
    save(results, stamp)
    print(report(results))


def save(results: dict, stamp: str) -> None:
    (OUT_DIR / f"chat_latency-{stamp}.json").write_text(json.dumps(results, indent=2))


# --- processes --------------------------------------------------------------------------

class RedisServer:
    def __init__(self, url: str):
        self.process = None
        if url:
            self.url = url
            return
        if shutil.which("redis-server") is None:
            sys.exit("redis-server not found: install it or pass --redis URL")
        port = free_port()
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=subprocess.DEVNULL)
        wait_for_port(port, self.process)

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait()


class Daphne(DaphneProcess):
    """One daphne process serving the product or the relay."""

    def __init__(self, server: str, layer: str, redis_url: str, database_url: str, args):
        self.server = server
        env = {**os.environ, "REDIS_URL": redis_url, "BENCH_CHANNEL_LAYER": layer,
               "LOG_LEVEL": "WARNING",
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                          os.environ.get("PYTHONPATH")]))}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        if server == APP:
            # The scripted visitors send faster than people type: no frame rate limit.
            env |= {"DJANGO_SETTINGS_MODULE": args.settings, "DEBUG": "0",
                    "CONN_MAX_AGE": args.conn_max_age, "DB_POOL_MAX": args.db_pool_max,
                    "DATABASE_URL": database_url, "WIDGET_FRAMES_PER_SECOND": "100000",
                    "WIDGET_FRAME_BURST": "100000"}
        super().__init__(ASGI[server], env, OUT_DIR / f"daphne-{server}-{layer}.log",
                         "--websocket_timeout", "-1")
        self.api = self  # the process serving the REST API (--api-process: another)


# --- database and fixtures ----------------------------------------------------------------

def manage(url: str, *command: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.dev",
           "REDIS_URL": ""}
    subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)


def database_prepare(server: str, url: str) -> None:
    """Create and migrate the benchmark's database if needed, and empty it."""
    database_create(server, urlsplit(url).path.lstrip("/"))
    manage(url, "migrate", "--verbosity", "0")
    manage(url, "flush", "--no-input", "--verbosity", "0")


def django_setup(url: str) -> None:
    """This process writes fixtures only: Django on the benchmark database, no Redis."""
    os.environ.update({"DJANGO_SETTINGS_MODULE": "config.settings.dev", "DATABASE_URL": url,
                       "REDIS_URL": "", "DEBUG": "0"})
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def fixtures(visitors: int) -> dict:
    """A fresh widget inbox, an admin agent (API token and session cookie) and `visitors`
    widget sessions (bulk-created: a contact, its visitor identity and a bearer token)."""
    from django.db import connections
    from django.test import Client
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from chat.models import SESSION_LIFETIME, WidgetSession, token_digest
    from inbox.models import Agent, Contact, ContactIdentity, Inbox

    inbox = Inbox.objects.create(kind=Inbox.Kind.WIDGET, name="Bench",
                                 slug=f"bench-{uuid.uuid4().hex[:8]}")
    admin, _ = Agent.objects.get_or_create(
        username="bench-admin",
        defaults={"role": Agent.Role.ADMIN, "is_staff": True, "email": "bench@example.com"})
    browser = Client()
    browser.force_login(admin)
    contacts = Contact.objects.bulk_create(Contact(name=f"Visitor {i}") for i in range(visitors))
    visitor_ids = [uuid.uuid4().hex for _ in contacts]
    ContactIdentity.objects.bulk_create(
        ContactIdentity(contact=c, kind=ContactIdentity.Kind.VISITOR, value=v)
        for c, v in zip(contacts, visitor_ids))
    tokens = [WidgetSession.new_token() for _ in contacts]
    expires = timezone.now() + SESSION_LIFETIME
    WidgetSession.objects.bulk_create(
        WidgetSession(inbox=inbox, contact=c, visitor_id=v, token_hash=token_digest(t),
                      expires_at=expires)
        for c, v, t in zip(contacts, visitor_ids, tokens))
    world = {"agent_token": Token.objects.get_or_create(user=admin)[0].key,
             "cookie": browser.cookies["sessionid"].value, "tokens": tokens}
    connections.close_all()  # hold no connection while measuring
    return world


class PeakConnections:
    """The most connections to the benchmark's database seen while the block runs."""

    def __init__(self, database_url: str):
        self.url, self.peak = database_url, 0
        self.name = urlsplit(database_url).path.lstrip("/")
        self._stop = threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _watch(self):
        with psycopg.connect(self.url, autocommit=True) as db:
            while not self._stop.wait(0.2):
                count = db.execute("SELECT count(*) - 1 FROM pg_stat_activity "
                                   "WHERE datname = %s", [self.name]).fetchone()[0]
                self.peak = max(self.peak, count)


def statistics_refresh(database_url: str) -> None:
    """ANALYZE the benchmark's database. Its tables were emptied and refilled moments ago,
    faster than autovacuum notices: on stale statistics PostgreSQL looks a client_id up
    through the inbox's index (every message of the inbox) instead of the unique one, a
    cost a database in use does not have."""
    with psycopg.connect(database_url, autocommit=True) as db:
        db.execute("ANALYZE")


def persisted_messages() -> int:
    from django.db import connections

    from inbox.models import Message

    count = Message.objects.count()
    connections.close_all()
    return count


# --- the client ---------------------------------------------------------------------------

class Conversations:
    """N visitors on /ws/widget/ and one agent on /ws/agent/, against one server."""

    def __init__(self, daphne: Daphne, world: dict, size: int, agent_connections: int):
        self.daphne, self.world, self.size = daphne, world, size
        self.agent_connections = min(size, agent_connections)
        self.ws_base = daphne.base.replace("http", "ws", 1)
        self.for_agent: dict[str, asyncio.Future] = {}  # body -> receipt time
        self.for_visitor: dict[str, asyncio.Future] = {}
        self.acks: dict[str, asyncio.Future] = {}  # client_id -> ack
        self.tickets: list[int | None] = [None] * size
        self.errors: list[str] = []  # failed agent replies (status and error code)

    async def __aenter__(self):
        relay = self.daphne.server == RELAY
        self.agent = await connect(
            f"{self.ws_base}/ws/agent/", proxy=None, compression=None, max_queue=None,
            origin=self.daphne.base,
            additional_headers={"Cookie": f"sessionid={self.world['cookie']}"})
        self.readers = [asyncio.create_task(self._read_agent())]
        limit = asyncio.Semaphore(50)

        async def visitor(i):
            async with limit:
                ws = await connect(f"{self.ws_base}/ws/widget/", proxy=None, compression=None,
                                   max_queue=None)
                await ws.send(json.dumps({"type": "hello",
                                          "token": str(i) if relay else self.world["tokens"][i]}))
                assert json.loads(await ws.recv())["type"] == "welcome"
                return ws

        self.visitors = await asyncio.gather(*(visitor(i) for i in range(self.size)))
        self.readers += [asyncio.create_task(self._read_visitor(ws)) for ws in self.visitors]
        headers = ({} if relay else {"Authorization": f"Token {self.world['agent_token']}"})
        self.http = httpx.AsyncClient(
            base_url=self.daphne.api.base, headers=headers, trust_env=False, timeout=60,
            limits=httpx.Limits(max_connections=self.agent_connections,
                                max_keepalive_connections=self.agent_connections))
        # A first message each, unmeasured: opens the tickets and warms every path.
        for i, ack in enumerate(await asyncio.gather(*(
                self.send(i, f"warm-up {i}") for i in range(self.size)))):
            self.tickets[i] = ack["message"].get("ticket_id")
        if not relay:
            await asyncio.to_thread(statistics_refresh, self.world["database_url"])
        return self

    async def __aexit__(self, *exc):
        for task in self.readers:
            task.cancel()
        await self.http.aclose()
        for ws in [self.agent, *self.visitors]:
            ws.transport.abort()

    async def _read_agent(self):
        try:
            await self._read_agent_frames()
        except ConnectionClosed:
            pass

    async def _read_agent_frames(self):
        async for raw in self.agent:
            received = time.perf_counter()
            frame = json.loads(raw)
            if frame["type"] == "message.new":
                future = self.for_agent.pop(frame["data"]["body"], None)
                if future:
                    future.set_result(received)

    async def _read_visitor(self, ws):
        try:
            await self._read_visitor_frames(ws)
        except ConnectionClosed:
            pass

    async def _read_visitor_frames(self, ws):
        async for raw in ws:
            received = time.perf_counter()
            frame = json.loads(raw)
            if frame["type"] == "message.ack":
                future = self.acks.pop(frame["client_id"], None)
                if future:
                    future.set_result(frame)
            elif frame["type"] == "message.new":
                future = self.for_visitor.pop(frame["message"]["body"], None)
                if future:
                    future.set_result(received)

    async def send(self, i: int, body: str) -> dict:
        """message.send from visitor i; returns the ack."""
        client_id = str(uuid.uuid4())
        self.acks[client_id] = asyncio.get_running_loop().create_future()
        await self.visitors[i].send(json.dumps({
            "type": "message.send", "client_id": client_id, "ticket_id": self.tickets[i],
            "body": body, "attachments": []}))
        return await asyncio.wait_for(self.acks[client_id], 60)

    async def customer_to_agent(self, i: int, body: str) -> float:
        arrived = self.for_agent[body] = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        await self.send(i, body)
        return await asyncio.wait_for(arrived, 60) - started

    async def agent_to_customer(self, i: int, body: str) -> float:
        arrived = self.for_visitor[body] = asyncio.get_running_loop().create_future()
        started = time.perf_counter()
        if self.daphne.server == RELAY:
            response = await self.http.post(f"/relay/{i}", json={"body": body})
        else:
            response = await self.http.post(f"/api/v1/tickets/{self.tickets[i]}/messages/",
                                            json={"type": "reply", "body": body})
        if response.status_code != 201:
            self.for_visitor.pop(body)
            self.errors.append(f"{response.status_code} {response.text[:120]}")
            return None
        return await asyncio.wait_for(arrived, 60) - started

    async def latency(self, samples: int, rate: float, seed: int) -> dict:
        """Each conversation alternates a customer message and an agent reply, pausing a
        random time between them so that all together send `rate` messages per second."""
        rounds = max(3, -(-samples // self.size))
        pause = self.size / rate  # mean pause per conversation between two messages
        # Each sample's latency, and when it was sent (seconds into the run).
        result = {"c2a": [], "a2c": [], "c2a_at": [], "a2c_at": []}
        began = time.perf_counter()

        async def conversation(i):
            rng = random.Random(seed * 100_003 + i)
            for n in range(rounds):
                await asyncio.sleep(rng.uniform(0, 2 * pause))
                sent = time.perf_counter() - began
                result["c2a"].append(await self.customer_to_agent(i, f"c2a {i} {n} {seed}"))
                result["c2a_at"].append(sent)
                await asyncio.sleep(rng.uniform(0, 2 * pause))
                sent = time.perf_counter() - began
                latency = await self.agent_to_customer(i, f"a2c {i} {n} {seed}")
                if latency is not None:
                    result["a2c"].append(latency)
                    result["a2c_at"].append(sent)

        await asyncio.gather(*(conversation(i) for i in range(self.size)))
        return result | {"errors": self.errors}

    async def saturate(self, seconds: float) -> dict:
        """Every visitor sends as soon as its previous message is acked."""
        deadline = time.perf_counter() + seconds
        acked, ack_times = [0], []

        async def visitor(i):
            n = 0
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                await self.send(i, f"load {i} {n}")
                ack_times.append(time.perf_counter() - started)
                acked[0], n = acked[0] + 1, n + 1

        started = time.perf_counter()
        await asyncio.gather(*(visitor(i) for i in range(self.size)))
        elapsed = time.perf_counter() - started
        return {"acked": acked[0], "seconds": elapsed, "per_second": acked[0] / elapsed,
                "ack_ms": summary(ack_times)}


# --- measurements -------------------------------------------------------------------------

def measure_layer(layer: str, sizes: list[int], redis_url: str, database_url: str, args,
                  stamp: str) -> dict:
    print(f"[{layer}] starting daphne: product and relay", flush=True)
    servers = {name: Daphne(name, layer, redis_url, database_url, args)
               for name in (RELAY, APP)}
    if args.api_process:
        servers[APP].api = Daphne(APP, layer, redis_url, database_url, args)
    try:
        world = fixtures(max(sizes)) | {"database_url": database_url}
        result = {"latency": {}, "throughput": {}}
        for size in sizes if args.samples else ():
            samples = {name: {"c2a": [], "a2c": [], "c2a_at": [], "a2c_at": [], "errors": []}
                       for name in servers}
            with PeakConnections(database_url) as connections:
                for turn in range(args.turns):
                    for name, daphne in servers.items():
                        print(f"[{layer}] {size} conversations, {name}, turn {turn + 1}",
                              flush=True)
                        measured = asyncio.run(_latency(daphne, world, size, args, seed=turn))
                        for key, values in measured.items():
                            samples[name][key] += values
            result["latency"][size] = {
                name: {"c2a": summary(found["c2a"]) | halves(found["c2a"], found["c2a_at"]),
                       "a2c": summary(found["a2c"]) | halves(found["a2c"], found["a2c_at"]),
                       "errors": found["errors"]}
                for name, found in samples.items()}
            result["latency"][size]["db_connections_peak"] = connections.peak
        if args.saturate:
            for name, daphne in servers.items():
                print(f"[{layer}] saturating {name} with {max(sizes)} conversations",
                      flush=True)
                before = persisted_messages()
                profiler = py_spy(daphne, args, f"{layer}-{stamp}") if name == APP else None
                with PeakConnections(database_url) as connections:
                    result["throughput"][name] = asyncio.run(
                        _saturate(daphne, world, max(sizes), args.saturate))
                if profiler:
                    profiler.wait()
                result["throughput"][name] |= {"persisted": persisted_messages() - before,
                                               "db_connections_peak": connections.peak}
        return result
    finally:
        for daphne in servers.values():
            daphne.stop()
            if daphne.api is not daphne:
                daphne.api.stop()


async def _latency(daphne: Daphne, world: dict, size: int, args, seed: int) -> dict:
    async with Conversations(daphne, world, size, args.agent_connections) as conversations:
        return await conversations.latency(args.samples, args.rate, seed)


async def _saturate(daphne: Daphne, world: dict, size: int, seconds: float) -> dict:
    async with Conversations(daphne, world, size, 1) as conversations:
        return await conversations.saturate(seconds)


def py_spy(daphne: Daphne, args, label: str) -> subprocess.Popen | None:
    if not args.profile:
        return None
    if shutil.which("py-spy") is None:
        sys.exit("--profile needs py-spy on PATH (pip install py-spy)")
    return subprocess.Popen(
        ["py-spy", "record", "--pid", str(daphne.process.pid), "--duration",
         str(int(args.saturate) + 5), "--format", "raw", "--output",
         str(OUT_DIR / f"chat_latency-profile-{label}.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def idle_sockets(count: int, redis_url: str, database_url: str, args) -> dict:
    """One fresh product process holds `count` idle widget sockets after hello."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if count + 100 > hard:
        sys.exit(f"--idle {count} needs more open files than this process may have ({hard})")
    print(f"[idle] opening {count} widget sockets", flush=True)
    daphne = Daphne(APP, "pubsub", redis_url, database_url, args)
    try:
        world = fixtures(count)
        return asyncio.run(_idle(daphne, world, count))
    finally:
        daphne.stop()


async def _idle(daphne: Daphne, world: dict, count: int) -> dict:
    url = daphne.base.replace("http", "ws", 1) + "/ws/widget/"
    async with httpx.AsyncClient(base_url=daphne.base, trust_env=False, timeout=30) as http:
        await http.get("/healthz")  # a warm process: Django loaded, a database connection
    baseline = daphne.rss_kb()
    limit = asyncio.Semaphore(50)
    welcomed, retries = {}, [0]

    async def open_socket():
        """Like a browser, try again when the handshake fails (daphne gives the app 5 s
        to accept; a busy process misses that)."""
        for attempt in range(5):
            try:
                return await connect(url, proxy=None, compression=None, ping_interval=None,
                                     open_timeout=60)
            except (OSError, WebSocketException):
                retries[0] += 1
                await asyncio.sleep(0.5 * 2 ** attempt)
        raise RuntimeError("a widget socket could not be opened in 5 attempts")

    async def visitor(i):
        async with limit:
            ws = await open_socket()
            await ws.send(json.dumps({"type": "hello", "token": world["tokens"][i]}))
            assert json.loads(await ws.recv())["type"] == "welcome"
            if i < IDLE_PROBES:  # these also start a conversation before going quiet
                await ws.send(json.dumps({"type": "message.send", "client_id": str(uuid.uuid4()),
                                          "ticket_id": None, "body": f"probe {i}"}))
                while (frame := json.loads(await ws.recv()))["type"] != "message.ack":
                    pass
                welcomed[i] = frame["message"]["ticket_id"]
            return ws

    started = time.perf_counter()
    sockets = await asyncio.gather(*(visitor(i) for i in range(count)))
    opened_in = time.perf_counter() - started
    await asyncio.sleep(2)
    loaded = daphne.rss_kb()
    await asyncio.sleep(IDLE_SECONDS)
    open_after_idle = sum(ws.state is State.OPEN for ws in sockets)
    replies = 0
    agent = {"Authorization": f"Token {world['agent_token']}"}
    async with httpx.AsyncClient(base_url=daphne.base, trust_env=False, timeout=30,
                                 headers=agent) as http:
        for i, ticket_id in welcomed.items():
            response = await http.post(f"/api/v1/tickets/{ticket_id}/messages/",
                                       json={"type": "reply", "body": f"still there {i}?"})
            assert response.status_code == 201, response.text
        for i in welcomed:
            try:
                while True:
                    frame = json.loads(await asyncio.wait_for(sockets[i].recv(), 5))
                    if frame["type"] == "message.new" and frame["message"]["body"].startswith(
                            "still there"):
                        replies += 1
                        break
            except (TimeoutError, asyncio.TimeoutError):
                pass
    for ws in sockets:
        ws.transport.abort()
    return {"sockets": count, "opened_per_second": count / opened_in,
            "handshake_retries": retries[0],
            "open_after_idle_s": IDLE_SECONDS + 2, "open_after_idle": open_after_idle,
            "probes": len(welcomed), "probe_replies_received": replies,
            "rss_baseline_mb": baseline / 1024, "rss_loaded_mb": loaded / 1024,
            "kb_per_socket": (loaded - baseline) / count}


# --- report ---------------------------------------------------------------------------

def summary(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p99_ms": percentile(ms, 99),
            "max_ms": max(ms)}


def halves(seconds: list[float], sent_at: list[float]) -> dict:
    """p99 of the samples sent in the first and in the second half of the run (by sending
    time): a backlog left by opening the conversations shows in the first."""
    ordered = [latency for _, latency in sorted(zip(sent_at, seconds))]
    middle = len(ordered) // 2
    return {"p99_ms_first_half": percentile([s * 1000 for s in ordered[:middle]], 99),
            "p99_ms_second_half": percentile([s * 1000 for s in ordered[middle:]], 99)}


def machine() -> dict:
    with psycopg.connect("postgres://postgres@127.0.0.1:5432/postgres") as db:
        postgres = db.execute("SHOW server_version").fetchone()[0]
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "postgres": postgres,
            "load_average_at_start": os.getloadavg()}


def report(results: dict) -> str:
    lines = [f"Rate while measuring latency: {results['rate']:g} messages/s over all "
             f"conversations and both directions. Product: {results['settings']}, "
             f"DB_POOL_MAX={results.get('db_pool_max', '0')}, "
             f"CONN_MAX_AGE={results['conn_max_age']}. {results['machine']['cpus']} CPUs "
             f"shared by client, daphne, Redis and PostgreSQL {results['machine']['postgres']}; "
             f"load average {results['machine']['load_average_at_start'][0]:.1f} at the start, "
             f"{results['machine']['load_average_at_end'][0]:.1f} at the end.", ""]
    header = ["layer", "conversations", "direction", "relay p50 / p99 ms",
              "product p50 / p99 ms", "p99 product ÷ relay",
              "product p99 ms, 1st / 2nd half", "samples", "errors",
              "DB connections (peak)"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for layer, measured in results["layers"].items():
        if "error" in measured:
            lines.append(f"| {layer} | failed: {measured['error']} |")
            continue
        for size, by_server in measured["latency"].items():
            for direction, label in (("c2a", "customer→agent"), ("a2c", "agent→customer")):
                relay, app = by_server[RELAY][direction], by_server[APP][direction]
                lines.append("| " + " | ".join([
                    layer, str(size), label,
                    f"{relay['p50_ms']:.1f} / {relay['p99_ms']:.1f}",
                    f"{app['p50_ms']:.1f} / {app['p99_ms']:.1f}",
                    f"{app['p99_ms'] / relay['p99_ms']:.1f}x",
                    f"{app['p99_ms_first_half']:.1f} / {app['p99_ms_second_half']:.1f}",
                    str(app["n"]),
                    str(len(by_server[APP]["errors"])) if direction == "a2c" else "",
                    str(by_server["db_connections_peak"]) if direction == "c2a" else ""]) + " |")
    lines += ["", "| layer | server | acked messages/s (saturated) | persisted | "
                  "ack p50 / p99 ms | DB connections (peak) |", "|---|---|---|---|---|---|"]
    for layer, measured in results["layers"].items():
        for name, figures in measured.get("throughput", {}).items():
            persisted = figures["persisted"] if name == APP else "-"
            lines.append(f"| {layer} | {name} | {figures['per_second']:.0f} | {persisted} | "
                         f"{figures['ack_ms']['p50_ms']:.1f} / {figures['ack_ms']['p99_ms']:.1f}"
                         f" | {figures['db_connections_peak']} |")
    if idle := results.get("idle"):
        lines += ["", f"Idle: {idle['sockets']} widget sockets opened (hello + welcome) at "
                      f"{idle['opened_per_second']:.0f}/s ({idle['handshake_retries']} "
                      f"handshakes retried); {idle['open_after_idle']} still open "
                      f"after {idle['open_after_idle_s']} s idle; "
                      f"{idle['probe_replies_received']}/{idle['probes']} idle visitors got an "
                      f"agent reply live; RSS {idle['rss_baseline_mb']:.0f} → "
                      f"{idle['rss_loaded_mb']:.0f} MB, {idle['kb_per_socket']:.1f} KB per socket."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
