"""Labelers, groups and project access over the API: one view per operation.

Admins: the labeler list with activity and filters, deactivate/reactivate, groups (create,
update, delete, size preview). Researchers: groups at or above the minimum size (names and
sizes, never rules), and a project's access setting (groups they may see only)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import LabelerGroup
from annotation.permissions import IsAdmin, IsResearcher
from annotation.roles import is_admin
from annotation.selectors.labeler_admin import (
    CONSENT,
    STATUSES,
    LabelerFilters,
    LabelerRow,
    group_get_for_admin,
    group_preview,
    labeler_detail,
    labeler_rows,
    project_access,
    with_activity,
)
from annotation.selectors.labelers import group_members, groups_with_sizes
from annotation.selectors.projects import project_get_for_researcher
from annotation.services.access import project_access_update
from annotation.services.labelers import (
    labeler_deactivate,
    labeler_group_create,
    labeler_group_delete,
    labeler_group_update,
    labeler_reactivate,
)

RULES = serializers.DictField(
    child=serializers.ListField(child=serializers.CharField(max_length=100)),
    help_text="attribute -> allowed values: AND across attributes, OR within one.",
)


class LabelerOutput(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    pseudonym = serializers.CharField()
    active = serializers.BooleanField()
    consent_given_at = serializers.DateTimeField(allow_null=True)
    deactivated_at = serializers.DateTimeField(allow_null=True)
    attributes = serializers.DictField(child=serializers.CharField())
    groups = serializers.ListField(child=serializers.CharField())
    judgments = serializers.IntegerField()
    agreement = serializers.FloatField(
        allow_null=True,
        help_text="Share of their pairwise votes equal to the other labelers' unique majority "
        "on the same item (over `comparable` judgments); null when none is comparable.",
    )
    comparable = serializers.IntegerField()
    last_seen = serializers.DateTimeField(allow_null=True)


def _labeler_row(row: LabelerRow) -> dict[str, Any]:
    profile = row.profile
    return {
        "id": row.user.pk, "username": row.user.username,
        "pseudonym": profile.pseudonym if profile else "", "active": row.user.is_active,
        "consent_given_at": profile.consent_given_at if profile else None,
        "deactivated_at": profile.deactivated_at if profile else None,
        "attributes": dict(profile.attributes) if profile else {}, "groups": row.groups,
        "judgments": row.activity.judgments, "agreement": row.activity.agreement,
        "comparable": row.activity.comparable, "last_seen": row.last_seen,
    }  # fmt: skip


class LabelerListApi(APIView):
    """Labelers with attributes and activity, naturally sorted by username: admins only."""

    permission_classes = [IsAdmin]

    class LabelerListInput(serializers.Serializer):
        search = serializers.CharField(required=False, max_length=100, default="")
        group = serializers.IntegerField(required=False, min_value=1, allow_null=True, default=None)
        attribute = serializers.CharField(required=False, max_length=40, default="")
        value = serializers.CharField(required=False, max_length=100, default="")
        status = serializers.ChoiceField(choices=STATUSES, required=False, default="active")
        consent = serializers.ChoiceField(choices=CONSENT, required=False, default="")
        page = serializers.IntegerField(required=False, min_value=1, default=1)
        page_size = serializers.IntegerField(
            required=False, min_value=1, max_value=500, default=100
        )

    class LabelerPageOutput(serializers.Serializer):
        count = serializers.IntegerField()
        page = serializers.IntegerField()
        pages = serializers.IntegerField()
        results = LabelerOutput(many=True)

    @extend_schema(parameters=[LabelerListInput], responses=LabelerPageOutput)
    def get(self, request: Request) -> Response:
        data = self.LabelerListInput(data=request.query_params)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        number, size = params.pop("page"), params.pop("page_size")
        rows = labeler_rows(LabelerFilters(**params))
        paginator = Paginator(rows, size)
        page = paginator.get_page(number)
        results = [_labeler_row(r) for r in with_activity(list(page.object_list))]
        body = {"count": len(rows), "page": page.number, "pages": paginator.num_pages}
        return Response(self.LabelerPageOutput({**body, "results": results}).data)


class LabelerDeactivateApi(APIView):
    """Deactivate a labeler: no login, no labeling, open reservations released at once; their
    judgments stay. Idempotent."""

    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses=LabelerOutput)
    def post(self, request: Request, user_id: int) -> Response:
        row = labeler_detail(user_id).row
        labeler_deactivate(user=row.user, by=request.user)
        return Response(LabelerOutput(_labeler_row(labeler_detail(user_id).row)).data)


class LabelerReactivateApi(APIView):
    permission_classes = [IsAdmin]

    @extend_schema(request=None, responses=LabelerOutput)
    def post(self, request: Request, user_id: int) -> Response:
        labeler_reactivate(user=labeler_detail(user_id).row.user, by=request.user)
        return Response(LabelerOutput(_labeler_row(labeler_detail(user_id).row)).data)


class GroupOutput(serializers.Serializer):
    """What researchers see of a group: never its rules (they name labelers' attributes)."""

    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    priority = serializers.IntegerField()
    labelers = serializers.IntegerField(help_text="Explicit members and rule matches.")


class GroupAdminOutput(GroupOutput):
    rules = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="attribute -> allowed values (admins only).",
    )
    member_ids = serializers.ListField(child=serializers.IntegerField())


