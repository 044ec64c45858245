"""Services of the surveys app: schedule and send invitations, record answers, open and
track service recovery, run NPS campaigns. Every send goes through `inbox.services`."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from inbox.channels.meta import whatsapp_window_open
from inbox.errors import Conflict, InvalidInput
from inbox.models import Agent, Channel, Message, Ticket, TicketEvent
from inbox.services import (
    message_reply,
    note_add,
    ticket_assign,
    ticket_event_record,
    ticket_follow_up_open,
    ticket_set_priority,
    ticket_set_status,
    webhook_event_emit,
)
from inbox.services.messages import reply_channel_pick

from .models import Answer, Invitation, Kind, RecoveryTask, SurveySettings
from .scoring import SCALES, score_is_low, score_valid
from .selectors import (
    invitation_skip_reason,
    nps_campaign_tickets,
    preferred_channel,
    settings_for,
)
from .texts import invitation_bodies, language_for, question_text
from .tokens import survey_url

# An answer may be changed for this long after it was first given.
CHANGE_WINDOW = timedelta(days=7)
COMMENT_MAX = 2000
# A scheduled invitation this late is handed to the worker again (a lost broker message).
SWEEP_GRACE = timedelta(minutes=10)


def _send_enqueue(invitation: Invitation) -> None:
    from .tasks import survey_send

    survey_send.apply_async(args=[invitation.pk], eta=invitation.scheduled_for)


def invitations_schedule(*, ticket_id: int, event_id: int) -> list[Invitation]:
    """One invitation per enabled kind for the resolution `event_id`, sent by Celery after
    the inbox's delay. Calling it again for the same resolution creates nothing."""
    ticket = Ticket.objects.select_related("inbox", "contact").filter(pk=ticket_id).first()
    event = TicketEvent.objects.filter(pk=event_id, ticket_id=ticket_id,
                                       type=TicketEvent.Type.RESOLVED).first()
    if ticket is None or event is None:
        return []
    survey_settings = settings_for(inbox=ticket.inbox)
    created = []
    with transaction.atomic():
        for kind in [k for k in Kind.values if k in (survey_settings.kinds or [])]:
            invitation, new = Invitation.objects.get_or_create(
                resolution_event=event, kind=kind, defaults={
                    "ticket": ticket, "contact": ticket.contact,
                    "trigger": Invitation.Trigger.RESOLUTION,
                    "language": language_for(contact=ticket.contact, inbox=ticket.inbox),
                    "scheduled_for": event.at + survey_settings.delay,
                })
            if new:
                created.append(invitation)
                transaction.on_commit(lambda invitation=invitation: _send_enqueue(invitation))
    return created


def invitations_cancel(*, ticket_id: int) -> int:
    """A reopen cancels the invitations still waiting for their delay."""
    return Invitation.objects.filter(
        ticket_id=ticket_id, trigger=Invitation.Trigger.RESOLUTION,
        status=Invitation.Status.SCHEDULED,
    ).update(status=Invitation.Status.SKIPPED, skip_reason="reopened")


def invitation_send(*, invitation_id: int, now: datetime | None = None) -> Invitation | None:
    """Send a scheduled invitation on the ticket's channel, once. The row lock and the
    status make it idempotent: a retried or redelivered task finds it sent (or skipped)."""
    now = now or timezone.now()
    with transaction.atomic():
        invitation = (Invitation.objects.select_for_update(of=("self",))
                      .select_related("ticket__inbox", "contact").filter(pk=invitation_id).first())
        if invitation is None or invitation.status != Invitation.Status.SCHEDULED:
            return invitation
        ticket = invitation.ticket
        survey_settings = settings_for(inbox=ticket.inbox)
        reason = invitation_skip_reason(invitation=invitation, survey_settings=survey_settings,
                                        now=now)
        try:
            channel = _channel_pick(invitation=invitation, now=now)
        except InvalidInput:
            reason = reason or "unreachable"
        if reason:
            invitation.status, invitation.skip_reason = Invitation.Status.SKIPPED, reason
            invitation.save(update_fields=["status", "skip_reason"])
            return invitation
        url = survey_url(invitation.pk)
        question = question_text(questions=survey_settings.questions, kind=invitation.kind,
                                 language=invitation.language)
        text, html = invitation_bodies(channel=channel, kind=invitation.kind, question=question,
                                       url=url, language=invitation.language)
        low, high = SCALES[invitation.kind]
        invitation.message = message_reply(
            ticket=ticket, agent=None, body=text, body_html=html, channel=channel,
            author_type=Message.AuthorType.SYSTEM, at=now,
            metadata={"survey": {"invitation": invitation.pk, "kind": invitation.kind,
                                 "min": low, "max": high, "question": question, "url": url}},
        )
        ticket_event_record(ticket=ticket, type=TicketEvent.Type.SURVEY_SENT, at=now,
                            data={"kind": invitation.kind, "invitation": str(invitation.pk)})
        invitation.status, invitation.sent_at = Invitation.Status.SENT, now
        invitation.save(update_fields=["status", "sent_at", "message"])
    return invitation


