"""Issue 16's pages in real Chromium, beyond the conversation itself (test_live.py): prompt
writing and its review, the arena leaderboard fed by live battles, the live settings and the
researcher's conversation list, and the labeler's conversation bar (guidelines, stop button,
red-team wording, the rate-limit message). Screenshots: test-artifacts/live2-*.png."""

from __future__ import annotations

import uuid

import pytest

from annotation.models import Prompt, WrittenPrompt
from annotation.selectors.labelers import project_pseudonym
from annotation.services.labelers import labeler_group_create
from tests.browser.conftest import screenshot
from tests.conftest import _labeler
from tests.training.live_fixtures import finish, live_project
from training.services.live import conversation_start, turn_judge, turn_say

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

KINDS = [
    ("plain", "Explain photosynthesis to a ten-year-old.", "science, kids"),
    ("few_shot", "Translate to French.\nQ: cat\nA: chat\nQ: dog\nA:", "translation"),
    ("use_case", "Plan a three-day trip to Lisbon on a budget.", "travel, plans"),
]


def _write(page, kind: str, text: str, tags: str) -> None:  # noqa: ANN001
    page.get_by_label("Kind").select_option(kind)
    page.get_by_label("Prompt").fill(text)
    page.get_by_label("Tags").fill(tags)
    page.get_by_role("button", name="Save prompt").click()
    page.get_by_text("Prompt saved").wait_for()


def test_prompt_writing_and_review(page_as, live_server, labeler, other_labeler, researcher):
    from tests.factories import ProjectFactory

    project = ProjectFactory(kind="prompt_writing", name="Write for us", created_by=researcher)
    other = page_as(other_labeler)
    other.goto(f"{live_server.url}/projects/{project.pk}/write/")
    _write(other, "plain", "OTHER-LABELER-SECRET prompt", "")

    page = page_as(labeler)
    page.goto(f"{live_server.url}/label/")
    page.get_by_role("link", name="Write prompts").click()
    for kind, text, tags in KINDS:
        _write(page, kind, text, tags)
    mine = page.locator("#written-mine tbody tr")
    assert mine.count() == 3
    assert "OTHER-LABELER-SECRET" not in page.content()
    assert "Few-shot" in mine.nth(1).inner_text() and "translation" in mine.nth(1).inner_text()
    screenshot(page, "live2-prompt-write")

    staff = page_as(researcher)
    staff.goto(f"{live_server.url}/projects/{project.pk}/")
    staff.get_by_role("link", name="Written prompts").click()
    plain = WrittenPrompt.objects.get(kind="plain", author=labeler)
    few = WrittenPrompt.objects.get(kind="few_shot")
    staff.locator(f"#written-{plain.pk}").get_by_role("button", name="Accept").click()
    staff.get_by_text(f"Prompt {plain.pk} reviewed").wait_for()
    row = staff.locator(f"#written-{few.pk}")
    row.get_by_role("button", name="Reject").click()  # no note: refused, nothing changes
    assert "note" in staff.content().lower()
    few.refresh_from_db()
    assert few.status == "pending"
    staff.goto(f"{live_server.url}/projects/{project.pk}/written/")
    row = staff.locator(f"#written-{few.pk}")
    row.get_by_label(f"Review note for prompt {few.pk}").fill("Examples need more variety.")
    row.get_by_role("button", name="Reject").click()
    staff.get_by_text(f"Prompt {few.pk} reviewed").wait_for()
    screenshot(staff, "live2-prompt-review")
    assert Prompt.objects.filter(project=project, turns__content=KINDS[0][1]).exists()

    page.reload()
    text = page.locator("#written-mine").inner_text()
    assert "Accepted" in text and "Rejected" in text and "Examples need more variety." in text
    screenshot(page, "live2-prompt-write-reviewed")


def _battles(project, labelers, prefer: str, n: int) -> None:  # noqa: ANN001
    """Each labeler judges n live turns through the services, preferring source `prefer`."""
    for labeler in labelers:
        conversation = conversation_start(project=project, labeler=labeler)
        for k in range(n):
            turn = turn_say(conversation=conversation, labeler=labeler, message=f"Question {k}")
            finish(turn.reply_a, "alpha says " + "word " * (3 + k % 4))
            finish(turn.reply_b, "beta says " + "word " * (2 + k % 5))
            a_wins = (prefer == "alpha") == (k % 4 != 3)  # 3 in 4 turns for the preferred one
            a_left = turn.display_order[0] == 0
            choice = 2 if a_wins == a_left else 7  # left / right is better
            turn_judge(turn=turn, labeler=labeler, client_key=uuid.uuid4(), choice=choice)


