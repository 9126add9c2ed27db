from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework import exceptions, permissions
from rest_framework.request import Request

from billing.models import ApiKey, Customer, Subscription
from verifyai.api.errors import Forbidden


class HasActiveSubscription(permissions.BasePermission):
    """A valid VerifyAI key whose customer has an active subscription."""

    def has_permission(self, request: Request, view: Any) -> bool:
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            raise exceptions.NotAuthenticated("Missing API key: send it in the X-API-Key header.")
        if api_key.product != ApiKey.PRODUCT_VERIFYAI:
            raise WrongProduct(upgrade_url=settings.VERIFYAI_UPGRADE_URL)
        require_active_subscription(api_key.customer)
        return True


def require_active_subscription(customer: Customer) -> None:
    """Raise 403 no_active_subscription unless ``customer`` may use the API now."""
    try:
        subscription = customer.subscription
    except Subscription.DoesNotExist:
        subscription = None
    if subscription is None or not subscription.is_active:
        raise NoActiveSubscription(upgrade_url=settings.VERIFYAI_UPGRADE_URL)


class WrongProduct(Forbidden):
    code, message = "wrong_product", "This API key is not valid for VerifyAI."


class NoActiveSubscription(Forbidden):
    code, message = "no_active_subscription", "No active subscription for this account."
