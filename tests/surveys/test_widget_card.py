"""The widget gets the invitation as a rating card (its score buttons link to the survey
page), through the same visitor API every widget message goes through."""

import uuid

import pytest

from chat.presenters import visitor_message
from inbox.models import Inbox, Message, Ticket
from inbox.services import message_reply, ticket_set_status
from surveys.models import Invitation
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def widget_inbox(support_agent, lead):
    return InboxFactory(kind=Inbox.Kind.WIDGET, slug="widget", members=[support_agent])


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_visitor_api_returns_the_rating_card(client, widget_inbox, support_agent, work,
                                             django_capture_on_commit_callbacks):
    session = client.post("/api/widget/v1/session", {"inbox": widget_inbox.key},
                          content_type="application/json").json()
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post("/api/widget/v1/messages",
                           {"client_id": str(uuid.uuid4()), "body": "Pesanan saya?"},
                           content_type="application/json", **bearer(session["token"])).json()
        ticket = Ticket.objects.get(pk=sent["ticket_id"])
        message_reply(ticket=ticket, agent=support_agent, body="Sudah dikirim.")
        ticket_set_status(ticket=ticket, status=Ticket.Status.RESOLVED, by=support_agent)
    work()
    invitation = Invitation.objects.get()
    url = invitation.message.metadata["survey"]["url"]
    messages = client.get(f"/api/widget/v1/tickets/{ticket.pk}/messages?after_seq=2",
                          **bearer(session["token"])).json()["results"]
    [card] = messages
    assert card["author"] == {"type": "system", "name": "System"}
    question = "How satisfied are you with the support you received?"
    assert card["body"] == f"{question} Answer here: {url}"
    assert card["survey"] == {"kind": "csat", "min": 1, "max": 5, "url": url,
                              "question": "How satisfied are you with the support you received?"}
    assert "invitation" not in card["survey"]


def test_only_system_messages_carry_a_card(widget_inbox, support_agent):
    from tests.factories import TicketFactory

    ticket = TicketFactory(inbox=widget_inbox)
    reply = message_reply(ticket=ticket, agent=support_agent, body="hi",
                          metadata={"survey": {"kind": "csat", "min": 1, "max": 5,
                                               "url": "https://evil.example/", "question": "?"}})
    assert reply.author_type == Message.AuthorType.AGENT
    assert "survey" not in visitor_message(reply)


def test_live_payload_carrying_a_survey_keeps_only_the_card_fields(widget_inbox, support_agent):
    from chat.presenters import visitor_payload
    from inbox.presenters import message_payload
    from tests.factories import TicketFactory

    ticket = TicketFactory(inbox=widget_inbox)
    message = message_reply(ticket=ticket, agent=support_agent, body="hi")
    survey = {"invitation": 9, "kind": "nps", "min": 0, "max": 10, "question": "Q?",
              "url": "http://127.0.0.1:8000/survey/t/"}
    payload = visitor_payload({**message_payload(message), "survey": survey})
    assert payload["survey"] == {"kind": "nps", "min": 0, "max": 10, "question": "Q?",
                                 "url": "http://127.0.0.1:8000/survey/t/"}
    assert "survey" not in visitor_payload(message_payload(message))
