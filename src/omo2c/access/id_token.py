"""LINE Login ID tokens: how the staff console (a LIFF app) proves which LINE user is signed in.

LINE signs them with ES256 and publishes the public keys as a JWKS. Only ES256 is accepted, and
the header is checked before any key is looked up, so ``none``, HS256 keyed with the public key
and other algorithm confusions never reach a signature check. ``jwt`` (and with it
``cryptography``) is imported on first use: a cold start that never sees an ID token skips it.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from omo2c.core.errors import Unauthenticated, Unavailable

LINE_ISSUER = "https://access.line.me"
ALGORITHM = "ES256"
MAX_TOKEN_CHARS = 8192
MAX_JWKS_BYTES = 64 * 1024
FETCH_TIMEOUT_SECONDS = 3.0
REFRESH_SECONDS = 600.0
FORCED_REFRESH_SECONDS = 60.0
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "host.docker.internal"})


class InvalidIdToken(Unauthenticated):
    """The reason is one of a few fixed phrases, never a part of the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid ID token: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class LineLogin:
    sub: str
    name: str | None
    picture: str | None
    expires_at: int


def fetch_jwks(url: str) -> Mapping[str, Any]:
    """One GET of the key set; any failure is an OSError or a ValueError."""
    import http.client
    import urllib.request

    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "omo2c"})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310
            body = response.read(MAX_JWKS_BYTES + 1)
    except http.client.HTTPException as exc:
        raise OSError("the key set response was cut short") from exc
    if len(body) > MAX_JWKS_BYTES:
        raise ValueError("the key set is too large")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise ValueError("the key set is not a JSON object")
    return document


def _check_url(url: str) -> None:
    """HTTPS, or plain HTTP to the local stand-in: a key set read over the open network could be anyone's."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOCAL_HOSTS:
        return
    raise ValueError("the JWKS URL must be https (or http to a local host)")


def _parse_keys(document: Mapping[str, Any]) -> dict[str, Any]:
    """The usable ES256 keys by kid; a key of another kind or a broken one is skipped, not trusted."""
    import jwt

    entries = document.get("keys") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError("the key set has no keys list")
    keys: dict[str, Any] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("kty") != "EC" or entry.get("crv") != "P-256" or entry.get("alg", ALGORITHM) != ALGORITHM:
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry, algorithm=ALGORITHM).key
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue
    return keys


class IdTokenVerifier:
    """Verifies LINE Login ID tokens for one channel; keep one per process so the key set stays cached.

    The key set is fetched at most once per :data:`REFRESH_SECONDS`, and once more (at most once per
    :data:`FORCED_REFRESH_SECONDS`) when a token names a kid it lacks, so LINE's key rotation works
    without letting junk kids hammer LINE. ``keys`` is a fixed JWKS (no HTTP at all); ``fetch`` replaces
    the HTTP GET; ``clock`` returns epoch seconds.
    """

    def __init__(self, jwks_url: str, channel_id: str, issuer: str = LINE_ISSUER, *,
                 keys: Mapping[str, Any] | None = None, clock: Callable[[], float] | None = None,
                 leeway_seconds: float = 30, fetch: Callable[[str], Mapping[str, Any]] | None = None) -> None:
        from omo2c.identity.identifiers import LINE_USER_ID

        if not channel_id:
            raise ValueError("a LINE Login channel id is required")
        self.jwks_url, self.channel_id, self.issuer = jwks_url, channel_id, issuer
        self.leeway = leeway_seconds
        self._clock = clock or time.time
        self._sub = re.compile(LINE_USER_ID)
        self._lock = threading.Lock()
        self._keys: dict[str, Any] | None = None
        self._fetch: Callable[[str], Mapping[str, Any]] | None = None
        self._fetched_at = -math.inf
        self._forced_at = -math.inf
        self._static = keys
        if keys is None:
            _check_url(jwks_url)
            self._fetch = fetch or fetch_jwks

    def verify(self, token: str) -> LineLogin:
        import jwt

        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            raise InvalidIdToken("malformed")
        try:
            header = jwt.get_unverified_header(token)
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidIdToken("malformed") from exc
        if header.get("alg") != ALGORITHM:
            raise InvalidIdToken("algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidIdToken("no key id")
        key = self._signing_key(kid)
        try:
            claims = jwt.decode(
                token, key, algorithms=[ALGORITHM], audience=self.channel_id, issuer=self.issuer,
                options={"require": ["iss", "aud", "sub", "exp", "iat"], "strict_aud": True,
                         "verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidSignatureError as exc:
            raise InvalidIdToken("bad signature") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidIdToken(f"missing claim {exc.claim}") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidIdToken("wrong audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidIdToken("wrong issuer") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise InvalidIdToken("malformed") from exc
        return self._login(claims)

    def _login(self, claims: Mapping[str, Any]) -> LineLogin:
        """Times by the injected clock (PyJWT reads the system clock), and a sub that is a LINE user id."""
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if not _is_time(exp) or not _is_time(iat) or (nbf is not None and not _is_time(nbf)):
            raise InvalidIdToken("bad time claim")
        now = self._clock()
        if exp <= now - self.leeway:
            raise InvalidIdToken("expired")
        if iat > now + self.leeway or (nbf is not None and nbf > now + self.leeway):
            raise InvalidIdToken("not yet valid")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not self._sub.fullmatch(sub):
            raise InvalidIdToken("bad subject")
        name, picture = claims.get("name"), claims.get("picture")
        return LineLogin(sub, name if isinstance(name, str) else None, picture if isinstance(picture, str) else None,
                         int(exp))

    def _signing_key(self, kid: str) -> Any:
        with self._lock:
            if self._static is not None:
                self._keys, self._static = _parse_keys(self._static), None
            key = (self._keys or {}).get(kid) if self._fetch is None else self._fetched_key(kid)
        if key is None:
            raise InvalidIdToken("unknown key")
        return key

    def _fetched_key(self, kid: str) -> Any:
        now = self._clock()
        attempted = False
        if self._keys is None or now - self._fetched_at >= REFRESH_SECONDS:
            attempted = True
            self._refresh(now, required=self._keys is None)
        assert self._keys is not None
        key = self._keys.get(kid)
        if key is None and not attempted and now - self._forced_at >= FORCED_REFRESH_SECONDS:
            self._forced_at = now
            self._refresh(now, required=True)
            key = self._keys.get(kid)
        return key

    def _refresh(self, now: float, *, required: bool) -> None:
        """On failure with keys in hand, keep them and try again a minute later; without any, answer 503."""
        assert self._fetch is not None
        try:
            keys = _parse_keys(self._fetch(self.jwks_url))
        except (OSError, ValueError) as exc:
            if required or self._keys is None:
                raise Unavailable("the LINE Login key set cannot be read") from exc
            self._fetched_at = now - REFRESH_SECONDS + FORCED_REFRESH_SECONDS
            return
        self._keys, self._fetched_at = keys, now


def _is_time(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
