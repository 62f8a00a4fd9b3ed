"""Real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright against live_server.

Playwright's sync API runs an event loop in this thread, so Django's async-safety check is off
here (and only here). Screenshots go to test-artifacts/ (gitignored).
"""

from functools import partial
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module", autouse=True)
def _playwright_runs_an_event_loop():
    """While a module's browser is open, its event loop sits in this thread: allow the ORM."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module, closed at its end: another module may start its own
    Playwright, and two sync Playwright loops cannot run in one thread at the same time."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def watch(page, errors: list[str]) -> None:  # noqa: ANN001
    """Collect uncaught JavaScript errors and Content-Security-Policy violations (Chromium
    reports those as console errors) into `errors`."""
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"CSP: {msg.text}")
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    watch(page, errors)
    yield page
    context.close()
    assert not errors, f"JavaScript errors: {errors}"


def screenshot(page, name: str, full_page: bool = True) -> Path:  # noqa: ANN001
    """Save a screenshot of `page` to test-artifacts/<name>.png for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


@pytest.fixture
def shot(page):
    """shot("name") saves a full-page screenshot of `page` to test-artifacts/<name>.png."""
    return partial(screenshot, page)


@pytest.fixture
def page_as(browser, live_server):
    """page_as(user): a new page in a browser context of its own, logged in as `user` through
    the session cookie of a Django test client (no login form). JavaScript errors and CSP
    violations on any of these pages fail the test at its end."""
    errors: list[str] = []

    def make(user):  # noqa: ANN001, ANN202
        client = Client()
        client.force_login(user)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
        )
        new = context.new_page()
        watch(new, errors)
        return new

    yield make
    assert not errors, f"JavaScript errors: {errors}"


@pytest.fixture
def login(page, live_server):
    from tests.conftest import PASSWORD

    def go(username: str) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/")  # the home dashboard

    return go
