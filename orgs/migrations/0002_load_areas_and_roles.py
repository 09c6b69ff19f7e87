"""Load Hanoi's districts (reference data from orgs/data/) and create one group per role."""

import csv
from pathlib import Path

from django.db import migrations

AREAS_CSV = Path(__file__).resolve().parent.parent / "data" / "hanoi-districts-2021.csv"
ROLES = ["org_hr", "department_reviewer", "police_reviewer", "checkpoint_officer", "admin"]


def load(apps, schema_editor):
    Area = apps.get_model("orgs", "Area")
    Group = apps.get_model("auth", "Group")
    AuditHead = apps.get_model("orgs", "AuditHead")
    with AREAS_CSV.open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            Area.objects.update_or_create(
                code=row["code"], defaults={"name": row["name"], "kind": row["kind"]}
            )
    for role in ROLES:
        Group.objects.get_or_create(name=role)
    AuditHead.objects.get_or_create(id=1)


def unload(apps, schema_editor):
    apps.get_model("orgs", "Area").objects.all().delete()
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [("orgs", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(load, unload)]
