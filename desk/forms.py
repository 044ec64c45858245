"""Validation of what agents submit; bad input becomes a form error, never a 500."""

from datetime import datetime

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from inbox.models import Agent, Channel, Ticket

from .models import CannedResponse
from .selectors import Cursor

STATUS_CHOICES = [("", _("Unresolved")), ("unresolved", _("Unresolved")), ("any", _("Any")),
                  *Ticket.Status.choices]


class ListQueryForm(forms.Form):
    """The inbox list's query string."""

    assignee = forms.CharField(required=False, max_length=254)
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES)
    inbox = forms.IntegerField(required=False, min_value=1)
    team = forms.IntegerField(required=False, min_value=1)
    label = forms.CharField(required=False, max_length=64)
    channel = forms.ChoiceField(required=False, choices=[("", "")] + Channel.choices)
    q = forms.CharField(required=False, max_length=200, strip=True)
    after = forms.CharField(required=False, max_length=80)
    filter = forms.IntegerField(required=False, min_value=1)

    def clean_assignee(self):
        value = self.cleaned_data["assignee"]
        if value and value not in ("me", "none") and not value.isdigit() and "@" not in value:
            raise forms.ValidationError(_("Choose me, none, an agent id or an email."))
        return value

    def clean_after(self):
        value = self.cleaned_data["after"]
        if not value:
            return None
        at, _sep, pk = value.rpartition("_")
        try:
            moment = datetime.fromisoformat(at)
            if timezone.is_naive(moment) or not pk.isdigit():
                raise ValueError
        except ValueError:
            raise forms.ValidationError(_("Not a valid page cursor.")) from None
        return Cursor(moment, int(pk))

    def params(self) -> dict:
        """The filters of the view, without paging: what a saved filter stores."""
        return {key: value for key, value in self.cleaned_data.items()
                if key not in ("after", "filter") and value not in (None, "")}


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input (Django's documented recipe)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, (list, tuple)):
            return [super(MultipleFileField, self).clean(item, initial) for item in data]
        return [super().clean(data, initial)] if data else []


class ComposerForm(forms.Form):
    kind = forms.ChoiceField(choices=[("reply", _("Reply")), ("note", _("Internal note"))])
    body = forms.CharField(label=_("Message"), max_length=50_000, strip=False, required=False,
                           widget=forms.Textarea)
    channel = forms.ChoiceField(label=_("Channel"), required=False,
                                choices=[("", "")] + Channel.choices)
    attachments = MultipleFileField(label=_("Attach files"), required=False)

    def clean(self):
        data = super().clean()
        body, files = data.get("body") or "", data.get("attachments") or []
        if data.get("kind") == "note" and files:
            self.add_error("attachments", _("Internal notes take no attachments."))
        elif not body.strip() and not files:
            self.add_error("body", _("Write something first."))
        return data


class TicketUpdateForm(forms.Form):
    """One or more ticket changes; fields left out are left alone."""

    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", "")] + Ticket.Status.choices)
    snoozed_until = forms.DateTimeField(label=_("Snooze until"), required=False,
                                        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    priority = forms.ChoiceField(label=_("Priority"), required=False,
                                 choices=[("", "")] + Ticket.Priority.choices)
    assignee = forms.CharField(label=_("Assignee"), required=False, max_length=20)
    labels = forms.CharField(label=_("Labels"), required=False, max_length=1000)
    labels_present = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean_assignee(self):
        value = self.cleaned_data["assignee"]
        if value in ("", "none", "me"):
            return value
        if not value.isdigit():
            raise forms.ValidationError(_("Choose an agent."))
        agent = Agent.objects.filter(pk=int(value), is_active=True).first()
        if agent is None:
            raise forms.ValidationError(_("Unknown agent."))
        return agent

    def clean(self):
        data = super().clean()
        # The panel posts the snooze field with every change: it counts only for a snooze.
        if data.get("status") not in ("", None, Ticket.Status.SNOOZED):
            data["snoozed_until"] = None
        if data.get("snoozed_until") and data["snoozed_until"] <= timezone.now():
            self.add_error("snoozed_until", _("Choose a time in the future."))
        return data

    def changes(self, *, agent: Agent) -> dict:
        """The keyword arguments of `ticket_update` for what was submitted."""
        data, changes = self.cleaned_data, {}
        if data.get("snoozed_until"):
            changes.update(status=Ticket.Status.SNOOZED, snoozed_until=data["snoozed_until"])
        elif data.get("status"):
            changes["status"] = data["status"]
        if data.get("priority"):
            changes["priority"] = data["priority"]
        if data.get("assignee") != "" and "assignee" in self.data:
            assignee = data["assignee"]
            changes["assignee"] = agent if assignee == "me" else None if assignee == "none" \
                else assignee
        if data.get("labels_present") or data.get("labels"):
            changes["labels"] = [name.strip() for name in data["labels"].split(",")
                                 if name.strip()]
        return changes


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=150, required=False)
    avatar_url = forms.URLField(label=_("Avatar URL"), required=False, assume_scheme="https")
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    availability = forms.ChoiceField(label=_("Availability"), choices=Agent.Availability.choices)


class SavedFilterForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)


class CannedResponseForm(forms.ModelForm):
    class Meta:
        model = CannedResponse
        fields = ["shortcut", "title", "body"]


class MergeForm(forms.Form):
    source = forms.IntegerField(label=_("Contact number to merge into this one"), min_value=1)
