import json
import logging

import httpx
from celery import shared_task
from django.conf import settings
from django.utils import timezone

from .models import WebhookDelivery
from .signing import HEADER, signature_header

logger = logging.getLogger(__name__)

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _backoff_s(attempt: int) -> int:
    """30 s, 1 min, 2 min ... capped at 6 h: about a day of retries over ten attempts."""
    return min(30 * 2 ** (attempt - 1), 6 * 3600)


@shared_task(bind=True, acks_late=True, max_retries=None)
def webhook_deliver(self, delivery_id: str) -> None:
    """POST one pending delivery; retried with backoff until a 2xx or the attempts run out.

    Idempotent: a delivery no longer pending is left alone, and the `id` in the body lets a
    receiver drop the rare duplicate of a POST that succeeded just before a worker died."""
    delivery = (
        WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    )
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return
    endpoint = delivery.endpoint
    body = json.dumps(
        {"id": str(delivery.pk), "event": delivery.event,
         "created_at": delivery.created_at.isoformat(), "data": delivery.payload},
        separators=(",", ":"), ensure_ascii=False,
    ).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Switchboard-Webhooks/1",
        "X-Switchboard-Event": delivery.event,
        "X-Switchboard-Delivery": str(delivery.pk),
        HEADER: signature_header(secret=endpoint.secret, body=body),
    }
    delivery.attempts += 1
    try:
        with httpx.Client(timeout=TIMEOUT) as client:
            response = client.post(endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        delivery.response_status, delivery.error = None, f"no answer ({type(exc).__name__})"
    else:
        delivery.response_status = response.status_code
        delivery.error = "" if response.is_success else f"HTTP {response.status_code}"
        if response.is_success:
            delivery.status, delivery.delivered_at = WebhookDelivery.Status.DELIVERED, timezone.now()
        elif response.status_code == 410:  # the receiver says this endpoint is gone for good
            delivery.status = WebhookDelivery.Status.FAILED
            type(endpoint).objects.filter(pk=endpoint.pk).update(is_active=False)
    if delivery.status == WebhookDelivery.Status.PENDING and (
        delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS
    ):
        delivery.status = WebhookDelivery.Status.FAILED
    delivery.save(update_fields=["attempts", "response_status", "error", "status", "delivered_at"])
    if delivery.status == WebhookDelivery.Status.FAILED:
        logger.warning("webhook %s to %s failed: %s", delivery.event, endpoint.url, delivery.error)
    elif delivery.status == WebhookDelivery.Status.PENDING:
        raise self.retry(countdown=_backoff_s(delivery.attempts))
