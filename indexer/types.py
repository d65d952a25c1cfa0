"""Column types and canonical text forms shared by the models, the store and the handlers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


class _SqliteAny(UserDefinedType[Any]):
    """A column with BLOB affinity: SQLite stores each value exactly as bound."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "BLOB"


class Uint256(TypeDecorator[int]):
    """Money and token amounts: NUMERIC(78,0) on PostgreSQL, read and written as Python int.

    SQLite has no arbitrary-precision numbers (NUMERIC affinity turns anything beyond int64 into
    a lossy REAL), so there the column has BLOB affinity, which stores every value untouched:
    realistic amounts as INTEGER, larger ones as their decimal text.
    """

    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SqliteAny())
        return dialect.type_descriptor(Numeric(78, 0))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        v = int(value)
        if dialect.name == "sqlite" and not _INT64_MIN <= v <= _INT64_MAX:
            return str(v)
        return v

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


def canonical_address(value: str | bytes) -> str:
    """Addresses are stored lower-case, 0x-prefixed, 40 hex digits."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return "0x" + value.lower().removeprefix("0x")


def canonical_hash(value: str | bytes) -> str:
    """Hashes (and bytes32 values) are stored lower-case, 0x-prefixed."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return "0x" + value.lower().removeprefix("0x")
