"""Issue 10 (7): pseudonyms per project. Project.pseudonym_salt keys the HMAC-SHA256 of a
labeler's id; every existing project gets its own random salt (so its exports' pseudonyms
change once, and no longer match any other project's). Reversing drops the field."""

import secrets
from typing import Any

from django.db import migrations, models

import annotation.models.labelers
import annotation.models.projects


def fill_salts(apps: Any, schema_editor: Any) -> None:
    project_model = apps.get_model("annotation", "Project")
    for pk in project_model.objects.values_list("pk", flat=True):
        project_model.objects.filter(pk=pk).update(pseudonym_salt=secrets.token_hex(32))


class Migration(migrations.Migration):
    dependencies = [("annotation", "0003_judgment_labeler_groups")]

    operations = [
        migrations.AddField(
            model_name="project",
            name="pseudonym_salt",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(fill_salts, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="project",
            name="pseudonym_salt",
            field=models.CharField(
                default=annotation.models.projects.new_pseudonym_salt,
                editable=False,
                help_text="Random key of this project's labeler pseudonyms (HMAC-SHA256 of the "
                "labeler id): a labeler has a different pseudonym in every project, so exports "
                "of two projects cannot be joined on it. Never shown.",
                max_length=64,
            ),
        ),
        migrations.AlterField(
            model_name="labelerprofile",
            name="pseudonym",
            field=models.CharField(
                default=annotation.models.labelers.new_pseudonym,
                help_text="The admin's short handle for the labeler. Researchers never see it: "
                "exports and reports use per-project pseudonyms (Project.pseudonym_salt).",
                max_length=20,
                unique=True,
            ),
        ),
    ]
