"""The domain of one ticket timeline per customer (SPEC §2).

Models hold data and invariants enforced by the database (unique constraints, indexes).
Every write that has business meaning goes through `inbox.services`.
"""

import os
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .crypto import secrets_decrypt, secrets_encrypt


def new_public_key() -> str:
    return secrets.token_urlsafe(18)


def new_secret() -> str:
    return secrets.token_hex(32)


# Lower-case base32-ish alphabet: survives case-folding mail servers in plus-addresses.
TICKET_TOKEN_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
TICKET_TOKEN_LENGTH = 12


def new_ticket_token() -> str:
    return "".join(secrets.choice(TICKET_TOKEN_ALPHABET) for _ in range(TICKET_TOKEN_LENGTH))


class Channel(models.TextChoices):
    EMAIL = "email", _("Email")
    WIDGET = "widget", _("Chat widget")
    TELEGRAM = "telegram", _("Telegram")
    WHATSAPP = "whatsapp", _("WhatsApp")
    MESSENGER = "messenger", _("Messenger")
    INSTAGRAM = "instagram", _("Instagram")
    SMS = "sms", _("SMS")


# Channels whose inbound messages join the contact's latest unresolved messaging ticket.
MESSAGING_CHANNELS = frozenset(
    {Channel.WIDGET, Channel.TELEGRAM, Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM,
     Channel.SMS}
)


class Agent(AbstractUser):
    """A person who works tickets. Admins (support leads) see every inbox."""

    class Role(models.TextChoices):
        AGENT = "agent", _("Agent")
        ADMIN = "admin", _("Admin")

    class Availability(models.TextChoices):
        ONLINE = "online", _("Online")
        AWAY = "away", _("Away")

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    display_name = models.CharField(max_length=150, blank=True)
    avatar_url = models.URLField(blank=True)
    language = models.CharField(max_length=10, choices=settings.LANGUAGES, default="en")
    availability = models.CharField(
        max_length=16, choices=Availability.choices, default=Availability.ONLINE
    )

    class Meta:
        verbose_name = _("agent")
        verbose_name_plural = _("agents")

    @property
    def is_admin(self) -> bool:
        return self.is_superuser or self.role == self.Role.ADMIN

    @property
    def name(self) -> str:
        return self.display_name or self.get_full_name() or self.username


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    lead = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="led_teams"
    )
    members = models.ManyToManyField(Agent, blank=True, related_name="teams")

    def __str__(self):
        return self.name


