"""Roles and scopes without AWS: who may call which route, and whose records they may see."""

from __future__ import annotations

import json

import pytest

from infra.template import load
from omo2c.access.http import admit
from omo2c.access.keys import matches, new_key, parse_key
from omo2c.access.model import ADMIN, Principal, Role, may_serve, require_staff_member, require_store
from omo2c.core.errors import Forbidden, Unauthenticated
from omo2c.staff.model import link_code_in, link_message, new_code
from tests.support.aws import FakeContext, http_event, load_handler

STAFF_A = Principal(Role.STAFF, "S001", "ST01")
STAFF_B = Principal(Role.STAFF, "S002", "ST01")
MANAGER = Principal(Role.MANAGER, "M001", "ST01")
OTHER_MANAGER = Principal(Role.MANAGER, "M002", "ST02")
MANAGER_KEY = Principal(Role.MANAGER, None, "ST01", "0a1b2c3d4e5f")


def _open_to(function: str) -> dict:
    return getattr(load_handler(function), "OPEN_TO", {})


PROTECTED = [route for route in load().routes if route.protected]


def _event(route, caller):
    path = route.path.replace("{", "").replace("}", "")
    params = {part[1:-1]: "x1" for part in route.path.split("/") if part.startswith("{")}
    return http_event(route.method, path, route=route.path, path_params=params or None, caller=caller,
                      body=json.dumps({"name": "x"}) if route.method in ("POST", "PUT") else "")


CLOSED = [(route, caller) for route in PROTECTED for caller in (STAFF_A, MANAGER, MANAGER_KEY)
          if caller.role not in _open_to(route.function).get(route.key, ())]


@pytest.mark.parametrize(("route", "caller"), CLOSED, ids=lambda v: getattr(v, "key", None) or v.label)
def test_every_signed_in_route_is_the_admins_unless_its_handler_opens_it(route, caller):
    """Refused before anything is read (no AWS here): the gate answers 403 with nothing about the record.
    Routes a role is let in to decide the scope in their service (tests/integration/workspace)."""
    response = load_handler(route.function).lambda_handler(_event(route, caller.context()), FakeContext())
    assert response["statusCode"] == 403
    assert json.loads(response["body"]) == {"error": "forbidden", "message": "this is not yours to see"}


@pytest.mark.parametrize("route", PROTECTED, ids=lambda r: r.key)
def test_a_request_without_the_authorizers_word_is_401(route):
    response = load_handler(route.function).lambda_handler(_event(route, None), FakeContext())
    assert response["statusCode"] == 401


def test_only_me_routes_open_to_plain_staff_and_managers_get_store_routes():
    staff_routes = {key for route in PROTECTED for key, roles in _open_to(route.function).items()
                    if Role.STAFF in roles}
    own_records = {"GET /staff/{staff_id}/statement", "GET /staff/{staff_id}/kpis"}  # their services keep staff to self
    assert all(key.split(" ")[1].startswith("/me") for key in staff_routes - own_records)
    assert "PUT /stores/{store_id}" not in {key for route in PROTECTED for key in _open_to(route.function)}
    assert "POST /api-keys" not in {key for route in PROTECTED for key in _open_to(route.function)}


def test_a_principal_is_rebuilt_only_from_a_known_role():
    assert Principal.from_context(STAFF_A.context()) == STAFF_A
    for context in (None, {}, {"role": "root"}, {"role": ""}):
        with pytest.raises(Unauthenticated):
            Principal.from_context(context)
    assert admit({"routeKey": "GET /members", "requestContext": {"authorizer": {"lambda": ADMIN.context()}}}) == ADMIN


def test_staff_serve_only_their_own_bound_customers_and_managers_their_store():
    assert may_serve(STAFF_A, "S001", "ST01") and not may_serve(STAFF_B, "S001", "ST01")
    assert not may_serve(STAFF_A, None, "ST01"), "a store customer is the manager's, not every staff member's"
    assert may_serve(MANAGER, "S001", "ST01") and may_serve(MANAGER, None, "ST01")
    assert not may_serve(OTHER_MANAGER, "S001", "ST01") and not may_serve(OTHER_MANAGER, None, None)
    assert may_serve(ADMIN, None, None)


def test_managers_and_their_keys_keep_to_their_store():
    require_store(MANAGER, "ST01")
    require_store(MANAGER_KEY, "ST01")
    require_staff_member(STAFF_A, "S001", "ST01")
    require_staff_member(MANAGER, "S002", "ST01")
    for caller, store in ((OTHER_MANAGER, "ST01"), (STAFF_A, "ST01"), (MANAGER, None), (MANAGER_KEY, "ST02")):
        with pytest.raises(Forbidden):
            require_store(caller, store)
    with pytest.raises(Forbidden):
        require_staff_member(STAFF_B, "S001", "ST01")


def test_api_keys_are_shown_once_and_only_their_hash_matches():
    key_id, shown, hashed = new_key()
    parsed = parse_key(shown)
    assert parsed is not None and parsed[0] == key_id and hashed not in shown
    from datetime import UTC, datetime

    from omo2c.access.keys import ApiKey

    stored = ApiKey(key_id, "BI", "manager", "ST01", hashed, datetime.now(tz=UTC))
    assert matches(stored, parsed[1])
    assert not matches(stored, parsed[1][:-1] + "x")
    for junk in ("", "omo_", "omo_zzzzzzzzzzzz_" + "a" * 43, shown + "x", "Bearer " + shown):
        assert parse_key(junk) is None


def test_a_link_code_reads_back_from_its_message_and_is_never_a_binding_code():
    from omo2c.binding.model import code_in

    code = new_code(12)
    message = link_message("林小美", code)
    assert link_code_in(message) == code and code_in(message) is None
    assert link_code_in("LINK-short") is None and link_code_in("#" + code[:10]) is None
