"""The email ingest path: command, raw MIME endpoint, threading, quarantine, bounces,
auto-acknowledgements, and a full reply round trip."""

import io
import mailbox
import sys
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.core.management import CommandError, call_command

from inbox.channels.email.ingest import email_ingest, quarantine_reprocess
from inbox.channels.email.models import QuarantinedEmail
from inbox.models import Inbox, Message, Ticket
from inbox.services import message_reply, ticket_set_status
from inbox.tasks import message_deliver
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def support(agent):
    return InboxFactory(kind=Inbox.Kind.EMAIL, slug="support", members=[agent],
                        config={"address": "support@acme.test", "from_name": "ACME"})


def mail(sender="ana@example.net", subject="Help", body="My order is late.", **headers):
    message = EmailMessage()
    message["From"] = f"Ana <{sender}>"
    message["To"] = "support@acme.test"
    message["Subject"] = subject
    message["Message-ID"] = headers.pop("message_id", make_msgid(domain="example.net"))
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message


def ingest_command(*args, stdin=b""):
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdin
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        call_command("ingest_email", "--inbox", "support", *args, stdout=out, stderr=err)
    finally:
        sys.stdin = old
    return out.getvalue().strip()


def test_whole_fixture_folder_ingests_and_reingest_adds_nothing(support, fixtures_dir):
    folder = fixtures_dir / "email"
    summary = ingest_command(str(folder))
    counts = dict(pair.split("=") for pair in summary.split())
    assert set(counts) == {"ingested", "duplicates", "quarantined", "auto_replies"}
    total = sum(int(v) for v in counts.values())
    assert total == len(list(folder.glob("*.eml"))) == 34
    # Two fixtures share a Message-ID with another one, three have no usable sender.
    assert (counts["duplicates"], counts["quarantined"]) == ("1", "3")
    stored = Message.objects.count()
    assert stored == int(counts["ingested"]) + int(counts["auto_replies"])
    assert QuarantinedEmail.objects.count() == 3
    again = dict(pair.split("=") for pair in ingest_command(str(folder)).split())
    assert again == {"ingested": "0", "duplicates": "34", "quarantined": "0",
                     "auto_replies": "0"}
    assert Message.objects.count() == stored and QuarantinedEmail.objects.count() == 3


def test_reply_fixture_threads_onto_its_parent(support, fixtures_dir):
    email = fixtures_dir / "email"
    parent = email_ingest(inbox=support, source="command",
                          raw=(email / "chatwoot_support_thread_parent.eml").read_bytes())
    reply = email_ingest(inbox=support, source="command",
                         raw=(email / "chatwoot_in_reply_to.eml").read_bytes())
    assert (parent.status, reply.status) == ("ingested", "ingested")
    assert reply.message.ticket_id == parent.message.ticket_id
    assert [m.seq for m in Message.objects.filter(ticket=parent.message.ticket)] == [1, 2]


def test_duplicate_message_id_is_a_duplicate_even_with_other_content(support, fixtures_dir):
    email = fixtures_dir / "email"
    first = email_ingest(inbox=support, source="command",
                         raw=(email / "chatwoot_support_thread_parent.eml").read_bytes())
    twin = email_ingest(inbox=support, source="command",
                        raw=(email / "chatwoot_autoreply_x_autoreply.eml").read_bytes())
    assert twin.status == "duplicate" and twin.message.pk == first.message.pk


def test_no_message_id_is_deduplicated_by_content(support):
    message = mail()
    del message["Message-ID"]
    raw = message.as_bytes()
    assert email_ingest(inbox=support, raw=raw, source="command").status == "ingested"
    assert email_ingest(inbox=support, raw=raw, source="command").status == "duplicate"
    assert Message.objects.get().external_id.endswith("@switchboard.invalid>")


def test_threading_by_token_subject_number_and_headers(support):
    first = email_ingest(inbox=support, raw=mail(message_id="<a@x>").as_bytes(),
                         source="command").message
    ticket = first.ticket
    by_token = mail(subject="totally new subject", message_id="<b@x>")
    del by_token["To"]
    by_token["To"] = f"support+t{ticket.token}@acme.test"
    by_number = mail(subject=f"Re: Help [#{ticket.pk}]", message_id="<c@x>")
    by_header = mail(subject="Re: Help", message_id="<d@x>", In_Reply_To="<a@x>")
    by_references = mail(subject="Re", message_id="<e@x>", References="<zz@x> <c@x>")
    unrelated = mail(subject="Other", message_id="<f@x>", In_Reply_To="<nope@x>")
    results = [email_ingest(inbox=support, raw=m.as_bytes(), source="command").message
               for m in (by_token, by_number, by_header, by_references, unrelated)]
    assert [m.ticket_id for m in results[:4]] == [ticket.pk] * 4
    assert results[4].ticket_id != ticket.pk
    assert Ticket.objects.count() == 2


