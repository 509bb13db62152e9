"""Settings, read from FENGQIAO_* environment variables (see README's configuration table)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(f"FENGQIAO_{name}", default)


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if not value:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


VAR_DIR = Path(env("VAR_DIR", str(Path.cwd() / "var"))).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The configured key, or one generated on first run and kept under VAR_DIR."""
    configured = env("SECRET_KEY")
    if configured:
        return configured
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "axes",
    "fengqiao.core",
    "fengqiao.geo",
    "fengqiao.org",
    "fengqiao.cases",
    "fengqiao.notify",
    "fengqiao.inspections",
    "fengqiao.mediation",
    "fengqiao.portal",
    "fengqiao.affairs",
    "fengqiao.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a locked-out sign-in into its own page
    "fengqiao.core.busy.BusyDatabaseMiddleware",  # a busy database: 503 with Retry-After, not 500
]

# Failed sign-ins are throttled (django-axes): after AXES_FAILURE_LIMIT failures for one username
# from one address, that pair waits AXES_COOLOFF_TIME before it may try again.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(env("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(env("LOGIN_COOLOFF_MINUTES", "15")) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"
AXES_VERBOSE = False

ROOT_URLCONF = "fengqiao.urls"
WSGI_APPLICATION = "fengqiao.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fengqiao.web.navigation.staff_shell",
            ],
        },
    }
]

DATABASE_URL = env("DATABASE_URL", f"sqlite:///{VAR_DIR / 'fengqiao.sqlite3'}")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound on the server, and a statement a connection runs again and again prepared
    # after its fifth run (psycopg's prepare_threshold): PostgreSQL parses it once per connection,
    # not once per call. It still plans each run for its values (plan_cache_mode): a plan made
    # for no values in particular would scan a million cases for `next_due_at <= now`. Behind a
    # pooler that cannot keep prepared statements (PgBouncer before 1.21 in transaction mode) set
    # FENGQIAO_DB_PREPARE=0.
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options.update({"server_side_binding": True, "prepare_threshold": 5 if env("DB_PREPARE", "1") == "1" else None})
    options["options"] = f"{options.get('options', '')} -c plan_cache_mode=force_custom_plan".strip()
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the one writer; IMMEDIATE takes the write lock up front so
        # two writers queue instead of failing with "database is locked" mid-transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = env("LANGUAGE_CODE", "zh-hans")
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Working calendar: office hours as "HH:MM-HH:MM" spans, comma separated.
OFFICE_HOURS = env("OFFICE_HOURS", "08:30-12:00,13:30-17:30")
# How often (seconds) a process checks whether grids changed and its locator must be rebuilt.
LOCATOR_CHECK_SECONDS = float(env("LOCATOR_CHECK_SECONDS", "2"))

# Personal data (DESIGN §9): Fernet keys for field encryption (first encrypts, all decrypt; unset:
# derived from SECRET_KEY) and the key of the blind indexes used for exact look-ups.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", "")
FIELD_BLIND_INDEX_KEY = env("FIELD_BLIND_INDEX_KEY") or SECRET_KEY

# Attachments: photos are checked by content and limited in bytes and pixels.
ATTACHMENT_MAX_BYTES = int(env("ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024)))
ATTACHMENT_MAX_PIXELS = int(env("ATTACHMENT_MAX_PIXELS", "64000000"))

# Requests may carry photos (base64 in the API, multipart in forms): allow a few phone photos.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(env("UPLOAD_MAX_BYTES", str(40 * 1024 * 1024)))

# The case loop: duplicate suggestion, deadline warnings and escalation of overdue cases.
DUPLICATE_RADIUS_M = float(env("DUPLICATE_RADIUS_M", "150"))
DUPLICATE_WINDOW_HOURS = float(env("DUPLICATE_WINDOW_HOURS", "72"))
DEADLINE_WARN_FRACTION = float(env("DEADLINE_WARN_FRACTION", "0.8"))
DEADLINE_ESCALATE_AFTER = float(env("DEADLINE_ESCALATE_AFTER", "8"))  # working hours overdue
ANSWER_WORKING_DAYS = int(env("ANSWER_WORKING_DAYS", "3"))  # the answer promised to residents
RATING_REOPEN_DAYS = int(env("RATING_REOPEN_DAYS", "7"))  # an unsatisfied rating this soon reopens the case
UNSATISFIED_RATING_MAX = int(env("UNSATISFIED_RATING_MAX", "2"))  # ratings 1..this are unsatisfied
# Idempotent sweeps run by `fengqiao periodic` (started by `fengqiao run`) every interval.
PERIODIC_INTERVAL_SECONDS = float(env("PERIODIC_INTERVAL_SECONDS", "60"))
# The public side: the site's public address (links in e-mails, QR codes; empty: the request's own
# origin, or http://127.0.0.1:8000 where there is no request), and the limits on public forms.
SITE_URL = env("SITE_URL", "")
PUBLIC_RATE = env("PUBLIC_RATE", "20/h")  # POSTs per client and form; "<n>/<s|m|h|d>" or "off"
PUBLIC_RATES: dict[str, str] = {}  # per form scope, e.g. {"portal.report": "10/h"}
PUBLIC_CLIENT_HEADER = env("PUBLIC_CLIENT_HEADER", "")  # e.g. HTTP_X_REAL_IP behind a trusted proxy
CAPTCHA_BACKEND = env("CAPTCHA_BACKEND", "")  # dotted path of a (request) -> bool check; empty: off
# a remote mediation session's link when the mediation body has no template of its own, e.g.
# https://meet.example.org/fq-{number}-{session} ({number}: the dispute, {session}: the session)
MEDIATION_MEETING_LINK = env("MEDIATION_MEETING_LINK", "")
AFFAIRS_DOCUMENT_MAX_BYTES = int(env("AFFAIRS_DOCUMENT_MAX_BYTES", str(10 * 1024 * 1024)))

# SQLite ignores an index's INCLUDE columns (the open-case index for the map's counts); PostgreSQL,
# the production database, uses them.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# apps add their own through `periodic_jobs` on their AppConfig
PERIODIC_JOBS = ["fengqiao.cases.services.sweep_deadlines", "fengqiao.cases.notifications.fan_out_notices",
                 "fengqiao.cases.counts.fold_changes",
                 "fengqiao.notify.services.deliver_due"]

# Safe defaults when debug is off: secure cookies, HSTS, no sniffing. A deployment behind a
# TLS-terminating proxy sets FENGQIAO_SECURE_PROXY=1.
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
    SECURE_SSL_REDIRECT = env_bool("SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(env("HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    if env_bool("SECURE_PROXY", False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "fengqiao@localhost")

LOG_FORMAT = env("LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:home"
