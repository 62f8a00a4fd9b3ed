"""Agreement, concordance and preference-strength statistics for Chorus judgments.

Pure numpy/scipy: nothing here imports Django. The glue (the report service, the
evaluation read models) turns `Judgment` rows into arrays and calls these functions;
each module's docstring gives its formulas, references and a runnable example.

- `reliability`: count tables, coincidence matrices, Krippendorff's alpha (any level, per
  criterion, from continuous values), Fleiss' and Cohen's (weighted) kappa, Gwet's AC1,
  percent agreement.
- `ranks`: tied ranks, Kendall's W (one table or every unit at once), Kendall's tau-b.
- `strengths`: Bradley-Terry and Plackett-Luce (MM, with bootstrap CIs), the one logistic
  regression, and Bradley-Terry through it (from pair totals, or with a covariate).
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
from annotation.agreement.ranks import kendall_tau_b, kendall_w, kendall_w_per_unit, tied_ranks
from annotation.agreement.reliability import (
    FleissKappa,
    FloatArray,
    IntArray,
    Level,
    Weights,
    alpha_from_coincidence,
    alpha_from_counts,
    alpha_per_criterion,
    cohen_kappa,
    cohen_kappa_table,
    coincidence_matrix,
    count_judgments,
    count_matrix,
    fleiss_kappa,
    gwet_ac1,
    interval_alpha,
    krippendorff_alpha,
    percent_agreement,
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
    LogisticFit,
    bradley_terry,
    bradley_terry_ci,
    bradley_terry_covariate,
    bradley_terry_pairs,
    logistic_fit,
    logistic_fit_1d,
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
    "AlphaInterval",
    "BootstrapCI",
    "FleissKappa",
    "FloatArray",
    "HomogeneityTest",
    "IntArray",
    "Level",
    "LogisticFit",
    "Weights",
    "alpha_bootstrap",
    "alpha_from_coincidence",
    "alpha_from_counts",
    "alpha_per_criterion",
    "benjamini_hochberg",
    "bootstrap_ci",
    "bradley_terry",
    "bradley_terry_ci",
    "bradley_terry_covariate",
    "bradley_terry_pairs",
    "coincidence_matrix",
    "cohen_kappa",
    "cohen_kappa_table",
    "count_judgments",
    "count_matrix",
    "fleiss_kappa",
    "gwet_ac1",
    "homogeneity_test",
    "interval_alpha",
    "jensen_shannon",
    "kendall_tau_b",
    "kendall_w",
    "kendall_w_per_unit",
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
