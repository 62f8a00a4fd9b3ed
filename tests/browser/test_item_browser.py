"""The item browser and review in headless Chromium: filter, open an item, bulk-mark gold,
send to review and adjudicate. Screenshots go to test-artifacts/ for a person to look at."""

from __future__ import annotations

import pytest

from annotation.models import Adjudication, AdjudicationStatus, Item, ItemPurpose
from annotation.services.items import item_stats_refresh
from tests.annotation.report_data import two_groups_project
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_filter_open_mark_gold_and_adjudicate(page_as, live_server, project, admin_user):
    data = two_groups_project(project, n_items=14, per_group=5, contested=(2, 5, 9))
    Item.objects.filter(project=project).update(human_judgment_count=10)
    item_stats_refresh(project=project)
    contested = sorted(data.contested)
    page = page_as(admin_user)

    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="Browse items").click()
    page.get_by_role("heading", name="Items").wait_for()
    page.get_by_text("14 items").wait_for()  # counted after the table, by htmx
    assert page.locator("tbody tr").count() == 14
    screenshot(page, "item-browser-all")

    page.get_by_label("To", exact=True).fill("0.6")  # agreement at most 60 %
    page.get_by_role("button", name="Apply filters").click()
    page.get_by_text("3 items match").wait_for()
    assert "agreement_max=0.6" in page.url
    page.get_by_label("Response source").select_option("model-chat")  # a select applies itself
    page.wait_for_url("**source_model=model-chat**")
    page.get_by_text("3 items match").wait_for()
    rows = page.locator("tbody tr")
    assert [
        int(t.strip("#")) for t in rows.locator("td:nth-child(2) a").all_inner_texts()
    ] == contested
    screenshot(page, "item-browser-low-agreement")

    page.get_by_label(f"Select item {contested[0]}").check()
    page.get_by_label(f"Select item {contested[1]}").check()
    page.get_by_text("2 selected").wait_for()
    page.get_by_label("Action").select_option("gold")
    page.get_by_label("Best response").select_option("B")
    page.get_by_role("button", name="Apply to selected").click()
    page.get_by_text("2 item(s) marked as gold, best response B.").wait_for()
    page.get_by_text("3 items match").wait_for()  # back to the same filters
    assert page.locator("tbody tr").count() == 3 and page.locator(".tag.gold").count() == 2
    gold = Item.objects.filter(purpose=ItemPurpose.GOLD, gold_best_position=1)
    assert sorted(gold.values_list("pk", flat=True)) == contested[:2]
    screenshot(page, "item-browser-marked-gold")

    page.get_by_label(f"Select item {contested[2]}").check()
    page.get_by_label("Action").select_option("review")
    page.get_by_role("button", name="Apply to selected").click()
    page.get_by_text("1 item(s) sent to review.").wait_for()

    page.get_by_role("link", name=f"#{contested[2]}").click()
    page.get_by_role("heading", name=f"Item {contested[2]}").wait_for()
    assert page.locator(".judgment").count() == 10
    assert page.get_by_text("in review").is_visible()
    screenshot(page, "item-page-judgments")

    page.get_by_role("link", name="Reviews").click()
    page.get_by_role("link", name="Review", exact=True).click()
    page.get_by_role("heading", name=f"Review item {contested[2]}").wait_for()
    screenshot(page, "review-item")
    page.get_by_label("B", exact=True).check()
    page.get_by_label("Why (optional)").fill("South's reasons hold up better.")
    page.get_by_role("button", name="Record answer").click()
    page.get_by_text(f"Item {contested[2]} adjudicated.").wait_for()
    page.get_by_text("Nothing to review").wait_for()
    adjudication = Adjudication.objects.get(item_id=contested[2])
    assert (adjudication.status, adjudication.best_position) == (AdjudicationStatus.DONE, 1)
    screenshot(page, "review-done")
