"""The dashboard's figures as one CSV file: the summary, then each table under a `# title`
line, as the page shows them (estimates as 'value [low, high]'). No Django."""

from __future__ import annotations

import csv
import io
from typing import Any

# (title, figures key, [(column header, row key)])
TABLES: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("Agreement within groups and across all", "agreement_rows", [
        ("labelers", "name"), ("judgments", "judgments"), ("items with 2+ labelers", "items"),
        ("alpha nominal [95% CI]", "nominal"), ("alpha ordinal [95% CI]", "ordinal"),
        ("alpha interval [95% CI]", "interval"), ("Kendall's W (mean)", "kendall_w"),
        ("pairwise agreement", "percent"), ("Gwet's AC1", "ac1"), ("Fleiss' kappa", "fleiss"),
    ]),
    ("Chance-corrected coefficients", "chance_rows", [
        ("labelers", "name"), ("Gwet's AC2", "ac2"), ("AC2 weights", "ac2_weights"),
        ("AC2 p_o", "ac2_p_o"), ("AC2 p_e", "ac2_p_e"), ("Fleiss' kappa", "fleiss"),
        ("kappa p_o", "fleiss_p_o"), ("kappa p_e", "fleiss_p_e"),
    ]),
    ("Agreement between groups", "between_rows", [
        ("group", "a"), ("group", "b"), ("majorities agree", "agreement"),
        ("items compared", "items"), ("alpha between", "alpha"),
    ]),
    ("Which response sources each group prefers", "preference_rows", [
        ("source", "model"), ("labelers", "group"), ("comparisons", "games"),
        ("win rate [95% CI]", "rate"), ("Bradley-Terry log-strength [95% CI]", "strength"),
    ]),
    ("Length bias", "length_rows", [
        ("labelers", "group"), ("longer wins", "longer_wins"),
        ("comparisons (lengths differ)", "n"), ("log-odds per 100 chars [95% CI]", "slope"),
    ]),
    ("Rubric criteria", "criteria_rows", [
        ("criterion", "criterion"), ("labelers", "group"), ("ratings", "ratings"),
        ("alpha ordinal", "ordinal"), ("alpha interval", "interval"),
    ]),
    ("Labeler quality", "labeler_rows", [
        ("labeler", "pseudonym"), ("judgments", "judgments"), ("agrees with all", "agreement"),
        ("kappa vs consensus", "kappa"), ("agrees with own group", "agreement_group"),
        ("median seconds", "seconds"), ("same answer", "same"),
        ("picks first shown", "first"), ("gold", "gold"), ("screening", "screening"),
    ]),
]  # fmt: skip


def report_csv(figures: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["# Summary"])
    for sentence in figures["summary"]["sentences"] + figures["summary"]["notes"]:
        writer.writerow([_cell(sentence)])
    for title, key, columns in TABLES:
        writer.writerow([])
        writer.writerow([f"# {title}"])
        writer.writerow([header for header, _ in columns])
        for row in figures.get(key) or []:
            writer.writerow([_cell(row.get(field)) for _, field in columns])
    writer.writerow([])
    writer.writerow(["# Most contested items"])
    writer.writerow(["item", "prompt", "JSD", "p", "q (BH)", "significant", "sides"])
    for row in figures["contested"] + figures["divergent"]:
        sides = "; ".join(f"{s['group']}: {s['majority']} ({s['votes']})" for s in row["sides"])
        writer.writerow([row["item_id"], _cell(row["snippet"]), row["jsd"], row["p"], row["q"],
                         "yes" if row["significant"] else "no", _cell(sides)])  # fmt: skip
    return out.getvalue()


def _cell(value: Any) -> Any:
    """Dashes stand for 'no figure': an empty cell reads better in a spreadsheet. Text that a
    spreadsheet would run as a formula (a prompt starting with '=') gets a leading quote."""
    if value in (None, "—"):
        return ""
    if isinstance(value, str) and value[:1] in FORMULA and not _is_number(value):
        return "'" + value
    return value


FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _is_number(text: str) -> bool:
    try:
        float(text.split(" ")[0])
    except ValueError:
        return False
    return True
