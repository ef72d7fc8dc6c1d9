"""GET /stores against moto: the admin's store picker — every store's id and name, nothing for anyone else."""

from __future__ import annotations

import json

import pytest

from omo2c import wiring
from omo2c.core.settings import Settings
from tests.support.aws import http_event, load_handler

MANAGER = {"role": "manager", "staff_id": "M001", "store_id": "ST01", "key_id": ""}
MANAGER_KEY = {"role": "manager", "staff_id": "", "store_id": "ST01", "key_id": "k1"}
STAFF = {"role": "staff", "staff_id": "S001", "store_id": "ST01", "key_id": ""}


@pytest.fixture
def call(aws, lambda_context):
    handler = load_handler("StaffApiFunction")
    services = wiring.Services(Settings.from_env())

    def call(method, path, route, caller=None, body=None, params=None):
        event = http_event(method, path, route=route, path_params=params,
                           body=json.dumps(body, ensure_ascii=False) if body is not None else "",
                           headers={"Content-Type": "application/json"}, **({"caller": caller} if caller else {}))
        response = handler.lambda_handler(event, lambda_context, services=services)
        return response["statusCode"], json.loads(response["body"] or "null")

    return call


def test_the_admin_lists_every_store_by_id_with_its_name(call):
    assert call("GET", "/stores", "/stores") == (200, {"stores": []})
    for store_id, name in (("ST02", "台中店"), ("ST01", "信義店")):
        status, _ = call("PUT", f"/stores/{store_id}", "/stores/{store_id}",
                         body={"name": name, "phone": "02-2722-0000"}, params={"store_id": store_id})
        assert status == 200
    status, body = call("GET", "/stores", "/stores")
    assert status == 200
    # Ids and names only: the store's phone is not the picker's business.
    assert body == {"stores": [{"store_id": "ST01", "name": "信義店"}, {"store_id": "ST02", "name": "台中店"}]}

    call("PUT", "/stores/ST02", "/stores/{store_id}", body={"name": "台中公益店"}, params={"store_id": "ST02"})
    assert call("GET", "/stores", "/stores")[1]["stores"][1] == {"store_id": "ST02", "name": "台中公益店"}


@pytest.mark.parametrize("caller", [MANAGER, MANAGER_KEY, STAFF], ids=["manager", "manager key", "staff"])
def test_nobody_but_the_admin_lists_stores(call, caller):
    call("PUT", "/stores/ST01", "/stores/{store_id}", body={"name": "信義店"}, params={"store_id": "ST01"})
    status, body = call("GET", "/stores", "/stores", caller)
    assert status == 403
    assert "信義店" not in json.dumps(body, ensure_ascii=False)
