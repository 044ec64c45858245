"""The rating card over the widget's live websocket (daphne, Redis channel layer): the live
event carries the message without its card, the widget fetches its own view of it."""

import os
import threading

import pytest
from django.db import connection

from inbox.models import Ticket
from inbox.services import message_reply, ticket_set_status
from surveys.models import Invitation
from tests.chat.widget_page import (  # noqa: F401 (fixtures)
    agent,
    daphne,
    host_page,
    inbound,
    send,
    start_conversation,
    widget_inbox,
)
from tests.live import needs_chromium, wait_for

sync_api = pytest.importorskip("playwright.sync_api")


def in_a_thread(work_to_do):
    """Run server-side work outside this thread, where Playwright's event loop runs (live
    events are published with async_to_sync, which refuses a thread with a running loop)."""
    errors = []

    def run():
        try:
            work_to_do()
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert errors == []


pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    needs_chromium,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"),
                       reason="the test process reaches daphne's widget through Redis"),
]


def test_live_survey_message_shows_as_a_rating_card(daphne, host_page, context,  # noqa: F811
                                                    widget_inbox, agent, queue, work):  # noqa: F811
    expect = sync_api.expect
    page = context.new_page()
    start_conversation(page, host_page)
    send(page, "Where is my parcel?")
    message = wait_for(lambda: inbound(widget_inbox, "Where is my parcel?").first(), 10,
                       "the visitor's message")
    expect(page.get_by_text("Sending…")).to_have_count(0)
    ticket = message.ticket
    in_a_thread(lambda: message_reply(ticket=ticket, agent=agent,
                                      body="It left the warehouse today."))
    expect(page.get_by_text("It left the warehouse today.")).to_be_visible()
    in_a_thread(lambda: ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=agent))
    in_a_thread(work)
    url = Invitation.objects.get().message.metadata["survey"]["url"]
    card = page.get_by_role("group", name="How satisfied are you with the support you received?")
    expect(card).to_be_visible()
    assert card.get_by_role("link").all_inner_texts() == ["1", "2", "3", "4", "5"]
    assert card.get_by_role("link", name="5").get_attribute("href") == f"{url}?score=5"
