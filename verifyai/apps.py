from django.apps import AppConfig


class VerifyAIConfig(AppConfig):
    name = "verifyai"
    verbose_name = "VerifyAI"

    def ready(self) -> None:
        from verifyai.api import schema  # noqa: F401 - registers the OpenAPI auth scheme
