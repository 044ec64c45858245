"""widget.js in a real browser (Debian's chromium through Playwright), embedded in a host page
of another origin whose CSS is hostile, against a real daphne process.

Daphne runs as a subprocess on pytest's test database, so the test needs PostgreSQL (an
in-memory SQLite test database cannot be shared between processes) and `transaction=True`
(rows are committed, so that process sees them). Its channel layer follows REDIS_URL like
the product: Redis when set, else in-memory.

`UPDATE_SCREENSHOTS=1` also writes docs/screenshots/widget.png (and widget-mobile.png).
"""

import hashlib
import hmac
import json
import os
import re
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from inbox.models import Ticket
from inbox.services import message_reply
from tests.chat.widget_page import (  # noqa: F401 (fixtures)
    agent,
    agent_reply,
    agent_socket,
    daphne,
    host_page,
    inbound,
    send,
    start_conversation,
    widget_inbox,
)
from tests.live import needs_chromium, wait_for

sync_api = pytest.importorskip("playwright.sync_api")

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
RED = "rgb(255, 0, 0)"

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), needs_chromium]


def test_visitor_and_agent_chat_live_across_origins(daphne, host_page, context, widget_inbox,
                                                     agent, tmp_path):
    page = context.new_page()
    start_conversation(page, host_page)
    expect = sync_api.expect
    expect(page.get_by_text("Hi! Ask us anything about your order.")).to_be_visible()
    expect(page.get_by_text("We typically reply in 5 minutes")).to_be_visible()

    send(page, "Where is my order #1042?")
    message = wait_for(lambda: inbound(widget_inbox, "Where is my order #1042?").first(), 10,
                       "the visitor's message in the database")
    expect(page.get_by_text("Sending…")).to_have_count(0)  # acked

    with agent_socket(daphne, agent) as agent_ws:
        agent_ws.send(json.dumps({"type": "typing", "ticket_id": message.ticket_id,
                                  "state": "start"}))
        expect(page.get_by_text("Maya Chen is typing…")).to_be_visible()

        reply = agent_reply(daphne, agent, message.ticket_id, "It ships tomorrow morning.")
        expect(page.get_by_text("It ships tomorrow morning.")).to_be_visible(timeout=5000)
        expect(page.get_by_text("Maya Chen is typing…")).to_have_count(0)  # the reply ends it
        expect(page.get_by_text("Maya Chen", exact=True)).to_be_visible()
        expect(page.get_by_text("Where is my order #1042?")).to_have_count(1)
        assert inbound(widget_inbox, "Where is my order #1042?").count() == 1

        expect(page.get_by_text("Seen", exact=True)).to_have_count(0)
        agent_ws.send(json.dumps({"type": "read", "ticket_id": message.ticket_id,
                                  "seq": reply["seq"]}))
        expect(page.get_by_text("Seen", exact=True)).to_be_visible()

    styles = page.evaluate("""() => {
        const root = document.querySelector("switchboard-widget").shadowRoot;
        const bubble = [...root.querySelectorAll(".bubble")]
            .find((b) => b.textContent.includes("It ships tomorrow"));
        const launcher = root.querySelector(".launcher");
        return {color: getComputedStyle(bubble).color, size: getComputedStyle(bubble).fontSize,
                launcher: getComputedStyle(launcher).display,
                page: getComputedStyle(document.querySelector("p")).color};
    }""")
    assert styles["page"] == RED  # the hostile CSS is in force on the host page...
    assert styles["color"] != RED  # ...and stops at the widget
    assert styles["size"] == "14px"
    assert styles["launcher"] != "none"

    page.screenshot(path=str(tmp_path / "widget.png"))
    if os.environ.get("UPDATE_SCREENSHOTS"):
        SCREENSHOTS.mkdir(exist_ok=True)
        shutil.copy(tmp_path / "widget.png", SCREENSHOTS / "widget.png")
        page.set_viewport_size({"width": 390, "height": 760})
        page.screenshot(path=str(SCREENSHOTS / "widget-mobile.png"))

    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_role("button", name="Open chat")).to_be_focused()


