"""The cost of a verification as a phone sends it (token), and the bounds of its caches.

A phone's scan takes two queries once its token is known to the process: one SELECT that
answers "revoked?" and "seen in another district within the copy window?", and the Scan
insert. The token's officer (user, roles, checkpoint) is kept VERIFY_CACHE_SECONDS per
process; these tests move that bound instead of sleeping through it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client
from rest_framework.authtoken.models import Token

from orgs.access import Role
from orgs.models import Profile
from orgs.services import checkpoint_create
from permits.models import Permit
from tests.verification.test_verify_api import claims_for, post, sign, store_permit
from verification import authentication
from verification.models import Scan


@pytest.fixture(autouse=True)
def _fresh_caches() -> Any:
    authentication.clear_cache()
    cache.clear()  # the rate limit's counters
    yield
    authentication.clear_cache()


@pytest.fixture
def token(erin: Any, signing_key: Any) -> Token:
    return Token.objects.create(user=erin)


@pytest.fixture
def phone(token: Token) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token.key}")


@pytest.fixture
def signing_key(db: Any) -> Any:
    from permits.services.keys import signing_key_create

    return signing_key_create(actor=None)


@pytest.fixture
def ttl(settings: Any) -> Any:
    settings.VERIFY_CACHE_SECONDS = 60
    return settings


def expire_the_cache(settings: Any) -> None:
    """As if VERIFY_CACHE_SECONDS had passed: every cached entry is now too old."""
    settings.VERIFY_CACHE_SECONDS = 0


# --- queries per call ------------------------------------------------------------------


def test_a_scan_from_a_phone_takes_two_queries_whatever_the_permit(
    phone, django_assert_num_queries
):
    assert post(phone, sign(claims_for())).json()["result"] == "valid"  # token, keys, names
    for claims in [claims_for(), claims_for(areas=("006",)), claims_for(areas=())]:
        qr = sign(claims)
        with django_assert_num_queries(2):  # revoked + copy window in one SELECT; the insert
            assert post(phone, qr).status_code == 200
        with django_assert_num_queries(2):  # the same permit again: no more
            assert post(phone, qr).status_code == 200
    assert Scan.objects.count() == 7


def test_a_text_without_a_trustworthy_serial_takes_only_the_insert(
    phone, django_assert_num_queries
):
    post(phone, "warm-up")
    with django_assert_num_queries(1):
        assert post(phone, "junk").json()["result"] == "malformed"


def test_a_checkpoint_named_in_the_request_costs_one_query_more(phone, django_assert_num_queries):
    checkpoint_create(actor=None, code="CP-05", name="Chốt Cầu Giấy", district="005")
    post(phone, sign(claims_for()))  # the token, the key set, the district names
    qr = sign(claims_for(areas=("005",)))
    with django_assert_num_queries(3):
        body = post(phone, qr, checkpoint="CP-05").json()
    assert body["result"] == "valid"


def test_the_first_scan_with_a_token_reads_the_officer_once(
    phone, django_assert_num_queries, token
):
    from verification.services import _all_area_names, _trusted_keys

    qr = sign(claims_for())
    _trusted_keys(fresh=True), _all_area_names()  # the process's key set and district names
    with django_assert_num_queries(5):  # token + user, roles, checkpoint; check; insert
        assert post(phone, qr).json()["result"] == "valid"
    with django_assert_num_queries(2):
        assert post(phone, qr).json()["result"] == "valid"


def test_revocation_and_copy_detection_still_answer_in_the_single_query(
    phone, vnpt, bob, django_assert_num_queries
):
    checkpoint_create(actor=None, code="CP-05", name="Chốt Cầu Giấy", district="005")
    claims = claims_for(areas=())
    qr = sign(claims)
    post(phone, qr)  # seen at CP-01 (Long Biên)
    with django_assert_num_queries(3):
        body = post(phone, qr, checkpoint="CP-05").json()
    assert body["result"] == "valid" and body["suspected_copy"] is True
    store_permit(claims, qr, vnpt, bob, revoked=True)
    with django_assert_num_queries(2):
        body = post(phone, qr).json()
    assert body["result"] == "revoked" and body["suspected_copy"] is True
    assert Permit.objects.get(serial=claims.serial).status == "revoked"


def test_reads_go_through_replica_reads(phone, monkeypatch):
    """Permit, key and checkpoint reads are marked for the replica (config.routers)."""
    from django.db import router

    from config import routers

    seen: list[tuple[str, bool]] = []
    original = router.db_for_read

    def spy(model: Any, **hints: Any) -> Any:
        seen.append((model._meta.model_name, routers._replica_reads.get()))
        return original(model, **hints)

    monkeypatch.setattr(router, "db_for_read", spy)
    checkpoint_create(actor=None, code="CP-05", name="Chốt Cầu Giấy", district="005")
    seen.clear()
    post(phone, sign(claims_for(areas=("005",))), checkpoint="CP-05")
    reads = {name: marked for name, marked in seen}
    assert reads["permit"] is True
    assert reads["checkpoint"] is True
    assert reads["scan"] is True  # asked inside replica_reads; the router keeps Scan on default


# --- the token cache and its bound -------------------------------------------------------


def test_a_deleted_token_works_until_the_cache_entry_is_older_than_the_ttl(phone, token, ttl):
    qr = sign(claims_for())
    assert post(phone, qr).status_code == 200
    token.delete()  # signed out, or the phone reported lost
    assert post(phone, qr).status_code == 200  # within VERIFY_CACHE_SECONDS: the documented bound
    expire_the_cache(ttl)
    response = post(phone, qr)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_removed_role_stops_working_after_the_ttl(phone, erin, ttl):
    qr = sign(claims_for())
    assert post(phone, qr).status_code == 200
    erin.groups.remove(Group.objects.get(name=Role.CHECKPOINT_OFFICER))
    assert post(phone, qr).status_code == 200
    expire_the_cache(ttl)
    response = post(phone, qr)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


def test_a_deactivated_officer_stops_working_after_the_ttl(phone, erin, ttl):
    qr = sign(claims_for())
    assert post(phone, qr).status_code == 200
    erin.is_active = False
    erin.save(update_fields=["is_active"])
    expire_the_cache(ttl)
    assert post(phone, qr).status_code == 401


def test_a_moved_officer_scans_at_the_new_checkpoint_after_the_ttl(phone, erin, ttl):
    qr = sign(claims_for(areas=("005",)))
    assert post(phone, qr).json()["result"] == "wrong_area"  # CP-01, Long Biên
    cau_giay = checkpoint_create(actor=None, code="CP-05", name="Chốt Cầu Giấy", district="005")
    Profile.objects.filter(user=erin).update(checkpoint=cau_giay)
    assert post(phone, qr).json()["result"] == "wrong_area"  # still the cached CP-01
    expire_the_cache(ttl)
    assert post(phone, qr).json()["result"] == "valid"
    assert Scan.objects.order_by("pk").last().checkpoint == cau_giay  # type: ignore[union-attr]


def test_an_unknown_token_is_refused_and_not_remembered(erin, signing_key, ttl):
    key = "f" * 40
    client = Client(HTTP_AUTHORIZATION=f"Token {key}")
    assert post(client, "junk").status_code == 401
    Token.objects.create(user=erin, key=key)
    assert post(client, "junk").status_code == 200  # at once, not after the TTL


def test_a_cache_of_zero_seconds_reads_the_token_every_time(
    phone, settings, django_assert_num_queries
):
    qr = sign(claims_for())
    post(phone, qr)
    settings.VERIFY_CACHE_SECONDS = 0
    with django_assert_num_queries(5):
        assert post(phone, qr).json()["result"] == "valid"


def test_the_cached_officer_is_not_shared_between_requests(phone, erin):
    """Each request gets its own user object: nothing one request sets leaks to the next."""
    from rest_framework.test import APIRequestFactory

    factory = APIRequestFactory()
    auth = authentication.CachedTokenAuthentication()
    key = Token.objects.get(user=erin).key
    request = factory.post("/", HTTP_AUTHORIZATION=f"Token {key}")
    first, _token = auth.authenticate(request)  # type: ignore[misc]
    second, _token = auth.authenticate(request)  # type: ignore[misc]
    assert first is not second
    assert first.pk == second.pk == erin.pk
    first.first_name = "changed"
    assert second.first_name != "changed"


def test_with_a_replica_the_checks_split_between_replica_and_primary(
    phone, vnpt, bob, monkeypatch, django_assert_num_queries
):
    """Permits are read from the replica, the scan log from the primary: two SELECTs then."""
    from django.db import connections

    from verification import services

    class Router:
        def db_for_read(self, model: Any, **hints: Any) -> str:
            return "replica" if model is Permit else "default"

    class Connections:  # "replica" is the test database itself, under another name
        def __getitem__(self, alias: str) -> Any:
            return connections["default"]

    aliases: list[str] = []
    select = services._select

    def spy(alias: str, sql: str, params: Any) -> Any:
        aliases.append(alias)
        return select(alias, sql, params)

    monkeypatch.setattr(services, "router", Router())
    monkeypatch.setattr(services, "connections", Connections())
    monkeypatch.setattr(services, "_select", spy)
    checkpoint_create(actor=None, code="CP-05", name="Chốt Cầu Giấy", district="005")
    claims = claims_for(areas=())
    qr = sign(claims)
    post(phone, qr)  # CP-01, Long Biên
    store_permit(claims, qr, vnpt, bob, revoked=True)
    aliases.clear()
    with django_assert_num_queries(4):  # checkpoint code; revoked (replica); copy; insert
        body = post(phone, qr, checkpoint="CP-05").json()
    assert body["result"] == "revoked" and body["suspected_copy"] is True
    assert aliases == ["replica", "default"]
