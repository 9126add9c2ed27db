"""The one authentication path: a customer's API key.

``X-API-Key: vai_...`` everywhere, and ``Authorization: Bearer vai_...`` with the
same key. The principal is the key's customer; ``request.auth`` is the key.
"""

from __future__ import annotations

from django.db import DatabaseError
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from billing.models import ApiKey, Customer
from billing.services import find_api_key, touch_api_key
from verifyai.api.context import timed
from verifyai.api.errors import ServiceUnavailable


def raw_key_from(request: Request) -> str | None:
    header_key = request.META.get("HTTP_X_API_KEY")
    if header_key:
        return header_key.strip()
    scheme, _, credentials = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[Customer, ApiKey] | None:
        raw_key = raw_key_from(request)
        if raw_key is None:
            return None  # DRF answers 401 missing_api_key through the permission check
        with timed("auth"):
            try:
                api_key = find_api_key(raw_key)
            except DatabaseError as exc:
                raise ServiceUnavailable(
                    "Authentication service unavailable. Retry.", retry_after=1
                ) from exc
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        touch_api_key(api_key)
        return api_key.customer, api_key

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to a missing or bad key.
        return 'Bearer realm="verifyai"'
