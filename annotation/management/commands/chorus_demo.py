from django.core.management.base import BaseCommand

from annotation.services.demo import DEMO_PASSWORD, demo_seed


class Command(BaseCommand):
    help = "Load the demo projects, users for each role and simulated judgments (idempotent)."

    def handle(self, *args: object, **options: object) -> None:
        for login in demo_seed():
            self.stdout.write(
                f"  {login.username:<22} password {DEMO_PASSWORD}   ({login.role}: {login.note})"
            )
