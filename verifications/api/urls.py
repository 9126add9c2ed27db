from django.urls import path

from verifications.api.views import VerificationDetailView, VerificationListView, VerifyView

urlpatterns = [
    path("verify", VerifyView.as_view(), name="verify"),
    path("verifications", VerificationListView.as_view(), name="verification-list"),
    path("verifications/<api_id:verification_id>", VerificationDetailView.as_view(), name="verification-detail"),
]