def test_a_message_sent_while_the_server_is_down_arrives_once(daphne, host_page, context,
                                                               widget_inbox, agent, monkeypatch):
    expect = sync_api.expect
    monkeypatch.setattr("inbox.realtime._send", lambda groups, message: None)  # nobody listens
    page = context.new_page()
    start_conversation(page, host_page)
    send(page, "first")
    ticket_id = wait_for(lambda: inbound(widget_inbox, "first").first(), 10,
                         "the first message").ticket_id
    expect(page.get_by_text("Sending…")).to_have_count(0)

    daphne.stop()
    expect(page.get_by_text("Reconnecting…")).to_be_visible()
    send(page, "sent while offline")
    expect(page.get_by_text("Sending…")).to_be_visible()  # pending, kept in the outbox
    outbox = page.evaluate(f"localStorage.getItem('switchboard:{widget_inbox.key}:outbox')")
    assert "sent while offline" in outbox
    page.close()  # the tab goes away before the server is back: only the outbox remembers

    # An agent answers while the visitor is away (no live event reaches anyone).
    message_reply(ticket=Ticket.objects.get(pk=ticket_id), agent=agent,
                  body="We saw your message.")
    daphne.start()
    page = context.new_page()
    page.goto(host_page)
    page.get_by_role("button", name="Open chat").click()
    page.get_by_role("button", name=re.compile(r"^Maya Chen, .*1 unread$")).click()
    expect(page.get_by_text("sent while offline")).to_have_count(1)
    wait_for(lambda: inbound(widget_inbox, "sent while offline").exists(), 20,
             "the outbox message stored")
    expect(page.get_by_text("Sending…")).to_have_count(0, timeout=20_000)
    expect(page.get_by_text("We saw your message.")).to_be_visible()
    assert inbound(widget_inbox, "sent while offline").count() == 1
    assert page.evaluate(
        f"localStorage.getItem('switchboard:{widget_inbox.key}:outbox')") == "[]"


def test_without_websockets_the_widget_falls_back_to_rest_polling(daphne, host_page, context,
                                                                  widget_inbox, agent):
    expect = sync_api.expect
    context.add_init_script("delete window.WebSocket;")
    page = context.new_page()
    start_conversation(page, host_page)
    send(page, "hello over REST")
    message = wait_for(lambda: inbound(widget_inbox, "hello over REST").first(), 10,
                       "the message sent over REST")
    expect(page.get_by_text("Sending…")).to_have_count(0)
    agent_reply(daphne, agent, message.ticket_id, "Polling works too.")
    expect(page.get_by_text("Polling works too.")).to_be_visible(timeout=8000)
    assert inbound(widget_inbox, "hello over REST").count() == 1


def test_attachments_upload_send_and_show_through_the_bearer_token(daphne, host_page, context,
                                                                     widget_inbox):
    expect = sync_api.expect
    widget_inbox.config["max_attachment_mb"] = 1
    widget_inbox.save(update_fields=["config"])
    page = context.new_page()
    start_conversation(page, host_page)
    file_input = page.locator("switchboard-widget input[type=file]")

    file_input.set_input_files({"name": "big.bin", "mimeType": "application/octet-stream",
                                "buffer": b"0" * (1024 * 1024 + 1)})
    expect(page.get_by_text("big.bin is too large. Files can be up to 1 MB.")).to_be_visible()

    file_input.set_input_files({"name": "receipt.png", "mimeType": "image/png", "buffer": PNG})
    expect(page.get_by_role("button", name="Remove receipt.png")).to_be_visible()
    send(page, "my receipt")
    message = wait_for(lambda: inbound(widget_inbox, "my receipt").first(), 10, "the message")
    assert [(a.name, a.size) for a in message.attachments.all()] == [("receipt.png", len(PNG))]
    image = page.get_by_role("img", name="receipt.png")
    expect(image).to_have_attribute("src", re.compile(r"^blob:"))
    assert page.evaluate("""() => [...document.querySelector("switchboard-widget").shadowRoot
        .querySelectorAll("img")].every((img) => img.complete && img.naturalWidth === 1)""")


def png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\x4f\x46\xe5")) + chunk(b"IEND", b""))


PNG = png_1x1()


def test_calls_queued_before_the_script_loads_identify_the_customer(daphne, host_page, context,
                                                                      widget_inbox, tmp_path):
    expect = sync_api.expect
    signature = hmac.new(widget_inbox.identity_secret.encode(), b"cust-42",
                         hashlib.sha256).hexdigest()
    (tmp_path / "site" / "identified.html").write_text(f"""<!doctype html><html><body>
      <script>
        window.Switchboard = window.Switchboard || function () {{
          (window.Switchboard.q = window.Switchboard.q || []).push(arguments);
        }};
        Switchboard("identify", {{id: "cust-42", name: "Ana Putri", email: "ana@example.com",
                                  hash: "{signature}"}});
        Switchboard("setLocale", "id");
      </script>
      <script src="{daphne.base}/widget.js" data-inbox="{widget_inbox.key}" async></script>
    </body></html>""")
    page = context.new_page()
    page.goto(host_page.replace("index.html", "identified.html"))
    page.get_by_role("button", name="Buka obrolan").click()  # Indonesian, as queued
    page.get_by_role("button", name="Kirim pesan").click()
    textbox = page.get_by_role("textbox", name="Tulis pesan…")
    textbox.fill("Halo")
    textbox.press("Enter")
    message = wait_for(lambda: inbound(widget_inbox, "Halo").first(), 10, "the message")
    identities = set(message.ticket.contact.identities.values_list("kind", "value", "verified"))
    assert identities >= {("external", "cust-42", True), ("email", "ana@example.com", False)}
    assert message.ticket.contact.name == "Ana Putri"
    expect(page.get_by_text("Mengirim…")).to_have_count(0)
