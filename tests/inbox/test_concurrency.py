"""Concurrent writers on PostgreSQL: real threads, real connections, real row locks."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from inbox.models import Channel, Contact, Inbox, Message, Ticket
from inbox.services import Identity, InboundMessage, message_ingest, message_reply
from tests.factories import AgentFactory, InboxFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

WRITERS = 8


def run_concurrently(func, count=WRITERS, per_writer=1):
    """Start `count` threads that call func(i) `per_writer` times, all released at once."""
    barrier = threading.Barrier(count)

    def worker(i):
        try:
            barrier.wait()
            return [func(i * per_writer + n) for n in range(per_writer)]
        finally:
            connection.close()

    with ThreadPoolExecutor(count) as pool:
        return [r for rs in pool.map(worker, range(count)) for r in rs]


def test_eight_writers_on_one_ticket_get_gap_free_unique_seq(postgres_only):
    inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
    agent = AgentFactory(role="admin")
    first = message_ingest(data=InboundMessage(
        inbox=inbox, channel=Channel.WIDGET, sender=[Identity("visitor", "v")], body_text="0",
    )).message
    ticket = first.ticket

    def write(i):
        if i % 2:
            return message_reply(ticket=ticket, agent=agent, body=f"reply {i}").seq
        return message_ingest(data=InboundMessage(
            inbox=inbox, channel=Channel.WIDGET, sender=[Identity("visitor", "v")],
            body_text=f"in {i}", external_id=f"ext-{i}",
        )).message.seq

    seqs = run_concurrently(write, per_writer=10)
    assert sorted(seqs) == list(range(2, 2 + WRITERS * 10))
    assert list(Message.objects.filter(ticket=ticket).values_list("seq", flat=True)
                .order_by("seq")) == list(range(1, 2 + WRITERS * 10))
    ticket.refresh_from_db()
    assert ticket.last_seq == 1 + WRITERS * 10


def test_concurrent_redelivery_stores_one_message(postgres_only):
    inbox = InboxFactory(kind=Inbox.Kind.TELEGRAM)

    def deliver(i):
        return message_ingest(data=InboundMessage(
            inbox=inbox, channel=Channel.TELEGRAM, sender=[Identity("telegram", "42")],
            body_text="hello", external_id="update-1",
        ))

    results = run_concurrently(deliver)
    assert sum(r.created for r in results) == 1
    assert {r.message.pk for r in results} == {Message.objects.get().pk}
    assert (Contact.objects.count(), Ticket.objects.count()) == (1, 1)


def test_concurrent_first_messages_from_new_contact_open_one_ticket(postgres_only):
    inbox = InboxFactory(kind=Inbox.Kind.WHATSAPP)

    def deliver(i):
        return message_ingest(data=InboundMessage(
            inbox=inbox, channel=Channel.WHATSAPP, sender=[Identity("whatsapp", "6281234")],
            body_text=f"part {i}", external_id=f"wamid.{i}",
        ))

    results = run_concurrently(deliver)
    assert all(r.created for r in results)
    assert (Contact.objects.count(), Ticket.objects.count()) == (1, 1)
    assert sorted(r.message.seq for r in results) == list(range(1, WRITERS + 1))


def test_concurrent_replies_to_a_resolved_email_ticket_reopen_it_once(postgres_only):
    """Email takes no contact lock: the ticket's row lock makes one reply reopen the ticket
    and the others find it open."""
    from datetime import timedelta

    from django.utils import timezone

    from inbox.models import TicketEvent
    from inbox.services import EmailThreadRefs, ticket_set_status

    inbox = InboxFactory(kind=Inbox.Kind.EMAIL)
    first = message_ingest(data=InboundMessage(
        inbox=inbox, channel=Channel.EMAIL, sender=[Identity("email", "ana@example.net")],
        body_text="help", external_id="<q@example.net>",
    )).message
    ticket_set_status(ticket=first.ticket, status=Ticket.Status.RESOLVED, by=None,
                      at=timezone.now() - timedelta(minutes=1))

    def reply(i):
        return message_ingest(data=InboundMessage(
            inbox=inbox, channel=Channel.EMAIL, sender=[Identity("email", f"p{i}@example.net")],
            body_text=f"reply {i}", external_id=f"<r{i}@example.net>",
            thread=EmailThreadRefs(in_reply_to="<q@example.net>"),
        ))

    results = run_concurrently(reply)
    assert {r.message.ticket_id for r in results} == {first.ticket_id}
    assert sum(r.reopened for r in results) == 1
    assert TicketEvent.objects.filter(ticket=first.ticket,
                                      type=TicketEvent.Type.REOPENED).count() == 1
    assert Ticket.objects.get(pk=first.ticket_id).status == Ticket.Status.OPEN


def test_batches_from_several_processes_on_the_same_tickets_neither_deadlock_nor_collide(
        postgres_only):
    """Batches lock their tickets in id order, whatever order their messages arrived in,
    and agents' replies interleave with them on the same tickets."""
    from inbox.services.batch import messages_ingest

    inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
    agent = AgentFactory(role="admin")
    tickets = []
    for n in range(5):
        first = message_ingest(data=InboundMessage(
            inbox=inbox, channel=Channel.WIDGET, sender=[Identity("visitor", f"v{n}")],
            body_text="hello")).message
        tickets.append(first.ticket)

    def write(i):
        if i % 4 == 3:
            ticket = tickets[i % 5]
            return [(ticket.pk, message_reply(ticket=ticket, agent=agent, body=f"r{i}").seq)]
        order = tickets if i % 2 else list(reversed(tickets))
        outcomes = messages_ingest(batch=[InboundMessage(
            inbox=inbox, channel=Channel.WIDGET, sender=[Identity("visitor", "unused")],
            contact=ticket.contact, ticket_id=ticket.pk, client_id=uuid.uuid4(),
            body_text=f"{i} to {ticket.pk}") for ticket in order for _ in range(2)])
        return [(r.message.ticket_id, r.message.seq) for r in outcomes]

    written = [pair for pairs in run_concurrently(write, per_writer=3) for pair in pairs]
    assert len(written) == len(set(written))
    for ticket in tickets:
        ticket.refresh_from_db()
        seqs = sorted(seq for ticket_id, seq in written if ticket_id == ticket.pk)
        assert seqs == list(range(2, ticket.last_seq + 1))
        assert list(ticket.messages.order_by("seq").values_list("seq", flat=True)) == list(
            range(1, ticket.last_seq + 1))


