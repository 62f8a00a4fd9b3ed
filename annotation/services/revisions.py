"""Changing a judgment: a labeler goes back to a judgment of theirs and changes it while the
project's edit window is open (`Project.edit_window_minutes` after submitting; 0 = never).

The judgment row is changed in place, so it always holds the version that counts: agreement,
reports, exports and training rows read only it. The version it replaces is kept as a
`JudgmentRevision` (who changed it, when, and the earlier answers in canonical positions);
`Judgment.revision` counts the versions and `edited_at` says when the last change was made.
A change is idempotent on its own `client_key`: a retry finds its revision and writes nothing.
The item's judgment count does not move (it is still one labeler's one judgment).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.models import (
    CompletionFlag,
    CriterionRating,
    ItemPurpose,
    Judgment,
    JudgmentRank,
    JudgmentRevision,
)
from annotation.selectors.edits import editable_until
from annotation.services.judgments import (
    Flag,
    Rating,
    _canonical_choice,
    _judgment_save,
    _store_details,
    _validate,
)
from annotation.services.screening import screening_update


@dataclass(frozen=True)
class EditResult:
    judgment: Judgment
    created: bool  # False when this change's client key had already been stored (a retry)


def _check_window(judgment: Judgment, labeler: Any, now: datetime) -> None:
    if judgment.labeler_id != labeler.pk:
        raise ValidationError({"judgment": ["You can only change your own judgments."]})
    until = editable_until(judgment)
    if until is None:
        raise ValidationError({"judgment": ["This project does not allow changing judgments."]})
    if now > until:
        minutes = judgment.item.project.edit_window_minutes
        raise ValidationError(
            {
                "judgment": [
                    f"Judgments can be changed for {minutes} minutes after submitting; "
                    "this one can no longer be changed."
                ]
            }
        )


def _payload(judgment: Judgment) -> dict[str, Any]:
    """The judgment's current answers in canonical positions, as a revision keeps them."""
    return {
        "pairwise_choice": judgment.pairwise_choice,
        "scale": judgment.scale,
        "none_acceptable": judgment.none_acceptable,
        "demonstration": judgment.demonstration,
        "rationale": judgment.rationale,
        "ranks": list(judgment.ranks.order_by("position").values_list("position", "rank")),
        "ratings": list(
            judgment.ratings.order_by("criterion_id", "position").values_list(
                "criterion_id", "position", "value"
            )
        ),
        "flags": list(judgment.flags.order_by("position", "flag").values_list("position", "flag")),
    }


def _replayed(judgment: Judgment, client_key: uuid.UUID) -> bool:
    return JudgmentRevision.objects.filter(judgment=judgment, client_key=client_key).exists()


def judgment_edit(
    *,
    labeler: Any,
    judgment: Judgment,
    client_key: uuid.UUID,
    choice: int | str | None = None,
    ranks: Sequence[int] | None = None,
    none_acceptable: bool = False,
    demonstration: str = "",
    rationale: str = "",
    ratings: Sequence[Rating] = (),
    flags: Sequence[Flag] = (),
    now: datetime | None = None,
) -> EditResult:
    """Replace the labeler's judgment with new answers given in display terms (the order they
    saw it in, `judgment.display_order`), keeping the replaced version as a revision.

    Raises ValidationError naming the field: `judgment` when it is not theirs or the window is
    closed, the answer fields as `judgment_submit` does."""
    now = now or timezone.now()
    if _replayed(judgment, client_key):
        return EditResult(judgment, created=False)
    _check_window(judgment, labeler, now)
    order = list(judgment.display_order)
    _validate(
        judgment.item, len(order), choice=choice, ranks=ranks, none_acceptable=none_acceptable,
        demonstration=demonstration, rationale=rationale, ratings=ratings, flags=flags,
        seconds_spent=None,
    )  # fmt: skip
    pairwise_choice, scale = _canonical_choice(choice, order)
    answers = {
        "pairwise_choice": pairwise_choice, "scale": scale, "none_acceptable": none_acceptable,
        "demonstration": demonstration, "rationale": rationale,
    }  # fmt: skip
    try:
        with transaction.atomic():
            _replace(judgment, labeler, client_key, answers, now=now)
            _store_details(judgment, order, ranks, ratings, flags)
    except IntegrityError:  # a concurrent retry of this change stored it first
        if not _replayed(judgment, client_key):
            raise
        judgment.refresh_from_db()
        return EditResult(judgment, created=False)
    if judgment.item.purpose == ItemPurpose.SCREENING:
        screening_update(project=judgment.item.project, labeler=labeler)
    return EditResult(judgment, created=True)


def _replace(
    judgment: Judgment,
    labeler: Any,
    client_key: uuid.UUID,
    answers: dict[str, Any],
    *,
    now: datetime,
) -> None:
    """Keep the current version as a revision, then write the new answers over it (the judgment's
    row locked, so two changes at once are made one after the other)."""
    Judgment.objects.select_for_update().filter(pk=judgment.pk).values_list("pk").get()
    judgment.refresh_from_db(fields=["revision", "edited_at", "created_at"])
    revision = JudgmentRevision(
        judgment=judgment, revision=judgment.revision, payload=_payload(judgment),
        made_at=judgment.edited_at or judgment.created_at, replaced_at=now,
        edited_by=labeler, client_key=client_key,
    )  # fmt: skip
    revision.full_clean(
        exclude=["judgment", "edited_by"], validate_unique=False, validate_constraints=False
    )
    revision.save()
    for model in (JudgmentRank, CriterionRating, CompletionFlag):
        model.objects.filter(judgment=judgment).delete()
    for name, value in answers.items():
        setattr(judgment, name, value)
    judgment.revision += 1
    judgment.edited_at = now
    _judgment_save(judgment)
