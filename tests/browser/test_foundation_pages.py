"""The researcher's project pages and the admin's labeler list, in headless Chromium."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, username):  # noqa: ANN001
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_researcher_creates_project_imports_and_sees_located_error(
    page, shot, live_server, researcher, tmp_path
):
    from annotation.models import Item, Project

    sign_in(page, live_server, researcher.username)
    page.wait_for_url(f"{live_server.url}/")  # the home dashboard
    page.get_by_role("link", name="Projects", exact=True).click()
    page.wait_for_url(f"{live_server.url}/projects/")
    page.get_by_text("New project").click()
    page.get_by_label("Name").fill("Browser project")
    page.get_by_label("Guidelines").fill("# Be kind\nPrefer the harmless reply.")
    page.get_by_role("button", name="Create").click()
    project = Project.objects.get(name="Browser project")
    assert page.url.endswith(f"/projects/{project.pk}/")

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b"}\n')
    page.locator("#id_import-format").select_option("hh_rlhf")
    page.locator("#id_import-file").set_input_files(str(bad))
    page.get_by_role("button", name="Import").click()
    errors = page.locator("#id_import-file_error")  # Django's id for the file field's errors
    assert "line 1, field 'rejected': missing" in errors.inner_text()
    assert page.locator("#id_import-format").input_value() == "hh_rlhf"  # kept (issue 13)
    assert "0 lines passed the checks" in page.locator("#jobs").inner_text()
    assert not Item.objects.filter(project=project).exists()
    shot("import-failed-format-kept")

    good = tmp_path / "good.jsonl"
    good.write_text(
        '{"chosen": "\\n\\nHuman: a\\n\\nAssistant: b", "rejected": "\\n\\nHuman: a\\n\\nAssistant: c"}\n'
    )
    page.locator("#id_import-format").select_option("hh_rlhf")
    page.locator("#id_import-file").set_input_files(str(good))
    page.get_by_role("button", name="Import").click()
    page.get_by_text("1 items, 1 judgments").wait_for()
    shot("foundation-project-detail")


def test_admin_sees_labelers_with_attributes(
    page, shot, live_server, admin_user, labeler, other_labeler
):
    sign_in(page, live_server, admin_user.username)
    page.get_by_role("link", name="Labelers").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    assert "18-29" in rows.first.inner_text()
    shot("foundation-labelers")


def test_swagger_ui_and_the_token_page_work_under_the_csp(page_as, live_server, researcher):
    """Swagger UI starts from its own script file (no inline script under the CSP); the token
    page shows a new key once. CSP violations fail the test (page_as)."""
    page = page_as(researcher)
    page.goto(f"{live_server.url}/api/docs/")
    page.locator(".swagger-ui .info .title").get_by_text("Chorus API").wait_for()
    page.goto(f"{live_server.url}/account/token/")
    page.get_by_role("button", name="Create token").click()
    assert len(page.locator("#api-token").inner_text().strip()) == 40
