"""What every endpoint shares: error bodies, request ids, authentication headers,
the schema and docs, and the health check."""

from __future__ import annotations

import contextlib
import re

import pytest
from django.db import OperationalError, connection

from tests.verify_support import REQUEST_ID, assert_error


@contextlib.contextmanager
def database_down():
    """Every SQL statement on this thread's connection fails, as if the server were gone."""

    def refuse(execute, sql, params, many, context):
        raise OperationalError("could not connect to server: Connection refused")

    with connection.execute_wrapper(refuse):
        yield


# --- the error body and X-Request-Id ------------------------------------------------


def test_a_missing_key_is_a_401_with_the_error_body(anonymous):
    response = anonymous.get("/api/v1/verifications")

    assert_error(response, 401, "missing_api_key")


@pytest.mark.parametrize("key", ["vai_not_a_real_key_at_all", "sk_live_123", "vai_strm_abcdefgh"])
def test_a_wrong_key_is_a_401_with_the_error_body(anonymous, key, alice):
    anonymous.credentials(HTTP_X_API_KEY=key)

    assert_error(anonymous.get("/api/v1/verifications"), 401, "invalid_api_key")


def test_a_validation_error_carries_a_request_id(alice):
    assert_error(alice.client.get("/api/v1/verifications", {"limit": "0"}), 400, "invalid_request")


def test_an_oversized_body_is_refused_with_the_error_body_and_a_request_id(alice):
    response = alice.client.post(
        "/api/v1/verify", {"policy": "scooter_parking"}, format="json", CONTENT_LENGTH=str(200 * 1024 * 1024)
    )

    assert_error(response, 400, "image_too_large")


def test_an_unexpected_crash_is_a_500_with_the_error_body_and_a_request_id(alice):
    def crash(execute, sql, params, many, context):
        raise RuntimeError("boom")  # not a DatabaseError: nothing on the way handles it

    with connection.execute_wrapper(crash):
        response = alice.client.get("/api/v1/verifications/ver_anything")

    body = assert_error(response, 500, "internal_error")
    assert "boom" not in body["error"]


def test_a_rate_limited_request_is_a_429_with_retry_after_and_a_request_id(alice):
    plan = alice.customer.subscription.plan
    plan.requests_per_minute = 2
    plan.save()

    for _ in range(2):
        assert alice.client.get("/api/v1/verifications").status_code == 200
    response = alice.client.get("/api/v1/verifications")

    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) >= 1


@pytest.mark.parametrize("path", ["/api/v1/nothing_here", "/api/v1/verifications/a/b", "/api/v1/"])
def test_an_unknown_api_path_is_a_json_404(settings, anonymous, path):
    settings.DEBUG = False

    assert_error(anonymous.get(path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("delete", "/api/v1/verifications"),
        ("put", "/api/v1/verifications"),
        ("post", "/api/v1/verifications/ver_abc"),
        ("get", "/api/v1/verify"),
        ("delete", "/api/v1/policies"),
    ],
)
def test_a_method_the_endpoint_does_not_support_is_a_405_with_the_error_body(alice, method, path):
    response = getattr(alice.client, method)(path)

    body = assert_error(response, 405, "method_not_allowed")
    assert method.upper() in body["error"]
    assert method.upper() not in response["Allow"]


def test_a_post_to_the_health_check_is_a_405_with_the_error_body(anonymous):
    assert_error(anonymous.post("/api/v1/health"), 405, "method_not_allowed")


def test_a_sane_incoming_request_id_is_echoed(alice):
    response = alice.client.get("/api/v1/verifications", HTTP_X_REQUEST_ID="client-1234.abc:9")

    assert response["X-Request-Id"] == "client-1234.abc:9"


def test_a_sane_incoming_request_id_is_echoed_on_errors_too(anonymous):
    response = anonymous.get("/api/v1/verifications", HTTP_X_REQUEST_ID="trace_0001_abcdef")

    assert response.status_code == 401
    assert response["X-Request-Id"] == "trace_0001_abcdef"


