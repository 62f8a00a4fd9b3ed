# Generation jobs: cooperative cancel, heartbeat (lost-worker sweep), reward scoring jobs.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('training', '0002_loop'),
    ]

    operations = [
        migrations.AddField(
            model_name='generationjob',
            name='cancel_requested',
            field=models.BooleanField(default=False, help_text='The worker stops the job at its next batch.'),
        ),
        migrations.AddField(
            model_name='generationjob',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, help_text='Last sign of life from the worker (every batch); a stale one fails the job.', null=True),
        ),
        migrations.AlterField(
            model_name='generationjob',
            name='purpose',
            field=models.CharField(choices=[('candidates', 'Candidates to label'), ('evaluation', 'Human evaluation'), ('scoring', 'Reward scoring')], default='candidates', max_length=12),
        ),
        migrations.AddIndex(
            model_name='generationjob',
            index=models.Index(fields=['status', 'heartbeat_at'], name='generation_status_beat'),
        ),
    ]
