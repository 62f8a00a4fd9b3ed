"""docs/importing.md's two worked examples, run as documented: the example files under
docs/examples/ imported through the API with the documented mappings, giving the counts and
figures the page states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotation.models import LabelerProfile
from annotation.selectors.reports import report_payload
from annotation.services.attributes import attribute_definition_save
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db
DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLES = DOCS / "examples"


def rule_group(admin, name: str, attribute: str, value: str) -> None:
    """As documented: an admin posts the group to the API (its rule must name a defined
    attribute)."""
    response = admin.post(
        "/api/groups/",
        {"name": name, "rules": {attribute: [value]}},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content


def upload(client, project, name: str, **extra):
    with open(EXAMPLES / name, "rb") as file:
        data = {"format": "annotators", "file": file, **extra}
        if "annotators_file" in extra:
            with open(EXAMPLES / extra["annotators_file"], "rb") as people:
                data["annotators_file"] = people
                return client.post(f"/api/projects/{project.pk}/imports/", data)
        return client.post(f"/api/projects/{project.pk}/imports/", data)


def test_the_rating_example(as_persona, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 5
    admin = as_persona("admin_user")
    rule_group(admin, "Women", "gender", "Woman")  # 'gender' is in the starting questionnaire
    rule_group(admin, "Men", "gender", "Man")
    project = ProjectFactory(kind="rating")
    response = upload(as_persona("researcher"), project, "dices-mini.csv")
    assert response.status_code == 201, response.content
    assert (response.json()["items_created"], response.json()["judgments_created"]) == (4, 39)
    profile = LabelerProfile.objects.get(external_project=project, external_id="r04")
    assert profile.attributes == {
        "gender": "Woman",
        "age": "gen z",
        "race": "LatinX, Latino, Hispanic or Spanish Origin",
        "education": "Other",
    }
    report, _ = report_payload(project)
    crit = report["criteria"][0]
    figures = {
        name: (round(block["alpha_nominal"], 3), round(block["positive_rate"], 3))
        for name, block in {"All": crit["all"], **crit["groups"]}.items()
    }
    assert figures == DOC_RATING


def test_the_pairwise_example(as_persona, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 5
    admin = as_persona("admin_user")
    # step 1: the admin adds the dataset's attribute (Recruitment → Questionnaire, not asked)
    attribute_definition_save(name="country", question="Country", asked=False)
    rule_group(admin, "US", "country", "US")
    rule_group(admin, "IN", "country", "IN")
    project = ProjectFactory(kind="pairwise")
    mapping = json.dumps({"item_id": "question_id", "choice": "winner", "dataset": "mini-prefs"})
    response = upload(
        as_persona("researcher"),
        project,
        "preferences-mini.jsonl",
        mapping=mapping,
        annotators_file="annotators-mini.csv",
    )
    assert response.status_code == 201, response.content
    assert (response.json()["items_created"], response.json()["judgments_created"]) == (3, 30)
    assert LabelerProfile.objects.get(external_project=project, external_id="w9").attributes == {
        "country": "IN"
    }
    report, _ = report_payload(project)
    nominal = {
        name: round(block["nominal"]["value"], 3)
        for name, block in {
            "All": report["agreement"]["all"],
            **report["agreement"]["groups"],
        }.items()
    }
    assert nominal == DOC_PAIRWISE


# The figures docs/importing.md states (alpha nominal, share of "Yes"), to 3 decimals; the
# computation itself is checked against an independent one in
# tests/annotation/services/test_annotator_imports.py.
DOC_RATING = {"All": (0.243, 0.436), "Men": (0.156, 0.211), "Women": (0.657, 0.65)}
DOC_PAIRWISE = {"All": -0.061, "IN": -0.105, "US": -0.105}
