"""Prompt writing: labelers write, reviewers accept (the prompt joins the project) or reject."""

import pytest
from django.core.exceptions import ValidationError

from annotation.models import Prompt, WrittenPromptStatus
from annotation.services.written import written_prompt_create, written_prompt_review
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def test_accept_makes_a_prompt_and_reject_needs_a_note(labeler, researcher):
    project = ProjectFactory(kind="prompt_writing")
    first = written_prompt_create(
        project=project, author=labeler, kind="few_shot", text="  Translate: cat -> chat  ",
        tags=["French", " french", "", "lang"],
    )  # fmt: skip
    assert first.text == "Translate: cat -> chat" and first.tags == ["french", "lang"]
    written_prompt_review(written=first, reviewer=researcher, accept=True)
    first.refresh_from_db()
    assert first.status == WrittenPromptStatus.ACCEPTED and first.reviewed_at is not None
    (turn,) = first.prompt.turns.all()
    assert (turn.role, turn.content) == ("user", "Translate: cat -> chat")
    assert first.prompt.project == project and first.prompt.external_id == f"written-{first.pk}"
    with pytest.raises(ValidationError, match="already reviewed"):
        written_prompt_review(written=first, reviewer=researcher, accept=False, note="no")

    second = written_prompt_create(project=project, author=labeler, kind="plain", text="Hi")
    with pytest.raises(ValidationError) as exc:
        written_prompt_review(written=second, reviewer=researcher, accept=False)
    assert "note" in exc.value.message_dict
    written_prompt_review(written=second, reviewer=researcher, accept=False, note="Too short")
    assert Prompt.objects.filter(project=project).count() == 1


def test_bad_input_names_the_field(labeler):
    writing, pairwise = ProjectFactory(kind="prompt_writing"), ProjectFactory()
    cases = [
        (dict(project=pairwise, kind="plain", text="x"), "project"),
        (dict(project=writing, kind="plain", text="   "), "text"),
        (dict(project=writing, kind="poem", text="x"), "kind"),
        (
            dict(
                project=writing,
                kind="plain",
                text="x",
                tags=["t"] * 0 + [str(i) for i in range(11)],
            ),
            "tags",
        ),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValidationError) as exc:
            written_prompt_create(author=labeler, **kwargs)
        assert name in exc.value.message_dict
