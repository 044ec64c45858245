"""One webhook view for every messaging provider: `/hooks/<kind>/<inbox-key>/`."""

import logging

from django.db import transaction
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from ..api.errors import error_body
from ..models import Inbox
from ..services import message_ingest, message_status_update
from .base import PayloadInvalid, WebhookRejected, adapter_for

logger = logging.getLogger(__name__)


@csrf_exempt
def provider_webhook(request, kind: str, inbox_key: str):
    adapter = adapter_for(kind)
    inbox = Inbox.objects.filter(key=inbox_key, kind=kind).first() if adapter else None
    if inbox is None:
        return JsonResponse(error_body("not_found", "No such inbox."), status=404)
    if request.method == "GET":
        response = adapter.handshake(request, inbox)
        return response or JsonResponse(error_body("method_not_allowed", "POST only."),
                                        status=405)
    if request.method != "POST":
        return JsonResponse(error_body("method_not_allowed", "POST only."), status=405)
    try:
        adapter.verify(request, inbox)
    except WebhookRejected as rejected:
        logger.warning("%s webhook for %s rejected: %s", kind, inbox.slug, rejected.message)
        return JsonResponse(error_body(rejected.code, rejected.message), status=rejected.status)
    try:
        batch = adapter.parse(request, inbox)
    except PayloadInvalid as invalid:
        return JsonResponse(error_body("invalid_payload", str(invalid)), status=400)
    webhook_batch_store(inbox=inbox, batch=batch)
    return HttpResponse(status=200)


def webhook_batch_store(*, inbox: Inbox, batch) -> list:
    """Store parsed provider input; media downloads are queued after commit."""
    from .tasks import media_fetch

    stored = []
    for item in batch.inbound:
        result = message_ingest(data=item.message)
        stored.append(result)
        if result.created and item.media:
            refs = [{"ref": m.ref, "content_type": m.content_type, "name": m.name}
                    for m in item.media]
            message_id = result.message.pk
            transaction.on_commit(lambda m=message_id, r=refs: media_fetch.delay(m, r))
    for status in batch.statuses:
        message_status_update(inbox=inbox, external_id=status.external_id,
                              status=status.status, error=status.error)
    return stored
