"""How inbound messages are stored: files kept once per content, seq and activity taken in
one statement, and live events built only when they can be delivered."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels.testing import WebsocketCommunicator
from django.core.files.storage import default_storage
from django.utils import timezone

from chat.consumers import AgentConsumer
from inbox import realtime
from inbox.models import Attachment, Channel, Inbox
from inbox.services import AttachmentData, Identity, InboundMessage, message_ingest
from inbox.services.messages import attachment_file_store
from tests.factories import AgentFactory, InboxFactory

T0 = timezone.now().replace(microsecond=0) - timedelta(days=3)


def inbound(inbox, body, *, sender="v-1", attachments=(), at=None, external_id=None):
    return message_ingest(data=InboundMessage(
        inbox=inbox, channel=Channel.WIDGET, sender=[Identity("visitor", sender)],
        body_text=body, attachments=list(attachments), at=at, external_id=external_id,
    ))


@pytest.fixture
def widget(db, settings, tmp_path):
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media")},
    }}
    return InboxFactory(kind=Inbox.Kind.WIDGET, slug="widget")


def read(attachment):
    with attachment.file.open("rb") as handle:
        return handle.read()


def test_identical_files_are_stored_once_and_each_row_reads_its_content(widget):
    logo, report = b"\x89PNG logo bytes", b"%PDF-1.7 report"
    first = inbound(widget, "one", attachments=[
        AttachmentData("logo.png", logo, "image/png"),
        AttachmentData("report.pdf", report, "application/pdf"),
        AttachmentData("logo.png", logo, "image/png"),  # the same name and bytes twice
    ]).message
    second = inbound(widget, "two", sender="v-2", attachments=[
        AttachmentData("signature.png", logo, "image/png"),
    ]).message
    rows = list(Attachment.objects.order_by("id"))
    assert [(a.message_id, a.name, a.content_type, a.size) for a in rows] == [
        (first.pk, "logo.png", "image/png", len(logo)),
        (first.pk, "report.pdf", "application/pdf", len(report)),
        (first.pk, "logo.png", "image/png", len(logo)),
        (second.pk, "signature.png", "image/png", len(logo)),
    ]
    assert [read(a) for a in rows] == [logo, report, logo, logo]
    assert len({a.file.name for a in rows}) == 2  # one file per distinct content
    assert rows[0].file.name.startswith("attachments/sha256/")


def test_a_stored_copy_cut_short_is_not_reused(widget):
    content = b"a complete file" * 100
    name = attachment_file_store(default_storage, content)
    with default_storage.open(name, "wb") as handle:  # as if a write had been cut short
        handle.write(content[:10])
    attachment = inbound(widget, "again", attachments=[
        AttachmentData("file.bin", content)]).message.attachments.get()
    assert attachment.file.name != name
    assert read(attachment) == content


def test_seq_and_last_activity_move_together_and_never_back(widget):
    first = inbound(widget, "first", at=T0).message
    ticket = first.ticket
    later = inbound(widget, "later", at=T0 + timedelta(hours=2)).message
    earlier = inbound(widget, "late delivery", at=T0 + timedelta(hours=1)).message
    ticket.refresh_from_db()
    assert [first.seq, later.seq, earlier.seq] == [1, 2, 3]
    assert ticket.last_seq == 3
    assert ticket.last_activity_at == T0 + timedelta(hours=2)
    assert earlier.ticket.last_activity_at == T0 + timedelta(hours=2)


def test_muted_for_the_in_memory_layer_only(widget, live_events, settings):
    with live_events() as sent, realtime.process_local_muted():
        inbound(widget, "during an import")
    in_memory = isinstance(get_channel_layer(), InMemoryChannelLayer)
    assert sent == [] if in_memory else [event for event, _, _ in sent] == [
        "ticket.created", "message.new"]
    with live_events() as sent:
        inbound(widget, "afterwards", external_id="after")
    assert [event for event, _, _ in sent] == ["message.new"]


def test_a_payload_is_not_built_without_a_channel_layer(widget, monkeypatch,
                                                        django_capture_on_commit_callbacks):
    built = []
    monkeypatch.setattr(realtime, "get_channel_layer", lambda: None)
    with django_capture_on_commit_callbacks(execute=True):
        realtime.publish(["inbox.1"], "message.new", lambda: built.append(1) or {})
    assert built == []


@pytest.mark.django_db(transaction=True)
def test_an_agent_socket_gets_the_message_with_its_attachments(settings, tmp_path):
    """Payloads are built after the commit: the agent still receives the whole message."""
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(tmp_path / "media")},
    }}

    @database_sync_to_async
    def world():
        agent = AgentFactory(username="alice")
        return agent, InboxFactory(kind=Inbox.Kind.WIDGET, members=[agent])

    async def scenario():
        agent, inbox = await world()
        communicator = WebsocketCommunicator(AgentConsumer.as_asgi(), "/ws/agent/")
        communicator.scope["user"] = agent
        assert (await communicator.connect())[0]
        await database_sync_to_async(inbound)(
            inbox, "see attached", attachments=[AttachmentData("a.txt", b"hi", "text/plain")])
        created = await communicator.receive_json_from(timeout=5)
        new = await communicator.receive_json_from(timeout=5)
        await communicator.disconnect()
        return created, new

    created, new = asyncio.run(scenario())
    assert created["type"] == "ticket.created"
    assert new["type"] == "message.new" and new["data"]["body"] == "see attached"
    assert [a["name"] for a in new["data"]["attachments"]] == ["a.txt"]


def test_a_stored_message_knows_its_files_without_reading_them_back(widget,
                                                                   django_assert_num_queries):
    """`message_append` hands the rows it wrote to the payload; a file added afterwards to
    the same object (provider media fetched later) is not hidden by that."""
    from inbox.presenters import message_payload
    from inbox.services import message_attachment_add

    message = inbound(widget, "see", attachments=[AttachmentData("a.txt", b"one")]).message
    with django_assert_num_queries(0):
        assert [a["name"] for a in message_payload(message)["attachments"]] == ["a.txt"]
    message_attachment_add(message=message, data=AttachmentData("b.txt", b"two"))
    assert [a["name"] for a in message_payload(message)["attachments"]] == ["a.txt", "b.txt"]
