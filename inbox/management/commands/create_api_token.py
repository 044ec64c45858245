from django.core.management.base import BaseCommand, CommandError
from rest_framework.authtoken.models import Token

from inbox.models import Agent


class Command(BaseCommand):
    help = "Print an API token for USERNAME (for `Authorization: Token <key>`)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--rotate", action="store_true", help="Replace an existing token.")

    def handle(self, *args, username, rotate, **options):
        agent = Agent.objects.filter(username=username).first()
        if agent is None:
            raise CommandError(f"No agent named {username!r}.")
        if rotate:
            Token.objects.filter(user=agent).delete()
        token, _ = Token.objects.get_or_create(user=agent)
        self.stdout.write(token.key)
