"""The workbench form parses numbers with a strict ASCII pattern (issue 10, item 3): '²' is a
digit to str.isdigit() but not to int(), which made `choice=²`, `rank_²`, `rating_1_²` and
`flag_²` 500s. Now each is a 422 naming the field, and nothing is stored."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import Judgment
from annotation.services.projects import criterion_create
from annotation.services.queue import reservation_next
from annotation.views.label import parse_int
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db

KEY = "4b0a8a9e-58a4-4a8e-9a55-3f2f7b7e5e11"


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"choice": "²"}, "choice"),
        ({"choice": "٣"}, "choice"),  # an Arabic-Indic 3: int() takes it, the form must not
        ({"rank_²": "1", "rank_1": "1"}, "ranks"),
        ({"rank_1": "²", "rank_2": "1"}, "ranks"),
        ({"rating_1_²": "3"}, "ratings"),
        ({"rating_²_1": "3"}, "ratings"),
        ({"flag_²": "harmful"}, "flags"),
        ({"guideline_version": "1_0"}, "guideline_version"),
    ],
)
def test_non_ascii_numbers_are_a_422_naming_the_field(as_persona, researcher, labeler, fields, field):  # fmt: skip
    kind = "pairwise" if "choice" in fields else "ranking"
    project = ProjectFactory(created_by=researcher, kind=kind, ranking_size=2)
    criterion_create(project=project, name="Honesty", scale_min=1, scale_max=5)
    item = item_create(project)
    reservation_next(labeler=labeler, project=project)
    response = as_persona("labeler").post(
        reverse("annotation:label_submit", args=[project.pk, item.pk]),
        {"client_key": KEY, **fields},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert f'data-field="{field}"' in response.content.decode()
    assert not Judgment.objects.exists()


def test_parse_int_takes_ascii_integers_only():
    assert parse_int("42") == 42 and parse_int("-3") == -3
    for bad in ("²", "٣", "1_0", " 1", "1 ", "+1", "", "1.0", "0x1", "1" * 40):
        assert parse_int(bad) is None, bad
