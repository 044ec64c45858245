"""Reads of the agent inbox. Ticket queries start from `inbox.selectors`, so the rule that
an agent sees only their inboxes' tickets holds on every list, count and page."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Substr

from inbox.models import Agent, Contact, Inbox, Label, Message, Team, Ticket, TicketEvent
from inbox.selectors import inbox_ids_for_agent, ticket_list_for_agent, ticket_visible_to
from inbox.services.messages import CHANNEL_IDENTITY_KINDS, reply_channel_pick

from .models import CannedResponse, Notification, SavedFilter
from .presenters import event_agent_ids

PAGE_SIZE = 50
# Counts stop at this many rows: "1k+" costs one short index range scan at any size.
COUNT_CAP = 1000
TIMELINE_WINDOW = 50
_MESSAGE_EVENTS = (TicketEvent.Type.MESSAGE_IN, TicketEvent.Type.MESSAGE_OUT, TicketEvent.Type.NOTE)


@dataclass(frozen=True)
class Cursor:
    """The sort key of the last row of a page: (last_activity_at, id), newest first."""

    at: datetime
    id: int

    def encode(self) -> str:
        return f"{self.at.isoformat()}_{self.id}"


@dataclass(frozen=True)
class TicketPage:
    tickets: list[Ticket]
    next: Cursor | None


def with_preview(tickets: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Each ticket's latest message, shortened: one lookup by (ticket, seq) per row."""
    latest = Message.objects.filter(ticket_id=OuterRef("pk"), seq=OuterRef("last_seq"))
    return tickets.annotate(preview=Subquery(latest.values(text=Substr("body_text", 1, 160))[:1]))


