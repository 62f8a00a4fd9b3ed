"""The agreement report as JSON: the same cached figures as the dashboard, one view per
operation. Researchers and admins read and recompute. Nothing is computed in a
request: a section of a report never computed answers 404."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import ProjectReport
from annotation.permissions import IsResearcher
from annotation.selectors.projects import project_get_for_researcher
from annotation.selectors.reports import report_get, report_item_detail
from annotation.services.reports import project_report_request


def _numbers() -> serializers.ListField:
    return serializers.ListField(child=serializers.FloatField(allow_null=True))


def _matrix() -> serializers.ListField:
    return serializers.ListField(child=_numbers())


class ReportEstimateOutput(serializers.Serializer):
    value = serializers.FloatField(allow_null=True)
    low = serializers.FloatField(allow_null=True, help_text="95% bootstrap percentile bound.")
    high = serializers.FloatField(allow_null=True)
    units = serializers.IntegerField(help_text="Units (items, or item-responses) that entered.")


class ReportKendallOutput(serializers.Serializer):
    mean = serializers.FloatField(allow_null=True, help_text="Mean tie-corrected W per item.")
    items = serializers.IntegerField()
    mean_uncorrected = serializers.FloatField(allow_null=True, required=False)
    chi2 = serializers.FloatField(
        allow_null=True, required=False, help_text="Sum over items of m (n - 1) W (corrected)."
    )
    chi2_uncorrected = serializers.FloatField(allow_null=True, required=False)
    df = serializers.IntegerField(required=False, help_text="Sum over items of n - 1.")
    p = serializers.FloatField(allow_null=True, required=False)
    p_uncorrected = serializers.FloatField(allow_null=True, required=False)


class ReportChanceCorrectedOutput(serializers.Serializer):
    value = serializers.FloatField(allow_null=True, help_text="(p_o - p_e) / (1 - p_e).")
    p_o = serializers.FloatField(allow_null=True, help_text="Observed (weighted) agreement.")
    p_e = serializers.FloatField(allow_null=True, help_text="Agreement expected by chance.")
    weights = serializers.CharField(help_text="identity, linear, quadratic, ordinal, bipolar.")


class ReportFleissOutput(ReportChanceCorrectedOutput):
    equal_raters = serializers.BooleanField(
        help_text="Every item has the same number of labelers (then it is Fleiss' 1971 kappa)."
    )


class ReportAgreementOutput(serializers.Serializer):
    judgments = serializers.IntegerField()
    items = serializers.IntegerField()
    items_multi = serializers.IntegerField(help_text="Items judged by at least two labelers.")
    nominal = ReportEstimateOutput(
        help_text="Alpha on the nominal vote (pairwise A/B/tie/both bad)."
    )
    ordinal = ReportEstimateOutput(
        help_text="Alpha ordinal: pairwise 8-point scale; ranking rank per response."
    )
    interval = ReportEstimateOutput(
        required=False, help_text="Pairwise only: alpha interval on the scale."
    )
    percent_agreement = serializers.FloatField(allow_null=True)
    ac1 = serializers.FloatField(allow_null=True)
    fleiss_kappa = serializers.FloatField(
        allow_null=True, help_text="Fleiss' kappa, missing-data form (= fleiss.value)."
    )
    fleiss = ReportFleissOutput(allow_null=True, required=False)
    ac2 = ReportChanceCorrectedOutput(
        allow_null=True, required=False,
        help_text="Gwet's AC2 on the 8-point scale (pairwise) or the ranks (ranking).",
    )  # fmt: skip
    kendall_w = ReportKendallOutput(required=False, help_text="Ranking only.")


class ReportAgreementSectionOutput(serializers.Serializer):
    all = ReportAgreementOutput()
    groups = serializers.DictField(child=ReportAgreementOutput())


class ReportBetweenOutput(serializers.Serializer):
    groups = serializers.ListField(child=serializers.CharField())
    majority_agreement = _matrix()
    items_compared = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField())
    )
    alpha = serializers.FloatField(allow_null=True, help_text="Interval alpha, groups as coders.")
    pair_alpha = _matrix()


class ReportModelFiguresOutput(serializers.Serializer):
    comparisons = serializers.IntegerField()
    games = _numbers()
    counts = serializers.ListField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Comparisons per source, unweighted (`games` weighs a ranking pair 1/C(K, 2)).",
    )
    win_rate = _numbers()
    win_low = _numbers()
    win_high = _numbers()
    strength = _numbers()
    strength_low = _numbers()
    strength_high = _numbers()


class ReportPositionOutput(serializers.Serializer):
    comparisons = serializers.IntegerField(
        help_text="Comparisons involving the response shown first (Judgment.display_order)."
    )
    first_wins = serializers.FloatField(allow_null=True, help_text="Its share of wins, ties half.")
    effect = serializers.FloatField(
        allow_null=True, help_text="Bradley-Terry position effect: log-odds of the shown-first."
    )
    se = serializers.FloatField(allow_null=True, help_text="From the Hessian.")
    low = serializers.FloatField(allow_null=True)
    high = serializers.FloatField(allow_null=True)
    p_value = serializers.FloatField(allow_null=True, help_text="Wald test of effect = 0.")
    first_wins_equal = serializers.FloatField(
        allow_null=True, help_text="P(shown-first wins) between equally strong responses."
    )
    first_wins_low = serializers.FloatField(allow_null=True)
    first_wins_high = serializers.FloatField(allow_null=True)
    method = serializers.CharField(
        allow_null=True, help_text="exact (maximum likelihood) or prior (one virtual game)."
    )
    note = serializers.CharField(allow_blank=True, help_text="Why the exact fit does not exist.")


class ReportPreferencesOutput(serializers.Serializer):
    models = serializers.ListField(child=serializers.CharField())
    all = ReportModelFiguresOutput(allow_null=True)
    groups = serializers.DictField(child=ReportModelFiguresOutput())
    imported = ReportModelFiguresOutput(allow_null=True, help_text="Imported judgments, apart.")
    position = ReportPositionOutput(
        required=False, help_text="Does the response shown first win? (all labelers)"
    )


class ReportSideOutput(serializers.Serializer):
    group = serializers.CharField()
    votes = serializers.ListField(child=serializers.IntegerField())
    majority = serializers.CharField(allow_null=True)
    mean = serializers.JSONField(
        help_text="Pairwise: mean 8-point scale; ranking: mean rank per response."
    )


class ReportContestedItemOutput(serializers.Serializer):
    item_id = serializers.IntegerField()
    jsd = serializers.FloatField()
    p_value = serializers.FloatField(allow_null=True)
    q_value = serializers.FloatField(allow_null=True)
    significant = serializers.BooleanField()
    method = serializers.CharField()
    sides = ReportSideOutput(many=True)


class ReportContestedOutput(serializers.Serializer):
    compared = serializers.IntegerField()
    tested = serializers.IntegerField()
    significant = serializers.IntegerField()
    items = ReportContestedItemOutput(many=True)


class ReportLabelerOutput(serializers.Serializer):
    pseudonym = serializers.CharField()
    judgments = serializers.IntegerField()
    comparable = serializers.IntegerField()
    agreement = serializers.FloatField(allow_null=True)
    agreement_group = serializers.FloatField(allow_null=True)
    kappa = serializers.FloatField(
        allow_null=True, required=False, help_text="Cohen's kappa against the consensus."
    )
    kappa_p_e = serializers.FloatField(allow_null=True, required=False)
    seconds_median = serializers.FloatField(allow_null=True)
    same_answer_share = serializers.FloatField(allow_null=True)
    first_shown_share = serializers.FloatField(allow_null=True)
    gold_accuracy = serializers.FloatField(allow_null=True)
    gold_judged = serializers.IntegerField()
    screening_accuracy = serializers.FloatField(allow_null=True)
    screening_judged = serializers.IntegerField()
    screened = serializers.BooleanField(allow_null=True)
    flags = serializers.ListField(child=serializers.CharField())


class ReportLengthFiguresOutput(serializers.Serializer):
    comparisons = serializers.IntegerField()
    longer_wins = serializers.FloatField(allow_null=True)
    longer_wins_n = serializers.IntegerField()
    slope = serializers.FloatField(allow_null=True, help_text="Log-odds per `unit` characters.")
    slope_low = serializers.FloatField(allow_null=True)
    slope_high = serializers.FloatField(allow_null=True)
    intercept = serializers.FloatField(allow_null=True)
    curve = serializers.ListField(child=_numbers(), required=False)
    bins = serializers.ListField(child=_numbers(), required=False)
    unordered = serializers.IntegerField(
        required=False,
        help_text="Comparisons without a recorded display order, kept in the stored order.",
    )


class ReportLengthBiasOutput(serializers.Serializer):
    unit = serializers.FloatField()
    all = ReportLengthFiguresOutput(allow_null=True)
    groups = serializers.DictField(child=ReportLengthFiguresOutput())
    imported = ReportLengthFiguresOutput(allow_null=True, help_text="Imported judgments, apart.")


class ReportCriterionBlockOutput(serializers.Serializer):
    ratings = serializers.IntegerField()
    ordinal = ReportEstimateOutput()
    interval = ReportEstimateOutput()


class ReportCriterionOutput(serializers.Serializer):
    name = serializers.CharField()
    all = ReportCriterionBlockOutput()
    groups = serializers.DictField(child=ReportCriterionBlockOutput())


class ReportGroupOutput(serializers.Serializer):
    name = serializers.CharField()
    labelers = serializers.IntegerField()
    judgments = serializers.IntegerField()


class ReportPayloadOutput(serializers.Serializer):
    kind = serializers.CharField()
    config = serializers.DictField()
    vote_labels = serializers.ListField(child=serializers.CharField())
    totals = serializers.DictField(child=serializers.IntegerField())
    groups = ReportGroupOutput(many=True)
    hidden_groups = serializers.IntegerField()
    agreement = ReportAgreementSectionOutput()
    between = ReportBetweenOutput()
    contested = ReportContestedOutput()
    preferences = ReportPreferencesOutput()
    length_bias = ReportLengthBiasOutput()
    criteria = ReportCriterionOutput(many=True)
    labelers = ReportLabelerOutput(many=True)


class ReportStatusOutput(serializers.Serializer):
    status = serializers.CharField(help_text="queued, running, succeeded, failed, or missing.")
    computed_at = serializers.DateTimeField(allow_null=True)
    requested_at = serializers.DateTimeField(allow_null=True)
    judgments = serializers.IntegerField()
    seconds = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class ReportOutput(ReportStatusOutput):
    report = ReportPayloadOutput(allow_null=True, source="payload")


def _status(report: ProjectReport | None) -> dict[str, Any]:
    if report is None:
        return {"status": "missing", "computed_at": None, "requested_at": None, "judgments": 0, "seconds": None, "error": "", "payload": None}  # fmt: skip
    payload = report.payload if report.payload and "agreement" in report.payload else None
    return {**{f: getattr(report, f) for f in ReportStatusOutput().fields}, "payload": payload}


def _section(request: Request, project_id: int, key: str) -> Any:
    report = report_get(project_get_for_researcher(request.user, project_id))
    if report is None or not report.payload or key not in report.payload:
        raise Http404("This project's report has not been computed yet.")
    return report.payload[key]


class ReportDetailApi(APIView):
    """The whole cached report, with its status."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=ReportOutput)
    def get(self, request: Request, project_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        return Response(ReportOutput(_status(report_get(project))).data)


class ReportRecomputeApi(APIView):
    """Queue a recomputation in the background (researchers and admins); poll the report for
    its status."""

    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses={202: ReportStatusOutput})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        report = project_report_request(project=project, requested_by=request.user)
        return Response(ReportStatusOutput(_status(report)).data, status=status.HTTP_202_ACCEPTED)


