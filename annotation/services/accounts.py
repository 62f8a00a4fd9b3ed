"""Accounts: the per-user API token (DRF's authtoken), created or rotated by its owner."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework.authtoken.models import Token


@transaction.atomic
def api_token_rotate(*, user: Any) -> str:
    """Delete the user's API token if any and create a new one; return its key. The key is
    shown once, to its owner; the old one stops working at once."""
    Token.objects.filter(user=user).delete()
    return str(Token.objects.create(user=user).key)
