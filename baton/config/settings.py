"""Baton settings: everything that differs between installs comes from the environment."""

import os
import secrets
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("BATON_VAR_DIR", BASE_DIR.parent / "var")).resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    # Generated once per install into var/ so it is never committed and survives restarts.
    if key := os.environ.get("SECRET_KEY"):
        return key
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = os.environ.get("BATON_DEBUG", "").lower() in {"1", "true", "yes"}
ALLOWED_HOSTS = [h for h in os.environ.get("BATON_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("BATON_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_filters",
    "huey.contrib.djhuey",
    "baton.core",
    "baton.org",
    "baton.accounts",
    "baton.leads",
    "baton.opportunities",
    "baton.activities",
    "baton.conditions",
    "baton.process",
    "baton.reports",
    "baton.sla",
    "baton.notifications",
    "baton.visits",
    "baton.scripts",
    "baton.imports",
    "baton.capture",
    "baton.rules",
    "baton.assignment",
    "baton.demo",
]

AUTH_USER_MODEL = "org.User"

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "baton.org.middleware.UserLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "baton.core.config_cache.RequestTokenMiddleware",
]

ROOT_URLCONF = "baton.config.urls"
WSGI_APPLICATION = "baton.config.wsgi.application"

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
                "django.template.context_processors.i18n",
                "baton.core.context_processors.baton",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'baton.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=600)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside the one writer; the busy timeout makes the writer queue instead of failing.
    # IMMEDIATE transactions take the write lock up front so two writers never deadlock on lock upgrade.
    # baton.core.sqlite: writers queue on their process's lock, then on a lock file beside the database, instead
    # of sleeping in SQLite's busy handler (see its docstring).
    DATABASES["default"]["ENGINE"] = "baton.core.sqlite"
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test_baton.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Parameters bound by the server: psycopg then prepares a statement a connection runs repeatedly (the
    # intake's handful), and the server stops re-planning it on every request.
    DATABASES["default"].setdefault("OPTIONS", {}).update(server_side_binding=True, prepare_threshold=3)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Background jobs --------------------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "baton",
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": 4, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "baton",
        "filename": str(VAR_DIR / "huey.sqlite3"),
        "immediate": os.environ.get("BATON_HUEY_IMMEDIATE", "").lower() in {"1", "true"},
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

# --- Auth -------------------------------------------------------------------------------------------
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 8}},
]
API_TOKEN_TTL_DAYS = int(os.environ.get("BATON_API_TOKEN_TTL_DAYS", "30"))

# --- i18n: Chinese first, English complete --------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("BATON_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static and media ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_URL = "media/"
MEDIA_ROOT = VAR_DIR / "media"

# Bodies above this are refused with 413 before any parsing (API and forms alike).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("BATON_MAX_BODY_BYTES", str(2 * 1024 * 1024)))
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
BATON_MAX_UPLOAD_BYTES = int(os.environ.get("BATON_MAX_UPLOAD_BYTES", str(20 * 1024 * 1024)))

# --- Product defaults (editable by ops later; these are the shipped values) ------------------------
BATON_NEWCOMER_DAYS = int(os.environ.get("BATON_NEWCOMER_DAYS", "90"))
BATON_DEFAULT_CURRENCY = "CNY"
# Absolute links in bot messages and e-mails (the address people open Baton at).
BATON_BASE_URL = os.environ.get("BATON_BASE_URL", "http://127.0.0.1:8000")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("BATON_LOG_LEVEL", "INFO")},
    "loggers": {"huey": {"level": "WARNING"}},
}
