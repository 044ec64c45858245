"""Server time of the agent inbox's pages at several database sizes, on PostgreSQL.

    .venv/bin/python bench/inbox_pages.py --sizes 10000,1000000

Databases are prepared as bench/ticket_list.py does (created, migrated, `seed_demo` with
the same seed, reused when they already hold that many tickets), under names of their own
(`sb_desk_bench_10k`...). Each database also gets two tickets written for this benchmark,
one with 5 messages and one with 500, so the ticket page is measured at both lengths.

Each size is measured in a fresh process (config.settings.dev, DEBUG off) that sends the
requests through Django's test client with a signed-in session: URL routing, session and
auth middleware, the view, the queries and the template rendering; no network. Sizes take
turns over several rounds; /healthz and the profile page, which do not depend on the data,
are the baselines measured in the same run.
"""

import argparse
import json
import math
import statistics
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, percentile, results_write, size_label  # noqa: E402
from common import measure_in_child as child_measure  # noqa: E402
from ticket_list import _ticket_count, database_prepare, manage  # noqa: E402

BASELINES = ("healthz", "profile")
LIST_PAGES = ("list_all_admin", "list_agent", "list_unassigned", "list_open", "list_inbox",
              "list_label", "list_page_21", "nav_counts")
TICKET_LENGTHS = (5, 500)
WARMUP_SECONDS_MAX = 5.0
MIN_SAMPLES_PER_TURN = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000",
                        help="Comma-separated ticket counts; the first is the reference.")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL, without database name.")
    parser.add_argument("--prefix", default="sb_desk_bench", help="Database name prefix.")
    parser.add_argument("--iterations", type=int, default=120,
                        help="Samples per request and size, over all rounds.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--budget", type=float, default=40.0,
                        help="Seconds per request and size after which sampling stops.")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # child mode: a database URL
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args)))
        return
    urls = {}
    for size in (int(size) for size in args.sizes.split(",")):
        urls[size] = f"{args.server}/{args.prefix}_{size_label(size)}"
        database_ready(args.server, urls[size], size)
    turns: dict[int, list[dict]] = defaultdict(list)
    for round_number in range(args.rounds):
        for size, url in urls.items():
            print(f"round {round_number + 1}/{args.rounds}: {size_label(size)}", flush=True)
            turns[size].append({**measure_in_child(url, args), "size": size})
    results = [merge_turns(turns[size]) for size in urls]
    results_write("inbox_pages", results)
    print(report(results))


def database_ready(server: str, url: str, size: int) -> None:
    """`database_prepare`, except that a database holding the seeded tickets plus this
    benchmark's own two is reused as it is (`database_prepare` would drop it as too big)."""
    try:
        tickets = _ticket_count(url)
    except Exception:  # no such database yet
        tickets = None
    if tickets is not None and tickets >= size:
        manage(url, "migrate", "--verbosity", "0")
        print(f"[{urlsplit(url).path.lstrip('/')}] reusing {tickets:,} tickets", flush=True)
        return
    database_prepare(server, url, size)


def measure_in_child(url: str, args) -> dict:
    return child_measure(__file__, url,
                         "--iterations", str(math.ceil(args.iterations / args.rounds)),
                         "--warmup", str(args.warmup), "--budget", str(args.budget / args.rounds),
                         env={"LOG_LEVEL": "ERROR"})


def merge_turns(turns: list[dict]) -> dict:
    result = {"size": turns[-1]["size"], "tickets": turns[-1]["tickets"], "postgres": turns[-1]["postgres"], "requests": {}}
    for key, last in turns[-1]["requests"].items():
        samples = [ms for turn in turns for ms in turn["requests"][key]["samples_ms"]]
        result["requests"][key] = {"path": last["path"], "n": len(samples),
                                   "p50_ms": percentile(samples, 50),
                                   "p95_ms": percentile(samples, 95)}
    return result


# --- child process: Django set up against one bench database ---------------------------

def measure(args) -> dict:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from inbox.models import Agent, Inbox, Ticket

    clients = {}
    for who in ("admin", "maria"):  # maria is an agent in 2 of the 7 demo inboxes
        clients[who] = Client()
        clients[who].force_login(Agent.objects.get(username=who))
    tickets = {length: bench_ticket(length) for length in TICKET_LENGTHS}
    whatsapp = Inbox.objects.get(slug="whatsapp")
    requests = {
        "healthz": ("admin", "/healthz"),
        "profile": ("admin", "/profile/"),
        "list_all_admin": ("admin", "/"),
        "list_agent": ("maria", "/"),
        "list_unassigned": ("admin", "/?assignee=none"),
        "list_open": ("admin", "/?status=open"),
        "list_inbox": ("admin", f"/?inbox={whatsapp.pk}"),
        "list_label": ("admin", "/?label=refund"),
        "list_page_21": ("admin", deep_page(clients["admin"], pages=20)),
        "nav_counts": ("admin", "/nav/"),
        **{f"ticket_{length}": ("admin", f"/tickets/{tickets[length]}/")
           for length in TICKET_LENGTHS},
    }
    for who, path in requests.values():
        warm_until = time.perf_counter() + WARMUP_SECONDS_MAX
        for _ in range(args.warmup):
            assert clients[who].get(path).status_code == 200, path
            if time.perf_counter() > warm_until:
                break
    samples: dict[str, list[float]] = {key: [] for key in requests}
    spent = dict.fromkeys(requests, 0.0)
    for _ in range(args.iterations):
        for key, (who, path) in requests.items():
            if spent[key] > args.budget and len(samples[key]) >= MIN_SAMPLES_PER_TURN:
                continue
            started = time.perf_counter()
            response = clients[who].get(path)
            elapsed = time.perf_counter() - started
            assert response.status_code == 200, (path, response.status_code)
            samples[key].append(elapsed)
            spent[key] += elapsed
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server_version = cursor.fetchone()[0]
    return {
        "tickets": Ticket.objects.count(),
        "postgres": server_version,
        "requests": {key: {"path": path, "samples_ms": [s * 1000 for s in samples[key]]}
                     for key, (who, path) in requests.items()},
    }


