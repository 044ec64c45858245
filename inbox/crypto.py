"""Encryption at rest for provider credentials (SMTP/IMAP passwords, API tokens).

The key is `SECRETS_ENCRYPTION_KEY` (a Fernet key) or, when unset, derived from
SECRET_KEY, so a database dump alone never reveals credentials.
"""

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


@lru_cache(maxsize=4)
def _fernet(key: str, secret_key: str) -> Fernet:
    if key:
        return Fernet(key.encode())
    digest = hashlib.sha256(b"switchboard-secrets:" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _current() -> Fernet:
    return _fernet(getattr(settings, "SECRETS_ENCRYPTION_KEY", ""), settings.SECRET_KEY)


def secrets_encrypt(values: dict) -> str:
    if not values:
        return ""
    return _current().encrypt(json.dumps(values).encode()).decode()


def secrets_decrypt(token: str) -> dict:
    if not token:
        return {}
    try:
        return json.loads(_current().decrypt(token.encode()))
    except InvalidToken:
        raise ValueError(
            "Stored credentials cannot be decrypted: SECRET_KEY or SECRETS_ENCRYPTION_KEY changed."
        ) from None
