"""Selectors read; every ticket query an agent makes starts from `ticket_visible_to`."""

from django.db.models import Exists, OuterRef, Q, QuerySet

from .errors import NotFound
from .models import Agent, Contact, ContactIdentity, Inbox, Label, Message, Ticket, TicketEvent
from .search import ticket_search_filter


def inbox_ids_for_agent(agent: Agent) -> QuerySet | None:
    """The inboxes an agent works in, or None for admins (every inbox)."""
    if agent.is_admin:
        return None
    return Inbox.objects.filter(members=agent).values("id")


def ticket_visible_to(agent: Agent) -> QuerySet[Ticket]:
    inbox_ids = inbox_ids_for_agent(agent)
    tickets = Ticket.objects.all()
    return tickets if inbox_ids is None else tickets.filter(inbox_id__in=inbox_ids)


def ticket_get_for_agent(*, agent: Agent, ticket_id) -> Ticket:
    """A ticket the agent may see; any other id is reported as not found, never forbidden,
    so ids of other inboxes' tickets leak nothing."""
    try:
        return ticket_visible_to(agent).select_related("inbox", "contact", "assignee").get(
            pk=int(ticket_id)
        )
    except (Ticket.DoesNotExist, ValueError, TypeError):
        raise NotFound("Ticket not found.") from None


def ticket_list_for_agent(
    *,
    agent: Agent,
    status: list[str] | None = None,
    inbox: int | None = None,
    assignee: str | None = None,
    team: int | None = None,
    label: str | None = None,
    channel: str | None = None,
    q: str | None = None,
) -> QuerySet[Ticket]:
    """Tickets for list views, newest activity first (keyset-paginated by the caller)."""
    tickets = ticket_visible_to(agent)
    if status:
        tickets = tickets.filter(status__in=status)
    if inbox is not None:
        tickets = tickets.filter(inbox_id=inbox)
    if assignee == "me":
        tickets = tickets.filter(assignee=agent)
    elif assignee == "none":
        tickets = tickets.filter(assignee__isnull=True)
    elif assignee:
        tickets = tickets.filter(
            Q(assignee__email__iexact=assignee) if "@" in assignee else Q(assignee_id=assignee)
        )
    if team is not None:
        tickets = tickets.filter(team_id=team)
    if label:
        # Filter by the label's id, not by joining on its name: knowing the id, PostgreSQL
        # walks the activity index instead of sorting every ticket with that label.
        label_id = Label.objects.filter(name=label).values_list("id", flat=True).first()
        tickets = tickets.filter(labels=label_id) if label_id else tickets.none()
    if channel:
        tickets = tickets.filter(channel=channel)
    if q:
        tickets = tickets.filter(ticket_search_filter(q))
    return tickets.select_related("contact", "assignee", "inbox").prefetch_related("labels")


def message_list(*, ticket: Ticket, after_seq: int = 0, include_notes: bool) -> QuerySet[Message]:
    messages = ticket.messages.filter(seq__gt=after_seq)
    if not include_notes:
        messages = messages.exclude(direction=Message.Direction.NOTE)
    return messages.select_related(
        "ticket", "author_agent", "author_contact"
    ).prefetch_related("attachments").order_by("seq")


def ticket_timeline(*, ticket: Ticket) -> list[dict]:
    """Messages and events of one ticket, in time order."""
    entries = [
        {"kind": "message", "at": m.created_at, "message": m}
        for m in message_list(ticket=ticket, include_notes=True)
    ]
    entries += [
        {"kind": "event", "at": e.at, "event": e}
        for e in ticket.events.exclude(
            type__in=[TicketEvent.Type.MESSAGE_IN, TicketEvent.Type.MESSAGE_OUT,
                      TicketEvent.Type.NOTE]
        ).select_related("actor")
    ]
    return sorted(entries, key=_timeline_order)


def _timeline_order(entry: dict) -> tuple:
    # At equal times: the ticket's creation, then messages, then the changes they caused.
    if entry["kind"] == "message":
        return entry["at"], 1
    return entry["at"], 0 if entry["event"].type == TicketEvent.Type.CREATED else 2


def contact_visible_to(agent: Agent) -> QuerySet[Contact]:
    contacts = Contact.objects.filter(merged_into__isnull=True)
    inbox_ids = inbox_ids_for_agent(agent)
    if inbox_ids is None:
        return contacts
    return contacts.filter(
        Exists(Ticket.objects.filter(contact_id=OuterRef("pk"), inbox_id__in=inbox_ids))
    )


def contact_get_for_agent(*, agent: Agent, contact_id) -> Contact:
    try:
        return contact_visible_to(agent).get(pk=int(contact_id))
    except (Contact.DoesNotExist, ValueError, TypeError):
        raise NotFound("Contact not found.") from None


def contact_list_for_agent(*, agent: Agent, q: str | None = None) -> QuerySet[Contact]:
    contacts = contact_visible_to(agent)
    if q:
        contacts = contacts.filter(
            Q(name__icontains=q)
            | Exists(ContactIdentity.objects.filter(contact_id=OuterRef("pk"),
                                                    value__icontains=q.strip()))
        )
    return contacts.prefetch_related("identities")


def contact_timeline(*, agent: Agent, contact: Contact) -> QuerySet[Message]:
    """Every message of every ticket of the contact the agent may see, in time order."""
    return (
        Message.objects.filter(ticket__in=ticket_visible_to(agent).filter(contact=contact))
        .select_related("ticket", "author_agent", "author_contact")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )
