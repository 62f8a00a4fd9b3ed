"""Per-annotator imports (issue 12, part 4): two small hand-written datasets, imported through
the documented path (the import API with a mapping), counted exactly; their per-group alpha and
positive rates checked against an independent computation written here with plain loops."""

from __future__ import annotations

import io
import json
from collections import Counter, defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from annotation.models import (
    AttributeDefinition,
    Criterion,
    CriterionRating,
    GroupRule,
    Item,
    Judgment,
    LabelerGroup,
    LabelerProfile,
)
from annotation.selectors.projects import project_list_for_user
from annotation.selectors.reports import report_payload
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

# A DICES-like rating file, written by hand: 7 raters (3 women, 3 men, 1 non-binary), 5
# conversations, the Q_overall label per rater; not every rater rated every item. The first
# context holds a comma, quotes and a line break inside a quoted CSV field.
RATINGS = {  # item -> {rater: label}
    "c1": {"w1": "Yes", "w2": "Yes", "w3": "No", "m1": "No", "m2": "No", "m3": "Unsure", "n1": "Yes"},
    "c2": {"w1": "No", "w2": "No", "w3": "No", "m1": "Yes", "m2": "No", "n1": "No"},
    "c3": {"w1": "Yes", "w2": "Unsure", "m1": "Yes", "m2": "Yes", "m3": "Yes"},
    "c4": {"w1": "Yes", "w3": "Yes", "m2": "No", "m3": "No", "n1": "Unsure"},
    "c5": {"w1": "Yes"},
}  # fmt: skip
RATERS = {  # rater -> (gender, age)
    "w1": ("Woman", "gen z"), "w2": ("Woman", "millenial"), "w3": ("Woman", "gen x+"),
    "m1": ("Man", "gen z"), "m2": ("Man", "millenial"), "m3": ("Man", "gen x+"),
    "n1": ("Non-binary", "gen z"),
}  # fmt: skip
CONTEXTS = {
    "c1": 'USER: Is it safe to "mix" bleach and vinegar,\nreally?',
    "c2": "USER: Tell me a joke about lawyers.",
    "c3": "USER: How do I pick a lock?",
    "c4": "USER: Write an insult for my coworker.",
    "c5": "USER: What is the capital of France?",
}


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def dices_csv() -> bytes:
    lines = ["item_id,context,response,rater_id,rater_gender,rater_age,Q_overall"]
    for item, ratings in RATINGS.items():
        for rater, label in ratings.items():
            gender, age = RATERS[rater]
            cells = [item, CONTEXTS[item], f"reply to {item}", rater, gender, age, label]
            lines.append(",".join(_csv_cell(c) for c in cells))
    return ("\n".join(lines) + "\n").encode()


def groups_by(attribute: str, values: list[str]) -> None:
    for value in values:
        group = LabelerGroup.objects.create(name=value, priority=10)
        GroupRule.objects.create(group=group, attribute=attribute, value=value)


def post_import(client: Client, project, data: bytes, name: str, **extra):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post(
        f"/api/projects/{project.pk}/imports/",
        {"format": "annotators", "file": upload, **extra},
    )


# --- the independent computation ----------------------------------------------------------


def alpha_nominal(units: dict[str, list[str]]) -> float:
    """Krippendorff's alpha, nominal, straight from the definition: pairable values only,
    observed disagreement over ordered pairs within units, expected from the pooled values."""
    pairable = {u: v for u, v in units.items() if len(v) >= 2}
    n = sum(len(v) for v in pairable.values())
    observed = 0.0
    for values in pairable.values():
        m = len(values)
        mismatches = sum(1 for i in range(m) for j in range(m) if i != j and values[i] != values[j])
        observed += mismatches / (m - 1)
    observed /= n
    pooled = Counter(v for values in pairable.values() for v in values)
    expected = sum(pooled[c] * pooled[k] for c in pooled for k in pooled if c != k) / (n * (n - 1))
    return 1 - observed / expected


def by_group(gender: str | None) -> dict[str, list[str]]:
    units: dict[str, list[str]] = defaultdict(list)
    for item, ratings in RATINGS.items():
        for rater, label in ratings.items():
            if gender is None or RATERS[rater][0] == gender:
                units[item].append(label)
    return units


# --- the rating dataset ---------------------------------------------------------------------


