import json

from django.core.management.base import BaseCommand, CommandError

from billing.models import Plan
from billing.services import create_customer


class Command(BaseCommand):
    help = "Create a customer with an active subscription and print its first API key (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--email", default="")
        parser.add_argument("--plan", help="Plan name; the default plan when omitted.")
        parser.add_argument("--json", action="store_true", help="Print JSON only.")

    def handle(self, *args, name, email, plan, json: bool = False, **options):
        chosen = None
        if plan:
            chosen = Plan.objects.filter(name=plan).first()
            if chosen is None:
                raise CommandError(f"No plan named '{plan}'. Create it with createplan first.")
        issued = create_customer(name=name, email=email, plan=chosen)
        _print_key(self, issued.api_key.customer_id, issued.raw_key, as_json=json)


def _print_key(command: BaseCommand, customer_id: str, raw_key: str, *, as_json: bool) -> None:
    if as_json:
        command.stdout.write(json.dumps({"customer_id": customer_id, "api_key": raw_key}))
    else:
        command.stdout.write(f"Customer: {customer_id}")
        command.stdout.write(f"API key (shown once, store it now): {raw_key}")


