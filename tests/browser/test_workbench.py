"""A labeler in real Chromium: pairwise, ranking and demonstration items with the mouse and with
the keyboard alone; conflicts lose nothing (network failures: test_outbox.py).
Screenshots: test-artifacts/."""

import re

import pytest
from playwright.sync_api import expect

from annotation.models import Item, Judgment, Reservation, Skip
from annotation.services.judgments import judgment_submit
from annotation.services.projects import guidelines_update
from annotation.services.queue import reservation_next
from annotation.views.label import SKIP_REASONS
from tests.browser.workbench import (
    ANSWER_A,
    ANSWER_B,
    GUIDELINES,
    LONG,
    canonical,
    conversation_item,
    labeling_project,
    shown_item_id,
    start_labeling,
    wait_past,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_pairwise_with_the_mouse(page, live_server, login, shot, labeler, researcher):
    project = labeling_project(researcher, name="Helpful pairs")
    first = conversation_item(project, (ANSWER_A, ANSWER_B))
    conversation_item(project, ("Second A", "Second B"))
    login("lara")
    page.get_by_role("link", name="Start labeling").click()
    expect(page.locator("#workbench")).to_have_attribute("data-state", "guidelines")
    shot("label-guidelines-read")
    page.get_by_role("button", name=re.compile("I have read")).click()
    expect(page.locator("#workbench")).to_have_attribute("data-state", "item")
    assert shown_item_id(page) == first.pk
    assert "secret-model" not in page.content() and "<script>alert" not in page.content()
    expect(page.locator(".markdown pre code").first).to_contain_text("squares = [n * n")
    expect(page.locator("#item-timer")).not_to_have_text(
        "0:00", timeout=3000
    )  # time on this item runs
    shot("label-pairwise")

    page.locator("label.scale-option", has_text="Response 1 is better").click()
    page.locator("section.response").nth(0).locator("label.pill", has_text="6").click()
    page.locator("section.response").nth(1).get_by_text("Flags for Response 2").click()
    page.locator("section.response").nth(1).get_by_label("Makes up facts (hallucination)").check()
    page.get_by_label(re.compile("^Rationale")).fill("Response 1 gives working, short code.")
    page.evaluate("window.__sameDocument = true")
    shot("label-pairwise-filled")
    page.get_by_role("button", name=re.compile("^Submit")).click()
    wait_past(page, first.pk)
    assert page.evaluate("window.__sameDocument") is True  # swapped in by htmx, no full reload

    judgment = Judgment.objects.get(item=first)
    order = judgment.display_order
    assert sorted(order) == [0, 1]
    assert judgment.scale == canonical(order, 2) and judgment.pairwise_choice == (
        "a" if order[0] == 0 else "b"
    )
    assert list(judgment.ratings.values_list("position", "value")) == [(order[0], 6)]
    assert list(judgment.flags.values_list("position", "flag")) == [(order[1], "hallucination")]
    assert judgment.rationale == "Response 1 gives working, short code."
    assert judgment.guideline_version.version == 1 and judgment.seconds_spent > 0
    expect(page.locator("#done-today")).to_have_text("1")

    page.set_viewport_size({"width": 420, "height": 900})
    boxes = [page.locator("section.response").nth(i).bounding_box() for i in (0, 1)]
    assert boxes[1]["y"] >= boxes[0]["y"] + boxes[0]["height"] - 1  # stacked on a narrow screen
    shot("label-pairwise-narrow")


def test_pairwise_with_the_keyboard_alone(page, live_server, login, shot, labeler, researcher):
    project = labeling_project(researcher)
    items = [conversation_item(project, (ANSWER_A, ANSWER_B)) for _ in range(3)]
    login("lara")
    page.goto(f"{live_server.url}/label/{project.pk}/")
    page.keyboard.press("Enter")  # the "I have read" button has focus
    expect(page.locator("#workbench")).to_have_attribute("data-state", "item")

    page.keyboard.press("?")
    expect(page.locator("#help-dialog")).to_be_visible()
    shot("label-help-overlay", full_page=False)
    page.keyboard.press("Escape")
    expect(page.locator("#help-dialog")).to_be_hidden()
    page.keyboard.press("g")
    expect(page.locator("#guidelines-dialog")).to_be_visible()
    expect(page.locator("#guidelines-dialog")).to_contain_text("Judge the last reply only")
    shot("label-guidelines-overlay", full_page=False)
    page.keyboard.press("Escape")

    page.keyboard.press("6")
    expect(page.locator("input[name=choice][value='6']")).to_be_checked()
    page.keyboard.press("r")
    page.keyboard.type("Response 2 is clearer.")
    page.keyboard.press("Escape")  # leave the text box; Enter now submits
    page.keyboard.press("Enter")
    wait_past(page, items[0].pk)
    judgment = Judgment.objects.get(item=items[0])
    assert (
        judgment.scale == canonical(judgment.display_order, 6)
        and judgment.rationale == "Response 2 is clearer."
    )

    page.keyboard.press("t")
    page.keyboard.press("Control+Enter")
    wait_past(page, items[1].pk)
    assert Judgment.objects.get(item=items[1]).pairwise_choice == "tie"

    page.keyboard.press("s")
    expect(page.locator("#skip-dialog")).to_be_visible()
    page.keyboard.press("ArrowDown")
    shot("label-skip-dialog", full_page=False)
    page.keyboard.press("Enter")
    expect(page.locator("#workbench")).to_have_attribute("data-state", "done")
    assert Skip.objects.get(item=items[2]).reason == SKIP_REASONS[1]
    assert Judgment.objects.count() == 2
    shot("label-done")


def test_ranking_with_the_mouse(page, live_server, login, shot, labeler, researcher):
    project = labeling_project(researcher, kind="ranking", ranking_size=4)
    item = conversation_item(project, (ANSWER_A, ANSWER_B, LONG, "Just use numpy."))
    login("lara")
    start_labeling(page, live_server, project)
    shot("label-ranking")
    expand = page.locator("[data-expand]:visible")
    expect(expand).to_have_count(1)  # only the long response is collapsed
    expand.click()
    expect(page.locator(".response-text.expanded")).to_have_count(1)

    ranks = page.locator("#rank-list")
    ranks.locator('.rank-item[data-number="3"]').drag_to(
        ranks.locator('.rank-item[data-number="1"]'), target_position={"x": 30, "y": 3}
    )
    expect(ranks.locator(".rank-item").first).to_have_attribute("data-number", "3")
    ranks.locator('.rank-item[data-number="2"] .tie-box').check()  # order 3, 1, 2(=1), 4
    page.get_by_role("button", name="Move Response 1 up").click()  # order 1, 3, 2(=3), 4
    page.locator("section.response").nth(2).locator("label.pill", has_text="2").click()
    expect(page.locator("#rank-summary")).to_have_text(
        "Ranking: 1. Response 1 · 2. Response 3 = Response 2 · 3. Response 4"
    )
    shot("label-ranking-ordered")
    page.get_by_role("button", name=re.compile("^Submit")).click()
    expect(page.locator("#workbench")).to_have_attribute("data-state", "done")

    judgment = Judgment.objects.get(item=item)
    order = judgment.display_order
    seen = {1: 1, 3: 2, 2: 2, 4: 3}
    assert dict(judgment.ranks.values_list("position", "rank")) == {
        order[n - 1]: r for n, r in seen.items()
    }
    assert list(judgment.ratings.values_list("position", "value")) == [(order[2], 2)]


def test_ranking_with_the_keyboard_alone(page, live_server, login, shot, labeler, researcher):
    project = labeling_project(researcher, kind="ranking", ranking_size=3)
    item = conversation_item(project, ("First reply", "Second reply", "Third reply"))
    login("lara")
    start_labeling(page, live_server, project)
    for _ in range(60):
        if page.evaluate("document.activeElement.classList.contains('rank-item')"):
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.number") == "1"
    page.keyboard.press("Shift+ArrowDown")  # order 2, 1, 3
    page.keyboard.press("ArrowDown")  # focus Response 3
    page.keyboard.press("t")  # tie 3 with 1
    page.keyboard.press("n")
    expect(page.locator("#rank-summary")).to_have_text(
        "Ranking: 1. Response 2 · 2. Response 1 = Response 3"
    )
    shot("label-ranking-keyboard", full_page=False)
    page.keyboard.press("Enter")
    expect(page.locator("#workbench")).to_have_attribute("data-state", "done")
    judgment = Judgment.objects.get(item=item)
    order = judgment.display_order
    assert dict(judgment.ranks.values_list("position", "rank")) == {
        order[1]: 1,
        order[0]: 2,
        order[2]: 2,
    }
    assert judgment.none_acceptable


def test_demonstrations_with_mouse_and_keyboard(
    page, live_server, login, shot, labeler, researcher
):
    project = labeling_project(researcher, kind="demonstration", criteria=[])
    first, second = conversation_item(project, ()), conversation_item(project, ())
    login("lara")
    start_labeling(page, live_server, project)
    expect(page.locator(".demo-guidelines")).to_contain_text("Judge the last reply only")
    page.get_by_label("Write the ideal response").click()
    page.keyboard.type("squares = [n * n for n in range(0, 10, 2)]\nThat's it.")
    shot("label-demonstration")
    page.get_by_role("button", name=re.compile("^Submit")).click()
    wait_past(page, first.pk)
    assert (
        Judgment.objects.get(item=first).demonstration
        == "squares = [n * n for n in range(0, 10, 2)]\nThat's it."
    )

    page.keyboard.press("w")
    page.keyboard.type("Use a comprehension:\n\n    [n*n for n in range(10) if n % 2 == 0]")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#workbench")).to_have_attribute("data-state", "done")
    assert Judgment.objects.get(item=second).demonstration.startswith(
        "Use a comprehension:\n\n    [n*n"
    )


def test_conflicts_keep_the_labelers_work_visible(
    page, live_server, login, shot, labeler, other_labeler, researcher
):
    project = labeling_project(researcher, overlap_target=1, criteria=[])
    first, second = (
        conversation_item(project, ("A1", "B1")),
        conversation_item(project, ("A2", "B2")),
    )
    login("lara")
    start_labeling(page, live_server, project)

    page.keyboard.press("2")
    page.get_by_label(re.compile("^Rationale")).fill("my careful words")
    guidelines_update(project=project, text=GUIDELINES + "\n4. **New:** penalise made-up facts.")
    page.get_by_role("button", name=re.compile("^Submit")).click()
    problem = page.locator("#label-errors")
    expect(problem).to_contain_text("The guidelines changed")
    expect(problem).to_contain_text("penalise made-up facts")
    expect(page.get_by_label(re.compile("^Rationale"))).to_have_value("my careful words")
    shot("label-guidelines-changed")
    page.get_by_role("button", name=re.compile("^Submit")).click()
    wait_past(page, first.pk)
    assert Judgment.objects.get(item=first).guideline_version.version == 2

    page.keyboard.press("5")
    page.get_by_label(re.compile("^Rationale")).fill("words I must not lose")
    Reservation.objects.filter(item=second).update(expires_at="2000-01-01T00:00:00Z")
    reservation_next(labeler=other_labeler, project=project)
    judgment_submit(labeler=other_labeler, item=Item.objects.select_related("project").get(pk=second.pk),
                    client_key="0b9a6b4e-8a55-4d1e-9d4c-9b0e6f0a1c11", choice=1)  # fmt: skip
    page.get_by_role("button", name=re.compile("^Submit")).click()
    expect(problem).to_contain_text("got all the judgments it needs")
    expect(page.get_by_label(re.compile("^Rationale"))).to_have_value("words I must not lose")
    shot("label-no-longer-needed")
    assert Judgment.objects.filter(item=second).count() == 1
    page.get_by_role("button", name="Continue to the next item").click()
    expect(page.locator("#workbench")).to_have_attribute("data-state", "done")
