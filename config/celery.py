"""The Celery app. Tasks live in `<app>/tasks.py`; training runs on its own queue.

Beat schedule: every CHORUS_SWEEP_SECONDS the lost-worker sweep fails training runs and
generation jobs whose worker stopped beating (training.tasks.sweep_lost_workers_task), and the
queued sweeps re-dispatch or fail jobs whose broker message was lost (config/dispatch.py); once a
day uploaded import files older than CHORUS_UPLOAD_RETENTION_DAYS are deleted
(annotation.tasks.import_uploads_purge_task). `make run`
starts beat inside its single worker (`--beat`), and so does docker-compose's one worker; extra
(GPU) workers start without `--beat`, so exactly one scheduler runs.
"""

import os

from celery import Celery

import config.broker  # noqa: F401  (registers the embedded broker, chorusfs://)

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("chorus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _ensure_filesystem_broker_dirs(sender: Celery, **kwargs: object) -> None:
    """The embedded filesystem broker needs its folders; create them on first use, not import."""
    from pathlib import Path

    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


SWEEP_TASK = "training.tasks.sweep_lost_workers_task"
PURGE_UPLOADS_TASK = "annotation.tasks.import_uploads_purge_task"  # CHORUS_UPLOAD_RETENTION_DAYS
SWEEP_EXPIRES_MIN = 60.0  # seconds
QUEUED_SWEEPS = (
    "annotation.tasks.sweep_queued_task",
    "training.tasks.sweep_queued_task",
    "training.tasks.sweep_replies_task",  # live replies whose inference worker went silent
)


@app.on_after_configure.connect
def _beat_schedule(sender: Celery, **kwargs: object) -> None:
    """Periodic housekeeping; the interval is a Django setting (CHORUS_SWEEP_SECONDS)."""
    from django.conf import settings

    every = float(settings.CHORUS_SWEEP_SECONDS)
    # A busy worker skips sweeps older than this. Not the period itself: with a short period the
    # broker's own delivery delay (the embedded broker polls once a second) outlived it, and the
    # worker discarded every lost-worker sweep as expired.
    expires = max(every, SWEEP_EXPIRES_MIN)
    sweep = sender.signature(SWEEP_TASK, options={"expires": expires})
    sender.add_periodic_task(every, sweep, name="sweep-lost-workers")
    # lost messages: re-dispatch or fail queued jobs (config/dispatch.py)
    for task in QUEUED_SWEEPS:
        sender.add_periodic_task(
            every, sender.signature(task, options={"expires": expires}), name=task
        )
    day = 24 * 3600.0
    purge = sender.signature(PURGE_UPLOADS_TASK, options={"expires": day})
    sender.add_periodic_task(day, purge, name="purge-old-uploads")
