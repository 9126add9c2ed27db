"""VerifyAI settings.

With no environment at all the service runs on embedded defaults: SQLite, local
file storage with signed URLs, a filesystem Celery broker and an in-process
cache. Production names PostgreSQL (DATABASE_URL), Redis (REDIS_URL) and
S3-compatible storage (AWS_STORAGE_BUCKET_NAME). README.md lists every variable.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from verifyai.api.converters import PATTERN as API_ID_PATTERN
from verifyai.env import (
    env,
    envbool,
    envfloat,
    envint,
    envlist,
    envports,
    envsecret,
    generated_secret,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env("VERIFYAI_DATA_DIR", str(BASE_DIR / "var")))
TESTING = "pytest" in sys.modules or envbool("VERIFYAI_TESTING", False)

DEBUG = envbool("DJANGO_DEBUG", False)
SECRET_KEY = envsecret("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    # A server database or Redis means production: processes on several hosts that must
    # share one key, which only the operator can hand them. VERIFYAI_EMBEDDED=false demands
    # a key on the embedded defaults too.
    _services = [
        name for name, is_set in (
            ("DATABASE_URL", env("DATABASE_URL").partition(":")[0] not in ("", "sqlite")),
            ("REDIS_URL", bool(env("REDIS_URL"))),
        ) if is_set
    ]
    if not (DEBUG or TESTING) and (_services or not envbool("VERIFYAI_EMBEDDED", True)):
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set"
            + (f" when {' and '.join(_services)} name production services" if _services else "")
            + "; generate one with: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
        )
    # Embedded (and DEBUG, tests): a random key made once per data directory, kept across
    # restarts so signed URLs and sessions survive them, shared by the web server and worker.
    SECRET_KEY = generated_secret(DATA_DIR / "secret_key")

ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "verifyai.apps.VerifyAIAdminConfig",  # django.contrib.admin with our AdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "verifyai",
    "billing",
    "policies",
    "verifications",
    "streams",
    "webhooks",
]

MIDDLEWARE = [
    "verifyai.api.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "verifyai.urls"
WSGI_APPLICATION = "verifyai.wsgi.application"
ASGI_APPLICATION = "verifyai.asgi.application"

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

# --- Database ---------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", f"sqlite:///{DATA_DIR / 'verifyai.sqlite3'}"),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web server and the worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A file, not shared-cache memory, so threaded tests get real locking and timeouts.
    # Per process, so concurrent test runs in one checkout never share a file.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-verifyai-{os.getpid()}.sqlite3")}
else:
    # A shared pool per process: hundreds of request threads waiting on models
    # must not each hold a server connection (see verifications.engine.dispatch).
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # required with a pool
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        connect_timeout=envint("DATABASE_CONNECT_TIMEOUT", 5, minimum=1),
        pool={
            "min_size": envint("DATABASE_POOL_MIN", 2, minimum=0),
            "max_size": envint("DATABASE_POOL_MAX", 20, minimum=1),
            "timeout": envfloat("DATABASE_POOL_TIMEOUT", 10.0),
        },
    )
    DATABASES["default"]["TEST"] = {"NAME": env("DATABASE_TEST_NAME", "") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, Celery broker and results --------------------------------
REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "verifyai"),
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
else:
    # On disk, not in process memory: every web process and worker must share it (rate-limit
    # counts, token proofs). diskcache keeps it in SQLite files with atomic increments and costs
    # microseconds; Django's FileBasedCache rewrote a file and listed the folder on every set.
    CACHES = {
        "default": {
            "BACKEND": "diskcache.DjangoCache",
            "LOCATION": str(DATA_DIR / "cache"),
            # One shard: each request thread holds a connection (two open files) per shard it
            # touches while it waits on a model, and writes take microseconds anyway.
            "SHARDS": 1,
            # Wait this long for the lock under contention (writes retry; a read gives up and
            # misses) instead of failing at once.
            "DATABASE_TIMEOUT": 2.0,
            "OPTIONS": {"size_limit": 512 * 1024 * 1024},
        }
    }

# Rate-limit counts live in the default cache; if it is unreachable, serve rather than refuse.
RATELIMIT_USE_CACHE = "default"
RATELIMIT_FAIL_OPEN = True

CELERY_BROKER_URL = env("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = env(
    "CELERY_RESULT_BACKEND", REDIS_URL or f"file://{DATA_DIR / 'celery' / 'results'}"
)
# Unit tests run tasks in-process; the integration tests start a real worker.
CELERY_TASK_ALWAYS_EAGER = envbool("CELERY_TASK_ALWAYS_EAGER", TESTING)
# Where model calls run: "worker" sends them to the evaluations queue (production, with a
# broker); "inline" runs them in the web request's own thread, with no queue hop and nothing
# to poll. Inline is the embedded default: the filesystem broker carries only webhooks and
# housekeeping, and a crashed worker can never hold up a verification.
VERIFYAI_EVALUATIONS = env(
    "VERIFYAI_EVALUATIONS", "worker" if (REDIS_URL or env("CELERY_BROKER_URL")) else "inline"
)
if VERIFYAI_EVALUATIONS not in ("worker", "inline"):
    raise ImproperlyConfigured("VERIFYAI_EVALUATIONS must be 'worker' or 'inline'")

# --- Storage ----------------------------------------------------------------
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(DATA_DIR / "media")))
MEDIA_URL = "/media/"
SIGNED_URL_TTL_SECONDS = envint("SIGNED_URL_TTL_SECONDS", 3600, minimum=1)
AWS_STORAGE_BUCKET_NAME = env("AWS_STORAGE_BUCKET_NAME")
if AWS_STORAGE_BUCKET_NAME:
    # django-storages reads AWS_* / AWS_S3_ENDPOINT_URL itself; URLs are presigned.
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "querystring_auth": True,
            "querystring_expire": SIGNED_URL_TTL_SECONDS,
            "file_overwrite": False,
            "default_acl": None,
        },
    }
else:
    _default_storage = {"BACKEND": "verifications.storage.SignedFileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing root
STATICFILES_DIRS = [BASE_DIR / "static"]
WHITENOISE_USE_FINDERS = True

# --- Request limits ---------------------------------------------------------
VERIFYAI_MAX_IMAGE_BYTES = envint("VERIFYAI_MAX_IMAGE_BYTES", 10 * 1024 * 1024, minimum=1024)
VERIFYAI_MAX_IMAGE_PIXELS = envint("VERIFYAI_MAX_IMAGE_PIXELS", 50_000_000, minimum=1)
# A base64 body is 4/3 of the image, plus room for the other fields.
VERIFYAI_MAX_REQUEST_BYTES = VERIFYAI_MAX_IMAGE_BYTES * 4 // 3 + 256 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = VERIFYAI_MAX_REQUEST_BYTES
FILE_UPLOAD_MAX_MEMORY_SIZE = VERIFYAI_MAX_IMAGE_BYTES + 1
FILE_UPLOAD_HANDLERS = ["verifications.images.BoundedUploadHandler"]

# --- Product ----------------------------------------------------------------
VERIFYAI_DEFAULT_PROVIDER = env("VERIFYAI_DEFAULT_PROVIDER")
VERIFYAI_UPGRADE_URL = env("VERIFYAI_UPGRADE_URL", "https://verifyai.example/pricing")
VERIFYAI_DEFAULT_PLAN = env("VERIFYAI_DEFAULT_PLAN", "starter")
VERIFYAI_LOCAL_BLUR_THRESHOLD = envfloat("VERIFYAI_LOCAL_BLUR_THRESHOLD", 60.0)
# Providers tried, in order, after the chosen one fails (e.g. "anthropic,gemini").
VERIFYAI_PROVIDER_FALLBACKS = envlist("VERIFYAI_PROVIDER_FALLBACKS", [])
# The whole evaluation, queue and retries included, must finish inside this.
VERIFYAI_VERIFY_DEADLINE_SECONDS = envfloat("VERIFYAI_VERIFY_DEADLINE_SECONDS", 25.0)
VERIFYAI_PROVIDER_TIMEOUT_SECONDS = envfloat("VERIFYAI_PROVIDER_TIMEOUT_SECONDS", 20.0)
VERIFYAI_PROVIDER_MAX_RETRIES = envint("VERIFYAI_PROVIDER_MAX_RETRIES", 2, minimum=0)
VERIFYAI_PROVIDER_BACKOFF_SECONDS = envfloat("VERIFYAI_PROVIDER_BACKOFF_SECONDS", 0.5)
# The fast tier of each vendor: a gate camera needs an answer in well under a second.
VERIFYAI_OPENAI_MODEL = env("VERIFYAI_OPENAI_MODEL", "gpt-5.4-mini")
VERIFYAI_ANTHROPIC_MODEL = env("VERIFYAI_ANTHROPIC_MODEL", "claude-haiku-5-5")
VERIFYAI_GEMINI_MODEL = env("VERIFYAI_GEMINI_MODEL", "gemini-3.8-flash")

# --- Webhooks ----------------------------------------------------------------
# Absolute URLs in payloads (image_url) are built on this; a task has no request.
VERIFYAI_PUBLIC_BASE_URL = env("VERIFYAI_PUBLIC_BASE_URL", "http://127.0.0.1:8000")
# Seconds to wait after each failed attempt: the spec's 1, 5 and 30 minutes.
try:
    VERIFYAI_WEBHOOK_RETRY_SCHEDULE = [
        int(value) for value in envlist("VERIFYAI_WEBHOOK_RETRY_SCHEDULE", ["60", "300", "1800"])
    ]
except ValueError:
    raise ImproperlyConfigured(
        "VERIFYAI_WEBHOOK_RETRY_SCHEDULE must be seconds separated by commas, e.g. 60,300,1800"
    ) from None
# A delivery succeeds on a 2xx answered within this many seconds: a wall-clock deadline on
# the whole exchange (connect, send, status, headers, excerpt), after which we hang up.
VERIFYAI_WEBHOOK_TIMEOUT_SECONDS = envfloat("VERIFYAI_WEBHOOK_TIMEOUT_SECONDS", 5.0)
# How long a worker holds a delivery; a crashed worker's lease expires after this.
VERIFYAI_WEBHOOK_LEASE_SECONDS = envint("VERIFYAI_WEBHOOK_LEASE_SECONDS", 60, minimum=1)
if VERIFYAI_WEBHOOK_LEASE_SECONDS <= VERIFYAI_WEBHOOK_TIMEOUT_SECONDS:
    # Otherwise a second worker could send a delivery the first is still sending.
    raise ImproperlyConfigured(
        "VERIFYAI_WEBHOOK_LEASE_SECONDS must exceed VERIFYAI_WEBHOOK_TIMEOUT_SECONDS"
    )
# Deliveries in flight at once, per endpoint and per customer; over the cap a delivery
# stays pending for the next deliver_due run. Counted in the database (live leases).
VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_ENDPOINT = envint(
    "VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_ENDPOINT", 2, minimum=1
)
VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_CUSTOMER = envint(
    "VERIFYAI_WEBHOOK_MAX_CONCURRENT_PER_CUSTOMER", 8, minimum=1
)
VERIFYAI_WEBHOOK_MAX_ENDPOINTS_PER_CUSTOMER = envint(
    "VERIFYAI_WEBHOOK_MAX_ENDPOINTS_PER_CUSTOMER", 20, minimum=1
)
# Test events and redeliveries a customer may queue per minute (POST .../test, .../redeliver).
VERIFYAI_WEBHOOK_MANUAL_SENDS_PER_MINUTE = envint(
    "VERIFYAI_WEBHOOK_MANUAL_SENDS_PER_MINUTE", 10, minimum=1
)
# After a rotation the previous secret keeps signing (a second v1=) this long.
VERIFYAI_WEBHOOK_ROTATION_OVERLAP_SECONDS = envint(
    "VERIFYAI_WEBHOOK_ROTATION_OVERLAP_SECONDS", 24 * 3600, minimum=0
)
# Lifts the SSRF address check (loopback, private, link-local, metadata targets).
WEBHOOK_ALLOW_PRIVATE_TARGETS = envbool("WEBHOOK_ALLOW_PRIVATE_TARGETS", DEBUG or TESTING)
# Ports a webhook URL may name (the private-targets switch above does not lift this).
VERIFYAI_WEBHOOK_ALLOWED_PORTS = envports(
    "VERIFYAI_WEBHOOK_ALLOWED_PORTS", [(80, 80), (443, 443), (1024, 65535)]
)

# --- Streams -----------------------------------------------------------------
# bcrypt cost of stream tokens (checked once per token, then a cached proof); 4 under tests.
VERIFYAI_STREAM_TOKEN_BCRYPT_ROUNDS = envint(
    "VERIFYAI_STREAM_TOKEN_BCRYPT_ROUNDS", 4 if TESTING else 12, minimum=4
)
# Load balancers in front of us (addresses or networks, comma-separated): when REMOTE_ADDR is
# one of them, the client is the rightmost X-Forwarded-For hop that is not. Empty: REMOTE_ADDR.
VERIFYAI_TRUSTED_PROXIES = envlist("VERIFYAI_TRUSTED_PROXIES", [])
try:
    for _proxy in VERIFYAI_TRUSTED_PROXIES:
        ipaddress.ip_network(_proxy, strict=False)
except ValueError as exc:
    raise ImproperlyConfigured(f"VERIFYAI_TRUSTED_PROXIES: {exc}") from None
# Pairing attempts per client address (django-ratelimit rate, counted in the shared cache).
VERIFYAI_STREAM_PAIR_RATE = env("VERIFYAI_STREAM_PAIR_RATE", "10/m")
# Wrong pairing codes typed without their stream, every address together, per window (counted
# in the database); then typed codes answer 429 until the window ends. A QR names its stream
# and is unaffected. 0 turns typed codes off.
VERIFYAI_STREAM_PAIR_FAILURE_BUDGET = envint("VERIFYAI_STREAM_PAIR_FAILURE_BUDGET", 100, minimum=0)
VERIFYAI_STREAM_PAIR_FAILURE_WINDOW = envint("VERIFYAI_STREAM_PAIR_FAILURE_WINDOW", 600, minimum=1)

# --- Django REST framework ---------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["verifyai.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["verifyai.api.permissions.HasActiveSubscription"],
    "DEFAULT_THROTTLE_CLASSES": ["verifyai.api.throttling.PlanRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        # Refuses NaN/Infinity, 1e999, unpaired surrogates and deep nesting with a 400.
        "verifyai.api.parsers.StrictJSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "EXCEPTION_HANDLER": "verifyai.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "VerifyAI API",
    "DESCRIPTION": "Verify photos and camera frames against compliance policies.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Path ids are matched by verifyai.api.converters (anything else is a 404); say so.
    "PATH_CONVERTER_OVERRIDES": {"api_id": {"type": "string", "pattern": f"^{API_ID_PATTERN}$"}},
}

# --- i18n, misc -------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "verifyai.api.context.RequestIdLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}
