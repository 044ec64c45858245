from celery import shared_task

from inbox.delivery import TransientDeliveryError

from .offline import offline_due, offline_email_send


@shared_task
def offline_emails_send_due() -> int:
    """Beat, every minute: queue one email per ticket whose agent reply is unread."""
    due = offline_due()
    for ticket_id, seq in due:
        offline_email_send_task.delay(ticket_id, seq)
    return len(due)


@shared_task(autoretry_for=(TransientDeliveryError,), retry_backoff=True, max_retries=5,
             acks_late=True)
def offline_email_send_task(ticket_id: int, up_to_seq: int) -> bool:
    return offline_email_send(ticket_id=ticket_id, up_to_seq=up_to_seq)
