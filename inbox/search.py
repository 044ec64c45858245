"""Ticket search: subjects, message bodies, contact names and identities.

PostgreSQL answers with full-text search over GIN expression indexes (migration 0005), one
index per table. A rare query unions the matching ticket ids from the indexes, so it costs
a few index probes however many tickets there are; a common one (its words in thousands of
messages) walks the ticket list newest first and tests each ticket, since a page of results
fills up after a few dozen tickets. The `simple` configuration does not stem: customers
write English, Indonesian, Chinese... and a stemmer for one language mangles the others.
Every word of the query must appear (as a word prefix: "refu" finds "refund"; a run of
Chinese or Japanese characters as that exact sequence).

Other databases have no full-text index: they fall back to substring matching, which scans.
"""

import math
import re

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import F, Func, OuterRef, Q, Subquery, TextField, Value
from django.db.models.lookups import IsNull

from .models import Contact, ContactIdentity, Message, Ticket

SEARCH_CONFIG = "simple"
MAX_TERMS = 8
COMMON_MATCHES = 2000  # never walk for fewer matches than this
PROBE_COST = 1  # a per-ticket probe against one step of collecting a match (measured)

_WORD = re.compile(r"\w+")
# Chinese and Japanese are written without spaces. PostgreSQL's parser would index a whole
# run ("我的订单还没有到") as one word, so each of these characters is spaced out before
# indexing, and a query's run becomes a phrase of adjacent characters ("订 <-> 单").
UNSPACED_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_UNSPACED_RUN = re.compile(f"([{UNSPACED_CHARS}]+)")


def _document(field: str) -> SearchVector:
    """The indexed text of `field`: the same expression as the indexes of migration 0005."""
    spaced = Func(F(field), Value(f"([{UNSPACED_CHARS}])"), Value(" \\1 "), Value("g"),
                  function="regexp_replace", output_field=TextField())
    return SearchVector(spaced, config=SEARCH_CONFIG)


def search_terms(q: str) -> list[str]:
    """The words of a query, lowercased, at most MAX_TERMS of them."""
    return [word.lower()[:64] for word in _WORD.findall(q)][:MAX_TERMS]


def prefix_tsquery(terms: list[str]) -> str:
    """`to_tsquery` text requiring every term: a word as a prefix, a run of Chinese or
    Japanese characters as that exact sequence. Terms are \\w+ runs, so they carry no
    tsquery operators."""
    parts = []
    for term in terms:
        for piece in _UNSPACED_RUN.split(term):
            if not piece:
                continue
            if _UNSPACED_RUN.fullmatch(piece):
                parts.append(f"({' <-> '.join(piece)})" if len(piece) > 1 else piece)
            else:
                parts.append(f"{piece}:*")
    return " & ".join(parts)


def ticket_search_filter(q: str) -> Q:
    """A filter on Ticket matching `q` (see the module docstring)."""
    q = q.strip()
    number = q.lstrip("#")
    by_number = Q(pk=int(number)) if number.isdigit() and len(number) <= 12 else Q(pk__in=[])
    terms = search_terms(q)
    if not terms:
        return by_number
    if connection.vendor == "postgresql":
        query = SearchQuery(prefix_tsquery(terms), config=SEARCH_CONFIG, search_type="raw")
        common = _common_sources(query)
        if common:
            return by_number | _full_text_per_ticket(q, query, messages_common="messages" in common)
        return by_number | Q(pk__in=_full_text_ticket_ids(q, query))
    return by_number | Q(pk__in=_substring_ticket_ids(q))


