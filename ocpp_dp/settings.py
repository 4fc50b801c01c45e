"""Settings, driven by environment variables. Every variable is listed in the README."""
import os
import sys
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("OCPP_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_float(name, default):
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def _secret_key():
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    # A development key that survives restarts, never shared between installs.
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        import secrets

        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_celery_beat",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "datapoints",
    "panel",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "ocpp_dp.urls"
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
            ],
        },
    },
]
ASGI_APPLICATION = "ocpp_dp.asgi.application"
WSGI_APPLICATION = None

# --- Database -----------------------------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
_db = dj_database_url.parse(DATABASE_URL)
# Celery's Django fixup closes a psycopg pool before and after every task of a forked worker, so
# every hook would open a new connection (10-16 ms): workers keep one persistent connection instead.
_ENTRY = sys.argv[0] if sys.argv else ""  # `celery ...` -> .../bin/celery; `python -m celery` -> .../celery/__main__.py
IN_CELERY = "celery" in os.path.basename(os.path.dirname(_ENTRY) if _ENTRY.endswith("__main__.py") else _ENTRY)
if _db["ENGINE"] == "django.db.backends.postgresql" and env_bool("DATABASE_POOL", not IN_CELERY):
    # One pooled connection set per process (Django 5.1+ with psycopg 3). CONN_MAX_AGE must be 0
    # when the pool is on; the pool keeps connections warm instead.
    _db["CONN_MAX_AGE"] = 0
    _db.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN", 1),
        "max_size": env_int("DATABASE_POOL_MAX", 8),
        "timeout": 10,
    }
    _db["CONN_HEALTH_CHECKS"] = False
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # A Celery worker keeps its one connection. Under Daphne without the pool, every request may
    # run in a thread of its own: persistent connections there piled up to PostgreSQL's limit.
    _db["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 300 if IN_CELERY else 0)
    _db["CONN_HEALTH_CHECKS"] = True
elif _db["ENGINE"] == "django.db.backends.sqlite3":
    _db.setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # A file, not :memory:, so that a Daphne started by the tests sees the same test database.
    _db["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_NAME", str(VAR_DIR / "test-db.sqlite3"))}
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels, cache and Celery -----------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "ocpp_dp.layers.RedisLayer",  # channels_redis, retrying its reads through a Redis outage
            "CONFIG": {
                # redis-py 8 reads with a 5 s socket timeout by default, and channels_redis waits
                # 5 s (BZPOPMIN) for messages: an idle wait would end in TimeoutError and kill a
                # consumer. Its pools also raise, instead of waiting, past 100 connections.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30, "max_connections": env_int("OCPP_REDIS_MAX_CONNECTIONS", 1000)}],
                # Defaults are 100 messages per channel and 60 s: far too small for a fleet and
                # too short for a queued command. See docs/decisions/0003-channel-layer.md.
                "capacity": env_int("OCPP_CHANNEL_CAPACITY", 5000),
                "expiry": env_int("OCPP_CHANNEL_EXPIRY", 600),
                "group_expiry": env_int("OCPP_GROUP_EXPIRY", 7 * 86400),
                "prefix": os.environ.get("OCPP_CHANNEL_PREFIX", "ocpp"),
            },
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "ocpp_dp.layers.InMemoryLayer", "CONFIG": {"capacity": 5000}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not bool(REDIS_URL)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = os.environ.get("TIME_ZONE", "UTC")
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-connections": {"task": "datapoints.tasks.sweep_connections", "schedule": float(env_int("OCPP_SWEEP_INTERVAL", 30))},
    "prune-message-log": {"task": "datapoints.tasks.prune_message_log", "schedule": 3600.0},
    "expire-reservations": {"task": "datapoints.tasks.expire_reservations", "schedule": 30.0},
    "check-offline-alarms": {"task": "datapoints.tasks.check_offline_alarms", "schedule": 60.0},
    "prune-meter-samples": {"task": "datapoints.tasks.prune_meter_samples", "schedule": 3600.0},
    "prune-tracked-commands": {"task": "api.tasks.prune_tracked_commands", "schedule": 3600.0},
}

# --- Auth, i18n, static -------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"
LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))  # `make run` collects here; until then whitenoise serves from static/
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every start while it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

