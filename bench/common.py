"""Pieces the benchmarks share: paths, size labels, percentiles, databases, child processes."""

import json
import os
import socket
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = ROOT / "bench" / "out"
# A child measuring process: Django on the dev settings, DEBUG off, no Redis.
CHILD_ENV = {"DJANGO_SETTINGS_MODULE": "config.settings.dev", "DEBUG": "0",
             "ALLOWED_HOSTS": "testserver", "REDIS_URL": ""}


def size_label(size: int) -> str:
    for unit, label in ((1_000_000, "m"), (1000, "k")):
        if size % unit == 0:
            return f"{size // unit}{label}"
    return str(size)


def percentile(values: list[float], p: int) -> float:
    """Linear interpolation between closest ranks."""
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_create(server: str, name: str) -> bool:
    """Create the database `name` unless it exists; whether it existed."""
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return True
        admin.execute(f'CREATE DATABASE "{name}"')
        return False


def database_recreate(server: str, name: str) -> None:
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def measure_in_child(script: str, url: str, *options: str, cwd: Path = ROOT,
                     env: dict | None = None) -> dict:
    """Run `script --measure url *options` in a fresh process; the JSON its last line
    prints."""
    env = {**os.environ, **CHILD_ENV, "DATABASE_URL": url, **(env or {})}
    command = [sys.executable, str(Path(script).resolve()), "--measure", url, *options]
    done = subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.PIPE,
                          text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def results_write(name: str, results) -> None:
    """Save a run's results as bench/out/<name>-<UTC time>.json."""
    OUT_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (OUT_DIR / f"{name}-{stamp}.json").write_text(json.dumps(results, indent=2))
