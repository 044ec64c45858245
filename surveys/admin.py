from django.contrib import admin

from .models import Answer, Invitation, RecoveryTask, SurveySettings


@admin.register(SurveySettings)
class SurveySettingsAdmin(admin.ModelAdmin):
    list_display = ["inbox", "kinds", "delay", "recovery_mode", "nps_campaign_days",
                    "nps_cooldown_days"]
    fields = ["inbox", "kinds", "delay", "questions", "comment_enabled",
              "survey_without_agent_reply", "recovery_mode", "nps_campaign_days",
              "nps_cooldown_days"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["pk", "kind", "trigger", "ticket", "status", "skip_reason", "scheduled_for",
                    "sent_at"]
    list_filter = ["kind", "trigger", "status"]
    readonly_fields = [f.name for f in Invitation._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = ["invitation", "score", "answered_at", "updated_at"]
    readonly_fields = [f.name for f in Answer._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(RecoveryTask)
class RecoveryTaskAdmin(admin.ModelAdmin):
    list_display = ["pk", "ticket", "kind", "score", "owner", "status", "created_at",
                    "contacted_at", "resolved_at"]
    list_filter = ["status", "kind"]
    readonly_fields = ["invitation", "ticket", "kind", "score", "created_at"]
