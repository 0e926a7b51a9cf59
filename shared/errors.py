"""The one client-facing error tree.

    ImfaasError              code, HTTP status, client-safe message
    ├── BadRequest           bad_request   400
    ├── Unauthorized         unauthorized  401
    ├── Forbidden            forbidden     403
    ├── NotFound             not_found     404
    ├── Conflict             conflict      409
    ├── TooLarge             too_large     413
    ├── RateLimited          rate_limited  429
    ├── Unavailable          unavailable   503   (a backend could not be reached)
    └── Internal             internal      500   (never carries details to the client)

Infrastructure exceptions are mapped to ``Unavailable`` or ``Internal`` at the edge; their
text never reaches a client.
"""

from __future__ import annotations


class ImfaasError(Exception):
    """An error the client may see: a protocol error code and a human message."""

    code = "internal"
    http_status = 500
    default_message = "internal error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    def to_frame(self, request_id: str | None) -> dict[str, object]:
        """The protocol's ``error`` frame for this error."""
        frame: dict[str, object] = {"type": "error", "code": self.code, "message": self.message}
        if request_id is not None:
            frame["id"] = request_id
        return frame

    def to_http_body(self) -> dict[str, object]:
        """The protocol's HTTP error body."""
        return {"error": {"code": self.code, "message": self.message}}

    def http_headers(self) -> dict[str, str]:
        """Response headers the HTTP answer carries besides the body (none by default)."""
        return {}


class BadRequest(ImfaasError):
    code, http_status, default_message = "bad_request", 400, "bad request"


class Unauthorized(ImfaasError):
    code, http_status, default_message = "unauthorized", 401, "unauthorized"


class Forbidden(ImfaasError):
    code, http_status, default_message = "forbidden", 403, "forbidden"


class NotFound(ImfaasError):
    code, http_status, default_message = "not_found", 404, "not found"


class Conflict(ImfaasError):
    code, http_status, default_message = "conflict", 409, "conflict"


class TooLarge(ImfaasError):
    code, http_status, default_message = "too_large", 413, "too large"


class RateLimited(ImfaasError):
    code, http_status, default_message = "rate_limited", 429, "rate limited"

    def __init__(self, message: str | None = None, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s

    def http_headers(self) -> dict[str, str]:
        """``Retry-After`` in whole seconds (at least 1) when the wait is known."""
        if self.retry_after_s is None:
            return {}
        return {"Retry-After": str(max(1, self.retry_after_s))}


class Unavailable(ImfaasError):
    code, http_status, default_message = "unavailable", 503, "service unavailable, retry later"


class Internal(ImfaasError):
    code, http_status, default_message = "internal", 500, "internal error"


class BackendUnavailable(Exception):
    """Raised by adapters when their server cannot be reached; mapped to ``Unavailable``."""


class SeqConflict(Exception):
    """Raised by a message log when another message already holds the seq (a fenced writer)."""


ERROR_BY_CODE: dict[str, type[ImfaasError]] = {
    cls.code: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        TooLarge,
        RateLimited,
        Unavailable,
        Internal,
    )
}
