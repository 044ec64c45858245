"""Run the whole product on one machine: web + websockets (daphne), Celery worker and beat.

First run: migrates, creates an admin login and demo data, and prints both. Every process
is supervised: if one exits, the others are stopped, and Ctrl-C stops them all.
"""

import secrets
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from inbox.models import Agent, Ticket

CREDENTIALS_FILE = settings.VAR_DIR / "admin-credentials.txt"


class Command(BaseCommand):
    help = "Start web, websockets, Celery worker and beat (embedded defaults need nothing else)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--demo-tickets", type=int, default=200,
                            help="Demo tickets created on first run (0 for none).")

    def handle(self, *args, host, port, demo_tickets, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        username, password = self._admin_login()
        if demo_tickets and not Ticket.objects.exists():
            self.stdout.write(f"Creating {demo_tickets} demo tickets...")
            call_command("seed_demo", tickets=demo_tickets, verbosity=0)
        processes = self._start(host, port)
        self.stdout.write(self.style.SUCCESS(
            f"\nSwitchboard is running at http://{host}:{port}/\n"
            f"  admin login: {username} / {password}\n"
            f"  reports:     http://{host}:{port}/reports/\n"
            f"  settings:    http://{host}:{port}/admin/\n"
            f"  API docs:    http://{host}:{port}/api/docs/\n"
            "Press Ctrl-C to stop.\n"
        ))
        self._supervise(processes)

    def _admin_login(self) -> tuple[str, str]:
        if CREDENTIALS_FILE.exists():
            username, password = CREDENTIALS_FILE.read_text().split("\n", 1)
            return username, password.strip()
        username, password = "admin", secrets.token_urlsafe(12)
        agent, _ = Agent.objects.get_or_create(
            username=username,
            defaults={"email": "admin@example.com", "role": Agent.Role.ADMIN,
                      "display_name": "Admin"},
        )
        agent.is_staff = agent.is_superuser = True
        agent.set_password(password)
        agent.save()
        CREDENTIALS_FILE.write_text(f"{username}\n{password}\n")
        CREDENTIALS_FILE.chmod(0o600)
        return username, password

    def _start(self, host: str, port: int) -> list[subprocess.Popen]:
        python = sys.executable
        commands = [
            [python, "-m", "daphne", "-b", host, "-p", str(port),
             "--websocket_timeout", "-1", "config.asgi:application"],
            [python, "-m", "celery", "-A", "config", "worker", "--pool=threads",
             "--concurrency=4", "--loglevel=INFO"],
            [python, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO",
             "--schedule", str(settings.CELERY_BEAT_SCHEDULE_FILENAME)],
        ]
        return [subprocess.Popen(command, cwd=settings.BASE_DIR) for command in commands]

    def _supervise(self, processes: list[subprocess.Popen]) -> None:
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping and all(p.poll() is None for p in processes):
            time.sleep(0.5)
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        failed = [" ".join(p.args[1:4]) for p in processes if p.returncode not in (0, -15)]
        if failed and not stopping:
            self.stderr.write(f"Stopped because a process exited: {failed}")
            sys.exit(1)
