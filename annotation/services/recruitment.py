"""Recruitment links: an admin's link that brings labelers into a set of projects, and the
labelers' arrival and finish through it.

- Open sign-up (`recruitment_signup`): the link's token is the invitation; the labeler picks a
  username and password.
- Study link (`recruitment_arrive`): a crowd platform (Prolific, MTurk, ...) appends its
  participant, study and session ids to the URL. The participant id maps to one account
  (PlatformIdentity), created on the first arrival and resumed on every later one; no password.
- Either way the labeler joins the link's projects (`Project.labelers`), and the arrival is
  recorded (RecruitmentArrival) and audited.
- `recruitment_finish`: the labeler has finished when they have made `quota_items` judgments in
  the link's projects since arriving, or when no project has anything left for them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotation.models import (
    PLATFORM_ID_CHARS,
    PLATFORM_PARAMETERS,
    AuditAction,
    Judgment,
    LabelerProfile,
    LinkKind,
    PlatformIdentity,
    Project,
    RecruitmentArrival,
    RecruitmentLink,
)
from annotation.roles import LABELER
from annotation.services.audit import labeler_audit_event_record
from annotation.services.labelers import user_create
from annotation.services.queue import reservation_next


@transaction.atomic
def recruitment_link_create(
    *, name: str, kind: str, project_ids: Sequence[int], created_by: Any, **options: Any
) -> RecruitmentLink:
    """A link to `project_ids`. `options`: the other RecruitmentLink fields (parameter names
    default to the platform's own). Raises ValidationError naming the field."""
    link = RecruitmentLink(name=name, kind=kind, created_by=created_by, **options)
    defaults = PLATFORM_PARAMETERS.get(kind)  # type: ignore[call-overload]
    if defaults:
        for field, default in zip(
            ("participant_parameter", "study_parameter", "session_parameter"),
            defaults,
            strict=True,
        ):
            if not getattr(link, field):
                setattr(link, field, default)
    link.full_clean()
    projects = list(Project.objects.filter(pk__in=project_ids))
    if not project_ids or len(projects) != len(set(project_ids)):
        raise ValidationError({"projects": "Choose one or more existing projects."})
    link.save()
    link.projects.set(projects)
    return link


def recruitment_link_deactivate(*, link: RecruitmentLink) -> RecruitmentLink:
    """Nobody new arrives through it; labelers who came already keep their access."""
    link.active = False
    link.save(update_fields=["active"])
    return link


def recruitment_link_closed(
    link: RecruitmentLink, *, now: datetime | None = None, count_full: bool = True
) -> str | None:
    """Why the link takes nobody new (None: it is open). `count_full=False`: whether it takes
    anybody at all (a full study still lets its participants come back)."""
    if not link.active:
        return "This link is no longer active."
    if link.expires_at is not None and link.expires_at <= (now or timezone.now()):
        return "This link has expired."
    if (
        count_full
        and link.max_participants is not None
        and link.arrivals.count() >= link.max_participants
    ):
        return "This study is full."
    return None


def _platform_id(value: str, field: str) -> str:
    value = value.strip()
    if not value:
        raise ValidationError({field: "Missing from the link's address."})
    if len(value) > PLATFORM_ID_CHARS or not value.isprintable():
        raise ValidationError({field: f"At most {PLATFORM_ID_CHARS} printable characters."})
    return value


def _join(
    link: RecruitmentLink, user: Any, *, study_id: str = "", session_id: str = ""
) -> RecruitmentArrival:
    """Record the arrival (or update a resumed one), open the link's projects to the labeler,
    and audit it."""
    arrival, _ = RecruitmentArrival.objects.update_or_create(
        link=link, user=user, defaults={"study_id": study_id, "session_id": session_id}
    )
    for project in link.projects.all():
        project.labelers.add(user)
    labeler_audit_event_record(labeler=user, action=AuditAction.LINK_ARRIVAL, link=link)
    return arrival


@transaction.atomic
def recruitment_arrive(
    *, link: RecruitmentLink, participant_id: str, study_id: str = "", session_id: str = ""
) -> RecruitmentArrival:
    """A participant arrives through a study link: their account (created on the first
    arrival, with no usable password) joins the link's projects. Raises ValidationError naming
    the URL parameter, or `link` when the link takes nobody new."""
    if not link.is_study:
        raise ValidationError({"link": "This is not a study link."})
    participant_id = _platform_id(participant_id, link.participant_parameter)
    study_id = _platform_id(study_id, link.study_parameter) if link.study_parameter else ""
    session_id = _platform_id(session_id, link.session_parameter) if link.session_parameter else ""
    RecruitmentLink.objects.select_for_update().filter(pk=link.pk).first()  # one arrival at a time
    identity = (
        PlatformIdentity.objects.select_related("user")
        .filter(platform=link.kind, participant_id=participant_id)
        .first()
    )
    if identity is not None and not identity.user.is_active:
        raise ValidationError({"link": "This account has been deactivated by an administrator."})
    returning = identity is not None and link.arrivals.filter(user=identity.user).exists()
    if not returning and (reason := recruitment_link_closed(link)):
        raise ValidationError({"link": reason})
    if identity is None:
        user = get_user_model().objects.create_user(
            username=f"{link.kind}-{secrets.token_hex(5)}", password=None
        )
        user.groups.add(Group.objects.get(name=LABELER))
        LabelerProfile.objects.create(user=user)
        identity = PlatformIdentity.objects.create(
            platform=link.kind, participant_id=participant_id, user=user
        )
    return _join(link, identity.user, study_id=study_id, session_id=session_id)


@transaction.atomic
def recruitment_signup(
    *, link: RecruitmentLink, username: str, password: str
) -> RecruitmentArrival:
    """A new labeler signs up through an open sign-up link. Raises ValidationError naming
    `username`, `password` or `link`."""
    if link.kind != LinkKind.SIGNUP:
        raise ValidationError({"link": "This link is for a crowd-platform study."})
    RecruitmentLink.objects.select_for_update().filter(pk=link.pk).first()
    if reason := recruitment_link_closed(link):
        raise ValidationError({"link": reason})
    model = get_user_model()
    candidate = model(username=username)
    try:
        candidate.clean_fields(exclude=[f.name for f in model._meta.fields if f.name != "username"])
    except ValidationError as exc:
        raise ValidationError(
            {"username": exc.message_dict.get("username", exc.messages)}
        ) from None
    if model.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": "This username is taken."})
    try:
        validate_password(password, candidate)
    except ValidationError as exc:
        raise ValidationError({"password": exc.messages}) from None
    user = user_create(username=username, password=password, role=LABELER)
    return _join(link, user)


def recruitment_judged(arrival: RecruitmentArrival) -> int:
    """Judgments the labeler made in the link's projects since arriving."""
    return Judgment.objects.filter(
        labeler=arrival.user,
        item__project__in=arrival.link.projects.all(),
        created_at__gte=arrival.arrived_at,
    ).count()


@transaction.atomic
def recruitment_finish(*, arrival: RecruitmentArrival) -> bool:
    """Mark the arrival finished if the labeler met the link's quota or nothing is left for
    them in any of its projects (this asks the queue, which may reserve an item: then they
    are not finished and go on labeling). Returns whether it is finished."""
    if arrival.finished_at is None:
        link = arrival.link
        done = link.quota_items is not None and recruitment_judged(arrival) >= link.quota_items
        if not done:
            done = all(
                reservation_next(labeler=arrival.user, project=project) is None
                for project in link.projects.all()
            )
        if done:
            arrival.finished_at = timezone.now()
            arrival.save(update_fields=["finished_at"])
    return arrival.finished_at is not None
