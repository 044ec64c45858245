from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Surveys"

    def ready(self):
        from inbox.domain_events import TICKET_REOPENED, TICKET_RESOLVED, subscribe

        from .handlers import on_ticket_reopened, on_ticket_resolved

        subscribe(TICKET_RESOLVED, on_ticket_resolved)
        subscribe(TICKET_REOPENED, on_ticket_reopened)
