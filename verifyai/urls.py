from django.contrib import admin
from django.urls import include, path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from verifications.storage import serve_signed_media
from verifyai.api.converters import ApiIdConverter
from verifyai.api.health import health

# <api_id:...> in every app's urls.py (registered before they are included below).
register_converter(ApiIdConverter, "api_id")

api_v1 = [
    path("health", health, name="health"),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
    path("", include("verifications.api.urls")),
    path("", include("policies.api.urls")),
    path("", include("billing.api.urls")),
    path("", include("streams.api.urls")),
    path("", include("webhooks.api.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("media/signed/<path:name>", serve_signed_media, name="signed-media"),
    path("admin/", admin.site.urls),
]

handler404 = "verifyai.api.errors.handler404"
handler500 = "verifyai.api.errors.handler500"
