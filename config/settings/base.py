"""Settings shared by every environment, driven by environment variables.

Without DATABASE_URL / REDIS_URL the product runs on embedded defaults: SQLite for data,
the in-memory channel layer for websockets (one web process), and a SQLite-backed Celery
broker so the worker and beat run for real without Redis.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env("SWITCHBOARD_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = env("SECRET_KEY", default="insecure-embedded-default-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "inbox",
    "chat",
    "surveys",
    "desk",
    "django_htmx",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "desk.middleware.AgentLanguageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "desk.context_processors.desk",
            ],
        },
    },
]

# --- Data --------------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "switchboard.sqlite3"
DATABASES = {
    "default": env.db_url_config(env("DATABASE_URL", default="") or f"sqlite:///{SQLITE_PATH}")
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock up front, so concurrent writers (web,
    # worker, beat) queue behind each other instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    # PostgreSQL's JIT compiles a query whose estimated cost is high, which search queries'
    # rough row estimates often are, for hundreds of milliseconds, to save less on the few
    # rows they read. Switchboard runs short queries and aggregates over rollups: off.
    _options.setdefault("options", "-c jit=off")
    _pool_max = env.int("DB_POOL_MAX", default=10)
    if _pool_max > 0:
        # Daphne serves sync views and consumers' ORM calls from threads, where persistent
        # connections would pile up (one per thread, never reused); a connection per request
        # costs a PostgreSQL handshake each time. A per-process psycopg pool gives both: a
        # request borrows a connection and returns it when Django "closes" it.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        _options["pool"] = {
            "min_size": 1, "max_size": _pool_max, "timeout": 30,
        }
    else:  # an external pooler (PgBouncer) in front: CONN_MAX_AGE as it advises
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "inbox.Agent"

REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            # redis-py >= 8 defaults to a 5 s socket timeout, which kills idle subscribers.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}]},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery -------------------------------------------------------------------------------
CELERY_BROKER_URL = env(
    "CELERY_BROKER_URL",
    default=REDIS_URL or f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}",
)
CELERY_TASK_ALWAYS_EAGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "tickets-unsnooze-due": {"task": "inbox.tasks.tickets_unsnooze_due", "schedule": 60.0},
    # One poll task per email inbox with `imap_host` in its config (docs/email.md).
    "imap-poll-all": {"task": "inbox.channels.email.tasks.imap_poll_all", "schedule": 60.0},
    # Widget replies left unread are emailed to the customer (docs/widget.md).
    "offline-emails": {"task": "chat.tasks.offline_emails_send_due", "schedule": 60.0},
    # KPI rollups (docs/reports.md): tickets touched since the last run; the last two days again.
    "kpi-rollups-refresh": {"task": "reports.tasks.kpi_rollups_refresh", "schedule": 600.0},
    "kpi-rollups-recent-days": {"task": "reports.tasks.kpi_rollups_recent_days",
                                "schedule": 86400.0},
    # Survey invitations whose task was lost go out anyway; NPS campaigns daily (docs/surveys.md).
    "surveys-send-due": {"task": "surveys.tasks.survey_send_due", "schedule": 300.0},
    "surveys-nps-campaign": {"task": "surveys.tasks.nps_campaign_run", "schedule": 86400.0},
}
CELERY_TIMEZONE = "UTC"

# Outbound webhooks: attempts before a delivery is marked failed (backoff 30 s doubling, ≤ 6 h).
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=10)

# Signed links to reply attachments that Twilio and Instagram download (inbox/media_links.py).
MEDIA_LINK_MAX_AGE_HOURS = env.int("MEDIA_LINK_MAX_AGE_HOURS", default=24)

# --- Auth & API --------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "desk:login"
LOGIN_REDIRECT_URL = "desk:inbox"
LOGOUT_REDIRECT_URL = "desk:login"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "inbox.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Switchboard API",
    "DESCRIPTION": "Omnichannel support inbox: tickets, unified timelines, contacts, inboxes.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "InboxKindEnum": "inbox.models.Inbox.Kind",
        "IdentityKindEnum": "inbox.models.ContactIdentity.Kind",
        "ChannelEnum": "inbox.models.Channel",
        "TicketStatusEnum": "inbox.models.Ticket.Status",
    },
}

# --- i18n ---------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("id", "Bahasa Indonesia"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
# Time zones whose KPI day tables are kept (docs/reports.md); reports in others read the
# per-ticket rollups.
REPORT_ROLLUP_TIME_ZONES = env.list(
    "REPORT_ROLLUP_TIME_ZONES", default=list(dict.fromkeys(["UTC", TIME_ZONE])))
USE_I18N = True
USE_TZ = True

# --- Files ---------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(VAR_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 30 * 1024 * 1024
# The widget API is called from customers' sites with a bearer token (never cookies), so
# any origin may call it; inboxes can still restrict origins (`allowed_origins`).
CORS_URLS_REGEX = r"^/api/widget/.*$"
CORS_ALLOW_ALL_ORIGINS = True
CORS_ALLOW_CREDENTIALS = False
# Per-connection rate limit of the widget socket (frames per second, burst).
WIDGET_FRAMES_PER_SECOND = env.float("WIDGET_FRAMES_PER_SECOND", default=10.0)
WIDGET_FRAME_BURST = env.int("WIDGET_FRAME_BURST", default=60)
EMAIL_RAW_MAX_BYTES = env.int("EMAIL_RAW_MAX_BYTES", default=50 * 1024 * 1024)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # httpx logs every request URL at INFO, and the Telegram Bot API puts the bot token in it.
    "loggers": {"httpx": {"level": "WARNING"}},
}

# --- Email ---------------------------------------------------------------------------------
# Outbound mail of inboxes without their own `smtp_host`, and system mail. Unset, mail is
# written to files in var/sent-mail, so the embedded default keeps every sent mail visible.
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = str(VAR_DIR / "sent-mail")
if env("EMAIL_URL", default=""):
    # e.g. smtp+tls://user:pass@host:587 → EMAIL_BACKEND, EMAIL_HOST, EMAIL_PORT, EMAIL_USE_TLS...
    globals().update(
        {k: v for k, v in env.email_url("EMAIL_URL").items() if v not in ("", None)}
    )
# Any other backend, e.g. anymail.backends.mailgun.EmailBackend for an ESP's HTTP API.
EMAIL_BACKEND = env("EMAIL_BACKEND", default=EMAIL_BACKEND)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Switchboard <switchboard@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# django-anymail reads ANYMAIL["MAILGUN_API_KEY"]...: fill it from ANYMAIL_* variables.
ANYMAIL = {
    name.removeprefix("ANYMAIL_"): value
    for name, value in env.ENVIRON.items() if name.startswith("ANYMAIL_")
}
# Inbound ESP webhooks (docs/email.md) refuse every post while these are unset. Several
# comma-separated user:password pairs allow rotating the basic auth secret.
ANYMAIL["WEBHOOK_SECRET"] = env.list("ANYMAIL_WEBHOOK_SECRET", default=[])
ANYMAIL.setdefault(
    "MAILGUN_WEBHOOK_SIGNING_KEY", env("MAILGUN_WEBHOOK_SIGNING_KEY", default="")
)
