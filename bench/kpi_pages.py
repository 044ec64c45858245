"""The report overview page (/reports/, default 28 days) at 100k and 1M tickets.

    .venv/bin/python bench/kpi_pages.py --sizes 100000,1000000

Uses the databases `bench/kpi_report.py` builds (run it with `--prepare-only` first). Each
size is measured in fresh processes (config.settings.dev, DEBUG off): `GET /reports/` as the
admin through Django's test client (server time: the figures, the charts, the template),
**uncached** (the report cache emptied before each request), **cached** (the same
request again) and **expired** (the current period's figures dropped from the cache, as
after their 60 s, the previous period's still cached), and the floor of `kpi_report.py`
(one SQL statement computing FCR and median first response straight from the log) over the
same 28 days on the same connection. The load average is recorded with each round.
"""

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from common import results_write, size_label  # noqa: E402
from common import measure_in_child as child_measure  # noqa: E402
from kpi_report import FLOOR_SQL, percentile  # noqa: E402

DAYS = 28


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--rounds", type=int, default=3, help="Fresh processes per size.")
    parser.add_argument("--iterations", type=int, default=3,
                        help="Uncached page samples per round (cached: 10x as many).")
    parser.add_argument("--label", default="", help="Name of this run in the output file.")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # child mode: a database URL
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args)))
        return
    sizes = [int(size) for size in args.sizes.split(",")]
    turns: dict[int, list[dict]] = defaultdict(list)
    for round_number in range(args.rounds):
        for size in sizes:
            url = f"{args.server}/switchboard_bench_kpi_{size_label(size)}"
            load = os.getloadavg()[0]
            print(f"round {round_number + 1}/{args.rounds}: {size_label(size)} "
                  f"(load {load:.2f})", flush=True)
            turn = measure_in_child(url, args)
            turn["load"] = [load, os.getloadavg()[0]]
            turns[size].append(turn)
    results = [merge(size, turns[size]) for size in sizes]
    results_write(f"kpi_pages{args.label}", results)
    print(report(results))


def measure_in_child(url: str, args) -> dict:
    return child_measure(__file__, url, "--iterations", str(args.iterations), cwd=Path.cwd())


# --- child process ---------------------------------------------------------------------------

def measure(args) -> dict:
    sys.path.insert(0, str(Path.cwd()))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client

    from inbox.models import Agent, Ticket

    try:  # the report cache (absent in versions without one: no cached samples)
        from django.core.cache import cache

        from reports.cache import report_cache_clear, report_cache_key
        from reports.params import kpi_query_parse
        cached_samples = 10

        def current_expire():
            query = kpi_query_parse(params={}, default_days=DAYS)
            cache.delete(report_cache_key(name="overview", query=query))
    except ImportError:
        def report_cache_clear():
            pass
        current_expire = None
        cached_samples = 0

    client = Client()
    client.force_login(Agent.objects.get(username="admin"))
    today = datetime.now(UTC).date()
    start = today - timedelta(days=DAYS - 1)
    since = datetime(start.year, start.month, start.day, tzinfo=UTC)
    until = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)

    def page_once() -> float:
        started = time.perf_counter()
        response = client.get("/reports/")
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content[:300]
        assert str(start) in response.content.decode()  # the default 28 days
        return elapsed * 1000

    def floor_once() -> float:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(FLOOR_SQL, {"since": since, "until": until})
            cursor.fetchone()
        return (time.perf_counter() - started) * 1000

    report_cache_clear()
    cold = page_once()
    cold_floor = floor_once()
    samples = {"uncached": [], "cached": [], "expired": [], "floor": []}
    for _ in range(args.iterations):
        report_cache_clear()
        samples["uncached"].append(page_once())
        for _ in range(cached_samples):
            samples["cached"].append(page_once())
        if current_expire:
            current_expire()
            samples["expired"].append(page_once())
        samples["floor"].append(floor_once())
    return {"tickets": Ticket.objects.count(), "cold_ms": {"page": cold, "floor": cold_floor},
            "warm_ms": samples}


# --- merging and report --------------------------------------------------------------------

def merge(size: int, turns: list[dict]) -> dict:
    result = {"size": size, "tickets": turns[-1]["tickets"],
              "load": [turn["load"] for turn in turns]}
    result["cold"] = {key: statistics.median(turn["cold_ms"][key] for turn in turns)
                      for key in ("page", "floor")}
    for key in ("uncached", "cached", "expired", "floor"):
        values = [ms for turn in turns for ms in turn["warm_ms"][key]]
        if not values:
            result[key] = {"median_ms": float("nan"), "p90_ms": float("nan"), "n": 0}
            continue
        result[key] = {"median_ms": statistics.median(values),
                       "p90_ms": percentile(values, 0.9), "n": len(values)}
    return result


def report(results: list[dict]) -> str:
    lines = ["| size | page cold ms | uncached p50 / p90 ms | cached p50 / p90 ms | "
             "expired p50 ms | floor p50 ms | uncached / floor | load |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        loads = [value for pair in r["load"] for value in pair]
        lines.append(
            f"| {size_label(r['size'])} | {r['cold']['page']:.0f} | "
            f"{r['uncached']['median_ms']:.0f} / {r['uncached']['p90_ms']:.0f} | "
            f"{r['cached']['median_ms']:.1f} / {r['cached']['p90_ms']:.1f} | "
            f"{r['expired']['median_ms']:.0f} | {r['floor']['median_ms']:.0f} | "
            f"{r['uncached']['median_ms'] / r['floor']['median_ms']:.2f}x | "
            f"{min(loads):.1f}–{max(loads):.1f} |")
    first, last = results[0], results[-1]
    if first is not last:
        lines.append(
            f"\nuncached growth {size_label(first['size'])} → {size_label(last['size'])}: "
            f"{last['uncached']['median_ms'] / first['uncached']['median_ms']:.2f}x "
            f"(floor {last['floor']['median_ms'] / first['floor']['median_ms']:.2f}x)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
