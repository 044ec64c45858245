"""What the surveys app does when the inbox reports a resolution or a reopen (after
commit): only schedule or cancel; sending is the Celery task's job."""

from . import services


def on_ticket_resolved(*, ticket_id: int, event_id: int) -> None:
    services.invitations_schedule(ticket_id=ticket_id, event_id=event_id)


def on_ticket_reopened(*, ticket_id: int, event_id: int) -> None:
    services.invitations_cancel(ticket_id=ticket_id)
