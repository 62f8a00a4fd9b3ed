"""Onboarding in real Chromium (issue 12): a new labeler arrives through a Prolific-style study
link, consents, answers the questionnaire (one "prefer not to say"), passes screening, labels
an item and sees the completion code; another labeler withdraws their attributes and leaves a
group's size. Screenshots: test-artifacts/onboarding-*.png."""

import re

import pytest
from playwright.sync_api import expect

from annotation.models import AttributeDefinition, Judgment, LabelerProfile, PlatformIdentity
from annotation.services.attributes import attribute_definition_save
from annotation.services.consent import consent_give, consent_version_create
from annotation.services.labelers import labeler_group_create
from tests.browser.conftest import screenshot
from tests.browser.workbench import labeling_project
from tests.factories import item_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CONSENT = """# Taking part in this study

You will compare replies written by AI assistants. We record your judgments and, if you
choose to answer them, a few questions about yourself.

- Your answers are used **only** to compare groups of labelers.
- You can see and withdraw them at any time under *My information*.
"""
COMPLETION_URL = "https://app.prolific.com/submissions/complete?cc=C0DE-4711"
PURPOSE = "To check whether people of different ages judge replies differently."


def _questionnaire():
    AttributeDefinition.objects.all().delete()  # the test's own questions, in order
    attribute_definition_save(
        name="age_range", question="What is your age?", purpose=PURPOSE,
        options=["18-29", "30-44", "45-59", "60+"], order=1,
    )  # fmt: skip
    attribute_definition_save(
        name="region", question="Where do you live?",
        purpose="To see whether judgments differ between regions.",
        options=["EU", "US", "Other"], order=2,
    )  # fmt: skip


def _pick(page, text):
    """Choose the displayed response that contains `text` as better."""
    number = 1 if text in page.locator("section.response").nth(0).inner_text() else 2
    page.locator("label.scale-option", has_text=f"Response {number} is better").first.click()
    page.get_by_role("button", name=re.compile("^Submit")).click()


def test_study_link_to_completion_code(page, page_as, live_server, shot, admin_user, researcher):
    _questionnaire()
    consent_version_create(text=CONSENT, created_by=admin_user)
    project = labeling_project(researcher, name="Helpful replies", screening_min_items=1)
    project.open_to_all_labelers = False  # only those who come through the link
    project.save()
    item_create(
        project, texts=("GOOD: a correct answer", "BAD: nonsense"), purpose="screening", gold=0
    )
    regular = item_create(project, texts=("Reply one", "Reply two"))
    admin = page_as(admin_user)  # the admin makes the link in the app and copies its address
    admin.goto(f"{live_server.url}/recruitment/")
    admin.get_by_text("New link").click()
    admin.get_by_label("Name").fill("Pilot study")
    admin.get_by_label("Kind").select_option("prolific")
    admin.get_by_label("Projects").select_option(str(project.pk))
    admin.get_by_label("Completion code").fill("C0DE-4711")
    admin.get_by_label("Completion url").fill(COMPLETION_URL)
    admin.get_by_role("button", name="Create link").click()
    address = admin.locator("textarea.link-url").first.input_value()
    expect(admin.locator("textarea.link-url").first).to_be_visible()
    screenshot(admin, "onboarding-0-recruitment-links")
    assert (
        address.startswith(f"{live_server.url}/join/")
        and "PROLIFIC_PID={{%PROLIFIC_PID%}}" in address
    )

    ids = {"PROLIFIC_PID": "5f1e2d3c4b5a", "STUDY_ID": "study77", "SESSION_ID": "sess99"}
    for name, value in ids.items():
        address = address.replace(f"{{{{%{name}%}}}}", value)
    page.goto(address)
    expect(page.get_by_role("heading", name="Welcome to Pilot study")).to_be_visible()
    shot("onboarding-1-landing")
    page.get_by_role("button", name="Start").click()

    expect(page.get_by_role("heading", name=re.compile("consent"))).to_be_visible()
    expect(page.locator(".consent-text")).to_contain_text("compare groups of labelers")
    shot("onboarding-2-consent")
    page.get_by_role("button", name="I agree").click()

    expect(page.get_by_role("heading", name="About you")).to_be_visible()
    age = page.locator("#question-age_range")
    expect(age).to_contain_text(PURPOSE)
    age.get_by_label("30-44").check()
    page.locator("#question-region").get_by_label("Prefer not to say").check()
    shot("onboarding-3-questionnaire")
    page.get_by_role("button", name="Save and continue").click()

    page.get_by_role("button", name=re.compile("I have read")).click()
    expect(page.locator("#workbench")).to_have_attribute("data-state", "item")
    expect(page.locator("section.response").first).to_be_visible()
    shot("onboarding-4-screening")
    _pick(page, "GOOD")
    expect(page.locator("#workbench")).to_have_attribute("data-item", str(regular.pk))
    _pick(page, "Reply one")

    expect(page.locator("#completion-code")).to_have_text("C0DE-4711")
    expect(page.locator("#completion-link")).to_have_attribute("href", COMPLETION_URL)
    shot("onboarding-5-completion-code")

    user = PlatformIdentity.objects.get(participant_id="5f1e2d3c4b5a").user
    profile = LabelerProfile.objects.get(user=user)
    assert profile.attributes == {"age_range": "30-44"}  # region: preferred not to say
    assert profile.screening_passed_at is not None and profile.consent_version == 1
    assert Judgment.objects.filter(labeler=user).count() == 2
    assert user.recruitment_arrivals.get().finished_at is not None
    assert project.labelers.filter(pk=user.pk).exists()


def test_withdrawal_leaves_the_group(page_as, live_server, admin_user, labeler, other_labeler):
    _questionnaire()
    version = consent_version_create(text=CONSENT, created_by=admin_user)
    consent_give(user=other_labeler, version=version.version)
    labeler_group_create(name="senior", rules={"age_range": ["60+"]})

    def senior_size(admin_page):  # noqa: ANN001, ANN202
        rows = admin_page.request.get(f"{live_server.url}/api/groups/").json()
        return next(row["labelers"] for row in rows if row["name"] == "senior")

    admin = page_as(admin_user)
    assert senior_size(admin) == 1

    omar = page_as(other_labeler)
    omar.goto(f"{live_server.url}/me/")
    expect(omar.locator(".attributes")).to_contain_text("60+")
    screenshot(omar, "onboarding-6-my-information")
    omar.get_by_role("button", name="Withdraw my information").click()
    expect(omar.locator("#no-attributes")).to_be_visible()
    expect(omar.locator(".history")).to_contain_text("withdrew (version 1)")
    expect(omar.locator(".history")).to_contain_text("agreed to version 1")
    screenshot(omar, "onboarding-7-withdrawn")

    assert senior_size(admin) == 0
    admin.goto(f"{live_server.url}/recruitment/labelers/{other_labeler.pk}/")
    expect(admin.locator("#audit")).to_contain_text("Consent withdrawn")
    expect(admin.locator("#audit")).to_contain_text("age_range, region")
    screenshot(admin, "onboarding-8-audit")
    admin.goto(f"{live_server.url}/recruitment/attributes/")
    expect(admin.get_by_role("cell", name="age_range")).to_be_visible()
    screenshot(admin, "onboarding-9-questionnaire-admin")
    admin.goto(f"{live_server.url}/recruitment/consent/")
    expect(admin.get_by_label("Consent text (markdown)")).to_have_value(CONSENT.strip())
    screenshot(admin, "onboarding-10-consent-admin")
