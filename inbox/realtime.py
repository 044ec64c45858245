"""Live events: group names, event shapes and publishing after commit.

The database is the log; the channel layer is only a wake-up signal. A failed publish is
logged and never undoes or blocks the write that caused it.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

TICKET_CREATED = "ticket.created"
TICKET_UPDATED = "ticket.updated"
MESSAGE_NEW = "message.new"
MESSAGE_UPDATED = "message.updated"
# The agent inbox's own events on /ws/agent/: someone is writing a reply (collision
# warning), and a note mentioned you.
REPLYING = "replying"
MENTION = "mention"


def inbox_group(inbox_id: int) -> str:
    return f"inbox.{inbox_id}"


def ticket_group(ticket_id: int) -> str:
    return f"ticket.{ticket_id}"


def contact_group(contact_id: int) -> str:
    return f"contact.{contact_id}"


def agent_group(agent_id: int) -> str:
    """Every /ws/agent/ socket of one agent joins this group (mention notifications)."""
    return f"agent.{agent_id}"


def publish(groups: list[str], event_type: str, payload: dict) -> None:
    """Send `payload` to `groups` once the current transaction commits."""
    message = {"type": "live.event", "event": event_type, "payload": payload}
    transaction.on_commit(lambda: _send(groups, message))


def _send(groups: list[str], message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            async_to_sync(layer.group_send)(group, message)
        except Exception:  # the write already committed; clients catch up with sync
            logger.exception("live event %s to %s not delivered", message["event"], group)
