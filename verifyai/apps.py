from django.apps import AppConfig, apps
from django.contrib.admin import apps as admin_apps
from django.db.models.signals import post_migrate


def _sync_operator_group(sender: AppConfig, **kwargs: object) -> None:
    # post_migrate is sent once per app; permissions of every app exist only after
    # the last one, so sync then.
    if sender.label != list(apps.get_app_configs())[-1].label:
        return
    from verifyai.admin import operator_group

    operator_group()


class VerifyAIConfig(AppConfig):
    name = "verifyai"
    verbose_name = "VerifyAI"

    def ready(self) -> None:
        from verifyai.api import schema  # noqa: F401 - registers the OpenAPI auth scheme

        post_migrate.connect(_sync_operator_group, dispatch_uid="verifyai.sync_operator_group")


class VerifyAIAdminConfig(admin_apps.AdminConfig):
    default = False  # named explicitly in INSTALLED_APPS; VerifyAIConfig stays this module's default
    default_site = "verifyai.admin_site.VerifyAIAdminSite"
