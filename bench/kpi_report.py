"""KPI report API over 90 days at 100k and 1M tickets, against a hand-written SQL floor.

    .venv/bin/python bench/kpi_report.py --sizes 100000,1000000

Each size gets its own PostgreSQL database (switchboard_bench_kpi_100k, ..._1m), created,
migrated and filled with `seed_demo --seed 1` when missing, plus survey invitations and
answers on resolved tickets (seed_demo writes none), then `compute_kpis --all` when the
rollups (both layers) are missing or behind the log. Each size is measured in fresh
processes (config.settings.dev, DEBUG off) sending `GET /api/v1/reports/kpis` for the last
90 days through Django's test client (server time), and running the floor, one SQL
statement computing FCR and median first response time straight from messages and events,
on the same connection. The same request with `tz=Etc/UTC` (the same instants, a zone the
day tables do not hold) measures the per-ticket path, the one every report took before the
day layer; both must give the same figures.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, database_create, results_write, size_label  # noqa: E402
from common import measure_in_child as child_measure  # noqa: E402

SEED = 1
DAYS = 90

# Survey invitations on resolved tickets, chosen and scored by a hash of the ticket id so
# every size gets the same shares: CSAT on 50% (60% of them answered), NPS on 20%, CES 10%.
SURVEYS_SQL = """
INSERT INTO inbox_ticketevent (ticket_id, type, at, actor_id, message_id, data)
SELECT id, kind_type, at, NULL, NULL, data FROM (
  SELECT t.id, s.kind_type,
         t.resolved_at + CASE s.kind_type WHEN 'survey_sent' THEN interval '5 minutes'
                                          ELSE interval '2 hours' END AS at,
         jsonb_build_object('kind', s.kind, 'invitation', 'bench-' || s.kind || '-' || t.id)
         || CASE WHEN s.kind_type = 'survey_answered' THEN jsonb_build_object('score',
              CASE s.kind WHEN 'csat' THEN (ARRAY[1,2,3,4,4,4,5,5,5,5])[1 + (t.id * 7919) % 10]
                          WHEN 'nps' THEN (t.id * 104729) % 11
                          ELSE 1 + (t.id * 31) % 7 END) ELSE '{}'::jsonb END AS data,
         (t.id * 2654435761) % 100 AS h, s.kind, s.low, s.high, s.answered_below
  FROM inbox_ticket t
  CROSS JOIN (VALUES ('csat', 0, 50, 30), ('nps', 50, 70, 62), ('ces', 70, 80, 76))
       AS k(kind, low, high, answered_below)
  CROSS JOIN LATERAL (VALUES ('survey_sent', k.kind, k.low, k.high, k.answered_below),
                             ('survey_answered', k.kind, k.low, k.high, k.answered_below))
       AS s(kind_type, kind, low, high, answered_below)
  WHERE t.status IN ('resolved', 'closed') AND t.resolved_at IS NOT NULL
) x
WHERE h >= low AND h < high AND (kind_type = 'survey_sent' OR h < answered_below)
"""

FLOOR_SQL = """
WITH first_reply AS (
  SELECT ticket_id, MIN(created_at) AS at, COUNT(*) AS replies FROM inbox_message
  WHERE direction = 'outbound' AND author_type = 'agent' AND NOT is_auto_reply
  GROUP BY ticket_id),
resolved AS (
  SELECT ticket_id, MAX(at) FILTER (WHERE type = 'resolved') AS at,
         COUNT(*) FILTER (WHERE type = 'reopened') AS reopens
  FROM inbox_ticketevent WHERE type IN ('resolved', 'reopened') GROUP BY ticket_id)