def deep_page(client, *, pages: int) -> str:
    """The list page reached by following "Load more" `pages` times (htmx partials)."""
    import re

    path = "/"
    for _ in range(pages):
        html = client.get(path, HTTP_HX_REQUEST="true").content.decode()
        path = re.search(r'class="load-more"><a href="([^"]+)"', html).group(1).replace("&amp;", "&")
        path = "/" + path if path.startswith("?") else path
    return path


def bench_ticket(length: int) -> int:
    """A support ticket with `length` messages (customer, agent, notes in turn) and a few
    events, written once per database with bulk inserts."""
    from django.db import transaction
    from django.utils import timezone

    from inbox.models import Agent, Contact, Inbox, Message, Ticket, TicketEvent

    external_id = f"bench-inbox-pages-{length}"
    existing = Ticket.objects.filter(external_id=external_id).values_list("pk", flat=True).first()
    if existing:
        return existing
    inbox, agent = Inbox.objects.get(slug="support"), Agent.objects.get(username="maria")
    start = timezone.now() - timedelta(days=3)
    with transaction.atomic():
        contact = Contact.objects.create(name=f"Bench customer {length}")
        ticket = Ticket.objects.create(
            inbox=inbox, contact=contact, subject=f"Bench ticket with {length} messages",
            channel="email", external_id=external_id, last_seq=length, created_at=start,
            last_activity_at=start + timedelta(minutes=length),
        )
        directions = ("inbound", "outbound", "note")
        Message.objects.bulk_create(
            Message(ticket=ticket, inbox=inbox, seq=seq, direction=directions[seq % 3],
                    channel="" if seq % 3 == 2 else "email",
                    author_type="contact" if seq % 3 == 0 else "agent",
                    author_contact=contact if seq % 3 == 0 else None,
                    author_agent=None if seq % 3 == 0 else agent,
                    body_text=f"Message {seq} of the bench conversation. " * 4,
                    delivery_status="sent" if seq % 3 == 1 else "",
                    created_at=start + timedelta(minutes=seq))
            for seq in range(1, length + 1)
        )
        TicketEvent.objects.bulk_create(
            [TicketEvent(ticket=ticket, type="created", at=start, data={"channel": "email"})]
            + [TicketEvent(ticket=ticket, type="assigned", actor=agent,
                           at=start + timedelta(minutes=seq, seconds=30),
                           data={"agent": agent.pk, "from": None})
               for seq in range(1, length + 1, 50)]
        )
    return ticket.pk


# --- report ---------------------------------------------------------------------------

def report(results: list[dict]) -> str:
    first, last = results[0], results[-1]
    baseline_growth = statistics.mean(
        last["requests"][b]["p95_ms"] / first["requests"][b]["p95_ms"] for b in BASELINES)
    sizes = [size_label(r["size"]) for r in results]
    header = ["request", *[f"{s} p50 / p95 ms" for s in sizes], f"p95 {sizes[-1]}/{sizes[0]}",
              "÷ baseline growth", "samples"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in first["requests"]:
        cells = [f"{r['requests'][key]['p50_ms']:.1f} / {r['requests'][key]['p95_ms']:.1f}"
                 for r in results]
        growth = last["requests"][key]["p95_ms"] / first["requests"][key]["p95_ms"]
        lines.append("| " + " | ".join([
            key, *cells, f"{growth:.2f}x", f"{growth / baseline_growth:.2f}x",
            " / ".join(str(r["requests"][key]["n"]) for r in results)]) + " |")
    worst = max(LIST_PAGES, key=lambda k: last["requests"][k]["p95_ms"]
                / first["requests"][k]["p95_ms"])
    worst_growth = last["requests"][worst]["p95_ms"] / first["requests"][worst]["p95_ms"]
    lines.append(f"\nGoal 1, list p95 growth {sizes[0]} → {sizes[-1]} < 2x: worst is {worst} at "
                 f"{worst_growth:.2f}x ({'met' if worst_growth < 2 else 'NOT met'}). "
                 f"Baseline p95 growth {baseline_growth:.2f}x.")
    for r, size in zip(results, sizes):
        ratio = r["requests"]["ticket_500"]["p95_ms"] / r["requests"]["ticket_5"]["p95_ms"]
        lines.append(f"Goal 2 at {size}, ticket page p95 with 500 messages ÷ with 5 < 3x: "
                     f"{ratio:.2f}x ({'met' if ratio < 3 else 'NOT met'}).")
    lines.append(f"PostgreSQL {last['postgres']}.")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
