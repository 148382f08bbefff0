"""The domain error root and the one error-body shape of the HTTP API.

Services raise a :class:`DomainError` subclass carrying an HTTP status hint and a
stable machine ``code``; one handler turns any of them into the body every error
has: ``{"detail": "<message for people>", "code": "<machine code>", ...extra}``.
Validation errors (422) keep FastAPI's per-field list under ``errors``.
``InvalidInput`` is also a ``ValueError`` so existing ``except ValueError`` code
keeps working while services move from bare ``ValueError`` to it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse


class DomainError(Exception):
    """Root of the errors services raise on purpose; ``status`` is an HTTP hint."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        self.extra = extra


class InvalidInput(DomainError, ValueError):
    status = 400
    code = "invalid_input"


class NotFoundError(DomainError, LookupError):
    status = 404
    code = "not_found"


class ConflictError(DomainError):
    status = 409
    code = "conflict"


class Forbidden(DomainError, PermissionError):
    status = 403
    code = "forbidden"


_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
    500: "internal",
    502: "bad_gateway",
    503: "unavailable",
    504: "timeout",
}


def code_for(status: int) -> str:
    return _CODES.get(status, "error")


def error_body(status: int, detail: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code or code_for(status), **extra}


def error_response(
    status: int,
    detail: str,
    code: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(error_body(status, detail, code, **extra), status, headers=headers)
