from django.apps import AppConfig


class StreamsConfig(AppConfig):
    name = "streams"
    verbose_name = "Streams"

    def ready(self) -> None:
        from streams.api import schema  # noqa: F401 - registers the OpenAPI stream-token scheme
