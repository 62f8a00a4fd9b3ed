"""Shared set-up of live conversation tests: a live pairwise project with two local sources,
and a stand-in for the inference worker (`finish`) that writes a reply's outcome."""

from __future__ import annotations

from django.utils import timezone

from annotation.models import Project
from tests.factories import ProjectFactory
from training.models import InferenceSource, ReplyStatus, ReplyStream, SourceKind
from training.services.live import live_config_set


def live_project(tmp_path, *, red_team: bool = False, turn_limit: int = 3, **kw) -> Project:  # noqa: ANN003
    sources = []
    for name in ("alpha", "beta"):
        (tmp_path / name).mkdir(exist_ok=True)
        sources.append(
            InferenceSource.objects.get_or_create(
                name=name, kind=SourceKind.LOCAL, model_path=str(tmp_path / name)
            )[0]
        )
    project = ProjectFactory(red_team=red_team, **kw)
    live_config_set(
        project=project, source_a=sources[0], source_b=sources[1], turn_limit=turn_limit
    )
    project.refresh_from_db()
    return project


def finish(reply: ReplyStream, text: str, status: str = ReplyStatus.DONE, error: str = "") -> None:
    now = timezone.now()
    ReplyStream.objects.filter(pk=reply.pk).update(
        status=status, text=text, error=error, heartbeat_at=now, finished_at=now
    )
