"""The run pages in real headless Chromium: live progress that stops polling when the run ends,
curves, per-group accuracy and the cross-group heatmap. Screenshots go to test-artifacts/."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.utils import timezone

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, screenshot, watch
from tests.conftest import PASSWORD
from training.models import RunMetric, RunStatus, TrainingRun

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

FORTY_STEPS = {"max_steps": 40, "eval_fraction": 0.5}


@pytest.fixture
def no_broker(monkeypatch):
    """These runs are played by the test itself: no message for a worker."""
    monkeypatch.setattr("config.dispatch._publish", lambda task, pk: None)


@pytest.fixture
def browser_page(live_server, researcher, monkeypatch):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install -y chromium)")
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        watch(page, errors)
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", researcher.username)
        page.fill("#id_password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        yield page
        browser.close()
    assert not errors, f"JavaScript errors: {errors}"


def add_points(run: TrainingRun, steps: range) -> None:
    RunMetric.objects.bulk_create(
        RunMetric(run=run, name=name, step=s, value=value)
        for s in steps
        for name, value in (
            ("train/loss", 0.69 * 0.97**s + 0.02 * (s % 3)),
            ("train/accuracy", min(1.0, 0.45 + s / 80 + 0.05 * (s % 2))),
        )
    )


def test_run_page_shows_live_progress_then_stops_polling(
    no_broker, browser_page, live_server, make_run
):
    run = make_run(hyperparameters=FORTY_STEPS, name="live reward model")
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, step=10, total_steps=40, phase="train", heartbeat_at=timezone.now(),
        started_at=timezone.now(), worker_hostname="celery@gpu-1",
    )  # fmt: skip
    add_points(run, range(1, 11))
    page = browser_page
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if r.headers.get("hx-request") else None)
    page.goto(f"{live_server.url}/training/{run.pk}/")
    bar = page.locator("#live .bar")
    assert bar.get_attribute("aria-valuenow") == "25"
    screenshot(page, "training-run-running")

    TrainingRun.objects.filter(pk=run.pk).update(step=30, heartbeat_at=timezone.now())
    add_points(run, range(11, 31))
    page.wait_for_function(
        # a function, not an expression: Playwright evals expressions, which the CSP forbids
        "() => document.querySelector('#live .bar').getAttribute('aria-valuenow') === '75'",
        timeout=10_000,
    )
    assert page.locator("#live figure.chart").count() == 2  # loss and accuracy, redrawn
    assert page.locator("#live polyline.smoothed").count() == 2  # over their faint raw lines
    assert page.locator("#live polyline.raw").count() == 2

    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, step=40, phase="done", message="finished", finished_at=timezone.now(),
        final_metrics={"eval/accuracy": 0.81, "train/loss": 0.21, "group_accuracy": {"senior": 0.78, "young": 0.84}},
    )  # fmt: skip
    add_points(run, range(31, 41))
    (run.run_dir / "model.safetensors").write_bytes(b"\0" * 100)  # what the trainer saves
    page.wait_for_selector("#live .badge.status-succeeded", timeout=10_000)
    assert page.locator("text=Download model (zip)").count() == 1
    assert page.locator("text=Cancel run").count() == 0
    settled = len(polls)
    time.sleep(4.5)  # two polling periods
    assert len(polls) == settled, "the page kept polling after the run ended"
    screenshot(page, "training-run-finished")


def test_per_group_reward_run_shows_the_cross_group_heatmap(
    no_broker, browser_page, live_server, settings, make_run
):
    settings.CHORUS_MIN_GROUP_SIZE = 1
    run = make_run(hyperparameters=FORTY_STEPS, name="per-group reward models", per_group=True)
    add_points(run, range(1, 41))
    cross = {
        "pooled": {"senior": 0.74, "young": 0.86},
        "senior": {"senior": 0.83, "young": 0.41},
        "young": {"senior": 0.52, "young": 0.91},
    }
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, step=40, total_steps=40, phase="done", message="finished",
        started_at=timezone.now(), finished_at=timezone.now(), worker_hostname="celery@gpu-1",
        final_metrics={"eval/accuracy": 0.8, "eval/margin": 0.9, "train/loss": 0.2, "train/runtime_s": 12.5,
                       "group_accuracy": cross["pooled"], "cross_group_accuracy": cross},
    )  # fmt: skip
    page = browser_page
    page.goto(f"{live_server.url}/training/{run.pk}/")
    heatmap = page.locator("table.heatmap")
    assert heatmap.locator("tbody tr").count() == 3
    assert heatmap.locator("tbody tr").first.locator("th").inner_text() == "pooled"
    assert "0.41" in heatmap.inner_text()
    screenshot(page, "training-run-per-group")

    page.goto(f"{live_server.url}/training/")
    assert page.locator("#runs tbody tr").count() == 1
    screenshot(page, "training-run-list")
    page.goto(f"{live_server.url}/training/new/")
    screenshot(page, "training-run-new")


def _trainer_of(worker_pid: int):  # noqa: ANN202
    """The run's trainer subprocess (python -m training.ml ...) under the worker."""
    import psutil

    from tests.worker import wait_for

    def find():  # noqa: ANN202
        for child in psutil.Process(worker_pid).children(recursive=True):
            if "training.ml" in " ".join(child.cmdline()):
                return child
        return None

    return wait_for(find, timeout=120)


