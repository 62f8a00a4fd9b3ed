"""Review and adjudication: send items to a reviewer, record the adjudicated answer.

An adjudication is kept apart from the labelers' judgments (annotation.models.review). What it
is used for is the project's `adjudication_use`:
- "apart": recorded only;
- "gold": deciding makes the item a gold item with the adjudicated answer (it then scores the
  labelers who judged it, like any gold item: the report's gold accuracy);
- "training": training datasets take the item's rows from the adjudication alone
  (training.datasets), not from the labelers' judgments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.models import (
    Adjudication,
    AdjudicationStatus,
    AdjudicationUse,
    Item,
    ItemPurpose,
    Project,
    ProjectKind,
    ReviewReason,
)
from annotation.roles import is_admin, is_labeler


def _reviewer_check(reviewer: Any) -> None:
    if reviewer is not None and not (is_labeler(reviewer) or is_admin(reviewer)):
        raise ValidationError({"reviewer": "A reviewer is a labeler or an admin."})


@transaction.atomic
def adjudications_request(
    *,
    project: Project,
    item_ids: Sequence[int],
    reason: str = ReviewReason.MANUAL,
    reviewer: Any = None,
    requested_by: Any,
) -> list[Adjudication]:
    """Send items to review (a pending adjudication each; `reviewer` empty: any admin). An item
    already in review is handed to the new reviewer if it is still pending, and left as it is
    once adjudicated."""
    if project.kind == ProjectKind.DEMONSTRATION:
        raise ValidationError({"items": "Demonstrations have no answer to adjudicate."})
    if reason not in ReviewReason.values:
        raise ValidationError({"reason": f"One of {', '.join(ReviewReason.values)}."})
    _reviewer_check(reviewer)
    items = list(Item.objects.filter(project=project, pk__in=item_ids))
    if not items or len(items) != len(set(item_ids)):
        raise ValidationError({"items": "Pick items of this project."})
    made = []
    for item in items:
        adjudication, created = Adjudication.objects.get_or_create(
            item=item,
            defaults={"reason": reason, "reviewer": reviewer, "requested_by": requested_by},
        )
        if not created and adjudication.status == AdjudicationStatus.PENDING:
            adjudication.reviewer = reviewer
            adjudication.save(update_fields=["reviewer"])
        made.append(adjudication)
    return made


@transaction.atomic
def adjudication_decide(
    *, adjudication: Adjudication, best_position: int, note: str = "", decided_by: Any
) -> Adjudication:
    """Record the adjudicated answer (it may be changed later) and apply the project's use."""
    item = Item.objects.select_for_update().select_related("project").get(pk=adjudication.item_id)
    project = item.project
    if not 0 <= best_position < item.slots.count():
        raise ValidationError({"best_position": "Not a response of this item."})
    adjudication.best_position = best_position
    adjudication.note = note
    adjudication.status = AdjudicationStatus.DONE
    adjudication.decided_by = decided_by
    adjudication.decided_at = timezone.now()
    adjudication.full_clean(exclude=["item", "reviewer", "requested_by", "decided_by"])
    adjudication.save()
    if project.adjudication_use == AdjudicationUse.GOLD:
        if item.purpose == ItemPurpose.REGULAR:
            item.purpose = ItemPurpose.GOLD
        item.gold_best_position = best_position
        item.save(update_fields=["purpose", "gold_best_position"])
    return adjudication


def project_adjudication_use_set(*, project: Project, use: str) -> Project:
    """Choose what the project's adjudicated answers are for (see the module docstring)."""
    project.adjudication_use = use
    project.full_clean(exclude=["labelers"])
    project.save(update_fields=["adjudication_use"])
    return project
