"""Access per role for the labeler, group and project-access pages and endpoints (issue 12),
and the project access rule end to end: a labeler without access gets 404 on every labeler
page and endpoint of the project."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import LabelerGroup, Reservation
from annotation.services import queue
from annotation.services.access import project_access_update
from annotation.services.labelers import labeler_group_create
from tests.access import ADMIN_API, ADMIN_PAGE, PERSONAS, RESEARCH_API, RESEARCH_POST
from tests.factories import item_create

pytestmark = pytest.mark.django_db

ADMIN_POST = {**ADMIN_PAGE, "admin_user": 302}  # an admin's form redirects onward


@pytest.fixture
def group(labeler):
    return labeler_group_create(name="Young", rules={"age_range": ["18-29"]})


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    "name, args",
    [
        ("labeler_list", []),
        ("labeler_page", ["labeler"]),
        ("group_create", []),
        ("group_edit", ["group"]),
        ("group_preview", []),
    ],
)
def test_admin_pages(as_persona, persona, name, args, request, group):
    url = reverse(f"annotation:{name}", args=[request.getfixturevalue(a).pk for a in args])
    response = as_persona(persona).get(url, {"rule__age_range": "18-29"})
    assert response.status_code == ADMIN_PAGE[persona]
    if persona == "admin_user" and name != "group_preview":
        assert b"18-29" in response.content


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    "name, data",
    [
        ("labeler_deactivate", {}),
        ("labeler_reactivate", {}),
        ("group_member_add", {"labeler": "omar"}),
        ("group_member_remove", {}),
        ("group_edit", {"name": "Young", "priority": 5, "rule__age_range": "60+"}),
        ("group_create", {"name": "Seniors", "priority": 5, "rule__age_range": "60+"}),
        ("group_delete", {}),
    ],
)
def test_admin_posts(as_persona, persona, name, data, group, labeler, other_labeler):
    args = {
        "labeler_deactivate": [labeler.pk], "labeler_reactivate": [labeler.pk],
        "group_member_add": [group.pk], "group_member_remove": [group.pk, labeler.pk],
        "group_edit": [group.pk], "group_create": [], "group_delete": [group.pk],
    }[name]  # fmt: skip
    before = (LabelerGroup.objects.count(), list(group.rules.values_list("value", flat=True)))
    response = as_persona(persona).post(reverse(f"annotation:{name}", args=args), data)
    assert response.status_code == ADMIN_POST[persona]
    after = (LabelerGroup.objects.count(), list(group.rules.values_list("value", flat=True)))
    if persona != "admin_user":
        labeler.refresh_from_db()
        assert labeler.is_active and after == before  # nothing changed


def test_admin_post_effects(as_persona, group, labeler, other_labeler):
    admin = as_persona("admin_user")
    admin.post(reverse("annotation:labeler_deactivate", args=[labeler.pk]))
    labeler.refresh_from_db()
    assert not labeler.is_active and labeler.labeler_profile.deactivated_by.username == "ada"
    page = admin.get(reverse("annotation:labeler_page", args=[labeler.pk]))
    assert b"Deactivated" in page.content and b"by ada" in page.content
    admin.post(reverse("annotation:group_member_add", args=[group.pk]), {"labeler": "omar"})
    assert list(group.members.values_list("username", flat=True)) == ["omar"]
    edit = {"name": "Young", "priority": 7, "rule__age_range": ["18-29", "30-44"]}
    admin.post(reverse("annotation:group_edit", args=[group.pk]), edit)
    group.refresh_from_db()
    assert group.priority == 7
    assert sorted(group.rules.values_list("value", flat=True)) == ["18-29", "30-44"]
    bad = admin.post(reverse("annotation:group_create"), {"name": "Young", "priority": 1})
    assert bad.status_code == 422 and b"already exists" in bad.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_project_access_post(as_persona, persona, project, group, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 1
    url = reverse("annotation:project_access", args=[project.pk])
    response = as_persona(persona).post(url, {"mode": "chosen", "groups": [group.pk]})
    assert response.status_code == RESEARCH_POST[persona]
    project.refresh_from_db()
    changed = persona in ("researcher", "admin_user")
    assert project.open_to_all_labelers is not changed
    assert list(project.labeler_groups.all()) == ([group] if changed else [])


def test_project_page_shows_access_without_rules_to_researchers(as_persona, project, group):
    project_access_update(
        project=project, open_to_all=False, group_ids=[group.pk], for_admin=True
    )  # below the minimum size: hidden from researchers
    page = as_persona("researcher").get(reverse("annotation:project_detail", args=[project.pk]))
    assert b"1 hidden group" in page.content and b"Young" not in page.content
    assert b"18-29" not in page.content and b"lara" not in page.content
    page = as_persona("admin_user").get(reverse("annotation:project_detail", args=[project.pk]))
    assert b"Young" in page.content and b"hidden from researchers" in page.content


def test_researcher_cannot_post_a_hidden_group(as_persona, project, group):
    url = reverse("annotation:project_access", args=[project.pk])
    response = as_persona("researcher").post(url, {"mode": "chosen", "groups": [group.pk]})
    assert response.status_code == 422 and b"groups" in response.content
    assert project.labeler_groups.count() == 0


def _api(client, method, url, data=None):
    return getattr(client, method)(url, data, content_type="application/json")


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(
    "method, path, data, ok",
    [
        ("get", "/api/labelers/?status=all&group={group}", None, 200),
        ("post", "/api/labelers/{labeler}/deactivate/", None, 200),
        ("post", "/api/labelers/{labeler}/reactivate/", None, 200),
        ("get", "/api/groups/{group}/", None, 200),
        ("patch", "/api/groups/{group}/", {"priority": 3}, 200),
        ("delete", "/api/groups/{group}/", None, 204),
        ("post", "/api/groups/preview/", {"rules": {"age_range": ["18-29"]}}, 200),
    ],
)
def test_admin_api(as_persona, persona, method, path, data, ok, group, labeler):
    url = path.format(group=group.pk, labeler=labeler.pk)
    response = _api(as_persona(persona), method, url, data)
    assert response.status_code == (ok if persona == "admin_user" else ADMIN_API[persona])


def test_admin_api_bodies(as_persona, group, labeler, other_labeler, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 2
    admin = as_persona("admin_user")
    listed = admin.get("/api/labelers/", {"group": group.pk}).json()
    assert listed["count"] == 1 and listed["results"][0]["username"] == "lara"
    bad = admin.get("/api/labelers/", {"status": "gone", "page_size": 0})
    assert bad.status_code == 400 and {"status", "page_size"} <= set(bad.json())
    preview = _api(admin, "post", "/api/groups/preview/", {"rules": {"age_range": ["18-29"]}})
    assert preview.json() == {
        "labelers": 1, "by_rules": 1, "minimum": 2, "hidden_from_researchers": True,
    }  # fmt: skip
    assert not LabelerGroup.objects.exclude(pk=group.pk).exists()  # the preview wrote nothing
    patched = _api(admin, "patch", f"/api/groups/{group.pk}/", {"member_ids": [other_labeler.pk]})
    assert patched.json()["labelers"] == 2 and patched.json()["member_ids"] == [other_labeler.pk]
    bad = _api(admin, "patch", f"/api/groups/{group.pk}/", {"rules": {"shoe_size": ["44"]}})
    assert bad.status_code == 400 and "rules" in bad.json()
    gone = _api(admin, "post", f"/api/labelers/{labeler.pk}/deactivate/").json()
    assert gone["active"] is False and gone["deactivated_at"]
    assert _api(admin, "post", f"/api/labelers/{admin_id(admin)}/deactivate/").status_code == 404


def admin_id(client):
    return client.get("/api/labelers/").wsgi_request.user.pk


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("method", ["get", "put"])
def test_project_access_api(as_persona, persona, method, project, group, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 1
    body = {"open_to_all": False, "group_ids": [group.pk]}
    response = _api(as_persona(persona), method, f"/api/projects/{project.pk}/access/", body)
    assert response.status_code == RESEARCH_API[persona]
    if persona == "researcher":
        assert "labeler_ids" not in response.json()
    if persona == "admin_user":
        assert "labeler_ids" in response.json()


def test_project_access_api_rules(as_persona, project, group, labeler):
    url = f"/api/projects/{project.pk}/access/"
    researcher = as_persona("researcher")
    hidden = _api(researcher, "put", url, {"open_to_all": False, "group_ids": [group.pk]})
    assert hidden.status_code == 400 and "group_ids" in hidden.json()
    chosen = {"open_to_all": False, "labeler_ids": [labeler.pk]}
    assert _api(researcher, "put", url, chosen).status_code == 403
    admin = _api(as_persona("admin_user"), "put", url, chosen)
    assert admin.status_code == 200 and admin.json()["labeler_ids"] == [labeler.pk]
    assert researcher.get(url).json() == {
        "open_to_all": False, "group_ids": [], "hidden_groups": 0, "labelers": 1,
    }  # fmt: skip


def test_a_labeler_without_access_gets_404_on_every_labeler_url(as_persona, project, labeler):
    item = item_create(project)
    outside = as_persona("other_labeler")
    queue.reservation_next(labeler=type(labeler).objects.get(username="omar"), project=project)
    project_access_update(
        project=project, open_to_all=False,
        group_ids=[labeler_group_create(name="Young", rules={"age_range": ["18-29"]}).pk],
        for_admin=True,
    )  # fmt: skip
    assert not Reservation.objects.filter(labeler__username="omar").exists()  # released
    pages = [
        ("get", reverse("annotation:label_workbench", args=[project.pk])),
        ("get", reverse("annotation:label_guidelines", args=[project.pk])),
        ("post", reverse("annotation:label_guidelines_read", args=[project.pk])),
        ("post", reverse("annotation:label_submit", args=[project.pk, item.pk])),
        ("post", reverse("annotation:label_skip", args=[project.pk, item.pk])),
        ("get", reverse("annotation:label_text", args=[project.pk, item.pk, "turn", 1])),
        ("get", f"/api/projects/{project.pk}/"),
        ("get", f"/api/label/projects/{project.pk}/next/"),
        ("post", f"/api/label/items/{item.pk}/judgments/"),
        ("post", f"/api/label/items/{item.pk}/skips/"),
    ]
    for method, url in pages:
        response = getattr(outside, method)(url)
        assert response.status_code == 404, (url, response.status_code)
    home = outside.get(reverse("annotation:labeler_home"))
    assert project.name.encode() not in home.content
    assert outside.get("/api/projects/").json() == []
    inside = as_persona("labeler")
    assert inside.get(reverse("annotation:label_workbench", args=[project.pk])).status_code == 200
    assert project.name.encode() in inside.get(reverse("annotation:labeler_home")).content


def test_project_page_warns_when_a_quota_group_has_no_access(as_persona, project, group, settings):
    from annotation.models import GroupQuota

    settings.CHORUS_MIN_GROUP_SIZE = 1
    GroupQuota.objects.create(project=project, group=group, min_per_item=1)
    url = reverse("annotation:project_detail", args=[project.pk])
    assert b"will wait for that quota" not in as_persona("researcher").get(url).content
    project_access_update(project=project, open_to_all=False, group_ids=[], for_admin=True)
    assert b"will wait for that quota" in as_persona("researcher").get(url).content
    project_access_update(project=project, open_to_all=False, group_ids=[group.pk], for_admin=True)
    assert b"will wait for that quota" not in as_persona("researcher").get(url).content
