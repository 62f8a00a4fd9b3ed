"""One judgment, from the labeler's POST to the exported TRL row and to the training snapshot row.

Both rows come from `annotation.preferences`: the same (chosen, rejected, weight) pairs. The walk
goes through each layer once, in order: the label API (view -> judgment service), the export
job (export service -> JSONL file) and a run created through the run API (run service ->
`training.datasets` -> the snapshot file the trainer is given).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from annotation.models import ExportJob, Reservation
from annotation.services.exports import export_job_create, export_run
from tests.factories import ProjectFactory, item_create
from training.models import TrainingRun
from training.services.runs import trainer_command

pytestmark = pytest.mark.django_db

Triple = tuple[str, str, float]


def _label(client, item, display_order: list[int], body: dict) -> None:  # noqa: ANN001
    """The labeler gets the item (as the next one), sees it in `display_order` and judges it."""
    assert client.get(f"/api/label/projects/{item.project_id}/next/").json()["item"]
    Reservation.objects.filter(item=item).update(display_order=display_order)
    response = client.post(
        f"/api/label/items/{item.pk}/judgments/",
        {"client_key": str(uuid.uuid4()), **body}
        | ({"ranking_touched": True} if "ranks" in body else {}),  # the labeler ordered them
        content_type="application/json",
    )
    assert response.status_code == 201, response.content


def _exported(project, researcher, media: Path) -> list[Triple]:  # noqa: ANN001
    job = export_job_create(project=project, fmt="trl", created_by=researcher)
    export_run(job_id=job.pk)
    job = ExportJob.objects.get(pk=job.pk)
    rows = [json.loads(line) for line in (media / job.file.name).read_text().splitlines()]
    return [(r["chosen"][0]["content"], r["rejected"][0]["content"], r["weight"]) for r in rows]


def _snapshot(client, project, base_model: str) -> list[Triple]:  # noqa: ANN001
    payload = {
        "kind": "reward",
        "base_model": base_model,
        "projects": [project.pk],
        "hyperparameters": {"eval_fraction": 0.0},
    }
    response = client.post("/api/training/runs/", payload, content_type="application/json")
    assert response.status_code == 201, response.content
    command = trainer_command(TrainingRun.objects.get())
    data = Path(command[command.index("--data") + 1])
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    return [(r["chosen"], r["rejected"], r["weight"]) for r in rows]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def test_a_pairwise_judgment_gives_the_same_pair_in_export_and_snapshot(
    as_persona, project, researcher, media, base_model_dir, runs_dir
):
    item = item_create(project, texts=("Reply A", "Reply B"))
    # Seen as [B, A]; "2" on the scale = Response 1 (that is, canonical B) is better.
    _label(as_persona("labeler"), item, [1, 0], {"choice": "2"})
    expected = [("Reply B", "Reply A", 1.0)]
    assert _exported(project, researcher, media) == expected
    assert _snapshot(as_persona("researcher"), project, base_model_dir) == expected


def test_a_ranking_of_4_gives_the_same_weighted_pairs_in_export_and_snapshot(
    as_persona, researcher, media, base_model_dir, runs_dir
):
    project = ProjectFactory(created_by=researcher, kind="ranking", ranking_size=4)
    item = item_create(project, texts=("w", "x", "y", "z"))
    # Seen as [y, w, z, x] and ranked 1, 2, 2, 3: y > w = z > x. The tie w = z gives no pair.
    _label(as_persona("labeler"), item, [2, 0, 3, 1], {"ranks": [1, 2, 2, 3]})
    expected = [("w", "x"), ("y", "w"), ("y", "x"), ("y", "z"), ("z", "x")]
    exported = sorted(_exported(project, researcher, media))
    snapshot = sorted(_snapshot(as_persona("researcher"), project, base_model_dir))
    assert exported == snapshot  # the same pairs with the same weights
    assert [(chosen, rejected) for chosen, rejected, _ in exported] == expected
    assert [weight for _, _, weight in exported] == pytest.approx([1 / 6] * 5)  # 1 / C(4, 2)
