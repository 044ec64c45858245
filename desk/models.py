"""What the agent inbox keeps besides the tickets: saved filters, canned responses and the
notifications that @mentions in internal notes produce."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SavedFilter(models.Model):
    """A named list view: the query string of the inbox list (view, status, q...)."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="saved_filters")
    name = models.CharField(_("name"), max_length=80)
    params = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["agent", "name"], name="saved_filter_agent_name")
        ]

    def __str__(self):
        return self.name


class CannedResponse(models.Model):
    """A reply text agents insert with `/shortcut` in the composer; shared by everyone."""

    shortcut = models.SlugField(_("shortcut"), max_length=40, unique=True)
    title = models.CharField(_("title"), max_length=120)
    body = models.TextField(_("text"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["shortcut"]

    def __str__(self):
        return f"/{self.shortcut}"


class Notification(models.Model):
    """An agent was @mentioned in an internal note."""

    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                              related_name="notifications")
    ticket = models.ForeignKey("inbox.Ticket", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey("inbox.Message", on_delete=models.CASCADE, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                           related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["agent", "read_at", "-created_at"],
                                name="notification_agent_unread")]
        constraints = [
            models.UniqueConstraint(fields=["agent", "message"], name="notification_once")
        ]
