"""IMAP polling against a real dovecot (tests/channels/email/conftest.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from imap_tools import MailBoxUnencrypted

from inbox.channels.email import imap, tasks
from inbox.channels.email.imap import mailbox_poll
from inbox.channels.email.models import MailboxState, QuarantinedEmail
from inbox.models import Inbox, Message
from tests.factories import InboxFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_cache")]

ROOT = Path(__file__).resolve().parents[3]


def raw_email(n: int, body: str = "") -> bytes:
    return (
        f"From: Customer {n} <customer{n}@example.net>\r\n"
        "To: support@shop.example\r\n"
        f"Subject: Question {n}\r\n"
        f"Message-ID: <q{n}@example.net>\r\n"
        "Date: Mon, 05 Jan 2026 09:00:00 +0000\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"{body or f'Body of question {n}'}\r\n"
    ).encode()


class Server:
    """The test's view of the IMAP account, through its own connection."""

    def __init__(self, account):
        self.account = account

    def mailbox(self):
        return MailBoxUnencrypted(self.account.host, self.account.port).login(
            self.account.username, self.account.password, initial_folder=None)

    def append(self, *raws: bytes, folder: str = "INBOX") -> None:
        with self.mailbox() as mailbox:
            for raw in raws:
                mailbox.append(raw, folder)

    def flags(self, folder: str = "INBOX") -> dict[int, tuple]:
        with self.mailbox() as mailbox:
            mailbox.folder.set(folder, readonly=True)
            # \Recent only tells which session saw the message first.
            return {int(m.uid): tuple(f for f in m.flags if f != "\\Recent")
                    for m in mailbox.fetch(mark_seen=False, headers_only=True)}

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.mailbox() as mailbox:
            return mailbox.folder.status(folder, ["UIDVALIDITY"])["UIDVALIDITY"]


@pytest.fixture
def server(imap_account):
    return Server(imap_account)


def email_inbox(account, password=None, **config) -> Inbox:
    inbox = InboxFactory(kind=Inbox.Kind.EMAIL, config={
        "address": "support@shop.example",
        "imap_host": account.host, "imap_port": account.port, "imap_security": "none",
        "imap_username": account.username, **config,
    })
    inbox.secrets_update({"imap_password": password or account.password})
    inbox.save()
    return inbox


def subjects() -> list[str]:
    return list(Message.objects.order_by("id").values_list("ticket__subject", flat=True))


def test_first_poll_ingests_everything_then_only_new_mail(server):
    server.append(raw_email(1), raw_email(2, "Halo, 你好"), raw_email(3))
    inbox = email_inbox(server.account)

    first = mailbox_poll(inbox=inbox)

    assert first == imap.PollResult(fetched=3)
    assert subjects() == ["Question 1", "Question 2", "Question 3"]
    assert Message.objects.get(external_id="<q2@example.net>").body_text == "Halo, 你好"
    state = MailboxState.objects.get(inbox=inbox)
    assert (state.folder, state.uidvalidity, state.last_uid, state.last_error) == (
        "INBOX", server.uidvalidity(), 3, "")
    assert state.last_polled_at is not None

    assert mailbox_poll(inbox=inbox) == imap.PollResult(fetched=0)
    assert Message.objects.count() == 3

    server.append(raw_email(4))
    assert mailbox_poll(inbox=inbox) == imap.PollResult(fetched=1)
    assert subjects() == ["Question 1", "Question 2", "Question 3", "Question 4"]
    assert MailboxState.objects.get(inbox=inbox).last_uid == 4


def test_polling_neither_marks_seen_nor_deletes_by_default(server):
    server.append(raw_email(1), raw_email(2))
    mailbox_poll(inbox=email_inbox(server.account))
    assert Message.objects.count() == 2
    assert server.flags() == {1: (), 2: ()}


def test_mark_seen_marks_ingested_messages_seen(server):
    server.append(raw_email(1), raw_email(2))
    mailbox_poll(inbox=email_inbox(server.account, imap_mark_seen=True))
    assert Message.objects.count() == 2
    assert server.flags() == {1: ("\\Seen",), 2: ("\\Seen",)}


def test_delete_removes_ingested_messages_from_the_server(server):
    server.append(raw_email(1), raw_email(2))
    mailbox_poll(inbox=email_inbox(server.account, imap_delete=True))
    assert Message.objects.count() == 2
    assert server.flags() == {}


