"""Live conversation pages (issue 16). Labelers: the project's conversations, one conversation
(write, watch both replies stream in side by side through server-sent events, choose on the
8-point scale, stop, end); its actions answer JSON for static/js/live.js. Researchers and
admins: a pairwise project's live settings and its conversations (pseudonyms only)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.models import SCALE_LABELS, FlagKind
from annotation.rendering import render_markdown
from annotation.selectors.labeling import label_criteria
from annotation.services.judgments import JudgmentConflict
from annotation.views.label import parse_judgment
from training.forms.live import LiveConfigForm
from training.selectors.live import (
    conversation_get_for_labeler,
    conversation_page,
    conversations_for_researcher,
    conversations_of_labeler,
    live_config_get_for_researcher,
    live_project_get_for_labeler,
    live_settings_state,
    turn_get_for_labeler,
)
from training.services.live import (
    LiveConflict,
    LiveRateLimited,
    conversation_end,
    conversation_start,
    live_config_set,
    turn_judge,
    turn_say,
    turn_stop,
)

JUDGE_FIELDS = ("client_key", "choice", "rationale", "ratings", "flags", "seconds_spent")


def _guidelines_html(project: Any) -> str:
    guidelines = project.current_guidelines
    return render_markdown(guidelines.text) if guidelines else ""


def _errors(exc: ValidationError) -> JsonResponse:
    fields = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return JsonResponse({"errors": fields}, status=400)


@login_required
@require_GET
def live_home(request: HttpRequest, project_id: int) -> HttpResponse:
    project = live_project_get_for_labeler(request.user, project_id)
    context = {
        "project": project,
        "conversations": conversations_of_labeler(project, request.user)[:100],
        "guidelines_html": _guidelines_html(project),
    }
    return render(request, "training/live_home.html", context)


@login_required
@require_POST
def live_start(request: HttpRequest, project_id: int) -> HttpResponse:
    project = live_project_get_for_labeler(request.user, project_id)
    conversation = conversation_start(project=project, labeler=request.user)
    return redirect("training:live_conversation", conversation_id=conversation.pk)


def _scale() -> list[tuple[int, str]]:
    return [(k, v.replace("A ", "Left ").replace("B ", "Right ")) for k, v in SCALE_LABELS.items()]


@login_required
@require_GET
def live_conversation(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_get_for_labeler(request.user, conversation_id)
    project = conversation.project
    criteria = [
        {**c, "values": range(c["scale_min"], c["scale_max"] + 1)} for c in label_criteria(project)
    ]
    context = {
        "conversation": conversation,
        "project": project,
        "page": conversation_page(conversation),
        "guidelines_html": _guidelines_html(project),
        "scale": _scale(),
        "criteria": criteria,
        "flag_kinds": FlagKind.choices,
    }
    return render(request, "training/live_conversation.html", context)


@login_required
@require_POST
def live_say(request: HttpRequest, conversation_id: int) -> JsonResponse:
    conversation = conversation_get_for_labeler(request.user, conversation_id)
    try:
        turn = turn_say(
            conversation=conversation, labeler=request.user, message=request.POST.get("message", "")
        )
    except ValidationError as exc:
        return _errors(exc)
    except LiveRateLimited as exc:
        response = JsonResponse({"errors": {"__all__": [str(exc)]}}, status=429)
        response["Retry-After"] = str(exc.wait)
        return response
    except LiveConflict as exc:
        return JsonResponse({"errors": {"__all__": [str(exc)]}}, status=409)
    left, right = (turn.reply_a_id, turn.reply_b_id)[:: 1 if turn.display_order[0] == 0 else -1]
    return JsonResponse({"turn": turn.pk, "left": str(left), "right": str(right)}, status=201)


@login_required
@require_POST
def live_judge(request: HttpRequest, turn_id: int) -> JsonResponse:
    turn = turn_get_for_labeler(request.user, turn_id)
    try:
        parsed = parse_judgment(request.POST)
        result = turn_judge(turn=turn, labeler=request.user, **{k: parsed[k] for k in JUDGE_FIELDS})
    except ValidationError as exc:
        return _errors(exc)
    except (LiveConflict, JudgmentConflict) as exc:
        return JsonResponse({"errors": {"__all__": [str(exc)]}}, status=409)
    turn.conversation.refresh_from_db(fields=["status"])
    return JsonResponse(
        {
            "judgment": result.judgment.pk,
            "created": result.created,
            "ended": turn.conversation.status == "ended",
        },
        status=201 if result.created else 200,
    )


@login_required
@require_POST
def live_stop(request: HttpRequest, turn_id: int) -> JsonResponse:
    turn = turn_stop(turn=turn_get_for_labeler(request.user, turn_id), labeler=request.user)
    return JsonResponse({"status": turn.status})


@login_required
@require_POST
def live_end(request: HttpRequest, conversation_id: int) -> HttpResponse:
    conversation = conversation_get_for_labeler(request.user, conversation_id)
    conversation_end(conversation=conversation, labeler=request.user)
    messages.success(request, "Conversation ended. Thank you!")
    return redirect("training:live_home", project_id=conversation.project_id)


def _config_form(request: HttpRequest, project: Any, config: Any) -> LiveConfigForm:
    initial: dict[str, Any] = {"red_team": project.red_team}
    if config is not None:
        initial |= {k: getattr(config, k) for k in LiveConfigForm.base_fields if k != "red_team"}
    form = LiveConfigForm(request.POST or None, initial=initial)
    if live_settings_state(project)["judged"]:
        form.fields["red_team"].disabled = True  # the question is fixed once answered
    return form


@login_required
@require_http_methods(["GET", "POST"])
def live_config(request: HttpRequest, project_id: int) -> HttpResponse:
    project, config = live_config_get_for_researcher(request.user, project_id)
    form = _config_form(request, project, config)
    if request.method == "POST" and form.is_valid():
        try:
            live_config_set(project=project, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Live conversations are set up.")
            return redirect("training:live_config", project_id=project.pk)
    context = {
        "project": project,
        "config": config,
        "form": form,
        **live_settings_state(project),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "training/live_config.html", context, status=status)


@login_required
@require_GET
def live_conversations(request: HttpRequest, project_id: int) -> HttpResponse:
    project, config = live_config_get_for_researcher(request.user, project_id)
    context = {
        "project": project,
        "config": config,
        "rows": conversations_for_researcher(project),
        "total": project.conversations.count(),
    }
    return render(request, "training/live_conversations.html", context)
