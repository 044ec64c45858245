"""Ticket list API latency at several database sizes, on PostgreSQL.

    .venv/bin/python bench/ticket_list.py --sizes 10000,1000000

Each size gets its own database (switchboard_bench_10k, switchboard_bench_1m...), created,
migrated and filled with `seed_demo` when missing; a database already holding that many
tickets is reused. Each size is then measured in a fresh process (settings
config.settings.dev, DEBUG off, DATABASE_URL pointing at that database) that sends the
requests through Django's test client: server time, without network or client parsing.
The sizes take turns over several rounds, so a noisy spell on the machine hits all of them,
and baselines (/healthz, the inbox list) are measured in the same run: the growth of each
list request is read against the growth of requests that do not depend on size.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from urllib.parse import urlsplit

import psycopg

from common import OUT_DIR, ROOT, percentile, results_write, size_label
from common import measure_in_child as child_measure
SEED = 1  # the same seed at every size: the same first customers, names and texts
BASELINES = ("healthz", "inboxes")
# Sampled after the others: at 1M their scans push the other requests' pages out of
# PostgreSQL's buffers, which would bill the list requests for the search's cost.
SEARCHES = ("q_first_name", "q_full_name")
MIN_SAMPLES_PER_TURN = 5  # even for a request over its time budget
WARMUP_SECONDS_MAX = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000",
                        help="Comma-separated ticket counts; the first is the reference.")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL, without database name.")
    parser.add_argument("--iterations", type=int, default=200,
                        help="Samples per request and size, over all rounds.")
    parser.add_argument("--rounds", type=int, default=4,
                        help="Turns each size takes, each in a fresh process.")
    parser.add_argument("--warmup", type=int, default=20,
                        help="Unrecorded requests of each kind at the start of each turn "
                             f"(fewer for a slow one, after {WARMUP_SECONDS_MAX:.0f} s).")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="Seconds per request and size after which sampling stops "
                             f"(once it has {MIN_SAMPLES_PER_TURN} samples per round): "
                             "keeps slow requests bounded.")
    parser.add_argument("--explain", action="store_true",
                        help="Also write EXPLAIN ANALYZE of each list query to bench/out/.")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # child mode: a database URL
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args)))
        return
    urls = {}
    for size in (int(size) for size in args.sizes.split(",")):
        urls[size] = f"{args.server}/switchboard_bench_{size_label(size)}"
        database_prepare(args.server, urls[size], size)
    turns: dict[int, list[dict]] = defaultdict(list)
    for round_number in range(args.rounds):
        for size, url in urls.items():
            print(f"round {round_number + 1}/{args.rounds}: {size_label(size)}", flush=True)
            explain = args.explain and round_number == 0
            turns[size].append(measure_in_child(url, args, explain=explain))
    results = [merge_turns(turns[size]) for size in urls]
    results_write("ticket_list", results)
    print(report(results))


def manage(url: str, *command: str) -> None:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.dev"}
    subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)


def database_prepare(server: str, url: str, size: int) -> None:
    """Create, migrate and seed the database of one size, unless it is ready."""
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        tickets = _ticket_count(url) if exists else None
        if tickets is not None and tickets > size:
            admin.execute(f'DROP DATABASE "{name}"')
            exists, tickets = None, None
        if not exists:
            admin.execute(f'CREATE DATABASE "{name}"')
    manage(url, "migrate", "--verbosity", "0")
    missing = size - (tickets or 0)
    if missing:
        print(f"[{name}] seeding {missing:,} tickets...", flush=True)
        manage(url, "seed_demo", "--tickets", str(missing), "--seed", str(SEED))
        # The steady state of a live database, which autovacuum keeps: hint bits set and
        # the visibility map current, so the first measured reads do not write pages.
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM (ANALYZE)")
    else:
        print(f"[{name}] reusing {size:,} seeded tickets", flush=True)


def _ticket_count(url: str) -> int | None:
    with psycopg.connect(url) as connection:
        table = connection.execute("SELECT to_regclass('inbox_ticket')").fetchone()[0]
        if table is None:
            return None
        return connection.execute("SELECT count(*) FROM inbox_ticket").fetchone()[0]


def measure_in_child(url: str, args, *, explain: bool) -> dict:
    options = ["--iterations", str(math.ceil(args.iterations / args.rounds)),
               "--warmup", str(args.warmup), "--budget", str(args.budget / args.rounds)]
    if explain:
        options.append("--explain")
    return child_measure(__file__, url, *options)


def merge_turns(turns: list[dict]) -> dict:
    """One size's turns as one result: samples pooled, then percentiles."""
    result = {key: turns[-1][key] for key in ("tickets", "postgres", "q")}
    result["requests"] = {}
    for key, last in turns[-1]["requests"].items():
        samples = [ms for turn in turns for ms in turn["requests"][key]["samples_ms"]]
        result["requests"][key] = {
            "path": last["path"], "rows": last["rows"], "n": len(samples),
            "p50_ms": percentile(samples, 50), "p95_ms": percentile(samples, 95),
            "samples_ms": samples,
        }
    return result


# --- child process: Django set up against one bench database ---------------------------

