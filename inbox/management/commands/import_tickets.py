from django.core.management.base import BaseCommand, CommandError

from inbox.importer import ImportLineError, ImportOutcome, ticket_import, ticket_line_parse


class Command(BaseCommand):
    help = (
        "Import past tickets from a JSON Lines file, one ticket per line (docs/import.md). "
        "Prints `imported=N skipped=N bad=N`; bad lines go to stderr with their number."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .jsonl file: one JSON object per line")

    def handle(self, *args, file, verbosity, **options):
        try:
            lines = open(file, "rb")  # bytes: one badly encoded line must not stop the rest
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}") from None
        counts = {"imported": 0, "skipped": 0, "bad": 0}
        with lines:
            for number, raw in enumerate(lines, start=1):
                try:
                    outcome = _line_import(raw)
                except ImportLineError as error:
                    counts["bad"] += 1
                    self.stderr.write(f"line {number}: {error}")
                    continue
                if outcome is not None:
                    counts[outcome.value] += 1
                    if verbosity >= 2:
                        self.stdout.write(f"line {number}: {outcome.value}")
        self.stdout.write(" ".join(f"{name}={count}" for name, count in counts.items()))


def _line_import(raw: bytes) -> ImportOutcome | None:
    """Import one line; None for a blank line."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportLineError("not valid UTF-8") from None
    if not text.strip():
        return None
    return ticket_import(line=ticket_line_parse(text=text))
