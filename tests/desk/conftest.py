from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from inbox.models import Agent, Channel, Inbox, Ticket
from inbox.services import Identity, InboundMessage, message_ingest
from tests.factories import AdminFactory, AgentFactory, InboxFactory


@dataclass
class World:
    alice: Agent  # member of `mine`
    bob: Agent  # member of `mine`
    carol: Agent  # member of `theirs` only
    admin: Agent
    mine: Inbox
    theirs: Inbox
    invoice: Ticket  # in `mine`
    login: Ticket  # in `mine`
    secret: Ticket  # in `theirs`


def ingest_email(inbox: Inbox, sender: str, subject: str, body: str, *, minutes_ago: int = 0):
    return message_ingest(data=InboundMessage(
        inbox=inbox, channel=Channel.EMAIL, sender=[Identity("email", sender)],
        sender_name=sender.split("@")[0].title(), subject=subject, body_text=body,
        at=timezone.now() - timedelta(minutes=minutes_ago),
    )).message


@pytest.fixture
def world(db) -> World:
    alice = AgentFactory(username="alice", display_name="Alice")
    bob = AgentFactory(username="bob", display_name="Bob")
    carol = AgentFactory(username="carol", display_name="Carol")
    mine = InboxFactory(kind=Inbox.Kind.EMAIL, name="Support", members=[alice, bob])
    theirs = InboxFactory(kind=Inbox.Kind.EMAIL, name="Sales", members=[carol])
    invoice = ingest_email(mine, "ana@example.com", "Invoice is wrong", "Charged twice",
                           minutes_ago=30).ticket
    login = ingest_email(mine, "ben@example.com", "Cannot log in", "Reset link expired",
                         minutes_ago=20).ticket
    secret = ingest_email(theirs, "dee@example.com", "Secret twice deal", "Charged twice too",
                          minutes_ago=10).ticket
    return World(alice, bob, carol, AdminFactory(username="root"), mine, theirs, invoice,
                 login, secret)


@pytest.fixture
def client_for():
    def make(agent):
        client = Client()
        client.force_login(agent)
        return client

    return make
