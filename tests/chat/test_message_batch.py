"""Visitors' messages written in batches (group commit): `visitor_messages_send`,
`inbox.services.batch.messages_ingest` and the sockets' `chat.writer`."""

import asyncio
import uuid
from unittest import mock

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat import services, writer
from chat.models import WidgetUpload
from chat.services import VisitorSend
from inbox import realtime
from inbox.errors import Conflict, InvalidInput, NotFound
from inbox.models import Inbox, Message, Ticket, TicketEvent
from inbox.services import batch as batch_module
from inbox.services import ticket_set_status
from tests.chat.test_widget_protocol import next_of, open_socket, send, start_session
from tests.factories import AgentFactory, InboxFactory


def _visitor(inbox, first="hello"):
    """A widget session with an open conversation (its first message already stored)."""
    session, token = services.widget_session_start(inbox_key=inbox.key)
    message, _ = services.visitor_message_send(session=session, client_id=uuid.uuid4(),
                                               body=first)
    return session, message.ticket, token


def _send(session, body, ticket=None, client_id=None, **extra):
    return VisitorSend(session=session, client_id=client_id or uuid.uuid4(), body=body,
                       ticket_id=ticket.pk if ticket else None, **extra)


@pytest.mark.django_db(transaction=True)
def test_a_mixed_batch_gives_each_send_what_sending_it_alone_would():
    inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
    agent = AgentFactory()
    a, ticket_a, _ = _visitor(inbox)
    b, ticket_b, _ = _visitor(inbox)
    c, ticket_c, _ = _visitor(inbox)
    ticket_set_status(ticket=ticket_c, status=Ticket.Status.RESOLVED, by=agent)
    d, _ = services.widget_session_start(inbox_key=inbox.key)
    stored_earlier = Message.objects.get(ticket=ticket_a)
    repeated = uuid.uuid4()
    sends = [
        _send(a, "a1", ticket_a, client_id=repeated),
        _send(b, "b1", ticket_b),
        _send(a, "a2", ticket_a),
        _send(a, "a1 again", ticket_a, client_id=repeated),  # a resend within the batch
        _send(b, "into a's ticket", ticket_a),
        _send(a, "x" * (services.MAX_BODY_CHARS + 1), ticket_a),
        _send(a, "   ", ticket_a),
        _send(c, "back again", ticket_c),  # resolved: reopened by the ordinary path
        _send(d, "first words"),  # no ticket yet: opens one
        _send(a, "a0 resent", ticket_a, client_id=stored_earlier.client_id),
        _send(b, "b's claim on a's id", ticket_b, client_id=stored_earlier.client_id),
    ]

    outcomes = services.visitor_messages_send(sends=sends)

    a1, b1, a2, a1_again, foreign, too_long, empty, c1, d1, a0, claimed = outcomes
    assert [(m.ticket_id, m.seq, m.body_text) for m in (a1, a2)] == [
        (ticket_a.pk, 2, "a1"), (ticket_a.pk, 3, "a2")]
    assert (b1.ticket_id, b1.seq) == (ticket_b.pk, 2)
    assert a1_again.pk == a1.pk and a0.pk == stored_earlier.pk
    assert isinstance(foreign, NotFound)
    assert isinstance(too_long, InvalidInput) and too_long.code == "too_long"
    assert isinstance(empty, InvalidInput) and empty.code == "empty"
    assert isinstance(claimed, Conflict)
    ticket_c.refresh_from_db()
    assert (c1.ticket_id, c1.seq, ticket_c.status) == (ticket_c.pk, 2, Ticket.Status.OPEN)
    assert d1.ticket.contact_id == d.contact.pk and d1.seq == 1
    ticket_a.refresh_from_db()
    assert ticket_a.last_seq == 3
    assert list(ticket_a.messages.order_by("seq").values_list("seq", "body_text")) == [
        (1, "hello"), (2, "a1"), (3, "a2")]
    assert a1.author_contact_id == a.contact.pk and a1.direction == Message.Direction.INBOUND
    # Every stored message has its timeline event, as when sent alone.
    for message in (a1, a2, b1, c1, d1):
        assert TicketEvent.objects.filter(message=message,
                                          type=TicketEvent.Type.MESSAGE_IN).count() == 1
    assert Message.objects.count() == 3 + 5


