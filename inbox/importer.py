"""History import (SPEC §6): one past ticket per JSON line.

`ticket_line_parse` turns a line into plain, validated data without touching the database;
`ticket_import` writes one ticket in one transaction. Messages go through `message_append`
and status/assignment changes through the ticket services, so an imported ticket has the
same seq numbers, event log and event shapes as a live one.
"""

import json
import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from django.core.exceptions import ValidationError
from django.core.validators import validate_email, validate_slug
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Q

from . import domain_events
from .errors import ServiceError
from .models import Agent, Channel, Contact, Inbox, Message, Ticket, TicketEvent
from .services.contacts import Identity, contact_resolve
from .services.messages import message_append
from .services.tickets import ticket_assign, ticket_set_status

# The status each event type of the file moves the ticket to.
EVENT_STATUS = {"resolved": Ticket.Status.RESOLVED, "reopened": Ticket.Status.OPEN,
                "closed": Ticket.Status.CLOSED, "pending": Ticket.Status.PENDING,
                "snoozed": Ticket.Status.SNOOZED}
EVENT_TYPES = (*EVENT_STATUS, "assigned")
SURVEY_SCALES = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}
_PHONE = re.compile(r"^\+?[\d\s().-]+$")
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "a boolean",
               dict: "an object", list: "a list", type(None): "null"}


class ImportLineError(Exception):
    """A line that cannot be imported; the message says why."""


class ImportOutcome(Enum):
    IMPORTED = "imported"
    SKIPPED = "skipped"  # its external_id was imported before


@dataclass(frozen=True)
class MessageLine:
    direction: str
    author: str | None  # agent email on outbound/notes; None: a bot (outbound) or the system
    body: str
    at: datetime


@dataclass(frozen=True)
class EventLine:
    type: str
    at: datetime
    agent: str | None = None  # "assigned": the agent's email, None to unassign
    until: datetime | None = None  # "snoozed": when the snooze ends


@dataclass(frozen=True)
class SurveyLine:
    kind: str
    score: int | None
    sent_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True)
class TicketLine:
    external_id: str
    inbox: str
    channel: str
    contact_name: str
    email: str | None
    phone: str | None
    subject: str
    priority: str
    assignee: str | None
    messages: tuple[MessageLine, ...]
    events: tuple[EventLine, ...]
    surveys: tuple[SurveyLine, ...]

    @property
    def created_at(self) -> datetime:
        return min(message.at for message in self.messages)


# --- Parsing: text -> TicketLine, no database ---------------------------------------------


def ticket_line_parse(*, text: str) -> TicketLine:
    try:
        obj = json.loads(text.rstrip("\r\n"))  # so an error at the end names this line's column
    except json.JSONDecodeError as error:
        raise ImportLineError(f"invalid JSON: {error.msg} at column {error.colno}") from None
    _object_check(obj, where="line")
    external_id = str(_field(obj, "external_id", where="", kind=(str, int))).strip()
    if not external_id or len(external_id) > 200:
        raise ImportLineError("external_id: must be 1 to 200 characters")
    inbox = _field(obj, "inbox", where="")
    try:
        validate_slug(inbox)
    except ValidationError:
        raise ImportLineError(f"inbox: {inbox!r} is not a slug (letters, digits, -, _)") from None
    if len(inbox) > 64:
        raise ImportLineError("inbox: a slug has at most 64 characters")
    channel = _choice(_field(obj, "channel", where=""), Channel.values, where="channel")
    contact_name, email, phone = _contact_parse(_field(obj, "contact", where="", kind=dict))
    priority = _field(obj, "priority", where="", required=False) or Ticket.Priority.NORMAL
    assignee = _field(obj, "assignee", where="", required=False)
    messages = _items_parse(obj, "messages", _message_parse, required=True)
    if not messages:
        raise ImportLineError("messages: a ticket needs at least one message")
    return _history_check(TicketLine(
        external_id=external_id, inbox=inbox, channel=channel,
        contact_name=contact_name, email=email, phone=phone,
        subject=(_field(obj, "subject", where="", required=False) or "")[:500],
        priority=_choice(priority, Ticket.Priority.values, where="priority"),
        assignee=_email(assignee, where="assignee") if assignee else None,
        messages=messages,
        events=_items_parse(obj, "events", _event_parse),
        surveys=_items_parse(obj, "surveys", _survey_parse),
    ))


