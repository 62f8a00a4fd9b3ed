from django.apps import AppConfig


class TrainingConfig(AppConfig):
    name = "training"
    verbose_name = "Training"

    def ready(self) -> None:
        """Give the home dashboard its training sections (annotation may not import training)."""
        from annotation.home import ALERTS, RECENT_RUNS, home_reader_register
        from training.selectors.home import home_alerts, home_recent_runs

        home_reader_register(RECENT_RUNS, home_recent_runs)
        home_reader_register(ALERTS, home_alerts)
