"""The LINE stand-in's LINE Login: a key set and ID tokens, so the staff console signs in without LINE.

For development and tests only: the stand-in never exists in AWS, where the authorizer reads
LINE's own key set. A fresh key is made per process, so a token outlives neither the run nor its key.
"""

from __future__ import annotations

import base64
import os
import re
import time
from typing import Any

from omo2c.identity.identifiers import LINE_USER_ID

ISSUER = "https://access.line.me"
CERTS_PATH = "oauth2/v2.1/certs"
ID_TOKEN_PATH = "id-token"
_LINE_USER = re.compile(LINE_USER_ID)


def _b64url(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes(32, "big")).rstrip(b"=").decode()


def default_channel_id() -> str:
    """The channel the local functions expect: the environment's, else the settings' default."""
    from omo2c.core.settings import Settings

    return os.environ.get("OMO_LINE_LOGIN_CHANNEL_ID") or Settings().line_login_channel_id


class LocalLineLogin:
    """Signs ID tokens the way LINE Login does (ES256, P-256), with a key of its own."""

    kid = "local-1"

    def __init__(self) -> None:
        from cryptography.hazmat.primitives.asymmetric import ec

        self._key = ec.generate_private_key(ec.SECP256R1())

    def jwks(self) -> dict[str, Any]:
        """The public key set in the shape of ``https://api.line.me/oauth2/v2.1/certs``."""
        numbers = self._key.public_key().public_numbers()
        return {"keys": [{"kty": "EC", "crv": "P-256", "x": _b64url(numbers.x), "y": _b64url(numbers.y),
                          "kid": self.kid, "alg": "ES256", "use": "sig"}]}

    def issue(self, sub: str, name: str | None = None, channel_id: str | None = None, lifetime: int = 3600) -> str:
        import jwt

        if not isinstance(sub, str) or not _LINE_USER.fullmatch(sub):
            raise ValueError("sub must be a LINE user id")
        now = int(time.time())
        claims: dict[str, Any] = {"iss": ISSUER, "sub": sub, "aud": channel_id or default_channel_id(),
                                  "exp": now + lifetime, "iat": now, "amr": ["linesso"]}
        if name is not None:
            claims["name"] = name
        return jwt.encode(claims, self._key, algorithm="ES256", headers={"kid": self.kid, "typ": "JWT"})

    def answer(self, request: Any, path: str) -> tuple[int, dict[str, Any]] | None:
        """(status, JSON body) for the stand-in's LINE Login routes; None for any other request."""
        if path == CERTS_PATH and request.method == "GET":
            return 200, self.jwks()
        if path != ID_TOKEN_PATH or request.method != "POST":
            return None
        body = request.get_json(force=True, silent=True)
        if not isinstance(body, dict):
            return 400, {"error": "invalid_request", "message": "the body must be a JSON object"}
        sub, name = body.get("sub"), body.get("name")
        if not isinstance(sub, str) or not _LINE_USER.fullmatch(sub):
            return 400, {"error": "invalid_request", "message": "sub must be a LINE user id (U + 32 hex digits)"}
        if name is not None and not isinstance(name, str):
            return 400, {"error": "invalid_request", "message": "name must be a string"}
        return 200, {"id_token": self.issue(sub, name)}
