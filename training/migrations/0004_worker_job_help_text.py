"""TrainingRun and GenerationJob share their worker fields through the abstract WorkerJob model;
only the help texts change (no SQL). SamplingSettings moved to training.ml.config."""

from django.db import migrations, models

CANCEL_HELP = "The worker stops the child process at its next step or batch."
ERROR_HELP = "Why it failed: the child's message and the last lines of its log."
HEARTBEAT_HELP = "Last sign of life from the worker; a stale one fails the job."


def _fields(model_name: str) -> list[migrations.AlterField]:
    return [
        migrations.AlterField(
            model_name=model_name,
            name="cancel_requested",
            field=models.BooleanField(default=False, help_text=CANCEL_HELP),
        ),
        migrations.AlterField(
            model_name=model_name,
            name="error",
            field=models.TextField(blank=True, help_text=ERROR_HELP),
        ),
        migrations.AlterField(
            model_name=model_name,
            name="heartbeat_at",
            field=models.DateTimeField(blank=True, help_text=HEARTBEAT_HELP, null=True),
        ),
    ]


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0003_loop_cancel"),
    ]

    operations = [
        *_fields("generationjob"),
        *_fields("trainingrun"),
        migrations.AlterField(
            model_name="generationjob",
            name="sampling",
            field=models.JSONField(
                default=dict, help_text="training.ml.config.SamplingSettings, defaults included."
            ),
        ),
    ]
