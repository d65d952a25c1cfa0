"""Path and query parameter types shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from backend.schemas import Address

Id40 = Annotated[int, Path(gt=0, lt=2**40, description="A ledger id (uint40).")]
Limit = Annotated[int, Query(ge=1, le=500, description="Page size (at most 500).")]
After = Annotated[int, Query(ge=0, description="Cursor: items with ids above this.")]
AddressPath = Annotated[str, Path(description="EIP-55 checksummed address")]

__all__ = ["Address", "AddressPath", "After", "Id40", "Limit"]
