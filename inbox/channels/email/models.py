import hashlib

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class QuarantinedEmail(models.Model):
    """Input that could not become a message: kept raw with the error, never lost, and
    re-processed from the admin once the cause is fixed."""

    class Source(models.TextChoices):
        COMMAND = "command", _("ingest_email command")
        HTTP = "http", _("Raw MIME endpoint")
        IMAP = "imap", _("IMAP polling")
        WEBHOOK = "webhook", _("ESP webhook")

    inbox = models.ForeignKey("inbox.Inbox", null=True, blank=True, on_delete=models.SET_NULL)
    raw = models.FileField(upload_to="quarantine/%Y/%m/", max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    error = models.TextField()
    source = models.CharField(max_length=16, choices=Source.choices)
    received_at = models.DateTimeField(default=timezone.now)
    reprocessed_at = models.DateTimeField(null=True, blank=True)
    message = models.ForeignKey(
        "inbox.Message", null=True, blank=True, on_delete=models.SET_NULL,
        help_text=_("The message it became once re-processed."),
    )

    class Meta:
        verbose_name_plural = _("quarantined emails")
        constraints = [
            models.UniqueConstraint(fields=["inbox", "sha256"], name="quarantine_inbox_sha256")
        ]

    def __str__(self):
        return f"{self.received_at:%Y-%m-%d %H:%M} {self.error[:60]}"

    @staticmethod
    def digest(raw: bytes) -> str:
        return hashlib.sha256(raw).hexdigest()


class MailboxState(models.Model):
    """Where IMAP polling of an inbox stands: UIDs are only meaningful within a UIDVALIDITY."""

    inbox = models.OneToOneField("inbox.Inbox", on_delete=models.CASCADE,
                                 related_name="mailbox_state")
    folder = models.CharField(max_length=200, default="INBOX")
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    last_uid = models.BigIntegerField(default=0)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    def __str__(self):
        return f"{self.inbox} {self.folder} uid>{self.last_uid}"
