"""Repair policies stored by the PATCH bug of issue #13 (defect 4).

A PATCH was validated partially, which waived the required keys of every row of a patched
list; such a policy answered 500 on every read. Each row now gets back what reading needs:
a row without its id/code is dropped (nothing could refer to it), a missing description
becomes the row's id/code, a category without ``is_compliant`` counts as not compliant.
Policies with complete rows are left untouched.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

# field -> (the row's key, whether the description is required)
ROWS = {"criteria": ("id", True), "violation_codes": ("code", True), "categories": ("id", False)}


def repaired_rows(field: str, rows: Any) -> list[dict[str, Any]]:
    key, needs_description = ROWS[field]
    fixed = []
    for row in rows if isinstance(rows, list) else []:
        if not isinstance(row, dict) or not isinstance(row.get(key), str) or not row[key]:
            continue
        row = dict(row)
        if needs_description and not isinstance(row.get("description"), str):
            row["description"] = row[key]
        if field == "categories" and not isinstance(row.get("is_compliant"), bool):
            row["is_compliant"] = False
        fixed.append(row)
    return fixed


def repair(apps: Any, schema_editor: Any) -> None:
    Policy = apps.get_model("policies", "Policy")
    for policy in Policy.objects.filter(customer__isnull=False).iterator():
        changed = []
        for field in ROWS:
            rows = getattr(policy, field)
            fixed = repaired_rows(field, rows)
            if fixed != rows:
                setattr(policy, field, fixed)
                changed.append(field)
        if changed:
            policy.save(update_fields=changed)


class Migration(migrations.Migration):
    dependencies = [("policies", "0001_initial")]

    operations = [migrations.RunPython(repair, migrations.RunPython.noop)]
