"""Prompt writing: labelers write prompts in a prompt-writing project; researchers and admins
review them. Accepting one writes it as a `Prompt` of the project (one user turn, external id
`written-<pk>`, through `annotation.services.items`), so generation jobs and live conversations
use accepted prompts like any other (the rejected and pending ones never leave this table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.models import (
    Project,
    ProjectKind,
    Role,
    WrittenPrompt,
    WrittenPromptStatus,
)
from annotation.services.items import NewPrompt, prompts_create

MAX_PROMPT = 20_000
MAX_TAGS = 10
MAX_TAG = 40


def _clean_tags(tags: Sequence[str]) -> list[str]:
    cleaned = sorted({t.strip().lower() for t in tags if t.strip()})
    if len(cleaned) > MAX_TAGS or any(len(t) > MAX_TAG for t in cleaned):
        raise ValidationError({"tags": f"At most {MAX_TAGS} tags of {MAX_TAG} characters."})
    return cleaned


def written_prompt_create(
    *, project: Project, author: Any, kind: str, text: str, tags: Sequence[str] = ()
) -> WrittenPrompt:
    """A labeler's prompt, waiting for review."""
    if project.kind != ProjectKind.PROMPT_WRITING:
        raise ValidationError({"project": "This project does not take written prompts."})
    text = text.strip()
    if not text:
        raise ValidationError({"text": "Write the prompt."})
    if len(text) > MAX_PROMPT:
        raise ValidationError({"text": f"At most {MAX_PROMPT} characters."})
    written = WrittenPrompt(
        project=project, author=author, kind=kind, text=text, tags=_clean_tags(tags)
    )
    written.full_clean()
    written.save()
    return written


@transaction.atomic
def written_prompt_review(
    *, written: WrittenPrompt, reviewer: Any, accept: bool, note: str = ""
) -> WrittenPrompt:
    """Accept (the prompt joins the project's prompts) or reject a pending prompt."""
    written = WrittenPrompt.objects.select_for_update().get(pk=written.pk)
    if written.status != WrittenPromptStatus.PENDING:
        raise ValidationError({"status": "This prompt was already reviewed."})
    if not accept and not note.strip():
        raise ValidationError({"note": "Say why the prompt is rejected (the author reads it)."})
    written.status = WrittenPromptStatus.ACCEPTED if accept else WrittenPromptStatus.REJECTED
    written.reviewed_by, written.reviewed_at = reviewer, timezone.now()
    written.review_note = note.strip()[:500]
    if accept:
        (written.prompt,) = prompts_create(
            project=written.project,
            prompts=[
                NewPrompt(turns=((Role.USER, written.text),), external_id=f"written-{written.pk}")
            ],
        )
    written.full_clean()
    written.save()
    return written
