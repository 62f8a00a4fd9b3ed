"""services.items: the one writer of prompts, completions, items and slots."""

import pytest
from django.core.exceptions import ValidationError

from annotation.models import ItemCompletion, Turn
from annotation.services.items import (
    NewCompletion,
    NewItem,
    NewPrompt,
    completions_create,
    items_create,
    prompts_copy,
    prompts_create,
)
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def _prompt_with_two(project):  # noqa: ANN001, ANN202
    (prompt,) = prompts_create(
        project=project, prompts=[NewPrompt(turns=(("user", "hi?"),), external_id="p1")]
    )
    completions = completions_create(
        completions=[NewCompletion(prompt_id=prompt.pk, text=t) for t in ("A", "B")]
    )
    return prompt, completions


def test_prompts_keep_their_order_turns_and_cut_external_ids():
    project = ProjectFactory()
    made = prompts_create(
        project=project,
        prompts=[
            NewPrompt(turns=(("system", "be brief"), ("user", "one?")), external_id="x" * 250),
            NewPrompt(turns=(("user", "two?"),)),
        ],
    )
    assert [list(p.turns.values_list("position", "role", "content")) for p in made] == [
        [(0, "system", "be brief"), (1, "user", "one?")],
        [(0, "user", "two?")],
    ]
    assert len(made[0].external_id) == 200 and made[1].external_id == ""


def test_an_unknown_role_writes_nothing():
    project = ProjectFactory()
    with pytest.raises(ValidationError):
        prompts_create(project=project, prompts=[NewPrompt(turns=(("robot", "beep"),))])
    assert not project.prompts.exists() and not Turn.objects.exists()


def test_copies_carry_the_conversation_and_name_their_original():
    source, target = ProjectFactory(), ProjectFactory()
    originals = prompts_create(
        project=source,
        prompts=[NewPrompt(turns=(("user", f"q{i}"), ("assistant", "a"), ("user", "and?"))) for i in range(2)],
    )  # fmt: skip
    copies = prompts_copy(project=target, prompts=list(reversed(originals)))
    assert [c.external_id for c in copies] == [f"copy-of-{p.pk}" for p in originals]
    assert [list(c.turns.values_list("role", "content")) for c in copies] == [
        list(p.turns.values_list("role", "content")) for p in originals
    ]
    assert all(c.project_id == target.pk for c in copies)


def test_items_get_their_slots_in_the_given_order():
    project = ProjectFactory()
    prompt, (a, b) = _prompt_with_two(project)
    (item,) = items_create(
        project=project,
        items=[NewItem(prompt_id=prompt.pk, completions=(b, a), purpose="gold", gold_best_position=1)],
    )  # fmt: skip
    slots = ItemCompletion.objects.filter(item=item).order_by("position")
    assert [s.completion_id for s in slots] == [b.pk, a.pk]
    assert (item.purpose, item.gold_best_position, item.prompt_id) == ("gold", 1, prompt.pk)


def test_an_item_takes_only_its_own_prompts_completions_in_its_own_project():
    project, other = ProjectFactory(), ProjectFactory()
    prompt, (a, _) = _prompt_with_two(project)
    elsewhere, (c, _) = _prompt_with_two(other)
    with pytest.raises(ValidationError, match="answer its prompt"):
        items_create(project=project, items=[NewItem(prompt_id=prompt.pk, completions=(a, c))])
    with pytest.raises(ValidationError, match="belongs to its project"):
        items_create(project=project, items=[NewItem(prompt_id=elsewhere.pk, completions=(c,))])
    assert not project.items.exists() and not other.items.exists()