SELECT
  (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM f.at - t.created_at))
   FROM first_reply f JOIN inbox_ticket t ON t.id = f.ticket_id
   WHERE f.at >= %(since)s AND f.at < %(until)s) AS frt_median_s,
  (SELECT AVG(CASE WHEN f.replies = 1 AND r.reopens = 0 THEN 1.0 ELSE 0.0 END)
   FROM resolved r JOIN inbox_ticket t ON t.id = r.ticket_id
   JOIN first_reply f ON f.ticket_id = r.ticket_id
   WHERE r.at >= %(since)s AND r.at < %(until)s AND t.status IN ('resolved', 'closed')) AS fcr
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000",
                        help="Comma-separated ticket counts; the first is the reference.")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432",
                        help="PostgreSQL server URL, without database name.")
    parser.add_argument("--rounds", type=int, default=3,
                        help="Fresh processes per size (each gives one cold sample).")
    parser.add_argument("--iterations", type=int, default=10,
                        help="Warm samples per round of the report and of the floor.")
    parser.add_argument("--per-ticket-iterations", type=int, default=3,
                        help="Warm samples per round of the per-ticket path (tz=Etc/UTC).")
    parser.add_argument("--prepare-only", action="store_true", help="Only build the databases.")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # child mode: a database URL
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args)))
        return
    urls, preparation = {}, {}
    for size in (int(size) for size in args.sizes.split(",")):
        urls[size] = f"{args.server}/switchboard_bench_kpi_{size_label(size)}"
        preparation[size] = database_prepare(args.server, urls[size], size)
    if args.prepare_only:
        return
    turns: dict[int, list[dict]] = defaultdict(list)
    for round_number in range(args.rounds):
        for size, url in urls.items():
            load = os.getloadavg()[0]
            print(f"round {round_number + 1}/{args.rounds}: {size_label(size)} "
                  f"(load {load:.2f})", flush=True)
            turn = measure_in_child(url, args)
            turn["load"] = [load, os.getloadavg()[0]]  # 1-minute load average before, after
            turns[size].append(turn)
    results = [merge(size, turns[size], preparation[size]) for size in urls]
    results_write("kpi_report", results)
    print(report(results))


def manage(url: str, *command: str) -> float:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.dev",
           "REDIS_URL": ""}
    started = time.perf_counter()
    subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)
    return time.perf_counter() - started


def database_prepare(server: str, url: str, size: int) -> dict:
    """Create, migrate, seed, add surveys and build the rollups, unless already done."""
    name = urlsplit(url).path.lstrip("/")
    database_create(server, name)
    manage(url, "migrate", "--verbosity", "0")
    with psycopg.connect(url, autocommit=True) as connection:
        tickets = connection.execute("SELECT count(*) FROM inbox_ticket").fetchone()[0]
        # Rollups are current when they reflect the latest event and hold UTC's day tables.
        rolled_up = connection.execute(
            "SELECT EXISTS (SELECT 1 FROM reports_rollupstate r WHERE r.last_event_id = "
            "(SELECT max(id) FROM inbox_ticketevent) AND r.day_zones LIKE '%%UTC%%')"
        ).fetchone()[0]
    if tickets not in (0, size):
        raise SystemExit(f"{name} holds {tickets} tickets, not {size}: drop it first")
    info = {"seed_s": None, "rollup_build_s": None}
    if tickets == 0:
        print(f"[{name}] seeding {size:,} tickets...", flush=True)
        info["seed_s"] = manage(url, "seed_demo", "--tickets", str(size), "--seed", str(SEED))
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(SURVEYS_SQL)
            connection.execute("VACUUM (ANALYZE)")
    if not rolled_up or info["seed_s"] is not None:
        print(f"[{name}] building the rollups...", flush=True)
        info["rollup_build_s"] = manage(url, "compute_kpis", "--all")
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(
                "VACUUM (ANALYZE) reports_ticketfact, reports_statusspan, reports_surveyfact, "
                "reports_ticketday, reports_backlogageday, reports_surveyday, reports_durationday")
    return info


def measure_in_child(url: str, args) -> dict:
    return child_measure(__file__, url, "--iterations", str(args.iterations),
                         "--per-ticket-iterations", str(args.per_ticket_iterations))


# --- child process ---------------------------------------------------------------------------

