"""Celery tasks: thin, take ids, call one service. Not retried blindly."""

from celery import shared_task


@shared_task(acks_late=True)
def import_run_task(job_id: int) -> None:
    from annotation.services.imports import import_run

    import_run(job_id=job_id)


@shared_task(acks_late=True)
def export_run_task(job_id: int) -> None:
    from annotation.services.exports import export_run

    export_run(job_id=job_id)


@shared_task(acks_late=True)
def report_compute_task(report_id: int) -> None:
    from annotation.services.reports import project_report_compute

    project_report_compute(report_id=report_id)


@shared_task
def import_uploads_purge_task() -> None:
    from annotation.services.imports import import_uploads_purge

    import_uploads_purge()


@shared_task(ignore_result=True)
def sweep_queued_task() -> dict[str, int]:
    """Celery beat: re-dispatch or fail imports, exports and reports whose message was lost."""
    from annotation.services.dispatch import jobs_sweep_queued

    return jobs_sweep_queued()
