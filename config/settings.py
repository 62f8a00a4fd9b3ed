"""Chorus settings: read only from the environment, with safe defaults.

Every variable is listed in `.env.example`. Nothing here has side effects at import time.
"""

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_path(name: str, default: Path) -> Path:
    return Path(os.environ.get(name) or default)


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


# Off unless asked for. The local start (`make run`) sets CHORUS_DEBUG=1.
DEBUG = env_bool("CHORUS_DEBUG", False)
SECRET_KEY = os.environ.get("CHORUS_SECRET_KEY", "")
# `.env.example`'s placeholder value starts with "change-me": copying the example must not start
# a site whose sessions, CSRF tokens and pseudonym keys anyone can forge.
if not SECRET_KEY:
    raise ImproperlyConfigured("CHORUS_SECRET_KEY is not set (see .env.example).")
if SECRET_KEY.startswith("change-me"):
    raise ImproperlyConfigured(
        "CHORUS_SECRET_KEY is the placeholder from .env.example; set a long random secret "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )
ALLOWED_HOSTS = env_list("CHORUS_ALLOWED_HOSTS", "localhost,127.0.0.1" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CHORUS_CSRF_TRUSTED_ORIGINS")

# Where the embedded default keeps its SQLite file, broker folders, media and training runs.
VAR_DIR = env_path("CHORUS_VAR_DIR", BASE_DIR / "var")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "template_partials",
    "annotation",
    "training",
]

MIDDLEWARE = [
    # Outermost, so that every response carries the policy (config/csp.py), /healthz included.
    "config.csp.ContentSecurityPolicyMiddleware",
    # /healthz from loopback, before the HTTPS redirect and the host check (config/middleware.py).
    "config.middleware.HealthzLoopbackMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Database or broker down: 503 + Retry-After (JSON for API clients), never a 500.
    "config.middleware.OutageMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
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
                "annotation.context_processors.roles",
                "config.accounts.password_reset",
            ],
        },
    },
]

# Embedded default: SQLite under VAR_DIR. Production: DATABASE_URL=postgres://...
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'chorus.sqlite3'}",
        conn_max_age=int(os.environ.get("CHORUS_DB_CONN_MAX_AGE", "60")),
        # A persistent connection broken by a database restart is replaced before use.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same backend, with a health check that costs no round trip (config/postgresql).
    DATABASES["default"]["ENGINE"] = "config.postgresql"
