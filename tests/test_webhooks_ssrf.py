"""A webhook URL is user input: refuse targets outside the public internet.

No test here ever connects anywhere but 127.0.0.1: refusals happen before any
connection, and the addresses checked are literals (no DNS traffic either).
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests.webhooks_support import receiving
from webhooks import http
from webhooks.services import attempt_delivery, create_endpoint, send_test_event

URL = "/api/v1/webhooks"
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def private_targets_refused(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://10.0.0.1/hooks",
        "http://192.168.1.10/hooks",
        "http://172.16.5.4/hooks",
        "http://127.0.0.1:8000/hooks",
        "http://localhost:8000/hooks",  # a hostname resolving to loopback
        "http://[::1]/hooks",
        "http://[fd00::1]/hooks",
        "http://[::ffff:10.0.0.1]/hooks",
        "http://0.0.0.0/hooks",
        "http://100.64.0.1/hooks",  # carrier-grade NAT
        "http://224.0.0.1/hooks",  # multicast
        "https://240.0.0.1/hooks",  # reserved
    ],
)
def test_non_public_targets_are_refused_at_creation(alice, private_targets_refused, url):
    response = alice.client.post(URL, {"url": url, "events": ["verification.completed"]}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_webhook_url" and body["status"] == 400
    assert "non-public address" in body["error"]


def test_file_urls_are_refused_even_when_private_targets_are_allowed(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    response = alice.client.post(
        URL, {"url": "file:///etc/passwd", "events": ["verification.completed"]}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid_webhook_url"


def test_public_addresses_pass_the_check():
    # Literal addresses: getaddrinfo answers without DNS, and nothing connects.
    target = http.parse_target("https://93.184.216.34/hooks")
    assert http.resolve(target, allow_private=False) == ["93.184.216.34"]
    target = http.parse_target("https://[2606:4700::1111]/hooks")
    assert http.resolve(target, allow_private=False) == ["2606:4700::1111"]


def test_patching_to_a_private_target_is_refused(alice, private_targets_refused, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    endpoint = alice.client.post(
        URL, {"url": "http://127.0.0.1:9/hooks", "events": ["verification.completed"]}, format="json"
    ).json()
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False

    response = alice.client.patch(
        f"{URL}/{endpoint['id']}", {"url": "http://169.254.169.254/"}, format="json"
    )

    assert response.status_code == 400 and response.json()["code"] == "invalid_webhook_url"


def test_the_address_is_checked_again_at_send_time(alice, settings):
    """A name that resolved to a public address when saved may point inward later (rebinding)."""
    with receiving() as receiver:
        settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
        endpoint = create_endpoint(
            customer=alice.customer, url=receiver.localhost_url, events=["verification.completed"]
        )
        settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = False
        delivery = send_test_event(endpoint=endpoint, now=T0)

        attempt = attempt_delivery(delivery_id=delivery.pk, now=T0)

        assert receiver.requests == []
    assert attempt.succeeded is False and attempt.status_code is None
    assert attempt.error.startswith("Refused:") and "non-public address" in attempt.error


def test_with_private_targets_allowed_a_local_receiver_gets_the_delivery(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with receiving() as receiver:
        endpoint = create_endpoint(
            customer=alice.customer, url=receiver.localhost_url, events=["verification.completed"]
        )
        attempt = attempt_delivery(delivery_id=send_test_event(endpoint=endpoint, now=T0).pk, now=T0)
        [received] = receiver.wait_for(1)
    assert attempt.succeeded is True
    assert received.headers["Host"] == f"localhost:{receiver.server.server_address[1]}"
