"""What every connector fixture test checks of the one message a webhook stored."""

from inbox.models import Message


def inbound_message_get(*, channel: str) -> Message:
    """The only stored message: inbound, written by its ticket's contact, on an open ticket
    of `channel`."""
    message = Message.objects.select_related("ticket__contact").get()
    assert (message.direction, message.channel) == ("inbound", channel)
    assert message.author_contact == message.ticket.contact
    assert (message.ticket.channel, message.ticket.status) == (channel, "open")
    return message


def identities(message: Message) -> list[tuple]:
    """(kind, value, verified) of each identity of the message's contact."""
    return list(message.ticket.contact.identities.values_list("kind", "value", "verified"))
