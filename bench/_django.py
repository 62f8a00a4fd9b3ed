"""Set up Django for a benchmark on a fresh database in a temporary folder (or DATABASE_URL)."""

import os
import sys
import tempfile
from pathlib import Path


def setup() -> Path:
    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root))
    var = Path(tempfile.mkdtemp(prefix="chorus-bench-"))
    os.environ.setdefault("CHORUS_VAR_DIR", str(var))
    os.environ.setdefault("CHORUS_SECRET_KEY", "bench-only-insecure-key")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return var


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
