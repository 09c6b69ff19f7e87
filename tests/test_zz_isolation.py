"""After a transactional test's flush, the reference data is there again for the next test."""

import pytest

from orgs.models import Area


@pytest.mark.django_db(transaction=True)
def test_a_transactional_test_sees_the_districts():
    assert Area.objects.filter(code="005", name="Cầu Giấy").exists()


@pytest.mark.django_db
def test_the_next_test_still_sees_the_districts_and_role_groups():
    from django.contrib.auth.models import Group

    assert Area.objects.count() == 30
    assert Group.objects.filter(name="org_hr").exists()