def _suspend_midway(trainer, run_id: int, worker) -> TrainingRun:  # noqa: ANN001
    """Stop the trainer once the run has reached 10 %, and return the run as it then stays:
    the worker relays the last progress it read within PROGRESS_SECONDS, then nothing moves.
    The trainer is first stopped when it reports its plan (step 0 of N, after loading the
    model), then let run in doubling slices from 50 ms, so it never gets far past 10 %."""
    from tests.worker import wait_for, wait_for_row

    wait_for_row(TrainingRun, run_id, worker, timeout=120, total_steps__gt=0)
    slice_seconds = 0.05
    while True:
        trainer.suspend()
        previous = None

        def settled():  # noqa: ANN202
            nonlocal previous
            run = TrainingRun.objects.get(pk=run_id)
            still, previous = previous is not None and run.step == previous.step, run
            return run if still else None

        run = wait_for(settled, timeout=30, interval=1.5, worker=worker)
        assert run.status == RunStatus.RUNNING and run.progress_percent < 100, (
            f"the trainer finished before it could be held mid-way: {run.status} {run.step}"
        )
        if run.progress_percent >= 10:
            return run
        trainer.resume()  # doubling slices until 10 %: never far past it
        time.sleep(slice_seconds)
        slice_seconds *= 2


def test_a_real_run_moves_live_in_the_browser(
    browser_page, live_server, researcher, judged_project, tiny_base_model
):
    """Created in the form, trained by a real worker, watched live until it ends."""
    from tests.worker import celery_worker, wait_for_row

    page = browser_page
    with celery_worker(queues="default,training") as worker:
        page.goto(f"{live_server.url}/training/new/")
        page.fill("#id_name", "tiny reward model, trained for real")
        page.fill("#id_base_model", tiny_base_model)
        page.select_option("#id_projects", label=judged_project.name)
        page.fill("#id_hp_reward_max_steps", "150")  # held at 10 % below: no need for more
        page.fill("#id_hp_reward_batch_size", "2")
        page.fill("#id_hp_reward_learning_rate", "0.001")
        page.click("text=More settings")
        page.fill("#id_hp_reward_eval_fraction", "0.5")
        page.click("form.run-form button[type=submit]")
        page.wait_for_url("**/training/*/")
        run = TrainingRun.objects.get()
        # The page polls every 2 s, and on a quiet machine the tiny run can go from under 10 %
        # to done between two polls: then the bar was never seen mid-way (the test failed
        # after 120 s). Hold the trainer still (SIGSTOP) once it is a tenth of the way, so the
        # page has a mid-run state to show, then let it finish.
        trainer = _trainer_of(worker.proc.pid)
        midway = _suspend_midway(trainer, run.pk, worker)
        try:
            page.wait_for_function(
                "() => { const v = +document.querySelector('#live .bar').getAttribute('aria-valuenow'); return v >= 10 && v < 100; }",
                timeout=60_000,
            )
            assert TrainingRun.objects.get(pk=run.pk).step == midway.step  # held still
            screenshot(page, "training-run-real-live")
        finally:
            trainer.resume()
        ended = [RunStatus.SUCCEEDED, RunStatus.FAILED]
        wait_for_row(TrainingRun, run.pk, worker, timeout=180, status__in=ended)
    page.wait_for_selector("#live .badge.status-succeeded", timeout=10_000)
    assert page.locator("#live figure.chart").count() == 2
    screenshot(page, "training-run-real-done")


