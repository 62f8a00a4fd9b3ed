"""Agreement, concordance and preference-strength statistics for Chorus judgments.

Pure numpy/scipy: nothing here imports Django. The glue (the report service, the
evaluation read models) turns `Judgment` rows into arrays and calls these functions;
each module's docstring gives its formulas, references and a runnable example.

- `reliability`: count tables, coincidence matrices, Krippendorff's alpha (any level, per
  criterion, from continuous values).
- `kappas`: Gwet's AC1/AC2 with weights (identity, linear, quadratic, ordinal, bipolar),
  Fleiss' kappa (also in the missing-data form), Cohen's (weighted) kappa, each with its
  p_o and p_e, percent agreement.
- `ranks`: tied ranks, Kendall's W uncorrected and tie-corrected with chi-square and p (one
  table, or every unit at once), Kendall's tau-b.
- `strengths`: Bradley-Terry and Plackett-Luce (MM, with bootstrap CIs).
- `logistic`: the one logistic regression, and Bradley-Terry through it (from pair totals,
  with a covariate, with a home / position effect; the exact maximum-likelihood fit where it
  exists; standard errors from the Hessian).
- `divergence`: Jensen-Shannon divergence, the two-group homogeneity test,
  Benjamini-Hochberg adjusted p-values.
- `bootstrap`: percentile bootstrap intervals, and the fast exact one for alpha.
- `scales`: how the 8-point pairwise scale and the A/B/tie choice become values.

Import the package, not the modules: ``from annotation import agreement as ag``.

Example::

    >>> from annotation import agreement as ag
    >>> ag.krippendorff_alpha([[1, 2, 3, 4], [1, 2, 3, 4]], "interval")  # perfect agreement
    1.0
"""

from annotation.agreement.bootstrap import (
    AlphaInterval,
    BootstrapCI,
    alpha_bootstrap,
    bootstrap_ci,
    percentile_interval,
)
from annotation.agreement.divergence import (
    HomogeneityTest,
    benjamini_hochberg,
    homogeneity_test,
    jensen_shannon,
)
from annotation.agreement.kappas import (
    WEIGHT_SCHEMES,
    ChanceCorrected,
    FleissKappa,
    Weights,
    WeightScheme,
    agreement_weights,
    cohen_agreement,
    cohen_kappa,
    cohen_kappa_table,
    cohen_table,
    fleiss_kappa,
    fleiss_kappa_missing,
    gwet_ac1,
    gwet_ac2,
    percent_agreement,
)
from annotation.agreement.logistic import (
    BradleyTerryFit,
    LogisticFit,
    NoFiniteMLE,
    bradley_terry_covariate,
    bradley_terry_fit,
    bradley_terry_pairs,
    logistic_fit,
    logistic_fit_1d,
)
from annotation.agreement.ranks import (
    KendallW,
    KendallWUnits,
    kendall_tau_b,
    kendall_w,
    kendall_w_per_unit,
    kendall_w_test,
    kendall_w_units,
    tied_ranks,
)
from annotation.agreement.reliability import (
    FloatArray,
    IntArray,
    Level,
    alpha_from_coincidence,
    alpha_from_counts,
    alpha_per_criterion,
    coincidence_matrix,
    count_judgments,
    count_matrix,
    interval_alpha,
    krippendorff_alpha,
)
from annotation.agreement.scales import (
    CHOICE_A,
    CHOICE_B,
    CHOICE_TIE,
    SCALE_MAX,
    SCALE_MIN,
    SCALE_TIE,
    nominal_to_score,
    scale_to_interval,
    scale_to_nominal,
    scale_to_score,
)
from annotation.agreement.strengths import (
    bradley_terry,
    bradley_terry_ci,
    plackett_luce,
    plackett_luce_ci,
)

__all__ = [
    "CHOICE_A",
    "CHOICE_B",
    "CHOICE_TIE",
    "SCALE_MAX",
    "SCALE_MIN",
    "SCALE_TIE",
    "WEIGHT_SCHEMES",
    "AlphaInterval",
    "BootstrapCI",
    "BradleyTerryFit",
    "ChanceCorrected",
    "FleissKappa",
    "FloatArray",
    "HomogeneityTest",
    "IntArray",
    "KendallW",
    "KendallWUnits",
    "Level",
    "LogisticFit",
    "NoFiniteMLE",
    "WeightScheme",
    "Weights",
    "agreement_weights",
    "alpha_bootstrap",
    "alpha_from_coincidence",
    "alpha_from_counts",
    "alpha_per_criterion",
    "benjamini_hochberg",
    "bootstrap_ci",
    "bradley_terry",
    "bradley_terry_ci",
    "bradley_terry_covariate",
    "bradley_terry_fit",
    "bradley_terry_pairs",
    "cohen_agreement",
    "cohen_kappa",
    "cohen_kappa_table",
    "cohen_table",
    "coincidence_matrix",
    "count_judgments",
    "count_matrix",
    "fleiss_kappa",
    "fleiss_kappa_missing",
    "gwet_ac1",
    "gwet_ac2",
    "homogeneity_test",
    "interval_alpha",
    "jensen_shannon",
    "kendall_tau_b",
    "kendall_w",
    "kendall_w_per_unit",
    "kendall_w_test",
    "kendall_w_units",
    "krippendorff_alpha",
    "logistic_fit",
    "logistic_fit_1d",
    "nominal_to_score",
    "percent_agreement",
    "percentile_interval",
    "plackett_luce",
    "plackett_luce_ci",
    "scale_to_interval",
    "scale_to_nominal",
    "scale_to_score",
    "tied_ranks",
]
