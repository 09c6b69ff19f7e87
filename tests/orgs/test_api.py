import pytest
from rest_framework.test import APIClient

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_it_hands_out_a_token_for_good_credentials_and_the_token_works(alice, viettel):
    api = APIClient()
    response = api.post(
        "/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = api.get("/api/v1/me/").json()
    assert me == {"username": "alice", "roles": ["org_hr"], "organizations": [viettel.tax_code]}


def test_it_refuses_wrong_credentials_in_the_error_shape_in_vietnamese(alice):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "alice", "password": "wrong"}, format="json"
    )
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "invalid_credentials"
    assert error["message"] == "Tên đăng nhập hoặc mật khẩu không đúng."
    assert error["details"] == []


def test_it_answers_in_english_when_asked(alice):
    response = APIClient().post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": "wrong"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="en",
    )
    assert response.json()["error"]["message"] == "Wrong username or password."


def test_a_missing_field_lists_the_field_in_details(db):
    response = APIClient().post("/api/v1/auth/token/", {"username": "alice"}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert [d["field"] for d in error["details"]] == ["password"]


def test_a_bad_token_is_refused(db):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = api.get("/api/v1/me/")
    assert response.status_code == 401
    assert response.json()["error"]["code"]


def test_the_openapi_schema_and_docs_are_served(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/auth/token/" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_the_openapi_schema_is_valid_and_free_of_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ["/api/v1/requests/", "/api/v1/verify/", "/api/v1/staff/import/"]:
        assert path in text
