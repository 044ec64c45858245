from datetime import datetime

from django.db import transaction
from django.utils import timezone

from .. import domain_events
from ..errors import InvalidInput
from ..models import Agent, Label, Team, Ticket, TicketEvent
from ..presenters import ticket_summary_payload
from ..realtime import TICKET_CREATED, TICKET_UPDATED, inbox_group, publish, ticket_group

# What a move to each status writes to the event log (a move out of resolved/closed is a reopen).
_STATUS_EVENT = {
    Ticket.Status.RESOLVED: TicketEvent.Type.RESOLVED,
    Ticket.Status.CLOSED: TicketEvent.Type.CLOSED,
}
# Which log entries other apps hear about (surveys, outbound webhooks).
_STATUS_DOMAIN_EVENT = {
    TicketEvent.Type.RESOLVED: domain_events.TICKET_RESOLVED,
    TicketEvent.Type.REOPENED: domain_events.TICKET_REOPENED,
}


def _locked(ticket: Ticket) -> Ticket:
    """Re-read the ticket under a row lock so concurrent changes serialise."""
    return Ticket.objects.select_for_update().get(pk=ticket.pk)


def _changed(ticket: Ticket, fields: list[str]) -> None:
    ticket.save(update_fields=fields)
    publish(
        [inbox_group(ticket.inbox_id), ticket_group(ticket.pk)],
        TICKET_UPDATED, ticket_summary_payload(ticket),
    )


@transaction.atomic
def ticket_assign(*, ticket: Ticket, assignee: Agent | None, by: Agent | None,
                  at: datetime | None = None) -> Ticket:
    ticket = _locked(ticket)
    if assignee is not None and not (
        assignee.is_admin or assignee.inboxes.filter(pk=ticket.inbox_id).exists()
    ):
        raise InvalidInput(
            "The assignee is not a member of this ticket's inbox.",
            code="not_inbox_member", fields={"assignee": ["not a member of the inbox"]},
        )
    if ticket.assignee_id == (assignee.pk if assignee else None):
        return ticket
    previous = ticket.assignee_id
    ticket.assignee = assignee
    TicketEvent.objects.create(
        ticket=ticket, type=TicketEvent.Type.ASSIGNED, at=at or timezone.now(), actor=by,
        data={"agent": assignee.pk if assignee else None, "from": previous},
    )
    _changed(ticket, ["assignee"])
    return ticket


@transaction.atomic
def ticket_set_status(*, ticket: Ticket, status: str, by: Agent | None,
                      snoozed_until: datetime | None = None,
                      at: datetime | None = None) -> Ticket:
    """Move a ticket to `status`. A snooze without an end lasts until the customer writes."""
    if status not in Ticket.Status.values:
        raise InvalidInput(f"Unknown status {status!r}.", fields={"status": ["unknown"]})
    if snoozed_until is not None and status != Ticket.Status.SNOOZED:
        raise InvalidInput("Only a snooze has an end time.", fields={"snoozed_until": ["unexpected"]})
    ticket = _locked(ticket)
    if ticket.status == status and ticket.snoozed_until == snoozed_until:
        return ticket
    at = at or timezone.now()
    previous = ticket.status
    if previous in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED) and status in Ticket.UNRESOLVED:
        event_type = TicketEvent.Type.REOPENED
    else:
        event_type = _STATUS_EVENT.get(status, TicketEvent.Type.STATUS_CHANGED)
    ticket.status = status
    ticket.snoozed_until = snoozed_until if status == Ticket.Status.SNOOZED else None
    if status == Ticket.Status.RESOLVED:
        ticket.resolved_at = at
    elif status != Ticket.Status.CLOSED:
        ticket.resolved_at = None
    event = TicketEvent.objects.create(
        ticket=ticket, type=event_type, at=at, actor=by, data={"from": previous, "to": status}
    )
    _changed(ticket, ["status", "snoozed_until", "resolved_at"])
    if event_type in _STATUS_DOMAIN_EVENT:
        domain_events.emit(_STATUS_DOMAIN_EVENT[event_type], ticket_id=ticket.pk, event_id=event.pk)
    return ticket


def tickets_unsnooze_due(*, now: datetime | None = None) -> int:
    """Snoozed tickets whose time has come go back to open; returns how many."""
    now = now or timezone.now()
    due = Ticket.objects.filter(status=Ticket.Status.SNOOZED, snoozed_until__lte=now)
    count = 0
    for ticket in due.only("pk").iterator():
        with transaction.atomic():
            ticket = _locked(ticket)
            if ticket.status == Ticket.Status.SNOOZED and ticket.snoozed_until <= now:
                ticket_set_status(ticket=ticket, status=Ticket.Status.OPEN, by=None, at=now)
                count += 1
    return count


