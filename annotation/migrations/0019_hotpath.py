"""Issue 14: judgments carry their item's project (denormalised), backfilled here, with an index
on (project, labeler, created_at) so a labeler's progress and queues in one project never read
their history in other projects."""

import django.db.models.deletion
from django.db import migrations, models



def backfill(apps, schema_editor):
    schema_editor.execute(
        """UPDATE annotation_judgment SET project_id = (
        SELECT i.project_id FROM annotation_item i WHERE i.id = annotation_judgment.item_id)"""
    )
    if schema_editor.connection.vendor == "postgresql":
        # check the new foreign keys now: ALTER TABLE refuses to run with checks pending
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0018_live"),
    ]

    operations = [
        migrations.AddField(
            model_name="judgment",
            name="project",
            field=models.ForeignKey(
                null=True,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="annotation.project",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="judgment",
            name="project",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                help_text="The item's project, copied (denormalised) so a labeler's judgments in "
                "one project are found by index without reading their history elsewhere (issue "
                "14). Filled from the item when not given (save and bulk_create); the labeling "
                "hot path gives it.",
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="annotation.project",
            ),
        ),
        migrations.AddIndex(
            model_name="judgment",
            index=models.Index(
                fields=["project", "labeler", "created_at"], name="judgment_labeler_project"
            ),
        ),
    ]
