"""The labelers' audit trail (LabelerAuditEvent): consent given and withdrawn, attribute
changes (the names, never the values) and arrivals through recruitment links. The consent,
attribute and recruitment services write it in the same transaction as the change itself."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from annotation.models import LabelerAuditEvent, RecruitmentLink


def labeler_audit_event_record(
    *,
    labeler: Any,
    action: str,
    actor: Any = None,
    consent_version: int | None = None,
    names: Iterable[str] = (),
    link: RecruitmentLink | None = None,
) -> LabelerAuditEvent:
    """Record one event about `labeler`; `actor` is who did it (the labeler when omitted)."""
    event = LabelerAuditEvent(
        labeler=labeler,
        actor=actor or labeler,
        action=action,
        consent_version=consent_version,
        names=sorted(names),
        link=link,
    )
    event.full_clean()
    event.save()
    return event
