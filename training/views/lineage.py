"""HTML page of a model's lineage (selectors/lineage.py). Researchers and admins only."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from training.selectors.lineage import lineage


@login_required
@require_GET
def lineage_page(request: HttpRequest, run_id: int) -> HttpResponse:
    return render(request, "training/lineage.html", lineage(request.user, run_id))
