"""Test settings: the same settings, with a fixed secret and a file-backed test database.

The SQLite test database lives in a file (not memory) so that a real Celery worker process
can open it. Set DATABASE_URL / CELERY_BROKER_URL to run against PostgreSQL and Redis.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("CHORUS_SECRET_KEY", "insecure-test-key")
os.environ.setdefault("CHORUS_DEBUG", "0")
os.environ.setdefault(
    "CHORUS_VAR_DIR", str(Path(tempfile.gettempdir()) / f"chorus-test-{os.getpid()}")
)

from config.settings import *  # noqa: E402,F403
from config.settings import DATABASES, VAR_DIR  # noqa: E402

ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests own this folder; create it here so the file-backed test database can open.
VAR_DIR.mkdir(parents=True, exist_ok=True)
WHITENOISE_AUTOREFRESH = True  # serve from STATICFILES_DIRS; no collectstatic in tests
STATIC_ROOT = None
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
