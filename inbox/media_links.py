"""Public links to the files of agent replies, for providers whose send APIs take a URL instead
of the file itself (Twilio MMS, Instagram): the provider downloads the file from this site.

A link names one attachment of an outbound message, is signed with SECRET_KEY and expires
after MEDIA_LINK_MAX_AGE_HOURS (docs/configuration.md). Nothing else is reachable through
it: not customers' files, not another attachment, not a link past its age.
"""

import ipaddress
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

from .api.views import attachment_response
from .delivery import PermanentDeliveryError
from .models import Attachment, Message

SALT = "switchboard.media-link"


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def site_is_public(site_url: str) -> bool:
    """Whether a provider on the internet could fetch from `site_url`: not localhost, not a
    loopback, private or link-local address."""
    host = (urlsplit(site_url).hostname or "").lower()
    if not host or host == "localhost" or host.endswith(".localhost"):
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return True  # a name: whether it resolves publicly is the operator's to set
    return address.is_global


def public_site() -> str:
    """SITE_URL, when a provider can download from it; else the reply cannot carry files."""
    site = settings.SITE_URL.rstrip("/")
    if not site_is_public(site):
        raise PermanentDeliveryError(
            f"This channel sends files as links its provider downloads from SITE_URL, and "
            f"{site} is not reachable from the internet: set SITE_URL to this site's public "
            f"address, or send the text alone.")
    return site


def media_link(attachment: Attachment) -> str:
    """The absolute public URL of an outbound attachment, on SITE_URL."""
    token = _signer().sign(str(attachment.pk))
    # The name only helps the provider guess a type; the token alone picks the file.
    name = attachment.name.replace("/", "_") or "file"
    return public_site() + reverse("media-link", args=[token, name])


def media_link_serve(request: HttpRequest, token: str, name: str) -> HttpResponse:
    """GET /media/<token>/<name>: the file, if the token is genuine and young enough."""
    max_age = timedelta(hours=settings.MEDIA_LINK_MAX_AGE_HOURS)
    try:
        attachment_id = int(_signer().unsign(token, max_age=max_age))
    except (signing.BadSignature, ValueError):
        raise Http404("No such file.") from None
    attachment = Attachment.objects.filter(
        pk=attachment_id, message__direction=Message.Direction.OUTBOUND).first()
    if attachment is None:
        raise Http404("No such file.")
    return attachment_response(attachment)
