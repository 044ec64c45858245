import logging

from celery import shared_task
from django.db import transaction

from .delivery import PermanentDeliveryError, TransientDeliveryError, sender_for
from .models import Message
from .realtime import MESSAGE_UPDATED
from .services.messages import message_publish
from .services.tickets import tickets_unsnooze_due as _tickets_unsnooze_due

logger = logging.getLogger(__name__)


@shared_task(
    bind=True, autoretry_for=(TransientDeliveryError,), retry_backoff=True,
    retry_backoff_max=600, max_retries=8, acks_late=True,
)
def message_deliver(self, message_id: int) -> None:
    """Send one queued outbound message through its channel's adapter. Idempotent: a
    message that is no longer queued (already sent, or failed for good) is left alone."""
    message = Message.objects.select_related("ticket", "inbox").filter(pk=message_id).first()
    if message is None or message.delivery_status != Message.DeliveryStatus.QUEUED:
        return
    sender = sender_for(message.channel)
    if sender is None:
        _delivery_record(message, Message.DeliveryStatus.FAILED,
                         error=f"No outbound adapter is installed for {message.channel}.")
        return
    try:
        external_id = sender(message)
    except TransientDeliveryError as exc:
        if self.request.retries >= self.max_retries:
            _delivery_record(message, Message.DeliveryStatus.FAILED, error=str(exc))
            return
        message.delivery_error = str(exc)
        message.save(update_fields=["delivery_error"])
        if exc.retry_after:  # the provider's rate limit says when, not our backoff
            raise self.retry(exc=exc, countdown=exc.retry_after)
        raise
    except PermanentDeliveryError as exc:
        _delivery_record(message, Message.DeliveryStatus.FAILED, error=str(exc))
        return
    _delivery_record(message, Message.DeliveryStatus.SENT, external_id=external_id)


def _delivery_record(message: Message, status: str, *, error: str = "",
                     external_id: str | None = None) -> None:
    with transaction.atomic():
        message.delivery_status = status
        message.delivery_error = error
        fields = ["delivery_status", "delivery_error"]
        if external_id:
            message.external_id = external_id
            fields.append("external_id")
        message.save(update_fields=fields)
        message_publish(message, MESSAGE_UPDATED)
    if error:
        logger.warning("message %s delivery failed: %s", message.pk, error)


@shared_task
def tickets_unsnooze_due() -> int:
    return _tickets_unsnooze_due()


# Celery's autodiscovery imports only `<app>.tasks`: channel adapters' tasks register here.
from .channels.email import tasks as _email_tasks  # noqa: E402, F401
from .channels import tasks as _channel_tasks  # noqa: E402, F401
from .webhooks import tasks as _webhook_tasks  # noqa: E402, F401
