from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("webhooks", views.WebhookListView.as_view(), name="webhook-list"),
    path("webhooks/<api_id:endpoint_id>", views.WebhookDetailView.as_view(), name="webhook-detail"),
    path(
        "webhooks/<api_id:endpoint_id>/rotate-secret",
        views.WebhookRotateSecretView.as_view(),
        name="webhook-rotate-secret",
    ),
    path("webhooks/<api_id:endpoint_id>/test", views.WebhookTestView.as_view(), name="webhook-test"),
    path(
        "webhooks/<api_id:endpoint_id>/deliveries",
        views.WebhookDeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<api_id:endpoint_id>/deliveries/<api_id:delivery_id>/redeliver",
        views.WebhookRedeliverView.as_view(),
        name="webhook-redeliver",
    ),
]
