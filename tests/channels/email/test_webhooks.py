"""ESP inbound webhooks, posted the way Mailgun, SendGrid and Postmark post them."""

import base64
import hashlib
import hmac
import json
import secrets
import time

import pytest
from django.db import OperationalError

from inbox.channels.email import webhooks
from inbox.channels.email.models import QuarantinedEmail
from inbox.models import Inbox, Message
from tests.factories import InboxFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("private_cache"),  # Mailgun tokens already seen
    # anymail warns on every SendGrid view that it no longer tests SendGrid itself.
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

MAILGUN_KEY = "mailgun-test-signing-key"
BASIC_AUTH = "esp:s3cret-webhook-pass"
BODY = "Terima kasih! Pesanan saya belum sampai.\n我的订单还没有到，请帮忙查一下。"
SUBJECT = "Pesanan #1042 belum sampai — 订单问题"


@pytest.fixture(autouse=True)
def anymail_secrets(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": [BASIC_AUTH], "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}


@pytest.fixture
def support():
    return InboxFactory(kind=Inbox.Kind.EMAIL, slug="support",
                        config={"address": "support@shop.example"})


def raw_email(message_id="<order-1042@customer.example>", body=BODY) -> bytes:
    headers = [
        "From: Budi Santoso <budi@customer.example>",
        "To: support@shop.example",
        "Subject: =?utf-8?b?" + base64.b64encode(SUBJECT.encode()).decode() + "?=",
        "Date: Mon, 05 Jan 2026 09:00:00 +0700",
        *([f"Message-ID: {message_id}"] if message_id else []),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


def basic_auth(credentials=BASIC_AUTH) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


def mailgun_post(client, inbox_key, raw, *, key=MAILGUN_KEY, timestamp=None, token=None,
                 auth=BASIC_AUTH):
    """A Mailgun route's forward() to a URL ending in the raw MIME variant: body-mime.
    With WEBHOOK_SECRET set, anymail wants basic auth on Mailgun's posts too."""
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return client.post(f"/hooks/email/{inbox_key}/mailgun", {
        "recipient": "support@shop.example",
        "sender": "budi@customer.example",
        "from": "Budi Santoso <budi@customer.example>",
        "subject": SUBJECT,
        "body-mime": raw.decode(),
        "timestamp": timestamp,
        "token": token,
        "signature": signature.hexdigest(),
    }, **(basic_auth(auth) if auth else {}))


def sendgrid_post(client, inbox_key, raw, **auth):
    """SendGrid Inbound Parse with "POST the raw, full MIME message"."""
    return client.post(f"/hooks/email/{inbox_key}/sendgrid", {
        "email": raw.decode(),
        "envelope": json.dumps({"to": ["support@shop.example"],
                                "from": "budi@customer.example"}),
        "charsets": json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}),
        "spam_score": "0.1",
        "SPF": "pass",
    }, **auth)


def postmark_payload(message_id="<order-1042@customer.example>", **extra) -> dict:
    headers = [{"Name": "Return-Path", "Value": "<budi@customer.example>"},
               {"Name": "X-Spam-Status", "Value": "No"}]
    if message_id:
        headers.append({"Name": "Message-ID", "Value": message_id})
    return {
        "FromName": "Budi Santoso",
        "From": "budi@customer.example",
        "FromFull": {"Email": "budi@customer.example", "Name": "Budi Santoso",
                     "MailboxHash": ""},
        "To": "support@shop.example",
        "ToFull": [{"Email": "support@shop.example", "Name": "", "MailboxHash": ""}],
        "CcFull": [],
        "OriginalRecipient": "support@shop.example",
        "Subject": SUBJECT,
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "Date": "Mon, 5 Jan 2026 09:00:00 +0700",
        "TextBody": BODY,
        "HtmlBody": "<p>Terima kasih! Pesanan saya belum sampai.</p><p>我的订单还没有到，请帮忙查一下。</p>",
        "StrippedTextReply": "",
        "Tag": "",
        "Headers": headers,
        "Attachments": [],
        **extra,
    }


def postmark_post(client, inbox_key, payload, **auth):
    return client.post(f"/hooks/email/{inbox_key}/postmark", json.dumps(payload),
                       content_type="application/json", **auth)


def stored() -> tuple[int, int]:
    return Message.objects.count(), QuarantinedEmail.objects.count()


def assert_budi_message(response) -> Message:
    assert response.status_code == 200, response.content
    message = Message.objects.get()
    assert response.json() == {"results": [
        {"status": "ingested", "message_id": message.pk, "ticket_id": message.ticket_id}
    ]}
    assert (message.direction, message.channel) == ("inbound", "email")
    assert message.ticket.subject == SUBJECT
    assert message.body_text == BODY
    assert message.author_contact.name == "Budi Santoso"
    assert list(message.author_contact.identities.values_list("kind", "value")) == [
        ("email", "budi@customer.example")
    ]
    return message