def test_arena_leaderboard_from_live_battles(page_as, live_server, researcher, settings, tmp_path):
    settings.CHORUS_MIN_GROUP_SIZE = 3
    settings.CHORUS_LIVE_TURNS_PER_MINUTE = 1000
    labeler_group_create(name="younger", rules={"age_range": ["18-29"]})
    labeler_group_create(name="older", rules={"age_range": ["60+"]})
    labeler_group_create(name="islanders", rules={"region": ["IS"]})  # one member: hidden
    young = [_labeler(f"y{k}", age_range="18-29", region="EU") for k in range(3)]
    old = [_labeler(f"o{k}", age_range="60+", region="US") for k in range(3)]
    islander = _labeler("i0", age_range="30-44", region="IS")
    project = live_project(tmp_path, name="Arena chat", turn_limit=20, created_by=researcher)
    _battles(project, young, "alpha", 8)
    _battles(project, old, "beta", 8)
    _battles(project, [islander], "alpha", 8)

    page = page_as(researcher)
    page.goto(f"{live_server.url}/training/live/projects/{project.pk}/settings/")
    page.get_by_role("link", name="arena leaderboard").click()
    page.locator("#arena-overall table").wait_for()
    assert "56 live battles by 7 labelers" in page.inner_text("main")
    overall = page.locator("#arena-overall tbody tr")
    assert overall.count() == 2 and "[" in overall.first.inner_text()  # strength with its CI
    boards = {
        name: page.locator(f"table[data-group='{name}'] tbody tr").first.inner_text()
        for name in ("younger", "older")
    }
    assert "alpha" in boards["younger"] and "beta" in boards["older"]  # each group's winner
    groups = page.inner_text("#arena-groups")
    assert "islanders" not in groups and "1 group with fewer than 3 labelers hidden" in groups
    screenshot(page, "live2-arena")


def test_live_settings_and_conversation_list(page_as, live_server, researcher, labeler, tmp_path):
    project = live_project(tmp_path, name="Helpful chat", created_by=researcher)
    project.live = False  # as a fresh pairwise project: not live until saved here
    project.save()
    project.live_config.delete()
    page = page_as(researcher)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("link", name="Live settings").click()
    page.get_by_label("First source").select_option("alpha")
    page.get_by_label("Second source").select_option("beta")
    page.get_by_label("Turns per conversation").fill("4")
    page.get_by_label("Red team").check()
    screenshot(page, "live2-settings-new")
    page.get_by_role("button", name="Make this project live").click()
    page.get_by_text("Live conversations are set up").wait_for()
    project.refresh_from_db()
    assert project.live and project.red_team and project.live_config.turn_limit == 4
    assert page.get_by_label("Red team").is_checked()
    screenshot(page, "live2-settings-saved")

    page.get_by_role("link", name="Conversations (none yet)").click()
    assert "No conversations yet" in page.inner_text("main")
    conversation = conversation_start(project=project, labeler=labeler)
    turn = turn_say(conversation=conversation, labeler=labeler, message="Say something rude")
    finish(turn.reply_a, "No.")
    finish(turn.reply_b, "Rude words.")
    turn_judge(turn=turn, labeler=labeler, client_key=uuid.uuid4(), choice=7)
    page.reload()
    row = page.locator("#live-conversations tbody tr")
    assert row.count() == 1
    assert project_pseudonym(project, labeler.pk) in row.inner_text()
    assert labeler.username not in page.content()
    screenshot(page, "live2-conversations")
    row.get_by_role("link", name="turn 1").click()
    page.get_by_text("Rude words.").first.wait_for()
    screenshot(page, "live2-conversation-item")


def test_labeler_bar_red_team_and_rate_limit(page_as, live_server, labeler, settings, tmp_path):
    settings.CHORUS_LIVE_TURNS_PER_MINUTE = 1
    project = live_project(tmp_path, red_team=True, name="Red team chat")
    page = page_as(labeler)
    page.goto(f"{live_server.url}/training/live/projects/{project.pk}/")
    assert "more harmful" in page.inner_text("main")
    page.click("#live-start")
    page.wait_for_url("**/training/live/*/")
    assert "more harmful" in page.inner_text("#live-red-team")
    page.fill("#live-text", "First try")
    page.click("#live-send")  # no worker here: the replies wait; the labeler stops them
    page.wait_for_selector("#live-stop:not([disabled])")
    page.click("#live-stop")
    page.wait_for_selector("#live-error .error")
    assert "You stopped the replies" in page.inner_text("#live-error")
    page.click("#live-send")  # the message was put back; a second one in a minute is too many
    page.wait_for_function(
        "() => document.querySelector('#live-error').textContent.includes('in the last minute')"
    )
    message = page.inner_text("#live-error")
    assert message.startswith("You have sent 1 message") and "message:" not in message
    assert page.input_value("#live-text") == "First try"  # kept
    screenshot(page, "live2-rate-limited")
    page.set_viewport_size({"width": 1280, "height": 360})  # a short window, scrolled down
    page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
    assert page.evaluate("() => window.scrollY") > 100
    for selector in ("#live-stop", ".live-guidelines summary", "#live-red-team"):
        box = page.locator(selector).bounding_box()
        assert box and 0 <= box["y"] and box["y"] + box["height"] <= 360, (selector, box)
    page.click(".live-guidelines summary")
    assert "Prefer the helpful" in page.inner_text(".live-guidelines")
    screenshot(page, "live2-bar-scrolled", full_page=False)
