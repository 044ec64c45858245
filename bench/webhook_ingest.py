"""Webhook ingest throughput and ack latency through a real server, against the raw-MIME
email endpoint and /healthz, in the same run.

    .venv/bin/python bench/webhook_ingest.py --requests 1000 --concurrency 8

One daphne process serves `config.asgi:application` (config.settings.dev, DEBUG off, no
REDIS_URL: the in-memory channel layer) on a fresh PostgreSQL database,
`switchboard_bench_hooks`, with a Telegram inbox, a WhatsApp inbox and an email inbox. This
process sends N distinct, valid requests per endpoint with httpx at a fixed concurrency:
Telegram updates (secret-token header), WhatsApp text messages (X-Hub-Signature-256 of the
body), raw MIME emails (`/hooks/email/<key>/raw`, token auth) and `GET /healthz`, the
baseline. The endpoints take turns over several rounds, so a noisy spell on the shared
machine hits all of them. Afterwards the database must hold exactly the messages sent, and
one pass of each ingest endpoint through Django's test client under cProfile says where
the time goes.
"""

import argparse
import asyncio
import cProfile
import hashlib
import hmac
import io
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from email.utils import format_datetime
from importlib import metadata
from pathlib import Path

import httpx
import psycopg

from common import OUT_DIR, ROOT, DaphneProcess, database_recreate, percentile

DATABASE = "switchboard_bench_hooks"
BASELINE, EMAIL = "healthz", "email_raw"
ENDPOINTS = (BASELINE, "telegram", "whatsapp", EMAIL)
TELEGRAM_SECRET = "bench-telegram-webhook-secret"
WHATSAPP_APP_SECRET = "bench-whatsapp-app-secret"
WHATSAPP_NUMBER_ID = "109876543210987"
SUPPORT_ADDRESS = "support@toko-bench.example"
EPOCH = 1767225600  # 2026-01-01: message dates, so runs are byte-for-byte the same

