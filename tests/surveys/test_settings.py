"""Per-inbox survey settings: defaults without a row, validation of what admins type."""

import pytest
from django.core.exceptions import ValidationError

from surveys.models import SurveySettings
from surveys.selectors import answers_for_contact, settings_for
from surveys.services import answer_record
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db


def test_inbox_without_settings_gets_the_defaults():
    inbox = InboxFactory()
    defaults = settings_for(inbox=inbox)
    assert defaults.pk is None
    assert (defaults.kinds, defaults.delay.total_seconds(), defaults.comment_enabled,
            defaults.survey_without_agent_reply, defaults.recovery_mode,
            defaults.nps_campaign_days, defaults.nps_cooldown_days) == (
        ["csat"], 3600.0, True, False, "reopen", 0, 90)


@pytest.mark.parametrize("field, value", [
    ("kinds", ["csat", "stars"]), ("kinds", "csat"),
    ("questions", {"csat": {"fr": "Êtes-vous satisfait ?"}}),
    ("questions", {"csat": {"en": "  "}}), ("questions", {"rating": {"en": "How?"}}),
])
def test_settings_refuse_what_would_break_a_survey(field, value):
    survey_settings = SurveySettings(inbox=InboxFactory(), **{field: value})
    with pytest.raises(ValidationError) as error:
        survey_settings.full_clean()
    assert list(error.value.message_dict) == [field]


def test_valid_settings_pass():
    SurveySettings(inbox=InboxFactory(), kinds=["ces", "nps"],
                   questions={"nps": {"id": "Maukah Anda merekomendasikan kami?"}}).full_clean()


def test_contact_sidebar_lists_answers_newest_first(sent_invitation):
    invitation = sent_invitation(kinds=["csat", "nps"])
    nps = invitation.ticket.survey_invitations.get(kind="nps")
    csat = invitation.ticket.survey_invitations.get(kind="csat")
    answer_record(invitation_id=csat.pk, score=5)
    answer_record(invitation_id=nps.pk, score=9)
    assert [(a.invitation.kind, a.score) for a in answers_for_contact(
        contact=invitation.contact)] == [("nps", 9), ("csat", 5)]


def test_beat_runs_the_sweep_and_the_campaign():
    from django.conf import settings

    from config.celery import app

    schedule = {entry["task"]: entry["schedule"]
                for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["surveys.tasks.survey_send_due"] == 300.0
    assert schedule["surveys.tasks.nps_campaign_run"] == 86400.0
    assert {"surveys.tasks.survey_send", "surveys.tasks.survey_send_due",
            "surveys.tasks.nps_campaign_run"} <= set(app.tasks)


@pytest.mark.parametrize("language", ["id", "zh_Hans"])
def test_every_string_is_translated(language):
    from pathlib import Path

    import surveys

    po = (Path(surveys.__file__).parent / "locale" / language / "LC_MESSAGES" / "django.po")
    entries = po.read_text(encoding="utf-8").split("\n\n")[1:]  # after the header
    untranslated = [entry for entry in entries if entry.rstrip().endswith('msgstr ""')]
    assert entries and untranslated == []
    assert "#, fuzzy" not in po.read_text(encoding="utf-8")
    assert po.with_suffix(".mo").stat().st_mtime >= po.stat().st_mtime - 1


def _admin_form(inbox, **overrides):
    return {"inbox": inbox.pk, "kinds": '["csat", "nps"]', "delay": "00:30:00",
            "questions": '{"csat": {"id": "Puas dengan layanan kami?"}}',
            "comment_enabled": "on", "recovery_mode": "follow_up", "nps_campaign_days": "30",
            "nps_cooldown_days": "90", **overrides}


def test_admins_edit_settings_in_django_admin(admin_client):
    inbox = InboxFactory()
    response = admin_client.post("/admin/surveys/surveysettings/add/", _admin_form(inbox))
    assert response.status_code == 302
    saved = SurveySettings.objects.get(inbox=inbox)
    assert (saved.kinds, saved.delay.total_seconds(), saved.questions, saved.comment_enabled,
            saved.survey_without_agent_reply, saved.recovery_mode, saved.nps_campaign_days) == (
        ["csat", "nps"], 1800.0, {"csat": {"id": "Puas dengan layanan kami?"}}, True, False,
        "follow_up", 30)


def test_admin_refuses_unknown_kinds(admin_client):
    inbox = InboxFactory()
    response = admin_client.post("/admin/surveys/surveysettings/add/",
                                 _admin_form(inbox, kinds='["stars"]'))
    assert response.status_code == 200
    assert "A list of: csat, ces, nps." in response.content.decode()
    assert not SurveySettings.objects.exists()
