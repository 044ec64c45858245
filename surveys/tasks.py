"""Celery tasks: thin interfaces over the services, safe to retry and to redeliver."""

from celery import shared_task
from django.db import DatabaseError

from . import services


@shared_task(bind=True, acks_late=True, autoretry_for=(DatabaseError,), retry_backoff=True,
             max_retries=5)
def survey_send(self, invitation_id: int) -> None:
    """Send one invitation. A redelivery after a worker died finds the invitation sent
    (committed) or still scheduled (rolled back) and so sends it exactly once."""
    services.invitation_send(invitation_id=invitation_id)


@shared_task
def survey_send_due() -> int:
    return services.invitations_send_due()


@shared_task
def nps_campaign_run() -> int:
    return services.nps_campaign_run()
