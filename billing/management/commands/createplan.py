from django.core.management.base import BaseCommand, CommandError

from billing.models import Plan


class Command(BaseCommand):
    help = "Create (or update) a plan."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--monthly-limit", type=int, required=True)
        parser.add_argument("--per-minute", type=int, default=60)
        parser.add_argument("--per-hour", type=int, default=1000)
        parser.add_argument("--display-name", default="")

    def handle(self, *args, name, monthly_limit, per_minute, per_hour, display_name, **options):
        if min(monthly_limit, per_minute, per_hour) < 0:
            raise CommandError("Limits cannot be negative.")
        plan, created = Plan.objects.update_or_create(
            name=name,
            defaults={
                "monthly_verification_limit": monthly_limit,
                "requests_per_minute": per_minute,
                "requests_per_hour": per_hour,
                "display_name": display_name or name.title(),
            },
        )
        self.stdout.write(f"{'Created' if created else 'Updated'} plan '{plan.name}'.")
