"""Labelers' judgments and skips: stored exactly once, in canonical positions.

Labelers answer in *display* terms ("Response 1", the scale as they saw it); `judgment_submit`
maps everything to canonical positions through the reservation's `display_order`.
Submitting is idempotent on `client_key`: a retry returns the stored judgment and writes nothing.

Each judgment records the labeler's groups when it is saved (`Judgment.labeler_group_ids`,
issue 11), so training snapshots use the membership of the moment of judging and later edits of
attributes, rules or members do not rewrite history. It costs one query per submit
(`selectors.labelers.labeler_group_ids`), made before the item's lock is taken.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from annotation import assignment
from annotation.models import (
    CompletionFlag,
    CriterionRating,
    FlagKind,
    Item,
    ItemPurpose,
    Judgment,
    JudgmentRank,
    PairwiseChoice,
    ProjectKind,
    Reservation,
    Skip,
)
from annotation.selectors.compiled import model_from_row
from annotation.selectors.labelers import labeler_group_ids
from annotation.selectors.labeling import label_criteria, labeling_facts
from annotation.services.inserts import insert_new
from annotation.services.queue import item_takes_late_judgment
from annotation.services.screening import screening_update

MAX_TEXT = 20_000
OUTCOMES = (PairwiseChoice.TIE, PairwiseChoice.BOTH_BAD)


class JudgmentConflict(Exception):
    """The judgment is fine but cannot be stored now; `code` says why (see CONFLICTS)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


CONFLICTS = {
    "not_reserved": "This item was not assigned to you. Ask for the next item first.",
    "already_judged": "You have already judged this item.",
    "no_longer_needed": "Your reservation expired and the item meanwhile got all the judgments it needs, "
    "so this judgment was not stored.",
    "guidelines_changed": "The guidelines changed while you worked. Read the new version, then submit again.",
}
UNTOUCHED = (
    "Put the responses in your order first: move at least one, or confirm that the order shown "
    "is your ranking."
)


def _lock(item: Item) -> None:
    """Lock the item's row: every write that changes who holds or judged an item goes through it."""
    Item.objects.select_for_update().filter(pk=item.pk).values_list("pk", flat=True).get()


def _conflict(code: str) -> JudgmentConflict:
    return JudgmentConflict(code, CONFLICTS[code])


@dataclass(frozen=True)
class Rating:
    criterion_id: int
    response: int  # the number the labeler saw: Response 1, 2, ...
    value: int


@dataclass(frozen=True)
class Flag:
    response: int  # the number the labeler saw
    flag: str


@dataclass(frozen=True)
class SubmitResult:
    judgment: Judgment
    created: bool  # False when the client key had already been stored (a retry)


def _stored(labeler: Any, item: Item, client_key: uuid.UUID) -> Judgment | None:
    """The labeler's judgment of this item or with this client key, if any (with its guidelines
    version); a key already used for another item is an error."""
    rows = (
        Judgment.objects.filter(Q(item=item) | Q(client_key=client_key), labeler=labeler)
        .select_related("guideline_version")
        .order_by("pk")
    )
    for stored in rows:
        if stored.client_key == client_key and stored.item_id != item.pk:
            raise ValidationError(
                {"client_key": ["This client key was already used for another item."]}
            )
    return next(iter(rows), None)


