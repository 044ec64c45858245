from django.apps import AppConfig


class DeskConfig(AppConfig):
    """The agent web inbox: server-rendered pages with htmx, live over /ws/agent/."""

    name = "desk"
    verbose_name = "Agent inbox"