def _contact_parse(contact: dict) -> tuple[str, str | None, str | None]:
    email = (_field(contact, "email", where="contact", required=False) or "").strip()
    phone = (_field(contact, "phone", where="contact", required=False) or "").strip()
    if not email and not phone:
        raise ImportLineError("contact: needs an email or a phone")
    if phone and not (_PHONE.match(phone) and 1 <= sum(c.isdigit() for c in phone) <= 15):
        raise ImportLineError(f"contact.phone: {phone!r} is not a phone number")
    name = (_field(contact, "name", where="contact", required=False) or "")[:200]
    return name, _email(email, where="contact.email") if email else None, phone or None


def _items_parse(obj: dict, key: str, parse, *, required: bool = False) -> tuple:
    items = _field(obj, key, where="", kind=list, required=required) or []
    return tuple(parse(item, where=f"{key}[{i}]") for i, item in enumerate(items))


def _history_check(line: TicketLine) -> TicketLine:
    """What is wrong whatever the database holds: entries before the ticket existed, and an
    assignee that its own assigned events contradict."""
    created_at = line.created_at
    dated = [(f"events[{i}]", e.at) for i, e in enumerate(line.events)]
    dated += [(f"surveys[{i}]", s.sent_at) for i, s in enumerate(line.surveys)]
    for where, at in dated:
        if at < created_at:
            raise ImportLineError(f"{where}: at {at.isoformat()}, before the first message")
    assigned = [e for e in sorted(line.events, key=lambda e: e.at) if e.type == "assigned"]
    if line.assignee and assigned and assigned[-1].agent != line.assignee:
        raise ImportLineError(f"assignee: {line.assignee} disagrees with the last assigned event")
    return line


def _message_parse(item, *, where: str) -> MessageLine:
    _object_check(item, where=where)
    direction = _choice(_field(item, "direction", where=where), Message.Direction.values,
                        where=f"{where}.direction")
    author = item.get("author")
    # An inbound message is the contact's, whatever the source system put as its author.
    if direction == Message.Direction.INBOUND or not author:
        author = None
    else:
        author = _email(author, where=f"{where}.author")
    return MessageLine(direction=direction, author=author, body=_field(item, "body", where=where),
                       at=_timestamp(item, "at", where=where))


def _event_parse(item, *, where: str) -> EventLine:
    _object_check(item, where=where)
    event_type = _choice(_field(item, "type", where=where), EVENT_TYPES, where=f"{where}.type")
    at = _timestamp(item, "at", where=where)
    if event_type == "assigned":
        if "agent" not in item:
            raise ImportLineError(f"{where}.agent: required (an agent email, or null to unassign)")
        agent = _field(item, "agent", where=where, required=False)
        return EventLine(type=event_type, at=at,
                         agent=_email(agent, where=f"{where}.agent") if agent else None)
    if event_type == "snoozed":
        # Optional end of the snooze; without one it lasts until the customer writes.
        if item.get("until") is None:
            return EventLine(type=event_type, at=at)
        until = _timestamp(item, "until", where=where)
        if until <= at:
            raise ImportLineError(f"{where}.until: must be after its at")
        return EventLine(type=event_type, at=at, until=until)
    return EventLine(type=event_type, at=at)


def _survey_parse(item, *, where: str) -> SurveyLine:
    _object_check(item, where=where)
    kind = _choice(_field(item, "kind", where=where), SURVEY_SCALES, where=f"{where}.kind")
    sent_at = _timestamp(item, "sent_at", where=where)
    answered_at = _timestamp(item, "answered_at", where=where, required=False)
    score = item.get("score")
    if answered_at is None:
        if score is not None:
            raise ImportLineError(f"{where}.score: given, but answered_at is missing")
        return SurveyLine(kind=kind, score=None, sent_at=sent_at, answered_at=None)
    if not isinstance(score, int) or isinstance(score, bool):
        raise ImportLineError(f"{where}.score: expected an integer, got {_json_type(score)}")
    low, high = SURVEY_SCALES[kind]
    if not low <= score <= high:
        raise ImportLineError(f"{where}.score: {score} is outside the {kind} scale {low}-{high}")
    if answered_at < sent_at:
        raise ImportLineError(f"{where}.answered_at: before sent_at")
    return SurveyLine(kind=kind, score=score, sent_at=sent_at, answered_at=answered_at)


def _object_check(value, *, where: str) -> None:
    if not isinstance(value, dict):
        raise ImportLineError(f"{where}: expected an object, got {_json_type(value)}")


def _field(obj: dict, key: str, *, where: str, kind: type | tuple = str, required: bool = True):
    """obj[key] checked against `kind`; a missing key and null are the same."""
    path = f"{where}.{key}" if where else key
    value = obj.get(key)
    if value is None:
        if required:
            raise ImportLineError(f"{path}: required")
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        expected = " or ".join(_TYPE_NAMES[k] for k in kinds)
        raise ImportLineError(f"{path}: expected {expected}, got {_json_type(value)}")
    return value