def test_a_visitor_naming_someone_elses_ticket_in_a_batch_locks_nothing(postgres_only):
    """The widget's batch reads and locks only the senders' own conversations: while it is
    being written, another writer can still take the ticket a sender named but does not
    own (the sender gets 'No such conversation.')."""
    from unittest import mock

    import psycopg

    from chat import services
    from inbox.errors import NotFound
    from inbox.services import batch

    inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
    sessions = [services.widget_session_start(inbox_key=inbox.key)[0] for _ in range(2)]
    tickets = [services.visitor_message_send(session=s, client_id=uuid.uuid4(),
                                             body="hello")[0].ticket for s in sessions]
    settings = connection.settings_dict
    other_writer_got = {}
    real = batch._seqs_take

    def meanwhile(arrivals):  # inside the batch's transaction, its tickets locked
        with psycopg.connect(host=settings["HOST"], port=settings["PORT"],
                             user=settings["USER"], password=settings["PASSWORD"],
                             dbname=settings["NAME"], autocommit=True) as other:
            for ticket in tickets:
                try:
                    other.execute("SELECT 1 FROM inbox_ticket WHERE id = %s FOR UPDATE NOWAIT",
                                  [ticket.pk])
                    other_writer_got[ticket.pk] = True
                except psycopg.errors.LockNotAvailable:
                    other_writer_got[ticket.pk] = False
        return real(arrivals)

    with mock.patch.object(batch, "_seqs_take", meanwhile):
        outcomes = services.visitor_messages_send(sends=[
            services.VisitorSend(session=sessions[0], client_id=uuid.uuid4(), body="mine",
                                 ticket_id=tickets[0].pk),
            services.VisitorSend(session=sessions[0], client_id=uuid.uuid4(), body="theirs",
                                 ticket_id=tickets[1].pk)])
    assert outcomes[0].body_text == "mine" and isinstance(outcomes[1], NotFound)
    assert other_writer_got == {tickets[0].pk: False, tickets[1].pk: True}
