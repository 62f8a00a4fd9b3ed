"""The labeler's pages: their projects, and the workbench, one page per project that swaps in
the next item with htmx.

GET shows the current or next reserved item (or the guidelines first, when they changed);
POST stores a judgment or a skip and answers with the next item. Errors leave the labeler's
form untouched: they are swapped into the form's error box (HX-Retarget) with status 422/409.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import SafeString
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap, retarget

from annotation.http import HtmxHttpRequest
from annotation.models import FlagKind, Project, ProjectKind, Role
from annotation.rendering import render_markdown
from annotation.selectors.labeling import (
    LabelItem,
    guidelines_text_get,
    label_criteria,
    label_item_view,
    label_text_get,
    labeler_item_get,
    labeler_last_guideline_version,
    labeler_progress,
    labeler_project_get,
    labeler_queues,
)
from annotation.services.judgments import (
    Flag,
    JudgmentConflict,
    Rating,
    judgment_submit,
    skip_create,
)
from annotation.services.queue import reservation_next
from annotation.views.onboarding import onboarding_gate

SEEN = "chorus_guidelines_seen"  # session: project id -> guidelines version the labeler has read
KIND_TEMPLATES = {
    ProjectKind.PAIRWISE: "annotation/_label_pairwise.html",
    ProjectKind.RANKING: "annotation/_label_ranking.html",
    ProjectKind.DEMONSTRATION: "annotation/_label_demonstration.html",
}
SCALE_WORDS = ("much better", "better", "slightly better", "marginally better")
SKIP_REASONS = (
    "I cannot judge this well (outside my knowledge)",
    "I do not want to read this content",
    "The item is broken or unreadable",
)


@dataclass(frozen=True)
class Guidelines:
    version: int
    html: SafeString


def _guidelines(project: Project) -> Guidelines | None:
    """The project's current guidelines, rendered. A version never changes (an edit saves a new
    one), so each is rendered once per process and kept there (the "local" cache)."""
    guideline_id = project.current_guideline_id
    if guideline_id is None:
        return None
    key = f"chorus:guidelines:{guideline_id}"
    rendered = caches["local"].get(key)
    if rendered is None:
        version, text = guidelines_text_get(guideline_id)
        rendered = Guidelines(version=version, html=render_markdown(text))
        caches["local"].set(key, rendered, timeout=None)
    return rendered


def _scale() -> list[tuple[int, str]]:
    """The 8-point scale in display terms: 1 = Response 1 much better ... 8 = Response 2 much better."""
    left = [(i + 1, f"Response 1 is {w}") for i, w in enumerate(SCALE_WORDS)]
    right = [(8 - i, f"Response 2 is {w}") for i, w in enumerate(SCALE_WORDS)]
    return left + sorted(right)


def _preview(text: str) -> str:
    """The first words of a response, without markdown punctuation, for the ranking list."""
    return " ".join(re.sub(r"[`*_#>|~\[\]]+", " ", text).split())[:90]


def _minutes(seconds: float | None) -> str:
    return f"{int(seconds) // 60}:{int(seconds) % 60:02d}" if seconds is not None else ""


def _criteria(project: Project) -> list[dict[str, Any]]:
    return [
        {**c, "pk": c["id"], "values": range(c["scale_min"], c["scale_max"] + 1)}
        for c in label_criteria(project)
    ]


def _guidelines_read(request: HttpRequest, project: Project) -> bool:
    """Whether the labeler has read the current guidelines: the session says so, or their latest
    judgment was made under them (then the session is told, so that is asked once)."""
    current = project.current_guideline_version
    if current is None or request.session.get(SEEN, {}).get(str(project.pk)) == current:
        return True
    if labeler_last_guideline_version(request.user, project) != current:
        return False
    _mark_read(request, project, current)
    return True


def _mark_read(request: HttpRequest, project: Project, version: int) -> None:
    seen = dict(request.session.get(SEEN, {}))
    seen[str(project.pk)] = version
    request.session[SEEN] = seen


def _context(request: HttpRequest, project: Project, *, reserve: bool = True) -> dict[str, Any]:
    """The workbench's context: the next item (reserved unless `reserve` is False: a page that
    shows something else, annotation.views.label_edits), or the guidelines to read first."""
    guidelines = _guidelines(project)
    progress = labeler_progress(request.user, project)
    context: dict[str, Any] = {
        "project": project,
        "guidelines": guidelines,
        "guidelines_html": guidelines.html if guidelines else "",
        "criteria": _criteria(project),
        "progress": progress,
        "per_item_today": _minutes(progress.seconds_per_item_today),
        "skip_reasons": SKIP_REASONS,
    }
    if not _guidelines_read(request, project):
        context.update(
            state="guidelines", last_version=labeler_last_guideline_version(request.user, project)
        )
        return context
    if not reserve:
        return context
    reservation = reservation_next(labeler=request.user, project=project)
    if reservation is None:
        return {**context, "state": "done"}
    item = label_item_view(reservation, project, max_chars=settings.CHORUS_LABEL_TEXT_CHARS or None)
    return {**context, **_item_context(item, project)}


def _item_context(item: LabelItem, project: Project) -> dict[str, Any]:
    """The reserved item as the workbench shows it: markdown rendered, in display order."""
    roles = dict(Role.choices)

    def full_url(part: str, number: int) -> str:
        return reverse("annotation:label_text", args=[project.pk, item.item_id, part, number])

    return {
        "state": "item",
        "item": item,
        "kind_template": KIND_TEMPLATES[project.kind],
        "turns": [
            {
                "role": t.role,
                "role_label": roles.get(t.role, t.role),
                "html": render_markdown(t.content, line_breaks=True),
                "full_url": full_url("turn", number) if t.truncated else "",
            }
            for number, t in enumerate(item.turns, start=1)
        ],
        "responses": [
            {
                "number": r.number,
                "html": render_markdown(r.text, line_breaks=True),
                "preview": _preview(r.text),
                "full_url": full_url("response", r.number) if r.truncated else "",
            }
            for r in item.responses
        ],
        "label_text_chars": settings.CHORUS_LABEL_TEXT_CHARS,
        "scale": _scale(),
        "flag_kinds": FlagKind.choices,
        "client_key": uuid.uuid4(),
        "submit_url": reverse("annotation:label_submit", args=[project.pk, item.item_id]),
    }


def _workbench(request: HtmxHttpRequest, project: Project, status: int = 200) -> HttpResponse:
    template = (
        "annotation/label_workbench.html#workbench"
        if request.htmx
        else "annotation/label_workbench.html"
    )
    return render(request, template, _context(request, project), status=status)


@login_required
@require_GET
def labeler_home(request: HttpRequest) -> HttpResponse:
    """The labeler's projects, each with the items left for them and their progress."""
    return render(request, "annotation/labeler_home.html", {"queues": labeler_queues(request.user)})


