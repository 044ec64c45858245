"""Writes of the agent inbox. Ticket changes go through `inbox.services`; what lives here is
the inbox UI's own state: @mention notifications, saved filters, canned responses, the
agent's profile."""

import re

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from inbox.errors import InvalidInput, NotFound
from inbox.models import Agent, Message, Ticket
from inbox.realtime import MENTION, agent_group, publish
from inbox.services import note_add

from .models import CannedResponse, Notification, SavedFilter

# `@maria` or `@maria.santos`, not the middle of an email address (`a@b.com`).
MENTION_PATTERN = re.compile(r"(?<![\w@.])@([\w][\w.+-]*[\w]|[\w])")
# The list's query parameters a saved filter may hold.
FILTER_PARAMS = ("assignee", "status", "inbox", "team", "label", "channel", "q")


def mentioned_usernames(text: str) -> set[str]:
    return {name.lower() for name in MENTION_PATTERN.findall(text)}


@transaction.atomic
def note_post(*, ticket: Ticket, agent: Agent, body: str) -> Message:
    """An internal note; the agents it @mentions are notified."""
    note = note_add(ticket=ticket, agent=agent, body=body)
    mentions_notify(message=note, by=agent)
    return note


def mentions_notify(*, message: Message, by: Agent) -> list[Notification]:
    """Notify each agent @mentioned in `message` who may see its ticket (never the author);
    each is told live on their own group once the note commits."""
    names = mentioned_usernames(message.body_text)
    if not names:
        return []
    ticket = message.ticket
    query = Q()
    for name in names:
        query |= Q(username__iexact=name)
    recipients = (
        Agent.objects.filter(query, is_active=True).exclude(pk=by.pk)
        .filter(Q(role=Agent.Role.ADMIN) | Q(is_superuser=True) | Q(inboxes=ticket.inbox_id))
        .distinct().order_by("pk")
    )
    notifications = Notification.objects.bulk_create(
        [Notification(agent=recipient, ticket=ticket, message=message, by=by)
         for recipient in recipients],
        ignore_conflicts=True,
    )
    for notification in notifications:
        publish([agent_group(notification.agent_id)], MENTION, {
            "ticket_id": ticket.pk, "number": ticket.number, "subject": ticket.subject,
            "message_id": message.pk, "by": {"id": by.pk, "name": by.name},
            "excerpt": message.body_text[:140],
        })
    return notifications


def notifications_mark_read(*, agent: Agent, ticket: Ticket | None = None) -> int:
    """Mark the agent's unread notifications read (those of one ticket, or all)."""
    unread = Notification.objects.filter(agent=agent, read_at__isnull=True)
    if ticket is not None:
        unread = unread.filter(ticket=ticket)
    return unread.update(read_at=timezone.now())


def saved_filter_save(*, agent: Agent, name: str, params: dict) -> SavedFilter:
    """Save (or overwrite, by name) a list view of the agent's."""
    name = name.strip()
    if not name:
        raise InvalidInput("A saved filter needs a name.", fields={"name": ["empty"]})
    kept = {key: str(value) for key, value in params.items() if key in FILTER_PARAMS and value}
    saved, _ = SavedFilter.objects.update_or_create(
        agent=agent, name=name[:80], defaults={"params": kept}
    )
    return saved


def saved_filter_delete(*, agent: Agent, filter_id: int) -> None:
    deleted, _ = SavedFilter.objects.filter(agent=agent, pk=filter_id).delete()
    if not deleted:
        raise NotFound("Saved filter not found.")


def canned_response_create(*, by: Agent, shortcut: str, title: str, body: str) -> CannedResponse:
    if not body.strip():
        raise InvalidInput("A canned response needs a text.", fields={"body": ["empty"]})
    try:
        with transaction.atomic():
            return CannedResponse.objects.create(
                shortcut=shortcut.lower(), title=title.strip() or shortcut, body=body,
                created_by=by,
            )
    except IntegrityError:
        raise InvalidInput("That shortcut is taken.", code="shortcut_taken",
                           fields={"shortcut": ["taken"]}) from None


def canned_response_delete(*, by: Agent, response_id: int) -> None:
    """Anyone may delete their own canned responses; admins any."""
    responses = CannedResponse.objects.filter(pk=response_id)
    if not by.is_admin:
        responses = responses.filter(created_by=by)
    deleted, _ = responses.delete()
    if not deleted:
        raise NotFound("Canned response not found.")


def profile_update(*, agent: Agent, display_name: str, avatar_url: str, language: str,
                   availability: str) -> Agent:
    agent.display_name = display_name.strip()
    agent.avatar_url = avatar_url.strip()
    agent.language = language
    agent.availability = availability
    agent.save(update_fields=["display_name", "avatar_url", "language", "availability"])
    return agent
