"""The backend's domain errors: a stable code, a message a person reads, details. Services
raise them; the API maps each class to an HTTP status once (`backend.api.errors`)."""

from __future__ import annotations

from typing import Any

from chain.errors import ContractRevert
from chain.refusals import explain


class DomainError(Exception):
    """Base class: a stable `code`, a message and details."""

    code = "BadRequest"

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details or {}


class InvalidInput(DomainError):
    code = "ValidationError"


class Unauthenticated(DomainError):
    code = "Unauthenticated"


class Forbidden(DomainError):
    code = "Forbidden"


class NotFound(DomainError):
    code = "NotFound"


class Conflict(DomainError):
    """A refusal the ledger gives (or would give): `code` is the contract's error name."""

    code = "Conflict"


class Unavailable(DomainError):
    """Something the answer needs is not there yet (the mirror behind): try again shortly."""

    code = "Unavailable"


class UnsupportedMediaType(DomainError):
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


class RequestTooLarge(DomainError):
    code = "RequestTooLarge"

    def __init__(self, max_bytes: int) -> None:
        super().__init__("the request body is too large", details={"max_bytes": max_bytes})


#: Arguments of a contract error that an answer never carries: the receivable holding an
#: invoice key may be another party's (it would tell a non-party the invoice exists, and where).
WITHHELD: dict[str, tuple[str, ...]] = {"ReceivablesInvoiceKeyUsed": ("rootId",)}


class TooManyRequests(DomainError):
    """A rate limit or lock-out: `retry_after` seconds until it lets the request through."""

    code = "TooManyRequests"

    def __init__(self, message: str, *, code: str, retry_after: int) -> None:
        super().__init__(message, code=code, details={"retry_after": retry_after})
        self.retry_after = retry_after


def refusal(name: str, **args: Any) -> Conflict:
    """A refusal the mirror predicts, named and worded as the contract's own (`args`: the
    contract error's arguments)."""
    return _conflict(name, args)


def from_revert(exc: ContractRevert) -> Conflict:
    """The chain's refusal, worded for a person."""
    return _conflict(exc.name, exc.args_)


def _conflict(name: str, args: dict[str, Any]) -> Conflict:
    shown = {k: v for k, v in args.items() if k not in WITHHELD.get(name, ())}
    message, details = explain(name, shown)
    return Conflict(message, code=name, details=jsonable(details))


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