class Inbox(models.Model):
    """One configured channel instance: a mailbox, a widget, a Telegram bot..."""

    class Kind(models.TextChoices):
        EMAIL = "email", _("Email")
        WIDGET = "widget", _("Chat widget")
        TELEGRAM = "telegram", _("Telegram")
        WHATSAPP = "whatsapp", _("WhatsApp")
        MESSENGER = "messenger", _("Messenger")
        INSTAGRAM = "instagram", _("Instagram")
        TWILIO = "twilio", _("Twilio SMS")

    kind = models.CharField(max_length=16, choices=Kind.choices)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=64, unique=True)
    key = models.CharField(max_length=32, unique=True, default=new_public_key, editable=False)
    identity_secret = models.CharField(max_length=64, default=new_secret, editable=False)
    config = models.JSONField(default=dict, blank=True)
    # Provider credentials, encrypted at rest (inbox.crypto); read with `secret()`.
    secrets_encrypted = models.TextField(blank=True, editable=False)
    members = models.ManyToManyField(Agent, blank=True, related_name="inboxes")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    reopen_window = models.DurationField(
        default=timedelta(days=7),
        help_text=_("A customer message within this time after resolution reopens the ticket."),
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = _("inboxes")

    def __str__(self):
        return self.name

    @property
    def channel(self) -> str:
        return Channel.SMS if self.kind == self.Kind.TWILIO else self.kind

    @property
    def attachment_limit_mb(self) -> float:
        """The largest file this inbox stores, sends or accepts, in MB: `max_attachment_mb`,
        by default 10 for email and the widget and 20 for the messaging providers (whose
        own APIs serve files up to that size); an unreadable value counts as the default."""
        default = 10.0 if self.kind in (self.Kind.EMAIL, self.Kind.WIDGET) else 20.0
        try:
            return float(self.config.get("max_attachment_mb", default))
        except (TypeError, ValueError):
            return default

    @property
    def attachment_limit_bytes(self) -> int:
        return int(self.attachment_limit_mb * 1024 * 1024)

    def secret(self, name: str, default: str = "") -> str:
        """A credential: from the encrypted store, or `env:VAR` in config names a variable."""
        value = secrets_decrypt(self.secrets_encrypted).get(name)
        if value is None:
            reference = self.config.get(name, "")
            env_name = str(reference).removeprefix("env:")
            value = os.environ.get(env_name, default) if env_name != reference else default
        return value

    def secrets_update(self, values: dict) -> None:
        """Merge `values` into the encrypted store (a None value removes a key); unsaved."""
        stored = secrets_decrypt(self.secrets_encrypted)
        stored.update(values)
        self.secrets_encrypted = secrets_encrypt({k: v for k, v in stored.items() if v is not None})

    @property
    def secret_names(self) -> list[str]:
        return sorted(secrets_decrypt(self.secrets_encrypted))


class Contact(models.Model):
    name = models.CharField(max_length=200, blank=True)
    language = models.CharField(max_length=10, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged_from"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return self.name or f"Contact {self.pk}"


class ContactIdentity(models.Model):
    class Kind(models.TextChoices):
        EMAIL = "email", _("Email address")
        PHONE = "phone", _("Phone (E.164)")
        TELEGRAM = "telegram", _("Telegram user id")
        WHATSAPP = "whatsapp", _("WhatsApp id")
        MESSENGER = "messenger", _("Messenger id")
        INSTAGRAM = "instagram", _("Instagram id")
        VISITOR = "visitor", _("Widget visitor id")
        EXTERNAL = "external", _("External user id")

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=320)
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = _("contact identities")
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="identity_unique_kind_value")
        ]

    def __str__(self):
        return f"{self.kind}:{self.value}"


class ContactMerge(models.Model):
    """Audit record of a merge: what moved, who did it, when."""

    source_contact_id = models.BigIntegerField()
    source_name = models.CharField(max_length=200, blank=True)
    target = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="merges")
    merged_by = models.ForeignKey(Agent, null=True, on_delete=models.SET_NULL)
    moved_ticket_ids = models.JSONField(default=list)
    moved_identities = models.JSONField(default=list)
    at = models.DateTimeField(default=timezone.now)


class Label(models.Model):
    name = models.CharField(max_length=64, unique=True)
    color = models.CharField(max_length=7, default="#6b7280")

    def __str__(self):
        return self.name


