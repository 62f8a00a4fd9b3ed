"""An admin builds a rule group, sees its size and the below-minimum warning live, opens a
project only to that group; a labeler outside it gets 404 on the project (headless Chromium)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotation.services.labelers import user_create
from tests.conftest import PASSWORD
from tests.factories import item_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_admin_creates_a_rule_group_and_restricts_a_project(
    page_as, live_server, admin_user, labeler, other_labeler, project, settings
):
    from annotation.models import LabelerGroup
    from tests.browser.conftest import screenshot

    settings.CHORUS_MIN_GROUP_SIZE = 3
    for n in (10, 2):
        user_create(
            username=f"labeler{n}", password=PASSWORD, role="labeler", consent=True,
            age_range="18-29", region="EU",
        )  # fmt: skip
    item_create(project)
    admin = page_as(admin_user)
    admin.goto(f"{live_server.url}/labelers/")
    names = admin.locator("#labeler-table tbody .who a").all_inner_texts()
    assert names == ["labeler2", "labeler10", "lara", "omar"]  # natural sort
    screenshot(admin, "manage-labeler-list")

    admin.get_by_role("link", name="New group").click()
    admin.get_by_label("Name", exact=True).fill("Young EU")
    size, preview = admin.locator("#preview .n"), admin.locator("#preview")
    expect(size).to_have_text("0")
    expect(preview).to_contain_text("Below the minimum of 3")
    admin.get_by_label("18-29").check()  # lara, labeler2, labeler10
    expect(size).to_have_text("3")
    expect(preview).not_to_contain_text("Below the minimum")
    admin.locator("input[name=rule__region]").fill("US")  # omar is in the US, but 60+
    expect(size).to_have_text("0")
    expect(preview).to_contain_text("Below the minimum of 3")
    expect(preview).to_contain_text("Researchers will not see this group")
    screenshot(admin, "manage-group-below-minimum")
    admin.locator("input[name=rule__region]").fill("EU")
    expect(size).to_have_text("3")
    screenshot(admin, "manage-group-preview")
    admin.get_by_role("button", name="Create group").click()
    group = LabelerGroup.objects.get(name="Young EU")
    admin.wait_for_url(f"{live_server.url}/groups/{group.pk}/")
    assert sorted(group.rules.values_list("attribute", "value")) == [
        ("age_range", "18-29"), ("region", "EU"),
    ]  # fmt: skip

    admin.goto(f"{live_server.url}/projects/{project.pk}/")
    admin.get_by_label("Only the groups and labelers below").check()
    admin.locator("#access").get_by_label("Young EU").check()
    admin.get_by_role("button", name="Save access").click()
    admin.locator("#access").get_by_text("Restricted").wait_for()
    screenshot(admin, "manage-project-access")
    project.refresh_from_db()
    assert not project.open_to_all_labelers
    assert list(project.labeler_groups.all()) == [group]

    outside = page_as(other_labeler)
    response = outside.goto(f"{live_server.url}/label/{project.pk}/")
    assert response.status == 404
    outside.goto(f"{live_server.url}/label/")
    assert project.name not in outside.content()
    inside = page_as(labeler)
    assert inside.goto(f"{live_server.url}/label/{project.pk}/").status == 200

    admin.goto(f"{live_server.url}/labelers/{other_labeler.pk}/")
    admin.get_by_text("Deactivate…").click()
    admin.get_by_role("button", name="Deactivate omar").click()
    admin.get_by_text("is deactivated").first.wait_for()
    screenshot(admin, "manage-labeler-detail")