TEXTS = [
    "Halo kak, pesanan saya #{order} belum sampai. Sudah 5 hari sejak dikirim, bisa dicek?",
    "Terima kasih, paketnya sudah diterima dengan baik 🙏",
    "Bisa ganti alamat pengiriman ke Jl. Jend. Sudirman No. 45, Jakarta Selatan 12190?",
    "Apakah ada garansi? Layarnya bergaris setelah dua minggu dipakai.",
    "您好，我的订单 {order} 还没有发货，请问什么时候可以发？",
    "请问可以开发票吗？公司抬头是：上海星辰贸易有限公司，税号 91310000MA1FL0XXXX",
    "收到的颜色不对，我买的是黑色，寄来的是白色。可以换货吗？",
    "Hi, I was charged twice for order {order}. Could you refund one of the payments?",
    "The app logs me out since the last update (v3.2.1, Android 14). Any fix?",
    "Hello, is the 256 GB model back in stock?\nI'd like two, shipped to Surabaya.\nThanks!",
]
PEOPLE = [  # first, last, username, language
    ("Budi", "Santoso", "budisan", "id"), ("Siti", "Rahayu", "", "id"),
    ("伟", "王", "wangwei88", "zh-hans"), ("Putri", "Lestari", "putril", "id"),
    ("Mei", "Chen", "", "zh-hant"), ("Ahmad", "Fauzi", "afauzi", "id"),
    ("John", "Miller", "jmiller", "en"), ("芳", "李", "", "zh-hans"),
    ("Dewi", "Anggraini", "dewi_a", "id"), ("Rizky", "Pratama", "", "id"),
    ("Li", "Na", "lina_sh", "zh-hans"), ("Sarah", "Tan", "", "en"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000,
                        help="Measured requests per endpoint.")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="Requests in flight at once (httpx connections).")
    parser.add_argument("--rounds", type=int, default=4,
                        help="Turns each endpoint takes; each turn sends requests/rounds.")
    parser.add_argument("--warmup", type=int, default=20,
                        help="Unrecorded requests per endpoint before the first round "
                             "(they are stored too, and counted as such).")
    parser.add_argument("--users", type=int, default=12,
                        help="Distinct senders per channel: later messages of a sender go "
                             "to their open ticket.")
    parser.add_argument("--profile-requests", type=int, default=200,
                        help="Requests per ingest endpoint sent through Django's test client "
                             "under cProfile after the run (0: skip).")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL, without database name.")
    parser.add_argument("--conn-max-age", default="0",
                        help="CONN_MAX_AGE of the server. With the product's 60, daphne "
                             "leaves a connection open per request (see chat_latency).")
    args = parser.parse_args()
    OUT_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    database_url = f"{args.server}/{DATABASE}"
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-hooks-") as var_dir:
        env = environment(database_url, var_dir, args.conn_max_age)
        database_recreate(args.server, DATABASE)
        subprocess.run([sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT,
                       env=env, check=True, stdout=subprocess.DEVNULL)
        world = django_setup_and_fixtures(env)
        total = args.warmup + args.requests
        specs = {kind: [request_spec(kind, i, world, args.users) for i in range(total)]
                 for kind in ENDPOINTS}
        daphne = daphne_start(env)
        try:
            measured = asyncio.run(run_load(daphne, specs, args))
        finally:
            daphne.stop()
        stored = stored_counts(world)
        profile = (profile_endpoints(world, args, start=total, stamp=stamp)
                   if args.profile_requests else None)
    results = {
        "command": " ".join(["bench/webhook_ingest.py", *sys.argv[1:]]),
        "requests": args.requests, "warmup": args.warmup, "concurrency": args.concurrency,
        "rounds": args.rounds, "users": args.users,
        "server": {"process": "daphne " + metadata.version("daphne"),
                   "settings": "config.settings.dev",
                   "debug": False, "channel_layer": "InMemoryChannelLayer (no REDIS_URL)",
                   "conn_max_age": args.conn_max_age},
        "machine": machine(args.server, load_start),
        "endpoints": measured, "ratios": ratios(measured), "stored": stored,
        "payload_bytes": {k: statistics.mean(len(s["body"] or b"") for s in v)
                          for k, v in specs.items()},
        "profile": profile,
    }
    (OUT_DIR / f"webhook_ingest-{stamp}.json").write_text(json.dumps(results, indent=2))
    print(report(results))


# --- processes and fixtures ----------------------------------------------------------------

def environment(database_url: str, var_dir: str, conn_max_age: str) -> dict:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.dev", "DEBUG": "0",
           "DATABASE_URL": database_url, "REDIS_URL": "", "SWITCHBOARD_VAR_DIR": var_dir,
           "CONN_MAX_AGE": conn_max_age, "LOG_LEVEL": "WARNING",
           "ALLOWED_HOSTS": "127.0.0.1,testserver",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("MEDIA_ROOT", None)  # media (raw payloads) under the temporary var dir
    return env


def django_setup_and_fixtures(env: dict) -> dict:
    """Django in this process, on the server's settings: the three inboxes, an admin agent
    with an API token. This process then only reads the database, outside the load."""
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connections
    from rest_framework.authtoken.models import Token

    from inbox.models import Agent, Inbox

    telegram = Inbox(kind=Inbox.Kind.TELEGRAM, name="Telegram", slug="telegram")
    telegram.secrets_update({"bot_token": "123456:bench-bot-token",
                             "webhook_secret": TELEGRAM_SECRET})
    whatsapp = Inbox(kind=Inbox.Kind.WHATSAPP, name="WhatsApp", slug="whatsapp",
                     config={"phone_number_id": WHATSAPP_NUMBER_ID})
    whatsapp.secrets_update({"app_secret": WHATSAPP_APP_SECRET, "access_token": "EAAG-bench",
                             "verify_token": "bench-verify"})
    email = Inbox(kind=Inbox.Kind.EMAIL, name="Email", slug="email",
                  config={"address": SUPPORT_ADDRESS})
    for inbox in (telegram, whatsapp, email):
        inbox.save()
    admin = Agent.objects.create(username="bench-admin", role=Agent.Role.ADMIN,
                                 email="bench-admin@example.com")
    world = {"inbox_ids": {"telegram": telegram.pk, "whatsapp": whatsapp.pk, EMAIL: email.pk},
             "keys": {"telegram": telegram.key, "whatsapp": whatsapp.key, EMAIL: email.key},
             "token": Token.objects.create(user=admin).key}
    connections.close_all()
    return world


def daphne_start(env: dict) -> DaphneProcess:
    return DaphneProcess("config.asgi:application", env,
                         OUT_DIR / "webhook_ingest-daphne.log", timeout=60)


# --- requests -----------------------------------------------------------------------------

def request_spec(kind: str, i: int, world: dict, users: int) -> dict:
    """The i-th request of an endpoint: method, path, headers, body (all distinct)."""
    rng = random.Random(f"{kind}-{i}")
    text = rng.choice(TEXTS).format(order=f"INV/2026/{100000 + i}")
    if kind == BASELINE:
        return {"method": "GET", "path": "/healthz", "headers": {}, "body": None,
                "expect": 200}
    user = rng.randrange(users)
    if kind == "telegram":
        first, last, username, language = PEOPLE[user % len(PEOPLE)]
        sender = {"id": 700_000_000 + user, "is_bot": False, "first_name": first,
                  "last_name": last, "language_code": language}
        if username:
            sender["username"] = username
        body = json.dumps({"update_id": 500_000_000 + i, "message": {
            "message_id": 1000 + i, "date": EPOCH + i, "text": text, "from": sender,
            "chat": {"id": sender["id"], "type": "private", "first_name": first}},
        }, ensure_ascii=False).encode()
        headers = {"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
        return {"method": "POST", "path": f"/hooks/telegram/{world['keys']['telegram']}/",
                "headers": {**headers, "Content-Type": "application/json"}, "body": body,
                "expect": 200}
    if kind == "whatsapp":
        first, last, _, language = PEOPLE[user % len(PEOPLE)]
        wa_id = ("86139" if language.startswith("zh") else "62812") + f"{4_000_000 + user}"
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{
            "id": "1234567890987654", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "6221555000",
                             "phone_number_id": WHATSAPP_NUMBER_ID},
                "contacts": [{"profile": {"name": f"{first} {last}"}, "wa_id": wa_id}],
                "messages": [{"from": wa_id, "id": f"wamid.HBgN{wa_id}FQIAEhgg{i:024X}",
                              "timestamp": str(EPOCH + i), "type": "text",
                              "text": {"body": text}}],
            }}]}]}, ensure_ascii=False).encode()
        signature = "sha256=" + hmac.new(WHATSAPP_APP_SECRET.encode(), body,
                                         hashlib.sha256).hexdigest()
        return {"method": "POST", "path": f"/hooks/whatsapp/{world['keys']['whatsapp']}/",
                "headers": {"X-Hub-Signature-256": signature,
                            "Content-Type": "application/json"}, "body": body, "expect": 200}
    user = i % users  # the sender of the message every fourth email answers
    return {"method": "POST", "path": f"/hooks/email/{world['keys'][EMAIL]}/raw",
            "headers": {"Authorization": f"Token {world['token']}",
                        "Content-Type": "message/rfc822"},
            "body": email_raw(i, user, users, text), "expect": 201}


