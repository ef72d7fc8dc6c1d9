"""Webhook signature schemes: constant-time comparisons, no parsing before they pass.

Comparisons are of bytes: ``hmac.compare_digest`` refuses non-ASCII strings, and a header is
whatever a sender puts in it."""

from __future__ import annotations

import base64
import hashlib
import hmac


def omo_signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>.<raw body>">`` as generic sources send it."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify_omo(secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float,
               window_seconds: int = 300) -> bool:
    if not timestamp or not signature or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > window_seconds:
        return False
    return hmac.compare_digest(omo_signature(secret, timestamp, body).encode(), signature.strip().encode())


def body_signature(secret: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 of the raw body: Shopify's ``X-Shopify-Hmac-Sha256`` and LINE's ``X-Line-Signature``."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()



def verify_shopify(secret: str, signature: str | None, body: bytes) -> bool:
    if not signature:
        return False
    return hmac.compare_digest(body_signature(secret, body).encode(), signature.strip().encode())
