"""The survey in a real browser (Debian's chromium through Playwright) against Django's
live server: from the link in the captured email to the Indonesian thank-you page, then
the recovery task on the team lead's page.

`UPDATE_SCREENSHOTS=1` also writes docs/screenshots/survey.png (the page on a phone).
"""

import functools
import http.server
import os
import re
import threading
from pathlib import Path

import pytest
from django.core import mail
from django.template.loader import render_to_string
from django.test import Client

from inbox.models import Inbox, Message
from inbox.services import Identity, message_reply
from surveys.models import Answer, Invitation, RecoveryTask
from tests.live import QuietHandler, needs_chromium, wait_for
from tests.factories import InboxFactory

sync_api = pytest.importorskip("playwright.sync_api")

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "survey.png"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    needs_chromium,
]


def test_customer_answers_in_indonesian_and_the_lead_sees_the_recovery_task(
        live_server, settings, browser, email_inbox, conversation, resolve, work, lead):
    settings.SITE_URL = live_server.url
    ticket = conversation(email_inbox, Identity("email", "budi@example.net"), "email",
                          language="id")
    resolve(ticket)
    work()
    [email] = mail.outbox
    html = email.alternatives[0][0]
    [link_for_2] = re.findall(r'<a href="([^"]+\?score=2)"[^>]*>2</a>', html)
    assert link_for_2.startswith(live_server.url + "/survey/")

    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    page.goto(link_for_2)
    page.get_by_text("Terima kasih, jawaban Anda sudah tercatat.").wait_for()
    assert page.locator("h1").inner_text() == "Seberapa puas Anda dengan bantuan yang Anda terima?"
    page.locator("label", has_text=re.compile(r"^2$")).click()
    assert page.locator('input[name="score"][value="2"]').is_checked()
    page.locator("#comment").fill("Paketnya datang dalam keadaan rusak.")
    if os.environ.get("UPDATE_SCREENSHOTS"):
        page.screenshot(path=str(SCREENSHOT), full_page=True)
    page.get_by_role("button", name="Perbarui jawaban saya").click()
    page.get_by_role("heading", name="Terima kasih atas masukan Anda!").wait_for()
    assert "Jawaban Anda: 2" in page.content()
    assert page.locator("html").get_attribute("lang") == "id"
    answer = Answer.objects.get()
    assert (answer.score, answer.comment) == (2, "Paketnya datang dalam keadaan rusak.")

    client = Client()
    client.force_login(lead)
    context = browser.new_context()
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                          "url": live_server.url}])
    lead_page = context.new_page()
    lead_page.goto(f"{live_server.url}/surveys/recovery/")
    task = RecoveryTask.objects.get()
    row = lead_page.locator(f'tr[data-task="{task.pk}"]')
    assert "Paketnya datang dalam keadaan rusak." in row.inner_text()
    assert "CSAT 2" in row.inner_text()
    row.get_by_role("button", name="Mark contacted").click()
    lead_page.locator(f'tr[data-task="{task.pk}"] .status', has_text="Contacted").wait_for()
    task.refresh_from_db()
    assert (task.status, task.owner_id) == ("contacted", lead.pk)
    context.close()


@pytest.fixture
def host_page(tmp_path, live_server):
    """A shop page of another origin embedding the widget from the live server."""

    def serve(inbox: Inbox) -> str:
        (tmp_path / "index.html").write_text(render_to_string("widget_demo.html", {
            "inbox_key": inbox.key, "widget_src": f"{live_server.url}/widget.js"}))
        server = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(tmp_path)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/index.html"

    servers = []
    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


def test_widget_shows_a_rating_card_whose_buttons_answer(live_server, settings, browser,
                                                         host_page, support_agent, resolve,
                                                         work):
    settings.SITE_URL = live_server.url
    inbox = InboxFactory(kind=Inbox.Kind.WIDGET, name="Toko Support", members=[support_agent])
    context = browser.new_context(locale="en-US")
    context.set_default_timeout(15_000)
    context.add_init_script("delete window.WebSocket;")  # REST polling: no daphne needed
    page = context.new_page()
    page.goto(host_page(inbox))
    page.get_by_role("button", name="Open chat").click()
    page.get_by_role("button", name="Send us a message").click()
    textbox = page.get_by_role("textbox", name="Write a message…")
    textbox.fill("Where is my parcel?")
    textbox.press("Enter")
    inbound = wait_for(lambda: Message.objects.filter(ticket__inbox=inbox,
                                                      direction="inbound").first(),
                       15, "the visitor's message")
    message_reply(ticket=inbound.ticket, agent=support_agent, body="It left today.")
    resolve(inbound.ticket)
    work()
    url = Invitation.objects.get().message.metadata["survey"]["url"]
    card = page.get_by_role("group", name="How satisfied are you with the support you received?")
    card.wait_for()
    links = card.get_by_role("link")
    assert links.all_inner_texts() == ["1", "2", "3", "4", "5"]
    assert card.get_by_role("link", name="4").get_attribute("href") == f"{url}?score=4"
    with context.expect_page() as opened:
        card.get_by_role("link", name="4").click()
    survey_page = opened.value
    survey_page.get_by_text("Thank you, your answer is recorded.").wait_for()
    assert Answer.objects.get().score == 4
    context.close()
