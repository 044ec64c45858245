"""Survey settings per inbox, invitations (the outbox), answers and recovery tasks."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inbox.models import Agent, Contact, Inbox, Message, Ticket, TicketEvent


class Kind(models.TextChoices):
    CSAT = "csat", _("CSAT (1–5)")
    CES = "ces", _("CES (1–7)")
    NPS = "nps", _("NPS (0–10)")


QUESTION_LANGUAGES = ("en", "id", "zh-hans")


def default_kinds() -> list[str]:
    return [Kind.CSAT]


class SurveySettings(models.Model):
    """How an inbox surveys its customers. An inbox without a row uses the defaults."""

    class RecoveryMode(models.TextChoices):
        REOPEN = "reopen", _("Reopen the ticket")
        FOLLOW_UP = "follow_up", _("Open a linked follow-up ticket")

    inbox = models.OneToOneField(Inbox, on_delete=models.CASCADE, related_name="survey_settings")
    kinds = models.JSONField(
        default=default_kinds, blank=True,
        help_text=_('Kinds sent after resolution, e.g. ["csat"] or ["csat", "ces"]; '
                    "empty turns post-resolution surveys off."),
    )
    delay = models.DurationField(
        default=timedelta(hours=1), help_text=_("Time between resolution and the invitation.")
    )
    questions = models.JSONField(
        default=dict, blank=True,
        help_text=_('Question texts overriding the defaults: {"csat": {"en": "...", "id": "...", '
                    '"zh-hans": "..."}}.'),
    )
    comment_enabled = models.BooleanField(default=True, help_text=_("Offer a comment box."))
    survey_without_agent_reply = models.BooleanField(
        default=False, help_text=_("Also survey tickets no agent replied to.")
    )
    recovery_mode = models.CharField(
        max_length=16, choices=RecoveryMode.choices, default=RecoveryMode.REOPEN
    )
    nps_campaign_days = models.PositiveIntegerField(
        default=0,
        help_text=_("Send an NPS survey this many days after a contact's last resolved ticket "
                    "(0: no campaign)."),
    )
    nps_cooldown_days = models.PositiveIntegerField(
        default=90, help_text=_("At most one NPS survey per contact in this many days.")
    )

    class Meta:
        verbose_name = _("survey settings")
        verbose_name_plural = _("survey settings")

    def __str__(self):
        return f"Survey settings of {self.inbox}"

    def clean(self):
        if not isinstance(self.kinds, list) or not set(self.kinds) <= set(Kind.values):
            raise ValidationError({"kinds": _("A list of: csat, ces, nps.")})
        if not isinstance(self.questions, dict) or not all(
            kind in Kind.values and isinstance(texts, dict) and all(
                language in QUESTION_LANGUAGES and isinstance(text, str) and text.strip()
                for language, text in texts.items())
            for kind, texts in self.questions.items()
        ):
            raise ValidationError({"questions": _(
                'Per kind (csat, ces, nps), a text per language (en, id, zh-hans).')})


class Invitation(models.Model):
    """One survey invitation: the outbox row the send task works from. Unique per resolution
    episode and kind (or per contact, kind and campaign day), so a retried or redelivered
    task never sends twice."""

    class Trigger(models.TextChoices):
        RESOLUTION = "resolution", _("Resolution")
        CAMPAIGN = "campaign", _("NPS campaign")

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        SENT = "sent", _("Sent")
        SKIPPED = "skipped", _("Skipped")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="survey_invitations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE,
                                related_name="survey_invitations")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    resolution_event = models.ForeignKey(TicketEvent, null=True, blank=True,
                                         on_delete=models.SET_NULL, related_name="+")
    campaign_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    skip_reason = models.CharField(max_length=32, blank=True)
    language = models.CharField(max_length=10, default="en")
    scheduled_for = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    message = models.ForeignKey(Message, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["resolution_event", "kind"],
                                    condition=Q(resolution_event__isnull=False),
                                    name="survey_invitation_per_episode"),
            models.UniqueConstraint(fields=["contact", "kind", "campaign_date"],
                                    condition=Q(campaign_date__isnull=False),
                                    name="survey_invitation_per_campaign_day"),
        ]
        indexes = [models.Index(fields=["contact", "kind", "sent_at"], name="survey_inv_contact")]

    def __str__(self):
        return f"{self.kind} #{self.pk} ticket {self.ticket_id} ({self.status})"


class Answer(models.Model):
    """The customer's one answer to an invitation; changeable for a while."""

    invitation = models.OneToOneField(Invitation, on_delete=models.CASCADE, related_name="answer")
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.invitation.kind} {self.score}"


class RecoveryTask(models.Model):
    """Follow-up on a bad score. Reports count rows by `status` and `created_at`."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CONTACTED = "contacted", _("Contacted")
        RESOLVED = "resolved", _("Resolved")

    invitation = models.OneToOneField(Invitation, on_delete=models.CASCADE,
                                      related_name="recovery_task")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="recovery_tasks",
                               help_text=_("The ticket the recovery is worked on."))
    owner = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="recovery_tasks")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    score = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    contacted_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "created_at"], name="recovery_status_time")]

    def __str__(self):
        return f"Recovery #{self.pk} ticket {self.ticket_id} ({self.status})"
