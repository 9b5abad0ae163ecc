"""The exception tree of the API; each class knows its HTTP status and title. Pure."""

from __future__ import annotations

from typing import ClassVar


class PlenaryError(Exception):
    """Base of every error the API reports, rendered as problem+json by the middleware."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"

    def __init__(self, detail: str, *, field: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.headers = headers or {}

    @property
    def type(self) -> str:
        return "/problems/" + self.title.lower().replace(" ", "-")


class BadRequest(PlenaryError):
    status, title = 400, "Bad Request"


class Unauthorized(PlenaryError):
    status, title = 401, "Unauthorized"


class Forbidden(PlenaryError):
    status, title = 403, "Forbidden"


class NotFound(PlenaryError):
    status, title = 404, "Not Found"


class Conflict(PlenaryError):
    status, title = 409, "Conflict"


class TooLarge(PlenaryError):
    status, title = 413, "Content Too Large"


class UnsupportedMediaType(PlenaryError):
    status, title = 415, "Unsupported Media Type"


class Invalid(PlenaryError):
    status, title = 422, "Unprocessable Content"


class RateLimited(PlenaryError):
    status, title = 429, "Too Many Requests"


class StoreUnavailable(PlenaryError):
    """Redis is down, slow, or could not confirm durability: the client should retry later."""

    status, title = 503, "Service Unavailable"

    def __init__(self, detail: str, *, retry_after: int = 2) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class Overloaded(PlenaryError):
    """This process is full (as many live feeds as it takes): retry soon, perhaps on another process."""

    status, title = 503, "Service Unavailable"

    def __init__(self, detail: str, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class OutcomeUnknown(StoreUnavailable):
    """A write reached the store but its durability wait timed out (or its answer was lost): it may or may not
    be stored and broadcast; the client retries with the same Idempotency-Key, which answers the first result."""

    @property
    def type(self) -> str:
        return "/problems/outcome-unknown"


class SeqExpired(Exception):
    """The ``after`` position was trimmed from the log; the client must reload (resync)."""
