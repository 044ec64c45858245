"""Embedded default for running the product on one machine (SQLite, no Redis)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
WHITENOISE_USE_FINDERS = DEBUG