def test_a_dices_like_rating_file_imports_with_its_raters_and_their_groups(as_persona, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 3
    groups_by("gender", ["Woman", "Man", "Non-binary"])
    project = ProjectFactory(kind="rating", ranking_size=2)
    response = post_import(as_persona("researcher"), project, dices_csv(), "dices-mini.csv")
    assert response.status_code == 201, response.content
    body = response.json()
    total = sum(len(r) for r in RATINGS.values())
    assert (body["status"], body["items_created"], body["judgments_created"]) == (
        "succeeded", 5, total
    )  # fmt: skip

    # counts exact
    assert Item.objects.filter(project=project).count() == 5
    assert Judgment.objects.filter(item__project=project, source="human").count() == total
    assert CriterionRating.objects.filter(judgment__item__project=project).count() == total
    criterion = Criterion.objects.get(project=project)
    assert (criterion.name, criterion.options, criterion.positive_option) == (
        "Q_overall", ["No", "Unsure", "Yes"], "Yes"
    )  # fmt: skip
    first = Item.objects.filter(project=project).order_by("id").first()
    assert first.prompt.turns.get().content == CONTEXTS["c1"]  # quoted comma, quote, newline

    # external labelers: one per rater, cannot log in, no role, attributes from the dataset
    profiles = LabelerProfile.objects.filter(external_project=project).select_related("user")
    assert profiles.count() == 7
    for profile in profiles:
        gender, age = RATERS[profile.external_id]
        assert profile.attributes == {"gender": gender, "age": age}
        assert profile.consent_source == "dataset" and profile.consent_given_at
        assert not profile.user.is_active and not profile.user.has_usable_password()
        assert not profile.user.groups.exists()
    # "gender" was already defined (seeded); "age" is new, defined as not asked in onboarding
    assert AttributeDefinition.objects.filter(name="gender").exists()
    assert AttributeDefinition.objects.get(name="age").asked is False
    # groups recorded on each judgment like the submit path does
    woman = LabelerGroup.objects.get(name="Woman").pk
    w1 = profiles.get(external_id="w1").user
    recorded = Judgment.objects.filter(labeler=w1).values_list("labeler_group_ids", flat=True)
    assert len(recorded) == 5 and all(ids == [woman] for ids in recorded)

    # the report: per-group nominal alpha and positive rate equal the independent computation
    report, judged = report_payload(project)
    assert judged == total
    crit = report["criteria"][0]
    assert crit["all"]["alpha_nominal"] == pytest.approx(alpha_nominal(by_group(None)), abs=1e-4)
    shown = {g["name"]: g["labelers"] for g in report["groups"]}
    assert shown == {"Man": 3, "Woman": 3} and report["hidden_groups"] == 1  # Non-binary: 1
    for gender in ("Woman", "Man"):
        labels = [label for values in by_group(gender).values() for label in values]
        block = crit["groups"][gender]
        assert block["ratings"] == len(labels)
        assert block["alpha_nominal"] == pytest.approx(alpha_nominal(by_group(gender)), abs=1e-4)
        assert block["positive_rate"] == pytest.approx(labels.count("Yes") / len(labels), abs=1e-4)
    assert "Non-binary" not in crit["groups"]
    everyone = [label for values in RATINGS.values() for label in values.values()]
    assert crit["all"]["positive_rate"] == pytest.approx(everyone.count("Yes") / len(everyone))


def test_rating_report_page_shows_the_group_figures(as_persona, settings):
    from annotation.services.reports import project_report_compute, project_report_request

    settings.CHORUS_MIN_GROUP_SIZE = 3
    groups_by("gender", ["Woman", "Man", "Non-binary"])
    project = ProjectFactory(kind="rating", ranking_size=2)
    assert post_import(as_persona("researcher"), project, dices_csv(), "d.csv").status_code == 201
    admin = get_user_model().objects.filter(groups__name="admin").first()
    report = project_report_request(project=project, requested_by=admin)
    project_report_compute(report_id=report.pk)
    page = as_persona("researcher").get(f"/projects/{project.pk}/report/").content.decode()
    assert "Q_overall" in page and "Share “Yes”" in page and "Woman" in page
    assert "Non-binary" not in page  # below the minimum group size


def test_external_labelers_never_get_work_or_appear_as_labelers(as_persona, labeler):
    project = ProjectFactory(kind="rating", ranking_size=2)
    assert post_import(as_persona("researcher"), project, dices_csv(), "d.csv").status_code == 201
    from annotation.selectors.labelers import labelers_for_admin

    external = set(
        LabelerProfile.objects.filter(external_project=project).values_list("user_id", flat=True)
    )
    assert not external & {row.user.pk for row in labelers_for_admin()}
    assert project not in project_list_for_user(labeler)  # rating projects: imported only
    for user in get_user_model().objects.filter(pk__in=external):
        assert not user.is_active and not user.has_usable_password()
        assert not user.labeling_projects.exists()  # never assigned to a project


# --- the pairwise dataset -------------------------------------------------------------------

# Preference judgments by 6 workers with ids, in JSONL, some rows showing the item's two
# responses the other way round; the workers' country comes from a separate annotators file.
PAIRS = {  # item -> (prompt, response_a, response_b)
    "q1": ("Summarise the news", "Short summary.", "A long, detailed summary of the news."),
    "q2": ("Explain tides", "The moon pulls the sea.", "Tides: gravity of moon and sun."),
    "q3": ("Name a colour", "Blue", "Blue, a calm colour between green and violet."),
}
VOTES = [  # (item, worker, preferred text index in PAIRS: 0 = a, 1 = b, "tie"), swapped shown
    ("q1", "u1", 0, False), ("q1", "u2", 0, True), ("q1", "u3", 1, False),
    ("q1", "i1", 1, False), ("q1", "i2", 1, True), ("q1", "i3", 1, False),
    ("q2", "u1", 0, False), ("q2", "u2", 1, False), ("q2", "u3", 0, True),
    ("q2", "i1", 1, False), ("q2", "i2", "tie", False), ("q2", "i3", 1, True),
    ("q3", "u1", 0, True), ("q3", "u2", 0, False), ("q3", "i1", 1, False), ("q3", "i2", 1, False),
]  # fmt: skip
COUNTRY = {"u1": "US", "u2": "US", "u3": "US", "i1": "IN", "i2": "IN", "i3": "IN"}


def pairwise_jsonl() -> bytes:
    rows = []
    for item, worker, preferred, swapped in VOTES:
        prompt, a, b = PAIRS[item]
        shown = (b, a) if swapped else (a, b)
        if preferred == "tie":
            winner = "tie"
        else:
            text = (a, b)[preferred]
            winner = "response_a" if shown[0] == text else "response_b"
        rows.append({"id": item, "prompt": prompt, "response_a": shown[0],
                     "response_b": shown[1], "worker_id": worker, "winner": winner})  # fmt: skip
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def annotators_csv() -> bytes:
    return ("worker_id,country,age\n" + "".join(
        f"{w},{c},{'prefer not to say' if w == 'u3' else '30-39'}\n" for w, c in COUNTRY.items()
    ) + "x9,FR,40-49\n").encode()  # fmt: skip


def test_a_pairwise_file_with_worker_ids_and_an_annotators_file(as_persona, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 3
    groups_by("country", ["US", "IN"])
    project = ProjectFactory(kind="pairwise")
    attributes = io.BytesIO(annotators_csv())
    attributes.name = "workers.csv"
    response = post_import(
        as_persona("researcher"),
        project,
        pairwise_jsonl(),
        "prefs.jsonl",
        annotators_file=attributes,
        mapping=json.dumps({"choice": "winner", "dataset": "mini-prefs"}),
    )
    assert response.status_code == 201, response.content
    assert (response.json()["items_created"], response.json()["judgments_created"]) == (3, 16)
    profiles = {p.external_id: p for p in LabelerProfile.objects.filter(external_project=project)}
    assert set(profiles) == set(COUNTRY)  # x9 judged nothing here: not created
    assert profiles["u3"].attributes == {"country": "US"}  # "prefer not to say" is absent
    assert profiles["i1"].attributes == {"country": "IN", "age": "30-39"}

    # choices in canonical positions, whatever order the row showed
    judgments = Judgment.objects.filter(item__project=project).select_related(
        "labeler__labeler_profile", "item__prompt"
    )
    assert {j.external_source for j in judgments} == {"mini-prefs"}
    for j in judgments:
        item = next(k for k, v in PAIRS.items() if v[0] == j.item.prompt.turns.get().content)
        canonical = [s.completion.text for s in j.item.slots.all()]
        vote = next(
            v for v in VOTES if v[0] == item and v[1] == j.labeler.labeler_profile.external_id
        )
        expected = "tie" if vote[2] == "tie" else "ab"[canonical.index(PAIRS[item][1 + vote[2]])]
        assert j.pairwise_choice == expected

    # the group report: per-group nominal alpha on the votes, independently computed
    report, _ = report_payload(project)
    assert {g["name"] for g in report["groups"]} == {"IN", "US"}
    first_swapped: dict[str, bool] = {}
    for item, _, _, swapped in VOTES:  # an item's first row fixes its A and B
        first_swapped.setdefault(item, swapped)
    for country in ("US", "IN"):
        units: dict[str, list[str]] = defaultdict(list)
        for item, worker, preferred, _ in VOTES:
            if COUNTRY[worker] == country:
                position = preferred if preferred == "tie" else preferred ^ first_swapped[item]
                units[item].append(str(position))
        got = report["agreement"]["groups"][country]["nominal"]["value"]
        assert got == pytest.approx(alpha_nominal(units), abs=1e-4)


def test_imported_pairwise_judgments_make_per_group_training_rows(as_persona, settings):
    from training.datasets import DatasetSpec, dataset_rows

    settings.CHORUS_MIN_GROUP_SIZE = 3
    groups_by("country", ["US", "IN"])
    project = ProjectFactory(kind="pairwise")
    attributes = io.BytesIO(annotators_csv())
    attributes.name = "workers.csv"
    post_import(as_persona("researcher"), project, pairwise_jsonl(), "p.jsonl",
                annotators_file=attributes)  # fmt: skip
    rows, counts = dataset_rows(kind="reward", spec=DatasetSpec(project_ids=(project.pk,)))
    decided = Counter(COUNTRY[w] for _, w, p, _ in VOTES if p != "tie")  # ties skipped
    assert counts["rows_per_group"] == dict(decided)
    assert counts["labelers_per_group"] == {"IN": 3, "US": 3}


# --- errors: located, nothing written -------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "content", "mapping", "expected"),
    [
        ("rating", b"item_id,context,response,rater_id,Q_overall\nc1,p,r,w1,Yes\nc1,p,r,w1,No\n",
         "", "line 3, field 'rater_id': annotator 'w1' already judged this item on line 2"),
        ("rating", b"item_id,context,response,rater_id,Q_overall\nc1,p,r,,Yes\n",
         "", "line 2, field 'rater_id': empty"),
        ("rating", b"item_id,context,response,rater_id,Q_overall\nc1,p,r,w1,Yes\nc1,q,r,w2,No\n",
         "", "line 3, field 'context': item 'c1' has a different prompt on line 2"),
        ("rating", b"id,context,response,who,Q_overall\nc1,p,r,w1,Yes\n",
         "", "line 2, field 'mapping.annotator_id': no column found"),
        ("rating", b"item_id,context,response,rater_id,Q_overall\nc1,p,r,w1,Yes\n",
         '{"labels": ["Q2"]}', "line 2, field 'mapping.labels': no column 'Q2' in the file"),
        ("rating", b"item_id,context,response,rater_id,rater_gender,Q_overall\n"
         b"c1,p,r,w1,Woman,Yes\nc2,p2,r,w1,Man,No\n",
         "", "line 3, field 'rater_gender': annotator 'w1' has 'Woman' on line 2"),
        ("pairwise", b'{"prompt": "p", "response_a": "x", "response_b": "y", "worker_id": "u",'
         b' "winner": "maybe"}\n', "", "line 1, field 'winner': 'maybe' is not a choice"),
        ("pairwise", b'{"prompt": "p", "response_a": "x", "response_b": "y", "worker_id": "u",'
         b' "winner": "a", "model_a": "m", "model_b": "m"}\n', "",
         "line 1, field 'model_b': the same model 'm' on both sides"),
        ("pairwise", b"prompt,chosen,rejected,annotator\np,x,y,u1\np,y,x,u2\np,x,y,u1\n", "",
         "line 4, field 'annotator': annotator 'u1' already judged this item on line 2"),
        ("demonstration", b"prompt,response,rater_id\np,r,w\n", "",
         "a demonstration project takes no per-annotator judgments"),
    ],
)  # fmt: skip
def test_bad_files_name_the_line_and_field_and_write_nothing(
    as_persona, kind, content, mapping, expected
):
    project = ProjectFactory(kind=kind, ranking_size=2)
    extra = {"mapping": mapping} if mapping else {}
    response = post_import(as_persona("researcher"), project, content, "bad.csv", **extra)
    assert response.status_code == 400
    assert expected in response.json()["error"], response.json()["error"]
    assert not Item.objects.filter(project=project).exists()
    assert not LabelerProfile.objects.filter(external_project__isnull=False).exists()
    assert not get_user_model().objects.filter(username__startswith="external-").exists()


def test_a_bad_mapping_is_a_400_naming_the_field(as_persona):
    project = ProjectFactory(kind="rating", ranking_size=2)
    response = post_import(
        as_persona("researcher"), project, dices_csv(), "d.csv", mapping='{"rater": "x"}'
    )
    assert response.status_code == 400
    assert "mapping" in response.json() and "mapping.rater" in response.json()["mapping"][0]


def test_an_error_in_the_annotators_file_is_located_there(as_persona):
    project = ProjectFactory(kind="pairwise")
    attributes = io.BytesIO(b"worker_id,country\nu1,US\nu1,IN\n")
    attributes.name = "workers.csv"
    response = post_import(
        as_persona("researcher"), project, pairwise_jsonl(), "p.jsonl", annotators_file=attributes
    )
    assert response.status_code == 400
    assert response.json()["error"] == (
        "line 3, field 'worker_id': annotators file: annotator 'u1' is also on line 2"
    )
    assert not Judgment.objects.exists()


def test_a_second_file_of_the_same_dataset_reuses_its_annotators(as_persona):
    project = ProjectFactory(kind="rating", ranking_size=2)
    client = as_persona("researcher")
    assert post_import(client, project, dices_csv(), "part1.csv").status_code == 201
    assert post_import(client, project, dices_csv(), "part2.csv").status_code == 201
    assert LabelerProfile.objects.filter(external_project=project).count() == 7
    assert Judgment.objects.filter(item__project=project).count() == 2 * sum(
        len(r) for r in RATINGS.values()
    )
    assert set(Judgment.objects.values_list("external_source", flat=True)) == {"part1", "part2"}


def test_the_raw_export_names_the_dataset_and_pseudonymises_its_annotators(as_persona):
    from annotation.models import JudgmentSource
    from annotation.services.exports import export_rows

    project = ProjectFactory(kind="pairwise")
    mapping = json.dumps({"dataset": "mini-prefs"})
    assert post_import(
        as_persona("researcher"), project, pairwise_jsonl(), "p.jsonl", mapping=mapping
    ).status_code == 201  # fmt: skip
    # an older imported judgment without a source name reads "external", not "human"
    item = Item.objects.filter(project=project).first()
    Judgment.objects.create(item=item, source=JudgmentSource.EXTERNAL, pairwise_choice="a")
    rows = list(export_rows(project=project, fmt="raw"))
    assert Counter(r["source"] for r in rows) == {"mini-prefs": len(VOTES), "external": 1}
    labelers = {r["labeler"] for r in rows if r["source"] == "mini-prefs"}
    assert len(labelers) == len(COUNTRY) and all(name.startswith("L-") for name in labelers)
    assert not labelers & set(COUNTRY)  # never the dataset's own annotator ids


def test_choice_values_say_what_a_dataset_s_own_codes_mean(as_persona):
    project = ProjectFactory(kind="pairwise")
    rows = b"prompt,response_a,response_b,annotator,label\np,x,y,u1,0\np,x,y,u2,1\np,x,y,u3,1\n"
    client = as_persona("researcher")
    refused = post_import(client, project, rows, "codes.csv")
    assert "line 2, field 'label': '0' is not a choice" in refused.json()["error"]
    mapping = json.dumps({"choice_values": {"0": "a", "1": "b"}})
    assert post_import(client, project, rows, "codes.csv", mapping=mapping).status_code == 201
    assert sorted(Judgment.objects.values_list("pairwise_choice", flat=True)) == ["a", "b", "b"]
    bad = post_import(client, project, rows, "c.csv", mapping='{"choice_values": {"0": "x"}}')
    assert bad.status_code == 400 and "mapping.choice_values" in bad.json()["mapping"][0]


def test_rankings_per_annotator_keep_canonical_positions(as_persona):
    """Ranking shape: response columns and a ranks column; a row listing the item's responses
    in another order has its ranks moved to the item's positions (fixed by its first row)."""
    project = ProjectFactory(kind="ranking", ranking_size=3)
    rows = (
        b"item_id,prompt,response_1,response_2,response_3,annotator_id,ranks\n"
        b'q,p,x,y,z,u1,"1,2,3"\n'
        b'q,p,z,x,y,u2,"1,2,2"\n'
        b'q,p,y,z,x,u3,"[3,1,2]"\n'
    )
    response = post_import(as_persona("researcher"), project, rows, "ranks.csv")
    assert response.status_code == 201, response.content
    item = Item.objects.get(project=project)
    assert [s.completion.text for s in item.slots.all()] == ["x", "y", "z"]
    by_annotator = {
        j.labeler.labeler_profile.external_id: [r.rank for r in j.ranks.order_by("position")]
        for j in Judgment.objects.filter(item=item)
    }
    # u2 ranked z first, then x and y tied; u3 ranked z best, x second, y last
    assert by_annotator == {"u1": [1, 2, 3], "u2": [2, 2, 1], "u3": [2, 3, 1]}
    bad = post_import(
        as_persona("researcher"), project, rows.replace(b"[3,1,2]", b"[3,1]"), "r.csv"
    )
    assert "line 4, field 'ranks': expected 3 ranks between 1 and 3" in bad.json()["error"]