def email_message_id(i: int) -> str:
    return f"<CAK{i:08d}.bench@mail.gmail.com>"


def email_raw(i: int, user: int, users: int, text: str) -> bytes:
    """A 2–4 KB message as a webmail sends it (Received, DKIM, text + HTML); every fourth
    one answers an earlier message of the same sender (In-Reply-To, References, "Re:")."""
    first, last, _, language = PEOPLE[user % len(PEOPLE)]
    domain = "163.com" if language.startswith("zh") else "gmail.com"
    address = f"{first.lower() if first.isascii() else 'user'}.{user}@{domain}"
    subject = f"Pesanan INV/2026/{100000 + i}" if language == "id" else f"Order {100000 + i}"
    at = datetime.fromtimestamp(EPOCH + i, tz=UTC)
    message = EmailMessage(policy=default_policy)
    for hop in ("mx.toko-bench.example", "mail-sor-f41.google.com"):
        message["Received"] = (f"from {hop} ([209.85.220.41]) by smtp.toko-bench.example "
                               f"with ESMTPS id {i:x}{hop[:3]}; {format_datetime(at)}")
    message["DKIM-Signature"] = (
        f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=20230601; t={EPOCH + i}; "
        "h=to:subject:message-id:date:from:mime-version:from:to:cc:subject:date:message-id; "
        "bh=" + hashlib.sha256(text.encode()).hexdigest()[:43] + "=; b="
        + hashlib.sha512(str(i).encode()).hexdigest() * 2)
    message["From"] = f"{first} {last} <{address}>"
    message["To"] = SUPPORT_ADDRESS
    message["Date"] = format_datetime(at)
    message["Message-ID"] = email_message_id(i)
    parent = i - 4 * users
    if i % 4 == 3 and parent >= 0:
        message["In-Reply-To"] = email_message_id(parent)
        message["References"] = email_message_id(parent)
        subject = "Re: " + subject
    message["Subject"] = subject
    message["MIME-Version"] = "1.0"
    quoted = "\n".join(f"> {line}" for line in (TEXTS[i % len(TEXTS)] * 3).split(". "))
    plain = (f"{text}\n\nSalam / Regards,\n{first} {last}\n+62 812-{user:04d}-{i % 10000:04d}"
             f"\n\nOn {format_datetime(at)} Support <{SUPPORT_ADDRESS}> wrote:\n{quoted}\n")
    message.set_content(plain)
    message.add_alternative(
        "<div dir=\"ltr\">" + "".join(f"<div>{line}</div>" for line in plain.splitlines())
        + "</div>", subtype="html")
    message.set_boundary(f"000000000000{i:016x}")
    return message.as_bytes()