def test_mbox_stdin_and_summary(support, tmp_path):
    box = mailbox.mbox(tmp_path / "archive.mbox")
    for n in range(3):
        box.add(mail(subject=f"mbox {n}"))
    box.flush()
    assert ingest_command(str(tmp_path / "archive.mbox")) == (
        "ingested=3 duplicates=0 quarantined=0 auto_replies=0")
    assert ingest_command("-", stdin=mail(subject="piped").as_bytes()) == (
        "ingested=1 duplicates=0 quarantined=0 auto_replies=0")
    assert ingest_command("-", stdin=(tmp_path / "archive.mbox").read_bytes()) == (
        "ingested=0 duplicates=3 quarantined=0 auto_replies=0")
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == [
        "mbox 0", "mbox 1", "mbox 2", "piped"]


def test_command_argument_errors(support, tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        ingest_command(str(tmp_path / "missing.eml"))
    with pytest.raises(CommandError, match="No inbox with slug 'nope'"):
        call_command("ingest_email", "--inbox", "nope", str(tmp_path))
    InboxFactory(kind=Inbox.Kind.WIDGET, slug="chat")
    with pytest.raises(CommandError, match="not email"):
        call_command("ingest_email", "--inbox", "chat", str(tmp_path))


def test_garbage_is_quarantined_and_reprocessed_after_a_fix(support, tmp_path, monkeypatch):
    raw = b"Subject: no sender here\r\n\r\nbody\r\n"
    (tmp_path / "bad.eml").write_bytes(raw)
    assert ingest_command(str(tmp_path)) == (
        "ingested=0 duplicates=0 quarantined=1 auto_replies=0")
    item = QuarantinedEmail.objects.get()
    assert item.error == "no sender address (From is missing or broken)"
    assert item.raw.read() == raw and item.size == len(raw) and item.inbox == support
    # The operator fixes the cause (here: the parser learns a default sender) and retries.
    from inbox.channels.email import ingest
    from inbox.channels.email.parse import email_parse

    def fixed(raw_bytes, **kwargs):
        parsed = email_parse(raw_bytes, **kwargs)
        return parsed.__class__(**{**parsed.__dict__, "sender_address": "ops@acme.test"})

    monkeypatch.setattr(ingest, "email_parse", fixed)
    outcome = quarantine_reprocess(item=item)
    item.refresh_from_db()
    assert outcome.status == "ingested" and item.message == outcome.message
    assert item.reprocessed_at is not None
    assert outcome.message.ticket.subject == "no sender here"


def test_storage_failure_quarantines_instead_of_losing_mail(support, monkeypatch):
    from inbox.channels.email import ingest

    def broken(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(ingest, "message_ingest", broken)
    outcome = email_ingest(inbox=support, raw=mail().as_bytes(), source="imap")
    assert outcome.status == "quarantined"
    assert "database went away" in QuarantinedEmail.objects.get().error


def test_original_is_kept_and_metadata_recorded(support):
    raw = mail(body="Hello\n\n> quoted old text\n").as_bytes()
    message = email_ingest(inbox=support, raw=raw, source="command").message
    assert message.raw.read() == raw
    assert message.metadata["email"]["from"] == "ana@example.net"
    assert message.metadata["email"]["text_full"].startswith("Hello")


def test_auto_reply_is_recorded_but_never_acknowledged(support, mailoutbox,
                                                       django_capture_on_commit_callbacks):
    support.config["auto_acknowledge"] = "We got your message (#{number})."
    support.save()
    with django_capture_on_commit_callbacks(execute=True):
        ooo = email_ingest(inbox=support, source="command",
                           raw=mail(Auto_Submitted="auto-replied").as_bytes())
    assert ooo.status == "auto_reply" and ooo.message.is_auto_reply
    assert not Message.objects.filter(direction="outbound").exists()


def test_auto_acknowledgement_once_per_sender_per_hour(support):
    support.config["auto_acknowledge"] = "We got your message (#{number})."
    support.save()
    first = email_ingest(inbox=support, raw=mail(subject="one").as_bytes(),
                         source="command").message
    email_ingest(inbox=support, raw=mail(subject="two").as_bytes(), source="command")
    email_ingest(inbox=support, raw=mail(sender="bo@example.net").as_bytes(), source="command")
    acks = Message.objects.filter(author_type="system").order_by("id")
    assert [(m.ticket.contact.identities.get().value, m.body_text) for m in acks] == [
        ("ana@example.net", f"We got your message (#{first.ticket_id})."),
        ("bo@example.net", f"We got your message (#{first.ticket_id + 2})."),
    ]
    assert all(m.channel == "email" and m.delivery_status == "queued" for m in acks)


def test_bounce_marks_the_original_outbound_failed(support, agent, mailoutbox):
    ticket = email_ingest(inbox=support, raw=mail().as_bytes(), source="command").message.ticket
    reply = message_reply(ticket=ticket, agent=agent, body="Answer")
    message_deliver.apply(args=[reply.pk])
    reply.refresh_from_db()
    assert reply.delivery_status == "sent"
    dsn = (
        "From: Mail Delivery Subsystem <mailer-daemon@mx.example.net>\r\n"
        "To: support@acme.test\r\nSubject: Delivery Status Notification (Failure)\r\n"
        "Auto-Submitted: auto-replied\r\nMessage-ID: <dsn-1@mx.example.net>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        "Final-Recipient: rfc822; ana@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--b1\r\nContent-Type: message/rfc822\r\n\r\n"
        f"Message-ID: {reply.external_id}\r\nSubject: Re: Help\r\n\r\nAnswer\r\n"
        "--b1--\r\n"
    ).encode()
    outcome = email_ingest(inbox=support, raw=dsn, source="command")
    reply.refresh_from_db()
    assert outcome.status == "auto_reply" and outcome.message.ticket_id == ticket.pk
    assert reply.delivery_status == "failed"
    assert reply.delivery_error == "Bounced (ana@example.net): 550 5.1.1 user unknown"
    assert Ticket.objects.get().status == "open"


def test_round_trip_reply_threads_back(support, agent, mailoutbox):
    ticket = email_ingest(inbox=support, raw=mail().as_bytes(), source="command").message.ticket
    reply = message_reply(ticket=ticket, agent=agent, body="We shipped it today.")
    message_deliver.apply(args=[reply.pk])
    ticket_set_status(ticket=ticket, status="resolved", by=agent)
    sent = mailoutbox[-1].message()
    # The customer answers from a client that keeps only the Reply-To and the subject.
    answer = mail(subject=sent["Subject"] if sent["Subject"].startswith("Re:")
                  else f"Re: {sent['Subject']}",
                  body="Thanks, got it!\n\nOn Monday ACME wrote:\n> We shipped it today.\n",
                  In_Reply_To=sent["Message-ID"], References=sent["Message-ID"])
    del answer["To"]
    answer["To"] = sent["Reply-To"]
    outcome = email_ingest(inbox=support, raw=answer.as_bytes(), source="command")
    ticket.refresh_from_db()
    assert outcome.message.ticket_id == ticket.pk and ticket.status == "open"
    assert outcome.message.body_text.strip() == "Thanks, got it!"
    assert "We shipped it today." in outcome.message.metadata["email"]["text_full"]


class TestRawEndpoint:
    def post(self, client, inbox, raw, token=None, **extra):
        headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
        return client.post(f"/hooks/email/{inbox.key}/raw", raw,
                           content_type="message/rfc822", **headers, **extra)

    @pytest.fixture
    def token(self, agent):
        from rest_framework.authtoken.models import Token

        return Token.objects.create(user=agent).key

    def test_ingest_duplicate_and_quarantine_statuses(self, client, support, token):
        raw = mail().as_bytes()
        first = self.post(client, support, raw, token)
        assert first.status_code == 201 and first.json()["status"] == "ingested"
        assert first.json()["ticket_id"] == Ticket.objects.get().pk
        again = self.post(client, support, raw, token)
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        bad = self.post(client, support, b"\x00\xff not an email", token)
        assert bad.status_code == 202 and bad.json()["status"] == "quarantined"

    def test_auth_and_membership(self, client, support, token, admin_agent):
        raw = mail().as_bytes()
        assert self.post(client, support, raw).status_code == 401
        assert self.post(client, support, raw, "wrong-token").status_code == 401
        other = InboxFactory(kind=Inbox.Kind.EMAIL)
        response = self.post(client, other, raw, token)
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
        assert Message.objects.count() == 0

    def test_empty_and_oversized_bodies(self, client, support, token, settings):
        assert self.post(client, support, b"", token).status_code == 400
        settings.EMAIL_RAW_MAX_BYTES = 1000
        response = self.post(client, support, mail(body="x" * 5000).as_bytes(), token)
        assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
        assert Message.objects.count() == 0



def test_inline_cid_image_is_shown_through_its_attachment_url(support, fixtures_dir, agent, api):
    raw = (fixtures_dir / "email" / "enmime_html_only_inline_cid.eml").read_bytes()
    message = email_ingest(inbox=support, raw=raw, source="command").message
    image = message.attachments.get()
    assert image.content_id and f"cid:{image.content_id}" in message.body_html
    shown = api(agent).get(f"/api/v1/tickets/{message.ticket_id}/messages/").json()["results"][0]
    url = f"/api/v1/attachments/{image.pk}/download/"
    assert f'src="{url}"' in shown["body_html"] and "cid:" not in shown["body_html"]
    served = api(agent).get(url)
    assert served.status_code == 200 and served["Content-Type"] == image.content_type
