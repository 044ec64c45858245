"""Services write; each is a plain function with keyword-only arguments (`<thing>_<verb>`)."""

from .contacts import contact_merge, contact_resolve
from .ingest import AttachmentData, EmailThreadRefs, Identity, InboundMessage, message_ingest
from .messages import message_attachment_add, message_reply, message_status_update, note_add
from .tickets import (
    ticket_assign,
    ticket_event_record,
    ticket_follow_up_open,
    ticket_label,
    ticket_set_priority,
    ticket_set_status,
    ticket_set_team,
    ticket_update,
    tickets_unsnooze_due,
)
from .webhooks import webhook_event_emit

__all__ = [
    "AttachmentData",
    "EmailThreadRefs",
    "Identity",
    "InboundMessage",
    "contact_merge",
    "contact_resolve",
    "message_attachment_add",
    "message_ingest",
    "message_reply",
    "message_status_update",
    "note_add",
    "ticket_assign",
    "ticket_event_record",
    "ticket_follow_up_open",
    "ticket_label",
    "ticket_set_priority",
    "ticket_set_status",
    "ticket_set_team",
    "ticket_update",
    "tickets_unsnooze_due",
    "webhook_event_emit",
]