@pytest.mark.django_db(transaction=True)
def test_a_later_send_waits_behind_an_earlier_one_with_files():
    """A visitor's message with a file takes the ordinary path; their next message in the
    same batch must not overtake it."""
    inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
    a, ticket, _ = _visitor(inbox)
    upload = services.visitor_upload(session=a, name="receipt.pdf",
                                     content_type="application/pdf", content=b"%PDF-1.4")
    outcomes = services.visitor_messages_send(sends=[
        _send(a, "see attached", ticket, attachment_ids=[upload.pk]),
        _send(a, "and this", ticket),
    ])
    assert [(m.seq, m.body_text) for m in outcomes] == [(2, "see attached"), (3, "and this")]
    assert [a.name for a in outcomes[0].attachments.all()] == ["receipt.pdf"]
    # The upload was moved into the message: its row and (after commit) its file are gone.
    assert not WidgetUpload.objects.filter(pk=upload.pk).exists()
    assert not upload.file.storage.exists(upload.file.name)
    assert outcomes[0].attachments.get().file.read() == b"%PDF-1.4"


@pytest.mark.django_db(transaction=True)
def test_a_batch_sends_its_live_events_in_order_in_one_hop():
    inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
    a, ticket_a, _ = _visitor(inbox)
    b, ticket_b, _ = _visitor(inbox)
    with mock.patch.object(realtime, "_send_all") as send_all:
        outcomes = services.visitor_messages_send(sends=[
            _send(a, "one", ticket_a), _send(b, "two", ticket_b), _send(a, "three", ticket_a)])
    assert send_all.call_count == 1
    (events,), _ = send_all.call_args
    assert [(groups[0], message["event"], message["payload"]["body"])
            for groups, message in events] == [
        (f"inbox.{inbox.pk}", "message.new", "one"),
        (f"inbox.{inbox.pk}", "message.new", "two"),
        (f"inbox.{inbox.pk}", "message.new", "three")]
    assert [message["payload"]["id"] for _, message in events] == [m.pk for m in outcomes]


@pytest.mark.django_db(transaction=True)
def test_a_ticket_no_longer_open_when_its_seqs_are_taken_undoes_the_batch():
    """The seq UPDATE only touches tickets still open (on PostgreSQL they are locked when
    read; SQLite has no row locks): if one is not, the batch's appends are undone and its
    messages take the ordinary path one by one."""
    inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
    a, ticket, _ = _visitor(inbox)
    b, other, _ = _visitor(inbox)
    take = batch_module._seqs_take

    def resolved_meanwhile(arrivals):
        Ticket.objects.filter(pk=ticket.pk).update(status=Ticket.Status.RESOLVED,
                                                   resolved_at=timezone.now())
        return take(arrivals)

    ordinary = mock.Mock(wraps=batch_module.message_ingest)
    with mock.patch.object(batch_module, "_seqs_take", resolved_meanwhile), \
            mock.patch.object(batch_module, "message_ingest", ordinary):
        first, second = services.visitor_messages_send(sends=[
            _send(b, "meanwhile", other), _send(a, "still there?", ticket)])
    assert [c.kwargs["data"].body_text for c in ordinary.call_args_list] == [
        "meanwhile", "still there?"]
    assert [(m.ticket_id, m.seq) for m in (first, second)] == [(other.pk, 2), (ticket.pk, 2)]
    assert Message.objects.count() == 4
    assert TicketEvent.objects.filter(type=TicketEvent.Type.MESSAGE_IN).count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_copy_stored_while_the_batch_runs_leaves_one_message():
    """The unique (inbox, client_id) decides a race: the batch's appends roll back to their
    savepoint and the ordinary path stores the message once."""
    inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
    a, ticket, _ = _visitor(inbox)
    client_id = uuid.uuid4()
    take = batch_module._seqs_take

    def racing_writer(arrivals):
        services.visitor_message_send(session=a, client_id=client_id, body="racer",
                                      ticket_id=ticket.pk)
        return take(arrivals)

    with mock.patch.object(batch_module, "_seqs_take", racing_writer):
        (message,) = services.visitor_messages_send(
            sends=[_send(a, "racer", ticket, client_id=client_id)])
    assert Message.objects.filter(client_id=client_id).count() == 1
    assert Message.objects.get(client_id=client_id).pk == message.pk
    assert list(ticket.messages.order_by("seq").values_list("seq", flat=True)) == [1, 2]