def _timestamp(obj: dict, key: str, *, where: str, required: bool = True) -> datetime | None:
    text = _field(obj, key, where=where, required=required)
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ImportLineError(f"{where}.{key}: {text!r} is not an ISO-8601 timestamp") from None
    if at.tzinfo is None:
        # Guessing a zone would shift every report computed from this history.
        raise ImportLineError(f"{where}.{key}: {text!r} has no time zone (add Z or an offset)")
    return at


def _choice(value: str, choices, *, where: str) -> str:
    if value not in choices:
        raise ImportLineError(f"{where}: unknown {value!r} (expected one of {', '.join(choices)})")
    return value


def _email(value, *, where: str) -> str:
    if not isinstance(value, str):
        raise ImportLineError(f"{where}: expected an email address, got {_json_type(value)}")
    email = value.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ImportLineError(f"{where}: {value!r} is not an email address") from None
    return email


def _json_type(value) -> str:
    return _TYPE_NAMES[type(value)]


# --- Writing: TicketLine -> one ticket, one transaction -----------------------------------


def ticket_import(*, line: TicketLine) -> ImportOutcome:
    """Write one ticket, or nothing when its external_id is already imported.

    Raises ImportLineError when the history cannot be written; nothing of the line stays.
    """
    if Ticket.objects.filter(external_id=line.external_id).exists():
        return ImportOutcome.SKIPPED
    try:
        with transaction.atomic(), domain_events.muted():
            _ticket_write(line)
    except IntegrityError as error:
        # A concurrent import of the same external_id won the unique constraint.
        if Ticket.objects.filter(external_id=line.external_id).exists():
            return ImportOutcome.SKIPPED
        raise ImportLineError(f"not written: {error}") from error
    except ServiceError as error:
        raise ImportLineError(error.message) from error
    except DatabaseError as error:
        raise ImportLineError(f"not written: {error}") from error
    return ImportOutcome.IMPORTED


@dataclass(frozen=True)
class _Step:
    at: datetime
    where: str  # the file's path to the entry, for error messages
    entry: MessageLine | EventLine | SurveyLine
    answered: bool = False  # a survey's answer rather than its invitation


def _ticket_write(line: TicketLine) -> None:
    inbox = _inbox_get_or_create(slug=line.inbox, channel=line.channel)
    agents = _agents_get_or_create(emails=_agent_emails(line))
    # Whoever worked the ticket works its inbox: assignees must be members, as live.
    inbox.members.add(*agents.values())
    identities = [Identity(kind, value, verified=True)
                  for kind, value in (("email", line.email), ("phone", line.phone)) if value]
    contact = contact_resolve(identities=identities, name=line.contact_name)
    created_at = line.created_at
    ticket = Ticket.objects.create(
        inbox=inbox, contact=contact, subject=line.subject, priority=line.priority,
        channel=line.channel, team=inbox.team, external_id=line.external_id,
        created_at=created_at, last_activity_at=created_at,
    )
    # The same 'created' event a live ticket gets (ingest._ticket_open).
    TicketEvent.objects.create(
        ticket=ticket, type=TicketEvent.Type.CREATED, at=created_at,
        data={"channel": line.channel, "parent": None},
    )
    steps = _steps_sorted(line, created_at=created_at)
    for step in steps:
        if isinstance(step.entry, MessageLine):
            _message_write(ticket=ticket, inbox=inbox, contact=contact, message=step.entry,
                           agents=agents)
        elif isinstance(step.entry, EventLine):
            ticket = _event_write(ticket=ticket, event=step.entry, agents=agents, where=step.where)
        else:
            _survey_write(ticket=ticket, survey=step.entry, answered=step.answered,
                          key=f"import:{line.external_id}:{step.where}")
    Ticket.objects.filter(pk=ticket.pk).update(last_activity_at=steps[-1].at)


def _steps_sorted(line: TicketLine, *, created_at: datetime) -> list[_Step]:
    """Every entry in time order. At equal times: messages, then events, then surveys, each
    in file order (the sort is stable)."""
    steps = [_Step(m.at, f"messages[{i}]", m) for i, m in enumerate(line.messages)]
    if line.assignee and not any(e.type == "assigned" for e in line.events):
        # A bare assignee has no history: it is logged as assigned when the ticket opened.
        steps.append(_Step(created_at, "assignee", EventLine("assigned", created_at,
                                                             agent=line.assignee)))
    steps += [_Step(e.at, f"events[{i}]", e) for i, e in enumerate(line.events)]
    for i, survey in enumerate(line.surveys):
        steps.append(_Step(survey.sent_at, f"surveys[{i}]", survey))
        if survey.answered_at is not None:
            steps.append(_Step(survey.answered_at, f"surveys[{i}]", survey, answered=True))
    rank = {MessageLine: 0, EventLine: 1, SurveyLine: 2}
    return sorted(steps, key=lambda step: (step.at, rank[type(step.entry)]))


