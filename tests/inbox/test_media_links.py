"""Signed public links to reply attachments (inbox/media_links.py): what Twilio and Instagram
download, and nothing more."""

import time
from urllib.parse import urlsplit

import pytest
from django.core import signing

from inbox.media_links import media_link, site_is_public
from inbox.models import Attachment, Channel, Inbox
from inbox.services import AttachmentData, Identity, InboundMessage, message_ingest, message_reply
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(agent, settings):
    """(the agent's reply attachment, the customer's attachment) on one ticket."""
    settings.SITE_URL = "https://support.example.com/"
    inbox = InboxFactory(kind=Inbox.Kind.EMAIL, members=[agent])
    inbound = message_ingest(data=InboundMessage(
        inbox=inbox, channel=Channel.EMAIL, sender=[Identity("email", "ana@example.com")],
        subject="Broken", body_text="See the photo",
        attachments=[AttachmentData("private.jpg", b"customer's photo", "image/jpeg")],
    )).message
    reply = message_reply(ticket=inbound.ticket, agent=agent, body="Here is the label",
                          attachments=[AttachmentData("label.pdf", b"%PDF label",
                                                      "application/pdf")])
    return reply.attachments.get(), inbound.attachments.get()


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_a_link_serves_its_reply_attachment_as_a_download(client, files):
    reply_file, _ = files
    url = media_link(reply_file)
    assert url.startswith("https://support.example.com/media/")
    response = client.get(path_of(url))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"%PDF label"
    assert response["Content-Disposition"] == 'attachment; filename="label.pdf"'
    assert response["X-Content-Type-Options"] == "nosniff"


def test_a_forged_or_altered_link_is_not_found(client, files):
    reply_file, customer_file = files
    url = path_of(media_link(reply_file))
    token = url.split("/")[2]
    number, stamp, signature = token.split(":")
    forged = url.replace(token, f"{customer_file.pk}:{stamp}:{signature}")
    assert client.get(forged).status_code == 404
    altered = signature[:-1] + ("B" if signature.endswith("A") else "A")
    assert client.get(url.replace(signature, altered)).status_code == 404
    assert client.get("/media/not-a-token/label.pdf").status_code == 404


def test_customer_files_get_no_link_even_when_signed(client, files):
    _, customer_file = files
    token = signing.TimestampSigner(salt="switchboard.media-link").sign(str(customer_file.pk))
    assert client.get(f"/media/{token}/private.jpg").status_code == 404


def test_a_link_expires(client, files, settings, monkeypatch):
    reply_file, _ = files
    url = path_of(media_link(reply_file))
    settings.MEDIA_LINK_MAX_AGE_HOURS = 2
    now = time.time()
    monkeypatch.setattr(signing.time, "time", lambda: now + 3600)
    assert client.get(url).status_code == 200
    monkeypatch.setattr(signing.time, "time", lambda: now + 2 * 3600 + 5)
    assert client.get(url).status_code == 404


def test_a_deleted_attachment_is_not_found(client, files):
    reply_file, _ = files
    url = path_of(media_link(reply_file))
    Attachment.objects.filter(pk=reply_file.pk).delete()
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(("site", "public"), [
    ("https://support.example.com", True),
    ("https://203.0.113.9", False),  # documentation range: not global
    ("https://8.8.8.8:8443", True),
    ("http://127.0.0.1:8000", False),
    ("http://localhost:8000", False),
    ("http://app.localhost", False),
    ("http://10.1.2.3", False),
    ("http://[::1]:8000", False),
    ("", False),
])
def test_which_sites_a_provider_could_download_from(site, public):
    assert site_is_public(site) is public
