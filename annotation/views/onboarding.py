"""The labeler's side of onboarding: arriving through a recruitment link, consent, the
attribute questionnaire, "My information" (see, change, withdraw), and finishing a study.

The workbench calls `onboarding_gate` first: a labeler who still has to consent or answer the
questionnaire is sent there, and back to the workbench afterwards (`next`). The screening set
needs no step of its own: the queue serves a project's screening items first.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from annotation.forms import SignupForm
from annotation.http import HtmxHttpRequest
from annotation.models import Project, RecruitmentArrival, RecruitmentLink
from annotation.rendering import render_markdown
from annotation.selectors.labeling import labeler_project_get
from annotation.selectors.onboarding import (
    QUESTIONNAIRE,
    arrival_for_project,
    arrival_get_for_labeler,
    consent_current,
    labeler_answers,
    labeler_information,
    link_get_by_token,
    onboarding_step,
    require_labeler,
)
from annotation.services.attributes import labeler_attributes_answer
from annotation.services.consent import consent_give, consent_withdraw
from annotation.services.recruitment import (
    recruitment_arrive,
    recruitment_finish,
    recruitment_judged,
    recruitment_link_closed,
    recruitment_signup,
)

BACKEND = (
    "annotation.roles.RoleBackend"  # study participants have no password: logged in as this backend
)
MANY_OPTIONS = 8  # more answers than this: a drop-down instead of radio buttons


def _redirect(request: HtmxHttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def onboarding_gate(request: HtmxHttpRequest) -> HttpResponse | None:
    """A redirect to the onboarding step the labeler still has to take, or None."""
    step = onboarding_step(request.user)
    if step is None:
        return None
    query = urlencode({"next": request.get_full_path()})
    return _redirect(request, f"{reverse(f'annotation:onboarding_{step}')}?{query}")


def _next(request: HttpRequest) -> str:
    """Where to go after a step: the `next` the step was given (this site only), else home."""
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(url, {request.get_host()}, request.is_secure()):
        return url
    return reverse("annotation:labeler_home")


def _after_step(request: HttpRequest) -> HttpResponse:
    next_url = _next(request)
    if onboarding_step(request.user) == QUESTIONNAIRE:
        query = urlencode({"next": next_url})
        return redirect(f"{reverse('annotation:onboarding_questionnaire')}?{query}")
    return redirect(next_url)


def _start(link: RecruitmentLink) -> str:
    first = link.projects.order_by("pk").first()
    if first is None:
        return reverse("annotation:labeler_home")
    return reverse("annotation:label_workbench", args=[first.pk])


def _join_failed(request: HttpRequest, link: RecruitmentLink, exc: ValidationError) -> HttpResponse:
    errors = exc.message_dict
    status = 410 if "link" in errors else 400
    context = {"link": link, "errors": [(f, m) for f, ms in errors.items() for m in ms]}
    return render(request, "annotation/onboarding_join.html", context, status=status)


def _join_study(request: HttpRequest, link: RecruitmentLink) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    ids = {
        "participant_id": source.get(link.participant_parameter, ""),
        "study_id": source.get(link.study_parameter, "") if link.study_parameter else "",
        "session_id": source.get(link.session_parameter, "") if link.session_parameter else "",
    }
    if request.method == "GET":
        if not ids["participant_id"].strip():
            missing = {link.participant_parameter: "Missing from the link's address."}
            return _join_failed(request, link, ValidationError(missing))
        params = [
            (name, source.get(name, ""))
            for name in (link.participant_parameter, link.study_parameter, link.session_parameter)
            if name
        ]
        return render(request, "annotation/onboarding_join.html", {"link": link, "params": params})
    try:
        arrival = recruitment_arrive(link=link, **ids)
    except ValidationError as exc:
        return _join_failed(request, link, exc)
    login(request, arrival.user, backend=BACKEND)
    return redirect(_start(link))


def _join_signup(request: HttpRequest, link: RecruitmentLink) -> HttpResponse:
    form = SignupForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_valid():
        data = form.cleaned_data
        try:
            arrival = recruitment_signup(
                link=link, username=data["username"], password=data["password"]
            )
        except ValidationError as exc:
            if "link" in exc.message_dict:
                return _join_failed(request, link, exc)
            for field, field_messages in exc.message_dict.items():
                for message in field_messages:
                    form.add_error(field, message)
        else:
            login(request, arrival.user, backend=BACKEND)
            return redirect(_start(link))
    if form.is_bound:
        status = 400
    return render(
        request, "annotation/onboarding_join.html", {"link": link, "form": form}, status=status
    )


@require_http_methods(["GET", "POST"])
def onboarding_join(request: HttpRequest, token: str) -> HttpResponse:
    """A recruitment link's landing page: GET explains and asks to start (nothing is written);
    POST creates or resumes the labeler, logs them in and sends them to work."""
    link = link_get_by_token(token)
    if closed := recruitment_link_closed(link, count_full=False):
        return _join_failed(request, link, ValidationError({"link": closed}))
    if link.is_study:
        return _join_study(request, link)
    return _join_signup(request, link)


@login_required
@require_http_methods(["GET", "POST"])
def onboarding_consent(request: HttpRequest) -> HttpResponse:
    """GET: the current consent text. POST: agree to it (`version` names the one read)."""
    require_labeler(request.user)
    current = consent_current()
    if current is None:
        return redirect(_next(request))
    status = 200
    errors: list[tuple[str, str]] = []
    if request.method == "POST":
        try:
            consent_give(user=request.user, version=_int(request.POST.get("version", "")))
        except ValidationError as exc:
            errors = [(f, m) for f, ms in exc.message_dict.items() for m in ms]
            status = 409
        else:
            return _after_step(request)
    context = {
        "consent": current,
        "consent_html": render_markdown(current.text),
        "next": _next(request),
        "errors": errors,
    }
    return render(request, "annotation/onboarding_consent.html", context, status=status)


def _int(value: str) -> int:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else 0


def _questions(answers: list[Any], posted: dict[str, str] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "name": a.definition.name,
            "question": a.definition.question,
            "purpose": a.definition.purpose,
            "options": a.definition.options,
            "select": len(a.definition.options) > MANY_OPTIONS,
            "value": (posted or {}).get(a.definition.name, a.value or ""),
        }
        for a in answers
    ]


def _posted_answers(request: HttpRequest, names: list[str]) -> dict[str, str]:
    """attr_<name> per question; a ticked prefer_not_<name> (free text) says nothing."""
    return {
        name: "" if request.POST.get(f"prefer_not_{name}") else request.POST.get(f"attr_{name}", "")
        for name in names
    }


@login_required
@require_http_methods(["GET", "POST"])
def onboarding_questionnaire(request: HttpRequest) -> HttpResponse:
    """The attribute questionnaire: every asked attribute, each optional."""
    require_labeler(request.user)
    answers = labeler_answers(request.user)
    info = labeler_information(request.user)
    consented = info.profile is not None and info.profile.consent_given_at is not None
    errors: list[tuple[str, str]] = []
    posted = None
    if request.method == "POST":
        posted = _posted_answers(request, [a.definition.name for a in answers])
        try:
            labeler_attributes_answer(user=request.user, answers=posted)
        except ValidationError as exc:
            errors = [(f, m) for f, ms in exc.message_dict.items() for m in ms]
        else:
            messages.success(request, "Thank you: your answers are saved.")
            return redirect(_next(request))
    context = {
        "questions": _questions(answers, posted),
        "consented": consented,
        "errors": errors,
        "next": _next(request),
    }
    status = 422 if errors else 200
    return render(request, "annotation/onboarding_questionnaire.html", context, status=status)


@login_required
@require_GET
def onboarding_me(request: HttpRequest) -> HttpResponse:
    """My information: the labeler's own stored attributes and consent history."""
    info = labeler_information(request.user)
    return render(request, "annotation/onboarding_me.html", {"info": info})


