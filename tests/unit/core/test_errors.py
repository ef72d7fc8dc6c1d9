"""One error mapping for every HTTP edge: domain errors keep their status, nothing else leaks."""

from __future__ import annotations

import json

from omo2c.core.errors import Conflict, Unavailable
from omo2c.core.http import create_app
from tests.support.aws import FakeContext, http_event


def test_a_concurrent_update_is_409_and_an_unavailable_dependency_503():
    app = create_app()

    @app.post("/conflict")
    def conflict():
        raise Conflict("the member changed concurrently")

    @app.post("/unavailable")
    def unavailable():
        raise Unavailable("2 entries could not be queued; try again")

    for path, status, code in (("/conflict", 409, "conflict"), ("/unavailable", 503, "unavailable")):
        response = app.resolve(http_event("POST", path, route=path), FakeContext())
        assert response["statusCode"] == status
        assert json.loads(response["body"])["error"] == code
