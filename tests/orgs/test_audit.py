from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from orgs.audit import audit_record, audit_verify_chain
from orgs.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(alice):
    for i in range(5):
        audit_record(
            actor=alice,
            action="test.event",
            object_type="thing",
            object_id=i,
            details={"n": i, "note": "Ghi chú tiếng Việt"},
        )
    return list(AuditEvent.objects.order_by("seq"))


def verify() -> str:
    out = StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def test_it_reports_an_intact_chain(chain):
    assert audit_verify_chain() is None
    assert "intact" in verify()
    assert chain[1].prev_hash == chain[0].hash


def test_it_detects_a_row_edited_through_raw_sql(chain):
    target = chain[-3]
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET action = %s WHERE seq = %s",
            ["test.forged", target.seq],
        )
    with pytest.raises(CommandError, match=f"row {target.seq}: row content altered"):
        verify()


def test_it_detects_edited_details(chain):
    target = chain[1]
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET details = %s WHERE seq = %s",
            ['{"n": 99, "note": "Ghi chú tiếng Việt"}', target.seq],
        )
    broken = audit_verify_chain()
    assert broken is not None and broken.seq == target.seq


def test_it_detects_a_row_deleted_in_the_middle(chain):
    target = chain[2]
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE seq = %s", [target.seq])
    with pytest.raises(CommandError, match=f"row {target.seq}: missing row"):
        verify()


def test_it_detects_the_newest_row_deleted(chain):
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE seq = %s", [chain[-1].seq])
    broken = audit_verify_chain()
    assert broken is not None and broken.seq == chain[-1].seq


def test_it_detects_a_rehashed_row_because_the_next_link_breaks(chain):
    # An attacker who recomputes the edited row's own hash still breaks the next row's link.
    target = chain[1]
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {AuditEvent._meta.db_table} SET hash = %s WHERE seq = %s",
            ["f" * 64, target.seq],
        )
    broken = audit_verify_chain()
    assert broken is not None and broken.seq == target.seq
