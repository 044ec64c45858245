import logging

from celery import shared_task

from ..delivery import PermanentDeliveryError, TransientDeliveryError
from ..models import Message
from ..services import AttachmentData, message_attachment_add
from .base import MediaRef, adapter_for

logger = logging.getLogger(__name__)


@shared_task(autoretry_for=(TransientDeliveryError,), retry_backoff=True, max_retries=6,
             acks_late=True)
def media_fetch(message_id: int, refs: list[dict]) -> int:
    """Download a message's provider media into storage. Idempotent: files already
    attached under the same reference are skipped."""
    message = Message.objects.select_related("inbox", "ticket").filter(pk=message_id).first()
    if message is None:
        return 0
    adapter = adapter_for(message.inbox.kind)
    fetched = set(message.metadata.get("media_fetched", []))
    count = 0
    for ref in refs:
        if ref["ref"] in fetched:
            continue
        try:
            content, content_type, name = adapter.media_download(message.inbox, MediaRef(**ref))
        except PermanentDeliveryError as exc:
            logger.warning("media %s of message %s not stored: %s", ref["ref"], message_id, exc)
            content, content_type, name = None, "", ""
        if content is not None:
            message_attachment_add(message=message, data=AttachmentData(
                name=name, content=content, content_type=content_type))
            count += 1
        fetched.add(ref["ref"])
        message.metadata["media_fetched"] = sorted(fetched)
        Message.objects.filter(pk=message.pk).update(metadata=message.metadata)
    return count
