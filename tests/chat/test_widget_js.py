"""widget.js without a browser: how it is served, that it parses, that every locale is
complete, and the DEBUG-only demo page (the browser tests are in test_widget_browser.py)."""

import json
import re
import shutil
import subprocess

import pytest
from django.test import override_settings

from chat.views import WIDGET_JS
from inbox.models import Inbox
from tests.factories import InboxFactory

# tests/chat/conftest.py closes asgiref's thread connections after every test, which needs
# database access once an earlier test has left one open there.
pytestmark = pytest.mark.django_db

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def test_widget_js_is_served_to_any_origin_as_javascript(client):
    response = client.get("/widget.js", HTTP_ORIGIN="https://shop.example.com")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert b"".join(response.streaming_content) == WIDGET_JS.read_bytes()


@needs_node
def test_widget_js_parses():
    result = subprocess.run([NODE, "--check", str(WIDGET_JS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@needs_node
def test_every_locale_has_every_string_the_widget_uses():
    source = WIDGET_JS.read_text()
    table = re.search(r"const STRINGS = (\{.*?\n  \});", source, re.S).group(1)
    script = (f"const S = {table}; console.log(JSON.stringify(Object.fromEntries("
              "Object.entries(S).map(([locale, s]) => [locale, Object.keys(s)]))))")
    keys = json.loads(subprocess.run([NODE, "-e", script], capture_output=True, text=True,
                                     check=True).stdout)
    assert sorted(keys) == ["en", "id", "zh"]
    assert set(keys["id"]) == set(keys["en"])
    assert set(keys["zh"]) == set(keys["en"])
    used = set(re.findall(r"""\bt\("(\w+)"\)?""", source))
    assert used and used <= set(keys["en"]), used - set(keys["en"])


def test_the_demo_page_exists_only_in_debug(client):
    inbox = InboxFactory(kind=Inbox.Kind.WIDGET)
    with override_settings(DEBUG=False):
        assert client.get(f"/widget-demo/?inbox={inbox.key}").status_code == 404
    with override_settings(DEBUG=True):
        response = client.get(f"/widget-demo/?inbox={inbox.key}&locale=id")
    assert response.status_code == 200
    assert (f'<script src="/widget.js" data-inbox="{inbox.key}" data-locale="id" async>'
            in response.content.decode())


@override_settings(DEBUG=True)
def test_the_demo_page_defaults_to_the_first_widget_inbox(client):
    InboxFactory(kind=Inbox.Kind.EMAIL)
    first = InboxFactory(kind=Inbox.Kind.WIDGET)
    InboxFactory(kind=Inbox.Kind.WIDGET)
    assert f'data-inbox="{first.key}"' in client.get("/widget-demo/").content.decode()
