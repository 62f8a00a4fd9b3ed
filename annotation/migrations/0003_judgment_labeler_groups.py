"""Issue 11: judgments record their labeler's groups (Judgment.labeler_group_ids) and groups get
a priority (a labeler in several groups counts in one of them in training runs).

The backfill gives every existing labeler judgment its labeler's groups AS OF THIS MIGRATION
(explicit members, and rule matches of consenting profiles, as selectors.labelers computes
them): the membership at the time of older judgments was never stored, so it cannot be
recovered. Imported judgments get [] (no labeler, no group). Reversing drops the fields.
"""

from collections import defaultdict
from typing import Any

from django.db import migrations, models

ATTRIBUTES = ("age_range", "gender", "region", "language", "education")


def backfill_labeler_groups(apps: Any, schema_editor: Any) -> None:
    """Judgment.labeler_group_ids from the current membership (one UPDATE per labeler)."""
    group_model = apps.get_model("annotation", "LabelerGroup")
    rule_model = apps.get_model("annotation", "GroupRule")
    profile_model = apps.get_model("annotation", "LabelerProfile")
    judgment_model = apps.get_model("annotation", "Judgment")
    groups: dict[int, set[int]] = defaultdict(set)
    for user_id, group_id in group_model.members.through.objects.values_list(
        "user_id", "labelergroup_id"
    ):
        groups[user_id].add(group_id)
    rules: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for group_id, attribute, value in rule_model.objects.values_list(
        "group_id", "attribute", "value"
    ):
        rules[group_id][attribute].add(value)
    if rules:
        for profile in profile_model.objects.filter(consent_given_at__isnull=False):
            for group_id, by_attribute in rules.items():
                if all(getattr(profile, a) in allowed for a, allowed in by_attribute.items()):
                    groups[profile.user_id].add(group_id)
    judgments = judgment_model.objects.all()
    judgments.filter(labeler__isnull=True).update(labeler_group_ids=[])
    labelers = judgments.filter(labeler__isnull=False).values_list("labeler_id", flat=True)
    for labeler_id in set(labelers):
        judgments.filter(labeler_id=labeler_id).update(
            labeler_group_ids=sorted(groups.get(labeler_id, ()))
        )


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0002_reports"),
    ]

    operations = [
        migrations.AddField(
            model_name="judgment",
            name="labeler_group_ids",
            field=models.JSONField(
                blank=True,
                default=None,
                help_text="Ids of the labeler groups the labeler belonged to when the judgment "
                "was saved (training snapshots read these, so later edits of attributes, rules or "
                "members do not rewrite history); [] for imported judgments; empty (null) when "
                "not recorded.",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="labelergroup",
            name="priority",
            field=models.PositiveSmallIntegerField(
                default=100,
                help_text="A labeler in several groups counts, in training runs, in only one of "
                "them: the one with the lowest priority number (then by name) among the run's "
                "groups.",
            ),
        ),
        migrations.RunPython(backfill_labeler_groups, migrations.RunPython.noop),
    ]
