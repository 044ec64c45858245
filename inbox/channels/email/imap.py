"""IMAP polling: fetch new mail of an email inbox and hand it to `email_ingest`.

Non-destructive by default: the folder is opened read-only and fetched with BODY.PEEK, so
nothing is marked seen or deleted unless the inbox's config asks for it. Progress is the
last UID ingested (within the folder's UIDVALIDITY) in MailboxState, advanced after each
message, so a crash resumes where it stopped; Message-ID de-duplication covers the rest.
"""

import imaplib
import logging
import secrets
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.cache import cache
from django.utils import timezone
from imap_tools import BaseMailBox, MailBox, MailBoxStartTls, MailBoxUnencrypted, MailMessage
from imap_tools.consts import MailMessageFlags
from imap_tools.errors import ImapToolsError

from ...models import Inbox
from .ingest import email_ingest
from .models import MailboxState, QuarantinedEmail

logger = logging.getLogger(__name__)

FETCH_BATCH = 100
CONNECT_TIMEOUT_S = 30
# Renewed after every message, so only a dead worker's lock outlives a poll.
LOCK_TTL_S = 5 * 60
SECURITY_CHOICES = ("ssl", "starttls", "none")


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    security: str
    username: str
    password: str
    folder: str
    mark_seen: bool
    delete: bool

    @classmethod
    def for_inbox(cls, inbox: Inbox) -> "ImapSettings":
        """Raises ValueError for a config that cannot work."""
        config = inbox.config
        security = config.get("imap_security", "ssl")
        if security not in SECURITY_CHOICES:
            raise ValueError(f"imap_security must be one of {', '.join(SECURITY_CHOICES)}")
        if not config.get("imap_host"):
            raise ValueError("imap_host is not configured")
        return cls(
            host=config["imap_host"],
            port=int(config.get("imap_port") or (993 if security == "ssl" else 143)),
            security=security,
            username=config.get("imap_username", ""),
            password=inbox.secret("imap_password"),
            folder=config.get("imap_folder") or "INBOX",
            mark_seen=bool(config.get("imap_mark_seen", False)),
            delete=bool(config.get("imap_delete", False)),
        )

    def mailbox(self) -> BaseMailBox:
        if self.security == "none":
            mailbox = MailBoxUnencrypted(self.host, self.port, timeout=CONNECT_TIMEOUT_S)
        elif self.security == "starttls":
            mailbox = MailBoxStartTls(self.host, self.port, timeout=CONNECT_TIMEOUT_S,
                                      ssl_context=ssl.create_default_context())
        else:
            mailbox = MailBox(self.host, self.port, timeout=CONNECT_TIMEOUT_S,
                              ssl_context=ssl.create_default_context())
        mailbox.email_message_class = _RawMailMessage
        return mailbox


class _RawMailMessage(MailMessage):
    """Keeps the bytes the server sent: ingest stores the original, not a re-serialization."""

    def __init__(self, fetch_data: list) -> None:
        super().__init__(fetch_data)
        self.raw = self._get_message_data_parts(fetch_data)[0]


@dataclass(frozen=True)
class PollResult:
    """`fetched` messages were handed to ingest; `busy` when another worker was polling."""

    fetched: int = 0
    error: str = ""
    busy: bool = False


def mailbox_poll(*, inbox: Inbox) -> PollResult:
    """Ingest the inbox's new IMAP mail. Connection and login failures are recorded in
    MailboxState.last_error, not raised: the next scheduled poll tries again."""
    lock_key, lock_token = f"imap-poll:{inbox.pk}", secrets.token_hex(8)
    # One poller per inbox, across workers (cache.add is atomic on Redis).
    if not cache.add(lock_key, lock_token, timeout=LOCK_TTL_S):
        return PollResult(busy=True)
    state, _ = MailboxState.objects.get_or_create(inbox=inbox)
    fetched = 0
    try:
        for _ in _messages_ingest(inbox, state, ImapSettings.for_inbox(inbox)):
            fetched += 1
            cache.touch(lock_key, LOCK_TTL_S)
    except (ImapToolsError, imaplib.IMAP4.error, OSError, ValueError) as exc:
        state.last_error = f"{type(exc).__name__}: {exc}"
        logger.warning("IMAP poll of inbox %s failed: %s", inbox.pk, state.last_error)
    else:
        state.last_error = ""
    finally:
        if cache.get(lock_key) == lock_token:
            cache.delete(lock_key)
    state.last_polled_at = timezone.now()
    state.save(update_fields=["last_error", "last_polled_at"])
    return PollResult(fetched=fetched, error=state.last_error)


def _messages_ingest(inbox: Inbox, state: MailboxState, imap: ImapSettings) -> Iterator[str]:
    """Ingest the messages above state.last_uid, yielding each UID once it is stored."""
    writes = imap.mark_seen or imap.delete
    with imap.mailbox() as mailbox:  # logs out on the way out, even after a failure
        mailbox.login(imap.username, imap.password, initial_folder=None)
        uidvalidity = mailbox.folder.status(imap.folder, ["UIDVALIDITY"])["UIDVALIDITY"]
        if (state.folder, state.uidvalidity) != (imap.folder, uidvalidity):
            # Old UIDs mean nothing in another folder or UIDVALIDITY: start over; the
            # Message-ID de-duplication makes re-reading already ingested mail harmless.
            state.folder, state.uidvalidity, state.last_uid = imap.folder, uidvalidity, 0
            state.save(update_fields=["folder", "uidvalidity", "last_uid"])
        mailbox.folder.set(imap.folder, readonly=not writes)
        # `UID n:*` always matches the newest message, even when its UID is below n.
        uids = sorted(u for u in map(int, mailbox.uids(f"UID {state.last_uid + 1}:*"))
                      if u > state.last_uid)
        for start in range(0, len(uids), FETCH_BATCH):
            batch = [str(u) for u in uids[start:start + FETCH_BATCH]]
            messages = sorted(mailbox.fetch(uid_list=batch, mark_seen=False, bulk=True),
                              key=lambda m: int(m.uid))
            for message in messages:
                email_ingest(inbox=inbox, raw=message.raw, source=QuarantinedEmail.Source.IMAP)
                state.last_uid = int(message.uid)
                state.save(update_fields=["last_uid"])
                yield message.uid
            # Only once stored (or quarantined, which keeps the raw mail too).
            done = [m.uid for m in messages]
            if done and imap.mark_seen:
                mailbox.flag(done, MailMessageFlags.SEEN, True)
            if done and imap.delete:
                mailbox.delete(done)
