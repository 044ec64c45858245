"""manage.py telegram_set_webhook against the fake Bot API."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inbox.models import Inbox, Message
from tests.channels.fake_provider import Reply
from tests.channels.telegram.conftest import bot_path, text_update
from tests.factories import InboxFactory

pytestmark = pytest.mark.django_db

WEBHOOK_SET = Reply(json={"ok": True, "result": True, "description": "Webhook was set"})


def run(*args: str) -> str:
    out = StringIO()
    call_command("telegram_set_webhook", *args, stdout=out)
    return out.getvalue()


def test_sets_the_webhook_with_a_new_secret_that_the_hook_then_accepts(
    telegram_inbox, fake_provider, post_update
):
    telegram_inbox.secrets_update({"webhook_secret": None})
    telegram_inbox.save()
    fake_provider.script("POST", bot_path("setWebhook"), WEBHOOK_SET)
    output = run("--inbox", "telegram", "--url", "https://support.example.com/")
    hook_url = f"https://support.example.com/hooks/telegram/{telegram_inbox.key}/"
    assert output == f"Webhook of inbox telegram set to {hook_url}\n"
    telegram_inbox.refresh_from_db()
    secret = telegram_inbox.secret("webhook_secret")
    assert len(secret) >= 32
    (request,) = fake_provider.requests
    assert request.json() == {"url": hook_url, "secret_token": secret,
                              "allowed_updates": ["message", "edited_message"],
                              "drop_pending_updates": False}
    assert post_update(telegram_inbox, text_update("hi"), token=secret).status_code == 200
    assert Message.objects.count() == 1


def test_keeps_an_existing_secret(telegram_inbox, fake_provider, settings):
    settings.SITE_URL = "https://help.example.org"
    fake_provider.script("POST", bot_path("setWebhook"), WEBHOOK_SET)
    secret = telegram_inbox.secret("webhook_secret")
    run("--inbox", "telegram")
    run("--inbox", "telegram")
    assert [r.json()["secret_token"] for r in fake_provider.requests] == [secret, secret]
    assert fake_provider.requests[0].json()["url"] == (
        f"https://help.example.org/hooks/telegram/{telegram_inbox.key}/")


def test_delete(telegram_inbox, fake_provider):
    fake_provider.script("POST", bot_path("deleteWebhook"),
                         Reply(json={"ok": True, "result": True}))
    assert run("--inbox", "telegram", "--delete", "--drop-pending-updates") == (
        "Webhook of inbox telegram deleted.\n")
    assert fake_provider.requests[0].json() == {"drop_pending_updates": True}


def test_telegrams_refusal_is_a_command_error(telegram_inbox, fake_provider):
    fake_provider.script("POST", bot_path("setWebhook"), Reply(400, {
        "ok": False, "error_code": 400,
        "description": "Bad Request: bad webhook: HTTPS url must be provided for webhook"}))
    with pytest.raises(CommandError) as error:
        run("--inbox", "telegram", "--url", "http://insecure.example.com")
    assert str(error.value) == ("Telegram refused: Bad Request: bad webhook: HTTPS url must be "
                                "provided for webhook (Telegram 400)")


def test_unknown_or_non_telegram_inbox(telegram_inbox):
    InboxFactory(kind=Inbox.Kind.EMAIL, slug="support")
    for slug in ("nope", "support"):
        with pytest.raises(CommandError, match=f"No telegram inbox with slug '{slug}'"):
            run("--inbox", slug)