class ReportAgreementApi(APIView):
    """Alpha, agreement, AC1, kappa (and Kendall's W) overall and within each group."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=ReportAgreementSectionOutput)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(
            ReportAgreementSectionOutput(_section(request, project_id, "agreement")).data
        )


class ReportBetweenApi(APIView):
    """Group x group: how often majorities agree, items compared, between-group alpha."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=ReportBetweenOutput)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(ReportBetweenOutput(_section(request, project_id, "between")).data)


class ReportPreferencesApi(APIView):
    """Per group: win rate and Bradley-Terry log-strength of each response source, with CIs."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=ReportPreferencesOutput)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(ReportPreferencesOutput(_section(request, project_id, "preferences")).data)


class ReportContestedApi(APIView):
    """Items whose vote distributions differ most between groups, with significance."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=ReportContestedOutput)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(ReportContestedOutput(_section(request, project_id, "contested")).data)


class ReportLabelersApi(APIView):
    """Labeler quality by pseudonym: agreement with the consensus, speed, straight-lining, gold."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=ReportLabelerOutput(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        return Response(
            ReportLabelerOutput(_section(request, project_id, "labelers"), many=True).data
        )


class ReportLengthBiasApi(APIView):
    """How often the longer response wins, and the fitted effect of length on preference."""

    permission_classes = [IsResearcher]

    @extend_schema(responses=ReportLengthBiasOutput)
    def get(self, request: Request, project_id: int) -> Response:
        return Response(ReportLengthBiasOutput(_section(request, project_id, "length_bias")).data)


class ItemVotesApi(APIView):
    """One item's responses (with source models) and its vote distribution per shown group."""

    permission_classes = [IsResearcher]

    class ItemVotesOutput(serializers.Serializer):
        class ItemResponseOutput(serializers.Serializer):
            position = serializers.IntegerField()
            source_model = serializers.CharField(source="completion.source_model")
            text = serializers.CharField(source="completion.text")

        class ItemDistributionOutput(serializers.Serializer):
            group = serializers.CharField()
            votes = serializers.ListField(child=serializers.IntegerField())
            total = serializers.IntegerField()

        item_id = serializers.IntegerField(source="item.pk")
        purpose = serializers.CharField(source="item.purpose")
        labels = serializers.ListField(child=serializers.CharField())
        responses = ItemResponseOutput(many=True, source="slots")
        distributions = ItemDistributionOutput(many=True)
        imported = ItemDistributionOutput()

    @extend_schema(responses=ItemVotesOutput)
    def get(self, request: Request, project_id: int, item_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        return Response(self.ItemVotesOutput(report_item_detail(project, item_id)).data)
