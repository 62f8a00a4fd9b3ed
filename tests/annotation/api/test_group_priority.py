"""Admins set a labeler group's priority (the one group a labeler in several counts in for
training runs, issue 11); admins read it back (researchers only see groups of at least
CHORUS_MIN_GROUP_SIZE labelers, tests/annotation/test_small_groups.py)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_admins_set_the_priority_and_read_it(as_persona):
    payload = {"name": "panel", "member_ids": [], "priority": 3}
    created = as_persona("admin_user").post("/api/groups/", payload, content_type="application/json")  # fmt: skip
    assert created.status_code == 201 and created.json()["priority"] == 3
    listed = as_persona("admin_user").get("/api/groups/").json()
    assert [(g["name"], g["priority"]) for g in listed] == [("panel", 3)]
    default = as_persona("admin_user").post("/api/groups/", {"name": "eu"}, content_type="application/json")  # fmt: skip
    assert default.json()["priority"] == 100
