"""The workbench's outbox in real Chromium: a judgment survives network failures and reloads, is
resent through htmx with the same client key and stored once; a refused resend shows the
labeler's kept text instead of replacing their current item. Screenshots: test-artifacts/."""

import re

import pytest
from playwright.sync_api import expect

from annotation.models import Item, Judgment, Reservation
from annotation.services.judgments import judgment_submit
from annotation.services.queue import reservation_next
from tests.browser.workbench import (
    canonical,
    conversation_item,
    labeling_project,
    pending_count,
    start_labeling,
    wait_past,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Every htmx request that carries a judgment, as {key, elt}: recorded in each loaded document.
RECORD_JUDGMENT_REQUESTS = """
window.__judgmentRequests = [];
document.addEventListener("htmx:beforeRequest", (event) => {
  const config = event.detail.requestConfig;
  const key = config.formData.get("client_key");
  if (key) window.__judgmentRequests.push({ key, elt: config.elt.id || config.elt.tagName });
});
"""


def _go_offline_with_a_judgment(page, rationale):
    """Submit the shown pairwise item while every judgment request fails; its client key."""
    page.keyboard.press("2")
    page.get_by_label(re.compile("^Rationale")).fill(rationale)
    page.get_by_role("button", name=re.compile("^Submit")).click()
    expect(page.locator("#label-network")).to_contain_text("Network problem")
    assert pending_count(page) == 1
    return page.locator("#label-form").get_attribute("data-client-key")


def test_network_failures_lose_nothing(page, live_server, login, shot, labeler, researcher):
    project = labeling_project(researcher, criteria=[])
    items = [conversation_item(project, (f"A{i}", f"B{i}")) for i in range(3)]
    login("lara")
    start_labeling(page, live_server, project)

    # 1. The request never reaches the server: kept in localStorage, resent when the network is back.
    page.route("**/judgment/", lambda route: route.abort())
    page.keyboard.press("3")
    page.get_by_label(re.compile("^Rationale")).fill("kept through an outage")
    page.get_by_role("button", name=re.compile("^Submit")).click()
    expect(page.locator("#label-network")).to_contain_text("Network problem")
    assert pending_count(page) == 1 and not Judgment.objects.exists()
    shot("label-network-error", full_page=False)
    page.unroute("**/judgment/")
    wait_past(page, items[0].pk)
    first = Judgment.objects.get(item=items[0])
    assert first.rationale == "kept through an outage" and first.scale == canonical(
        first.display_order, 3
    )
    assert pending_count(page) == 0

    # 2. The server stores it but the answer is lost: the retry carries the same key, stored once.
    calls = []

    def lose_answer(route):
        calls.append(route.request.post_data)
        if len(calls) == 1:
            route.fetch()
            route.abort()
        else:
            route.continue_()

    page.route("**/judgment/", lose_answer)
    page.keyboard.press("8")
    page.get_by_role("button", name=re.compile("^Submit")).click()
    wait_past(page, items[1].pk)
    assert len(calls) == 2 and Judgment.objects.filter(item=items[1]).count() == 1
    page.unroute("**/judgment/")

    # 3. Offline, then the page is reloaded: the stored submission is resent from localStorage.
    page.route("**/judgment/", lambda route: route.abort())
    page.keyboard.press("b")
    page.get_by_label(re.compile("^Rationale")).fill("survives a reload")
    page.get_by_role("button", name=re.compile("^Submit")).click()
    expect(page.locator("#label-network")).to_contain_text("Network problem")
    page.reload()
    expect(page.locator("#label-network")).to_contain_text("Still offline")
    expect(page.get_by_label(re.compile("^Rationale"))).to_have_value(
        "survives a reload"
    )  # the draft came back
    page.unroute("**/judgment/")
    expect(page.locator("#workbench")).to_have_attribute("data-state", "done", timeout=20_000)
    third = Judgment.objects.get(item=items[2])
    assert (third.pairwise_choice, third.rationale) == ("both_bad", "survives a reload")
    assert Judgment.objects.count() == 3 and pending_count(page) == 0
    assert sorted(Item.objects.values_list("human_judgment_count", flat=True)) == [1, 1, 1]


def test_a_kept_judgment_is_resent_through_htmx_and_stored_once(
    page, live_server, login, shot, labeler, researcher
):
    project = labeling_project(researcher, criteria=[])
    first, second = (
        conversation_item(project, ("A1", "B1")),
        conversation_item(project, ("A2", "B2")),
    )
    page.add_init_script(RECORD_JUDGMENT_REQUESTS)
    login("lara")
    start_labeling(page, live_server, project)
    mode = {"now": "offline"}
    answered = []

    def network(route):
        if mode["now"] == "offline":
            route.abort()
        elif not answered:  # the server stores it, but its answer is lost on the way back
            answered.append(route.request)
            route.fetch()
            route.abort()
        else:
            answered.append(route.request)
            route.continue_()

    page.route("**/judgment/", network)
    key = _go_offline_with_a_judgment(page, "sent again after a reload")
    page.reload()  # the form is gone: the new page resends the kept fields
    expect(page.locator("#label-network")).to_contain_text("Still offline")
    assert page.locator("#label-form").get_attribute("data-client-key") != key
    mode["now"] = "flaky"
    wait_past(page, first.pk, timeout=20_000)

    assert len(answered) == 2 and Judgment.objects.filter(item=first).count() == 1
    for request in answered:  # htmx.ajax into #workbench, the same client key each time
        assert (
            request.headers["hx-request"] == "true" and request.headers["hx-target"] == "workbench"
        )
        assert f"client_key={key}" in request.post_data
    sent = page.evaluate("window.__judgmentRequests")
    assert sent and all(r == {"key": key, "elt": "BODY"} for r in sent)  # none from a form
    judgment = Judgment.objects.get(item=first)
    assert judgment.rationale == "sent again after a reload"
    assert judgment.scale == canonical(judgment.display_order, 2)
    assert int(page.locator("#workbench").get_attribute("data-item")) == second.pk
    expect(page.locator("#label-network")).to_be_hidden()
    assert pending_count(page) == 0


def test_a_refused_resend_keeps_the_text_and_the_current_item(
    page, live_server, login, shot, labeler, other_labeler, researcher
):
    project = labeling_project(researcher, overlap_target=1, criteria=[])
    first = conversation_item(project, ("A1", "B1"))
    login("lara")
    start_labeling(page, live_server, project)
    page.route("**/judgment/", lambda route: route.abort())
    _go_offline_with_a_judgment(page, "words I must not lose")

    # Meanwhile lara's reservation lapses and omar gives the item the one judgment it needs.
    Reservation.objects.filter(item=first).update(expires_at="2000-01-01T00:00:00Z")
    reservation_next(labeler=other_labeler, project=project)
    judgment_submit(labeler=other_labeler, item=Item.objects.select_related("project").get(pk=first.pk),
                    client_key="5f0c1b8e-3d0a-4c52-8f0e-2b7d9a6e4c21", choice=1)  # fmt: skip
    second = conversation_item(project, ("A2", "B2"))
    page.reload()
    expect(page.locator("#label-network")).to_contain_text("Still offline")
    assert int(page.locator("#workbench").get_attribute("data-item")) == second.pk
    page.get_by_label(re.compile("^Rationale")).fill("my work on the next item")
    page.unroute("**/judgment/")

    banner = page.locator("#label-network")
    expect(banner).to_contain_text("An earlier judgment could not be stored (409)", timeout=20_000)
    expect(banner.locator(".kept-text")).to_have_text("words I must not lose")
    shot("label-resend-refused", full_page=False)
    assert int(page.locator("#workbench").get_attribute("data-item")) == second.pk  # not swapped
    expect(page.get_by_label(re.compile("^Rationale"))).to_have_value("my work on the next item")
    assert Judgment.objects.filter(item=first).count() == 1 and pending_count(page) == 0
