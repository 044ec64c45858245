"""A bad score opens a recovery task: the ticket reopened (or a follow-up opened) at high
priority for the team lead, the customer's words as a note; leads track the outcome."""

import pytest

from inbox.models import Message, Ticket, TicketEvent
from surveys.models import Answer, RecoveryTask, SurveySettings
from surveys.services import answer_record
from surveys.tokens import token_make
from tests.factories import AdminFactory, AgentFactory, TeamFactory

pytestmark = pytest.mark.django_db


def notes(ticket):
    return list(Message.objects.filter(ticket=ticket, direction="note")
                .order_by("seq").values_list("body_text", flat=True))


def test_low_csat_reopens_the_ticket_for_the_team_lead(client, sent_invitation, lead,
                                                       django_capture_on_commit_callbacks):
    invitation = sent_invitation()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/survey/{token_make(invitation.pk)}/",
                    {"score": "2", "comment": "Paketnya rusak"})
    task = RecoveryTask.objects.get()
    ticket = Ticket.objects.get()
    assert (task.invitation_id, task.ticket_id, task.owner_id, task.kind, task.score,
            task.status) == (invitation.pk, ticket.pk, lead.pk, "csat", 2, "open")
    assert (ticket.status, ticket.priority, ticket.assignee_id) == ("open", "high", lead.pk)
    assert notes(ticket) == [
        "Survey answer: CSAT 2 (scale 1–5).\nCustomer's comment: Paketnya rusak"]
    assert TicketEvent.objects.filter(type="reopened").count() == 1
    # The reopen is not a new resolution episode: nothing else is scheduled.
    assert ticket.survey_invitations.count() == 1


@pytest.mark.parametrize("kind, score, opens", [
    ("csat", 1, True), ("csat", 2, True), ("csat", 3, False), ("csat", 5, False),
    ("ces", 2, True), ("ces", 3, False), ("nps", 0, True), ("nps", 6, True), ("nps", 7, False),
])
def test_which_scores_open_recovery(sent_invitation, kind, score, opens):
    invitation = sent_invitation(kinds=[kind])
    answer_record(invitation_id=invitation.pk, score=score)
    assert RecoveryTask.objects.count() == (1 if opens else 0)
    assert Ticket.objects.get().status == ("open" if opens else "resolved")


def test_one_click_then_comment_opens_one_task_and_adds_the_comment(sent_invitation):
    invitation = sent_invitation()
    answer_record(invitation_id=invitation.pk, score=1)
    answer_record(invitation_id=invitation.pk, score=1, comment="Tidak ada yang membalas")
    answer_record(invitation_id=invitation.pk, score=4, comment="Tidak ada yang membalas")
    task = RecoveryTask.objects.get()
    assert task.score == 1
    assert notes(task.ticket) == [
        "Survey answer: CSAT 1 (scale 1–5).",
        "Survey answer: CSAT 1 (scale 1–5).\nCustomer's comment: Tidak ada yang membalas",
    ]


def test_follow_up_mode_opens_a_linked_ticket(sent_invitation, lead):
    invitation = sent_invitation(recovery_mode=SurveySettings.RecoveryMode.FOLLOW_UP)
    answer_record(invitation_id=invitation.pk, score=2, comment="Lambat")
    original = invitation.ticket
    original.refresh_from_db()
    follow_up = Ticket.objects.exclude(pk=original.pk).get()
    task = RecoveryTask.objects.get()
    assert original.status == "resolved"
    assert (follow_up.parent_id, follow_up.contact_id, follow_up.inbox_id, follow_up.status,
            follow_up.priority, follow_up.assignee_id, follow_up.subject) == (
        original.pk, original.contact_id, original.inbox_id, "open", "high", lead.pk,
        "Follow-up: Pesanan 1234")
    assert task.ticket_id == follow_up.pk
    assert notes(follow_up) == [
        "Survey answer: CSAT 2 (scale 1–5).\nCustomer's comment: Lambat"]
    assert TicketEvent.objects.filter(ticket=follow_up, type="created").count() == 1


def answer_1_on_a_ticket_whose_team_lead_is(lead, sent_invitation):
    invitation = sent_invitation()
    ticket = invitation.ticket
    ticket.team = TeamFactory(lead=lead)
    ticket.save()
    answer_record(invitation_id=invitation.pk, score=1)