def ticket_page(*, tickets: QuerySet[Ticket], after: Cursor | None,
                size: int | None = None) -> TicketPage:
    """One keyset page: an index range scan however deep, and no COUNT(*)."""
    size = size or PAGE_SIZE
    tickets = with_preview(tickets).order_by("-last_activity_at", "-id")
    if after is not None:
        tickets = tickets.filter(
            Q(last_activity_at__lt=after.at) | Q(last_activity_at=after.at, id__lt=after.id)
        )
    rows = list(tickets[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    return TicketPage(rows, Cursor(rows[-1].last_activity_at, rows[-1].pk) if more else None)


def capped_count(tickets: QuerySet) -> int:
    """min(count, COUNT_CAP + 1): counting stops after the cap."""
    return tickets.order_by().values("pk")[: COUNT_CAP + 1].count()


def count_label(count: int) -> str:
    if count <= COUNT_CAP:
        return str(count)
    return f"{COUNT_CAP // 1000}k+" if COUNT_CAP % 1000 == 0 else f"{COUNT_CAP}+"


@dataclass(frozen=True)
class NavItem:
    key: str
    label: str
    params: dict
    count: int | None = None

    @property
    def count_label(self) -> str:
        return "" if self.count is None else count_label(self.count)


# Sections whose counts an index answers (inbox/assignee/status first); teams and labels
# would scan every ticket they ever had to find the unresolved ones, so they show no count.
COUNTED_SECTIONS = ("views", "inboxes", "statuses")


def nav_sections(*, agent: Agent, with_counts: bool = True) -> dict[str, list[NavItem]]:
    """The list views of the sidebar (unresolved tickets unless a status is chosen), with
    capped counts where they stay cheap."""
    from django.utils.translation import gettext as _

    inboxes = inbox_list_for_agent(agent=agent)
    sections = {
        "views": [
            NavItem("mine", _("Mine"), {"assignee": "me"}),
            NavItem("unassigned", _("Unassigned"), {"assignee": "none"}),
            NavItem("all", _("All"), {}),
        ],
        "inboxes": [NavItem(f"inbox-{i.pk}", i.name, {"inbox": i.pk}) for i in inboxes],
        "teams": [NavItem(f"team-{t.pk}", t.name, {"team": t.pk})
                  for t in Team.objects.order_by("name")],
        "labels": [NavItem(f"label-{name}", name, {"label": name})
                   for name in Label.objects.order_by("name").values_list("name", flat=True)],
        "statuses": [NavItem(f"status-{value}", str(label), {"status": value})
                     for value, label in Ticket.Status.choices],
    }
    if not with_counts:
        return sections
    for name in COUNTED_SECTIONS:
        sections[name] = [
            NavItem(item.key, item.label, item.params, capped_count(
                ticket_list_for_agent(agent=agent, **list_filters(params=item.params))))
            for item in sections[name]
        ]
    return sections


def list_filters(*, params: dict) -> dict:
    """The keyword arguments of `ticket_list_for_agent` for validated list parameters.
    Without a status, a view shows the unresolved tickets."""
    status = params.get("status") or "unresolved"
    return {
        "status": None if status == "any" else
        list(Ticket.UNRESOLVED) if status == "unresolved" else [status],
        "assignee": params.get("assignee") or None,
        "inbox": params.get("inbox"),
        "team": params.get("team"),
        "label": params.get("label") or None,
        "channel": params.get("channel") or None,
        "q": params.get("q") or None,
    }


def inbox_list_for_agent(*, agent: Agent) -> QuerySet[Inbox]:
    inbox_ids = inbox_ids_for_agent(agent)
    inboxes = Inbox.objects.order_by("name")
    return inboxes if inbox_ids is None else inboxes.filter(pk__in=inbox_ids)


def ticket_matches(*, agent: Agent, ticket_id: int, params: dict) -> bool:
    """Whether a ticket belongs in a list view (live updates add or drop rows)."""
    return ticket_list_for_agent(agent=agent, **list_filters(params=params)).filter(
        pk=ticket_id).exists()


@dataclass(frozen=True)
class TimelineWindow:
    entries: list[dict]
    agent_names: dict[int, str]  # agents named by assignment events
    earlier_before_seq: int | None = None  # where "load earlier" continues; None: the start


def _messages_with_authors(messages: QuerySet[Message]) -> QuerySet[Message]:
    return messages.select_related("author_agent", "author_contact", "ticket").prefetch_related(
        "attachments")


def _window(messages: list[Message], events: QuerySet[TicketEvent],
            earlier: int | None = None) -> TimelineWindow:
    events = list(events.select_related("actor"))
    ids = event_agent_ids(events)
    names = {agent.pk: agent.name for agent in Agent.objects.filter(pk__in=ids)} if ids else {}
    entries = [{"kind": "message", "at": m.created_at, "message": m} for m in messages]
    entries += [{"kind": "event", "at": e.at, "event": e} for e in events]
    return TimelineWindow(sorted(entries, key=_timeline_order), names, earlier)


def timeline_window(*, ticket: Ticket, before_seq: int | None = None,
                    limit: int | None = None) -> TimelineWindow:
    """The latest `limit` messages before `before_seq` and the events among them, in time
    order: a ticket page costs about the same with 5 messages or 5,000."""
    messages = ticket.messages.order_by("-seq")
    if before_seq is not None:
        messages = messages.filter(seq__lt=before_seq)
    messages = list(_messages_with_authors(messages)[:limit or TIMELINE_WINDOW])
    messages.reverse()
    events = ticket.events.exclude(type__in=_MESSAGE_EVENTS)
    earlier = messages[0].seq if messages and messages[0].seq > 1 else None
    if earlier is not None:
        events = events.filter(at__gte=messages[0].created_at)
    if before_seq is not None:
        boundary = ticket.messages.filter(seq=before_seq).values_list("created_at", flat=True)
        events = events.filter(at__lt=Subquery(boundary[:1]))
    return _window(messages, events, earlier)


def timeline_after(*, ticket: Ticket, after_seq: int, after_event: int) -> TimelineWindow:
    """Entries newer than what a page shows: what live updates append."""
    messages = _messages_with_authors(ticket.messages.filter(seq__gt=after_seq).order_by("seq"))
    events = ticket.events.exclude(type__in=_MESSAGE_EVENTS).filter(pk__gt=after_event)
    return _window(list(messages), events)


def _timeline_order(entry: dict) -> tuple:
    # The order of inbox.selectors.ticket_timeline: at equal times the ticket's creation,
    # then messages, then the changes they caused.
    if entry["kind"] == "message":
        return entry["at"], 1, entry["message"].seq
    return entry["at"], 0 if entry["event"].type == TicketEvent.Type.CREATED else 2, \
        entry["event"].pk


def reply_channels(*, ticket: Ticket) -> tuple[str, list[str]]:
    """The composer's channel picker: the default (the customer's latest channel) and every
    channel the contact can be reached on."""
    default, _ = reply_channel_pick(ticket=ticket, channel=None)
    kinds = set(ticket.contact.identities.values_list("kind", flat=True))
    reachable = [channel for channel, needs in CHANNEL_IDENTITY_KINDS.items() if kinds & needs]
    return default, sorted(set(reachable) | {default}, key=lambda c: (c != default, c))


def assignable_agents(*, ticket: Ticket) -> QuerySet[Agent]:
    """Who a ticket may be assigned to: members of its inbox, and admins."""
    return (Agent.objects.filter(is_active=True)
            .filter(Q(inboxes=ticket.inbox_id) | Q(role=Agent.Role.ADMIN) | Q(is_superuser=True))
            .distinct().order_by("display_name", "username"))


def contact_tickets(*, agent: Agent, contact: Contact, limit: int = 20) -> list[Ticket]:
    """The contact's tickets the agent may see, on every channel, newest first."""
    return list(ticket_visible_to(agent).filter(contact=contact).select_related("inbox")
                .order_by("-last_activity_at", "-id")[:limit])


def contact_timeline_recent(*, agent: Agent, contact: Contact,
                            limit: int = 100) -> TimelineWindow:
    """The latest messages of every ticket of the contact the agent may see, oldest first:
    the one customer timeline across channels."""
    from inbox.selectors import contact_timeline

    messages = list(contact_timeline(agent=agent, contact=contact).reverse()[:limit])
    messages.reverse()
    return _window(messages, TicketEvent.objects.none())


def contact_message_count(*, agent: Agent, contact: Contact) -> int:
    return Message.objects.filter(ticket__in=ticket_visible_to(agent).filter(contact=contact)
                                  ).count()


def notification_list(*, agent: Agent, limit: int = 50) -> list[Notification]:
    return list(Notification.objects.filter(agent=agent)
                .select_related("ticket", "message", "by")[:limit])


def notification_unread_count(*, agent: Agent) -> int:
    return Notification.objects.filter(agent=agent, read_at__isnull=True).count()


def saved_filter_get(*, agent: Agent, filter_id: int) -> SavedFilter | None:
    return SavedFilter.objects.filter(agent=agent, pk=filter_id).first()


def saved_filter_list(*, agent: Agent) -> QuerySet[SavedFilter]:
    return SavedFilter.objects.filter(agent=agent)


def label_names() -> list[str]:
    return list(Label.objects.order_by("name").values_list("name", flat=True))


def canned_response_list() -> QuerySet[CannedResponse]:
    return CannedResponse.objects.all()
