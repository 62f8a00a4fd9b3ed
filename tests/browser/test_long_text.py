"""A very long response in real Chromium: cut in the workbench, whole after "Show the full
text", and the labeler can still judge the item (the link neither submits nor navigates)."""

import re

import pytest
from playwright.sync_api import expect

from annotation.models import Judgment
from tests.browser.workbench import ANSWER_B, conversation_item, labeling_project, start_labeling

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_long_response_expands_in_place(
    page, live_server, login, shot, settings, labeler, researcher
):
    settings.CHORUS_LABEL_TEXT_CHARS = 500
    project = labeling_project(researcher, name="Long texts")
    long_text = " ".join(f"word{i}" for i in range(2000)) + " THE-END"
    conversation_item(project, (long_text, ANSWER_B))
    login("lara")
    start_labeling(page, live_server, project)
    assert "THE-END" not in page.content()
    link = page.get_by_role("link", name="Show the full text")
    expect(link).to_have_count(1)
    shot("label-long-text-cut")
    link.click()
    expect(page.get_by_text("THE-END")).to_be_visible()
    expect(page.get_by_role("link", name="Show the full text")).to_have_count(0)
    expect(page.locator("#workbench")).to_have_attribute("data-state", "item")
    page.locator("label.scale-option", has_text="Response 1 is much better").click()
    page.get_by_role("button", name=re.compile("^Submit")).click()
    expect(page.locator("#workbench")).to_have_attribute("data-state", "done")
    assert Judgment.objects.count() == 1
