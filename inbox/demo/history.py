"""Plans a realistic ticket history in memory, keeping the invariants the services keep.

Each ticket starts with a customer message; agent replies and notes come from the assignee (a
member of the ticket's inbox); the event log mirrors the messages and the final status; a
contact's earlier tickets are settled before the next one opens, on another channel mostly,
so one customer timeline spans several channels. Ids are given later, by `rows`.
"""

import random
from bisect import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate

from ..models import MESSAGING_CHANNELS, Channel, Message, Ticket, TicketEvent
from .phrases import PHRASES
from .workspace import DemoInbox, Workspace

IN, OUT, NOTE = Message.Direction.INBOUND, Message.Direction.OUTBOUND, Message.Direction.NOTE
S = Ticket.Status
E = TicketEvent.Type

PHONE_PREFIXES = {"en": ("447700", "447911", "15550"), "id": ("62812", "62813", "62857"),
                  "zh-hans": ("86138", "86139", "86186")}
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")


class Weighted:
    """A weighted random pick with cumulative weights computed once (`random.choices`
    recomputes them on every call, which shows at a million tickets)."""

    def __init__(self, items: tuple, weights: tuple[int, ...]):
        self.items, self.cumulative = items, list(accumulate(weights))

    def pick(self, rng: random.Random):
        return self.items[bisect(self.cumulative, rng.random() * self.cumulative[-1])]


LANGUAGE = Weighted(("en", "id", "zh-hans"), (45, 35, 20))
PRIORITY = Weighted(tuple(Ticket.Priority.values), (15, 60, 18, 7))
TICKETS_PER_CONTACT = Weighted((1, 2, 3), (75, 20, 5))
LABELS_PER_TICKET = Weighted((0, 1, 2), (40, 45, 15))
# Status by ticket age: recent tickets are still being worked, old ones mostly settled.
STATUSES = (S.OPEN, S.PENDING, S.SNOOZED, S.RESOLVED, S.CLOSED)
STATUS_BY_AGE = (
    (timedelta(days=2), Weighted(STATUSES, (45, 25, 10, 20, 0))),
    (timedelta(days=14), Weighted(STATUSES, (20, 15, 5, 45, 15))),
    (timedelta.max, Weighted(STATUSES, (3, 3, 1, 58, 35))),
)
# A growing business: more tickets lately (age = window * uniform ** skew).
RECENCY_SKEW = 1.5
# Past the default reopen window, so a later message opens a new ticket rather than reopening.
NEXT_TICKET_DAYS = (8.0, 40.0)


@dataclass(slots=True)
class PlannedMessage:
    direction: str
    at: datetime
    body: str
    author_agent_id: int | None


@dataclass(slots=True)
class PlannedEvent:
    type: str
    at: datetime
    actor_id: int | None = None
    message_index: int | None = None  # into the ticket's messages
    data: dict = field(default_factory=dict)


@dataclass(slots=True)
class PlannedTicket:
    inbox: DemoInbox
    subject: str
    status: str
    priority: str
    assignee_id: int | None
    label_names: list[str]
    messages: list[PlannedMessage]
    events: list[PlannedEvent]  # all but `created`, which `rows` writes with the parent's id
    resolved_at: datetime | None = None
    snoozed_until: datetime | None = None
    parent_index: int | None = None  # an earlier ticket of the same contact


@dataclass(slots=True)
class PlannedContact:
    name: str
    language: str
    email_address_stem: str  # e.g. "siti.hakim"; `rows` adds the contact id for uniqueness
    email_domain: str
    phone_prefix: str
    visitor_bits: int
    identified_in_widget: bool  # widget visitors who also gave their email
    tickets: list[PlannedTicket] = field(default_factory=list)


