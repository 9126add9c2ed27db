from django.urls import path

from streams.api.views import (
    FrameView,
    PairingCodeView,
    PairView,
    StreamDetailView,
    StreamListView,
    StreamStatusView,
)
from streams.models import Stream

urlpatterns = [
    path("streams", StreamListView.as_view(), name="stream-list"),
    path("streams/pair", PairView.as_view(), name="stream-pair"),
    path("streams/<api_id:stream_id>", StreamDetailView.as_view(), name="stream-detail"),
    path("streams/<api_id:stream_id>/frame", FrameView.as_view(), name="stream-frame"),
    path(
        "streams/<api_id:stream_id>/pause",
        StreamStatusView.as_view(target=Stream.Status.PAUSED), name="stream-pause",
    ),
    path(
        "streams/<api_id:stream_id>/resume",
        StreamStatusView.as_view(target=Stream.Status.ACTIVE), name="stream-resume",
    ),
    path(
        "streams/<api_id:stream_id>/archive",
        StreamStatusView.as_view(target=Stream.Status.ARCHIVED), name="stream-archive",
    ),
    path("streams/<api_id:stream_id>/pairing-code", PairingCodeView.as_view(), name="stream-pairing-code"),
]
