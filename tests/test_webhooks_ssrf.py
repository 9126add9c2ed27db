"""A webhook URL is user input: refuse targets outside the public internet.

No test here ever connects anywhere but 127.0.0.1: refusals happen before any
connection, and the addresses checked are literals or names the `dns` fixture
answers (no DNS traffic either).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.verify_support import assert_error
from tests.webhooks_support import receiving
from verifyai.env import envports
from webhooks import http
from webhooks.models import WebhookEndpoint
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
    assert "not allowed" in body["error"]
    assert "127.0.0.1" not in body["error"] or "127.0.0.1" in url  # never the resolved address


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
        URL, {"url": "http://127.0.0.1:9999/hooks", "events": ["verification.completed"]}, format="json"
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
    assert attempt.error.startswith("Refused:") and "not allowed" in attempt.error
    assert "127.0.0.1" not in attempt.error and "::1" not in attempt.error


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


# --- Tunnelled and translated IPv6 addresses, ports --------------------------------------
#
# These addresses are all "global" to Python 3.11's ipaddress, yet many networks route them
# to a private IPv4 address. Hostnames under .hooks.test resolve through the `dns` fixture:
# socket.getaddrinfo, the OS resolver our code calls, answers with the address the test chose.
# The `only_loopback` guard makes sure a check that lets one through still sends nothing:
# a connect to anything but loopback fails and is recorded instead.

PUBLIC = "93.184.216.34"

PRIVATE_BEHIND_IPV6 = {
    "nat64 to 10.0.0.1": ("64:ff9b::a00:1", "10.0.0.1"),
    "nat64 to the metadata address": ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
    "local-use nat64 (embedding undecidable)": ("64:ff9b:1::a00:1", "10.0.0.1"),
    "local-use nat64, even a public-looking one": ("64:ff9b:1:0:808:808::", "8.8.8.8"),
    "6to4 to 10.0.0.1": ("2002:a00:1::1", "10.0.0.1"),
    "6to4 to loopback": ("2002:7f00:1::1", "127.0.0.1"),
    "ipv4-compatible 10.0.0.1": ("::a00:1", "10.0.0.1"),
    "ipv4-compatible, deprecated even when public": ("::808:808", "8.8.8.8"),
    "ipv4-translated (SIIT)": ("::ffff:0:a00:1", "10.0.0.1"),
    "teredo": ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.1"),
    "site-local": ("fec0::1", None),
    "multicast": ("ff0e::1", None),
    "srv6 segment id": ("5f00::1", None),
    "ipv6 documentation (RFC 9637)": ("3fff::1", None),
    "6to4 relay anycast": ("2002:c058:6301::1", "192.88.99.1"),
}


@pytest.fixture
def dns(monkeypatch):
    """names[host] = address makes ``host`` resolve to that address (and only to it)."""
    real = socket.getaddrinfo
    names: dict[str, str] = {}

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # noqa: A002 - the stdlib's names
        if isinstance(host, str) and host in names:
            address = names[host]
            if ":" in address:
                return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, port, family, type, proto, flags)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def only_loopback(monkeypatch):
    """Connections to anything but loopback fail (and are recorded) instead of leaving the host."""
    attempted: list[str] = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            attempted.append(host)
            raise ConnectionRefusedError(f"test guard: no traffic to {host}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return attempted


def _mentions(text: str, address: str, embedded: str | None) -> list[str]:
    forms = {address, ipaddress.ip_address(address).exploded, ipaddress.ip_address(address).compressed}
    if embedded:
        forms.add(embedded)
    return [form for form in forms if form in text]


@pytest.mark.parametrize(("address", "embedded"), PRIVATE_BEHIND_IPV6.values(), ids=PRIVATE_BEHIND_IPV6)
def test_ipv6_forms_of_private_addresses_are_refused_when_saved(
    alice, private_targets_refused, dns, address, embedded
):
    dns["inner.hooks.test"] = address
    for url in (f"http://[{address}]/hooks", "https://inner.hooks.test/hooks"):
        response = alice.client.post(URL, {"url": url, "events": ["verification.completed"]}, format="json")

        body = assert_error(response, 400, "invalid_webhook_url")
        assert "not allowed" in body["error"]
    # The message for a name never says what the name resolved to (that would map internal DNS).
    assert _mentions(body["error"], address, embedded) == []
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(("address", "embedded"), PRIVATE_BEHIND_IPV6.values(), ids=PRIVATE_BEHIND_IPV6)
def test_ipv6_forms_of_private_addresses_are_refused_at_send_time(
    alice, private_targets_refused, dns, only_loopback, address, embedded
):
    dns["rebinding.hooks.test"] = PUBLIC
    endpoint = alice.client.post(
        URL, {"url": "https://rebinding.hooks.test/hooks", "events": ["verification.completed"]},
        format="json",
    ).json()
    dns["rebinding.hooks.test"] = address  # the name now points inward
    delivery = send_test_event(endpoint=WebhookEndpoint.objects.get(pk=endpoint["id"]), now=T0)

    attempt = attempt_delivery(delivery_id=delivery.pk, now=T0)

    assert only_loopback == []
    assert attempt.succeeded is False and attempt.status_code is None
    assert attempt.error.startswith("Refused:") and "not allowed" in attempt.error
    [shown] = alice.client.get(f"{URL}/{endpoint['id']}/deliveries").json()["data"][0]["attempts"]
    assert shown["error"] == attempt.error and _mentions(shown["error"], address, embedded) == []


def test_the_admin_form_refuses_them_too(admin_client, alice, private_targets_refused):
    response = admin_client.post(
        "/admin/webhooks/webhookendpoint/add/",
        {"customer": alice.customer.pk, "url": "http://[64:ff9b::a00:1]/hooks",
         "events": ["verification.completed"], "description": "", "active": "on"},
    )

    assert response.status_code == 200 and "not allowed" in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8", "2606:4700::1111"]
)
def test_ipv6_forms_of_public_addresses_pass(address):
    assert http.resolve(http.parse_target(f"https://[{address}]/hooks"), allow_private=False) == [address]


@pytest.mark.parametrize("port", [80, 443, 1024, 8080, 65535])
def test_the_usual_ports_are_allowed(alice, private_targets_refused, dns, port):
    dns["public.hooks.test"] = PUBLIC
    response = alice.client.post(
        URL, {"url": f"https://public.hooks.test:{port}/hooks", "events": ["verification.completed"]},
        format="json",
    )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("port", [0, 22, 25, 111, 445, 1023])
def test_other_ports_are_refused(alice, private_targets_refused, dns, settings, port):
    dns["public.hooks.test"] = PUBLIC
    for allow_private in (False, True):  # not an address question: refused either way
        settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = allow_private
        response = alice.client.post(
            URL, {"url": f"http://public.hooks.test:{port}/", "events": ["verification.completed"]},
            format="json",
        )
        body = assert_error(response, 400, "invalid_webhook_url")
        assert f"port {port}" in body["error"].lower() and "not allowed" in body["error"]
    assert not WebhookEndpoint.objects.exists()


def test_allowed_ports_can_be_configured(alice, private_targets_refused, dns, settings, monkeypatch):
    dns["public.hooks.test"] = PUBLIC
    monkeypatch.setenv("VERIFYAI_WEBHOOK_ALLOWED_PORTS", "443, 8443, 9000-9010")
    settings.VERIFYAI_WEBHOOK_ALLOWED_PORTS = envports("VERIFYAI_WEBHOOK_ALLOWED_PORTS", [])

    def save(port: int) -> int:
        return alice.client.post(
            URL, {"url": f"https://public.hooks.test:{port}/", "events": ["verification.completed"]},
            format="json",
        ).status_code

    assert [save(port) for port in (443, 8443, 9000, 9010)] == [201] * 4
    assert [save(port) for port in (80, 8080, 9011)] == [400] * 3


@pytest.mark.parametrize("raw", ["http", "80,abc", "0", "65536", "2000-1000", "80-"])
def test_a_nonsense_port_list_fails_loudly(monkeypatch, raw):
    monkeypatch.setenv("VERIFYAI_WEBHOOK_ALLOWED_PORTS", raw)
    with pytest.raises(ImproperlyConfigured, match="VERIFYAI_WEBHOOK_ALLOWED_PORTS"):
        envports("VERIFYAI_WEBHOOK_ALLOWED_PORTS", [])


def test_a_port_no_longer_allowed_is_refused_at_send_time(alice, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    with receiving() as receiver:
        endpoint = create_endpoint(
            customer=alice.customer, url=receiver.url, events=["verification.completed"]
        )
        settings.VERIFYAI_WEBHOOK_ALLOWED_PORTS = [(80, 80), (443, 443)]
        attempt = attempt_delivery(delivery_id=send_test_event(endpoint=endpoint, now=T0).pk, now=T0)

        assert receiver.requests == []
    assert attempt.succeeded is False and attempt.error.startswith("Refused:")
    assert "not allowed" in attempt.error
