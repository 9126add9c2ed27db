"""Frames reach the same webhooks as /verify (they share verify_image)."""

from __future__ import annotations

from tests.streams_support import create_and_pair, post_frame
from webhooks.models import WebhookDelivery
from webhooks.services import create_endpoint


def test_a_frame_queues_a_verification_completed_delivery(alice):
    # Port 9 (discard) on this machine: the attempt fails, but the delivery is recorded.
    endpoint = create_endpoint(
        customer=alice.customer, url="http://127.0.0.1:9999/hook", events=["verification.completed"]
    )
    paired = create_and_pair(alice)
    response = post_frame(paired.stream_id, paired.token)
    assert response.status_code == 200

    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event_type == "verification.completed"
    assert response.json()["id"].encode() in bytes(delivery.payload)
