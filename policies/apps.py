from django.apps import AppConfig
from django.db.models.signals import post_migrate


class PoliciesConfig(AppConfig):
    name = "policies"
    verbose_name = "Policies"

    def ready(self) -> None:
        from policies.services import sync_builtin_policies_after_migrate

        post_migrate.connect(sync_builtin_policies_after_migrate, sender=self)
