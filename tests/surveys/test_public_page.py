"""The public survey page: signed expiring link, no login, one changeable answer, one-click
scores, three languages, and a clear page for a bad link that stores nothing."""

import time
from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from inbox.errors import InvalidInput
from inbox.models import TicketEvent
from inbox.webhooks.models import WebhookDelivery, WebhookEndpoint
from surveys.models import Answer, Invitation
from surveys.services import COMMENT_MAX, answer_record
from surveys.tokens import SALT, token_make

pytestmark = pytest.mark.django_db


def page(invitation) -> str:
    return f"/survey/{token_make(invitation.pk)}/"


def answered_events():
    return list(TicketEvent.objects.filter(type=TicketEvent.Type.SURVEY_ANSWERED)
                .order_by("pk").values_list("data", flat=True))


def test_form_asks_the_question_without_login(client, sent_invitation):
    invitation = sent_invitation()
    response = client.get(page(invitation))
    assert response.status_code == 200
    html = response.content.decode()
    assert "How satisfied are you with the support you received?" in html
    assert html.count('type="radio" name="score"') == 5
    assert 'name="comment"' in html
    assert '<html lang="en">' in html
    assert 'name="viewport"' in html


def test_one_click_records_the_score_at_once(client, sent_invitation):
    invitation = sent_invitation()
    response = client.get(page(invitation) + "?score=4")
    assert response.status_code == 200
    assert "Thank you, your answer is recorded." in response.content.decode()
    answer = Answer.objects.get()
    assert (answer.invitation_id, answer.score, answer.comment) == (invitation.pk, 4, "")
    assert answered_events() == [
        {"kind": "csat", "score": 4, "invitation": str(invitation.pk), "comment": ""}]


def test_a_link_scanner_cannot_change_an_answer(client, sent_invitation):
    invitation = sent_invitation()
    client.get(page(invitation) + "?score=4")
    for score in range(1, 6):  # a scanner follows every link of the email
        response = client.get(page(invitation) + f"?score={score}")
        assert response.status_code == 200
    assert Answer.objects.get().score == 4
    assert len(answered_events()) == 1
    response = client.get(page(invitation) + "?score=2")
    html = response.content.decode()
    assert "Confirm below to change your answer." in html
    assert 'value="2" required checked' in html


def test_head_requests_record_nothing(client, sent_invitation):
    invitation = sent_invitation()
    assert client.head(page(invitation) + "?score=1").status_code == 200
    assert Answer.objects.count() == 0


def test_answer_with_comment_then_thank_you(client, sent_invitation):
    invitation = sent_invitation()
    url = page(invitation)
    response = client.post(url, {"score": "5", "comment": "  Cepat sekali!  "})
    assert response.status_code == 302
    assert response["Location"] == url + "thanks/?lang=en"
    thanks = client.get(response["Location"])
    html = thanks.content.decode()
    assert "Thank you for your feedback!" in html and "Cepat sekali!" in html
    assert "Change my answer" in html
    answer = Answer.objects.get()
    assert (answer.score, answer.comment) == (5, "Cepat sekali!")


def test_answer_can_be_changed_within_seven_days(client, sent_invitation):
    invitation = sent_invitation()
    client.get(page(invitation) + "?score=3")
    assert client.post(page(invitation), {"score": "5", "comment": "ok"}).status_code == 302
    assert client.post(page(invitation), {"score": "5", "comment": "ok"}).status_code == 302
    assert Answer.objects.get().score == 5
    assert [e["score"] for e in answered_events()] == [3, 5]  # the repeat changed nothing
    Answer.objects.update(answered_at=timezone.now() - timedelta(days=7, minutes=1))
    response = client.post(page(invitation), {"score": "1", "comment": ""})
    assert response.status_code == 409
    assert "This answer can no longer be changed." in response.content.decode()
    assert (Answer.objects.get().score, len(answered_events())) == (5, 2)


@pytest.mark.parametrize("data", [{"score": "6"}, {"score": "0"}, {"score": "abc"}, {}])
def test_bad_score_is_refused(client, sent_invitation, data):
    invitation = sent_invitation()
    response = client.post(page(invitation), data)
    assert response.status_code == 400
    assert Answer.objects.count() == 0 and answered_events() == []


def test_bad_one_click_score_is_refused(client, sent_invitation):
    invitation = sent_invitation()
    response = client.get(page(invitation) + "?score=99")
    assert response.status_code == 400
    assert "Please pick a score from 1 to 5." in response.content.decode()
    assert Answer.objects.count() == 0