def measure(args) -> dict:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from inbox.models import Agent, Contact, Inbox, Ticket

    admin = Agent.objects.get(username="admin")
    agent = Agent.objects.get(username="maria")  # a member of two inboxes
    headers = {
        who: {"HTTP_AUTHORIZATION": f"Token {Token.objects.get_or_create(user=user)[0].key}"}
        for who, user in (("admin", admin), ("agent", agent))
    }
    client = Client()
    whatsapp = Inbox.objects.get(slug="whatsapp")
    # The first seeded customer: the same person at every size (same seed).
    name = Contact.objects.order_by("id").values_list("name", flat=True).first()
    first_name = name.split()[0] if " " in name else name
    requests = {
        "healthz": ("admin", "/healthz"),
        "inboxes": ("admin", "/api/v1/inboxes/"),
        "admin_first_page": ("admin", "/api/v1/tickets/"),
        "agent_first_page": ("agent", "/api/v1/tickets/"),
        "status_open": ("admin", "/api/v1/tickets/?status=open"),
        "inbox_filter": ("admin", f"/api/v1/tickets/?inbox={whatsapp.pk}"),
        "label_filter": ("admin", "/api/v1/tickets/?label=refund"),
        "page_21": ("admin", deep_page(client, headers["admin"], pages=20)),
        "q_first_name": ("admin", f"/api/v1/tickets/?q={first_name}"),
        "q_full_name": ("admin", f"/api/v1/tickets/?q={name}"),
    }
    for who, path in requests.values():  # warm caches, connection and query plans
        warm_until = time.perf_counter() + WARMUP_SECONDS_MAX
        for _ in range(args.warmup):
            assert client.get(path, **headers[who]).status_code == 200, path
            if time.perf_counter() > warm_until:
                break
    samples: dict[str, list[float]] = {key: [] for key in requests}
    spent = dict.fromkeys(requests, 0.0)
    for group in ([key for key in requests if key not in SEARCHES], SEARCHES):
        for _ in range(args.iterations):
            for key in group:
                if spent[key] > args.budget and len(samples[key]) >= MIN_SAMPLES_PER_TURN:
                    continue
                who, path = requests[key]
                started = time.perf_counter()
                response = client.get(path, **headers[who])
                elapsed = time.perf_counter() - started
                assert response.status_code == 200, (path, response.status_code)
                samples[key].append(elapsed)
                spent[key] += elapsed
    rows = {key: len(client.get(path, **headers[who]).json().get("results", []))
            if key not in BASELINES else None for key, (who, path) in requests.items()}
    tickets = Ticket.objects.count()
    if args.explain:
        explain_list_queries(client, headers, requests, tickets)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
    return {
        "tickets": tickets,
        "postgres": server_version,
        "q": {"first_name": first_name, "full_name": name},
        "requests": {
            key: {"path": path, "rows": rows[key],
                  "samples_ms": [seconds * 1000 for seconds in samples[key]]}
            for key, (who, path) in requests.items()
        },
    }


def deep_page(client, headers: dict, *, pages: int) -> str:
    """The path of page `pages` + 1, reached by following `next` like a scrolling client."""
    path = "/api/v1/tickets/"
    for _ in range(pages):
        next_url = client.get(path, **headers).json()["next"]
        parts = urlsplit(next_url)
        path = f"{parts.path}?{parts.query}"
    return path


def explain_list_queries(client, headers: dict, requests: dict, tickets: int) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    lines = []
    for key, (who, path) in requests.items():
        if key in BASELINES:
            continue
        with CaptureQueriesContext(connection) as captured:
            client.get(path, **headers[who])
        sql = next(q["sql"] for q in captured.captured_queries
                   if 'FROM "inbox_ticket"' in q["sql"] and "LIMIT" in q["sql"])
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        lines += [f"## {key}: GET {path}", "", sql, "", plan, ""]
    OUT_DIR.mkdir(exist_ok=True)
    (OUT_DIR / f"plans-{size_label(tickets)}.txt").write_text("\n".join(lines))


# --- report ---------------------------------------------------------------------------

def report(results: list[dict]) -> str:
    first, last = results[0], results[-1]
    baseline_growth = statistics.mean(
        last["requests"][b]["p95_ms"] / first["requests"][b]["p95_ms"] for b in BASELINES
    )
    sizes = [size_label(r["tickets"]) for r in results]
    header = ["request", *[f"{s} p50 / p95 ms" for s in sizes],
              f"p50 {sizes[-1]}/{sizes[0]}", f"p95 {sizes[-1]}/{sizes[0]}",
              "p95 ÷ baseline growth", "rows", "samples"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in first["requests"]:
        cells = [f"{r['requests'][key]['p50_ms']:.1f} / {r['requests'][key]['p95_ms']:.1f}"
                 for r in results]
        median_growth = last["requests"][key]["p50_ms"] / first["requests"][key]["p50_ms"]
        growth = last["requests"][key]["p95_ms"] / first["requests"][key]["p95_ms"]
        lines.append("| " + " | ".join([
            key, *cells, f"{median_growth:.2f}x", f"{growth:.2f}x",
            f"{growth / baseline_growth:.2f}x",
            str(last["requests"][key]["rows"] if last["requests"][key]["rows"] is not None
                else "-"),
            " / ".join(str(r["requests"][key]["n"]) for r in results),
        ]) + " |")
    lines.append(f"\nBaseline p95 growth (mean of {', '.join(BASELINES)}): "
                 f"{baseline_growth:.2f}x. PostgreSQL {last['postgres']}. "
                 f"q: {json.dumps(last['q'], ensure_ascii=False)}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
