"""`messages_ingest`: many inbound messages in one transaction (group commit).

A chat server receives many short messages at once, most of them continuing a conversation
that is already open. Written one transaction each, every message pays a commit, a dozen
statements and the ORM's work per statement. Written together, the common case costs a
few statements per batch, however many messages and conversations it holds; every other
message takes the ordinary path (`message_ingest`), in the same transaction.
"""

from collections import defaultdict

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from .. import domain_events
from ..errors import ServiceError
from ..models import Message, Ticket, TicketEvent
from ..sanitize import html_sanitize
from .ingest import InboundMessage, IngestResult, message_ingest
from .messages import attachments_known, message_event, message_publish

Outcome = IngestResult | ServiceError


def messages_ingest(*, batch: list[InboundMessage],
                    locked: dict[int, Ticket] | None = None) -> list[Outcome]:
    """Store `batch` in one transaction; one outcome per message, in order: its
    `IngestResult`, or the `ServiceError` that refused it (which costs no other message
    anything).

    `locked`: the batch's tickets by id, if the caller has already read them with
    `SELECT ... FOR UPDATE` in id order, in the transaction this call joins (a chat server
    reads them anyway, to check which the sender may write to); they are not read again.

    Messages that continue an open ticket (the sender's contact known, the ticket named,
    a client_id, no files) are appended together: one query finds copies already stored,
    one reads and locks the tickets (in id order, so concurrent batches lock them in the
    same order; none if the caller hands them over in `locked`), one UPDATE gives every
    ticket its seqs, one INSERT writes the messages and one their events. Every other
    message goes through `message_ingest` afterwards, each in its own savepoint: first
    messages, resolved or pending tickets, attachments. Per ticket the seqs follow the
    order of the batch: after a message of a ticket that must take the ordinary path, the
    ticket's later messages take it too.

    Idempotent like `message_ingest`: a message already stored, or sent twice in the batch,
    comes back with `created=False`. If another writer stores the same client_id while the
    batch runs (or, on SQLite, which has no row locks, a ticket leaves the open status), the
    batch's appends are rolled back and every message takes the ordinary path, which
    resolves the race.
    """
    outcomes: list[Outcome | None] = [None] * len(batch)
    # Its own transaction, or a part of the caller's (no savepoint: an error that escapes
    # fails the whole of it anyway).
    with transaction.atomic(savepoint=False):
        quick = _quick_indices(batch)
        if quick:
            try:
                with transaction.atomic():
                    appended = _append_to_open_tickets(batch, quick, locked)
            except (IntegrityError, _TicketsChanged):
                appended = {}
            for index, result in appended.items():
                outcomes[index] = result
        for index, data in enumerate(batch):
            if outcomes[index] is None:
                try:
                    outcomes[index] = message_ingest(data=data)
                except ServiceError as error:
                    outcomes[index] = error
    return outcomes


def _quick_indices(batch: list[InboundMessage]) -> list[int]:
    """The messages shaped for the common case, minus any that must wait for an earlier
    message of the same ticket taking the ordinary path."""
    quick, ordinary_tickets = [], set()
    for index, data in enumerate(batch):
        shaped = (data.contact is not None and data.ticket_id is not None
                  and data.client_id is not None and data.external_id is None
                  and data.thread is None and not data.attachments and data.raw is None)
        if shaped and data.ticket_id not in ordinary_tickets:
            quick.append(index)
        elif data.ticket_id is not None:
            ordinary_tickets.add(data.ticket_id)
    return quick


