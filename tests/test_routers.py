from config.routers import ReplicaRouter, replica_reads
from permits.models import Permit, Staff


def test_verification_reads_go_to_the_replica_when_one_is_configured(settings):
    settings.DATABASES = {**settings.DATABASES, "replica": settings.DATABASES["default"]}
    router = ReplicaRouter()
    assert router.db_for_read(Permit) is None
    with replica_reads():
        assert router.db_for_read(Permit) == "replica"
        assert router.db_for_read(Staff) is None  # personal data stays on the primary
        assert router.db_for_write(Permit) == "default"
    assert router.db_for_read(Permit) is None


def test_without_a_replica_every_read_stays_on_the_primary(settings):
    assert "replica" not in settings.DATABASES
    with replica_reads():
        assert ReplicaRouter().db_for_read(Permit) is None
