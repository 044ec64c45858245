import hashlib
import secrets
from datetime import timedelta

from django.db import models
from django.utils import timezone

SESSION_LIFETIME = timedelta(days=30)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WidgetSession(models.Model):
    """A visitor's bearer token for one widget inbox. Only its digest is stored."""

    inbox = models.ForeignKey("inbox.Inbox", on_delete=models.CASCADE)
    contact = models.ForeignKey("inbox.Contact", on_delete=models.CASCADE)
    visitor_id = models.CharField(max_length=64, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    verified_user_id = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    def __str__(self):
        return f"{self.inbox_id}:{self.visitor_id}"

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(32)

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class ReadMarker(models.Model):
    """How far each side has read a ticket (read receipts, unread badges, offline email)."""

    ticket = models.OneToOneField("inbox.Ticket", on_delete=models.CASCADE,
                                  related_name="read_marker")
    contact_seq = models.PositiveIntegerField(default=0)
    agent_seq = models.PositiveIntegerField(default=0)
    contact_read_at = models.DateTimeField(null=True, blank=True)
    # The last seq included in an offline email, so each reply is emailed at most once.
    emailed_seq = models.PositiveIntegerField(default=0)


def upload_path(instance, filename):
    return f"widget-uploads/{timezone.now():%Y/%m}/{secrets.token_hex(8)}/{filename}"


class WidgetUpload(models.Model):
    """A file a visitor uploaded, waiting to be attached to the message they send next."""

    session = models.ForeignKey(WidgetSession, on_delete=models.CASCADE, related_name="uploads")
    file = models.FileField(upload_to=upload_path, max_length=300)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)