def _append_to_open_tickets(batch: list[InboundMessage], indices: list[int],
                            locked: dict[int, Ticket] | None) -> dict[int, IngestResult]:
    """Append the messages at `indices` whose ticket is open; the others are left out
    (for the ordinary path). Returns {index: result}."""
    keys = {index: (batch[index].inbox.pk, batch[index].client_id) for index in indices}
    stored = {
        (message.inbox_id, message.client_id): message
        for message in Message.objects.filter(
            inbox_id__in={inbox_id for inbox_id, _ in keys.values()},
            client_id__in={client_id for _, client_id in keys.values()},
        ).select_related("ticket")
    }
    tickets = locked if locked is not None else tickets_lock(
        Ticket.objects.all(), {batch[index].ticket_id for index in indices})
    results: dict[int, IngestResult] = {}
    by_ticket: dict[int, list[int]] = defaultdict(list)
    first_copy: dict[tuple, int] = {}  # a client_id sent twice in this batch
    repeats: list[tuple[int, int]] = []
    for index in indices:
        data, key = batch[index], keys[index]
        if key in stored:
            results[index] = IngestResult(message=stored[key], created=False)
            continue
        if key in first_copy:
            repeats.append((index, first_copy[key]))
            continue
        ticket = tickets.get(data.ticket_id)
        if (ticket is None or ticket.contact_id != data.contact.pk
                or ticket.status != Ticket.Status.OPEN):
            continue  # not found, or its status changes: the ordinary path decides
        first_copy[key] = index
        by_ticket[ticket.pk].append(index)

    times = {index: batch[index].at or timezone.now() for index in indices}
    _seqs_take({tickets[ticket_id]: [times[index] for index in members]
                for ticket_id, members in by_ticket.items()})
    placed: dict[int, Message] = {}
    for ticket_id, members in by_ticket.items():
        ticket = tickets[ticket_id]
        for seq, index in enumerate(members, start=ticket.last_seq - len(members) + 1):
            placed[index] = _inbound_message(batch[index], ticket, seq, times[index])
            results[index] = IngestResult(message=placed[index], created=True)
    # Written, and announced, in the batch's order.
    messages, announced = [placed[index] for index in sorted(placed)], []
    Message.objects.bulk_create(messages)
    TicketEvent.objects.bulk_create(message_event(message) for message in messages)
    for message in messages:
        attachments_known(message, [])
        message_publish(message)
        announced.append((domain_events.MESSAGE_CREATED,
                          {"ticket_id": message.ticket_id, "message_id": message.pk}))
    domain_events.emit_all(announced)
    for index, first in repeats:
        if first in results:
            results[index] = IngestResult(message=results[first].message, created=False)
    return results


def tickets_lock(tickets: QuerySet[Ticket], ids) -> dict[int, Ticket]:
    """Those of `tickets` with these ids, read and locked until commit, by id. Locked in id
    order: every batch takes them in the same order, so two processes' batches cannot
    deadlock, and their status and last seq cannot change until commit."""
    return {ticket.pk: ticket
            for ticket in tickets.select_for_update().filter(pk__in=ids).order_by("pk")}


class _TicketsChanged(Exception):
    """A ticket left the open status between the batch's read and its write (SQLite,
    which has no row locks): the batch's appends are undone."""


def _seqs_take(arrivals: dict[Ticket, list]) -> None:
    """Give each ticket as many seqs as it has messages arriving (their times listed), in
    one UPDATE, and move its last activity to the latest of them; the Ticket objects are
    updated to match.

    Written in SQL: a batch of a few hundred tickets as the ORM's `Case(When(...))` costs
    more in query building than everything else the batch does."""
    if not arrivals:
        return
    for ticket, times in arrivals.items():
        ticket.last_seq += len(times)
        ticket.last_activity_at = max(ticket.last_activity_at, *times)
    table = connection.ops.quote_name(Ticket._meta.db_table)
    ids = [ticket.pk for ticket in arrivals]
    seqs = [ticket.last_seq for ticket in arrivals]
    times = [connection.ops.adapt_datetimefield_value(ticket.last_activity_at)
             for ticket in arrivals]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} AS t SET last_seq = v.seq, last_activity_at = v.at "
                "FROM unnest(%s::bigint[], %s::integer[], %s::timestamptz[]) AS v(id, seq, at) "
                "WHERE t.id = v.id AND t.status = %s",
                [ids, seqs, times, Ticket.Status.OPEN.value])
        else:  # SQLite (3.33+: UPDATE ... FROM); its VALUES columns are column1, column2...
            rows = ", ".join(["(%s, %s, %s)"] * len(ids))
            cursor.execute(
                f"UPDATE {table} SET last_seq = v.column2, last_activity_at = v.column3 "
                f"FROM (VALUES {rows}) AS v WHERE {table}.id = v.column1 AND status = %s",
                [value for row in zip(ids, seqs, times) for value in row]
                + [Ticket.Status.OPEN.value])
        updated = cursor.rowcount
    if updated != len(arrivals):
        raise _TicketsChanged


def _inbound_message(data: InboundMessage, ticket: Ticket, seq: int, at) -> Message:
    return Message(
        ticket=ticket, inbox=data.inbox, seq=seq, direction=Message.Direction.INBOUND,
        channel=data.channel, author_type=Message.AuthorType.CONTACT,
        author_contact=data.contact, body_text=data.body_text,
        body_html=html_sanitize(data.body_html), client_id=data.client_id,
        is_auto_reply=data.is_auto_reply, metadata=data.metadata, created_at=at,
    )
