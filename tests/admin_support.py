"""The admin cast: alice's operator, bob's operator and a superuser, and one row of
every customer-owned model for a customer."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import models
from django.test import Client
from django.utils import timezone

from billing.models import ApiKey, Customer, UsageCounter
from policies.models import Policy
from streams.models import PairingCode, Stream
from streams.services import issue_pairing_code
from verifications.models import Verification
from verifyai.admin import create_operator
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import create_endpoint

PASSWORD = "correct-horse-battery-staple"
_serial = itertools.count()

# Every registered customer-owned admin: its URL stem and how to find a customer's rows.
SCOPED_ADMINS: dict[str, tuple[type[models.Model], str]] = {
    "billing/customer": (Customer, "pk"),
    "billing/apikey": (ApiKey, "customer"),
    "billing/usagecounter": (UsageCounter, "customer"),
    "policies/policy": (Policy, "customer"),
    "verifications/verification": (Verification, "customer"),
    "streams/stream": (Stream, "customer"),
    "streams/pairingcode": (PairingCode, "stream__customer"),
    "webhooks/webhookendpoint": (WebhookEndpoint, "customer"),
    "webhooks/webhookdelivery": (WebhookDelivery, "endpoint__customer"),
}


def operator_client(customer: Customer, username: str) -> Client:
    operator = create_operator(customer=customer, username=username, password=PASSWORD,
                               email=f"{username}@example.test")
    client = Client()
    client.force_login(operator.user)
    return client


def superuser_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", PASSWORD))
    return client


@dataclass
class Rows:
    policy: Policy
    verification: Verification
    stream: Stream
    endpoint: WebhookEndpoint
    delivery: WebhookDelivery


def add_rows(customer: Customer, n: int = 1) -> Rows:
    """n rows of every customer-owned model (the customer itself and its first key already exist)."""
    builtin = Policy.objects.filter(customer__isnull=True).first()
    tag = customer.name.lower()
    rows = None
    for _ in range(n):
        i = next(_serial)
        policy = Policy.objects.create(customer=customer, policy_id=f"{tag}_rules_{i}", name=f"{tag} {i}")
        verification = Verification.objects.create(
            customer=customer, policy=policy, policy_slug=policy.policy_id, created_at=timezone.now(),
            status=Verification.Status.SUCCESS, category="ok", provider="local",
        )
        stream = Stream.objects.create(customer=customer, name=f"{tag} camera {i}", policy=builtin)
        issue_pairing_code(stream=stream)
        endpoint = create_endpoint(customer=customer, url=f"http://127.0.0.1:9999/{tag}/{i}",
                                   events=["verification.completed"])
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event_id=f"evt_{tag}_{i}",
                                                  event_type="ping", payload=b"{}")
        UsageCounter.objects.create(customer=customer, period_start=timezone.now().date().replace(
            year=2000 + i % 100, day=1))
        rows = rows or Rows(policy, verification, stream, endpoint, delivery)
    assert rows is not None
    return rows


def rows_of(customer: Customer, stem: str) -> list[models.Model]:
    model, path = SCOPED_ADMINS[stem]
    return list(model._default_manager.filter(**{path: customer.pk}))


def policy_form(*, criteria=(("clean", "No litter"),), codes=(("litter", "Litter is visible"),),
                categories=(("ok", "Fine", True), ("bad", "Not fine", False)), **fields) -> dict:
    """The POST body of the policy add/change page: fields plus its three row formsets."""
    data = {"name": "Rules", "description": "", "feedback_guidance": "", "default_provider": "",
            **fields}
    rows = {
        "criteria": [{"id": i, "description": d} for i, d in criteria],
        "violation_codes": [{"code": c, "description": d} for c, d in codes],
        "categories": [{"id": i, "description": d, **({"is_compliant": "on"} if ok else {})}
                       for i, d, ok in categories],
    }
    for prefix, entries in rows.items():
        data |= {f"{prefix}-TOTAL_FORMS": str(len(entries)), f"{prefix}-INITIAL_FORMS": "0",
                 f"{prefix}-MIN_NUM_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}
        for n, entry in enumerate(entries):
            data |= {f"{prefix}-{n}-{key}": value for key, value in entry.items()}
    return data