def measure(args) -> dict:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from inbox.models import Agent, Ticket

    admin = Agent.objects.get(username="admin")
    headers = {"HTTP_AUTHORIZATION": f"Token {Token.objects.get_or_create(user=admin)[0].key}"}
    client = Client()
    end = datetime.now(UTC).date()
    start = end - timedelta(days=DAYS - 1)
    path = f"/api/v1/reports/kpis?start={start}&end={end}"
    since = datetime(start.year, start.month, start.day, tzinfo=UTC)
    until = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)

    def report_once(url: str = path) -> tuple[float, dict]:
        started = time.perf_counter()
        response = client.get(url, **headers)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.content[:300]
        return elapsed * 1000, response.json()

    def floor_once() -> tuple[float, tuple]:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(FLOOR_SQL, {"since": since, "until": until})
            row = cursor.fetchone()
        return (time.perf_counter() - started) * 1000, row

    cold_report, body = report_once()  # first request of a fresh process
    cold_floor, floor_row = floor_once()
    # The same instants in a zone the day tables do not hold: the per-ticket rows.
    cold_per_ticket, per_ticket_body = report_once(f"{path}&tz=Etc/UTC")
    warm = {"report": [], "floor": [], "per_ticket": []}
    for _ in range(args.iterations):
        warm["report"].append(report_once()[0])
        warm["floor"].append(floor_once()[0])
    for _ in range(args.per_ticket_iterations):
        warm["per_ticket"].append(report_once(f"{path}&tz=Etc/UTC")[0])
    per_ticket_body["period"]["tz"] = body["period"]["tz"]
    return {
        "tickets": Ticket.objects.count(), "path": path,
        "cold_ms": {"report": cold_report, "floor": cold_floor, "per_ticket": cold_per_ticket},
        "warm_ms": warm,
        # The floor computes the same two figures: they must agree with the report.
        "check": {"report_fcr": body["fcr"]["rate"],
                  "floor_fcr": float(floor_row[1]) if floor_row[1] is not None else None,
                  "report_frt_median_s": body["first_response"]["median_s"],
                  "floor_frt_median_s": floor_row[0],
                  "tickets_resolved": body["tickets_resolved"],
                  "first_response_count": body["first_response"]["count"],
                  "csat_answers": body["csat"]["answers"],
                  "per_ticket_path_same_figures": per_ticket_body == body},
    }


# --- merging and report --------------------------------------------------------------------

def merge(size: int, turns: list[dict], preparation: dict) -> dict:
    result = {"size": size, "tickets": turns[-1]["tickets"], "check": turns[-1]["check"],
              "preparation": preparation, "load": [turn["load"] for turn in turns]}
    for key in ("report", "floor", "per_ticket"):
        cold = [turn["cold_ms"][key] for turn in turns]
        warm = [ms for turn in turns for ms in turn["warm_ms"][key]]
        result[key] = {"cold_median_ms": statistics.median(cold), "cold_ms": cold,
                       "warm_median_ms": statistics.median(warm),
                       "warm_p90_ms": percentile(warm, 0.9), "warm_n": len(warm)}
    return result


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    position = p * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def report(results: list[dict]) -> str:
    lines = ["| size | report cold ms | floor cold ms | cold ratio | report warm p50 / p90 ms | "
             "floor warm p50 / p90 ms | warm ratio (p50) |", "|---|---|---|---|---|---|---|"]
    for r in results:
        rep, floor = r["report"], r["floor"]
        lines.append(
            f"| {size_label(r['size'])} | {rep['cold_median_ms']:.0f} | "
            f"{floor['cold_median_ms']:.0f} | "
            f"{rep['cold_median_ms'] / floor['cold_median_ms']:.2f}x | "
            f"{rep['warm_median_ms']:.0f} / {rep['warm_p90_ms']:.0f} | "
            f"{floor['warm_median_ms']:.0f} / {floor['warm_p90_ms']:.0f} | "
            f"{rep['warm_median_ms'] / floor['warm_median_ms']:.2f}x |")
    first, last = results[0], results[-1]
    lines.append("\n| size | per-ticket path cold ms | warm p50 / p90 ms | warm ratio to floor |"
                 "\n|---|---|---|---|")
    for r in results:
        old, floor = r["per_ticket"], r["floor"]
        lines.append(f"| {size_label(r['size'])} | {old['cold_median_ms']:.0f} | "
                     f"{old['warm_median_ms']:.0f} / {old['warm_p90_ms']:.0f} | "
                     f"{old['warm_median_ms'] / floor['warm_median_ms']:.2f}x |")
    for key in ("report", "floor", "per_ticket"):
        lines.append(
            f"\n{key} growth {size_label(first['size'])} → {size_label(last['size'])}: "
            f"warm p50 {last[key]['warm_median_ms'] / first[key]['warm_median_ms']:.2f}x, "
            f"cold {last[key]['cold_median_ms'] / first[key]['cold_median_ms']:.2f}x")
    for r in results:
        loads = [value for pair in r["load"] for value in pair]
        lines.append(f"\n{size_label(r['size'])}: load average {min(loads):.1f}–{max(loads):.1f}")
    for r in results:
        lines.append(f"\n{size_label(r['size'])}: {json.dumps(r['check'])} "
                     f"preparation {json.dumps(r['preparation'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