def _common_sources(query: SearchQuery) -> set[str]:
    """Where the words match so many rows that walking the ticket list beats collecting
    the matches. Collecting costs about one step per matching row; walking costs a probe per
    ticket until a page of 50 is found, i.e. 50 / (the share of tickets that match). The two
    meet near sqrt(50 × tickets) matches. Each count stops at that threshold, so the test
    itself stays cheap."""
    threshold = max(COMMON_MATCHES, int(math.sqrt(PROBE_COST * 50 * _tickets_estimate())))
    probes = {
        "messages": (_messages_matching(query), threshold),
        "subjects": (_tickets_by_subject(query), threshold),
        "contacts": (_contacts_by_name(query), max(1, threshold // 2)),  # a ticket or two each
    }
    return {
        source for source, (matches, limit) in probes.items()
        if len(matches.order_by().values_list("pk", flat=True)[:limit]) == limit
    }


def _tickets_estimate() -> int:
    """PostgreSQL's own row estimate for the ticket table: no count(*) on each search."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'inbox_ticket'::regclass")
        row = cursor.fetchone()
    return max(int(row[0]) if row else 0, 0)


def _messages_matching(query: SearchQuery):
    return Message.objects.annotate(
        document=_document("body_text")
    ).filter(document=query)


def _full_text_per_ticket(q: str, query: SearchQuery, *, messages_common: bool) -> Q:
    """Walk the ticket list and test each ticket: against sets of matching ids, hashed once,
    and, when the words are in too many messages to collect, against the ticket's own
    messages. That probe is a scalar subquery, not EXISTS: PostgreSQL may turn an EXISTS
    into one hash of every matching message (hundreds of thousands for a common word)
    before returning a row, but probes a scalar subquery per ticket, and about 50 are
    needed."""
    matches = Q(pk__in=_tickets_by_subject(query)) | Q(contact_id__in=_contacts_matching(q, query))
    if not messages_common:
        return matches | Q(pk__in=_messages_matching(query).order_by().values("ticket_id"))
    first_match = Subquery(
        _messages_matching(query).filter(ticket_id=OuterRef("pk")).order_by().values("pk")[:1]
    )
    return matches | Q(IsNull(first_match, False))


def _tickets_by_subject(query: SearchQuery):
    return (
        Ticket.objects.annotate(document=_document("subject"))
        .filter(document=query).values("pk")
    )


def _contacts_by_name(query: SearchQuery):
    return (
        Contact.objects.annotate(document=_document("name"))
        .filter(document=query)
    )


def _contacts_matching(q: str, query: SearchQuery):
    contacts = _contacts_by_name(query).values("pk")
    prefixes = _identity_prefixes(q)
    if prefixes:
        by_identity = Q()
        for prefix in prefixes:
            by_identity |= Q(value__startswith=prefix)
        contacts = contacts.union(
            ContactIdentity.objects.filter(by_identity).values("contact_id")
        )
    return contacts


def _full_text_ticket_ids(q: str, query: SearchQuery):
    by_body = _messages_matching(query).order_by().values("ticket_id")
    by_contact = Ticket.objects.filter(contact_id__in=_contacts_matching(q, query)).values("pk")
    return _tickets_by_subject(query).union(by_body, by_contact)


def _identity_prefixes(q: str) -> list[str]:
    """What an email address, phone number or provider id typed into search looks like
    when stored (lowercase emails, "+digits" phones); [] when `q` is none of those."""
    compact = re.sub(r"[\s().-]", "", q)
    if compact.lstrip("+").isdigit() and len(compact) >= 3:
        digits = compact.lstrip("+")
        return ["+" + digits] if compact.startswith("+") else [digits, "+" + digits]
    if " " in q or len(q) < 3:
        return []
    return [q.lower()] if "@" in q else [q]


def _substring_ticket_ids(q: str):
    """The same union as full-text search, by substring: one scan of each table instead of
    a correlated probe per ticket."""
    by_subject = Ticket.objects.filter(subject__icontains=q).values("pk")
    by_body = Message.objects.filter(body_text__icontains=q).order_by().values("ticket_id")
    identities = Q(value__icontains=q)
    for prefix in _identity_prefixes(q):
        identities |= Q(value__startswith=prefix)
    contacts = Contact.objects.filter(name__icontains=q).values("pk").union(
        ContactIdentity.objects.filter(identities).values("contact_id")
    )
    by_contact = Ticket.objects.filter(contact_id__in=contacts).values("pk")
    return by_subject.union(by_body, by_contact)
