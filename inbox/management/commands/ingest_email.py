import mailbox
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from inbox.channels.email.ingest import email_ingest
from inbox.channels.email.models import QuarantinedEmail
from inbox.models import Inbox

SUMMARY_KEYS = {"ingested": "ingested", "duplicate": "duplicates",
                "quarantined": "quarantined", "auto_reply": "auto_replies"}


class Command(BaseCommand):
    help = ("Ingest email from .eml files, directories of them, mbox files, or - for stdin. "
            "Prints: ingested=N duplicates=N quarantined=N auto_replies=N")

    def add_arguments(self, parser):
        parser.add_argument("--inbox", required=True, help="Slug of an email inbox.")
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
        counts = Counter({key: 0 for key in SUMMARY_KEYS.values()})
        # Streamed, so a large mbox never sits in memory whole; the bar shows on terminals.
        messages = _messages(paths, stdin=sys.stdin.buffer)
        for raw in tqdm(messages, disable=not sys.stderr.isatty(), unit="msg", file=sys.stderr):
            outcome = email_ingest(inbox=target, raw=raw, source=QuarantinedEmail.Source.COMMAND)
            counts[SUMMARY_KEYS[outcome.status]] += 1
            if outcome.status == "quarantined" and options["verbosity"] > 1:
                self.stderr.write(f"quarantined: {outcome.error}")
        self.stdout.write(" ".join(f"{key}={counts[key]}" for key in SUMMARY_KEYS.values()))


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
