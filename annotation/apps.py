from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self) -> None:
        from annotation.roles import roles_sync
        from annotation.services.attributes import attribute_definitions_seed

        # Role groups are set-up data, kept in step with the code after every migrate.
        post_migrate.connect(roles_sync, sender=self, dispatch_uid="chorus_roles_sync")
        # The starting questionnaire, when a database has none (e.g. after `flush`).
        post_migrate.connect(
            attribute_definitions_seed, sender=self, dispatch_uid="chorus_attributes_seed"
        )
