from typing import Any

from rest_framework.permissions import BasePermission

from annotation.roles import is_admin, is_labeler, is_researcher


class IsResearcher(BasePermission):
    """Researchers and admins."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_researcher(request.user)


class IsAdmin(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return is_admin(request.user)


class IsLabeler(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return is_labeler(request.user)
