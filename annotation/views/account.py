"""A user's own account: their API token (shown once when created or rotated)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from rest_framework.authtoken.models import Token

from annotation.services.accounts import api_token_rotate


@login_required
@require_http_methods(["GET", "POST"])
def account_token(request: HttpRequest) -> HttpResponse:
    """GET: whether a token exists (never its key). POST: create or rotate it, show it once."""
    key = api_token_rotate(user=request.user) if request.method == "POST" else None
    context = {"key": key, "has_token": Token.objects.filter(user=request.user).exists()}
    return render(request, "annotation/account_token.html", context)