def _message_write(*, ticket: Ticket, inbox: Inbox, contact: Contact, message: MessageLine,
                   agents: dict[str, Agent]) -> None:
    agent = agents[message.author] if message.author else None
    outbound = message.direction == Message.Direction.OUTBOUND
    if message.direction == Message.Direction.INBOUND:
        author_type = Message.AuthorType.CONTACT
    elif agent is not None:
        author_type = Message.AuthorType.AGENT
    else:
        author_type = Message.AuthorType.BOT if outbound else Message.AuthorType.SYSTEM
    message_append(
        ticket=ticket, inbox=inbox, direction=message.direction,
        channel="" if message.direction == Message.Direction.NOTE else ticket.channel,
        author_type=author_type, author_agent=agent,
        author_contact=contact if author_type == Message.AuthorType.CONTACT else None,
        body_text=message.body, delivery_status=Message.DeliveryStatus.SENT if outbound else "",
        at=message.at,
    )


def _event_write(*, ticket: Ticket, event: EventLine, agents: dict[str, Agent],
                 where: str) -> Ticket:
    # The services skip a change to the current state silently; in a history it is an error.
    if event.type == "assigned":
        agent = agents[event.agent] if event.agent else None
        if ticket.assignee_id == (agent.pk if agent else None):
            already = f"assigned to {event.agent}" if agent else "unassigned"
            raise ImportLineError(f"{where}: the ticket is already {already}")
        return ticket_assign(ticket=ticket, assignee=agent, by=None, at=event.at)
    status = EVENT_STATUS[event.type]
    if ticket.status == status:
        raise ImportLineError(f"{where}: {event.type}, but the ticket is already {status}")
    return ticket_set_status(ticket=ticket, status=status, by=None, snoozed_until=event.until,
                             at=event.at)


def _survey_write(*, ticket: Ticket, survey: SurveyLine, key: str, answered: bool) -> None:
    # Reports read surveys from the log, so imported history counts like live answers.
    # `invitation` pairs an answer with its invitation, as live surveys do.
    if answered:
        TicketEvent.objects.create(
            ticket=ticket, type=TicketEvent.Type.SURVEY_ANSWERED, at=survey.answered_at,
            data={"kind": survey.kind, "score": survey.score, "invitation": key},
        )
    else:
        TicketEvent.objects.create(
            ticket=ticket, type=TicketEvent.Type.SURVEY_SENT, at=survey.sent_at,
            data={"kind": survey.kind, "invitation": key},
        )


def _inbox_get_or_create(*, slug: str, channel: str) -> Inbox:
    inbox = Inbox.objects.filter(slug=slug).first()
    if inbox is None:
        kind = Inbox.Kind.TWILIO if channel == Channel.SMS else channel
        return Inbox.objects.create(kind=kind, name=slug, slug=slug)
    if inbox.channel != channel:
        raise ImportLineError(
            f"channel: inbox {slug!r} is a {inbox.kind} inbox, which carries {inbox.channel}, "
            f"not {channel}"
        )
    return inbox


def _agent_emails(line: TicketLine) -> set[str]:
    emails = {message.author for message in line.messages if message.author}
    emails |= {event.agent for event in line.events if event.agent}
    return emails | ({line.assignee} if line.assignee else set())


def _agents_get_or_create(*, emails: set[str]) -> dict[str, Agent]:
    """Agents by lower-case email; missing ones are created without a usable password."""
    agents: dict[str, Agent] = {}
    if emails:
        match = Q()
        for email in emails:
            match |= Q(email__iexact=email)
        for agent in Agent.objects.filter(match).order_by("pk"):
            agents.setdefault(agent.email.lower(), agent)
    for email in sorted(emails - agents.keys()):
        agents[email] = Agent.objects.create_user(username=_username_free(email), email=email)
    return agents


def _username_free(email: str) -> str:
    base = re.sub(r"[^\w.+-]", "", email.split("@")[0])[:140] or "agent"
    username, n = base, 1
    while Agent.objects.filter(username__iexact=username).exists():
        n += 1
        username = f"{base}-{n}"
    return username