@transaction.atomic
def ticket_set_priority(*, ticket: Ticket, priority: str, by: Agent | None) -> Ticket:
    if priority not in Ticket.Priority.values:
        raise InvalidInput(f"Unknown priority {priority!r}.", fields={"priority": ["unknown"]})
    ticket = _locked(ticket)
    if ticket.priority == priority:
        return ticket
    TicketEvent.objects.create(
        ticket=ticket, type=TicketEvent.Type.PRIORITY_CHANGED, actor=by,
        data={"from": ticket.priority, "to": priority},
    )
    ticket.priority = priority
    _changed(ticket, ["priority"])
    return ticket


@transaction.atomic
def ticket_set_team(*, ticket: Ticket, team: Team | None, by: Agent | None) -> Ticket:
    ticket = _locked(ticket)
    if ticket.team_id == (team.pk if team else None):
        return ticket
    TicketEvent.objects.create(
        ticket=ticket, type=TicketEvent.Type.TEAM_CHANGED, actor=by,
        data={"from": ticket.team_id, "to": team.pk if team else None},
    )
    ticket.team = team
    _changed(ticket, ["team"])
    return ticket


@transaction.atomic
def ticket_label(*, ticket: Ticket, by: Agent | None, add: list[str] = (),
                 remove: list[str] = (), replace: list[str] | None = None) -> Ticket:
    """Add and remove labels by name, or `replace` the whole set; unknown names are created."""
    ticket = _locked(ticket)
    current = set(ticket.labels.values_list("name", flat=True))
    if replace is not None:
        wanted = _label_names(replace)
    else:
        wanted = (current | _label_names(add)) - _label_names(remove)
    if any(len(name) > 64 for name in wanted):
        raise InvalidInput("Labels are at most 64 characters.", fields={"labels": ["too long"]})
    added, removed = sorted(wanted - current), sorted(current - wanted)
    if not added and not removed:
        return ticket
    for name in added:
        ticket.labels.add(Label.objects.get_or_create(name=name)[0])
    if removed:
        ticket.labels.remove(*Label.objects.filter(name__in=removed))
    TicketEvent.objects.create(
        ticket=ticket, type=TicketEvent.Type.LABELED, actor=by,
        data={"added": added, "removed": removed},
    )
    _changed(ticket, [])
    return ticket


def _label_names(values) -> set[str]:
    return {value.strip() for value in values if value and value.strip()}


@transaction.atomic
def ticket_update(*, ticket: Ticket, by: Agent | None, **changes) -> Ticket:
    """Apply several changes at once (the PATCH of the API); each writes its own event."""
    if "status" in changes:
        ticket = ticket_set_status(
            ticket=ticket, status=changes["status"], by=by,
            snoozed_until=changes.get("snoozed_until"),
        )
    if "priority" in changes:
        ticket = ticket_set_priority(ticket=ticket, priority=changes["priority"], by=by)
    if "assignee" in changes:
        ticket = ticket_assign(ticket=ticket, assignee=changes["assignee"], by=by)
    if "team" in changes:
        ticket = ticket_set_team(ticket=ticket, team=changes["team"], by=by)
    if "labels" in changes:
        ticket = ticket_label(ticket=ticket, by=by, replace=changes["labels"])
    return ticket


def ticket_event_record(*, ticket: Ticket, type: str, data: dict, at: datetime | None = None,
                        actor: Agent | None = None) -> TicketEvent:
    """Append a log entry whose meaning another app owns (a survey sent or answered), so
    reports and the timeline read one history."""
    if type not in TicketEvent.Type.values:
        raise InvalidInput(f"Unknown event type {type!r}.", fields={"type": ["unknown"]})
    return TicketEvent.objects.create(
        ticket=ticket, type=type, data=data, at=at or timezone.now(), actor=actor
    )


@transaction.atomic
def ticket_follow_up_open(*, ticket: Ticket, subject: str, by: Agent | None,
                          at: datetime | None = None) -> Ticket:
    """Open a new ticket linked to `ticket` (its `parent`), same inbox, contact, channel
    and team: follow-up work that must not reopen the original."""
    at = at or timezone.now()
    follow_up = Ticket.objects.create(
        inbox=ticket.inbox, contact=ticket.contact, subject=subject[:500], channel=ticket.channel,
        parent=ticket, team=ticket.team, created_at=at, last_activity_at=at,
    )
    event = TicketEvent.objects.create(
        ticket=follow_up, type=TicketEvent.Type.CREATED, at=at, actor=by,
        data={"channel": ticket.channel, "parent": ticket.pk},
    )
    publish([inbox_group(follow_up.inbox_id)], TICKET_CREATED, ticket_summary_payload(follow_up))
    domain_events.emit(domain_events.TICKET_CREATED, ticket_id=follow_up.pk, event_id=event.pk)
    return follow_up
