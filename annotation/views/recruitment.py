"""The admin's side of onboarding: recruitment links, the consent text, the attribute
questionnaire, and one labeler's consent and audit trail. Admins only (404 for everyone else):
researchers never see attributes or platform ids."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from annotation.forms import AttributeDefinitionForm, ConsentTextForm, RecruitmentLinkForm
from annotation.models import (
    AttributeDefinition,
    ConsentVersion,
    LinkKind,
    RecruitmentArrival,
    RecruitmentLink,
)
from annotation.selectors.onboarding import (
    attribute_definition_get_for_admin,
    labeler_audit_for_admin,
    link_get_for_admin,
    links_for_admin,
    require_admin,
)
from annotation.services.attributes import (
    attribute_definition_delete,
    attribute_definition_save,
)
from annotation.services.consent import consent_version_create
from annotation.services.recruitment import (
    recruitment_link_closed,
    recruitment_link_create,
    recruitment_link_deactivate,
)


def _add_errors(form: Any, exc: ValidationError) -> None:
    for field, field_messages in exc.message_dict.items():
        for message in field_messages:
            form.add_error(field if field in form.fields else None, message)


def link_url(request: HttpRequest, link: RecruitmentLink) -> str:
    """The full address to give the platform; Prolific fills in its {{%NAME%}} placeholders."""
    url = request.build_absolute_uri(reverse("annotation:onboarding_join", args=[link.token]))
    if link.kind != LinkKind.PROLIFIC:
        return url
    names = [link.participant_parameter, link.study_parameter, link.session_parameter]
    return url + "?" + "&".join(f"{n}={{{{%{n}%}}}}" for n in names if n)


@login_required
@require_http_methods(["GET", "POST"])
def recruitment_links(request: HttpRequest) -> HttpResponse:
    """GET: the links with their addresses; POST: create one."""
    links = links_for_admin(request.user)
    form = RecruitmentLinkForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        data = dict(form.cleaned_data)
        projects = data.pop("projects")
        options = {k: v for k, v in data.items() if k not in ("name", "kind")}
        try:
            link = recruitment_link_create(
                name=data["name"],
                kind=data["kind"],
                project_ids=[p.pk for p in projects],
                created_by=request.user,
                **options,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Link “{link.name}” created: copy its address below.")
            return redirect("annotation:recruitment_links")
    rows = [(link, link_url(request, link), recruitment_link_closed(link)) for link in links]
    arrivals = RecruitmentArrival.objects.select_related("link", "user")[:30]
    context = {"rows": rows, "form": form, "arrivals": arrivals}
    return render(
        request, "annotation/recruitment_links.html", context, status=400 if form.errors else 200
    )


@login_required
@require_POST
def recruitment_link_deactivate_view(request: HttpRequest, link_id: int) -> HttpResponse:
    link = link_get_for_admin(request.user, link_id)
    recruitment_link_deactivate(link=link)
    messages.success(request, f"Link “{link.name}” deactivated.")
    return redirect("annotation:recruitment_links")


@login_required
@require_http_methods(["GET", "POST"])
def recruitment_consent(request: HttpRequest) -> HttpResponse:
    """The consent text: saving a change makes a new version."""
    require_admin(request.user)
    versions = list(ConsentVersion.objects.all())
    current = versions[0] if versions else None
    initial = {"text": current.text if current else ""}
    form = ConsentTextForm(request.POST if request.method == "POST" else None, initial=initial)
    if form.is_valid():
        try:
            version = consent_version_create(
                text=form.cleaned_data["text"], created_by=request.user
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Consent version {version.version} saved.")
            return redirect("annotation:recruitment_consent")
    context = {"form": form, "versions": versions}
    return render(
        request, "annotation/recruitment_consent.html", context, status=400 if form.errors else 200
    )


@login_required
@require_http_methods(["GET", "POST"])
def recruitment_attributes(request: HttpRequest) -> HttpResponse:
    """The questionnaire: every attribute definition; POST adds one."""
    require_admin(request.user)
    form = AttributeDefinitionForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            attribute_definition_save(**form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Question added.")
            return redirect("annotation:recruitment_attributes")
    context = {"definitions": AttributeDefinition.objects.all(), "form": form}
    return render(
        request,
        "annotation/recruitment_attributes.html",
        context,
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def recruitment_attribute_edit(request: HttpRequest, definition_id: int) -> HttpResponse:
    definition = attribute_definition_get_for_admin(request.user, definition_id)
    initial = {
        "name": definition.name,
        "question": definition.question,
        "purpose": definition.purpose,
        "options": "\n".join(definition.options),
        "asked": definition.asked,
        "order": definition.order,
    }
    form = AttributeDefinitionForm(
        request.POST if request.method == "POST" else None, initial=initial
    )
    if form.is_valid():
        try:
            attribute_definition_save(definition=definition, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, f"Question “{definition.name}” saved.")
            return redirect("annotation:recruitment_attributes")
    context = {"definition": definition, "form": form}
    return render(
        request,
        "annotation/recruitment_attribute_edit.html",
        context,
        status=400 if form.errors else 200,
    )


@login_required
@require_POST
def recruitment_attribute_delete(request: HttpRequest, definition_id: int) -> HttpResponse:
    definition = attribute_definition_get_for_admin(request.user, definition_id)
    attribute_definition_delete(definition=definition)
    messages.success(request, f"Question “{definition.name}” deleted.")
    return redirect("annotation:recruitment_attributes")


@login_required
@require_GET
def recruitment_labeler(request: HttpRequest, labeler_id: int) -> HttpResponse:
    """One labeler's consent, attributes, platform ids, arrivals and audit trail."""
    audit = labeler_audit_for_admin(request.user, labeler_id)
    return render(request, "annotation/recruitment_labeler.html", {"audit": audit})