@login_required
@require_GET
@vary_on_headers("HX-Request")
def label_workbench(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = labeler_project_get(request.user, project_id)
    return onboarding_gate(request) or _workbench(request, project)


@login_required
@require_GET
def label_text(
    request: HttpRequest, project_id: int, item_id: int, part: str, number: int
) -> HttpResponse:
    """The whole text of a turn or response the workbench cut short (its "show all" link):
    only for the item the labeler holds a reservation on, as sanitised markdown HTML."""
    project = labeler_project_get(request.user, project_id)
    text = label_text_get(request.user, project, item_id, part, number)
    return HttpResponse(render_markdown(text, line_breaks=True))


@login_required
@require_GET
def label_guidelines(request: HttpRequest, project_id: int) -> HttpResponse:
    project = labeler_project_get(request.user, project_id)
    guidelines = _guidelines(project)
    context = {
        "project": project,
        "guidelines": guidelines,
        "guidelines_html": guidelines.html if guidelines else "",
        "criteria": _criteria(project),
    }
    return render(request, "annotation/label_guidelines.html", context)


@login_required
@require_POST
def label_guidelines_read(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    project = labeler_project_get(request.user, project_id)
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        version = 0
    _mark_read(request, project, version)
    if not request.htmx:
        return redirect("annotation:label_workbench", project_id=project.pk)
    return _workbench(request, project)


_ASCII_INT = re.compile(r"-?[0-9]{1,9}")


def parse_int(value: str) -> int | None:
    """An integer written in ASCII digits (at most 9), else None. Not `isdigit()` then `int()`:
    '²' is a digit to the one and not the other, and int() also takes '٣', '1_0' and ' 1'."""
    return int(value) if _ASCII_INT.fullmatch(value) else None


def _int_or_none(value: str, field: str, errors: dict[str, list[str]]) -> int | None:
    if value in ("", None):
        return None
    number = parse_int(value)
    if number is None:
        errors.setdefault(field, []).append(f"{value[:20]!r} is not a whole number.")
    return number


def _numbered(
    post: QueryDict, prefix: str, parts: int, field: str, errors: dict[str, list[str]]
) -> list[tuple[tuple[int, ...], str]]:
    """The fields named `prefix` + `parts` numbers joined by '_' (rank_2, rating_7_2), as
    (numbers, key); a key with the prefix and anything else in place of a number is an error."""
    found = []
    for key in post:
        if not key.startswith(prefix):
            continue
        numbers = tuple(parse_int(p) for p in key[len(prefix) :].split("_"))
        if len(numbers) != parts or None in numbers:
            errors.setdefault(field, []).append(f"{key[:30]!r} does not name a response.")
            continue
        found.append((numbers, key))  # type: ignore[arg-type]  # no None left
    return found


def _parse_ranks(post: QueryDict, errors: dict[str, list[str]]) -> list[int] | None:
    keyed = {numbers[0]: post[key] for numbers, key in _numbered(post, "rank_", 1, "ranks", errors)}
    ranks = [_int_or_none(keyed[n], "ranks", errors) for n in sorted(keyed)]
    return [r for r in ranks if r is not None] or None


def _parse_ratings(post: QueryDict, errors: dict[str, list[str]]) -> list[Rating]:
    ratings = []
    for (criterion_id, response), key in _numbered(post, "rating_", 2, "ratings", errors):
        number = _int_or_none(post[key], "ratings", errors) if post[key] else None
        if number is not None:
            ratings.append(Rating(criterion_id=criterion_id, response=response, value=number))
    return ratings


def _parse_flags(post: QueryDict, errors: dict[str, list[str]]) -> list[Flag]:
    return [
        Flag(response=numbers[0], flag=flag)
        for numbers, key in _numbered(post, "flag_", 1, "flags", errors)
        for flag in post.getlist(key)
    ]


def parse_judgment(post: QueryDict) -> dict[str, Any]:
    """The POSTed form as `judgment_submit` arguments; raises ValidationError naming fields."""
    errors: dict[str, list[str]] = {}
    try:
        client_key = uuid.UUID(post.get("client_key", ""))
    except ValueError:
        errors["client_key"] = ["Missing or malformed; reload the page."]
    choice: int | str | None = post.get("choice") or None
    if isinstance(choice, str) and (number := parse_int(choice)) is not None:
        choice = number  # anything else ('tie', 'both_bad', '²') is judged by the service
    seconds = post.get("seconds_spent", "")
    try:
        seconds_spent = float(seconds) if seconds else None
    except ValueError:
        seconds_spent = None
    parsed = {
        "choice": choice,
        "ranks": _parse_ranks(post, errors),
        "none_acceptable": post.get("none_acceptable") == "on",
        "demonstration": post.get("demonstration", "").replace("\r\n", "\n"),
        "rationale": post.get("rationale", "").replace("\r\n", "\n"),
        "ratings": _parse_ratings(post, errors),
        "flags": _parse_flags(post, errors),
        "seconds_spent": seconds_spent,
        "guideline_version": _int_or_none(
            post.get("guideline_version", ""), "guideline_version", errors
        ),
        # ranking forms say whether the labeler moved a response or confirmed the shown order
        "ranking_touched": post.get("ranking_touched") == "1",
    }
    if errors:
        raise ValidationError(errors)
    return {"client_key": client_key, **parsed}


def _problem(
    request: HtmxHttpRequest,
    project: Project,
    context: dict[str, Any],
    status: int,
    target: str = "#label-errors",
) -> HttpResponse:
    """Show errors in the form's error box without touching what the labeler entered."""
    context = {"project": project, **context}
    response = render(request, "annotation/_label_problem.html", context, status=status)
    return reswap(retarget(response, target), "innerHTML") if request.htmx else response


def _errors(exc: ValidationError) -> dict[str, Any]:
    return {
        "errors": [(FIELD_LABELS.get(f, f), f, m) for f, ms in exc.message_dict.items() for m in ms]
    }


def _conflict_context(
    request: HttpRequest, project: Project, exc: JudgmentConflict
) -> dict[str, Any]:
    context: dict[str, Any] = {"conflict": exc}
    if exc.code == "guidelines_changed":
        guidelines = _guidelines(project)
        assert guidelines is not None
        _mark_read(request, project, guidelines.version)  # shown right here, in the error box
        context.update(guidelines=guidelines, guidelines_html=guidelines.html)
    return context


FIELD_LABELS = {
    "choice": "Preference",
    "ranks": "Ranking",
    "demonstration": "Your response",
    "rationale": "Rationale",
    "ratings": "Ratings",
    "flags": "Flags",
    "reason": "Reason",
    "ranking_touched": "Ranking",
    "judgment": "Judgment",
}


@login_required
@require_POST
def label_submit(request: HtmxHttpRequest, project_id: int, item_id: int) -> HttpResponse:
    item = labeler_item_get(request.user, item_id, project_id)
    project = item.project
    try:
        judgment_submit(labeler=request.user, item=item, **parse_judgment(request.POST))
    except ValidationError as exc:
        return _problem(request, project, _errors(exc), status=422)
    except JudgmentConflict as exc:
        return _problem(request, project, _conflict_context(request, project, exc), status=409)
    if not request.htmx:
        return redirect("annotation:label_workbench", project_id=project.pk)
    return _workbench(request, project)


@login_required
@require_POST
def label_skip(request: HtmxHttpRequest, project_id: int, item_id: int) -> HttpResponse:
    item = labeler_item_get(request.user, item_id, project_id)
    project = item.project
    reason = (
        request.POST.get("reason_other", "").strip()
        if request.POST.get("reason") == "other"
        else request.POST.get("reason", "")
    )
    try:
        skip_create(labeler=request.user, item=item, reason=reason)
    except ValidationError as exc:
        return _problem(request, project, _errors(exc), status=422, target="#skip-errors")
    except JudgmentConflict as exc:
        return _problem(request, project, {"conflict": exc}, status=409, target="#skip-errors")
    if not request.htmx:
        return redirect("annotation:label_workbench", project_id=project.pk)
    return _workbench(request, project)
