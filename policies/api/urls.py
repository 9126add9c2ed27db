from django.urls import path

from policies.api.views import PolicyDetailView, PolicyListView

urlpatterns = [
    path("policies", PolicyListView.as_view(), name="policy-list"),
    path("policies/<api_id:policy_id>", PolicyDetailView.as_view(), name="policy-detail"),
]
