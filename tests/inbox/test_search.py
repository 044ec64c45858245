"""Ticket search (inbox/search.py): the same answers on PostgreSQL full-text search, on its
per-ticket strategy for common words, and on the substring fallback (SQLite)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from inbox import search
from inbox.selectors import ticket_list_for_agent
from inbox.services import Identity, InboundMessage, message_ingest
from tests.factories import AgentFactory, InboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    inbox, other = InboxFactory(kind="email"), InboxFactory(kind="email")
    agent = AgentFactory(role="agent")
    inbox.members.add(agent)
    start = timezone.now() - timedelta(days=1)

    def ticket(n, *, subject, body, name, email, phone=None, where=inbox):
        sender = [Identity("email", email)] + ([Identity("phone", phone)] if phone else [])
        return message_ingest(data=InboundMessage(
            inbox=where, channel="email", sender=sender, sender_name=name, subject=subject,
            body_text=body, external_id=f"<{n}@test>", at=start + timedelta(minutes=n),
        )).message.ticket

    tickets = {
        "refund": ticket(1, subject="Refund for order 5512", body="Please send my money back.",
                         name="Siti Hartono", email="siti@example.co.id", phone="+62 812 5550 1234"),
        "login": ticket(2, subject="Cannot log in", body="The app says my password is wrong.",
                        name="Zoe Taylor", email="zoe@example.com"),
        "chinese": ticket(3, subject="订单问题", body="我的订单还没有到，请帮我查一下。",
                          name="杨洋", email="yang@example.cn"),
        "secret": ticket(4, subject="Refund secret other inbox", body="money",
                         name="Other Person", email="other@example.com", where=other),
    }
    return agent, tickets


def found(agent, q) -> set[int]:
    return set(ticket_list_for_agent(agent=agent, q=q).values_list("pk", flat=True))


@pytest.fixture(params=["indexes", "per_ticket"])
def strategy(request, monkeypatch):
    """On PostgreSQL, run each case with both full-text strategies (a tiny COMMON_MATCHES
    makes every query 'common'); elsewhere the fallback runs once."""
    if request.param == "per_ticket":
        if connection.vendor != "postgresql":
            pytest.skip("one strategy only without PostgreSQL full-text search")
        monkeypatch.setattr(search, "COMMON_MATCHES", 1)
    return request.param


@pytest.mark.parametrize("q, expected", [
    ("refund", {"refund"}),                  # subject word, any case
    ("REFU", {"refund"}),                    # word prefix
    ("money back", {"refund"}),              # body words, all required
    ("money login", set()),                  # all words must match
    ("password", {"login"}),                 # body only
    ("Hartono", {"refund"}),                 # contact name
    ("siti hartono", {"refund"}),            # full name
    ("zoe@example.com", {"login"}),          # an email identity
    ("+62 812 5550", {"refund"}),            # a phone number as typed
    ("订单", {"chinese"}),                    # Chinese: the characters in sequence
    ("杨洋", {"chinese"}),                    # a Chinese name
    ("单订", set()),                          # ... in that order only
    ("订单 refund", set()),                   # every word, whatever the script
    ("nothing-like-this", set()),
])
def test_search_finds_by_subject_body_contact_and_identity(world, strategy, q, expected):
    agent, tickets = world
    assert found(agent, q) == {tickets[name].pk for name in expected}


def test_search_by_ticket_number(world):
    agent, tickets = world
    number = tickets["login"].pk
    assert found(agent, f"#{number}") == {number}
    assert tickets["login"].pk in found(agent, str(number))


def test_search_never_reaches_another_inbox(world, strategy):
    agent, tickets = world
    assert found(agent, "secret") == set()
    assert found(agent, f"#{tickets['secret'].pk}") == set()
    assert tickets["secret"].pk not in found(agent, "money")


def test_query_words_are_not_operators(world):
    agent, _ = world
    # tsquery syntax in the input is just text: no error, no surprise match.
    for q in ["refund & !money", "a:* | b", "'", "(", "!!!", "   "]:
        ticket_list_for_agent(agent=agent, q=q).count()
    assert found(agent, "refund | password") == found(agent, "refund password") == set()


def test_search_terms_and_tsquery():
    assert search.search_terms("Refund, order #5512!") == ["refund", "order", "5512"]
    assert search.prefix_tsquery(["refund", "5512"]) == "refund:* & 5512:*"
    assert search.prefix_tsquery(["iphone订单", "单"]) == "iphone:* & (订 <-> 单) & 单"
    assert len(search.search_terms(" ".join(f"w{i}" for i in range(20)))) == search.MAX_TERMS
