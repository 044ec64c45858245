"""Pieces the benchmarks share: paths, size labels, percentiles, databases, child processes."""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
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


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 30) -> None:
    """Return once something accepts connections on `port`; exit if `process` dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"process {process.args[:3]} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on port {port} after {timeout} s")


class DaphneProcess:
    """`daphne APP` on a free loopback port, its stderr in `log_path`."""

    def __init__(self, app: str, env: dict, log_path: Path, *daphne_args: str,
                 timeout: float = 30):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
             *daphne_args, app],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        wait_for_port(self.port, self.process, timeout)

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines()
                        if line.startswith("VmRSS:")))

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


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