class HistoryPlanner:
    def __init__(self, workspace: Workspace, *, rng: random.Random, now: datetime, days: int):
        self.rng = rng
        self.now = now
        self.latest = now - timedelta(minutes=5)
        self.window = timedelta(days=days)
        self.inboxes = [inbox for inbox in workspace.inboxes if inbox.member_ids]
        self.inbox = Weighted(tuple(self.inboxes), tuple(inbox.weight for inbox in self.inboxes))
        self.agent_names = workspace.agent_names
        self.label_names = sorted(workspace.label_ids)

    def contacts(self, ticket_count: int) -> list[PlannedContact]:
        """Contacts with exactly `ticket_count` tickets between them."""
        contacts = []
        while ticket_count > 0:
            contact = self._contact(ticket_count)
            ticket_count -= len(contact.tickets)
            contacts.append(contact)
        return contacts

    def _contact(self, max_tickets: int) -> PlannedContact:
        rng = self.rng
        language = LANGUAGE.pick(rng)
        phrases = PHRASES[language]
        first, last = rng.choice(phrases.first_names), rng.choice(phrases.last_names)
        if language == "zh-hans":
            name = greeting_name = last[0] + first[0]
            stem = f"{first[1]}.{last[1]}"
        else:
            name, greeting_name, stem = f"{first} {last}", first, f"{first}.{last}".lower()
        contact = PlannedContact(
            name=name, language=language, email_address_stem=stem,
            email_domain=rng.choice(EMAIL_DOMAINS),
            phone_prefix=rng.choice(PHONE_PREFIXES[language]), visitor_bits=rng.getrandbits(96),
            identified_in_widget=rng.random() < 0.5,
        )
        wanted = min(max_tickets, TICKETS_PER_CONTACT.pick(rng))
        at = self.latest - self.window * rng.random() ** RECENCY_SKEW
        used: list[DemoInbox] = []
        while len(contact.tickets) < wanted and at <= self.latest:
            inbox = self._inbox(avoid=used)
            ticket = self._ticket(
                inbox, at, phrases, greeting_name, settled=len(contact.tickets) + 1 < wanted
            )
            if inbox.channel in MESSAGING_CHANNELS:
                ticket.parent_index = next(
                    (i for i in range(len(used) - 1, -1, -1)
                     if used[i].channel in MESSAGING_CHANNELS), None
                )
            contact.tickets.append(ticket)
            used.append(inbox)
            settled_at = ticket.events[-1].at
            at = settled_at + timedelta(days=rng.uniform(*NEXT_TICKET_DAYS))
        return contact

    def _inbox(self, avoid: list[DemoInbox]) -> DemoInbox:
        rng, inbox = self.rng, self.inbox.pick(self.rng)
        # Most returning customers come back on another channel.
        while inbox in avoid and len(avoid) < len(self.inboxes) and rng.random() < 0.8:
            inbox = self.inbox.pick(rng)
        return inbox

    def _ticket(self, inbox: DemoInbox, created_at: datetime, phrases, greeting_name: str,
                *, settled: bool) -> PlannedTicket:
        rng = self.rng
        if settled:
            status = S.RESOLVED if rng.random() < 0.75 else S.CLOSED
        else:
            age = self.now - created_at
            status = next(w for limit, w in STATUS_BY_AGE if age < limit).pick(rng)
        answered = status != S.OPEN or rng.random() < 0.7
        assignee = rng.choice(inbox.member_ids) if answered else None
        order = str(rng.randint(100000, 999999))
        ticket = PlannedTicket(
            inbox=inbox, subject=_fill(rng.choice(phrases.subjects), order), status=status,
            priority=PRIORITY.pick(rng), assignee_id=assignee,
            label_names=sorted(rng.sample(self.label_names, LABELS_PER_TICKET.pick(rng)))
            if answered else [],
            messages=[], events=[],
        )
        directions = self._directions(status, answered)
        times = self._times(created_at, directions)
        writer = _TextWriter(rng, phrases, inbox.channel, greeting_name, order)
        for index, (direction, at) in enumerate(zip(directions, times, strict=True)):
            if direction == IN:
                body, author = writer.customer(first=index == 0), None
            elif direction == OUT:
                body, author = writer.reply(self.agent_names[assignee]), assignee
            else:
                author = assignee if rng.random() < 0.7 else rng.choice(inbox.member_ids)
                body = writer.note()
            ticket.messages.append(PlannedMessage(direction, at, body, author))
        self._events(ticket)
        return ticket

    def _directions(self, status: str, answered: bool) -> list[str]:
        rng = self.rng
        if not answered:
            return [IN] * rng.randint(2, 3)
        directions = [IN]
        for _ in range(rng.randint(1, 7)):
            roll, previous = rng.random(), directions[-1]
            if previous == IN:
                directions.append(OUT if roll < 0.75 else NOTE if roll < 0.9 else IN)
            elif previous == OUT:
                directions.append(IN if roll < 0.8 else NOTE)
            else:
                directions.append(OUT if roll < 0.7 else IN)
        # Pending and settled tickets wait on the customer: an agent replied last.
        if status != S.OPEN:
            directions[-1] = OUT
        elif rng.random() < 0.7:
            directions[-1] = IN
        if OUT not in directions:
            directions[1] = OUT
        return directions

    def _times(self, created_at: datetime, directions: list[str]) -> list[datetime]:
        rng = self.rng
        gaps, waited_for_agent = [], True
        for direction in directions[1:]:
            if direction != IN and waited_for_agent:  # first response: minutes to hours
                seconds = min(max(rng.expovariate(1 / 7200), 60), 2 * 86400)
                waited_for_agent = False
            else:
                seconds = min(max(rng.expovariate(1 / 21600), 30), 3 * 86400)
            gaps.append(seconds)
        room = (self.latest - created_at).total_seconds()
        scale = min(1.0, room / sum(gaps)) if gaps else 1.0
        times, elapsed = [created_at], 0.0
        for seconds in gaps:
            elapsed += seconds * scale
            times.append(created_at + timedelta(seconds=elapsed))
        return times

    def _events(self, ticket: PlannedTicket) -> None:
        """Message events in order, the assignment before the first agent message, a
        resolve-reopen cycle on some resolved tickets, then the final status change."""
        rng, messages, events = self.rng, ticket.messages, ticket.events
        assignee = ticket.assignee_id
        channel = ticket.inbox.channel
        first_agent = next((i for i, m in enumerate(messages) if m.direction != IN), None)
        reopen_at = None
        if ticket.status == S.RESOLVED and len(messages) >= 4 and rng.random() < 0.15:
            reopen_at = next((i for i in range(2, len(messages) - 1)
                              if messages[i].direction == IN and messages[i - 1].direction == OUT),
                             None)
        for index, message in enumerate(messages):
            if index == first_agent:
                before, gap = messages[index - 1].at, message.at - messages[index - 1].at
                events.append(PlannedEvent(E.ASSIGNED, before + gap / 2, assignee,
                                           data={"agent": assignee, "from": None}))
                if ticket.label_names:
                    events.append(PlannedEvent(E.LABELED, before + gap * 3 / 4, assignee,
                                               data={"added": ticket.label_names, "removed": []}))
            if index == reopen_at:
                previous = messages[index - 1].at
                events.append(PlannedEvent(E.RESOLVED, previous + (message.at - previous) / 3,
                                           assignee, data={"from": S.OPEN, "to": S.RESOLVED}))
                events.append(PlannedEvent(E.REOPENED, message.at, data={"by": "customer"}))
            events.append(_message_event(message, index, channel))
        last = messages[-1].at
        if ticket.status in (S.PENDING, S.SNOOZED):
            events.append(PlannedEvent(E.STATUS_CHANGED, last + timedelta(minutes=1), assignee,
                                       data={"from": S.OPEN, "to": ticket.status}))
            if ticket.status == S.SNOOZED:
                ticket.snoozed_until = self.now + timedelta(hours=rng.uniform(2, 120))
        elif ticket.status in (S.RESOLVED, S.CLOSED):
            resolved = min(last + timedelta(minutes=rng.uniform(10, 2880)),
                           self.now - timedelta(minutes=1))
            ticket.resolved_at = resolved
            events.append(PlannedEvent(E.RESOLVED, resolved, assignee,
                                       data={"from": S.OPEN, "to": S.RESOLVED}))
            if ticket.status == S.CLOSED:
                closed = min(resolved + timedelta(days=rng.uniform(1, 5)),
                             self.now - timedelta(seconds=30))
                events.append(PlannedEvent(E.CLOSED, closed,
                                           data={"from": S.RESOLVED, "to": S.CLOSED}))


