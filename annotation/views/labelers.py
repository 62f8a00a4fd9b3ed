"""Admins' pages for labelers and groups: the list with activity and filters, one labeler's
page with deactivate/reactivate, and group creation and editing by attribute rule with a
live (htmx) preview of the group's size. Everything here is 404 for anyone but admins."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from annotation.forms import LabelerFilterForm, LabelerGroupForm, MemberAddForm, rules_from_data
from annotation.http import HtmxHttpRequest
from annotation.models import LabelerGroup
from annotation.roles import is_admin
from annotation.selectors.labeler_admin import (
    LabelerFilters,
    attribute_choices,
    group_explicit_members,
    group_get_for_admin,
    group_preview,
    labeler_detail,
    labeler_ids_by_name,
    labeler_rows,
    with_activity,
)
from annotation.selectors.labelers import groups_with_sizes, min_group_size
from annotation.services.labelers import (
    labeler_deactivate,
    labeler_group_create,
    labeler_group_delete,
    labeler_group_members_change,
    labeler_group_update,
    labeler_reactivate,
)

PAGE_SIZE = 50


def _admin(request: HttpRequest) -> None:
    if not is_admin(request.user):
        raise Http404


def _filters(form: LabelerFilterForm) -> LabelerFilters:
    if not form.is_valid():
        return LabelerFilters()
    data = {k: v for k, v in form.cleaned_data.items() if v not in (None, "")}
    return LabelerFilters(**data)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def labeler_list(request: HtmxHttpRequest) -> HttpResponse:
    _admin(request)
    groups = groups_with_sizes(for_admin=True)
    form = LabelerFilterForm(
        request.GET, groups=[g for g, _ in groups], attributes=attribute_choices()
    )
    rows = labeler_rows(_filters(form))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    with_activity(list(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form, "page": page, "total": len(rows), "groups": groups,
        "minimum": min_group_size(), "query": query.urlencode(),
    }  # fmt: skip
    template = "annotation/labeler_list.html#results" if request.htmx else None
    return render(request, template or "annotation/labeler_list.html", context)


@login_required
@require_GET
def labeler_page(request: HttpRequest, user_id: int) -> HttpResponse:
    _admin(request)
    return render(request, "annotation/labeler_detail.html", {"detail": labeler_detail(user_id)})


@login_required
@require_POST
def labeler_deactivate_view(request: HttpRequest, user_id: int) -> HttpResponse:
    _admin(request)
    user = labeler_detail(user_id).row.user
    labeler_deactivate(user=user, by=request.user)
    messages.success(request, f"{user.username} is deactivated; their open items were released.")
    return redirect("annotation:labeler_page", user_id=user_id)


@login_required
@require_POST
def labeler_reactivate_view(request: HttpRequest, user_id: int) -> HttpResponse:
    _admin(request)
    user = labeler_detail(user_id).row.user
    labeler_reactivate(user=user, by=request.user)
    messages.success(request, f"{user.username} may log in and label again.")
    return redirect("annotation:labeler_page", user_id=user_id)


def _group_context(form: Any, group: LabelerGroup | None, rules: dict[str, list[str]]) -> Any:
    members = group_explicit_members(group) if group else []
    preview = group_preview(rules=rules, member_ids=[u.pk for u in members])
    return {
        "form": form, "group": group, "rules": rules, "attributes": attribute_choices(),
        "members": members, "preview": preview, "member_form": MemberAddForm(),
    }  # fmt: skip


def _rules_of(group: LabelerGroup) -> dict[str, list[str]]:
    rules: dict[str, list[str]] = {}
    for rule in group.rules.all():
        rules.setdefault(rule.attribute, []).append(rule.value)
    return rules


def _save_group(request: HttpRequest, group: LabelerGroup | None) -> tuple[Any, Any]:
    """(form, saved group or None) from a POSTed group form."""
    form = LabelerGroupForm(request.POST)
    rules = rules_from_data(request.POST, attribute_choices())
    if not form.is_valid():
        return form, None
    try:
        if group is None:
            return form, labeler_group_create(rules=rules, **form.cleaned_data)
        return form, labeler_group_update(group=group, rules=rules, **form.cleaned_data)
    except ValidationError as exc:
        form.add_error(None, exc)
        return form, None


@login_required
@require_http_methods(["GET", "POST"])
def group_create(request: HttpRequest) -> HttpResponse:
    _admin(request)
    form, group = _save_group(request, None) if request.method == "POST" else (None, None)
    if group is not None:
        messages.success(request, f"Group {group.name} created.")
        return redirect("annotation:group_edit", group_id=group.pk)
    rules = rules_from_data(request.POST, attribute_choices())
    context = _group_context(form or LabelerGroupForm(), None, rules)
    return render(request, "annotation/group_form.html", context, status=422 if form else 200)


@login_required
@require_http_methods(["GET", "POST"])
def group_edit(request: HttpRequest, group_id: int) -> HttpResponse:
    _admin(request)
    group = group_get_for_admin(group_id)
    if request.method == "POST":
        form, saved = _save_group(request, group)
        if saved is not None:
            messages.success(request, f"Group {saved.name} saved.")
            return redirect("annotation:group_edit", group_id=group.pk)
        group.refresh_from_db()
        context = _group_context(form, group, rules_from_data(request.POST, attribute_choices()))
        return render(request, "annotation/group_form.html", context, status=422)
    initial = {"name": group.name, "description": group.description, "priority": group.priority}
    context = _group_context(LabelerGroupForm(initial=initial), group, _rules_of(group))
    return render(request, "annotation/group_form.html", context)


@login_required
@require_GET
def group_preview_view(request: HttpRequest) -> HttpResponse:
    """The group form's live size preview (htmx): the group as the form now stands."""
    _admin(request)
    members: list[int] = []
    if (group_id := request.GET.get("group", "")).isdigit():
        members = [u.pk for u in group_explicit_members(group_get_for_admin(int(group_id)))]
    rules = rules_from_data(request.GET, attribute_choices())
    preview = group_preview(rules=rules, member_ids=members)
    return render(request, "annotation/group_form.html#preview", {"preview": preview})


@login_required
@require_POST
def group_delete(request: HttpRequest, group_id: int) -> HttpResponse:
    _admin(request)
    group = group_get_for_admin(group_id)
    labeler_group_delete(group=group)
    messages.success(request, f"Group {group.name} deleted.")
    return redirect("annotation:labeler_list")


@login_required
@require_POST
def group_member_add(request: HttpRequest, group_id: int) -> HttpResponse:
    _admin(request)
    group = group_get_for_admin(group_id)
    form = MemberAddForm(request.POST)
    ids = labeler_ids_by_name([form.data.get("labeler", "")]) if form.is_valid() else []
    if not ids:
        messages.error(request, "labeler: no labeler with that username or pseudonym.")
    else:
        labeler_group_members_change(group=group, add=ids)
    return redirect("annotation:group_edit", group_id=group.pk)


@login_required
@require_POST
def group_member_remove(request: HttpRequest, group_id: int, user_id: int) -> HttpResponse:
    _admin(request)
    group = group_get_for_admin(group_id)
    labeler_group_members_change(group=group, remove=[user_id])
    return redirect("annotation:group_edit", group_id=group.pk)