def test_the_run_form_teaches_and_the_dpo_run_page_follows_its_phase(
    no_broker, browser_page, live_server, settings, judged_project, base_model_dir, runs_dir
):
    """Issue 13: typed boxes for the chosen algorithm only, a preset fills them, each box says
    what it means and a sensible range; the created DPO run's page says which phase it is in
    and draws smoothed curves over the raw ones; a failed run offers its log, not a model."""
    settings.CHORUS_MIN_GROUP_SIZE = 1
    page = browser_page
    page.goto(f"{live_server.url}/training/new/")
    assert page.locator("#id_hp_reward_margin_scale").is_visible()
    assert not page.locator("#id_hp_dpo_beta").is_visible()
    page.select_option("#id_kind", "dpo")
    assert page.locator("#id_hp_dpo_beta").is_visible()
    assert not page.locator("#id_hp_reward_margin_scale").is_visible()
    assert not page.locator("#id_per_group").is_visible()  # reward runs only
    assert not page.locator("#id_reward_run").is_visible()  # PPO/GRPO only
    beta = page.locator(".hp-field", has=page.locator("#id_hp_dpo_beta"))
    assert "Inverse temperature of the implicit reward" in beta.inner_text()
    assert "0.01 to 0.5" in beta.inner_text()  # a sensible range
    page.select_option("#id_preset", "demo")
    assert page.input_value("#id_hp_dpo_learning_rate") == "0.0005"
    assert page.input_value("#id_hp_dpo_max_steps") == "30"
    page.fill("#id_hp_dpo_beta", "0.2")
    page.fill("#id_name", "dpo from the demo preset")
    page.fill("#id_base_model", base_model_dir)
    page.select_option("#id_projects", label=judged_project.name)
    screenshot(page, "training-run-form-dpo-preset")
    page.click("form.run-form button[type=submit]")
    page.wait_for_url("**/training/*/")
    run = TrainingRun.objects.get()
    assert run.kind == "dpo" and run.config["beta"] == 0.2
    assert run.config["learning_rate"] == 0.0005 and run.config["max_steps"] == 30

    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, phase="ref_logps", step=0, total_steps=150,
        message="computing reference log-probs 120/400 pairs", heartbeat_at=timezone.now(),
        started_at=timezone.now(), worker_hostname="celery@gpu-1",
    )  # fmt: skip
    page.reload()
    status = page.locator("#live .status-line")
    assert status.inner_text() == "Computing reference log-probs 120/400 pairs"
    TrainingRun.objects.filter(pk=run.pk).update(phase="train", step=30, message="")
    add_points(run, range(1, 31))
    page.wait_for_function(
        "() => document.querySelector('#live .status-line').textContent.includes('Training step 30/150')",
        timeout=10_000,
    )
    assert page.locator("#live polyline.raw").count() == 2
    assert page.locator("#live polyline.smoothed").count() == 2
    screenshot(page, "training-run-dpo-training")
    page.select_option("#smoothing", "0.95")
    page.wait_for_url("**smoothing=0.95")
    assert page.locator("#smoothing").input_value() == "0.95"

    (run.run_dir / "trainer.log").write_text(
        "loading model\nstep 30 loss 0.52\nTraceback (most recent call last):\n"
        "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB\n"
    )
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.FAILED, finished_at=timezone.now(),
        error="The trainer exited with status 1.\n\nLast lines of trainer.log:\nRuntimeError: CUDA out of memory.",
    )  # fmt: skip
    page.wait_for_selector("#live .badge.status-failed", timeout=10_000)
    assert page.locator("text=Download model").count() == 0
    screenshot(page, "training-run-failed")
    page.click("#live .actions >> text=View the log")
    page.wait_for_url("**/log/")
    assert "CUDA out of memory" in page.locator(".log").inner_text()
    screenshot(page, "training-run-log")
