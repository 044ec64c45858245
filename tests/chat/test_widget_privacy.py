"""What a visitor's socket may receive, and who a browser belongs to."""

import hashlib
import hmac
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from chat import services
from config.asgi import application
from inbox.models import Channel, Inbox
from inbox.services import Identity, InboundMessage, message_ingest
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db(transaction=True)


async def test_email_reaching_the_contact_is_not_pushed_to_the_widget():
    widget = await database_sync_to_async(InboxFactory)(kind=Inbox.Kind.WIDGET)
    email = await database_sync_to_async(InboxFactory)(kind=Inbox.Kind.EMAIL)
    # A visitor claims someone's address without proof (pre-chat field).
    session, token = await database_sync_to_async(services.widget_session_start)(
        inbox_key=widget.key, user=services.VisitorClaim(id="email:ana@x.org",
                                                         email="ana@x.org"))
    ws = WebsocketCommunicator(application, "/ws/widget/")
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "hello", "token": token})
    assert (await ws.receive_json_from())["type"] == "welcome"
    # Mail from that address files on the claiming contact, but never reaches the socket.
    await database_sync_to_async(message_ingest)(data=InboundMessage(
        inbox=email, channel=Channel.EMAIL, sender=[Identity("email", "ana@x.org")],
        body_text="my bank details", external_id="<m1@x.org>"))
    assert await ws.receive_nothing(timeout=0.5)
    # The visitor's own conversation still arrives live.
    await ws.send_json_to({"type": "message.send", "client_id": str(uuid.uuid4()),
                           "ticket_id": None, "body": "hi", "attachments": []})
    kinds = {(await ws.receive_json_from())["type"] for _ in range(2)}
    assert kinds == {"message.ack", "message.new"}
    await ws.disconnect()


def _signed(inbox, user_id):
    return services.VisitorClaim(id=user_id, hash=hmac.new(
        inbox.identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest())


def test_second_signed_in_customer_on_one_browser_is_not_merged_with_the_first():
    widget = InboxFactory(kind=Inbox.Kind.WIDGET)
    alice, alice_token = services.widget_session_start(inbox_key=widget.key,
                                                       user=_signed(widget, "alice"))
    bob, _ = services.widget_session_start(inbox_key=widget.key, token=alice_token,
                                           user=_signed(widget, "bob"))
    alice.contact.refresh_from_db()
    assert bob.contact_id != alice.contact_id and alice.contact.merged_into_id is None
    assert bob.visitor_id != alice.visitor_id and bob.verified_user_id == "bob"
    unsigned, _ = services.widget_session_start(
        inbox_key=widget.key, token=alice_token,
        user=services.VisitorClaim(id="carol"))
    assert unsigned.verified_user_id == "" and unsigned.contact_id != alice.contact_id
