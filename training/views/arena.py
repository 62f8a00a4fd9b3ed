"""The arena leaderboard page: live sources ranked from live battles, overall and per labeler
group (researchers and admins only)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from training.selectors.arena import arena_projects, arena_report


@login_required
@require_GET
def arena_leaderboard(request: HttpRequest) -> HttpResponse:
    projects = arena_projects(request.user)  # 404 for anyone but researchers
    chosen = None
    if raw := request.GET.get("project"):
        if not raw.isdigit():
            return HttpResponse("project: give a project id.", status=400)
        chosen = projects.filter(pk=int(raw)).first()
        if chosen is None:
            raise Http404("No such live project.")
    context = {"projects": projects, "chosen": chosen, "report": arena_report(chosen)}
    return render(request, "training/arena.html", context)
