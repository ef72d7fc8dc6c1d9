"""The ID token verifier refuses every token LINE did not sign for this channel, and follows LINE's key rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from omo2c.access.id_token import IdTokenVerifier, InvalidIdToken, LineLogin
from omo2c.core.errors import Unavailable

CHANNEL = "1234567890"
ISSUER = "https://access.line.me"
SUB = "U" + "0123456789abcdef" * 2
URL = "https://api.line.me/oauth2/v2.1/certs"


def _b64(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(32, "big")).rstrip(b"=").decode()


def jwk(key: ec.EllipticCurvePrivateKey, kid: str) -> dict:
    numbers = key.public_key().public_numbers()
    return {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x), "y": _b64(numbers.y), "kid": kid, "alg": "ES256",
            "use": "sig"}


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def jwks(key) -> dict:
    return {"keys": [jwk(key, "k1")]}


def claims(**changes) -> dict:
    now = int(time.time())
    base = {"iss": ISSUER, "sub": SUB, "aud": CHANNEL, "exp": now + 3600, "iat": now, "amr": ["linesso"],
            "name": "Staff A", "picture": "https://profile.line-scdn.net/x"}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(key, payload: dict | None = None, kid: str | None = "k1", algorithm: str = "ES256") -> str:
    headers = {"kid": kid} if kid else {}
    return jwt.encode(payload or claims(), key, algorithm=algorithm, headers=headers)


def unsigned(header: dict, payload: dict) -> str:
    part = lambda obj: base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()  # noqa: E731
    return f"{part(header)}.{part(payload)}."


@pytest.fixture
def verifier(jwks) -> IdTokenVerifier:
    return IdTokenVerifier(URL, CHANNEL, keys=jwks)


def rejected(verifier: IdTokenVerifier, token: str) -> InvalidIdToken:
    with pytest.raises(InvalidIdToken) as caught:
        verifier.verify(token)
    assert caught.value.status == 401
    assert caught.value.code == "unauthenticated"
    if isinstance(token, str):
        assert all(part not in caught.value.message for part in token.split(".") if len(part) > 3)
    return caught.value


def test_a_token_line_signed_for_this_channel_verifies(verifier, key):
    login = verifier.verify(sign(key))
    assert isinstance(login, LineLogin)
    assert (login.sub, login.name, login.picture) == (SUB, "Staff A", "https://profile.line-scdn.net/x")
    assert login.expires_at > time.time()


def test_name_and_picture_are_optional(verifier, key):
    login = verifier.verify(sign(key, claims(name=None, picture=None)))
    assert (login.sub, login.name, login.picture) == (SUB, None, None)


@pytest.mark.parametrize(("change", "reason"), [
    ({"aud": "9999999999"}, "wrong audience"),
    ({"aud": [CHANNEL, "9999999999"]}, "wrong audience"),
    ({"aud": CHANNEL + " "}, "wrong audience"),
    ({"iss": "https://evil.example"}, "wrong issuer"),
    ({"iss": ISSUER + "/"}, "wrong issuer"),
    ({"exp": int(time.time()) - 60}, "expired"),
    ({"exp": None}, "missing claim exp"),
    ({"iat": None}, "missing claim iat"),
    ({"aud": None}, "missing claim aud"),
    ({"iss": None}, "missing claim iss"),
    ({"sub": None}, "missing claim sub"),
    ({"exp": "tomorrow"}, "bad time claim"),
    ({"iat": int(time.time()) + 3600}, "not yet valid"),
    ({"sub": "U123"}, "bad subject"),
    ({"sub": SUB.upper()}, "bad subject"),
    ({"sub": SUB + "\n"}, "bad subject"),
])
def test_claims_that_are_not_right_are_refused(verifier, key, change, reason):
    assert rejected(verifier, sign(key, claims(**change))).reason == reason


def test_expiry_has_thirty_seconds_of_leeway(jwks, key):
    now = 2_000_000_000
    token = sign(key, claims(exp=now - 10, iat=now - 3600))
    assert IdTokenVerifier(URL, CHANNEL, keys=jwks, clock=lambda: now).verify(token).expires_at == now - 10
    assert rejected(IdTokenVerifier(URL, CHANNEL, keys=jwks, clock=lambda: now + 40), token).reason == "expired"


def test_a_token_signed_by_another_key_with_the_same_kid_is_refused(verifier):
    other = ec.generate_private_key(ec.SECP256R1())
    assert rejected(verifier, sign(other)).reason == "bad signature"


def test_a_kid_not_in_the_key_set_is_refused(verifier, key):
    assert rejected(verifier, sign(key, kid="k2")).reason == "unknown key"


def test_a_token_without_a_kid_is_refused(verifier, key):
    assert rejected(verifier, sign(key, kid=None)).reason == "no key id"


def test_an_unsigned_token_is_refused(verifier):
    for alg in ("none", "None", "NONE"):
        assert rejected(verifier, unsigned({"alg": alg, "typ": "JWT", "kid": "k1"}, claims())).reason == \
            "algorithm not allowed"


def test_hs256_keyed_with_the_public_key_is_refused(verifier, key, jwks):
    """The classic algorithm confusion: the attacker knows the public key and uses it as an HMAC secret."""
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    part = lambda obj: base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=")  # noqa: E731
    for secret in (pem, pem.strip(), json.dumps(jwks["keys"][0]).encode()):
        signing_input = part({"alg": "HS256", "typ": "JWT", "kid": "k1"}) + b"." + part(claims())
        signature = base64.urlsafe_b64encode(hmac.new(secret, signing_input, hashlib.sha256).digest()).rstrip(b"=")
        token = (signing_input + b"." + signature).decode()
        assert rejected(verifier, token).reason == "algorithm not allowed"


def test_rs256_is_refused(verifier):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert rejected(verifier, sign(rsa_key, algorithm="RS256")).reason == "algorithm not allowed"


def test_es256_header_with_another_curve_is_refused(verifier):
    other = ec.generate_private_key(ec.SECP384R1())
    assert rejected(verifier, sign(other, algorithm="ES384")).reason == "algorithm not allowed"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "..", "a.b", "a.b.c.d", "e30.e30.", "x" * 100_000,
                                   "eyJhbGciOiJFUzI1NiJ9." + "A" * 20_000 + ".AAAA", "\u00e9.\u00e9.\u00e9"])
def test_malformed_strings_are_refused(verifier, token):
    assert rejected(verifier, token).reason in ("malformed", "algorithm not allowed")


def test_a_non_string_is_refused(verifier):
    for token in (None, b"a.b.c", 123):
        assert rejected(verifier, token).reason == "malformed"  # type: ignore[arg-type]


def test_a_broken_payload_under_a_good_header_is_malformed(verifier, key):
    header = base64.urlsafe_b64encode(json.dumps({"alg": "ES256", "kid": "k1"}).encode()).rstrip(b"=").decode()
    assert rejected(verifier, f"{header}.!!!.AAAA").reason == "malformed"


def test_the_message_never_echoes_the_token(verifier, key):
    token = sign(ec.generate_private_key(ec.SECP256R1()))
    error = rejected(verifier, token)
    assert error.body() == {"error": "unauthenticated", "message": "invalid ID token: bad signature"}


class FakeLine:
    """Answers the key set GETs with the documents queued, counting them; an exception is raised."""

    def __init__(self, *answers) -> None:
        self.answers, self.urls = list(answers), []

    def __call__(self, url: str) -> dict:
        self.urls.append(url)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


class Clock:
    def __init__(self) -> None:
        self.now = float(int(time.time()))

    def __call__(self) -> float:
        return self.now


def test_a_key_set_that_cannot_be_fetched_is_unavailable_not_a_crash(key):
    for failure in (OSError("connection refused"), TimeoutError("timed out"), ValueError("not JSON")):
        verifier = IdTokenVerifier(URL, CHANNEL, fetch=FakeLine(failure))
        with pytest.raises(Unavailable) as caught:
            verifier.verify(sign(key))
        assert caught.value.status == 503


def test_a_key_set_without_a_keys_list_is_unavailable(key):
    with pytest.raises(Unavailable):
        IdTokenVerifier(URL, CHANNEL, fetch=FakeLine({"nothing": []})).verify(sign(key))


def test_the_real_fetch_to_a_closed_port_is_unavailable(key):
    verifier = IdTokenVerifier("http://127.0.0.1:9/oauth2/v2.1/certs", CHANNEL)
    with pytest.raises(Unavailable):
        verifier.verify(sign(key))


def test_junk_tokens_cost_no_fetch(key):
    line = FakeLine(OSError("must not be called"))
    verifier = IdTokenVerifier(URL, CHANNEL, fetch=line)
    for token in ("abc", unsigned({"alg": "none", "kid": "k1"}, claims()), sign(key, kid=None)):
        with pytest.raises(InvalidIdToken):
            verifier.verify(token)
    assert line.urls == []


def test_the_key_set_is_fetched_once_and_kept_ten_minutes(key, jwks):
    line, clock = FakeLine(jwks), Clock()
    verifier = IdTokenVerifier(URL, CHANNEL, fetch=line, clock=clock)
    for _ in range(5):
        verifier.verify(sign(key))
    assert line.urls == [URL]
    clock.now += 599
    verifier.verify(sign(key))
    assert len(line.urls) == 1
    clock.now += 2
    verifier.verify(sign(key, claims(iat=int(clock.now), exp=int(clock.now) + 3600)))
    assert len(line.urls) == 2


def test_a_rotated_key_is_found_by_one_refetch(key, jwks):
    new = ec.generate_private_key(ec.SECP256R1())
    line = FakeLine(jwks, {"keys": [jwk(key, "k1"), jwk(new, "k2")]})
    verifier = IdTokenVerifier(URL, CHANNEL, fetch=line)
    verifier.verify(sign(key))
    assert verifier.verify(sign(new, kid="k2")).sub == SUB
    assert len(line.urls) == 2
    verifier.verify(sign(new, kid="k2"))
    assert len(line.urls) == 2


def test_unknown_kids_refetch_at_most_once_a_minute(key, jwks):
    line, clock = FakeLine(jwks), Clock()
    verifier = IdTokenVerifier(URL, CHANNEL, fetch=line, clock=clock)
    verifier.verify(sign(key))
    for n in range(10):
        rejected(verifier, sign(key, kid=f"junk-{n}"))
    assert len(line.urls) == 2
    clock.now += 61
    rejected(verifier, sign(key, kid="junk-again"))
    assert len(line.urls) == 3


def test_a_cold_start_with_an_unknown_kid_fetches_once(key, jwks):
    line = FakeLine(jwks)
    rejected(IdTokenVerifier(URL, CHANNEL, fetch=line), sign(key, kid="k9"))
    assert len(line.urls) == 1


def test_stale_keys_serve_while_line_is_down(key, jwks):
    line, clock = FakeLine(jwks, OSError("down")), Clock()
    verifier = IdTokenVerifier(URL, CHANNEL, fetch=line, clock=clock)
    verifier.verify(sign(key))
    clock.now += 601
    token = sign(key, claims(iat=int(clock.now), exp=int(clock.now) + 3600))
    assert verifier.verify(token).sub == SUB
    assert verifier.verify(token).sub == SUB
    assert len(line.urls) == 2


def test_the_key_set_url_must_be_https_unless_local():
    for url in ("http://api.line.me/oauth2/v2.1/certs", "file:///etc/passwd", "ftp://x/y", "https://", ""):
        with pytest.raises(ValueError):
            IdTokenVerifier(url, CHANNEL)
    IdTokenVerifier("http://127.0.0.1:3000/_local/line/oauth2/v2.1/certs", CHANNEL)
    IdTokenVerifier(URL, CHANNEL)


def test_a_channel_id_is_required(jwks):
    with pytest.raises(ValueError):
        IdTokenVerifier(URL, "", keys=jwks)


def test_keys_of_other_kinds_in_the_set_are_skipped(key):
    rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(rsa.generate_private_key(65537, 2048).public_key()))
    keys = {"keys": [{**rsa_jwk, "kid": "k1"}, {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "k1"},
                     {**jwk(key, "k1"), "use": "enc"}, "junk"]}
    assert rejected(IdTokenVerifier(URL, CHANNEL, keys=keys), sign(key)).reason == "unknown key"


def test_importing_the_module_does_not_import_jwt():
    code = "import sys, omo2c.access.id_token; print('jwt' in sys.modules, 'cryptography' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split() \
        == ["False", "False"]
