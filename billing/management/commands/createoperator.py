import getpass
import os

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from billing.models import Customer
from verifyai.admin import create_operator

PASSWORD_ENV = "OPERATOR_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create an operator: a staff user who sees one customer's data in the admin. "
        f"With --noinput the password is read from {PASSWORD_ENV}."
    )

    def add_arguments(self, parser):
        parser.add_argument("customer_id")
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive",
            help=f"Ask nothing; the password comes from {PASSWORD_ENV}.",
        )

    def handle(self, *args, customer_id, username, email, interactive: bool = True, **options):
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise CommandError(f"No customer '{customer_id}'.")
        try:
            User.username_validator(username)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from error
        if User.objects.filter(username=username).exists():
            raise CommandError(f"The username '{username}' is already taken.")
        password = self._password(interactive)
        try:
            operator = create_operator(customer=customer, username=username, email=email, password=password)
        except ValidationError as error:
            raise CommandError("Password rejected: " + " ".join(error.messages)) from error
        self.stdout.write(f"Operator '{operator.user.username}' created for {customer.name} ({customer.pk}).")

    def _password(self, interactive: bool) -> str:
        if not interactive:
            password = os.environ.get(PASSWORD_ENV, "")
            if not password:
                raise CommandError(f"{PASSWORD_ENV} must be set when --noinput is used.")
            return password
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The passwords do not match.")
        if not password:
            raise CommandError("The password cannot be blank.")
        return password
