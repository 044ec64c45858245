from django.core.management.base import BaseCommand, CommandError

from inbox.demo import demo_seed


class Command(BaseCommand):
    help = ("Append realistic multi-channel demo history: inboxes, teams, agents, contacts and "
            "TICKETS tickets with messages and events. Running it again adds more.")

    def add_arguments(self, parser):
        parser.add_argument("--tickets", type=int, default=200)
        parser.add_argument("--days", type=int, default=180,
                            help="Spread ticket creation over this many past days.")
        parser.add_argument("--seed", type=int, default=None,
                            help="Random seed; the same seed gives the same texts and history.")
        parser.add_argument("--batch-size", type=int, default=5000,
                            help="Tickets per transaction.")
        parser.add_argument("--agent-password", default=None,
                            help="Password for the demo agents (default: no usable password; "
                                 "the admin's login is left alone).")

    def handle(self, *args, tickets, days, seed, batch_size, agent_password, verbosity, **options):
        if tickets < 0 or days < 1 or batch_size < 1:
            raise CommandError("--tickets must be >= 0, --days and --batch-size >= 1.")
        self._printed_at = -10.0
        result = demo_seed(
            tickets=tickets, days=days, seed=seed, batch_size=batch_size,
            agent_password=agent_password, progress=self._progress if verbosity else None,
        )
        if verbosity:
            counts = result.counts
            self.stdout.write(
                f"Seeded {counts['tickets']} tickets, {counts['messages']} messages, "
                f"{counts['events']} events, {counts['contacts']} contacts in "
                f"{result.seconds:.1f}s (seed {result.seed})."
            )

    def _progress(self, done: int, total: int, seconds: float) -> None:
        # A line every few seconds, however small the batches.
        if done < total and seconds - self._printed_at < 5:
            return
        self._printed_at = seconds
        self.stdout.write(f"  {done:,}/{total:,} tickets ({done / max(seconds, 1e-9):,.0f}/s)")
