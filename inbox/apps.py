from django.apps import AppConfig


class InboxConfig(AppConfig):
    name = "inbox"
    verbose_name = "Inbox"

    def ready(self):
        # Channel adapters register their outbound senders on import.
        from .channels.email import send  # noqa: F401
