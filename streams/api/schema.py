"""OpenAPI descriptions drf-spectacular cannot infer by itself."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class StreamTokenScheme(OpenApiAuthenticationExtension):
    target_class = "streams.api.views.StreamTokenAuthentication"
    name = "StreamTokenAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-Stream-Token"}
