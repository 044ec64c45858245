"""The public survey pages (signed link, no login) and the recovery page for leads."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from inbox.errors import Conflict, InvalidInput

from . import services
from .models import QUESTION_LANGUAGES as LANGUAGES
from .models import Answer, Invitation, RecoveryTask
from .scoring import SCALES, score_valid
from .selectors import recovery_tasks_for, settings_for
from .texts import SCALE_LABELS, language_normalize, question_text
from .tokens import TokenExpired, TokenInvalid, token_read


def _integer(value) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _problem(request, language: str, status: int, message: str) -> HttpResponse:
    with translation.override(language):
        return render(request, "surveys/problem.html",
                      {"message": message, "language": language}, status=status)


def _invitation_from(request, token: str):
    """(invitation, language) or (None, error page) for a survey link."""
    language = language_normalize(request.GET.get("lang")) or "en"
    try:
        invitation_id = token_read(token)
    except TokenExpired:
        with translation.override(language):
            return None, _problem(request, language, 410, _("This survey link has expired."))
    except TokenInvalid:
        with translation.override(language):
            return None, _problem(request, language, 400, _("This survey link is not valid."))
    invitation = (Invitation.objects.select_related("ticket__inbox")
                  .filter(pk=invitation_id, status=Invitation.Status.SENT).first())
    if invitation is None:
        with translation.override(language):
            return None, _problem(request, language, 404, _("This survey link is not valid."))
    return invitation, None


def _language(request, invitation: Invitation) -> str:
    return language_normalize(request.GET.get("lang")) or invitation.language


def _form(request, invitation: Invitation, language: str, *, score=None, comment=None,
          notice: str = "", error: str = "", status: int = 200) -> HttpResponse:
    answer = Answer.objects.filter(invitation=invitation).first()
    survey_settings = settings_for(inbox=invitation.ticket.inbox)
    low, high = SCALES[invitation.kind]
    with translation.override(language):
        return render(request, "surveys/survey.html", {
            "invitation": invitation, "answer": answer, "language": language,
            "languages": LANGUAGES, "scores": range(low, high + 1),
            "selected": score if score is not None else (answer.score if answer else None),
            "comment": comment if comment is not None else (answer.comment if answer else ""),
            "comment_enabled": survey_settings.comment_enabled,
            "question": question_text(questions=survey_settings.questions,
                                      kind=invitation.kind, language=language),
            "low_label": SCALE_LABELS[invitation.kind][0],
            "high_label": SCALE_LABELS[invitation.kind][1],
            "notice": notice, "error": error,
        }, status=status)


def _score_refused(request, invitation: Invitation, language: str, *,
                   comment=None) -> HttpResponse:
    """The form again, with the scale the score must be on (call under the page's language)."""
    low, high = SCALES[invitation.kind]
    return _form(request, invitation, language, comment=comment, status=400, error=_(
        "Please pick a score from %(low)s to %(high)s.") % {"low": low, "high": high})


@require_http_methods(["GET", "HEAD", "POST"])
def survey_answer(request, token: str):
    invitation, problem = _invitation_from(request, token)
    if problem:
        return problem
    language = _language(request, invitation)
    if request.method == "POST":
        return _answer_post(request, invitation, language)
    score = _integer(request.GET.get("score"))
    if "score" not in request.GET:
        return _form(request, invitation, language)
    if score is None or not score_valid(invitation.kind, score):
        with translation.override(language):
            return _score_refused(request, invitation, language)
    answered = Answer.objects.filter(invitation=invitation).first()
    with translation.override(language):
        # One click records a first answer; a link scanner following every link must not
        # change an existing one, so a different score only pre-selects it for confirmation.
        if answered is None and request.method == "GET":
            services.answer_record(invitation_id=invitation.pk, score=score)
            comment_enabled = settings_for(inbox=invitation.ticket.inbox).comment_enabled
            return _form(request, invitation, language, notice=_(
                "Thank you, your answer is recorded. You can add a comment below."
            ) if comment_enabled else _("Thank you, your answer is recorded."))
        if answered is not None and answered.score != score:
            return _form(request, invitation, language, score=score,
                         notice=_("Confirm below to change your answer."))
        return _form(request, invitation, language)


def _answer_post(request, invitation: Invitation, language: str) -> HttpResponse:
    score, comment = _integer(request.POST.get("score")), request.POST.get("comment", "")
    with translation.override(language):
        if score is None:
            return _form(request, invitation, language, comment=comment, status=400,
                         error=_("Please pick a score."))
        try:
            services.answer_record(invitation_id=invitation.pk, score=score, comment=comment)
        except Conflict:
            return _problem(request, language, 409, _("This answer can no longer be changed."))
        except InvalidInput:
            return _score_refused(request, invitation, language, comment=comment)
    url = reverse("surveys:thanks", args=[request.resolver_match.kwargs["token"]])
    return redirect(f"{url}?lang={language}")


@require_http_methods(["GET", "HEAD"])
def survey_thanks(request, token: str):
    invitation, problem = _invitation_from(request, token)
    if problem:
        return problem
    language = _language(request, invitation)
    answer = Answer.objects.filter(invitation=invitation).first()
    if answer is None:
        return redirect(f"{reverse('surveys:answer', args=[token])}?lang={language}")
    changeable = timezone.now() - answer.answered_at <= services.CHANGE_WINDOW
    with translation.override(language):
        return render(request, "surveys/thanks.html", {
            "invitation": invitation, "answer": answer, "language": language,
            "languages": LANGUAGES, "changeable": changeable, "token": token,
        })


def _recovery_tasks(request):
    tasks = recovery_tasks_for(agent=request.user)
    if tasks is None:
        raise PermissionDenied
    return tasks


@login_required
@require_http_methods(["GET", "HEAD"])
def recovery_list(request):
    tasks = _recovery_tasks(request)
    status = request.GET.get("status", "")
    if status in RecoveryTask.Status.values:
        tasks = tasks.filter(status=status)
    return render(request, "surveys/recovery.html", {
        "tasks": tasks.order_by("-created_at", "-pk")[:200], "status": status,
        "statuses": RecoveryTask.Status.choices,
    })


@login_required
@require_POST
def recovery_update(request, task_id: int):
    task = get_object_or_404(_recovery_tasks(request), pk=task_id)
    try:
        services.recovery_status_set(task=task, status=request.POST.get("status", ""),
                                     by=request.user)
    except (InvalidInput, Conflict) as error:
        return HttpResponse(error.message, status=error.status, content_type="text/plain")
    return redirect("surveys:recovery")
