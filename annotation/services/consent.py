"""Consent: the versioned consent text, a labeler agreeing to its current version, and
withdrawal.

Withdrawal (`consent_withdraw`) clears the labeler's attributes and their consent, records it
(time and the version withdrawn from), and takes them out of group analyses from then on:

- membership by attribute rules needs recorded consent (selectors.labelers reads only
  consenting profiles), so every group figure computed from now on leaves them out of rule
  groups;
- their already-recorded judgments carry the group ids of the moment of judging
  (`Judgment.labeler_group_ids`, written by services.judgments). We remove from those the
  groups the labeler was in *by rule* — every group that has rules and of which they are not
  an explicit member now — because that membership came from the attributes they withdrew, and
  a report or training run started after the withdrawal must not keep using it. Explicit
  memberships are the admin's decision, not the labeler's answers, and stay. Training
  snapshots and reports computed before the withdrawal are not rewritten ("from then on").
- the judgments themselves stay: the work is kept, only its link to the attributes goes.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from annotation.models import (
    AuditAction,
    ConsentVersion,
    GroupRule,
    Judgment,
    LabelerGroup,
    LabelerProfile,
)
from annotation.selectors.onboarding import CONSENT_CACHE_KEY
from annotation.services.access import reservations_release_after_change
from annotation.services.audit import labeler_audit_event_record


@transaction.atomic
def consent_version_create(*, text: str, created_by: Any) -> ConsentVersion:
    """A new consent text: the next version number. Labelers are asked again on their next
    visit. Raises ValidationError naming `text` when empty or unchanged."""
    text = text.replace("\r\n", "\n").strip()
    current = ConsentVersion.objects.select_for_update().order_by("-version").first()
    if not text:
        raise ValidationError({"text": "The consent text cannot be empty."})
    if current is not None and current.text == text:
        raise ValidationError({"text": "Unchanged: no new version was made."})
    last = ConsentVersion.objects.aggregate(last=Max("version"))["last"] or 0
    version = ConsentVersion(version=last + 1, text=text, created_by=created_by)
    version.full_clean()
    version.save()
    cache.delete(CONSENT_CACHE_KEY)  # now, and again once committed (a read in between
    transaction.on_commit(lambda: cache.delete(CONSENT_CACHE_KEY))  # cached the old one)
    return version


@transaction.atomic
def consent_give(*, user: Any, version: int) -> LabelerProfile:
    """The labeler agrees to consent `version`, which must be the current one (a page opened
    before an admin edited the text names `version`)."""
    current = ConsentVersion.objects.order_by("-version").first()
    if current is None or current.version != version:
        raise ValidationError({"version": "The consent text has changed; read the new version."})
    profile, _ = LabelerProfile.objects.select_for_update().get_or_create(user=user)
    profile.consent_given_at = timezone.now()
    profile.consent_version = version
    profile.full_clean()
    profile.save()
    labeler_audit_event_record(
        labeler=user, action=AuditAction.CONSENT_GIVEN, consent_version=version
    )
    return profile


@transaction.atomic
def consent_withdraw(*, user: Any) -> LabelerProfile:
    """Withdraw: attributes cleared, consent cleared (its version kept, so they are not asked
    again until a new version), rule-derived groups removed from their recorded judgments, and
    the withdrawal recorded. Raises ValidationError naming `consent` if none is recorded."""
    profile = LabelerProfile.objects.select_for_update().filter(user=user).first()
    if profile is None or profile.consent_given_at is None:
        raise ValidationError({"consent": "There is no consent to withdraw."})
    cleared = list(profile.attributes)
    profile.attributes = {}
    profile.consent_given_at = None
    profile.questionnaire_answered_at = None
    profile.full_clean()
    profile.save()
    _forget_rule_groups(user)
    reservations_release_after_change(labeler=user)
    labeler_audit_event_record(
        labeler=user,
        action=AuditAction.CONSENT_WITHDRAWN,
        consent_version=profile.consent_version,
        names=cleared,
    )
    return profile


def _forget_rule_groups(user: Any) -> int:
    """Remove the groups the labeler belonged to by rule from their judgments' recorded group
    ids (see the module docstring); returns how many judgments changed."""
    explicit = set(LabelerGroup.objects.filter(members=user).values_list("pk", flat=True))
    by_rule = set(GroupRule.objects.values_list("group_id", flat=True)) - explicit
    if not by_rule:
        return 0
    changed = []
    for judgment in Judgment.objects.filter(labeler=user, labeler_group_ids__isnull=False).only(
        "pk", "labeler_group_ids"
    ):
        kept = [g for g in judgment.labeler_group_ids if g not in by_rule]
        if kept != judgment.labeler_group_ids:
            judgment.labeler_group_ids = kept
            changed.append(judgment)
    Judgment.objects.bulk_update(changed, ["labeler_group_ids"], batch_size=500)
    return len(changed)
