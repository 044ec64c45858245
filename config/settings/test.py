"""Tests: SQLite by default, PostgreSQL + Redis when DATABASE_URL / REDIS_URL are set."""

import re
import tempfile
from pathlib import Path

from .base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = Path(tempfile.mkdtemp(prefix="switchboard-media-"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Tests publish to a broker of their own, never to the one a running instance consumes.
if REDIS_URL:  # noqa: F405
    CELERY_BROKER_URL = re.sub(r"(/\d+)?/?$", "/15", REDIS_URL, count=1)  # noqa: F405
else:
    CELERY_BROKER_URL = f"sqla+sqlite:///{MEDIA_ROOT / 'celery-broker.sqlite3'}"