# --- load ---------------------------------------------------------------------------------

async def run_load(daphne: DaphneProcess, specs: dict, args) -> dict:
    limits = httpx.Limits(max_connections=args.concurrency,
                          max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(base_url=daphne.base, trust_env=False, timeout=60,
                                 limits=limits) as client:
        for kind in ENDPOINTS:
            print(f"warm-up: {kind}", flush=True)
            await send_all(client, specs[kind][:args.warmup], args.concurrency)
        chunks = {kind: split(specs[kind][args.warmup:], args.rounds) for kind in ENDPOINTS}
        turns = {kind: [] for kind in ENDPOINTS}
        for round_number in range(args.rounds):
            order = ENDPOINTS[round_number % len(ENDPOINTS):] + \
                ENDPOINTS[:round_number % len(ENDPOINTS)]
            for kind in order:
                busy_before, cpu_before = machine_busy(), daphne.cpu_seconds()
                client_before = time.process_time()
                started = time.perf_counter()
                samples = await send_all(client, chunks[kind][round_number], args.concurrency)
                wall = time.perf_counter() - started
                turns[kind].append({
                    "wall_s": wall, "samples": samples,
                    "daphne_cpu_s": daphne.cpu_seconds() - cpu_before,
                    "client_cpu_s": time.process_time() - client_before,
                    "machine_busy": machine_busy(busy_before), "loadavg": os.getloadavg()[0]})
                print(f"round {round_number + 1}/{args.rounds} {kind}: "
                      f"{len(samples) / wall:.0f} req/s", flush=True)
    return {kind: summarize(turns[kind]) for kind in ENDPOINTS}


def split(items: list, parts: int) -> list[list]:
    size, extra = divmod(len(items), parts)
    bounds = [i * size + min(i, extra) for i in range(parts + 1)]
    return [items[bounds[i]:bounds[i + 1]] for i in range(parts)]


async def send_all(client: httpx.AsyncClient, specs: list[dict], concurrency: int) -> list:
    """Send `specs` with `concurrency` requests in flight; (seconds, error or None) each."""
    queue = iter(specs)
    samples = []

    async def worker():
        for spec in queue:
            started = time.perf_counter()
            try:
                response = await client.request(spec["method"], spec["path"],
                                                 headers=spec["headers"], content=spec["body"])
                error = (None if response.status_code == spec["expect"]
                         else f"{response.status_code} {response.text[:200]}")
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            samples.append((time.perf_counter() - started, error))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return samples


def machine_busy(before: tuple[int, int] | None = None):
    """/proc/stat counters (busy, total); with `before`, the busy share since then."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    total, idle = sum(values[:8]), values[3] + values[4]
    if before is None:
        return total - idle, total
    return (total - idle - before[0]) / max(total - before[1], 1)


def summarize(turns: list[dict]) -> dict:
    samples = [sample for turn in turns for sample in turn["samples"]]
    ms = [seconds * 1000 for seconds, _ in samples]
    errors = [error for _, error in samples if error]
    wall = sum(turn["wall_s"] for turn in turns)
    return {
        "n": len(samples), "wall_s": wall, "rps": len(samples) / wall,
        "rps_per_round": [len(t["samples"]) / t["wall_s"] for t in turns],
        "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99), "max_ms": max(ms),
        "errors": len(errors), "error_examples": sorted(set(errors))[:5],
        "daphne_cpu_ms_per_request": 1000 * sum(t["daphne_cpu_s"] for t in turns) / len(samples),
        "client_cpu_ms_per_request": 1000 * sum(t["client_cpu_s"] for t in turns) / len(samples),
        "machine_busy": statistics.mean(t["machine_busy"] for t in turns),
        "loadavg_per_round": [t["loadavg"] for t in turns],
    }


def ratios(measured: dict) -> dict:
    return {kind: {
        f"{what}_vs_{against}": measured[kind][what] / measured[against][what]
        for what in ("rps", "p99_ms") for against in (BASELINE, EMAIL)
    } for kind in ENDPOINTS}


# --- after the load: correctness and profile ----------------------------------------------

def stored_counts(world: dict) -> dict:
    """Inbound messages, distinct external ids and tickets per inbox; quarantined emails."""
    from django.db import connections
    from django.db.models import Count

    from inbox.channels.email.models import QuarantinedEmail
    from inbox.models import Message, Ticket

    counts = {}
    for kind, inbox_id in world["inbox_ids"].items():
        inbound = Message.objects.filter(inbox_id=inbox_id, direction=Message.Direction.INBOUND)
        counts[kind] = {
            **inbound.aggregate(messages=Count("id"),
                                external_ids=Count("external_id", distinct=True)),
            "tickets": Ticket.objects.filter(inbox_id=inbox_id).count(),
            "all_messages": Message.objects.filter(inbox_id=inbox_id).count(),
        }
    counts["quarantined_emails"] = QuarantinedEmail.objects.count()
    connections.close_all()
    return counts


def profile_endpoints(world: dict, args, *, start: int, stamp: str) -> dict:
    """`--profile-requests` fresh requests per ingest endpoint through Django's test client
    (the same settings and database, no server): SQL queries per request, then cProfile."""
    from django.db import close_old_connections, connection, connections, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client, summary, text = Client(), {}, io.StringIO()
    for kind in ("telegram", "whatsapp", EMAIL):
        specs = [request_spec(kind, start + i, world, args.users)
                 for i in range(args.profile_requests + 10)]

        def send(spec):
            headers = {f"HTTP_{k.upper().replace('-', '_')}": v
                       for k, v in spec["headers"].items() if k != "Content-Type"}
            response = client.post(spec["path"], data=spec["body"],
                                   content_type=spec["headers"]["Content-Type"], **headers)
            assert response.status_code == spec["expect"], (kind, response.status_code)
            # The test client keeps the connection a server would close (CONN_MAX_AGE=0).
            close_old_connections()

        queries = []
        for spec in specs[:10]:
            reset_queries()  # as each request does on start, so the capture lines up
            with CaptureQueriesContext(connection) as captured:
                send(spec)
            queries.append(captured.captured_queries)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for spec in specs[10:]:
            send(spec)
        profiler.disable()
        wall = time.perf_counter() - started
        stats = pstats.Stats(profiler)
        summary[kind] = {"ms_per_request_profiled": 1000 * wall / args.profile_requests,
                         "queries_per_request": sum(map(len, queries)) / 10,
                         "shares": cost_shares(stats)}
        text.write(f"\n===== {kind}: {args.profile_requests} requests, {wall:.2f} s under "
                   f"cProfile; {summary[kind]['queries_per_request']:g} queries/request\n")
        text.write("SQL of the 10th request:\n")
        text.write("".join(f"-- {q['sql'][:300]}\n" for q in queries[-1]))
        for order in ("cumulative", "tottime"):
            stats.stream = text
            stats.sort_stats(order).print_stats(30)
    path = OUT_DIR / f"webhook_ingest-profile-{stamp}.txt"
    path.write_text(text.getvalue())
    connections.close_all()
    return {"file": str(path.relative_to(ROOT)), "endpoints": summary}


# (file suffix, function) whose cumulative time is reported as a share of the request.
COST_CENTRES = {
    "connect to PostgreSQL": ("django/db/backends/base/base.py", "connect"),
    "wait for PostgreSQL": ("psycopg/connection.py", "wait"),
    "message_ingest": ("inbox/services/ingest.py", "message_ingest"),
    "email_parse": ("inbox/channels/email/parse.py", "email_parse"),
    "token auth": ("rest_framework/authentication.py", "authenticate_credentials"),
    "publish live events": ("inbox/realtime.py", "_send"),
    "write raw payload file": ("django/core/files/storage/base.py", "save"),
    "decrypt inbox secrets": ("inbox/crypto.py", "secrets_decrypt"),
}


def cost_shares(stats: pstats.Stats) -> dict:
    total = stats.total_tt
    shares = {}
    for label, (suffix, name) in COST_CENTRES.items():
        cumulative = sum(entry[3] for (file, _, func), entry in stats.stats.items()
                         if file.endswith(suffix) and func == name)
        if cumulative:
            shares[label] = cumulative / total
    return shares


# --- report -------------------------------------------------------------------------------

def machine(server: str, load_start: tuple) -> dict:
    with psycopg.connect(f"{server}/postgres") as db:
        postgres = db.execute("SHOW server_version").fetchone()[0]
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0], "postgres": postgres,
            "loadavg_start": load_start, "loadavg_end": os.getloadavg()}


def report(results: dict) -> str:
    m, server = results["machine"], results["server"]
    lines = [
        f"{results['requests']} requests per endpoint (+{results['warmup']} warm-up), "
        f"concurrency {results['concurrency']}, {results['rounds']} rounds; "
        f"{server['process']}, {server['settings']} DEBUG off, {server['channel_layer']}, "
        f"CONN_MAX_AGE={server['conn_max_age']}; {m['cpus']} CPUs, PostgreSQL {m['postgres']}, "
        f"Python {m['python']}; load average {m['loadavg_start'][0]:.1f} at the start, "
        f"{m['loadavg_end'][0]:.1f} at the end; all CPUs busy "
        f"{statistics.mean(e['machine_busy'] for e in results['endpoints'].values()):.0%} "
        "of the measured time (everything on the machine).", "",
        "| endpoint | req/s | ÷ healthz | ÷ email | p50 / p95 / p99 ms | p99 ÷ healthz | "
        "p99 ÷ email | errors | daphne CPU ms/req (÷ healthz) | client CPU ms/req | body bytes | "
        "stored (tickets) |",
        "|" + "---|" * 12,
    ]
    baseline_cpu = results["endpoints"][BASELINE]["daphne_cpu_ms_per_request"]
    for kind in ENDPOINTS:
        e, r = results["endpoints"][kind], results["ratios"][kind]
        cpu_ratio = e["daphne_cpu_ms_per_request"] / baseline_cpu
        stored = results["stored"].get(kind)
        expected = results["requests"] + results["warmup"]
        lines.append("| " + " | ".join([
            kind, f"{e['rps']:.0f}", f"{r['rps_vs_healthz']:.2f}x", f"{r['rps_vs_email_raw']:.2f}x",
            f"{e['p50_ms']:.1f} / {e['p95_ms']:.1f} / {e['p99_ms']:.1f}",
            f"{r['p99_ms_vs_healthz']:.2f}x", f"{r['p99_ms_vs_email_raw']:.2f}x",
            str(e["errors"]), f"{e['daphne_cpu_ms_per_request']:.1f} ({cpu_ratio:.1f}x)",
            f"{e['client_cpu_ms_per_request']:.1f}",
            f"{results['payload_bytes'][kind]:.0f}",
            "-" if stored is None else
            f"{stored['messages']}/{expected} ({stored['tickets']})",
        ]) + " |")
    for kind in ENDPOINTS:
        for example in results["endpoints"][kind]["error_examples"]:
            lines.append(f"error ({kind}): {example}")
    lines.append(f"\nQuarantined emails: {results['stored']['quarantined_emails']}.")
    correct = all(results["stored"][k]["messages"] == results["stored"][k]["external_ids"]
                  == results["requests"] + results["warmup"] for k in ENDPOINTS if k != BASELINE)
    lines.append("Stored messages match the requests sent: " + ("yes" if correct else "NO"))
    if results["profile"]:
        lines += ["", f"Test client under cProfile ({results['profile']['file']}):"]
        for kind, p in results["profile"]["endpoints"].items():
            shares = ", ".join(f"{label} {share:.0%}" for label, share in p["shares"].items())
            lines.append(f"- {kind}: {p['ms_per_request_profiled']:.1f} ms/request profiled, "
                         f"{p['queries_per_request']:g} queries/request; {shares}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
