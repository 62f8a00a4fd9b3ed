"""Onboarding and recruitment pages: access per persona for every view, bad input named in a
4xx, GETs that write nothing, and what each role may (never) see."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from annotation.models import (
    AttributeDefinition,
    LabelerAuditEvent,
    LabelerProfile,
    RecruitmentArrival,
    RecruitmentLink,
)
from annotation.services.consent import consent_give, consent_version_create
from annotation.services.recruitment import recruitment_arrive, recruitment_link_create
from tests.access import ADMIN_PAGE, LABELER_PAGE, PERSONAS, staff_answer
from tests.factories import item_create

pytestmark = pytest.mark.django_db

ADMIN_POST = {**staff_answer(ADMIN_PAGE, 302), "researcher": 404}  # admins are redirected onward
LABELER_POST = {**LABELER_PAGE, "labeler": 302, "other_labeler": 302}
PUBLIC = dict.fromkeys(PERSONAS, 200)
SECRET_PID = "PIDSECRET42"


@pytest.fixture
def link(project, admin_user):
    return recruitment_link_create(
        name="Pilot", kind="prolific", project_ids=[project.pk], created_by=admin_user,
        completion_code="C0MPLETE",
    )  # fmt: skip


@pytest.fixture
def arrival(link, labeler):
    """lara came through the link (a study arrival attached to her account)."""
    return RecruitmentArrival.objects.create(link=link, user=labeler, study_id="S1")


@pytest.fixture
def consent(admin_user):
    return consent_version_create(text="# Consent\nWe store your answers.", created_by=admin_user)


# --- Access matrices ----------------------------------------------------------------------


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    "name", ["recruitment_links", "recruitment_consent", "recruitment_attributes"]
)
def test_admin_pages(as_persona, persona, name):
    response = as_persona(persona).get(reverse(f"annotation:{name}"))
    assert response.status_code == ADMIN_PAGE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_admin_attribute_edit_page(as_persona, persona):
    definition = AttributeDefinition.objects.get(name="age_range")
    url = reverse("annotation:recruitment_attribute_edit", args=[definition.pk])
    assert as_persona(persona).get(url).status_code == ADMIN_PAGE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_admin_labeler_audit_page(as_persona, persona, labeler, link):
    recruitment_arrive(link=link, participant_id=SECRET_PID, study_id="S", session_id="X")
    participant = RecruitmentArrival.objects.get(study_id="S").user
    response = as_persona(persona).get(
        reverse("annotation:recruitment_labeler", args=[participant.pk])
    )
    assert response.status_code == ADMIN_PAGE[persona]
    if response.status_code == 200:
        assert SECRET_PID in response.content.decode()  # admins only
        assert "Arrived through a recruitment link" in response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_admin_posts(as_persona, persona, link):
    client = as_persona(persona)
    deactivate = reverse("annotation:recruitment_link_deactivate", args=[link.pk])
    assert client.post(deactivate).status_code == ADMIN_POST[persona]
    link.refresh_from_db()
    assert link.active is (ADMIN_POST[persona] != 302 or persona == "anonymous")
    definition = AttributeDefinition.objects.get(name="education")
    delete = reverse("annotation:recruitment_attribute_delete", args=[definition.pk])
    assert client.post(delete).status_code == ADMIN_POST[persona]
    create = {"name": "New", "kind": "mturk", "projects": [link.projects.get().pk]}
    assert (
        client.post(reverse("annotation:recruitment_links"), create).status_code
        == (ADMIN_POST[persona])
    )
    consent = {"text": "Consent text"}
    assert (
        client.post(reverse("annotation:recruitment_consent"), consent).status_code
        == (ADMIN_POST[persona])
    )


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    "name", ["onboarding_me", "onboarding_questionnaire", "onboarding_consent"]
)
def test_labeler_pages(as_persona, persona, name, consent):
    response = as_persona(persona).get(reverse(f"annotation:{name}"))
    assert response.status_code == LABELER_PAGE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_withdraw(as_persona, persona):
    response = as_persona(persona).post(reverse("annotation:onboarding_withdraw"))
    assert response.status_code == LABELER_POST[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_study_footer(as_persona, persona, project, arrival):
    url = reverse("annotation:onboarding_finish_status", args=[project.pk])
    expected = {**LABELER_PAGE, "other_labeler": 204}  # no arrival: nothing to show
    response = as_persona(persona).get(url, {"state": "done"})
    assert response.status_code == expected[persona]
    if response.status_code == 200:
        assert (
            reverse("annotation:onboarding_finish", args=[arrival.pk]) in response.content.decode()
        )
        # still working, no quota: nothing to show yet
        assert as_persona(persona).get(url, {"state": "item"}).status_code == 204


@pytest.mark.parametrize("persona", PERSONAS)
def test_finish_and_finished(as_persona, persona, arrival):
    client = as_persona(persona)
    finish = reverse("annotation:onboarding_finish", args=[arrival.pk])
    expected = {**LABELER_POST, "other_labeler": 404}  # someone else's arrival
    assert client.post(finish).status_code == expected[persona]
    finished = reverse("annotation:onboarding_finished", args=[arrival.pk])
    response = client.get(finished)
    assert response.status_code == {**LABELER_PAGE, "other_labeler": 404}[persona]
    if response.status_code == 200:
        assert "C0MPLETE" in response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_join_landing_is_public_and_writes_nothing(as_persona, persona, link):
    client = as_persona(persona)
    users = get_user_model().objects.count()
    url = reverse("annotation:onboarding_join", args=[link.token])
    response = client.get(url, {"PROLIFIC_PID": "P1", "STUDY_ID": "S", "SESSION_ID": "X"})
    assert response.status_code == PUBLIC[persona]
    assert get_user_model().objects.count() == users
    assert RecruitmentArrival.objects.count() == 0


# --- Flows and bad input ------------------------------------------------------------------


def test_study_link_flow_consent_questionnaire_then_work(client, project, link, consent):
    item_create(project)
    url = reverse("annotation:onboarding_join", args=[link.token])
    ids = {"PROLIFIC_PID": SECRET_PID, "STUDY_ID": "S1", "SESSION_ID": "X1"}
    landing = client.get(url, ids).content.decode()
    assert f'value="{SECRET_PID}"' in landing  # carried into the Start form
    response = client.post(url, ids)
    workbench = reverse("annotation:label_workbench", args=[project.pk])
    assert response.status_code == 302 and response["Location"] == workbench
    response = client.get(workbench)
    assert response.status_code == 302 and "/onboarding/consent/" in response["Location"]
    response = client.post(
        reverse("annotation:onboarding_consent"), {"version": consent.version, "next": workbench}
    )
    assert "/onboarding/questionnaire/" in response["Location"]
    response = client.post(
        response["Location"], {"attr_age_range": "30-44", "attr_region": "", "next": workbench}
    )
    assert response.status_code == 302 and response["Location"] == workbench
    assert client.get(workbench).status_code == 200
    profile = LabelerProfile.objects.get(user__platform_identities__participant_id=SECRET_PID)
    assert profile.attributes == {"age_range": "30-44"}
    assert profile.consent_version == consent.version
    # the same participant, back later: the same account, no new questions
    client.logout()
    client.post(url, ids)
    assert client.get(workbench).status_code == 200


def test_htmx_workbench_gate_redirects_the_whole_page(as_persona, project, consent):
    item_create(project)
    response = as_persona("labeler").get(
        reverse("annotation:label_workbench", args=[project.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200 and "/onboarding/consent/" in response["HX-Redirect"]


def test_bad_input_is_named(client, as_persona, link, project, admin_user, consent):
    url = reverse("annotation:onboarding_join", args=[link.token])
    response = client.get(url, {"STUDY_ID": "S"})
    assert response.status_code == 400 and "PROLIFIC_PID" in response.content.decode()
    response = client.post(url, {"PROLIFIC_PID": "P", "STUDY_ID": "S" * 200, "SESSION_ID": "X"})
    assert response.status_code == 400 and "STUDY_ID" in response.content.decode()
    signup = recruitment_link_create(
        name="Invite", kind="signup", project_ids=[project.pk], created_by=admin_user
    )
    response = client.post(
        reverse("annotation:onboarding_join", args=[signup.token]),
        {"username": "newbie", "password": "short", "password_again": "short"},
    )
    assert response.status_code == 400 and "at least" in response.content.decode()
    assert not get_user_model().objects.filter(username="newbie").exists()

    lara = as_persona("labeler")
    response = lara.post(reverse("annotation:onboarding_consent"), {"version": "99"})
    assert response.status_code == 409 and "version" in response.content.decode()
    consent_give(user=LabelerProfile.objects.get(user__username="lara").user, version=1)
    response = lara.post(
        reverse("annotation:onboarding_questionnaire"), {"attr_age_range": "ancient"}
    )
    assert response.status_code == 422 and "age_range" in response.content.decode()

    ada = as_persona("admin_user")
    response = ada.post(
        reverse("annotation:recruitment_links"),
        {"name": "x", "kind": "prolific", "projects": [project.pk],
         "completion_url": "http://insecure.example/done"},
    )  # fmt: skip
    assert response.status_code == 400 and "https" in response.content.decode()
    response = ada.post(reverse("annotation:recruitment_links"), {"name": "x", "kind": "prolific"})
    assert response.status_code == 400 and "projects" in response.content.decode()
    response = ada.post(
        reverse("annotation:recruitment_attributes"),
        {"name": "diet", "question": "Diet?", "options": "a\na", "order": 1, "asked": "on"},
    )
    assert response.status_code == 400 and "different" in response.content.decode()
    response = ada.post(reverse("annotation:recruitment_consent"), {"text": consent.text})
    assert response.status_code == 400 and "Unchanged" in response.content.decode()


def test_inactive_link_answers_gone(client, link):
    RecruitmentLink.objects.filter(pk=link.pk).update(active=False)
    url = reverse("annotation:onboarding_join", args=[link.token])
    assert client.get(url, {"PROLIFIC_PID": "P"}).status_code == 410
    assert client.get(reverse("annotation:onboarding_join", args=["nope"])).status_code == 404


def test_my_information_shows_only_my_own_data(as_persona, consent, other_labeler):
    page = as_persona("labeler").get(reverse("annotation:onboarding_me")).content.decode()
    assert "18-29" in page and "EU" in page
    assert "60+" not in page and "US" not in page and "omar" not in page


def test_withdraw_from_my_information(as_persona, labeler):
    client = as_persona("labeler")
    response = client.post(reverse("annotation:onboarding_withdraw"))
    assert response.status_code == 302
    page = client.get(reverse("annotation:onboarding_me")).content.decode()
    assert "No answers are stored" in page and "withdrew" in page
    assert LabelerProfile.objects.get(user=labeler).attributes == {}
    response = client.post(reverse("annotation:onboarding_withdraw"))
    assert response.status_code == 409 and "consent" in response.content.decode()
    assert LabelerAuditEvent.objects.filter(labeler=labeler).count() == 1


def test_researchers_never_see_platform_ids_or_attributes(as_persona, project, link):
    recruitment_arrive(link=link, participant_id=SECRET_PID, study_id="S", session_id="X")
    rita = as_persona("researcher")
    for url in [
        reverse("annotation:project_detail", args=[project.pk]),
        reverse("annotation:project_list"),
        reverse("annotation:recruitment_links"),
    ]:
        response = rita.get(url)
        assert SECRET_PID not in response.content.decode()
        assert "18-29" not in response.content.decode()


def test_links_page_shows_the_full_address_to_copy(as_persona, link):
    page = as_persona("admin_user").get(reverse("annotation:recruitment_links")).content.decode()
    expected = (
        f"http://testserver/join/{link.token}/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}"
        "&amp;STUDY_ID={{%STUDY_ID%}}&amp;SESSION_ID={{%SESSION_ID%}}"
    )
    assert expected in page


def test_custom_and_mturk_parameter_names(client, project, admin_user):
    custom = recruitment_link_create(
        name="Panel", kind="study", project_ids=[project.pk], created_by=admin_user,
        participant_parameter="uid", study_parameter="", session_parameter="",
    )  # fmt: skip
    url = reverse("annotation:onboarding_join", args=[custom.token])
    assert client.get(url, {"PROLIFIC_PID": "x"}).status_code == 400  # not this link's name
    assert 'name="uid" value="abc"' in client.get(url, {"uid": "abc"}).content.decode()
    assert client.post(url, {"uid": "abc"}).status_code == 302
    mturk = recruitment_link_create(
        name="HIT", kind="mturk", project_ids=[project.pk], created_by=admin_user
    )
    assert (mturk.participant_parameter, mturk.study_parameter, mturk.session_parameter) == (
        "workerId",
        "hitId",
        "assignmentId",
    )
    ids = {"workerId": "abc", "hitId": "H1", "assignmentId": "A1"}
    url = reverse("annotation:onboarding_join", args=[mturk.token])
    assert client.post(url, ids).status_code == 302
    # the same id on another platform is another person
    assert get_user_model().objects.filter(platform_identities__participant_id="abc").count() == 2
    arrival = RecruitmentArrival.objects.get(link=mturk)
    assert (arrival.study_id, arrival.session_id) == ("H1", "A1")