if os.environ.get("CHORUS_DB_PREPARED_STATEMENTS", "") == "1" and "postgresql" in str(
    DATABASES["default"]["ENGINE"]
):
    # Parameters bound on the server, and a statement run 5 times on a connection prepared: the
    # hot path's statements are then planned once per connection (issue 14). Opt-in: Django
    # warns that some ORM queries behave differently with server-side binding.
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL + a busy timeout let the web process and the worker write to one file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# django-axes checks every login against its failure records before the model backend runs.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend that also reads the user's roles in its per-request user query.
    "annotation.roles.RoleBackend",
]
# Failed logins: after CHORUS_LOGIN_FAILURE_LIMIT failures for one username (guessing one
# account from many addresses) OR from one address (spraying many accounts from one place),
# further logins for it are refused with a 429 for CHORUS_LOGIN_COOLOFF_MINUTES. A locked
# username is a temporary denial of service for its owner, hence a cool-off, not a hard lock.
AXES_FAILURE_LIMIT = int(os.environ.get("CHORUS_LOGIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("CHORUS_LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
# The address is REMOTE_ADDR; behind the one TLS proxy (CHORUS_SECURE_PROXY), the address that
# proxy appended to X-Forwarded-For (a client cannot forge it to dodge the limit).
if env_bool("CHORUS_SECURE_PROXY", False):
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"]
    AXES_IPWARE_PROXY_ORDER = "right-most"
    AXES_IPWARE_PROXY_COUNT = 1
else:
    AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "annotation:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_path("CHORUS_STATIC_ROOT", VAR_DIR / "staticfiles")
MEDIA_ROOT = env_path("CHORUS_MEDIA_ROOT", VAR_DIR / "media")
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Uploads above this size are streamed to a temporary file, never held in memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_MEMORY_SIZE = 10_485_760
# The first handler counts bytes while the upload streams in and stops it past
# CHORUS_MAX_UPLOAD_BYTES (annotation/uploads.py); the view then answers 413.
FILE_UPLOAD_HANDLERS = [
    "annotation.uploads.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# Security: strict unless DEBUG. Behind a TLS proxy set CHORUS_SECURE_PROXY=1.
SECURE = not DEBUG and env_bool("CHORUS_SECURE", True)
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE and env_bool("CHORUS_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = int(os.environ.get("CHORUS_HSTS_SECONDS", "31536000" if SECURE else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("CHORUS_SECURE_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # Per-user tokens from /account/token/ (`Authorization: Token <key>`): one lookup per
        # request, not HTTP Basic's password hash (0.3-0.5 s of PBKDF2 each time).
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        # DRF's user rate, counted with one cache round trip (config/throttling.py).
        "config.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("CHORUS_API_THROTTLE_ANON", "60/minute"),
        "user": os.environ.get("CHORUS_API_THROTTLE_USER", "2000/minute"),
    },
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Model and database validation errors become 400s naming the field (config/api.py).
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # JSON bodies with size and depth limits (CHORUS_MAX_JSON_BYTES, CHORUS_MAX_JSON_DEPTH).
    "DEFAULT_PARSER_CLASSES": [
        "config.api.LimitedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # Documents the error codes every operation can answer (config/schema.py).
    "DEFAULT_SCHEMA_CLASS": "config.schema.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
    "URL_FORMAT_OVERRIDE": None,  # `?format=` names export formats here, not renderers
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Chorus API",
    "DESCRIPTION": "Human preference data collection and training, with annotator groups kept apart.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# API hardening (config/api.py, config/schema.py): model and database validation errors become
# 400s naming the field; JSON bodies have a size and a nesting limit; the schema documents every
# status code and the pagination envelope an operation can answer with.
# JSON request bodies larger than this many bytes are refused (413).
CHORUS_MAX_JSON_BYTES = int(os.environ.get("CHORUS_MAX_JSON_BYTES", str(2 * 1024 * 1024)))
# JSON request bodies nested deeper than this (arrays and objects) are refused (400).
CHORUS_MAX_JSON_DEPTH = int(os.environ.get("CHORUS_MAX_JSON_DEPTH", "32"))
# Serve the OpenAPI schema and Swagger UI to anonymous visitors (default: signed-in users only).
CHORUS_PUBLIC_API_DOCS = env_bool("CHORUS_PUBLIC_API_DOCS", False)

# Celery. Embedded default: a filesystem broker under VAR_DIR (no server). Production: redis://...
# The embedded broker is config/broker.py (`chorusfs://`: kombu's filesystem transport with
# atomic writes and claim-by-rename reads); `filesystem://` is read as `chorusfs://` because
# kombu's own filesystem transport races between writer and reader.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or "chorusfs://"
if CELERY_BROKER_URL.startswith("filesystem:"):
    CELERY_BROKER_URL = "chorusfs:" + CELERY_BROKER_URL.removeprefix("filesystem:")
EMBEDDED_BROKER = CELERY_BROKER_URL.startswith("chorusfs:")
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # Workers look for new messages 10 times a second (kombu's default: once), so a live
        # reply's first token is not held up to a second in the broker.
        "polling_interval": 0.1,
    }
    if EMBEDDED_BROKER
    else {"visibility_timeout": 43200}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Training queue name; a GPU host runs `celery -A config worker -Q training --prefetch-multiplier 1`.
CHORUS_TRAINING_QUEUE = os.environ.get("CHORUS_TRAINING_QUEUE", "training")
# Training tasks go to their own queue, acked late, one message at a time per worker process;
# the lost-worker sweep (Celery beat) stays on the default queue.
# Live replies go to the inference queue, whose worker keeps its models loaded between replies
# and answers several at once: `celery -A config worker -Q inference --pool threads`.
CHORUS_INFERENCE_QUEUE = os.environ.get("CHORUS_INFERENCE_QUEUE", "inference")
CELERY_TASK_ROUTES = {
    "training.tasks.sweep_lost_workers_task": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "training.tasks.sweep_queued_task": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "training.tasks.sweep_replies_task": {"queue": CELERY_TASK_DEFAULT_QUEUE},
    "training.tasks.reply_task": {"queue": CHORUS_INFERENCE_QUEUE},
    "training.tasks.*": {"queue": CHORUS_TRAINING_QUEUE},
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A running training run or generation job whose worker has been silent this long is marked
# failed (worker lost).
CHORUS_TRAINING_STALE_SECONDS = int(os.environ.get("CHORUS_TRAINING_STALE_SECONDS", "120"))
# How often Celery beat runs that lost-worker sweep (config/celery.py).
CHORUS_SWEEP_SECONDS = int(os.environ.get("CHORUS_SWEEP_SECONDS", "60"))
# A job still queued this long after its task was handed to the broker is handed over again
# (its message was lost); one queued longer than CHORUS_QUEUED_GIVE_UP_SECONDS is failed with the
# reason. Both checked by the Celery beat sweep every CHORUS_SWEEP_SECONDS (config/dispatch.py).
CHORUS_REDISPATCH_SECONDS = int(os.environ.get("CHORUS_REDISPATCH_SECONDS", "300"))
CHORUS_QUEUED_GIVE_UP_SECONDS = int(os.environ.get("CHORUS_QUEUED_GIVE_UP_SECONDS", "86400"))
# Live inference (training/services/inference.py). A streaming reply whose worker has been
# silent this long is failed ("the model stopped answering"); one no worker took this long
# after it was asked for is failed too.
CHORUS_INFERENCE_STALE_SECONDS = int(os.environ.get("CHORUS_INFERENCE_STALE_SECONDS", "15"))
CHORUS_INFERENCE_QUEUE_SECONDS = int(os.environ.get("CHORUS_INFERENCE_QUEUE_SECONDS", "120"))
# The longest a reply may stream, in seconds (the worker stops it; the event stream closes).
CHORUS_INFERENCE_REPLY_SECONDS = int(os.environ.get("CHORUS_INFERENCE_REPLY_SECONDS", "300"))
# Models an inference worker process keeps loaded (least recently used ones are dropped).
CHORUS_INFERENCE_MAX_MODELS = int(os.environ.get("CHORUS_INFERENCE_MAX_MODELS", "2"))
# Replies one inference worker streams at once (its thread pool; `make run`, docker-compose).
CHORUS_INFERENCE_CONCURRENCY = int(os.environ.get("CHORUS_INFERENCE_CONCURRENCY", "8"))
# How often the worker writes a streaming reply's text to the database, in seconds.
CHORUS_INFERENCE_FLUSH_SECONDS = float(os.environ.get("CHORUS_INFERENCE_FLUSH_SECONDS", "0.05"))
# Replies one user may have queued or streaming at once (a per-labeler rate limit).
CHORUS_INFERENCE_MAX_ACTIVE = int(os.environ.get("CHORUS_INFERENCE_MAX_ACTIVE", "4"))
# Live conversations (issue 16): messages (each asking two replies) a labeler may send a minute.
CHORUS_LIVE_TURNS_PER_MINUTE = int(os.environ.get("CHORUS_LIVE_TURNS_PER_MINUTE", "6"))
# Where training runs write their artifacts.
CHORUS_RUNS_DIR = env_path("CHORUS_RUNS_DIR", VAR_DIR / "runs")
# GPUs a training worker may use for one run (>1 launches through `accelerate launch`).
CHORUS_TRAINING_GPUS = int(os.environ.get("CHORUS_TRAINING_GPUS", "1"))
# Accelerate config files (<name>.yaml, e.g. FSDP over N GPUs) a run may choose by name
# (its accelerate_config); never a path given by a user.
CHORUS_ACCELERATE_CONFIGS = env_path(
    "CHORUS_ACCELERATE_CONFIGS", BASE_DIR / "config" / "accelerate"
)
# Memory of one training device in GiB: a run whose estimate (training/ml/memory.py) exceeds it
# is refused when created. 0: not checked here (the trainer still checks its real device).
CHORUS_TRAINING_MEMORY_GB = float(os.environ.get("CHORUS_TRAINING_MEMORY_GB", "0"))
# Directories a user may name a model in (base models, generation sources); a path must
# resolve inside one of them after symlinks (training/paths.py). Comma- or os.pathsep-separated.
CHORUS_MODEL_ROOTS = [
    Path(part)
    for part in re.split(
        rf"[,{re.escape(os.pathsep)}]",
        os.environ.get("CHORUS_MODEL_ROOTS") or f"{VAR_DIR / 'models'},{CHORUS_RUNS_DIR}",
    )
    if part.strip()
]
# Groups with fewer labelers than this are hidden from reports (protects identities).
CHORUS_MIN_GROUP_SIZE = int(os.environ.get("CHORUS_MIN_GROUP_SIZE", "5"))
# Imports with more lines than this run as a background job.
CHORUS_IMPORT_INLINE_MAX_BYTES = int(os.environ.get("CHORUS_IMPORT_INLINE_MAX_BYTES", "1000000"))
# Size caps (annotation/formats/base.py reads the import ones while streaming, never more).
# Largest upload accepted, in bytes (as sent: gzip counts compressed).
CHORUS_MAX_UPLOAD_BYTES = int(os.environ.get("CHORUS_MAX_UPLOAD_BYTES", str(512 * 2**20)))
# Largest import once decompressed, in bytes.
CHORUS_MAX_IMPORT_BYTES = int(os.environ.get("CHORUS_MAX_IMPORT_BYTES", str(4 * 2**30)))
# Longest line of an import file, in bytes.
CHORUS_MAX_LINE_BYTES = int(os.environ.get("CHORUS_MAX_LINE_BYTES", str(8 * 2**20)))
# Longest text (a prompt turn or a completion) an import may hold, in characters.
CHORUS_MAX_TEXT_CHARS = int(os.environ.get("CHORUS_MAX_TEXT_CHARS", "500000"))
# The workbench shows this many characters of a text; the rest behind a "show all" expander.
CHORUS_LABEL_TEXT_CHARS = int(os.environ.get("CHORUS_LABEL_TEXT_CHARS", "20000"))
# Uploaded import files older than this many days are deleted by Celery beat (0: keep forever).
CHORUS_UPLOAD_RETENTION_DAYS = int(os.environ.get("CHORUS_UPLOAD_RETENTION_DAYS", "30"))
# How long an item stays reserved for a labeler.
CHORUS_RESERVATION_SECONDS = int(os.environ.get("CHORUS_RESERVATION_SECONDS", "1800"))

# Cache for API throttling counters (and nothing that must survive): per process by default;
# several web processes should share one, e.g. CHORUS_CACHE_URL=redis://redis:6379/1.
CHORUS_CACHE_URL = os.environ.get("CHORUS_CACHE_URL", "")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CHORUS_CACHE_URL,
    }
    if CHORUS_CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    # Per process, for what is the same in every process or may lag a few seconds: rendered
    # guidelines versions, template fragments that depend only on a project's rubric, the
    # count of a project's open items (issue 14: each spares a round trip to the shared cache).
    "local": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "local"},
}
# With a shared cache, login sessions are read from it (no session query per request) and written
# through to the database. Without one they stay in the database only: a per-process cache would
# keep a session that another process logged out.
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if CHORUS_CACHE_URL
    else "django.contrib.sessions.backends.db"
)

