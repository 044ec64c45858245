import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from inbox.channels.telegram.api import BotApi
from inbox.delivery import PermanentDeliveryError, TransientDeliveryError
from inbox.models import Inbox

# Only what becomes a customer message: Telegram then spares us the rest.
ALLOWED_UPDATES = ["message", "edited_message"]


class Command(BaseCommand):
    help = ("Point a Telegram inbox's bot at this site (setWebhook with a secret token), "
            "or remove its webhook with --delete.")

    def add_arguments(self, parser):
        parser.add_argument("--inbox", required=True, help="slug of a telegram inbox")
        parser.add_argument("--url", help="public https://HOST of this site (default SITE_URL)")
        parser.add_argument("--delete", action="store_true", help="remove the webhook")
        parser.add_argument("--drop-pending-updates", action="store_true",
                            help="discard the updates Telegram is still holding")

    def handle(self, *args, inbox, url, delete, drop_pending_updates, **options):
        target = Inbox.objects.filter(slug=inbox).first()
        if target is None or target.kind != Inbox.Kind.TELEGRAM:
            raise CommandError(f"No telegram inbox with slug {inbox!r}.")
        try:
            bot = BotApi(target)
            if delete:
                bot.call("deleteWebhook", {"drop_pending_updates": drop_pending_updates})
                self.stdout.write(f"Webhook of inbox {target.slug} deleted.")
                return
            hook_url = (url or settings.SITE_URL).rstrip("/") + reverse(
                "provider-webhook", args=[Inbox.Kind.TELEGRAM, target.key])
            bot.call("setWebhook", {
                "url": hook_url, "secret_token": self._secret(target),
                "allowed_updates": ALLOWED_UPDATES,
                "drop_pending_updates": drop_pending_updates,
            })
        except (PermanentDeliveryError, TransientDeliveryError) as exc:
            raise CommandError(f"Telegram refused: {exc}") from None
        self.stdout.write(f"Webhook of inbox {target.slug} set to {hook_url}")

    def _secret(self, inbox: Inbox) -> str:
        """The inbox's webhook secret, created and stored first if it has none, so every
        update Telegram sends from now on carries a secret we know."""
        secret = inbox.secret("webhook_secret")
        if not secret:
            secret = secrets.token_urlsafe(32)  # Telegram allows A-Z a-z 0-9 _ -
            inbox.secrets_update({"webhook_secret": secret})
            inbox.save(update_fields=["secrets_encrypted"])
        return secret
