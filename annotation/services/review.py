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

from django.contrib.auth import get_user_model
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
from annotation.services.items import (
    item_stats_refresh,
    items_exclude_from_training,
    items_mark_gold,
    items_requeue,
)


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


def items_bulk_apply(
    *,
    project: Project,
    action: str,
    item_ids: Sequence[int],
    user: Any,
    best_position: int | None = None,
    more: int | None = None,
    reviewer_id: int | None = None,
) -> str:
    """One of the item browser's bulk actions (refreshing the items' stored agreement first);
    returns what was done, for a message."""
    n = len(set(item_ids))
    item_stats_refresh(project=project, item_ids=item_ids)
    if action == "gold":
        if best_position is None:
            raise ValidationError({"best_position": "Say which response is best."})
        items_mark_gold(project=project, item_ids=item_ids, best_position=best_position)
        return f"{n} item(s) marked as gold, best response {chr(ord('A') + best_position)}."
    if action in ("exclude", "include"):
        items_exclude_from_training(
            project=project, item_ids=item_ids, excluded=action == "exclude"
        )
        return f"{n} item(s) {'excluded from' if action == 'exclude' else 'included in'} training."
    if action == "requeue":
        items_requeue(project=project, item_ids=item_ids, more=more or 1)
        return f"{n} item(s) reopened for {more or 1} more judgment(s)."
    if action == "review":
        adjudications_request(
            project=project,
            item_ids=item_ids,
            reviewer=reviewer_resolve(user=user, reviewer_id=reviewer_id),
            requested_by=user,
        )
        return f"{n} item(s) sent to review."
    raise ValidationError({"action": "Unknown action."})


def reviewer_resolve(*, user: Any, reviewer_id: int | None) -> Any:
    """The designated reviewer: only admins designate one (researchers never see labelers'
    accounts); none means any admin."""
    if reviewer_id is None:
        return None
    if not is_admin(user):
        raise ValidationError({"reviewer": "Only admins designate a reviewer."})
    reviewer = get_user_model().objects.filter(pk=reviewer_id).first()
    if reviewer is None:
        raise ValidationError({"reviewer": "No such user."})
    return reviewer