def test_ticket_team_lead_comes_before_the_inbox_team_lead(sent_invitation):
    ticket_lead = AdminFactory(username="ticketlead")
    answer_1_on_a_ticket_whose_team_lead_is(ticket_lead, sent_invitation)
    task = RecoveryTask.objects.get()
    assert (task.owner_id, Ticket.objects.get().assignee_id) == (ticket_lead.pk, ticket_lead.pk)


def test_lead_outside_the_inbox_owns_the_task_unassigned(sent_invitation):
    outsider = AgentFactory(username="outsider")
    answer_1_on_a_ticket_whose_team_lead_is(outsider, sent_invitation)
    task = RecoveryTask.objects.get()
    assert task.owner_id == outsider.pk
    assert Ticket.objects.get().assignee_id is None


def test_lead_sees_and_works_the_task(client, sent_invitation, lead):
    invitation = sent_invitation()
    answer_record(invitation_id=invitation.pk, score=2, comment="Kecewa")
    task = RecoveryTask.objects.get()
    client.force_login(lead)
    html = client.get("/surveys/recovery/").content.decode()
    assert f'data-task="{task.pk}"' in html and "Kecewa" in html and "CSAT 2" in html
    assert client.post(f"/surveys/recovery/{task.pk}/", {"status": "contacted"}).status_code == 302
    task.refresh_from_db()
    assert (task.status, task.contacted_at is not None, task.resolved_at) == (
        "contacted", True, None)
    contacted_at = task.contacted_at
    assert client.post(f"/surveys/recovery/{task.pk}/", {"status": "resolved"}).status_code == 302
    task.refresh_from_db()
    assert (task.status, task.contacted_at, task.resolved_at >= contacted_at) == (
        "resolved", contacted_at, True)
    response = client.post(f"/surveys/recovery/{task.pk}/", {"status": "open"})
    assert response.status_code == 409
    assert client.post(f"/surveys/recovery/{task.pk}/", {"status": "lost"}).status_code == 400
    assert RecoveryTask.objects.get().status == "resolved"
    assert client.get("/surveys/recovery/?status=open").content.decode().count("data-task=") == 0


def test_agents_who_lead_no_team_are_refused(client, sent_invitation, support_agent):
    invitation = sent_invitation()
    answer_record(invitation_id=invitation.pk, score=2)
    task = RecoveryTask.objects.get()
    client.force_login(support_agent)
    assert client.get("/surveys/recovery/").status_code == 403
    assert client.post(f"/surveys/recovery/{task.pk}/", {"status": "resolved"}).status_code == 403
    assert RecoveryTask.objects.get().status == "open"


def test_lead_of_another_team_sees_nothing(client, sent_invitation):
    invitation = sent_invitation()
    answer_record(invitation_id=invitation.pk, score=2)
    task = RecoveryTask.objects.get()
    other = AgentFactory(username="otherlead")
    TeamFactory(lead=other)
    client.force_login(other)
    assert "data-task=" not in client.get("/surveys/recovery/").content.decode()
    assert client.post(f"/surveys/recovery/{task.pk}/", {"status": "resolved"}).status_code == 404
    assert RecoveryTask.objects.get().status == "open"


def test_admin_sees_every_task(client, sent_invitation):
    invitation = sent_invitation()
    answer_record(invitation_id=invitation.pk, score=2)
    client.force_login(AdminFactory(username="boss"))
    html = client.get("/surveys/recovery/").content.decode()
    assert html.count("data-task=") == 1


def test_recovery_page_needs_a_login(client):
    response = client.get("/surveys/recovery/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_answer_is_logged_for_reports(sent_invitation):
    invitation = sent_invitation()
    answer_record(invitation_id=invitation.pk, score=2, comment="x")
    logged = TicketEvent.objects.filter(type="survey_answered").values_list("data", flat=True)
    assert list(logged) == [
        {"kind": "csat", "score": 2, "invitation": str(invitation.pk), "comment": "x"}]
    assert Answer.objects.get().invitation_id == invitation.pk


def test_inbox_team_lead_when_the_ticket_team_has_none(sent_invitation, lead):
    invitation = sent_invitation()
    ticket = invitation.ticket
    ticket.team = TeamFactory(lead=None)
    ticket.save()
    answer_record(invitation_id=invitation.pk, score=1)
    assert RecoveryTask.objects.get().owner_id == lead.pk
