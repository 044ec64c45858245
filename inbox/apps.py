from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self):
        # Channel adapters register their outbound senders on import.
        from .channels.email import send  # noqa: F401
        from .channels.meta import messenger, whatsapp  # noqa: F401
        from .channels.telegram import adapter as _telegram  # noqa: F401
        from .channels.twilio import adapter as _twilio  # noqa: F401
        from .services.webhooks import webhooks_subscribe

        webhooks_subscribe()