# --- OCPP ---------------------------------------------------------------------------------------
OCPP_AUTO_CREATE_CHARGE_POINTS = env_bool("OCPP_AUTO_CREATE_CHARGE_POINTS", False)
OCPP_NEW_CHARGE_POINT_STATUS = os.environ.get("OCPP_NEW_CHARGE_POINT_STATUS", "Pending")
if OCPP_NEW_CHARGE_POINT_STATUS not in ("Accepted", "Pending", "Rejected"):
    raise ValueError("OCPP_NEW_CHARGE_POINT_STATUS must be Accepted, Pending or Rejected")
OCPP_HEARTBEAT_INTERVAL = env_int("OCPP_HEARTBEAT_INTERVAL", 300)
OCPP_REGISTRATION_RETRY_INTERVAL = env_int("OCPP_REGISTRATION_RETRY_INTERVAL", 60)
OCPP_CALL_TIMEOUT = env_float("OCPP_CALL_TIMEOUT", 30.0)
OCPP_HOOK_MODULES = [m.strip() for m in os.environ.get("OCPP_HOOK_MODULES", "").split(",") if m.strip()]
OCPP_HOOK_TIMEOUT = env_float("OCPP_HOOK_TIMEOUT", 5.0)
OCPP_UNKNOWN_ID_TAG_STATUS = os.environ.get("OCPP_UNKNOWN_ID_TAG_STATUS", "Accepted")
OCPP_MAX_CONNECTORS = env_int("OCPP_MAX_CONNECTORS", 32)
OCPP_AUTH_FAILURE_LIMIT = env_int("OCPP_AUTH_FAILURE_LIMIT", 5)
OCPP_AUTH_FAILURE_WINDOW = env_int("OCPP_AUTH_FAILURE_WINDOW", 300)
OCPP_ADDRESS_TTL = env_int("OCPP_ADDRESS_TTL", 120)
OCPP_SWEEP_INTERVAL = env_int("OCPP_SWEEP_INTERVAL", 30)
OCPP_NODE_NAME = os.environ.get("OCPP_NODE_NAME", "")
OCPP_METRICS_TOKEN = os.environ.get("OCPP_METRICS_TOKEN", "")  # /metrics wants `Authorization: Bearer <it>`; empty: local addresses only
# Proxies whose X-Forwarded-For/-Proto and client-certificate headers are believed (ocpp_dp/proxy.py):
# comma-separated addresses or networks, e.g. 127.0.0.1,::1 for nginx on the same machine. Empty: none.
OCPP_TRUSTED_PROXIES = os.environ.get("OCPP_TRUSTED_PROXIES", "")
OCPP_CERT_ORGANIZATION = os.environ.get("OCPP_CERT_ORGANIZATION", "")  # security profile 3: the O a charger's certificate must carry
# Days the OCPP message log (datapoints/messagelog.py) keeps a frame; 0: no log at all.
OCPP_CHARGER_CLOCK_TRUST_HOURS = env_float("OCPP_CHARGER_CLOCK_TRUST_HOURS", 24.0)  # metering: a reading's own timestamp books it when this close to server time
OCPP_MESSAGE_LOG_DAYS = env_int("OCPP_MESSAGE_LOG_DAYS", 7)
# Alarms and retention (datapoints/alarms.py, datapoints/retention.py).
OCPP_OFFLINE_ALARM_MINUTES = env_int("OCPP_OFFLINE_ALARM_MINUTES", 10)
OCPP_SAMPLE_DAYS = env_int("OCPP_SAMPLE_DAYS", 90)
OCPP_ROLLUP_DAYS = env_int("OCPP_ROLLUP_DAYS", 730)
# Where management commands reach a server that runs without Redis (see docs/decisions).
OCPP_LOCAL_API_URL = os.environ.get("OCPP_LOCAL_API_URL", "http://127.0.0.1:8000")

# --- REST API (api/; docs/decisions/0016-rest-api.md) --------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.BearerTokenAuthentication", "rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.Pages",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "OCPP datapoint manager API",
    "DESCRIPTION": "Charge points, commands, transactions, id tags, schedules and alarms, with the panel's site rights. "
    "Authenticate with `Authorization: Bearer <token>` (`manage.py api_token USERNAME`) or a panel session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our static files (drf-spectacular-sidecar), no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"validatorUrl": None, "persistAuthorization": True},
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"IdTagStatusEnum": "datapoints.models.IdTag.STATUSES", "CommandStatusEnum": "api.models.TrackedCommand.STATUSES"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "django.channels.server": {"level": "WARNING"}},
}
