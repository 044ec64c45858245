import mailbox
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from tqdm import tqdm

from inbox.channels.email.bulk import ingest_all, ingest_parallel
from inbox.models import Inbox

SUMMARY_KEYS = {"ingested": "ingested", "duplicate": "duplicates",
                "quarantined": "quarantined", "auto_reply": "auto_replies"}


class Command(BaseCommand):
    help = ("Ingest email from .eml files, directories of them, mbox files, or - for stdin. "
            "Prints: ingested=N duplicates=N quarantined=N auto_replies=N")

    def add_arguments(self, parser):
        parser.add_argument("--inbox", required=True, help="Slug of an email inbox.")
        parser.add_argument(
            "--jobs", type=int, default=min(os.cpu_count() or 1, 4), metavar="N",
            help="Worker processes (default: the number of CPUs, at most 4). Each "
                 "conversation goes to one worker, in file order, so threading is that of "
                 "a one-by-one run. With more than one, all messages are read into memory "
                 "first. One is used on SQLite and when called inside a transaction.")
        parser.add_argument("paths", nargs="+", metavar="PATH")

    def handle(self, *args, inbox, paths, **options):
        target = Inbox.objects.filter(slug=inbox).first()
        if target is None:
            raise CommandError(f"No inbox with slug {inbox!r}.")
        if target.kind != Inbox.Kind.EMAIL:
            raise CommandError(f"Inbox {inbox!r} is a {target.kind} inbox, not email.")
        missing = [p for p in paths if p != "-" and not Path(p).exists()]
        if missing:
            raise CommandError(f"No such file or directory: {', '.join(missing)}")
        if options["jobs"] < 1:
            raise CommandError("--jobs must be at least 1.")
        counts = Counter({key: 0 for key in SUMMARY_KEYS.values()})
        # Streamed when one process ingests, so a large mbox never sits in memory whole.
        messages = _messages(paths, stdin=sys.stdin.buffer)
        bar = tqdm(disable=not sys.stderr.isatty(), unit="msg", file=sys.stderr)
        if options["jobs"] > 1 and _workers_can_share_the_database():
            raws = list(messages)
            bar.reset(total=len(raws))
            outcomes = (o for group in ingest_parallel(target, raws, options["jobs"])
                        for o in group)
        else:
            outcomes = ingest_all(target, messages)
        with bar:
            for outcome in outcomes:
                bar.update()
                counts[SUMMARY_KEYS[outcome.status]] += 1
                if outcome.status == "quarantined" and options["verbosity"] > 1:
                    self.stderr.write(f"quarantined: {outcome.error}")
        self.stdout.write(" ".join(f"{key}={counts[key]}" for key in SUMMARY_KEYS.values()))


def _workers_can_share_the_database() -> bool:
    """Worker processes need a server database, and must see what this process sees: not
    when the command runs inside a caller's uncommitted transaction."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block


def _messages(paths: list[str], *, stdin) -> Iterator[bytes]:
    for path in paths:
        if path == "-":
            yield from _from_bytes(stdin.read())
        elif Path(path).is_dir():
            for file in sorted(p for p in Path(path).rglob("*") if p.is_file()):
                yield from _from_file(file)
        else:
            yield from _from_file(Path(path))


def _from_file(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        is_mbox = handle.read(5) == b"From "
    if not is_mbox:
        yield path.read_bytes()
        return
    box = mailbox.mbox(path, create=False)
    for key in box.iterkeys():
        yield box.get_bytes(key)


def _from_bytes(data: bytes) -> Iterator[bytes]:
    if not data.startswith(b"From "):
        yield data
        return
    with tempfile.NamedTemporaryFile(suffix=".mbox") as handle:
        handle.write(data)
        handle.flush()
        yield from _from_file(Path(handle.name))
