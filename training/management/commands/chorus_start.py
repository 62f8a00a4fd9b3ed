"""`make run`: migrate, load the demo (precomputing its agreement reports, queueing its demo
training runs and evaluation for the worker: annotation/services/demo.py,
training/services/demo.py), start a Celery worker (with beat, for the periodic
sweeps), an inference worker (live replies; it keeps its models loaded) and the web server under config/supervisor.py (a dead worker is restarted, and says so),
print logins."""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from annotation.services.demo import DEMO_PASSWORD, demo_reports_compute, demo_seed
from config.supervisor import Program, Supervisor
from training.services.demo import demo_base_model, demo_training_queue


class Command(BaseCommand):
    help = "Start Chorus locally on the embedded default: SQLite, a filesystem broker and a real worker."

    def add_arguments(self, parser) -> None:  # noqa: ANN001
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args: object, port: int, host: str, **options: object) -> None:
        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        logins = demo_seed()
        demo_reports_compute()
        if self._tiny_model():
            demo_training_queue(base_model=demo_base_model())
        env = dict(os.environ)
        worker = Program(
            "worker",
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", f"default,{settings.CHORUS_TRAINING_QUEUE}",
             "--concurrency", "1", "--prefetch-multiplier", "1", "-l", "INFO",
             "--beat", "--schedule", str(settings.VAR_DIR / "celerybeat-schedule")],
            env,
        )  # fmt: skip
        # Live replies: a second worker on the inference queue, a threads pool so that replies
        # stream side by side and share the models it keeps loaded (training/ml/stream.py).
        inference = Program(
            "inference",
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", settings.CHORUS_INFERENCE_QUEUE,
             "--pool", "threads", "--concurrency", str(settings.CHORUS_INFERENCE_CONCURRENCY),
             "-n", "inference@%h", "-l", "INFO"],
            env,
        )  # fmt: skip
        web = Program(
            "web",
            [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"{host}:{port}", "--workers", "2",
             "--threads", "4", "--access-logfile", "-"],
            env,
        )  # fmt: skip

        def started() -> None:
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nChorus is running at http://{host}:{port}/  (Ctrl-C stops it)\n"
                )
            )
            self.stdout.write("Demo logins:")
            for login in logins:
                self.stdout.write(
                    f"  {login.username:<22} password {DEMO_PASSWORD}   ({login.role}: {login.note})"
                )
            self.stdout.write(f"API docs: http://{host}:{port}/api/docs/\n")

        # A dead worker (or web server) is restarted with a message; Ctrl-C stops both.
        Supervisor([worker, inference, web]).run(on_started=started)

    def _tiny_model(self) -> bool:
        try:
            call_command("chorus_tiny_model", verbosity=0)
        except Exception as exc:  # the demo still runs; training then needs a base model path
            self.stderr.write(f"(could not build the tiny demo model: {exc})")
            return False
        return True
