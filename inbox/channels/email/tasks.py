from celery import shared_task

from ...models import Inbox
from .imap import mailbox_poll

# A poll still queued when the next one is scheduled is dropped rather than piled up.
POLL_EXPIRES_S = 60


@shared_task
def imap_poll_all() -> int:
    """Beat, every minute: one poll task per email inbox with an IMAP host configured."""
    inbox_ids = [
        inbox.pk for inbox in Inbox.objects.filter(kind=Inbox.Kind.EMAIL).only("pk", "config")
        if inbox.config.get("imap_host")
    ]
    for inbox_id in inbox_ids:
        imap_poll_inbox.apply_async((inbox_id,), expires=POLL_EXPIRES_S)
    return len(inbox_ids)


@shared_task
def imap_poll_inbox(inbox_id: int) -> int:
    """Fetch and ingest one inbox's new IMAP mail; returns how many messages were fetched.
    Never raises for mailbox trouble: it is recorded in MailboxState.last_error."""
    inbox = Inbox.objects.filter(pk=inbox_id, kind=Inbox.Kind.EMAIL).first()
    if inbox is None or not inbox.config.get("imap_host"):
        return 0
    return mailbox_poll(inbox=inbox).fetched