# --- Mailgun --------------------------------------------------------------------------------

def test_mailgun_signed_post_is_ingested(client, support):
    message = assert_budi_message(mailgun_post(client, support.key, raw_email()))
    assert message.inbox == support
    assert message.external_id == "<order-1042@customer.example>"


def test_mailgun_signature_alone_suffices_without_webhook_secret(client, support, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": [], "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    assert_budi_message(mailgun_post(client, support.key, raw_email(), auth=None))


def test_mailgun_needs_basic_auth_too_once_webhook_secret_is_set(client, support):
    response = mailgun_post(client, support.key, raw_email(), auth=None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert stored() == (0, 0)


def test_mailgun_wrong_signature_is_refused_and_stores_nothing(client, support):
    response = mailgun_post(client, support.key, raw_email(), key="not-the-key")
    assert response.status_code == 403
    assert response.json() == {"error": {
        "code": "bad_signature", "message": "Mailgun webhook called with incorrect signature"}}
    assert stored() == (0, 0)


@pytest.mark.parametrize(("skew", "message"), [
    (-9 * 3600 - 1, "The signature's timestamp is more than 9 hours old."),
    (301, "The signature's timestamp is more than 5 minutes ahead of ours."),
])
def test_mailgun_stale_or_future_timestamp_is_refused(client, support, skew, message):
    response = mailgun_post(client, support.key, raw_email(), timestamp=int(time.time()) + skew)
    assert response.status_code == 403
    assert response.json()["error"] == {"code": "bad_signature", "message": message}
    assert stored() == (0, 0)


@pytest.mark.parametrize("skew", [-8 * 3600 - 600, -280, 280])
def test_mailgun_timestamp_within_retry_window_or_skew_is_accepted(client, support, skew):
    response = mailgun_post(client, support.key, raw_email(), timestamp=int(time.time()) + skew)
    assert response.status_code == 200
    assert stored() == (1, 0)


def test_mailgun_retry_of_a_failed_post_is_accepted(client, support, monkeypatch):
    """A post that failed stored nothing; Mailgun's retry carries the same signature."""
    token, timestamp = secrets.token_hex(25), int(time.time()) - 600
    real_ingest = webhooks.email_ingest

    def failing_ingest(**kwargs):
        raise OperationalError("the database went away")

    monkeypatch.setattr(webhooks, "email_ingest", failing_ingest)
    client.raise_request_exception = False
    failed = mailgun_post(client, support.key, raw_email(), token=token, timestamp=timestamp)
    assert failed.status_code == 500
    assert stored() == (0, 0)
    monkeypatch.setattr(webhooks, "email_ingest", real_ingest)
    retry = mailgun_post(client, support.key, raw_email(), token=token, timestamp=timestamp)
    assert retry.status_code == 200
    assert stored() == (1, 0)
    again = mailgun_post(client, support.key, raw_email(), token=token, timestamp=timestamp)
    assert again.status_code == 403


def test_mailgun_replayed_token_is_refused_the_second_time(client, support):
    token, timestamp = secrets.token_hex(25), int(time.time())
    first = mailgun_post(client, support.key, raw_email(), token=token, timestamp=timestamp)
    # The replay carries another message, so only the token check can stop it.
    replay = mailgun_post(client, support.key, raw_email("<other@customer.example>"),
                          token=token, timestamp=timestamp)
    assert (first.status_code, replay.status_code) == (200, 403)
    assert replay.json()["error"] == {
        "code": "bad_signature", "message": "This signed request was already received."}
    assert list(Message.objects.values_list("external_id", flat=True)) == [
        "<order-1042@customer.example>"
    ]


def test_mailgun_without_signing_key_refuses_everything(client, support, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": [BASIC_AUTH]}
    # Signed with the empty key, which anyone could do.
    response = mailgun_post(client, support.key, raw_email(), key="")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "bad_signature"
    assert stored() == (0, 0)


# --- SendGrid and Postmark: basic auth ------------------------------------------------------

def test_sendgrid_raw_post_is_ingested(client, support):
    message = assert_budi_message(sendgrid_post(client, support.key, raw_email(), **basic_auth()))
    assert message.external_id == "<order-1042@customer.example>"


def test_postmark_json_post_is_ingested_with_html_and_attachment(client, support):
    payload = postmark_payload(Attachments=[{
        "Name": "resi.pdf", "ContentType": "application/pdf", "ContentLength": 9,
        "Content": base64.b64encode(b"%PDF-1.4\n").decode(), "ContentID": "",
    }])
    message = assert_budi_message(postmark_post(client, support.key, payload, **basic_auth()))
    assert message.external_id == "<order-1042@customer.example>"
    assert "我的订单还没有到" in message.body_html
    attachment = message.attachments.get()
    assert (attachment.name, attachment.content_type) == ("resi.pdf", "application/pdf")
    assert attachment.file.read() == b"%PDF-1.4\n"


POSTERS = {
    "sendgrid": lambda client, key, **auth: sendgrid_post(client, key, raw_email(), **auth),
    "postmark": lambda client, key, **auth: postmark_post(client, key, postmark_payload(),
                                                          **auth),
}


@pytest.mark.parametrize("esp", POSTERS)
def test_missing_basic_auth_is_401_and_stores_nothing(client, support, esp):
    response = POSTERS[esp](client, support.key)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Basic realm="Switchboard webhooks"'
    assert response.json() == {"error": {
        "code": "unauthorized", "message": "HTTP basic auth credentials are required."}}
    assert stored() == (0, 0)


@pytest.mark.parametrize("esp", POSTERS)
def test_wrong_basic_auth_is_403_and_stores_nothing(client, support, esp):
    response = POSTERS[esp](client, support.key, **basic_auth("esp:guessed"))
    assert response.status_code == 403
    assert response.json() == {"error": {"code": "unauthorized",
                                         "message": "Wrong webhook credentials."}}
    assert stored() == (0, 0)


@pytest.mark.parametrize("esp", POSTERS)
@pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailInsecureWebhookWarning")
def test_without_webhook_secret_configured_everything_is_refused(client, support, settings, esp):
    settings.ANYMAIL = {"WEBHOOK_SECRET": [], "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_KEY}
    for auth in ({}, basic_auth()):
        response = POSTERS[esp](client, support.key, **auth)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "unauthorized"
    assert stored() == (0, 0)


def test_rotated_webhook_secrets_are_all_accepted(client, support, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": ["esp:new-pass", BASIC_AUTH]}
    response = sendgrid_post(client, support.key, raw_email(), **basic_auth("esp:new-pass"))
    assert response.status_code == 200
    assert stored() == (1, 0)


# --- Every ESP ------------------------------------------------------------------------------

def post_as(esp, client, inbox_key, raw=None):
    raw = raw or raw_email()
    if esp == "mailgun":
        return mailgun_post(client, inbox_key, raw)
    if esp == "sendgrid":
        return sendgrid_post(client, inbox_key, raw, **basic_auth())
    return postmark_post(client, inbox_key, postmark_payload(), **basic_auth())


@pytest.mark.parametrize("esp", ["mailgun", "sendgrid", "postmark"])
def test_unknown_or_non_email_inbox_key_is_404(client, support, esp):
    widget = InboxFactory(kind=Inbox.Kind.WIDGET)
    for key in ("no-such-key", widget.key):
        response = post_as(esp, client, key)
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "not_found",
                                             "message": "No such email inbox."}}
    assert stored() == (0, 0)


@pytest.mark.parametrize("esp", ["mailgun", "sendgrid", "postmark"])
def test_same_email_delivered_twice_is_one_message(client, support, esp):
    first, second = post_as(esp, client, support.key), post_as(esp, client, support.key)
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.json()["results"][0]["status"] == "duplicate"
    assert second.json()["results"][0]["message_id"] == first.json()["results"][0]["message_id"]
    assert stored() == (1, 0)


def test_postmark_without_message_id_redelivered_is_one_message(client, support):
    payload = postmark_payload(message_id=None)
    statuses = [
        postmark_post(client, support.key, payload, **basic_auth()).json()["results"][0]["status"]
        for _ in range(2)
    ]
    assert statuses == ["ingested", "duplicate"]
    assert Message.objects.get().external_id == (
        "<22c74902-a0c1-4511-804f-341342852c90@inbound.postmarkapp.com>"
    )


def test_unparseable_email_is_quarantined_and_acknowledged(client, support):
    raw = b"Subject: no sender at all\r\n\r\nWho wrote this?\r\n"
    response = sendgrid_post(client, support.key, raw, **basic_auth())
    assert response.status_code == 200
    assert response.json() == {"results": [
        {"status": "quarantined", "message_id": None, "ticket_id": None}
    ]}
    item = QuarantinedEmail.objects.get()
    assert (item.inbox, item.source) == (support, "webhook")
    assert stored() == (0, 1)


def test_postmark_post_that_is_not_json_is_400(client, support):
    response = client.post(f"/hooks/email/{support.key}/postmark", "From: x",
                           content_type="application/json", **basic_auth())
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_payload"
    assert stored() == (0, 0)
