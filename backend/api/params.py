"""What the routers share: path and query parameter types, the 202 answer of a write."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query, Response
from pydantic import AfterValidator, BaseModel

from backend.models import TxRequest
from backend.runtime import Runtime
from backend.schemas import Address
from backend.services.tx import respond
from chain.addresses import parse_address

#: What a database integer holds: a larger one is refused as input, never sent to a query.
DB_INT = 2**63

Id40 = Annotated[int, Path(gt=0, lt=2**40, description="A ledger id (uint40).")]
RootQuery = Annotated[int | None, Query(gt=0, lt=2**40, description="A root's ledger id.")]
RowId = Annotated[int, Path(gt=0, lt=DB_INT, description="An off-chain record's id.")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500).")]
After = Annotated[int, Query(ge=0, lt=DB_INT, description="Cursor: items with ids above this.")]
BlockQuery = Annotated[int | None, Query(ge=0, lt=DB_INT)]
AddressPath = Annotated[
    str,
    AfterValidator(parse_address),
    Path(description="Any case; mixed case must be a correct EIP-55 checksum."),
]
AddressQuery = Annotated[
    str | None,
    AfterValidator(lambda a: None if a is None else parse_address(a)),
    Query(description="Any case; mixed case must be a correct EIP-55 checksum."),
]

#: The action log's filters (`GET /v1/audit/action-log`, `GET /v1/me/action-log`).
LogUser = Annotated[str | None, Query(max_length=100, description="a staff user's login name")]
LogAction = Annotated[
    str | None, Query(max_length=64, pattern=r"^[a-z_.]+$", description="e.g. auth.login")
]
Since = Annotated[datetime | None, Query(description="from this moment (ISO 8601, with a zone)")]
Until = Annotated[datetime | None, Query(description="before this moment")]


class Accepted(Response):
    """A write's 202, its model serialised here. Returned as a model, FastAPI would validate it
    again against the route's response_model (which still documents it), on the thread pool
    for a sync route: a second thread hop per write."""

    media_type = "application/json"

    def __init__(self, model: BaseModel) -> None:
        super().__init__(model.model_dump_json(), status_code=202)


def accepted(rt: Runtime, req: TxRequest) -> Accepted:
    """The 202 for a write answered with its transaction request (one the chain already
    refused is a 409: see `respond`)."""
    return Accepted(respond(rt, req))


__all__ = [
    "DB_INT",
    "Accepted",
    "Address",
    "AddressPath",
    "AddressQuery",
    "After",
    "BlockQuery",
    "Id40",
    "Limit",
    "LogAction",
    "LogUser",
    "RootQuery",
    "RowId",
    "Since",
    "Until",
    "accepted",
]