def _channel_pick(*, invitation: Invitation, now: datetime) -> str:
    """The ticket's reply channel (a campaign: the contact's preferred one). WhatsApp
    refuses free-form messages 24 h after the customer's last one: email instead, if the
    contact has an address (InvalidInput if not)."""
    ticket = invitation.ticket
    wanted = (preferred_channel(contact=invitation.contact)
              if invitation.trigger == Invitation.Trigger.CAMPAIGN else None)
    channel, inbox = reply_channel_pick(ticket=ticket, channel=wanted)
    if channel == Channel.WHATSAPP and not whatsapp_window_open(ticket, inbox_id=inbox.pk,
                                                                now=now):
        channel = reply_channel_pick(ticket=ticket, channel=Channel.EMAIL)[0]
    return channel


def invitations_send_due(*, now: datetime | None = None) -> int:
    """Hand overdue scheduled invitations to the worker again (beat); returns how many."""
    now = now or timezone.now()
    due = Invitation.objects.filter(status=Invitation.Status.SCHEDULED,
                                    scheduled_for__lte=now - SWEEP_GRACE)
    count = 0
    for invitation in due.iterator():
        _send_enqueue(invitation)
        count += 1
    return count


def answer_payload(answer: Answer) -> dict:
    """The body of the `survey.answered` webhook."""
    invitation = answer.invitation
    return {
        "invitation": invitation.pk, "kind": invitation.kind, "score": answer.score,
        "comment": answer.comment, "ticket_id": invitation.ticket_id,
        "contact_id": invitation.contact_id, "answered_at": answer.answered_at.isoformat(),
        "updated_at": answer.updated_at.isoformat(),
    }


@transaction.atomic
def answer_record(*, invitation_id: int, score: int, comment: str = "",
                  at: datetime | None = None) -> Answer:
    """Record (or change, within CHANGE_WINDOW) the one answer of an invitation. Each
    change is logged for reports and sent to webhooks; a low score opens recovery."""
    at = at or timezone.now()
    invitation = (Invitation.objects.select_for_update(of=("self",))
                  .select_related("ticket__inbox", "contact").get(pk=invitation_id))
    if invitation.status != Invitation.Status.SENT:
        raise InvalidInput("This survey was not sent.", code="not_sent")
    if not isinstance(score, int) or not score_valid(invitation.kind, score):
        low, high = SCALES[invitation.kind]
        raise InvalidInput(f"The score must be from {low} to {high}.",
                           fields={"score": [f"{low}–{high}"]})
    survey_settings = settings_for(inbox=invitation.ticket.inbox)
    comment = comment.strip()[:COMMENT_MAX] if survey_settings.comment_enabled else ""
    answer = Answer.objects.filter(invitation=invitation).first()
    previous_comment = answer.comment if answer else ""
    if answer is None:
        answer = Answer.objects.create(invitation=invitation, score=score, comment=comment,
                                       answered_at=at, updated_at=at)
    else:
        if at - answer.answered_at > CHANGE_WINDOW:
            raise Conflict("This answer can no longer be changed.", code="answer_locked")
        if (answer.score, answer.comment) == (score, comment):
            return answer
        answer.score, answer.comment, answer.updated_at = score, comment, at
        answer.save(update_fields=["score", "comment", "updated_at"])
    ticket_event_record(ticket=invitation.ticket, type=TicketEvent.Type.SURVEY_ANSWERED, at=at,
                        data={"kind": invitation.kind, "score": score,
                              "invitation": str(invitation.pk), "comment": comment})
    webhook_event_emit(event="survey.answered", payload=answer_payload(answer),
                       inbox_id=invitation.ticket.inbox_id)
    task = RecoveryTask.objects.filter(invitation=invitation).first()
    if task is None and score_is_low(invitation.kind, score):
        recovery_open(invitation=invitation, answer=answer, survey_settings=survey_settings)
    elif task is not None and comment and comment != previous_comment:
        note_add(ticket=task.ticket, agent=None, body=_recovery_note(invitation, answer))
    return answer


