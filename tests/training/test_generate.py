"""Local generation and reward scoring with a tiny real model (imports torch: slow)."""

from __future__ import annotations

import pytest

from training.ml.config import SamplingSettings
from training.ml.generate import generate_local, load_causal_lm

pytestmark = pytest.mark.slow

PROMPTS = [
    [{"role": "user", "content": "hello cat"}],
    [{"role": "user", "content": "why is the sun red and the moon blue"}],
    [{"role": "system", "content": "be kind"}, {"role": "user", "content": "help me"}],
]


def test_k_samples_per_prompt_in_prompt_order_with_progress(tiny_base_model):
    seen = []
    settings = SamplingSettings(max_new_tokens=6, batch_size=4, seed=1)
    out = generate_local(
        tiny_base_model, PROMPTS, 3, settings, on_batch=lambda d, t: seen.append((d, t))
    )
    assert [(g.prompt_index, g.sample) for g in out] == [(p, s) for p in range(3) for s in range(3)]
    assert all(0 < g.tokens <= 6 and "\x00" not in g.text for g in out)
    assert seen == [(4, 9), (8, 9), (9, 9)]


def test_the_same_seed_gives_the_same_samples_and_greedy_is_deterministic(tiny_base_model):
    loaded = load_causal_lm(tiny_base_model)
    sampled = SamplingSettings(max_new_tokens=8, batch_size=2, seed=7, temperature=0.9, top_p=0.95)
    first = generate_local(loaded, PROMPTS, 2, sampled)
    assert first == generate_local(loaded, PROMPTS, 2, sampled)
    greedy = generate_local(loaded, PROMPTS, 2, SamplingSettings(max_new_tokens=8, temperature=0))
    assert greedy[0].text == greedy[1].text  # no sampling: both samples are the argmax path


def test_batching_does_not_change_greedy_output(tiny_base_model):
    loaded = load_causal_lm(tiny_base_model)
    one = generate_local(
        loaded, PROMPTS, 1, SamplingSettings(max_new_tokens=8, temperature=0, batch_size=1)
    )
    many = generate_local(
        loaded, PROMPTS, 1, SamplingSettings(max_new_tokens=8, temperature=0, batch_size=8)
    )
    assert [g.text for g in one] == [g.text for g in many]


def test_reward_scores_are_one_per_pair_in_order(tiny_base_model):
    from training.ml.score import score_local

    pairs = [
        (PROMPTS[0], "the cat is happy"),
        (PROMPTS[1], "sad"),
        (PROMPTS[0], "the cat is happy"),
    ]
    scores = score_local(tiny_base_model, pairs, batch_size=2)
    assert len(scores) == 3 and scores[0] == pytest.approx(scores[2], abs=1e-5)


@pytest.mark.django_db
def test_a_job_scores_its_candidates_with_a_reward_model_and_the_report_compares_groups(
    researcher, labeler, other_labeler, groups, tiny_base_model, tmp_path, settings
):
    """Real generation and real reward scoring, in-process: every new completion gets a score,
    and the agreement of the reward model with each group is computed from them."""
    from tests.factories import ProjectFactory, PromptFactory
    from tests.training.conftest import judge
    from tests.training.fixtures import finished_run
    from training.models import CompletionScore, RunKind
    from training.selectors.evaluation import reward_agreement
    from training.services.generation import generation_job_create, generation_job_execute

    settings.CHORUS_MIN_GROUP_SIZE = 1
    reward = finished_run(tmp_path, kind=RunKind.REWARD, name="rm")
    reward.artifacts_dir = tiny_base_model  # a (random) scalar head on the tiny model
    reward.save()
    project = ProjectFactory(created_by=researcher)
    for noun in ("cat", "dog", "sun"):
        PromptFactory(project=project, turns=[("user", f"tell me about the {noun}")])
    job = generation_job_create(
        created_by=researcher, project=project, sources=[{"model": tiny_base_model}],
        samples_per_prompt=2, sampling={"max_new_tokens": 6}, reward_run=reward,
    )  # fmt: skip
    generation_job_execute(job_id=job.pk, hostname="test")
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert CompletionScore.objects.filter(reward_run=reward).count() == 6
    for item in project.items.all():
        judge(item, labeler, "a")
        judge(item, other_labeler, "b")
    result = reward_agreement(project, reward)
    rates = {g["group"]: g["rate"] for g in result["groups"]}
    assert result["overall"]["n"] == 6 and rates["young"] + rates["senior"] == pytest.approx(1.0)