# With a shared cache, the logged-in user and their roles are read from it (roles.RoleBackend: no
# user query per request), dropped there on every change of the user or their groups. Not with a
# per-process cache: another process's change would not reach it.
CHORUS_USER_CACHE = bool(CHORUS_CACHE_URL)

# Outgoing mail (password reset). Without a host the reset pages are hidden and answer 404.
CHORUS_EMAIL_HOST = os.environ.get("CHORUS_EMAIL_HOST", "")
EMAIL_HOST = CHORUS_EMAIL_HOST or "localhost"
EMAIL_PORT = int(os.environ.get("CHORUS_EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("CHORUS_EMAIL_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("CHORUS_EMAIL_PASSWORD", "")
EMAIL_USE_TLS = env_bool("CHORUS_EMAIL_TLS", True)
DEFAULT_FROM_EMAIL = os.environ.get("CHORUS_EMAIL_FROM", "chorus@localhost")

# Content-Security-Policy sent with every response (config/csp.py): scripts only from our own
# static files (no inline scripts or handlers); inline style attributes are allowed (progress
# bars and chart swatches set widths and colours), images from data: URLs (SVG charts).
CHORUS_CSP = os.environ.get("CHORUS_CSP") or (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CHORUS_LOG_LEVEL", "INFO")},
    # django-axes logs every login at INFO; lockouts and failures are WARNING.
    "loggers": {"axes": {"level": "WARNING"}},
}
