"""Ticket search: subjects, message bodies, contact names and identities.

PostgreSQL answers with full-text search over GIN expression indexes (migration 0004), one
index per table. A rare query unions the matching ticket ids from the indexes, so it costs
a few index probes however many tickets there are; a common one (its words in thousands of
messages) walks the ticket list newest first and tests each ticket, since a page of results
fills up after a few dozen tickets. The `simple` configuration does not stem: customers
write English, Indonesian, Chinese... and a stemmer for one language mangles the others.
Every word of the query must appear (as a word prefix: "refu" finds "refund").

Text in scripts written without spaces (Chinese, Japanese) is not split into words by
PostgreSQL's parser, and other databases have no full-text index: both fall back to
substring matching, which scans.
"""

import re

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db import connection
from django.db.models import Exists, OuterRef, Q

from .models import Contact, ContactIdentity, Message, Ticket

SEARCH_CONFIG = "simple"
MAX_TERMS = 8
COMMON_MATCHES = 2000

_WORD = re.compile(r"\w+")
_UNSPACED_SCRIPT = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def search_terms(q: str) -> list[str]:
    """The words of a query, lowercased, at most MAX_TERMS of them."""
    return [word.lower()[:64] for word in _WORD.findall(q)][:MAX_TERMS]


def prefix_tsquery(terms: list[str]) -> str:
    """`to_tsquery` text requiring every term as a word prefix. Terms are \\w+ runs, so
    they carry no tsquery operators."""
    return " & ".join(f"{term}:*" for term in terms)


def ticket_search_filter(q: str) -> Q:
    """A filter on Ticket matching `q` (see the module docstring)."""
    q = q.strip()
    number = q.lstrip("#")
    by_number = Q(pk=int(number)) if number.isdigit() and len(number) <= 12 else Q(pk__in=[])
    terms = search_terms(q)
    if not terms:
        return by_number
    if connection.vendor == "postgresql" and not _UNSPACED_SCRIPT.search(q):
        query = SearchQuery(prefix_tsquery(terms), config=SEARCH_CONFIG, search_type="raw")
        if _common(query):
            return by_number | _full_text_per_ticket(q, query)
        return by_number | Q(pk__in=_full_text_ticket_ids(q, query))
    return by_number | Q(pk__in=_substring_ticket_ids(q))


def _common(query: SearchQuery) -> bool:
    """Whether the words occur in many messages. A rare query is answered best by the
    indexes (collect the few matching tickets, then sort them); a common one by walking the
    ticket list newest first and testing each ticket, since a page fills up fast."""
    sample = _messages_matching(query).values_list("pk", flat=True)[:COMMON_MATCHES]
    return len(sample) == COMMON_MATCHES


def _messages_matching(query: SearchQuery):
    return Message.objects.annotate(
        document=SearchVector("body_text", config=SEARCH_CONFIG)
    ).filter(document=query)


def _full_text_per_ticket(q: str, query: SearchQuery) -> Q:
    matches = Q(pk__in=_tickets_by_subject(query)) | Q(contact_id__in=_contacts_matching(q, query))
    return matches | Exists(_messages_matching(query).filter(ticket_id=OuterRef("pk")))


def _tickets_by_subject(query: SearchQuery):
    return (
        Ticket.objects.annotate(document=SearchVector("subject", config=SEARCH_CONFIG))
        .filter(document=query).values("pk")
    )


def _contacts_matching(q: str, query: SearchQuery):
    contacts = (
        Contact.objects.annotate(document=SearchVector("name", config=SEARCH_CONFIG))
        .filter(document=query).values("pk")
    )
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
