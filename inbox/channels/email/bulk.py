"""Bulk ingest in several processes (`ingest_email --jobs N`) with the threading of a
one-by-one run.

Whatever threads one email onto another must be decided in file order, so the messages
are split into conversations and each conversation is ingested by one worker, in file
order. Two messages are in the same conversation when they share (transitively):

- a message id: Message-ID, In-Reply-To or References, read from every header line of
  those names anywhere in the raw bytes, so the headers of a returned or forwarded
  message (a bounce names the message it bounces) count too;
- the sender's address (the top-level From), so one contact's mail keeps its order
  (first message creates the contact; at most one auto-acknowledgement per hour);
- identical bytes (a message without Message-ID is known by its content; quarantine
  de-duplicates by content).

This errs on the side of joining: two unrelated messages in one conversation only cost
parallelism. Conversations run in parallel; the database's unique constraints settle what
two workers could still both try (a contact first seen by two workers through different
addresses of one person, which the one-by-one run also merges only by its identities).
Ticket tokens and [#number] subjects name tickets that exist before the import, which every
worker sees alike.
"""

import hashlib
import multiprocessing
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from django.db import connection, connections

from ...models import Inbox
from ...realtime import process_local_muted
from .ingest import EmailOutcome, email_ingest
from .models import QuarantinedEmail

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_ID_FIELD = re.compile(
    rb"(?im)^(?:message-id|in-reply-to|references|resent-message-id)[ \t]*:"
    rb"((?:[^\n]*)(?:\n[ \t][^\n]*)*)"
)
_FROM_FIELD = re.compile(rb"(?im)^from[ \t]*:((?:[^\n]*)(?:\n[ \t][^\n]*)*)")
_MSG_ID = re.compile(rb"<[^<>\s]+>")
_ADDRESS = re.compile(rb"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+")


def conversation_keys(raw: bytes) -> set[bytes]:
    """The keys that join `raw` to other messages (see the module docstring)."""
    keys = {b"sha256:" + hashlib.sha256(raw).digest()}
    for field in _ID_FIELD.findall(raw):
        # A Message-ID without <> is stored as written, without white space.
        keys.update(b"id:" + m for m in (_MSG_ID.findall(field) or [b"".join(field.split())]))
    match = _HEADER_END.search(raw)
    head = raw[:match.start()] if match else raw
    sender = _FROM_FIELD.search(head)
    if sender:
        keys.update(b"from:" + a.lower().strip(b".") for a in _ADDRESS.findall(sender.group(1)))
    return keys


def conversations(raws: Iterable[bytes]) -> list[list[int]]:
    """The indexes of `raws` grouped into conversations, each in file order; the
    conversations ordered by their first message."""
    parent: dict[int, int] = {}
    owner: dict[bytes, int] = {}

    def find(i: int) -> int:
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    count = 0
    for index, raw in enumerate(raws):
        parent[index] = index
        count += 1
        for key in conversation_keys(raw):
            if key in owner:
                a, b = find(owner[key]), find(index)
                if a != b:
                    parent[max(a, b)] = min(a, b)
            else:
                owner[key] = index
    groups: dict[int, list[int]] = {}
    for index in range(count):
        groups.setdefault(find(index), []).append(index)
    return sorted(groups.values(), key=lambda group: group[0])


@contextmanager
def commits_asynchronous() -> Iterator[None]:
    """PostgreSQL's `synchronous_commit = off` for this session, for bulk imports only: a
    commit returns before its WAL record reaches the disk, so the import does not wait
    for one flush per message. A crash of the database server (not of the import) can
    lose the last moments of commits, never corrupt anything; running the same import
    again restores them, because ingest is idempotent on Message-ID (a message without
    one is identified by its content). Mail that arrives by the HTTP endpoint, IMAP or
    webhooks is acknowledged to its sender only after a durable commit."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def ingest_all(inbox: Inbox, raws: Iterable[bytes]) -> Iterator[EmailOutcome]:
    """`email_ingest` of each message in turn, as a bulk import: no live events to a
    process-local channel layer (nobody listens in this process), commits asynchronous."""
    with process_local_muted(), commits_asynchronous():
        for raw in raws:
            yield email_ingest(inbox=inbox, raw=raw, source=QuarantinedEmail.Source.COMMAND)


def ingest_conversation(task: tuple[int, list[bytes]]) -> list[tuple[str, str]]:
    """A worker's job: one conversation, in order; (status, error) per message."""
    inbox_id, raws = task
    inbox = Inbox.objects.get(pk=inbox_id)
    return [(outcome.status, outcome.error) for outcome in ingest_all(inbox, raws)]


def ingest_parallel(inbox: Inbox, raws: list[bytes], jobs: int) -> Iterator[list[EmailOutcome]]:
    """Ingest `raws` with `jobs` worker processes, one conversation per task (the largest
    first, so the last one to finish is short); yields each conversation's outcomes as it
    completes. The workers are forked: Django is loaded once, and each opens its own
    database connections (the parent's, and its connection pool, are closed first: a
    socket shared by two processes mixes their replies)."""
    groups = conversations(raws)
    groups.sort(key=lambda group: -sum(len(raws[i]) for i in group))
    _connections_close()
    context = multiprocessing.get_context("fork")
    with context.Pool(processes=jobs) as pool:
        tasks = ((inbox.pk, [raws[i] for i in group]) for group in groups)
        for results in pool.imap_unordered(ingest_conversation, tasks):
            yield [EmailOutcome(status=status, error=error) for status, error in results]


def _connections_close() -> None:
    for wrapper in connections.all(initialized_only=True):
        wrapper.close()
        if hasattr(wrapper, "close_pool"):
            wrapper.close_pool()
