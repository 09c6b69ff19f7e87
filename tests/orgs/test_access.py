import pytest

from orgs.access import hr_organizations, user_roles
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def test_an_hr_clerk_sees_their_own_organisation(alice, viettel):
    response = client_for(alice).get(f"/org/{viettel.tax_code}/")
    assert response.status_code == 200
    assert viettel.name in response.content.decode()


def test_an_hr_clerk_gets_404_for_another_organisation(alice, vnpt):
    response = client_for(alice).get(f"/org/{vnpt.tax_code}/")
    assert response.status_code == 404


def test_another_organisation_looks_exactly_like_a_missing_one(alice, vnpt):
    other = client_for(alice).get(f"/org/{vnpt.tax_code}/")
    missing = client_for(alice).get("/org/0100109114/")
    assert other.status_code == missing.status_code == 404


def test_a_reviewer_is_refused_the_hr_organisation_page(charlie, viettel):
    assert client_for(charlie).get(f"/org/{viettel.tax_code}/").status_code == 403


def test_an_anonymous_visitor_is_sent_to_the_login_page(viettel, client):
    response = client.get(f"/org/{viettel.tax_code}/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_inactive_user_holds_no_role(alice):
    alice.is_active = False
    assert user_roles(alice) == frozenset()
    assert not hr_organizations(alice).exists()


def test_an_inactive_organisation_is_out_of_reach(alice, viettel):
    viettel.is_active = False
    viettel.save()
    assert client_for(alice).get(f"/org/{viettel.tax_code}/").status_code == 404


def test_home_shows_a_section_per_role(alice, charlie, dave):
    page = client_for(alice).get("/").content.decode()
    assert "Cán bộ nhân sự doanh nghiệp" in page and "Tập đoàn Công nghiệp" in page
    page = client_for(charlie).get("/").content.decode()
    assert "Cán bộ thẩm định Sở TT&amp;TT" in page and "Cán bộ nhân sự" not in page
