from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_migrate, post_save


class AnnotationConfig(AppConfig):
    name = "annotation"
    verbose_name = "Annotation"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        from annotation.roles import group_removed, roles_sync, user_changed, user_groups_changed
        from annotation.services.attributes import attribute_definitions_seed

        # Role groups are set-up data, kept in step with the code after every migrate.
        post_migrate.connect(roles_sync, sender=self, dispatch_uid="chorus_roles_sync")
        # The starting questionnaire, when a database has none (e.g. after `flush`).
        post_migrate.connect(
            attribute_definitions_seed, sender=self, dispatch_uid="chorus_attributes_seed"
        )
        # The cached user and roles (roles.RoleBackend) are dropped on every change.
        users = get_user_model()
        for signal in (post_save, post_delete):
            signal.connect(user_changed, sender=users, dispatch_uid=f"chorus_user_{signal}")
        m2m_changed.connect(
            user_groups_changed, sender=users.groups.through, dispatch_uid="chorus_user_groups"
        )
        post_delete.connect(group_removed, sender=Group, dispatch_uid="chorus_group_removed")
        self._labeler_groups_signals()

    def _labeler_groups_signals(self) -> None:
        """The cached group ids per labeler (selectors.labelers.labeler_group_ids) are dropped
        on every change of a group, its rules, its members or a labeler's profile."""
        from annotation.models import GroupRule, LabelerGroup, LabelerProfile
        from annotation.selectors.labelers import labeler_groups_forget

        def forget(**kwargs: object) -> None:
            labeler_groups_forget()

        for model in (LabelerGroup, GroupRule, LabelerProfile):
            for signal in (post_save, post_delete):
                signal.connect(
                    forget, sender=model, weak=False, dispatch_uid=f"lg_{model}_{signal}"
                )
        m2m_changed.connect(
            forget, sender=LabelerGroup.members.through, weak=False, dispatch_uid="lg_members"
        )
