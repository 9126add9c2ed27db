from django.core.management.base import BaseCommand, CommandError

from billing.management.commands.createcustomer import _print_key
from billing.models import Customer
from billing.services import create_api_key


class Command(BaseCommand):
    help = "Create a new API key for an existing customer and print it (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("customer_id")
        parser.add_argument("--name", default="")
        parser.add_argument("--json", action="store_true", help="Print JSON only.")

    def handle(self, *args, customer_id, name, json: bool = False, **options):
        customer = Customer.objects.filter(pk=customer_id).first()
        if customer is None:
            raise CommandError(f"No customer '{customer_id}'.")
        issued = create_api_key(customer=customer, name=name)
        _print_key(self, customer.pk, issued.raw_key, as_json=json)
