from typing import Any

from django.http import HttpRequest

from annotation.roles import is_admin, is_labeler, is_researcher


def roles(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    return {
        "is_admin": is_admin(user),
        "is_researcher": is_researcher(user),
        "is_labeler": is_labeler(user),
    }
