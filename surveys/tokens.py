"""Signed, expiring survey links: the token names an invitation and nothing else."""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "surveys.invitation"
MAX_AGE = timedelta(days=30)


class TokenInvalid(Exception):
    """Tampered, truncated or not ours."""


class TokenExpired(TokenInvalid):
    pass


def token_make(invitation_id: int) -> str:
    return signing.dumps(invitation_id, salt=SALT)


def token_read(token: str) -> int:
    """The invitation id a token names; raises TokenExpired / TokenInvalid."""
    try:
        value = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.SignatureExpired:
        raise TokenExpired("This survey link has expired.") from None
    except signing.BadSignature:
        raise TokenInvalid("This survey link is not valid.") from None
    if not isinstance(value, int):
        raise TokenInvalid("This survey link is not valid.")
    return value


def survey_url(invitation_id: int) -> str:
    """The public link sent to the customer (absolute, on SITE_URL)."""
    path = reverse("surveys:answer", args=[token_make(invitation_id)])
    return settings.SITE_URL.rstrip("/") + path