class Ticket(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending")
        SNOOZED = "snoozed", _("Snoozed")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")

    class Priority(models.TextChoices):
        LOW = "low", _("Low")
        NORMAL = "normal", _("Normal")
        HIGH = "high", _("High")
        URGENT = "urgent", _("Urgent")

    UNRESOLVED = (Status.OPEN, Status.PENDING, Status.SNOOZED)

    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="tickets")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="tickets")
    subject = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_tickets"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    labels = models.ManyToManyField(Label, blank=True, related_name="tickets")
    # The channel of the first message; reports group by it.
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # Secret carried in Reply-To plus-addresses so email replies thread back.
    token = models.CharField(max_length=16, unique=True, default=new_ticket_token, editable=False)
    # When a customer writes after the reopen window, the new ticket links to the old one.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="follow_ups"
    )
    external_id = models.CharField(max_length=200, null=True, blank=True, unique=True)
    last_seq = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # Inbox lists: by inbox and status, newest activity first, keyset on (time, id).
            models.Index(
                fields=["inbox", "status", "-last_activity_at", "-id"], name="ticket_inbox_status"
            ),
            models.Index(fields=["-last_activity_at", "-id"], name="ticket_activity"),
            models.Index(
                fields=["assignee", "status", "-last_activity_at"], name="ticket_assignee_status"
            ),
            models.Index(fields=["contact", "status"], name="ticket_contact_status"),
        ]

    def __str__(self):
        return f"#{self.number} {self.subject}"

    @property
    def number(self) -> int:
        """The number customers and agents quote, e.g. `[#1234]` in email subjects."""
        return self.pk

    @property
    def is_unresolved(self) -> bool:
        return self.status in self.UNRESOLVED


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")
        NOTE = "note", _("Internal note")

    class AuthorType(models.TextChoices):
        CONTACT = "contact", _("Contact")
        AGENT = "agent", _("Agent")
        BOT = "bot", _("Bot")
        SYSTEM = "system", _("System")

    class DeliveryStatus(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        READ = "read", _("Read")
        FAILED = "failed", _("Failed")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="messages")
    seq = models.PositiveIntegerField()
    direction = models.CharField(max_length=16, choices=Direction.choices)
    # Empty for internal notes, which travel nowhere.
    channel = models.CharField(max_length=16, choices=Channel.choices, blank=True)
    author_type = models.CharField(max_length=16, choices=AuthorType.choices)
    author_agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL)
    author_contact = models.ForeignKey(Contact, null=True, blank=True, on_delete=models.SET_NULL)
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True, help_text=_("Sanitized HTML."))
    external_id = models.CharField(max_length=500, null=True, blank=True)
    client_id = models.UUIDField(null=True, blank=True)
    delivery_status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, blank=True, default=""
    )
    delivery_error = models.TextField(blank=True)
    is_auto_reply = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict, blank=True)
    # The original as received (an .eml, a webhook body), kept for "view original".
    raw = models.FileField(upload_to="raw/%Y/%m/", max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["ticket_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "seq"], name="message_ticket_seq"),
            models.UniqueConstraint(
                fields=["inbox", "external_id"],
                condition=Q(external_id__isnull=False),
                name="message_inbox_external_id",
            ),
            models.UniqueConstraint(
                fields=["inbox", "client_id"],
                condition=Q(client_id__isnull=False),
                name="message_inbox_client_id",
            ),
        ]
        indexes = [models.Index(fields=["ticket", "created_at"], name="message_ticket_time")]

    def __str__(self):
        return f"{self.ticket_id}/{self.seq} {self.direction}"

    @property
    def is_public(self) -> bool:
        return self.direction != self.Direction.NOTE


def attachment_path(instance, filename):
    return f"attachments/{timezone.now():%Y/%m}/{secrets.token_hex(8)}/{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=500)
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255, default="application/octet-stream")
    size = models.PositiveBigIntegerField(default=0)
    # Set for inline images referenced from the HTML body as cid:<content_id>.
    content_id = models.CharField(max_length=255, blank=True)

    def __str__(self):
        return self.name


class TicketEvent(models.Model):
    """Append-only history of a ticket. Reports are computed from it."""

    class Type(models.TextChoices):
        CREATED = "created", _("Created")
        MESSAGE_IN = "message_in", _("Message received")
        MESSAGE_OUT = "message_out", _("Reply sent")
        NOTE = "note", _("Note added")
        ASSIGNED = "assigned", _("Assigned")
        TEAM_CHANGED = "team_changed", _("Team changed")
        PRIORITY_CHANGED = "priority_changed", _("Priority changed")
        LABELED = "labeled", _("Labels changed")
        STATUS_CHANGED = "status_changed", _("Status changed")
        REOPENED = "reopened", _("Reopened")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")
        MERGED = "merged", _("Contact merged")
        SURVEY_SENT = "survey_sent", _("Survey sent")
        SURVEY_ANSWERED = "survey_answered", _("Survey answered")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=32, choices=Type.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["ticket", "at"], name="event_ticket_time"),
            models.Index(fields=["type", "at"], name="event_type_time"),
        ]

    def __str__(self):
        return f"{self.ticket_id} {self.type} {self.at:%Y-%m-%d %H:%M}"


# Channel-specific models live beside their adapters; importing them here registers them.
from .channels.email.models import MailboxState, QuarantinedEmail  # noqa: E402, F401
from .webhooks.models import WebhookDelivery, WebhookEndpoint  # noqa: E402, F401