_MESSAGE_EVENT_TYPES = {IN: E.MESSAGE_IN, OUT: E.MESSAGE_OUT, NOTE: E.NOTE}


def _message_event(message: PlannedMessage, index: int, channel: str) -> PlannedEvent:
    author_type = (
        Message.AuthorType.CONTACT if message.direction == IN else Message.AuthorType.AGENT
    )
    return PlannedEvent(
        _MESSAGE_EVENT_TYPES[message.direction], message.at, message.author_agent_id, index,
        {"author_type": author_type, "channel": "" if message.direction == NOTE else channel},
    )


def _fill(text: str, order: str) -> str:
    return text.replace("{order}", order) if "{order}" in text else text


class _TextWriter:
    """Message bodies for one ticket: emails get greetings and sign-offs, chats stay short."""

    def __init__(self, rng: random.Random, phrases, channel: str, customer_name: str, order: str):
        self.rng, self.phrases, self.order = rng, phrases, order
        self.is_email = channel == Channel.EMAIL
        self.customer_name = customer_name

    def customer(self, *, first: bool) -> str:
        rng, p = self.rng, self.phrases
        if not first:
            return _fill(rng.choice(p.followups), self.order)
        text = rng.choice(p.openings)
        if rng.random() < 0.5:
            text += p.separator + _fill(rng.choice(p.details), self.order)
        if not self.is_email:
            return text
        greeting, closing = rng.choice(p.greetings), rng.choice(p.closings)
        signature = f"{closing}\n{self.customer_name}" if closing else self.customer_name
        return "\n\n".join(part for part in (greeting, text, signature) if part)

    def reply(self, agent_name: str) -> str:
        rng, p = self.rng, self.phrases
        greeting = rng.choice(p.agent_greetings).replace("{name}", self.customer_name)
        text = rng.choice(p.replies)
        if self.is_email:
            return f"{greeting}\n\n{text}\n\n{p.sign_off.replace('{agent}', agent_name)}"
        return f"{greeting}\n{text}" if rng.random() < 0.5 else text

    def note(self) -> str:
        return self.rng.choice(self.phrases.notes)
