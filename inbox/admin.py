from collections import Counter

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .channels.email.ingest import quarantine_reprocess
from .channels.email.models import MailboxState, QuarantinedEmail
from .webhooks.models import WebhookDelivery, WebhookEndpoint
from .services import ticket_label, ticket_update
from .models import (
    Agent,
    Attachment,
    Contact,
    ContactIdentity,
    ContactMerge,
    Inbox,
    Label,
    Message,
    Team,
    Ticket,
    TicketEvent,
)


@admin.register(Agent)
class AgentAdmin(UserAdmin):
    list_display = ["username", "email", "display_name", "role", "availability", "is_active"]
    list_filter = ["role", "availability", "is_active"]
    fieldsets = UserAdmin.fieldsets + (
        ("Switchboard", {"fields": ["role", "display_name", "avatar_url", "language",
                                    "availability"]}),
    )


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "lead"]
    filter_horizontal = ["members"]


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "slug", "key"]
    list_filter = ["kind"]
    search_fields = ["name", "slug"]
    readonly_fields = ["key", "identity_secret"]
    filter_horizontal = ["members"]
    prepopulated_fields = {"slug": ["name"]}


class IdentityInline(admin.TabularInline):
    model = ContactIdentity
    extra = 0


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "created_at", "merged_into"]
    search_fields = ["name", "identities__value"]
    inlines = [IdentityInline]
    raw_id_fields = ["merged_into"]


@admin.register(ContactMerge)
class ContactMergeAdmin(admin.ModelAdmin):
    list_display = ["at", "source_contact_id", "source_name", "target", "merged_by"]
    readonly_fields = [f.name for f in ContactMerge._meta.fields]

    def has_add_permission(self, request):
        return False


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["seq", "direction", "channel", "author_type", "body_text", "delivery_status",
              "created_at"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False


class EventInline(admin.TabularInline):
    model = TicketEvent
    extra = 0
    fields = ["at", "type", "actor", "data"]
    readonly_fields = fields
    can_delete = False


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["id", "subject", "status", "priority", "channel", "inbox", "assignee",
                    "last_activity_at"]
    list_filter = ["status", "priority", "channel", "inbox"]
    search_fields = ["=id", "subject", "contact__name"]
    raw_id_fields = ["contact", "parent"]
    readonly_fields = ["token", "last_seq", "created_at", "last_activity_at", "resolved_at"]
    filter_horizontal = ["labels"]
    inlines = [MessageInline, EventInline]
    # Counting a million rows on every page load is what makes admin lists slow.
    show_full_result_count = False
    SERVICE_FIELDS = ("status", "priority", "assignee", "team")

    def save_model(self, request, obj, form, change):
        """Route tracked fields through the services so every change lands in the event log."""
        if not change:
            return super().save_model(request, obj, form, change)
        changes = {f: form.cleaned_data[f] for f in self.SERVICE_FIELDS if f in form.changed_data}
        untracked = [f for f in form.changed_data if f not in self.SERVICE_FIELDS + ("labels",)]
        if untracked:
            obj.save(update_fields=untracked)
        if changes:
            ticket_update(ticket=obj, by=request.user, **changes)

    def save_related(self, request, form, formsets, change):
        # Labels too go through the service (popped so save_m2m leaves them alone).
        labels = form.cleaned_data.pop("labels", None) if change else None
        super().save_related(request, form, formsets, change)
        if labels is not None and "labels" in form.changed_data:
            ticket_label(ticket=form.instance, by=request.user,
                         replace=[label.name for label in labels])


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "ticket", "seq", "direction", "channel", "delivery_status",
                    "created_at"]
    list_filter = ["direction", "channel", "delivery_status"]
    raw_id_fields = ["ticket", "author_contact", "author_agent"]
    inlines = [AttachmentInline]
    show_full_result_count = False


admin.site.register(Label)
admin.site.site_header = "Switchboard"
admin.site.site_title = "Switchboard"


@admin.register(QuarantinedEmail)
class QuarantinedEmailAdmin(admin.ModelAdmin):
    list_display = ["received_at", "inbox", "source", "size", "error", "reprocessed_at",
                    "message"]
    list_filter = ["source", "inbox", ("reprocessed_at", admin.EmptyFieldListFilter)]
    readonly_fields = [f.name for f in QuarantinedEmail._meta.fields]
    actions = ["reprocess"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Re-process the selected emails")
    def reprocess(self, request, queryset):
        results = Counter(
            quarantine_reprocess(item=item).status
            for item in queryset.filter(reprocessed_at__isnull=True)
        )
        self.message_user(request, ", ".join(f"{k}: {v}" for k, v in sorted(results.items()))
                          or "Nothing to re-process.")


@admin.register(MailboxState)
class MailboxStateAdmin(admin.ModelAdmin):
    list_display = ["inbox", "folder", "uidvalidity", "last_uid", "last_polled_at", "last_error"]
    readonly_fields = ["uidvalidity", "last_uid", "last_polled_at", "last_error"]


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    fields = ["created_at", "event", "status", "attempts", "response_status", "error"]
    readonly_fields = fields
    ordering = ["-created_at"]
    extra = 0
    max_num = 0
    can_delete = False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["name", "url", "is_active", "created_at"]
    list_filter = ["is_active"]
    filter_horizontal = ["inboxes"]
    readonly_fields = ["secret", "created_at"]
    inlines = [WebhookDeliveryInline]