def _recovery_note(invitation: Invitation, answer: Answer) -> str:
    low, high = SCALES[invitation.kind]
    line = _("Survey answer: %(kind)s %(score)s (scale %(low)s–%(high)s).") % {
        "kind": invitation.kind.upper(), "score": answer.score, "low": low, "high": high}
    if answer.comment:
        line += "\n" + _("Customer's comment: %(comment)s") % {"comment": answer.comment}
    return line


def recovery_open(*, invitation: Invitation, answer: Answer,
                  survey_settings: SurveySettings) -> RecoveryTask:
    """Act on a bad score: reopen the ticket (or open a linked follow-up), raise it to high
    priority, assign it to the team lead and leave the customer's words as a note."""
    ticket = invitation.ticket
    lead = (ticket.team.lead if ticket.team else None) or (
        ticket.inbox.team.lead if ticket.inbox.team else None)
    if survey_settings.recovery_mode == SurveySettings.RecoveryMode.FOLLOW_UP:
        target = ticket_follow_up_open(
            ticket=ticket, by=None,
            subject=_("Follow-up: %(subject)s") % {
                "subject": ticket.subject or f"#{ticket.number}"})
    elif ticket.is_unresolved:
        target = ticket
    else:
        target = ticket_set_status(ticket=ticket, status=Ticket.Status.OPEN, by=None)
    if target.priority in (Ticket.Priority.LOW, Ticket.Priority.NORMAL):
        target = ticket_set_priority(ticket=target, priority=Ticket.Priority.HIGH, by=None)
    if lead is not None:
        try:
            target = ticket_assign(ticket=target, assignee=lead, by=None)
        except InvalidInput:  # a lead outside the inbox still owns the task, unassigned
            pass
    task = RecoveryTask.objects.create(invitation=invitation, ticket=target, owner=lead,
                                       kind=invitation.kind, score=answer.score)
    note_add(ticket=target, agent=None, body=_recovery_note(invitation, answer))
    return task


_RECOVERY_ORDER = [RecoveryTask.Status.OPEN, RecoveryTask.Status.CONTACTED,
                   RecoveryTask.Status.RESOLVED]


@transaction.atomic
def recovery_status_set(*, task: RecoveryTask, status: str, by: Agent,
                        at: datetime | None = None) -> RecoveryTask:
    """Move a recovery task forward (open → contacted → resolved), stamping each step."""
    if status not in RecoveryTask.Status.values:
        raise InvalidInput(f"Unknown status {status!r}.", fields={"status": ["unknown"]})
    task = RecoveryTask.objects.select_for_update().get(pk=task.pk)
    if _RECOVERY_ORDER.index(status) < _RECOVERY_ORDER.index(task.status):
        raise Conflict("A recovery task only moves forward.", code="backwards")
    if status == task.status:
        return task
    at = at or timezone.now()
    task.status = status
    if task.contacted_at is None:
        task.contacted_at = at
    if status == RecoveryTask.Status.RESOLVED:
        task.resolved_at = at
    task.save(update_fields=["status", "contacted_at", "resolved_at"])
    return task


def nps_campaign_run(*, now: datetime | None = None) -> int:
    """Invite contacts whose last resolved ticket is the inbox's `nps_campaign_days` old,
    at most once per cooldown (Celery beat, daily). Returns how many were scheduled."""
    now = now or timezone.now()
    count = 0
    for survey_settings in SurveySettings.objects.filter(nps_campaign_days__gt=0):
        for ticket in nps_campaign_tickets(survey_settings=survey_settings, now=now):
            with transaction.atomic():
                invitation, new = Invitation.objects.get_or_create(
                    contact=ticket.contact, kind=Kind.NPS, campaign_date=now.date(), defaults={
                        "ticket": ticket, "trigger": Invitation.Trigger.CAMPAIGN,
                        "language": language_for(contact=ticket.contact, inbox=ticket.inbox),
                        "scheduled_for": now,
                    })
                if new:
                    count += 1
                    transaction.on_commit(lambda invitation=invitation: _send_enqueue(invitation))
    return count
