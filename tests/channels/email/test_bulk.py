"""`ingest_email --jobs N`: messages split into conversations, each ingested by one worker
in file order, with the threading and the summary of a one-by-one run."""

import io
import shutil
from email.message import EmailMessage

import pytest
from django.core.management import call_command
from django.db import connection

from inbox.channels.email.bulk import conversation_keys, conversations
from inbox.models import Inbox, Message
from tests.factories import InboxFactory


def mail(message_id, *, sender="ana@example.net", subject="Help", body="Hello",
         in_reply_to=None, references=(), extra_body=""):
    message = EmailMessage()
    message["From"] = f"Someone <{sender}>"
    message["To"] = "support@acme.test"
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = " ".join(references)
    message.set_content(body + extra_body)
    return message.as_bytes()


def test_replies_senders_and_identical_bytes_join_a_conversation_in_file_order():
    raws = [
        mail("<a1@x>", sender="ana@example.net"),                             # 0
        mail("<b1@x>", sender="bo@example.net"),                              # 1
        mail("<a2@x>", sender="cy@example.net", in_reply_to="<a1@x>"),        # 2: reply to 0
        mail("<c1@x>", sender="di@example.net"),                              # 3
        mail("<a3@x>", sender="ed@example.net", references=("<a1@x>", "<a2@x>")),  # 4
        mail("<d1@x>", sender="BO@example.net"),                              # 5: 1's sender
        mail(None, sender="fi@example.net", body="no id"),                    # 6
        mail(None, sender="fi@example.net", body="no id"),                    # 7: same bytes
        mail("<e1@x>", sender="mailer-daemon@relay.example", body="Returned:",
             extra_body="\n\nMessage-ID: <c1@x>\nSubject: Help\n"),           # 8: bounce of 3
    ]
    raws += [mail("bare-id@x", sender="gu@example.net"),                   # 9
             mail("bare-id@x", sender="ha@example.net", body="again")]      # 10: same id
    assert conversations(raws) == [[0, 2, 4], [1, 5], [3, 8], [6, 7], [9, 10]]


def test_keys_are_read_from_headers_not_from_prose():
    raw = mail("<a1@x>", body="Please write to ops@example.net about <z9@x>.")
    keys = {key for key in conversation_keys(raw) if not key.startswith(b"sha256:")}
    assert keys == {b"id:<a1@x>", b"from:ana@example.net"}


def _grouping(inbox):
    """The tickets as sets of Message-IDs."""
    tickets = {}
    for external_id, ticket_id in Message.objects.filter(inbox=inbox).values_list(
            "external_id", "ticket_id"):
        tickets.setdefault(ticket_id, set()).add(external_id)
    return sorted(sorted(ids) for ids in tickets.values())


def _corpus(folder):
    """Ten conversations of four messages, each reply by another sender, written so that
    conversations interleave in file order; a duplicate Message-ID, a copy without one,
    and garbage."""
    folder.mkdir()
    items = []
    for step in range(4):
        for chain in range(10):
            own = f"<c{chain}-{step}@example.net>"
            parents = [f"<c{chain}-{s}@example.net>" for s in range(step)]
            items.append(mail(own, sender=f"p{chain}-{step}@example.net",
                              subject=f"Case {chain}" if not step else f"Re: Case {chain}",
                              in_reply_to=parents[-1] if parents else None,
                              references=parents, body=f"chain {chain} step {step}"))
    items.append(mail("<c3-1@example.net>", sender="x@example.net", body="same id again"))
    items += [mail(None, sender="y@example.net", body="twice")] * 2
    items.append(b"\x00\x01 not mail at all")
    for index, raw in enumerate(items):
        (folder / f"{index:03}.eml").write_bytes(raw)
    return folder


@pytest.mark.django_db(transaction=True)
def test_parallel_ingest_threads_and_counts_like_one_process(postgres_only, tmp_path):
    folder = _corpus(tmp_path / "mail")
    summaries, groupings = [], []
    for jobs, slug in ((1, "one"), (3, "three")):
        inbox = InboxFactory(kind=Inbox.Kind.EMAIL, slug=slug)
        out = io.StringIO()
        call_command("ingest_email", "--inbox", slug, "--jobs", str(jobs), str(folder),
                     stdout=out)
        assert connection.vendor == "postgresql"
        summaries.append(out.getvalue().strip())
        groupings.append(_grouping(inbox))
    assert summaries[0] == summaries[1] == (
        "ingested=41 duplicates=2 quarantined=1 auto_replies=0")
    assert groupings[0] == groupings[1]
    assert len(groupings[1]) == 10 + 1  # ten conversations, and the message without an id
    chains = [ids for ids in groupings[1] if any(i.endswith("@example.net>") for i in ids)]
    assert len(chains) == 10 and all(len(ids) == 4 for ids in chains)
    shutil.rmtree(folder)