@login_required
@require_POST
def onboarding_withdraw(request: HttpRequest) -> HttpResponse:
    require_labeler(request.user)
    try:
        consent_withdraw(user=request.user)
    except ValidationError as exc:
        info = labeler_information(request.user)
        errors = [(f, m) for f, ms in exc.message_dict.items() for m in ms]
        context = {"info": info, "errors": errors}
        return render(request, "annotation/onboarding_me.html", context, status=409)
    messages.success(request, "Your information is withdrawn: your answers are deleted.")
    return redirect("annotation:onboarding_me")


@login_required
@require_GET
def onboarding_finish_status(request: HtmxHttpRequest, project_id: int) -> HttpResponse:
    """The workbench's study footer (htmx): progress towards the link's quota, and the finish
    form, which submits itself once the quota is met or nothing is left (`state=done`).
    Nothing (204) for labelers who did not come through a link to this project."""
    project: Project = labeler_project_get(request.user, project_id)
    arrival = arrival_for_project(request.user, project)
    if arrival is None:
        return HttpResponse(status=204)
    judged = recruitment_judged(arrival)
    quota = arrival.link.quota_items
    finish_now = arrival.finished_at is None and (
        request.GET.get("state") == "done" or (quota is not None and judged >= quota)
    )
    if arrival.finished_at is None and quota is None and not finish_now:
        return HttpResponse(status=204)
    context = {"arrival": arrival, "judged": judged, "quota": quota, "finish_now": finish_now}
    return render(request, "annotation/onboarding_finish_status.html", context)


@login_required
@require_POST
def onboarding_finish(request: HtmxHttpRequest, arrival_id: int) -> HttpResponse:
    """Finish if the quota is met or nothing is left; else back to work."""
    arrival = arrival_get_for_labeler(request.user, arrival_id)
    if not recruitment_finish(arrival=arrival):
        messages.info(request, "There is more to do before you finish.")
        return _redirect(request, reverse("annotation:labeler_home"))
    link = arrival.link
    if link.completion_url and not link.completion_code:
        return _redirect(request, link.completion_url)
    return _redirect(request, reverse("annotation:onboarding_finished", args=[arrival.pk]))


@login_required
@require_GET
def onboarding_finished(request: HttpRequest, arrival_id: int) -> HttpResponse:
    """The completion code (and the way back to the platform) once finished."""
    arrival: RecruitmentArrival = arrival_get_for_labeler(request.user, arrival_id)
    if arrival.finished_at is None:
        return redirect(_start(arrival.link))
    return render(request, "annotation/onboarding_finished.html", {"arrival": arrival})