@pytest.mark.parametrize(
    "incoming",
    [
        "x" * 129,
        "has spaces in it",
        "line\nbreak-injected",
        "evil\r\nSet-Cookie: a=b",
        "short",
        "<script>alert(1)</script>",
        "",
    ],
)
def test_an_unsafe_incoming_request_id_is_replaced(alice, incoming):
    response = alice.client.get("/api/v1/verifications", HTTP_X_REQUEST_ID=incoming)

    assert response.status_code == 200
    assert response["X-Request-Id"] != incoming
    assert REQUEST_ID.match(response["X-Request-Id"])


def test_each_request_gets_its_own_id(alice):
    first = alice.client.get("/api/v1/verifications")["X-Request-Id"]
    second = alice.client.get("/api/v1/verifications")["X-Request-Id"]

    assert first != second


# --- authentication ---------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_an_authorization_bearer_key_works_like_x_api_key(alice, anonymous, scheme):
    anonymous.credentials(HTTP_AUTHORIZATION=f"{scheme} {alice.api_key}")

    response = anonymous.get("/api/v1/verifications")

    assert response.status_code == 200
    assert response.json() == {"data": [], "has_more": False, "next_cursor": None}


def test_a_bad_bearer_key_is_a_401(anonymous, alice):
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer vai_wrongwrongwrong")

    assert_error(anonymous.get("/api/v1/verifications"), 401, "invalid_api_key")


def test_an_unreachable_key_store_is_a_503_not_a_401(alice):
    with database_down():
        response = alice.client.get("/api/v1/verifications")

    assert_error(response, 503, "service_unavailable")
    assert int(response["Retry-After"]) >= 1


def test_the_key_store_outage_is_a_503_for_bearer_keys_too(alice, anonymous):
    anonymous.credentials(HTTP_AUTHORIZATION=f"Bearer {alice.api_key}")

    with database_down():
        response = anonymous.get("/api/v1/policies")

    assert_error(response, 503, "service_unavailable")


# --- schema and docs -------------------------------------------------------------


def test_the_schema_is_an_openapi_3_document_listing_verify(anonymous):
    response = anonymous.get("/api/v1/schema", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ("/api/v1/verify", "/api/v1/verifications", "/api/v1/verifications/{verification_id}"):
        assert path in schema["paths"], path
    assert "post" in schema["paths"]["/api/v1/verify"]


def test_the_docs_page_is_html_that_loads_nothing_from_a_cdn(anonymous):
    response = anonymous.get("/api/docs")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "swagger" in page.lower()
    for external in ("https://cdn", "http://cdn", "unpkg", "jsdelivr", "cdnjs"):
        assert external not in page


def test_the_docs_page_scripts_are_served_by_us(anonymous):
    page = anonymous.get("/api/docs").content.decode()
    scripts = re.findall(r'src="([^"]+\.js)"', page)

    assert scripts
    for src in scripts:
        assert src.startswith("/"), src
        response = anonymous.get(src)
        assert response.status_code == 200, src


# --- health ------------------------------------------------------------------


def test_health_reports_every_component_ok(db, anonymous):
    response = anonymous.get("/api/v1/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: c["status"] for name, c in body["components"].items()} == {
        "database": "ok",
        "storage": "ok",
        "broker": "ok",
    }
    assert response["X-Request-Id"]


def test_health_is_a_503_naming_the_database_when_it_is_down(db, anonymous):
    with database_down():
        response = anonymous.get("/api/v1/health")

    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert "database" in body["error"]
    assert body["down"] == ["database"]
    assert body["components"]["database"]["status"] == "down"
    assert body["components"]["storage"]["status"] == "ok"
    assert response["X-Request-Id"]


def test_health_outage_answers_the_documented_error_body(db, anonymous):
    with database_down():
        response = anonymous.get("/api/v1/health")

    assert_error(response, 503, "service_unavailable")