def test_tampered_token_gets_a_clear_page(client, sent_invitation):
    invitation = sent_invitation()
    token = token_make(invitation.pk)
    forged = signing.dumps(invitation.pk, salt="another.salt")
    # Another invitation's id under this invitation's signature.
    other_id = (signing.b64_encode(str(invitation.pk + 1).encode()).decode() + ":"
                + token.split(":", 1)[1])
    for bad in (token[:-2] + "xx", forged, other_id, "garbage"):
        response = client.get(f"/survey/{bad}/?score=1")
        assert response.status_code == 400, bad
        assert "This survey link is not valid." in response.content.decode()
        assert client.post(f"/survey/{bad}/", {"score": "1"}).status_code == 400
    assert Answer.objects.count() == 0 and answered_events() == []


def test_expired_token_gets_a_clear_page(client, sent_invitation, monkeypatch):
    invitation = sent_invitation()
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() - 31 * 86400)
    old = token_make(invitation.pk)
    monkeypatch.setattr(time, "time", real_time)
    for response in (client.get(f"/survey/{old}/?score=1"),
                     client.post(f"/survey/{old}/", {"score": "1"})):
        assert response.status_code == 410
        assert "This survey link has expired." in response.content.decode()
    assert Answer.objects.count() == 0


def test_link_to_an_invitation_never_sent_is_not_valid(client, sent_invitation):
    sent_invitation()
    token = signing.dumps(987654, salt=SALT)
    assert client.get(f"/survey/{token}/?score=1").status_code == 404
    assert Answer.objects.count() == 0


@pytest.mark.parametrize("language, question, send", [
    ("id", "Seberapa puas Anda dengan bantuan yang Anda terima?", "Kirim"),
    ("zh-hans", "您对我们提供的支持满意吗？", "提交"),
])
def test_page_speaks_the_contacts_language(client, sent_invitation, language, question, send):
    invitation = sent_invitation(language=language)
    html = client.get(page(invitation)).content.decode()
    assert f'<html lang="{language}">' in html and question in html and send in html
    english = client.get(page(invitation) + "?lang=en").content.decode()
    assert "How satisfied are you" in english and '<html lang="en">' in english
    assert 'href="?lang=zh-hans"' in english and 'href="?lang=id"' in english


def test_thank_you_page_in_indonesian(client, sent_invitation):
    invitation = sent_invitation(language="id")
    response = client.post(page(invitation), {"score": "4", "comment": ""}, follow=True)
    assert "Terima kasih atas masukan Anda!" in response.content.decode()


def test_inbox_question_texts_and_no_comment_box(client, sent_invitation):
    invitation = sent_invitation(comment_enabled=False,
                                 questions={"csat": {"en": "Did Toko help you today?"}})
    html = client.get(page(invitation)).content.decode()
    assert "Did Toko help you today?" in html and 'name="comment"' not in html
    client.post(page(invitation), {"score": "4", "comment": "ignored"})
    assert Answer.objects.get().comment == ""


def test_answer_goes_to_outbound_webhooks(client, sent_invitation, monkeypatch):
    from inbox.webhooks import tasks as webhook_tasks

    monkeypatch.setattr(webhook_tasks.webhook_deliver, "delay", lambda pk: None)
    invitation = sent_invitation()
    WebhookEndpoint.objects.create(name="crm", url="https://crm.example/hook",
                                   events=["survey.answered"])
    client.post(page(invitation), {"score": "4", "comment": "Mantap"})
    [delivery] = WebhookDelivery.objects.all()
    answer = Answer.objects.get()
    assert delivery.event == "survey.answered"
    assert delivery.payload == {
        "invitation": invitation.pk, "kind": "csat", "score": 4, "comment": "Mantap",
        "ticket_id": invitation.ticket_id, "contact_id": invitation.contact_id,
        "answered_at": answer.answered_at.isoformat(), "updated_at": answer.updated_at.isoformat()}


def test_one_click_without_comment_box_does_not_offer_one(client, sent_invitation):
    invitation = sent_invitation(comment_enabled=False)
    html = client.get(page(invitation) + "?score=5").content.decode()
    assert "Thank you, your answer is recorded." in html
    assert "add a comment" not in html and 'name="comment"' not in html
    assert Answer.objects.get().score == 5


def test_an_invitation_not_sent_takes_no_answer(sent_invitation):
    invitation = sent_invitation()
    Invitation.objects.filter(pk=invitation.pk).update(status=Invitation.Status.SKIPPED)
    with pytest.raises(InvalidInput) as refused:
        answer_record(invitation_id=invitation.pk, score=5)
    assert refused.value.code == "not_sent"
    assert Answer.objects.count() == 0 and answered_events() == []


def test_a_long_comment_is_trimmed_and_cut_to_its_limit(sent_invitation):
    invitation = sent_invitation()
    answer = answer_record(invitation_id=invitation.pk, score=4,
                           comment="  " + "a" * (COMMENT_MAX + 50) + "  ")
    assert answer.comment == "a" * COMMENT_MAX
    assert Answer.objects.get().comment == "a" * COMMENT_MAX
