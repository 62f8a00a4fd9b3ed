"""A labeler in real Chromium goes back and changes a judgment, rates the rubric with the keys
without touching the 8-point scale, and cannot submit a ranking left as shown.
Screenshots: test-artifacts/labconv-*.png."""

import re

import pytest
from playwright.sync_api import expect

from annotation.models import Item, Judgment, JudgmentRevision
from tests.browser.workbench import (
    ANSWER_A,
    ANSWER_B,
    canonical,
    conversation_item,
    labeling_project,
    shown_item_id,
    start_labeling,
    wait_past,
    workbench_ready,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_go_back_and_change_the_last_judgment(page, live_server, login, shot, labeler, researcher):
    project = labeling_project(researcher, name="Second thoughts")
    first = conversation_item(project, (ANSWER_A, ANSWER_B))
    conversation_item(project, ("Second A", "Second B"))
    login("lara")
    start_labeling(page, live_server, project)
    page.keyboard.press("2")
    page.get_by_label(re.compile("^Rationale")).fill("Response 1 is shorter.")
    page.get_by_role("button", name=re.compile("^Submit")).click()
    wait_past(page, first.pk)
    workbench_ready(page)
    second = shown_item_id(page)

    page.keyboard.press("p")  # Previous: the first item again, filled in as left
    expect(page.locator("#workbench")).to_have_attribute("data-state", "edit")
    assert shown_item_id(page) == first.pk
    expect(page.locator("input[name=choice][value='2']")).to_be_checked()
    expect(page.get_by_label(re.compile("^Rationale"))).to_have_value("Response 1 is shorter.")
    expect(page.locator("#label-editing")).to_contain_text("Changing your judgment")
    expect(page.get_by_role("button", name=re.compile("^Skip"))).to_have_count(0)
    shot("labconv-edit-previous")

    page.keyboard.press("7")
    page.get_by_label(re.compile("^Rationale")).fill("On reflection Response 2 is better.")
    page.get_by_role("button", name=re.compile("^Save change")).click()
    expect(page.locator("#label-notice")).to_contain_text("Your change to the previous item")
    expect(page.locator("#workbench")).to_have_attribute("data-state", "item")
    assert shown_item_id(page) == second  # back where the labeler was
    shot("labconv-change-saved")

    judgment = Judgment.objects.get(item=first)
    assert judgment.scale == canonical(judgment.display_order, 7) and judgment.revision == 2
    assert judgment.rationale == "On reflection Response 2 is better."
    (kept,) = JudgmentRevision.objects.filter(judgment=judgment)
    assert kept.payload["scale"] == canonical(judgment.display_order, 2)
    assert Judgment.objects.filter(item=first).count() == 1  # counted once
    assert Item.objects.get(pk=first.pk).human_judgment_count == 1

    page.get_by_role("button", name=re.compile("Previous")).click()
    expect(page.locator("#edited-badge")).to_have_text("edited")
    expect(page.locator("input[name=choice][value='7']")).to_be_checked()
    shot("labconv-edited-badge", full_page=False)
    page.get_by_role("button", name="Back to the current item").click()
    expect(page.locator("#workbench")).to_have_attribute("data-state", "item")
    assert shown_item_id(page) == second


def test_rubric_keys_leave_the_scale_alone(page, live_server, login, shot, labeler, researcher):
    project = labeling_project(researcher, name="Rubric keys")
    item = conversation_item(project, (ANSWER_A, ANSWER_B))
    helpful = project.criteria.get()
    login("lara")
    start_labeling(page, live_server, project)
    expect(page.locator("#rating-keys")).to_contain_text("rate with the keyboard")

    page.keyboard.press("c")  # focus Helpfulness of Response 1
    page.keyboard.press("5")
    expect(page.locator(f"input[name=rating_{helpful.pk}_1][value='5']")).to_be_checked()
    expect(page.locator("input[name=choice]:checked")).to_have_count(0)  # the scale untouched
    page.keyboard.press("ArrowDown")  # Helpfulness of Response 2
    page.keyboard.press("3")
    expect(page.locator(f"input[name=rating_{helpful.pk}_2][value='3']")).to_be_checked()
    page.keyboard.press("8")  # outside 1-7: nothing, and never the 8-point scale
    expect(page.locator("input[name=choice]:checked")).to_have_count(0)
    expect(page.locator(".rating:focus .rating-hint")).to_be_visible()
    shot("labconv-rubric-keys", full_page=False)
    page.keyboard.press("Escape")  # leave the rubric: digits choose on the scale again
    page.keyboard.press("8")
    expect(page.locator("input[name=choice][value='8']")).to_be_checked()
    expect(page.locator(f"input[name=rating_{helpful.pk}_2][value='3']")).to_be_checked()
    page.keyboard.press("Enter")
    expect(page.locator("#workbench")).to_have_attribute("data-state", "done")
    judgment = Judgment.objects.get(item=item)
    order = judgment.display_order
    assert judgment.scale == canonical(order, 8)
    assert dict(judgment.ratings.values_list("position", "value")) == {order[0]: 5, order[1]: 3}


def test_untouched_ranking_cannot_be_submitted(page, live_server, login, shot, labeler, researcher):
    project = labeling_project(researcher, kind="ranking", ranking_size=3, criteria=[])
    item = conversation_item(project, ("First reply", "Second reply", "Third reply"))
    login("lara")
    start_labeling(page, live_server, project)
    page.keyboard.press("Enter")  # the order as shown: refused on the page
    problem = page.locator('#label-errors li[data-field="ranking_touched"]')
    expect(problem).to_contain_text("move at least one, or confirm")
    shot("labconv-ranking-untouched")
    assert not Judgment.objects.exists()

    page.keyboard.press("Escape")
    page.keyboard.press("o")  # "the order shown is my ranking"
    expect(page.locator("#rank-confirm")).to_be_checked()
    page.keyboard.press("Enter")
    expect(page.locator("#workbench")).to_have_attribute("data-state", "done")
    judgment = Judgment.objects.get(item=item)
    order = judgment.display_order
    assert dict(judgment.ranks.values_list("position", "rank")) == {
        order[0]: 1,
        order[1]: 2,
        order[2]: 3,
    }
