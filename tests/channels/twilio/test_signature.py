"""X-Twilio-Signature: Twilio's published vectors, and the webhook refusing anything that
Twilio did not sign, behind proxies too."""

from urllib.parse import parse_qsl, quote, urlencode

import pytest

from inbox.channels.twilio.signature import signature_compute, signature_valid
from inbox.models import Message
from tests.channels.twilio.conftest import fixture_bytes, twilio_signature

pytestmark = pytest.mark.django_db

# Twilio's documented example (twilio.com/docs/usage/security), as its helper libraries
# test it: auth token 12345.
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+14158675309"),
                 ("Digits", "1234"), ("From", "+14158675309"), ("To", "+18005551212")]
NON_ASCII_BODY = "Halo, pesanan saya belum sampai. 你好，我的订单还没到。"
PUBLIC_URL = "https://support.example.com/hooks/twilio/{key}/"


def test_twilios_published_vector():
    assert signature_compute("12345", VECTOR_URL, VECTOR_PARAMS) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="
    # Repeated names and values, as twilio-python signs them.
    repeated = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"),
                ("Digits", "1234"), ("Digits", "1234")]
    assert signature_compute("12345", VECTOR_URL, repeated) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize("url,signature", [
    (VECTOR_URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    (VECTOR_URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),  # signed with :443
    ("https://mycompany.com:1234/myapp.php?foo=1&bar=2", "CYn1h0gLBdNxDGkKJg6hYohgeD8="),
    ("https://mycompany.com:1234/myapp.php?foo=1&bar=2", "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ("http://mycompany.com/myapp.php?foo=1&bar=2", "0ZXoZLH/DfblKGATFgpif+LLRf4="),  # :80
])
def test_url_is_tried_with_and_without_its_port(url, signature):
    assert signature_valid("12345", url, VECTOR_PARAMS, signature)


@pytest.mark.parametrize("token,url,params,signature", [
    ("12346", VECTOR_URL, VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ("12345", VECTOR_URL + "&baz=3", VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ("12345", VECTOR_URL.replace("https", "http"), VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ("12345", VECTOR_URL, [*VECTOR_PARAMS[:2], ("Digits", "9999"), *VECTOR_PARAMS[3:]],
     "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ("12345", VECTOR_URL, VECTOR_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8"),
    ("12345", VECTOR_URL, VECTOR_PARAMS, "签名"),
])
def test_anything_else_does_not_validate(token, url, params, signature):
    assert not signature_valid(token, url, params, signature)


def test_valid_signature_stores_non_ascii_text_exactly(twilio_inbox, post_form):
    body = urlencode({"MessageSid": "SMnonascii", "From": "+6281234567890",
                      "To": "+15005550006", "Body": NON_ASCII_BODY, "NumMedia": "0"}).encode()
    assert post_form(twilio_inbox, body).status_code == 200
    message = Message.objects.get()
    assert (message.body_text, message.external_id) == (NON_ASCII_BODY, "SMnonascii")


@pytest.mark.parametrize("signature,status,code", [
    (None, 401, "unauthorized"),
    ("", 401, "unauthorized"),
    ("bm90IGEgc2lnbmF0dXJl", 403, "bad_signature"),
    ("wrong-token", 403, "bad_signature"),
])
def test_missing_or_wrong_signature_is_refused_and_stores_nothing(
    twilio_inbox, post_form, stored, media_queued, signature, status, code
):
    body = urlencode({"MessageSid": "SMnonascii", "From": "+6281234567890",
                      "To": "+15005550006", "Body": NON_ASCII_BODY, "NumMedia": "1",
                      "MediaUrl0": "https://api.twilio.com/x", "MediaContentType0": "image/png"}
                     ).encode()
    if signature == "wrong-token":
        signature = twilio_signature(f"http://testserver/hooks/twilio/{twilio_inbox.key}/",
                                     body, token="another-accounts-token")
    response = post_form(twilio_inbox, body, signature=signature)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert stored() == (0, 0, 0) and media_queued == []


def test_reencoded_parameters_keep_the_signature(fixtures_dir, twilio_inbox, post_form, client):
    """Twilio signs the decoded parameters, not the bytes: the same parameters encoded
    another way (order, %20 for spaces, lower-case escapes) still match, and are the same
    message."""
    original = fixture_bytes(fixtures_dir, "docs_inbound_sms_text.form.txt")
    signature = twilio_signature(f"http://testserver/hooks/twilio/{twilio_inbox.key}/",
                                 original)
    params = parse_qsl(original.decode(), keep_blank_values=True)
    reencoded = urlencode(list(reversed(params)), quote_via=quote).encode()
    reencoded = reencoded.replace(b"%2B", b"%2b")
    assert reencoded != original and b"%20" in reencoded
    assert post_form(twilio_inbox, original, signature=signature).status_code == 200
    assert post_form(twilio_inbox, reencoded, signature=signature).status_code == 200
    assert Message.objects.get().body_text == "Hi, my order #12345 never arrived. Can you help?"


@pytest.mark.parametrize("change", [
    lambda body: body.replace(b"never+arrived", b"arrived"),  # a changed value
    lambda body: body + b"&Extra=1",  # an added parameter
    lambda body: body.replace(b"&NumSegments=1", b""),  # a removed parameter
    lambda body: body.replace(b"From=%2B14155552671", b"From=%2B14155550000"),
])
def test_changed_parameters_break_the_signature(fixtures_dir, twilio_inbox, post_form, stored,
                                                change):
    original = fixture_bytes(fixtures_dir, "docs_inbound_sms_text.form.txt")
    signature = twilio_signature(f"http://testserver/hooks/twilio/{twilio_inbox.key}/",
                                 original)
    changed = change(original)
    assert changed != original
    response = post_form(twilio_inbox, changed, signature=signature)
    assert (response.status_code, stored()) == (403, (0, 0, 0))


def test_signature_covers_the_url(fixtures_dir, twilio_inbox, post_form, stored):
    body = fixture_bytes(fixtures_dir, "docs_inbound_sms_text.form.txt")
    for url in (f"http://testserver/hooks/twilio/{twilio_inbox.key}/?inbox=other",
                f"https://testserver/hooks/twilio/{twilio_inbox.key}/",
                "http://testserver/hooks/twilio/another-key/"):
        assert post_form(twilio_inbox, body, signed_url=url).status_code == 403
    assert stored() == (0, 0, 0)


def test_inbox_without_an_auth_token_refuses_everything(fixtures_dir, twilio_inbox, post_form,
                                                        stored):
    twilio_inbox.secrets_update({"auth_token": None})
    twilio_inbox.save()
    body = fixture_bytes(fixtures_dir, "docs_inbound_sms_text.form.txt")
    response = post_form(twilio_inbox, body)
    assert (response.status_code, response.json()["error"]["code"]) == (403, "not_configured")
    assert stored() == (0, 0, 0)


def test_redelivery_is_one_message(fixtures_dir, twilio_inbox, post_form):
    body = fixture_bytes(fixtures_dir, "docs_inbound_sms_text.form.txt")
    for _ in range(3):
        assert post_form(twilio_inbox, body).status_code == 200
    assert Message.objects.count() == 1


# --- behind a TLS-terminating proxy: Twilio signed https://support.example.com/... -----

def test_configured_webhook_url_is_what_twilio_signed(fixtures_dir, twilio_inbox, post_form):
    public = PUBLIC_URL.format(key=twilio_inbox.key)
    twilio_inbox.config["webhook_url"] = public
    twilio_inbox.save()
    body = fixture_bytes(fixtures_dir, "docs_inbound_sms_text.form.txt")
    assert post_form(twilio_inbox, body, signed_url=public).status_code == 200
    # The URL the proxy forwarded to is not what Twilio signed.
    assert post_form(twilio_inbox, body).status_code == 403
    assert Message.objects.count() == 1


@pytest.fixture
def trusted_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = ["support.example.com", "testserver"]


FORWARDED = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "support.example.com"}


def test_forwarded_scheme_and_host_when_the_settings_trust_the_proxy(
    fixtures_dir, twilio_inbox, post_form, trusted_proxy
):
    body = fixture_bytes(fixtures_dir, "docs_inbound_sms_text.form.txt")
    public = PUBLIC_URL.format(key=twilio_inbox.key)
    assert post_form(twilio_inbox, body, signed_url=public, **FORWARDED).status_code == 200
    assert Message.objects.count() == 1


def test_forwarded_headers_are_ignored_unless_the_settings_trust_the_proxy(
    fixtures_dir, twilio_inbox, post_form, stored, settings
):
    settings.ALLOWED_HOSTS = ["support.example.com", "testserver"]
    body = fixture_bytes(fixtures_dir, "docs_inbound_sms_text.form.txt")
    public = PUBLIC_URL.format(key=twilio_inbox.key)
    assert post_form(twilio_inbox, body, signed_url=public, **FORWARDED).status_code == 403
    assert stored() == (0, 0, 0)
