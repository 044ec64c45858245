"""The public shapes of messages and tickets, shared by the API, live events and the widget."""

from django.urls import reverse

from .models import Message, Ticket


def author_payload(message: Message) -> dict:
    if message.author_type == Message.AuthorType.AGENT and message.author_agent_id:
        agent = message.author_agent
        return {"type": "agent", "id": agent.pk, "name": agent.name}
    if message.author_type == Message.AuthorType.CONTACT and message.author_contact_id:
        contact = message.author_contact
        return {"type": "contact", "id": contact.pk, "name": contact.name}
    return {"type": message.author_type, "name": message.get_author_type_display()}


def attachment_payload(attachment) -> dict:
    return {
        "id": attachment.pk,
        "name": attachment.name,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "url": reverse("api:attachment-download", args=[attachment.pk]),
    }


def _inline_images_resolve(html: str, attachments) -> str:
    """Point `cid:` references of an email's HTML at the stored inline images."""
    if "cid:" not in html:
        return html
    for attachment in attachments:
        if attachment.content_id:
            url = reverse("api:attachment-download", args=[attachment.pk])
            html = html.replace(f"cid:{attachment.content_id}", url)
    return html


def message_payload(message: Message) -> dict:
    """M of SPEC §4, plus fields agents need (HTML body, delivery status)."""
    attachments = list(message.attachments.all())
    return {
        "id": message.pk,
        "ticket_id": message.ticket_id,
        "seq": message.seq,
        "direction": message.direction,
        "channel": message.channel or None,
        "author": author_payload(message),
        "body": message.body_text,
        "body_html": _inline_images_resolve(message.body_html, attachments),
        "attachments": [attachment_payload(a) for a in attachments],
        "delivery_status": message.delivery_status or None,
        "delivery_error": message.delivery_error or None,
        "client_id": str(message.client_id) if message.client_id else None,
        "created_at": message.created_at.isoformat(),
    }


def ticket_summary_payload(ticket: Ticket) -> dict:
    return {
        "id": ticket.pk,
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "inbox_id": ticket.inbox_id,
        "contact_id": ticket.contact_id,
        "assignee_id": ticket.assignee_id,
        "team_id": ticket.team_id,
        "channel": ticket.channel,
        "last_activity_at": ticket.last_activity_at.isoformat(),
    }
