"""The one error shape: ``{"error": {"code": ..., "message": ..., "fields"?: [...]}}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class APIError(Exception):
    """An error with a stable machine code, a human message and an HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        fields: Sequence[Mapping[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.fields = list(fields) if fields else None
        self.headers = dict(headers) if headers else None

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}


class BadRequest(APIError):
    status, code = 400, "bad_request"


class ValidationFailed(APIError):
    status, code = 422, "validation_failed"


class Unauthorized(APIError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str = "Authentication required.", **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kw)


def account_gone() -> Unauthorized:
    """A valid access token whose account was deleted: the caller must sign in again."""
    return Unauthorized("This account no longer exists.", code="account_gone")


class Forbidden(APIError):
    status, code = 403, "forbidden"


class NotFound(APIError):
    status, code = 404, "not_found"


class Conflict(APIError):
    status, code = 409, "conflict"


class PayloadTooLarge(APIError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(APIError):
    status, code = 415, "unsupported_media_type"


class RateLimited(APIError):
    status, code = 429, "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"Too many requests. Try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )
        self.retry_after = retry_after


class ServiceUnavailable(APIError):
    status, code = 503, "service_unavailable"

    def __init__(self, message: str, *, code: str = "service_unavailable") -> None:
        super().__init__(message, code=code, headers={"Retry-After": "5"})
