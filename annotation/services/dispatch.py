"""The beat sweep of queued imports, exports and reports (config/dispatch.py does the work)."""

from __future__ import annotations

from annotation.models import ExportJob, ImportJob, ProjectReport
from config.dispatch import sweep_queued


def jobs_sweep_queued() -> dict[str, int]:
    """Re-dispatch queued jobs whose message looks lost; fail those queued for too long."""
    from annotation.tasks import export_run_task, import_run_task, report_compute_task

    total = {"redispatched": 0, "failed": 0}
    for model, task, since in (
        (ImportJob, import_run_task, "created_at"),
        (ExportJob, export_run_task, "created_at"),
        (ProjectReport, report_compute_task, "requested_at"),
    ):
        for key, value in sweep_queued(model, task, since_field=since).items():
            total[key] += value
    return total
