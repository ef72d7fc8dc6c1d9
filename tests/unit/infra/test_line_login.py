"""The LINE stand-in's LINE Login: its key set and the ID tokens it issues, as the verifier sees them."""

from __future__ import annotations

import json

import jwt
import pytest
from werkzeug.test import EnvironBuilder

from infra.line_login import LocalLineLogin
from infra.local import LineStandIn
from omo2c.access.id_token import IdTokenVerifier, InvalidIdToken
from omo2c.core.settings import Settings

SUB = "U" + "fedcba9876543210" * 2
URL = "http://127.0.0.1:3000/_local/line/oauth2/v2.1/certs"


@pytest.fixture(scope="module")
def stand_in() -> LineStandIn:
    return LineStandIn()


def call(stand_in: LineStandIn, method: str, path: str, body: object = None, data: str | None = None):
    builder = EnvironBuilder(path=f"/_local/line/{path}", method=method, json=body, data=data)
    response = stand_in.handle(builder.get_request(), path)
    return response.status_code, json.loads(response.get_data())


def test_the_key_set_is_published_as_line_does(stand_in):
    status, body = call(stand_in, "GET", "oauth2/v2.1/certs")
    assert status == 200
    [key] = body["keys"]
    assert {k: key[k] for k in ("kty", "crv", "kid", "alg", "use")} == \
        {"kty": "EC", "crv": "P-256", "kid": "local-1", "alg": "ES256", "use": "sig"}
    assert len(jwt.utils.base64url_decode(key["x"])) == len(jwt.utils.base64url_decode(key["y"])) == 32


def test_an_issued_token_verifies_against_the_published_key_set(stand_in, monkeypatch):
    monkeypatch.delenv("OMO_LINE_LOGIN_CHANNEL_ID", raising=False)
    status, body = call(stand_in, "POST", "id-token", {"sub": SUB, "name": "Staff A"})
    assert status == 200
    _, jwks = call(stand_in, "GET", "oauth2/v2.1/certs")
    login = IdTokenVerifier(URL, Settings().line_login_channel_id, keys=jwks).verify(body["id_token"])
    assert (login.sub, login.name, login.picture) == (SUB, "Staff A", None)
    header = jwt.get_unverified_header(body["id_token"])
    assert (header["alg"], header["kid"]) == ("ES256", "local-1")
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert claims["iss"] == "https://access.line.me"
    assert claims["amr"] == ["linesso"]
    assert claims["exp"] - claims["iat"] == 3600


def test_the_audience_is_the_channel_of_the_environment(stand_in, monkeypatch):
    monkeypatch.setenv("OMO_LINE_LOGIN_CHANNEL_ID", "2000000001")
    _, body = call(stand_in, "POST", "id-token", {"sub": SUB})
    _, jwks = call(stand_in, "GET", "oauth2/v2.1/certs")
    assert IdTokenVerifier(URL, "2000000001", keys=jwks).verify(body["id_token"]).name is None
    with pytest.raises(InvalidIdToken):
        IdTokenVerifier(URL, Settings().line_login_channel_id, keys=jwks).verify(body["id_token"])


@pytest.mark.parametrize("body", [{}, {"sub": ""}, {"sub": "U123"}, {"sub": SUB.upper()}, {"sub": SUB + "\n"},
                                  {"sub": 12}, {"sub": [SUB]}, {"sub": SUB, "name": 5}, [SUB], "U", None])
def test_a_missing_or_malformed_sub_is_a_400(stand_in, body):
    status, answer = call(stand_in, "POST", "id-token", body)
    assert status == 400
    assert answer["error"] == "invalid_request"


def test_a_body_that_is_not_json_is_a_400(stand_in):
    assert call(stand_in, "POST", "id-token", data="sub=U1")[0] == 400


def test_other_methods_fall_through_to_the_messaging_api(stand_in):
    assert call(stand_in, "GET", "id-token")[0] == 404
    assert call(stand_in, "POST", "oauth2/v2.1/certs", {})[0] == 404


def test_another_stand_in_has_another_key():
    token = LocalLineLogin().issue(SUB, channel_id="1")
    with pytest.raises(InvalidIdToken) as caught:
        IdTokenVerifier(URL, "1", keys=LocalLineLogin().jwks()).verify(token)
    assert caught.value.reason == "bad signature"


def test_issue_refuses_what_line_would_never_sign():
    with pytest.raises(ValueError):
        LocalLineLogin().issue("not-a-line-user")



def test_the_verifier_reads_the_key_set_over_http_from_the_stand_in(stand_in):
    """What the local run's authorizer does: GET the key set from the gateway, then verify."""
    import threading

    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request

    @Request.application
    def app(request):
        return stand_in.handle(request, request.path.removeprefix("/_local/line/"))

    server = make_server("127.0.0.1", 0, app)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}/_local/line"
        token = stand_in.login.issue(SUB, "Staff B", channel_id="1234567890")
        login = IdTokenVerifier(f"{base}/oauth2/v2.1/certs", "1234567890").verify(token)
        assert (login.sub, login.name) == (SUB, "Staff B")
    finally:
        server.shutdown()
        thread.join(timeout=5)
