"""`manage.py createoperator` makes a staff user who sees one customer in the admin."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client

from billing.models import Operator
from verifyai.admin import OPERATOR_GROUP

PASSWORD = "correct-horse-battery-staple"


def run(*args: str) -> str:
    out = StringIO()
    call_command("createoperator", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_noinput_reads_the_password_from_operator_password(alice, monkeypatch):
    monkeypatch.setenv("OPERATOR_PASSWORD", PASSWORD)

    printed = run(alice.customer.pk, "--username", "ann", "--email", "ann@example.test", "--noinput")

    operator = Operator.objects.select_related("user").get()
    assert operator.customer == alice.customer and "ann" in printed and alice.customer.pk in printed
    user = operator.user
    assert user.email == "ann@example.test" and user.check_password(PASSWORD)
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == [OPERATOR_GROUP]


def test_the_new_operator_can_log_in_and_sees_their_customer(alice, bob, monkeypatch):
    monkeypatch.setenv("OPERATOR_PASSWORD", PASSWORD)
    run(alice.customer.pk, "--username", "ann", "--noinput")
    client = Client()

    assert client.login(username="ann", password=PASSWORD)
    page = client.get("/admin/billing/customer/").content.decode()
    assert alice.customer.name in page and bob.customer.name not in page


def test_noinput_without_operator_password_is_an_error(alice, monkeypatch):
    monkeypatch.delenv("OPERATOR_PASSWORD", raising=False)

    with pytest.raises(CommandError, match="OPERATOR_PASSWORD must be set"):
        run(alice.customer.pk, "--username", "ann", "--noinput")
    assert not User.objects.exists()


def test_an_unknown_customer_is_an_error(db, monkeypatch):
    monkeypatch.setenv("OPERATOR_PASSWORD", PASSWORD)

    with pytest.raises(CommandError, match="No customer 'cus_nope'"):
        run("cus_nope", "--username", "ann", "--noinput")


def test_a_taken_username_is_an_error(alice, monkeypatch):
    monkeypatch.setenv("OPERATOR_PASSWORD", PASSWORD)
    run(alice.customer.pk, "--username", "ann", "--noinput")

    with pytest.raises(CommandError, match="already taken"):
        run(alice.customer.pk, "--username", "ann", "--noinput")
    assert Operator.objects.count() == 1


def test_a_weak_password_is_rejected(alice, monkeypatch):
    monkeypatch.setenv("OPERATOR_PASSWORD", "password")

    with pytest.raises(CommandError, match="Password rejected"):
        run(alice.customer.pk, "--username", "ann", "--noinput")
    assert not User.objects.exists()


def test_interactive_asks_for_the_password_twice(alice, monkeypatch):
    answers = iter([PASSWORD, PASSWORD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    run(alice.customer.pk, "--username", "ann")

    assert User.objects.get(username="ann").check_password(PASSWORD)


def test_interactive_passwords_must_match(alice, monkeypatch):
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))

    with pytest.raises(CommandError, match="do not match"):
        run(alice.customer.pk, "--username", "ann")


def test_migrate_keeps_the_operators_group_permissions_in_line(db):
    from django.contrib.auth.models import Group

    from verifyai.admin import OPERATOR_GROUP, OPERATOR_PERMISSIONS

    group = Group.objects.get(name=OPERATOR_GROUP)
    models = {f"{p.content_type.app_label}.{p.content_type.model}" for p in group.permissions.all()}
    assert models == set(OPERATOR_PERMISSIONS)
