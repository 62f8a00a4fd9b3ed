"""Who may do what: the expected HTTP status for each persona, one matrix per kind of access.

Access tests are parametrized over PERSONAS and look the answer up in one of these matrices,
so every role is checked and a rule is written once. Pages tell outsiders that the object does
not exist (404) and send anonymous visitors to the login page (302); the API answers 403."""

from __future__ import annotations

PERSONAS = ["labeler", "other_labeler", "researcher", "admin_user", "outsider", "anonymous"]
STAFF = ("researcher", "admin_user")


def _matrix(*, labelers: int, researcher: int, admin_user: int, outsider: int, anonymous: int):
    return {
        "labeler": labelers,
        "other_labeler": labelers,
        "researcher": researcher,
        "admin_user": admin_user,
        "outsider": outsider,
        "anonymous": anonymous,
    }


RESEARCH_PAGE = _matrix(labelers=404, researcher=200, admin_user=200, outsider=404, anonymous=302)
RESEARCH_API = _matrix(labelers=403, researcher=200, admin_user=200, outsider=403, anonymous=403)
ADMIN_PAGE = {**RESEARCH_PAGE, "researcher": 404}
ADMIN_API = {**RESEARCH_API, "researcher": 403}
LABELER_PAGE = _matrix(labelers=200, researcher=404, admin_user=404, outsider=404, anonymous=302)
LABELER_API = _matrix(labelers=200, researcher=403, admin_user=403, outsider=403, anonymous=403)


def staff_answer(matrix: dict[str, int], status: int) -> dict[str, int]:
    """The matrix with researchers and admins answered `status` (201 created, 302 redirected)."""
    return {**matrix, **dict.fromkeys(STAFF, status)}


RESEARCH_POST = staff_answer(RESEARCH_PAGE, 302)  # a form on a research page redirects onward
RESEARCH_CREATE = staff_answer(RESEARCH_API, 201)  # an API create by researchers and admins


# The minimum-group-size rule (issue 10): who may read a labeler group with fewer labelers than
# CHORUS_MIN_GROUP_SIZE by name, size or figures. Nobody in exports, reports and run pages (they
# show at most how many groups are hidden); admins only in the groups API, where they define
# groups. Access tests check every output a persona can open against these.
SMALL_GROUP_NAMED = dict.fromkeys(PERSONAS, False)
SMALL_GROUP_NAMED_ON_GROUPS_API = {**SMALL_GROUP_NAMED, "admin_user": True}
