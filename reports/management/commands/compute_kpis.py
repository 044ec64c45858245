from django.core.management.base import BaseCommand, CommandError

from reports.models import StatusSpan, SurveyFact, TicketFact
from reports.period import PeriodError, period_parse
from reports.refresh import rollups_rebuild, rollups_refresh


class Command(BaseCommand):
    help = (
        "Recompute the KPI rollups (docs/reports.md): every ticket with an event between "
        "--start and --end (days in --tz, end inclusive), plus every ticket touched since the "
        "last refresh. Idempotent; safe to re-run for any past range. --all rebuilds them."
    )

    def add_arguments(self, parser):
        parser.add_argument("--start", help="first day, YYYY-MM-DD")
        parser.add_argument("--end", help="last day (inclusive), YYYY-MM-DD")
        parser.add_argument("--tz", default="UTC", help="IANA time zone of the days")
        parser.add_argument("--all", action="store_true", help="rebuild every ticket's rows")

    def handle(self, *args, start, end, tz, all, **options):
        if all:
            if start or end:
                raise CommandError("--all recomputes everything: leave out --start/--end.")
            last_event = rollups_rebuild()
        elif start or end:
            try:
                period = period_parse(start=start, end=end or start, tz=tz, max_days=None)
            except PeriodError as error:
                raise CommandError(str(error)) from None
            last_event = rollups_refresh(since=period.since, until=period.until)
        else:
            last_event = rollups_refresh()
        self.stdout.write(f"facts={TicketFact.objects.count()} spans={StatusSpan.objects.count()} "
                          f"surveys={SurveyFact.objects.count()} last_event={last_event}")