def _execute(sql: str, params: list[Any]) -> int:
    """Run one statement; the number of rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _replay_or_conflict(stored: Judgment | None, client_key: uuid.UUID) -> SubmitResult:
    """The stored judgment if this is a retry of it, else why the item cannot take this one."""
    if stored is not None and stored.client_key == client_key:
        return SubmitResult(stored, created=False)
    raise _conflict("already_judged" if stored is not None else "not_reserved")


def _check_choice(kind: str, choice: int | str | None, errors: dict[str, list[str]]) -> None:
    if kind != ProjectKind.PAIRWISE:
        if choice not in (None, ""):
            errors["choice"] = ["Only pairwise projects take a choice."]
        return
    if choice in (None, ""):
        errors["choice"] = ["Pick a point on the scale (1-8), tie or both bad."]
    elif choice not in OUTCOMES and not (isinstance(choice, int) and 1 <= choice <= 8):
        errors["choice"] = [f"{choice!r} is not 1-8, 'tie' or 'both_bad'."]


def _check_ranks(
    kind: str, ranks: Sequence[int] | None, size: int, errors: dict[str, list[str]]
) -> None:
    if kind != ProjectKind.RANKING:
        if ranks:
            errors["ranks"] = ["Only ranking projects take ranks."]
        return
    if not ranks or len(ranks) != size:
        errors["ranks"] = [f"Give one rank per response: {size} ranks, Response 1's first."]
    elif any(not 1 <= r <= size for r in ranks):
        errors["ranks"] = [f"Ranks run from 1 (best) to {size}."]
    elif sorted(set(ranks)) != list(range(1, max(ranks) + 1)):
        errors["ranks"] = [
            "Ranks must have no gaps: tied responses share a rank, the next rank follows it."
        ]


def _check_texts(
    item: Item, *, demonstration: str, rationale: str, errors: dict[str, list[str]]
) -> None:
    project = item.project
    if project.kind == ProjectKind.DEMONSTRATION and not demonstration.strip():
        errors["demonstration"] = ["Write the ideal response."]
    elif project.kind != ProjectKind.DEMONSTRATION and demonstration:
        errors["demonstration"] = ["Only demonstration projects take a written response."]
    if project.rationale_required and not rationale.strip():
        errors["rationale"] = ["This project asks for a rationale with every judgment."]
    for name, text in (("demonstration", demonstration), ("rationale", rationale)):
        if len(text) > MAX_TEXT:
            errors[name] = [f"At most {MAX_TEXT} characters."]


def _check_ratings(
    item: Item, ratings: Sequence[Rating], size: int, errors: dict[str, list[str]]
) -> None:
    criteria = {c["id"]: c for c in label_criteria(item.project)} if ratings else {}
    seen: set[tuple[int, int]] = set()
    for rating in ratings:
        criterion = criteria.get(rating.criterion_id)
        if criterion is None:
            errors["ratings"] = [
                f"Criterion {rating.criterion_id} is not part of this project's rubric."
            ]
            continue
        name, low, high = criterion["name"], criterion["scale_min"], criterion["scale_max"]
        if not 1 <= rating.response <= size:
            errors["ratings"] = [f"Response {rating.response} does not exist (1-{size})."]
        elif not low <= rating.value <= high:
            errors["ratings"] = [f"{name} runs from {low} to {high}."]
        elif (rating.criterion_id, rating.response) in seen:
            errors["ratings"] = [f"{name} is rated twice for Response {rating.response}."]
        seen.add((rating.criterion_id, rating.response))


def _check_flags(flags: Sequence[Flag], size: int, errors: dict[str, list[str]]) -> None:
    for flag in flags:
        if not 1 <= flag.response <= size:
            errors["flags"] = [f"Response {flag.response} does not exist (1-{size})."]
        elif flag.flag not in FlagKind.values:
            errors["flags"] = [
                f"{flag.flag!r} is not a flag; choose from {', '.join(FlagKind.values)}."
            ]


def _canonical_choice(choice: int | str | None, order: list[int]) -> tuple[str, int | None]:
    if choice is None or choice == "":
        return "", None
    if choice in OUTCOMES:
        return str(choice), None
    scale = assignment.to_canonical_scale(int(choice), order)
    return (PairwiseChoice.A if scale <= 4 else PairwiseChoice.B), scale


def _validate(
    item: Item,
    size: int,
    *,
    choice: int | str | None,
    ranks: Sequence[int] | None,
    none_acceptable: bool,
    demonstration: str,
    rationale: str,
    ratings: Sequence[Rating],
    flags: Sequence[Flag],
    seconds_spent: float | None,
    ranking_touched: bool | None = None,
) -> None:
    """Raise ValidationError naming every field that is wrong for this item's project.
    `ranking_touched` False (the labeler left the shown order as it was) refuses a ranking;
    None is "not said" (services and imports that have no shown order)."""
    errors: dict[str, list[str]] = {}
    _check_choice(item.project.kind, choice, errors)
    _check_ranks(item.project.kind, ranks, size, errors)
    if ranking_touched is False and item.project.kind == ProjectKind.RANKING:
        errors["ranking_touched"] = [UNTOUCHED]
    _check_texts(item, demonstration=demonstration, rationale=rationale, errors=errors)
    _check_ratings(item, ratings, size, errors)
    _check_flags(flags, size, errors)
    if none_acceptable and item.project.kind != ProjectKind.RANKING:
        errors["none_acceptable"] = [
            "Only ranking projects take 'none acceptable'; use 'both bad' for pairs."
        ]
    if seconds_spent is not None and not 0 <= seconds_spent <= 86_400:
        errors["seconds_spent"] = ["Between 0 and 86400 seconds."]
    if errors:
        raise ValidationError(errors)


def _judgment_clean(judgment: Judgment) -> None:
    # Its relations were just read (the item under lock); the unique and check constraints are
    # enforced by the database in this transaction and were checked above, so full_clean
    # validates the fields only, sparing a dozen queries on the busiest write path.
    judgment.full_clean(
        exclude=["item", "project", "labeler", "guideline_version"],
        validate_unique=False,
        validate_constraints=False,
    )


def _judgment_save(judgment: Judgment) -> Judgment:
    _judgment_clean(judgment)
    judgment.save()
    return judgment


def _store_details(
    judgment: Judgment,
    order: list[int],
    ranks: Sequence[int] | None,
    ratings: Sequence[Rating],
    flags: Sequence[Flag],
) -> None:
    rows: list[Any] = [
        JudgmentRank(judgment=judgment, position=order[i], rank=r)
        for i, r in enumerate(ranks or [])
    ]
    rows += [
        CriterionRating(
            judgment=judgment,
            criterion_id=r.criterion_id,
            position=order[r.response - 1],
            value=r.value,
        )
        for r in ratings
    ]
    rows += [
        CompletionFlag(judgment=judgment, position=order[position - 1], flag=flag)
        for position, flag in sorted({(f.response, f.flag) for f in flags})
    ]
    for row in rows:
        # The parent was saved just now and criteria were checked against the project above;
        # duplicates were rejected above and the database constraints still hold the line.
        row.full_clean(
            exclude=["judgment", "criterion"], validate_unique=False, validate_constraints=False
        )
    for model in (JudgmentRank, CriterionRating, CompletionFlag):
        insert_new([row for row in rows if isinstance(row, model)])


def judgment_submit(
    *,
    labeler: Any,
    item: Item,
    client_key: uuid.UUID,
    choice: int | str | None = None,
    ranks: Sequence[int] | None = None,
    none_acceptable: bool = False,
    demonstration: str = "",
    rationale: str = "",
    ratings: Sequence[Rating] = (),
    flags: Sequence[Flag] = (),
    seconds_spent: float | None = None,
    guideline_version: int | None = None,
    ranking_touched: bool | None = None,
    now: datetime | None = None,
) -> SubmitResult:
    """Store a labeler's judgment of a reserved item, given in display terms.

    Raises ValidationError (a dict naming the fields) for bad input, a ranking left untouched
    (`ranking_touched` False) included, and JudgmentConflict when the item cannot take the
    judgment (not reserved, already judged, no longer needed, guidelines changed).

    The usual case is four statements in one transaction: count (the UPDATE takes the item's row
    lock), take the reservation (DELETE ... RETURNING: no reservation means a retry, or judged or
    skipped meanwhile), the judgment, its details. Anything that stops it rolls all back.
    """
    answer = Answer(
        client_key=client_key, choice=choice, ranks=ranks, none_acceptable=none_acceptable,
        demonstration=demonstration, rationale=rationale, ratings=ratings, flags=flags,
        seconds_spent=seconds_spent, guideline_version=guideline_version,
        ranking_touched=ranking_touched,
    )  # fmt: skip
    now = now or timezone.now()
    item.project = labeling_facts(item.project)
    group_ids = labeler_group_ids(labeler.pk)  # one query; outside the item's lock
    try:
        with transaction.atomic():
            return _store_reserved(item, labeler, answer, group_ids=group_ids, now=now)
    except _NotHeld as why:  # rolled back: nothing was written
        if not why.expired:  # a retry of a stored judgment, or judged or skipped meanwhile
            return _replay_or_conflict(_stored(labeler, item, client_key), client_key)
    except IntegrityError as error:  # rolled back: a concurrent retry won, or another judgment
        return _after_integrity_error(labeler, item, client_key, error)
    return _submit_late(item, labeler, answer, group_ids=group_ids, now=now)


@dataclass(frozen=True)
class Answer:
    """What the labeler sent, in display terms (judgment_submit's arguments)."""

    client_key: uuid.UUID
    choice: int | str | None
    ranks: Sequence[int] | None
    none_acceptable: bool
    demonstration: str
    rationale: str
    ratings: Sequence[Rating]
    flags: Sequence[Flag]
    seconds_spent: float | None
    guideline_version: int | None
    ranking_touched: bool | None = None  # False: a ranking left in the shown order (refused)


class _NotHeld(Exception):
    """Raised to roll back: the labeler holds no reservation of the item (`expired` False) or
    an expired one (True: the late-judgment path decides)."""

    def __init__(self, expired: bool):
        super().__init__()
        self.expired = expired


def _after_integrity_error(
    labeler: Any, item: Item, client_key: uuid.UUID, error: IntegrityError
) -> SubmitResult:
    stored = _stored(labeler, item, client_key)
    if stored is None:
        raise error
    return _replay_or_conflict(stored, client_key)


def _take_reservation(item: Item, labeler: Any) -> Reservation | None:
    """Delete the labeler's reservation of the item and return it (None when there is none)."""
    fields = Reservation._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(
            f"""DELETE FROM annotation_reservation WHERE item_id = %s AND labeler_id = %s
            RETURNING {", ".join(f.column for f in fields)}""",
            [item.pk, labeler.pk],
        )
        row = cursor.fetchone()
    return model_from_row(Reservation, row) if row is not None else None


def _store_reserved(
    item: Item, labeler: Any, answer: Answer, *, group_ids: list[int], now: datetime
) -> SubmitResult:
    """Inside the transaction: count, take the reservation, check, store."""
    _count_one(item)
    reservation = _take_reservation(item, labeler)
    if reservation is None or reservation.expires_at <= now:
        raise _NotHeld(expired=reservation is not None)
    judgment = _checked_judgment(item, labeler, reservation, answer, group_ids=group_ids, now=now)
    _store_judgment(judgment, answer)
    return SubmitResult(judgment, created=True)


def _count_one(item: Item) -> None:
    """One judgment more on the item; the UPDATE takes (or holds) the item's row lock."""
    _execute(
        """UPDATE annotation_item SET human_judgment_count = human_judgment_count + 1
        WHERE id = %s""",
        [item.pk],
    )


def _checked_judgment(
    item: Item,
    labeler: Any,
    reservation: Reservation,
    answer: Answer,
    *,
    group_ids: list[int],
    now: datetime,
) -> Judgment:
    """The judgment in canonical positions, once the answer is valid for the item and made under
    the current guidelines; raises ValidationError or JudgmentConflict."""
    order = list(reservation.display_order)
    _validate(
        item, len(order), choice=answer.choice, ranks=answer.ranks,
        none_acceptable=answer.none_acceptable, demonstration=answer.demonstration,
        rationale=answer.rationale, ratings=answer.ratings, flags=answer.flags,
        seconds_spent=answer.seconds_spent, ranking_touched=answer.ranking_touched,
    )  # fmt: skip
    project, read = item.project, answer.guideline_version
    current = project.current_guideline_version
    if read is not None and current is not None and read != current:
        raise _conflict("guidelines_changed")
    pairwise_choice, scale = _canonical_choice(answer.choice, order)
    seconds = answer.seconds_spent
    return Judgment(
        item=item, project_id=item.project_id, labeler=labeler,
        guideline_version_id=project.current_guideline_id,
        pairwise_choice=pairwise_choice, scale=scale, none_acceptable=answer.none_acceptable,
        demonstration=answer.demonstration, rationale=answer.rationale, display_order=order,
        seconds_spent=seconds if seconds is not None
        else (now - reservation.created_at).total_seconds(),
        client_key=answer.client_key, labeler_group_ids=group_ids,
    )  # fmt: skip


def _store_judgment(judgment: Judgment, answer: Answer) -> None:
    _judgment_clean(judgment)
    insert_new([judgment])  # its project is set (_checked_judgment): Judgment.save adds nothing
    _store_details(judgment, judgment.display_order, answer.ranks, answer.ratings, answer.flags)
    if judgment.item.purpose == ItemPurpose.SCREENING:
        screening_update(project=judgment.item.project, labeler=judgment.labeler)


def _submit_late(
    item: Item, labeler: Any, answer: Answer, *, group_ids: list[int], now: datetime
) -> SubmitResult:
    """The reservation had expired: store the judgment only if the item still takes it, counted
    afresh under the item's lock before the count changes."""
    try:
        with transaction.atomic():
            _lock(item)
            reservation = _take_reservation(item, labeler)
            if reservation is None:
                raise _NotHeld(expired=False)
            judgment = _checked_judgment(
                item, labeler, reservation, answer, group_ids=group_ids, now=now
            )
            if not item_takes_late_judgment(item=item, labeler=labeler, now=now):
                raise _conflict("no_longer_needed")
            _count_one(item)
            _store_judgment(judgment, answer)
    except _NotHeld:
        return _replay_or_conflict(_stored(labeler, item, answer.client_key), answer.client_key)
    except IntegrityError as error:
        return _after_integrity_error(labeler, item, answer.client_key, error)
    return SubmitResult(judgment, created=True)


def skip_create(*, labeler: Any, item: Item, reason: str) -> Skip:
    """Skip a reserved item with a reason; the item goes back to the queue for others."""
    reason = reason.strip()
    if not reason:
        raise ValidationError({"reason": ["Say why you skip this item."]})
    with transaction.atomic():
        _lock(item)  # a concurrent retry of this skip waits here, then finds it
        existing = Skip.objects.filter(item=item, labeler=labeler).first()
        if existing is not None:
            return existing
        if item.judgments.filter(labeler=labeler).exists():
            raise _conflict("already_judged")
        if not Reservation.objects.filter(item=item, labeler=labeler).exists():
            raise _conflict("not_reserved")
        skip = Skip(item=item, labeler=labeler, reason=reason)
        skip.full_clean()
        skip.save()
        Reservation.objects.filter(item=item, labeler=labeler).delete()
    return skip
