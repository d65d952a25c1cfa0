"""One exception hierarchy for the backend, mapped once to JSON HTTP errors at the edge."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from chain.errors import ChainError, ContractRevert

log = logging.getLogger(__name__)


class ApiError(Exception):
    """Base class: a stable `code`, a message, details, and the HTTP status it maps to."""

    status_code = 400
    code = "BadRequest"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class InvalidInput(ApiError):
    status_code = 422
    code = "ValidationError"


class Unauthenticated(ApiError):
    status_code = 401
    code = "Unauthenticated"


class Forbidden(ApiError):
    status_code = 403
    code = "Forbidden"


class NotFound(ApiError):
    status_code = 404
    code = "NotFound"


class Conflict(ApiError):
    """A refusal the ledger gives (or would give): `code` is the contract's error name."""

    status_code = 409
    code = "Conflict"


class UnsupportedMediaType(ApiError):
    status_code = 415
    code = "UnsupportedMediaType"

    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"the request body must be JSON (Content-Type: application/json), not {content_type}",
            details={"content_type": content_type, "expected": "application/json"},
        )


def is_json(content_type: str) -> bool:
    """application/json, or a JSON-based type (application/problem+json), any parameters."""
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class RequestTooLarge(ApiError):
    status_code = 413
    code = "RequestTooLarge"

    def __init__(self, max_bytes: int) -> None:
        super().__init__("the request body is too large", details={"max_bytes": max_bytes})


class Unavailable(ApiError):
    status_code = 503
    code = "Unavailable"


def refusal(name: str, message: str, **details: Any) -> Conflict:
    """The 409 for a refusal the mirror predicts, named as the contract would name it."""
    return Conflict(message, code=name, details=details)


def from_revert(exc: ContractRevert) -> Conflict:
    return Conflict(str(exc), code=exc.name, details=jsonable(exc.args_))


def jsonable(value: Any) -> Any:
    """Revert arguments as JSON: bytes to hex, big ints to strings."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) >= 2**53:
        return str(value)
    return value


def _body(code: str, message: str, details: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "details": details}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": desc,
        "content": {
            "application/json": {"example": _body(code, desc, {})},
        },
    }
    for status, code, desc in (
        (401, "Unauthenticated", "No valid bearer token or API key"),
        (403, "Forbidden", "The member may not do this"),
        (404, "NotFound", "Unknown, or not visible to this member"),
        (409, "ReceivablesPieceLocked", "The ledger refuses (contract error name)"),
        (422, "ValidationError", "The request is malformed or out of bounds"),
    )
}


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(_body(exc.code, exc.message, exc.details), exc.status_code)


def install_handlers(app: FastAPI) -> None:
    """Every error leaves the API as `{"code", "message", "details"}`."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(ContractRevert)
    async def _revert(_: Request, exc: ContractRevert) -> JSONResponse:
        err = from_revert(exc)
        return JSONResponse(_body(err.code, err.message, err.details), err.status_code)

    @app.exception_handler(ChainError)
    async def _chain(_: Request, exc: ChainError) -> JSONResponse:
        log.warning("chain error: %s", exc)
        return JSONResponse(_body("ChainUnavailable", str(exc), {}), 503)

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database(_: Request, exc: Exception) -> JSONResponse:
        # connections exhausted (ours or the server's max_connections) or the server away:
        # nothing was written, and the same request may be sent again
        log.warning("database unavailable: %s", exc)
        return JSONResponse(
            _body("DatabaseUnavailable", "the database is busy or unreachable; retry shortly", {}),
            503,
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type")
        body_refused = any(tuple(e.get("loc", ()))[:1] == ("body",) for e in exc.errors())
        if body_refused and content_type and not is_json(content_type):
            # FastAPI reads a body of another type as bytes, then finds no object in it
            return error_response(UnsupportedMediaType(content_type))
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse(
            _body("ValidationError", "request validation failed", {"errors": details}), 422
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "NotFound", 405: "MethodNotAllowed", 401: "Unauthenticated"}.get(
            exc.status_code, "HttpError"
        )
        return JSONResponse(_body(code, str(exc.detail), {}), exc.status_code)
