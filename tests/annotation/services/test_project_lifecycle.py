"""Project lifecycle: edit (settings, quotas, versioned rubric), archive, clone, delete."""

import uuid

import pytest
from django.core.exceptions import ValidationError

from annotation.models import Criterion, CriterionRating, GroupQuota, Item, Judgment, Project
from annotation.selectors.projects import project_list_for_user
from annotation.services.judgments import Rating, judgment_submit
from annotation.services.labelers import labeler_group_create
from annotation.services.projects import (
    project_archive,
    project_clone,
    project_delete,
    project_update,
    rubric_update,
)
from annotation.services.queue import reservation_next
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db

HELPFUL = {"name": "Helpful", "description": "Does it help?", "scale_min": 1, "scale_max": 7}


def _judge(labeler, project, ratings=()):
    reservation = reservation_next(labeler=labeler, project=project)
    item = Item.objects.select_related("project").get(pk=reservation.item_id)
    return judgment_submit(
        labeler=labeler, item=item, client_key=uuid.uuid4(), choice=2,
        ratings=[Rating(c.pk, 1, v) for c, v in ratings],
    )  # fmt: skip


def test_update_changes_settings_and_names_bad_fields(researcher):
    project = ProjectFactory(created_by=researcher)
    project_update(project=project, name="Renamed", overlap_target=5, rationale_required=True)
    project.refresh_from_db()
    assert (project.name, project.overlap_target, project.rationale_required) == (
        "Renamed", 5, True,
    )  # fmt: skip
    with pytest.raises(ValidationError) as exc:
        project_update(project=project, overlap_target=0)
    assert "overlap_target" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        project_update(project=project, kind="ranking")
    assert "kind" in exc.value.message_dict
    project.refresh_from_db()
    assert project.overlap_target == 5


def test_quotas_replace_and_must_fit_the_overlap(researcher):
    project = ProjectFactory(created_by=researcher, overlap_target=3)
    young = labeler_group_create(name="Young", rules={"age_range": ["18-29"]})
    old = labeler_group_create(name="Old", rules={"age_range": ["60+"]})
    project_update(project=project, quotas={young.pk: 1, old.pk: 2})
    assert dict(project.quotas.values_list("group__name", "min_per_item")) == {"Young": 1, "Old": 2}
    project_update(project=project, quotas={young.pk: 2, old.pk: 0})
    assert dict(project.quotas.values_list("group__name", "min_per_item")) == {"Young": 2}
    with pytest.raises(ValidationError) as exc:
        project_update(project=project, overlap_target=1)
    assert "overlap_target" in exc.value.message_dict
    assert Project.objects.get(pk=project.pk).overlap_target == 3  # rolled back
    with pytest.raises(ValidationError) as exc:
        project_update(project=project, quotas={999999: 1})
    assert "quotas" in exc.value.message_dict


def test_lowering_overlap_keeps_judgments_and_stops_handing_out(researcher, labeler, other_labeler):
    project = ProjectFactory(created_by=researcher, overlap_target=2)
    item_create(project)
    _judge(labeler, project)
    _judge(other_labeler, project)
    project_update(project=project, overlap_target=1)
    assert Judgment.objects.filter(item__project=project).count() == 2
    assert Item.objects.get(project=project).human_judgment_count == 2


def test_rubric_edit_versions_and_keeps_old_ratings(researcher, labeler):
    project = ProjectFactory(created_by=researcher, criteria=[HELPFUL, {"name": "Honest"}])
    item_create(project)
    helpful = project.criteria.get(name="Helpful")
    _judge(labeler, project, ratings=[(helpful, 6)])
    # Same rubric, reordered: no new version.
    assert not rubric_update(project=project, criteria=[{"name": "Honest"}, HELPFUL])
    assert Project.objects.get(pk=project.pk).rubric_version == 1
    # Helpful gets a 1..5 scale and Honest is dropped: version 2.
    assert rubric_update(project=project, criteria=[{**HELPFUL, "scale_max": 5}, {"name": "Safe"}])
    project.refresh_from_db()
    assert project.rubric_version == 2
    current = list(project.current_criteria().values_list("name", "scale_max", "added_in"))
    assert current == [("Helpful", 5, 2), ("Safe", 7, 2)]
    old = Criterion.objects.get(pk=helpful.pk)  # rated: retired, with its scale
    assert (old.retired_in, old.scale_max) == (2, 7)
    assert not Criterion.objects.filter(project=project, name="Honest").exists()  # unrated: gone
    rating = CriterionRating.objects.get()
    assert (rating.criterion_id, rating.value) == (helpful.pk, 6)
    with pytest.raises(ValidationError) as exc:
        rubric_update(project=project, criteria=[{"name": "X", "scale_min": 3, "scale_max": 1}])
    assert "criteria" in exc.value.message_dict
    assert project.current_criteria().count() == 2  # rolled back


def test_retired_criterion_is_refused_for_new_judgments(researcher, labeler):
    project = ProjectFactory(created_by=researcher, criteria=[HELPFUL])
    item_create(project)
    item_create(project)
    helpful = project.criteria.get()
    _judge(labeler, project, ratings=[(helpful, 6)])
    rubric_update(project=project, criteria=[{**HELPFUL, "description": "Sharper."}])
    with pytest.raises(ValidationError) as exc:
        _judge(labeler, project, ratings=[(helpful, 6)])
    assert "ratings" in exc.value.message_dict


def test_archive_hides_from_labelers_not_researchers(researcher, labeler):
    project = ProjectFactory(created_by=researcher)
    item_create(project)
    reservation_next(labeler=labeler, project=project)
    project_archive(project=project)
    assert project not in project_list_for_user(labeler)
    assert project in project_list_for_user(researcher)
    assert not project.items.get().reservations.exists()
    project_archive(project=project, archived=False)
    assert project in project_list_for_user(labeler)


def test_clone_copies_settings_not_data(researcher, labeler):
    group = labeler_group_create(name="Young", rules={"age_range": ["18-29"]})
    project = ProjectFactory(created_by=researcher, overlap_target=4, criteria=[HELPFUL])
    project_update(project=project, quotas={group.pk: 2})
    Project.objects.filter(pk=project.pk).update(
        open_to_all_labelers=False
    )  # access is its own service
    project.labelers.add(labeler)
    project.labeler_groups.add(group)
    item_create(project)
    clone = project_clone(project=project, name="Copy", created_by=researcher)
    assert (clone.kind, clone.overlap_target, clone.open_to_all_labelers) == ("pairwise", 4, False)
    assert clone.current_guidelines.text == project.current_guidelines.text
    assert list(clone.criteria.values_list("name", "scale_max")) == [("Helpful", 7)]
    assert list(GroupQuota.objects.filter(project=clone).values_list("min_per_item")) == [(2,)]
    assert list(clone.labelers.all()) == [labeler]
    assert list(clone.labeler_groups.all()) == [group]
    assert not clone.items.exists() and clone.pseudonym_salt != project.pseudonym_salt
    with pytest.raises(ValidationError) as exc:
        project_clone(project=project, name="Copy")
    assert "name" in exc.value.message_dict


def test_delete_needs_the_name(researcher, labeler):
    project = ProjectFactory(created_by=researcher, criteria=[HELPFUL])
    item_create(project)
    _judge(labeler, project, ratings=[(project.criteria.get(), 3)])
    with pytest.raises(ValidationError) as exc:
        project_delete(project=project, confirm_name="nope")
    assert "confirm_name" in exc.value.message_dict
    project_delete(project=project, confirm_name=project.name)
    assert not Project.objects.filter(pk=project.pk).exists()
    assert not Judgment.objects.exists()
