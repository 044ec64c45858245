"""What a visitor may see of a message: M of SPEC §4, nothing agent-only."""

from django.urls import reverse

from inbox.models import Message
from inbox.presenters import message_payload

# What the widget's rating card needs of a survey invitation (see surveys.services).
SURVEY_CARD_FIELDS = ("kind", "min", "max", "question", "url")


def visitor_payload(agent_payload: dict, survey: dict | None = None) -> dict:
    """Narrow the shared message payload to the visitor's view; `survey` (a survey
    invitation's metadata) lets the widget draw a rating card."""
    author = agent_payload["author"]
    payload = {
        "id": agent_payload["id"],
        "ticket_id": agent_payload["ticket_id"],
        "seq": agent_payload["seq"],
        "direction": agent_payload["direction"],
        "channel": agent_payload["channel"],
        "author": {"type": author["type"], "name": author["name"]},
        "body": agent_payload["body"],
        "attachments": [
            {**a, "url": reverse("widget-attachment", args=[a["id"]])}
            for a in agent_payload["attachments"]
        ],
        "created_at": agent_payload["created_at"],
    }
    if agent_payload["direction"] == Message.Direction.INBOUND:
        payload["client_id"] = agent_payload["client_id"]
    survey = survey or agent_payload.get("survey")
    if survey:
        payload["survey"] = {key: survey[key] for key in SURVEY_CARD_FIELDS}
    return payload


def visitor_message(message: Message) -> dict:
    survey = (message.metadata or {}).get("survey")
    if message.author_type != Message.AuthorType.SYSTEM:
        survey = None
    return visitor_payload(message_payload(message), survey)
