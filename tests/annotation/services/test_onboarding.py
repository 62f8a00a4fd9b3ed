"""Recruitment links, consent and the questionnaire (issue 12, part 1): services and the
selectors that decide a labeler's next onboarding step."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotation.models import (
    AttributeDefinition,
    AuditAction,
    Item,
    LabelerAuditEvent,
    LabelerProfile,
    PlatformIdentity,
)
from annotation.selectors.labelers import group_members, labeler_group_ids
from annotation.selectors.onboarding import CONSENT, QUESTIONNAIRE, onboarding_step
from annotation.services.attributes import attribute_definition_save, labeler_attributes_answer
from annotation.services.consent import consent_give, consent_version_create, consent_withdraw
from annotation.services.judgments import judgment_submit
from annotation.services.labelers import labeler_deactivate, labeler_group_create
from annotation.services.queue import reservation_next
from annotation.services.recruitment import (
    recruitment_arrive,
    recruitment_finish,
    recruitment_link_create,
    recruitment_link_deactivate,
    recruitment_signup,
)
from tests.conftest import PASSWORD
from tests.factories import item_create

pytestmark = pytest.mark.django_db


def _prolific(project, admin_user, **options):  # noqa: ANN001, ANN003, ANN202
    return recruitment_link_create(
        name="Pilot", kind="prolific", project_ids=[project.pk], created_by=admin_user, **options
    )


def _judge(labeler, project):  # noqa: ANN001, ANN202
    reservation = reservation_next(labeler=labeler, project=project)
    item = Item.objects.select_related("project").get(pk=reservation.item_id)
    return judgment_submit(labeler=labeler, item=item, client_key=uuid.uuid4(), choice=1)


# --- Recruitment links -------------------------------------------------------------------


def test_prolific_link_defaults_its_parameters_and_validates_the_completion_url(
    project, admin_user
):
    link = _prolific(project, admin_user)
    assert (link.participant_parameter, link.study_parameter, link.session_parameter) == (
        "PROLIFIC_PID",
        "STUDY_ID",
        "SESSION_ID",
    )
    with pytest.raises(ValidationError) as exc:
        _prolific(project, admin_user, completion_url="http://app.prolific.com/done")
    assert "completion_url" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        recruitment_link_create(
            name="x", kind="study", project_ids=[project.pk], created_by=admin_user,
            participant_parameter="pid", study_parameter="pid",
        )  # fmt: skip
    assert "study_parameter" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        recruitment_link_create(name="x", kind="mturk", project_ids=[], created_by=admin_user)
    assert "projects" in exc.value.message_dict


def test_same_participant_resumes_the_same_account_and_joins_the_projects(project, admin_user):
    project.open_to_all_labelers = False
    project.save()
    link = _prolific(project, admin_user)
    first = recruitment_arrive(link=link, participant_id="PID1", study_id="S", session_id="A")
    again = recruitment_arrive(link=link, participant_id="PID1", study_id="S", session_id="B")
    other = recruitment_arrive(link=link, participant_id="PID2", study_id="S", session_id="C")
    assert first.pk == again.pk and first.user == again.user != other.user
    assert again.session_id == "B"  # the latest session
    assert "PID1" not in first.user.username  # the platform id is not the username
    assert not first.user.has_usable_password()
    assert set(project.labelers.all()) == {first.user, other.user}
    assert PlatformIdentity.objects.get(participant_id="PID1").user == first.user
    assert (
        LabelerAuditEvent.objects.filter(
            labeler=first.user, action=AuditAction.LINK_ARRIVAL, link=link
        ).count()
        == 2
    )


def test_a_deactivated_participant_is_refused_at_the_link(project, admin_user):
    link = _prolific(project, admin_user)
    first = recruitment_arrive(link=link, participant_id="PID1", study_id="S", session_id="A")
    labeler_deactivate(user=first.user, by=admin_user)
    with pytest.raises(ValidationError) as exc:
        recruitment_arrive(link=link, participant_id="PID1", study_id="S", session_id="B")
    assert "deactivated" in exc.value.message_dict["link"][0]
    assert first.user.recruitment_arrivals.get().session_id == "A"  # nothing changed


def test_study_link_names_the_missing_or_bad_parameter(project, admin_user):
    link = _prolific(project, admin_user)
    with pytest.raises(ValidationError) as exc:
        recruitment_arrive(link=link, participant_id=" ", study_id="S", session_id="A")
    assert "PROLIFIC_PID" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        recruitment_arrive(link=link, participant_id="P", study_id="S" * 101, session_id="A")
    assert "STUDY_ID" in exc.value.message_dict


def test_closed_links_take_nobody_new_but_let_participants_come_back(project, admin_user):
    link = _prolific(project, admin_user, max_participants=1)
    recruitment_arrive(link=link, participant_id="P1", study_id="S", session_id="A")
    with pytest.raises(ValidationError, match="full"):
        recruitment_arrive(link=link, participant_id="P2", study_id="S", session_id="A")
    recruitment_arrive(link=link, participant_id="P1", study_id="S", session_id="B")  # returns
    expired = _prolific(project, admin_user, expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(ValidationError, match="expired"):
        recruitment_arrive(link=expired, participant_id="P3", study_id="S", session_id="A")
    recruitment_link_deactivate(link=link)
    with pytest.raises(ValidationError, match="no longer active") as exc:
        recruitment_arrive(link=link, participant_id="P4", study_id="S", session_id="A")
    assert "link" in exc.value.message_dict


def test_signup_names_username_and_password_problems(project, admin_user, labeler):
    link = recruitment_link_create(
        name="Invite", kind="signup", project_ids=[project.pk], created_by=admin_user
    )
    for username, password, field in [
        ("LARA", PASSWORD, "username"),  # taken (case-insensitively)
        ("new person", PASSWORD, "username"),  # not a valid username
        ("newbie", "short", "password"),
        ("newbie", "password123", "password"),  # too common
    ]:
        with pytest.raises(ValidationError) as exc:
            recruitment_signup(link=link, username=username, password=password)
        assert field in exc.value.message_dict, (username, password)
    arrival = recruitment_signup(link=link, username="newbie", password=PASSWORD)
    assert arrival.user.check_password(PASSWORD)
    assert arrival.user.groups.filter(name="labeler").exists()
    assert project.labelers.filter(pk=arrival.user.pk).exists()
    with pytest.raises(ValidationError) as exc:
        recruitment_arrive(link=link, participant_id="P")
    assert "link" in exc.value.message_dict


def test_finish_by_quota_or_when_nothing_is_left(project, admin_user):
    item_create(project)
    item_create(project)
    quota = _prolific(project, admin_user, quota_items=1, completion_code="C0DE")
    arrival = recruitment_arrive(link=quota, participant_id="P1", study_id="S", session_id="A")
    assert recruitment_finish(arrival=arrival) is False  # an item is waiting (now reserved)
    _judge(arrival.user, project)
    assert recruitment_finish(arrival=arrival) is True
    assert arrival.finished_at is not None

    open_ended = _prolific(project, admin_user)
    arrival = recruitment_arrive(link=open_ended, participant_id="P2", study_id="S", session_id="A")
    _judge(arrival.user, project)
    assert recruitment_finish(arrival=arrival) is False
    _judge(arrival.user, project)
    assert recruitment_finish(arrival=arrival) is True  # both items judged: nothing left


# --- Consent and the questionnaire --------------------------------------------------------


def test_consent_versions_and_the_onboarding_steps(admin_user, labeler):
    assert onboarding_step(labeler) is None  # no consent text: onboarding is off
    v1 = consent_version_create(text="We store your answers.", created_by=admin_user)
    with pytest.raises(ValidationError) as exc:
        consent_version_create(text="We store your answers.\r\n", created_by=admin_user)
    assert "text" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        consent_version_create(text="  ", created_by=admin_user)
    assert "text" in exc.value.message_dict
    assert onboarding_step(labeler) == CONSENT
    consent_give(user=labeler, version=v1.version)
    assert onboarding_step(labeler) == QUESTIONNAIRE
    labeler_attributes_answer(user=labeler, answers={"age_range": "30-44"})
    assert onboarding_step(labeler) is None
    v2 = consent_version_create(text="We store your answers for a year.", created_by=admin_user)
    assert onboarding_step(labeler) == CONSENT  # a new version asks again
    with pytest.raises(ValidationError) as exc:
        consent_give(user=labeler, version=v1.version)  # read before the change
    assert "version" in exc.value.message_dict
    consent_give(user=labeler, version=v2.version)
    assert onboarding_step(labeler) is None
    history = list(
        LabelerAuditEvent.objects.filter(labeler=labeler).values_list("action", "consent_version")
    )
    assert history[::-1] == [
        ("consent_given", 1),
        ("attributes_changed", None),
        ("consent_given", 2),
    ]


def test_answers_validate_against_the_questions_and_audit_names_not_values(admin_user, labeler):
    consent_give(
        user=labeler,
        version=consent_version_create(text="Consent.", created_by=admin_user).version,
    )
    attribute_definition_save(name="hometown", question="Where do you live?", options=[])
    for answers, field in [
        ({"age_range": "ancient"}, "age_range"),
        ({"hometown": "x" * 101}, "hometown"),
        ({"no_such": "x"}, "no_such"),
    ]:
        with pytest.raises(ValidationError) as exc:
            labeler_attributes_answer(user=labeler, answers=answers)
        assert field in exc.value.message_dict
    profile = labeler_attributes_answer(
        user=labeler, answers={"age_range": "30-44", "region": None, "hometown": " Lyon "}
    )
    assert profile.attributes == {"age_range": "30-44", "hometown": "Lyon"}  # region: not said
    event = LabelerAuditEvent.objects.filter(action=AuditAction.ATTRIBUTES_CHANGED).get()
    assert event.names == ["age_range", "hometown", "region"]
    assert "Lyon" not in str(event.names) and "30-44" not in str(event.names)


def test_answers_need_consent(labeler, other_labeler):
    LabelerProfile.objects.filter(user=labeler).update(consent_given_at=None, attributes={})
    with pytest.raises(ValidationError) as exc:
        labeler_attributes_answer(user=labeler, answers={"age_range": "18-29"})
    assert "consent" in exc.value.message_dict


def test_definition_name_is_fixed_and_options_validated():
    definition = attribute_definition_save(
        name="diet", question="Your diet?", options=["vegan", "other"]
    )
    with pytest.raises(ValidationError) as exc:
        attribute_definition_save(definition=definition, name="food")
    assert "name" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        attribute_definition_save(definition=definition, options=["a", "a"])
    assert "options" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        attribute_definition_save(name="Bad Name", question="?")
    assert "name" in exc.value.message_dict


# --- Withdrawal ---------------------------------------------------------------------------


def test_withdrawal_clears_attributes_and_rule_groups_but_keeps_work_and_explicit_groups(
    project, labeler, other_labeler, admin_user
):
    version = consent_version_create(text="Consent.", created_by=admin_user)
    consent_give(user=labeler, version=version.version)
    young = labeler_group_create(name="young", rules={"age_range": ["18-29"]})
    eu = labeler_group_create(name="eu", rules={"region": ["EU"]}, member_ids=[labeler.pk])
    panel = labeler_group_create(name="panel", member_ids=[labeler.pk])
    item_create(project)
    item_create(project)
    judgment = _judge(labeler, project).judgment
    assert judgment.labeler_group_ids == sorted([young.pk, eu.pk, panel.pk])
    assert group_members(young) == [labeler.pk]

    profile = consent_withdraw(user=labeler)
    assert profile.attributes == {} and profile.consent_given_at is None
    judgment.refresh_from_db()
    assert judgment.labeler_group_ids == sorted([eu.pk, panel.pk])  # explicit memberships stay
    assert group_members(young) == []
    assert labeler_group_ids(labeler.pk) == sorted([eu.pk, panel.pk])
    event = LabelerAuditEvent.objects.get(action=AuditAction.CONSENT_WITHDRAWN)
    assert event.names == ["age_range", "region"] and event.labeler == labeler
    assert event.consent_version == version.version
    assert judgment.pk in set(project.items.values_list("judgments", flat=True))  # work stays
    assert onboarding_step(labeler) is None  # not asked again for the same version
    with pytest.raises(ValidationError) as exc:
        consent_withdraw(user=labeler)
    assert "consent" in exc.value.message_dict
    assert AttributeDefinition.objects.filter(name="age_range").exists()