def _group_row(group: LabelerGroup, labelers: int, *, admin: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": group.pk, "name": group.name, "description": group.description,
        "priority": group.priority, "labelers": labelers,
    }  # fmt: skip
    if admin:
        row["rules"] = {}
        for rule in group.rules.all():
            row["rules"].setdefault(rule.attribute, []).append(rule.value)
        row["member_ids"] = sorted(u.pk for u in group.members.all())
    return row


def _admin_group(group: LabelerGroup) -> dict[str, Any]:
    group = group_get_for_admin(group.pk)
    return _group_row(group, len(group_members(group)), admin=True)


class GroupInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    rules = RULES
    member_ids = serializers.ListField(child=serializers.IntegerField(), required=False)
    priority = serializers.IntegerField(
        required=False, default=100, min_value=0, max_value=32767,
        help_text="A labeler in several groups counts, in training runs, in the group with "
        "the lowest priority number (then by name).",
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["rules"].required = False


class GroupListApi(APIView):
    """Researchers read the groups at or above CHORUS_MIN_GROUP_SIZE (names and sizes, never
    rules); admins read every group with its rules and members, and create groups."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=GroupAdminOutput(many=True))
    def get(self, request: Request) -> Response:
        admin = is_admin(request.user)
        groups = groups_with_sizes(for_admin=admin)
        rows = [_group_row(g, n, admin=admin) for g, n in groups]
        return Response((GroupAdminOutput if admin else GroupOutput)(rows, many=True).data)

    @extend_schema(request=GroupInput, responses={201: GroupAdminOutput})
    def post(self, request: Request) -> Response:
        if not is_admin(request.user):
            return Response(
                {"detail": "Only admins define labeler groups."}, status=status.HTTP_403_FORBIDDEN
            )
        data = GroupInput(data=request.data)
        data.is_valid(raise_exception=True)
        group = labeler_group_create(**data.validated_data)
        return Response(GroupAdminOutput(_admin_group(group)).data, status=status.HTTP_201_CREATED)


class GroupDetailApi(APIView):
    """One group (admins): read, change (rules and members replaced as a whole), delete."""

    permission_classes = [IsAdmin]

    @extend_schema(responses=GroupAdminOutput)
    def get(self, request: Request, group_id: int) -> Response:
        return Response(GroupAdminOutput(_admin_group(group_get_for_admin(group_id))).data)

    @extend_schema(request=GroupInput(partial=True), responses=GroupAdminOutput)
    def patch(self, request: Request, group_id: int) -> Response:
        group = group_get_for_admin(group_id)
        data = GroupInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        labeler_group_update(group=group, **data.validated_data)
        return Response(GroupAdminOutput(_admin_group(group)).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, group_id: int) -> Response:
        labeler_group_delete(group=group_get_for_admin(group_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupPreviewApi(APIView):
    """How many labelers a group with these rules and members would have now, and whether
    researchers would see it. Writes nothing."""

    permission_classes = [IsAdmin]

    class GroupPreviewInput(serializers.Serializer):
        rules = RULES
        member_ids = serializers.ListField(child=serializers.IntegerField(), required=False)

    class GroupPreviewOutput(serializers.Serializer):
        labelers = serializers.IntegerField()
        by_rules = serializers.IntegerField()
        minimum = serializers.IntegerField()
        hidden_from_researchers = serializers.BooleanField()

    @extend_schema(request=GroupPreviewInput, responses=GroupPreviewOutput)
    def post(self, request: Request) -> Response:
        data = self.GroupPreviewInput(data=request.data)
        data.is_valid(raise_exception=True)
        preview = group_preview(
            rules=data.validated_data["rules"], member_ids=data.validated_data.get("member_ids", [])
        )
        body = {
            "labelers": preview.size, "by_rules": preview.by_rules, "minimum": preview.minimum,
            "hidden_from_researchers": preview.hidden_from_researchers,
        }  # fmt: skip
        return Response(self.GroupPreviewOutput(body).data)


class ProjectAccessApi(APIView):
    """Who may label a project. Researchers see and set only groups at or above the minimum
    size (groups an admin chose below it stay, counted in `hidden_groups`); `labeler_ids`
    (labelers chosen or recruited through the project's link) are admins' to read and set."""

    permission_classes = [IsResearcher]

    class AccessInput(serializers.Serializer):
        open_to_all = serializers.BooleanField()
        group_ids = serializers.ListField(child=serializers.IntegerField(), default=list)
        labeler_ids = serializers.ListField(
            child=serializers.IntegerField(), required=False,
            help_text="Admins only; left out: unchanged.",
        )  # fmt: skip

    class AccessOutput(serializers.Serializer):
        open_to_all = serializers.BooleanField()
        group_ids = serializers.ListField(child=serializers.IntegerField())
        hidden_groups = serializers.IntegerField()
        labelers = serializers.IntegerField(help_text="Chosen or recruited labelers.")
        labeler_ids = serializers.ListField(
            child=serializers.IntegerField(), required=False, help_text="Admins only."
        )

    def _body(self, request: Request, project: Any) -> dict[str, Any]:
        admin = is_admin(request.user)
        access = project_access(project, for_admin=admin)
        body: dict[str, Any] = {
            "open_to_all": access.open_to_all, "hidden_groups": access.hidden_chosen,
            "group_ids": [g.pk for g, _, chosen in access.groups if chosen],
            "labelers": access.labeler_count,
        }  # fmt: skip
        if admin:
            body["labeler_ids"] = [u.pk for u in access.labelers]
        return self.AccessOutput(body).data

    @extend_schema(responses=AccessOutput)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(self._body(request, project_get_for_researcher(request.user, project_id)))

    @extend_schema(request=AccessInput, responses=AccessOutput)
    def put(self, request: Request, project_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        data = self.AccessInput(data=request.data)
        data.is_valid(raise_exception=True)
        admin = is_admin(request.user)
        if not admin and "labeler_ids" in data.validated_data:
            return Response(
                {"labeler_ids": ["Only admins choose labelers."]}, status=status.HTTP_403_FORBIDDEN
            )
        project_access_update(
            project=project, open_to_all=data.validated_data["open_to_all"],
            group_ids=data.validated_data["group_ids"],
            labeler_ids=data.validated_data.get("labeler_ids"), for_admin=admin,
        )  # fmt: skip
        return Response(self._body(request, project))
