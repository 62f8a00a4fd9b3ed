"""Seed a fresh database for the PostgreSQL fault test: `python -m tests.faults.seed LABELERS
ITEMS` prints {"project": id, "labelers": [usernames]} as JSON. Every labeler may judge every
item (overlap = the number of labelers), so the expected count of judgments is exact."""

from __future__ import annotations

import json
import sys

import django


def main(labelers: int, items: int) -> None:
    django.setup()
    from annotation.services.labelers import user_create
    from annotation.services.projects import project_create
    from tests.factories import item_create

    project = project_create(
        name="Fault test",
        kind="pairwise",
        guidelines="# Guidelines\nPick one.",
        ranking_size=2,
        overlap_target=labelers,
    )
    for _ in range(items):
        item_create(project)
    names = [f"faultlabeler{n}" for n in range(labelers)]
    for name in names:
        user_create(
            username=name, password=PASSWORD, role="labeler", consent=True,
            age_range="30-44", region="EU",
        )  # fmt: skip
    print(json.dumps({"project": project.pk, "labelers": names}))


PASSWORD = "fault-test-pass"  # test-only

if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
