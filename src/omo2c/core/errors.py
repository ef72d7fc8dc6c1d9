"""Domain errors; each entry point maps them to a response or a batch failure in one place."""

from __future__ import annotations


class OmoError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, object]:
        body: dict[str, object] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class NotFound(OmoError):
    status, code = 404, "not_found"


class Unauthenticated(OmoError):
    status, code = 401, "unauthenticated"


class Forbidden(OmoError):
    """Signed in, but not allowed this: the answer reveals nothing about what is there."""

    status, code = 403, "forbidden"


class PayloadTooLarge(OmoError):
    status, code = 413, "payload_too_large"


class MalformedBody(OmoError):
    status, code = 400, "malformed_body"


class InvalidEvent(OmoError):
    status, code = 422, "invalid"


class Gone(OmoError):
    """It existed and can no longer be used (an expired coupon): unlike a 404, retrying elsewhere will not help."""

    status, code = 410, "gone"


class Conflict(OmoError):
    """A concurrent writer changed what a write was based on: read again and retry; 409 at an edge."""

    status, code = 409, "conflict"


class Unavailable(OmoError):
    """A service we depend on refused for now; the caller (a webhook source, a queue) retries."""

    status, code = 503, "unavailable"


def validation_details(exc: Exception) -> list[dict[str, object]]:
    """Name the bad fields of a pydantic ValidationError without echoing their values."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return [{"field": "", "problem": str(exc)}]
    return [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
        for e in errors(include_input=False, include_url=False)
    ]