def test_uidvalidity_change_restarts_without_duplicates(server):
    with server.mailbox() as mailbox:
        mailbox.folder.create("Support")
    server.append(raw_email(1), raw_email(2), folder="Support")
    inbox = email_inbox(server.account, imap_folder="Support")
    mailbox_poll(inbox=inbox)
    old_validity = MailboxState.objects.get(inbox=inbox).uidvalidity

    # The folder is recreated: same mail, new UIDVALIDITY, UIDs start over.
    with server.mailbox() as mailbox:
        mailbox.folder.delete("Support")
        mailbox.folder.create("Support")
    server.append(raw_email(1), raw_email(2), raw_email(3), folder="Support")
    assert server.uidvalidity("Support") != old_validity

    assert mailbox_poll(inbox=inbox) == imap.PollResult(fetched=3)
    assert subjects() == ["Question 1", "Question 2", "Question 3"]
    state = MailboxState.objects.get(inbox=inbox)
    assert (state.uidvalidity, state.last_uid) == (server.uidvalidity("Support"), 3)


def test_stored_uidvalidity_that_no_longer_matches_resets_last_uid(server):
    server.append(raw_email(1), raw_email(2))
    inbox = email_inbox(server.account)
    MailboxState.objects.create(inbox=inbox, uidvalidity=1, last_uid=2)
    assert mailbox_poll(inbox=inbox) == imap.PollResult(fetched=2)
    assert MailboxState.objects.get(inbox=inbox).last_uid == 2
    assert Message.objects.count() == 2


def test_crash_mid_batch_resumes_after_the_last_stored_message(server, monkeypatch):
    server.append(raw_email(1), raw_email(2), raw_email(3))
    inbox = email_inbox(server.account)
    real_ingest = imap.email_ingest

    def ingest_then_crash(*, inbox, raw, source):
        if b"Question 2" in raw:
            raise RuntimeError("worker lost")
        return real_ingest(inbox=inbox, raw=raw, source=source)

    monkeypatch.setattr(imap, "email_ingest", ingest_then_crash)
    with pytest.raises(RuntimeError):
        mailbox_poll(inbox=inbox)
    assert MailboxState.objects.get(inbox=inbox).last_uid == 1

    monkeypatch.setattr(imap, "email_ingest", real_ingest)
    assert mailbox_poll(inbox=inbox) == imap.PollResult(fetched=2)
    assert subjects() == ["Question 1", "Question 2", "Question 3"]


def test_wrong_password_is_recorded_and_nothing_escapes_the_task(server):
    server.append(raw_email(1))
    inbox = email_inbox(server.account, password="wrong")

    assert tasks.imap_poll_inbox(inbox.pk) == 0

    state = MailboxState.objects.get(inbox=inbox)
    assert state.last_error == (
        "MailboxLoginError: Response status \"OK\" expected, "
        "but \"NO\" received. Data: [b'[AUTHENTICATIONFAILED] Authentication failed.']"
    )
    assert state.last_polled_at is not None and state.last_uid == 0
    assert (Message.objects.count(), QuarantinedEmail.objects.count()) == (0, 0)


def test_unreachable_server_is_recorded_and_cleared_by_the_next_good_poll(
    server, dovecot, unused_port
):
    server.append(raw_email(1))
    inbox = email_inbox(server.account)
    inbox.config["imap_port"] = unused_port
    inbox.save()
    result = mailbox_poll(inbox=inbox)
    assert result.fetched == 0 and result.error.startswith("ConnectionRefusedError: ")

    inbox.config["imap_port"] = dovecot.port
    inbox.save()
    assert mailbox_poll(inbox=inbox) == imap.PollResult(fetched=1)
    assert MailboxState.objects.get(inbox=inbox).last_error == ""


def test_a_poll_in_progress_elsewhere_is_not_joined(server):
    server.append(raw_email(1))
    inbox = email_inbox(server.account)
    cache.add(f"imap-poll:{inbox.pk}", "another-worker", timeout=60)
    assert mailbox_poll(inbox=inbox) == imap.PollResult(busy=True)
    assert Message.objects.count() == 0


def test_poll_all_enqueues_one_task_per_email_inbox_with_imap(monkeypatch, imap_account):
    polled = email_inbox(imap_account)
    InboxFactory(kind=Inbox.Kind.EMAIL, config={"address": "sales@shop.example"})
    InboxFactory(kind=Inbox.Kind.WIDGET, config={"imap_host": "not-an-email-inbox"})
    sent = []
    monkeypatch.setattr(tasks.imap_poll_inbox, "apply_async",
                        lambda args, **options: sent.append((args, options)))
    assert tasks.imap_poll_all() == 1
    assert sent == [((polled.pk,), {"expires": 60})]


def test_beat_schedules_the_poll_every_minute_with_a_task_workers_discover(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["imap-poll-all"]
    assert entry == {"task": "inbox.channels.email.tasks.imap_poll_all", "schedule": 60.0}
    # A fresh process, as a worker starts: this test module already imported the task.
    discovered = subprocess.run(
        [sys.executable, "-c", "from config.celery import app; "
         "app.loader.import_default_modules(); print('\\n'.join(app.tasks))"],
        capture_output=True, text=True, check=True, cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
    ).stdout.split()
    assert entry["task"] in discovered