@pytest.mark.django_db(transaction=True)
async def test_sockets_sending_at_once_share_batches_and_each_get_their_ack():
    inbox = await database_sync_to_async(InboxFactory)(kind=Inbox.Kind.WIDGET)
    visitors = [await start_session(inbox) for _ in range(12)]
    sockets = [await open_socket(token) for _, token in visitors]
    for ws in sockets:
        await next_of(ws, "welcome")
    first = await asyncio.gather(*(send(ws, "opening") for ws in sockets))
    tickets = [(await next_of(ws, "message.ack"))["message"]["ticket_id"] for ws in sockets]
    assert len(set(tickets)) == 12 and len(first) == 12

    real = services.visitor_messages_send
    batch_sizes = []

    def counting(*, sends):
        batch_sizes.append(len(sends))
        return real(sends=sends)

    with mock.patch.object(services, "visitor_messages_send", counting):
        client_ids = await asyncio.gather(*(
            send(ws, f"second from {n}", ticket_id=tickets[n]) for n, ws in enumerate(sockets)))
        acks = [await next_of(ws, "message.ack") for ws in sockets]
    assert [ack["client_id"] for ack in acks] == client_ids
    assert [(ack["message"]["ticket_id"], ack["message"]["seq"]) for ack in acks] == [
        (ticket_id, 2) for ticket_id in tickets]
    assert sum(batch_sizes) == 12 and len(batch_sizes) < 12
    for ws in sockets:
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_failed_batch_is_written_again_one_message_at_a_time():
    inbox = await database_sync_to_async(InboxFactory)(kind=Inbox.Kind.WIDGET)
    sessions = [await database_sync_to_async(_visitor)(inbox) for _ in range(3)]
    real = services.visitor_messages_send
    shared = []

    def failing_when_shared(*, sends):
        if len(sends) > 1:
            shared.append(len(sends))
            raise OperationalError("server closed the connection unexpectedly")
        return real(sends=sends)

    with mock.patch.object(services, "visitor_messages_send", failing_when_shared):
        results = await asyncio.gather(*(
            writer.writer().send(_send(session, f"hi {n}", ticket))
            for n, (session, ticket, _) in enumerate(sessions)))
        with pytest.raises(NotFound):  # a refusal still reaches its own sender only
            await writer.writer().send(_send(sessions[0][0], "nope", sessions[1][1]))
    assert shared == [3]
    assert [(r["ticket_id"], r["seq"], r["body"]) for r in results] == [
        (ticket.pk, 2, f"hi {n}") for n, (_, ticket, _) in enumerate(sessions)]


@pytest.mark.django_db(transaction=True)
async def test_writes_and_acks_go_on_while_the_live_events_wait_for_the_layer(settings):
    """The database thread hands a batch's live events to the event loop and goes on to the
    next batch: a slow channel layer delays the events, not the writes or the acks, and the
    events still leave in order."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    inbox = await database_sync_to_async(InboxFactory)(kind=Inbox.Kind.WIDGET)
    session, ticket, _ = await database_sync_to_async(_visitor)(inbox)
    layer = get_channel_layer()
    listener = await layer.new_channel()
    await layer.group_add(realtime.inbox_group(inbox.pk), listener)
    gate, group_send = asyncio.Event(), layer.group_send

    async def slow_group_send(group, message):
        await gate.wait()
        await group_send(group, message)

    with mock.patch.object(layer, "group_send", slow_group_send):
        try:
            first = await asyncio.wait_for(writer.writer().send(_send(session, "one", ticket)), 5)
            second = await asyncio.wait_for(writer.writer().send(_send(session, "two", ticket)),
                                            5)
            assert (first["seq"], second["seq"]) == (2, 3)
            with pytest.raises(asyncio.TimeoutError):  # held back by the layer
                await asyncio.wait_for(layer.receive(listener), 0.2)
        finally:
            gate.set()
        received = [await asyncio.wait_for(layer.receive(listener), 5) for _ in range(2)]
    assert [(m["event"], m["payload"]["body"]) for m in received] == [
        ("message.new", "one"), ("message.new", "two")]


@pytest.mark.django_db(transaction=True)
def test_a_batch_costs_the_same_statements_for_two_messages_or_twenty():
    """Group commit: text in open conversations costs a fixed number of statements per
    batch, whatever it holds. The tickets are read once, for the visitor's check and the
    appends together."""
    inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
    visitors = [_visitor(inbox) for _ in range(22)]

    def statements(group):
        with CaptureQueriesContext(connection) as queries:
            outcomes = services.visitor_messages_send(sends=[
                _send(session, "more", ticket) for session, ticket, _ in group])
        assert [(m.ticket_id, m.seq) for m in outcomes] == [(t.pk, 2) for _, t, _ in group]
        return [query["sql"].split()[0] for query in queries.captured_queries]

    two, twenty = statements(visitors[:2]), statements(visitors[2:])
    assert two == twenty
    # The tickets (locked), copies already stored, and whether any webhook is active.
    assert [sql for sql in twenty if sql == "SELECT"] == ["SELECT"] * 3
