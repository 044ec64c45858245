"""Reads of the surveys app: settings, whether an invitation may still go out, the recovery
tasks an agent may work, a contact's answers, and who an NPS campaign reaches."""

from datetime import datetime, timedelta

from django.db.models import OuterRef, Q, QuerySet, Subquery

from inbox.models import Agent, Contact, Message, Ticket, TicketEvent

from .models import Answer, Invitation, Kind, RecoveryTask, SurveySettings

SPAM_LABEL = "spam"


def settings_for(*, inbox) -> SurveySettings:
    """The inbox's settings, or unsaved defaults when it has none."""
    return SurveySettings.objects.filter(inbox=inbox).first() or SurveySettings(inbox=inbox)


def invitation_skip_reason(*, invitation: Invitation, survey_settings: SurveySettings,
                           now: datetime) -> str:
    """Why the invitation must not go out now ("" if it may)."""
    ticket, contact = invitation.ticket, invitation.contact
    if invitation.trigger == Invitation.Trigger.RESOLUTION:
        if ticket.status not in (Ticket.Status.RESOLVED, Ticket.Status.CLOSED):
            return "reopened"
        latest = (ticket.events.filter(type__in=[TicketEvent.Type.RESOLVED,
                                                 TicketEvent.Type.REOPENED])
                  .order_by("-at", "-pk").values_list("pk", flat=True).first())
        if latest != invitation.resolution_event_id:
            return "reopened"
    if ticket.labels.filter(name__iexact=SPAM_LABEL).exists():
        return "spam"
    if contact.merged_into_id is not None:
        return "merged"
    inbound = ticket.messages.filter(direction=Message.Direction.INBOUND)
    if not inbound.filter(is_auto_reply=False).exists():
        return "auto_reply"
    if invitation.trigger == Invitation.Trigger.RESOLUTION and (
        not survey_settings.survey_without_agent_reply
    ) and not ticket.messages.filter(
        direction=Message.Direction.OUTBOUND, author_type=Message.AuthorType.AGENT
    ).exists():
        return "no_agent_reply"
    if invitation.trigger == Invitation.Trigger.CAMPAIGN and nps_recently_sent(
        contact=contact, since=now - timedelta(days=survey_settings.nps_cooldown_days),
        exclude=invitation.pk,
    ):
        return "cooldown"
    return ""


def nps_recently_sent(*, contact: Contact, since: datetime, exclude: int | None = None) -> bool:
    return Invitation.objects.filter(
        contact=contact, kind=Kind.NPS, status=Invitation.Status.SENT, sent_at__gte=since
    ).exclude(pk=exclude).exists()


def nps_campaign_tickets(*, survey_settings: SurveySettings, now: datetime) -> QuerySet[Ticket]:
    """For each contact whose last resolved ticket (in any inbox) is in this inbox and
    `nps_campaign_days` old (up to a week late, should beat have been down), that ticket;
    contacts surveyed for NPS within the cooldown are left out."""
    days = survey_settings.nps_campaign_days
    due_before = now - timedelta(days=days)
    last_resolved = (
        Ticket.objects.filter(contact=OuterRef("contact"), resolved_at__isnull=False,
                              status__in=[Ticket.Status.RESOLVED, Ticket.Status.CLOSED])
        .order_by("-resolved_at", "-pk").values("pk")[:1]
    )
    cooled = Invitation.objects.filter(
        kind=Kind.NPS, status=Invitation.Status.SENT,
        sent_at__gte=now - timedelta(days=survey_settings.nps_cooldown_days),
    ).values("contact")
    return (
        Ticket.objects.filter(
            inbox_id=survey_settings.inbox_id, status__in=[Ticket.Status.RESOLVED,
                                                           Ticket.Status.CLOSED],
            resolved_at__lte=due_before, resolved_at__gt=due_before - timedelta(days=7),
            contact__merged_into__isnull=True,
        )
        .filter(pk=Subquery(last_resolved))
        .exclude(contact__in=cooled)
        .select_related("contact", "inbox")
    )


def preferred_channel(*, contact: Contact) -> str | None:
    """The channel of the contact's latest inbound message (not an auto-reply)."""
    return (
        Message.objects.filter(ticket__contact=contact, direction=Message.Direction.INBOUND,
                               is_auto_reply=False)
        .order_by("-created_at", "-pk").values_list("channel", flat=True).first()
    )


def recovery_tasks_for(*, agent: Agent) -> QuerySet[RecoveryTask] | None:
    """The recovery tasks an agent may work: admins all, team leads their teams' and their
    own; None for anyone else (not allowed)."""
    tasks = RecoveryTask.objects.select_related("ticket__inbox", "ticket__contact", "owner",
                                                "invitation__answer")
    if agent.is_admin:
        return tasks
    led = agent.led_teams.values("pk")
    if not agent.led_teams.exists():
        return None
    return tasks.filter(Q(owner=agent) | Q(ticket__team__in=led) | Q(ticket__inbox__team__in=led))


def answers_for_contact(*, contact: Contact) -> QuerySet[Answer]:
    """A contact's survey answers, newest first (the contact sidebar)."""
    return (Answer.objects.filter(invitation__contact=contact)
            .select_related("invitation__ticket").order_by("-answered_at", "-pk"))

