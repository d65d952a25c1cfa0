"""ledger_event_party: who each event concerns, for the auditor's party filter.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ADDRESS = re.compile(r"0x[0-9a-f]{40}")
_ZERO = "0x" + "00" * 20


def upgrade() -> None:
    op.create_table(
        "ledger_event_party",
        sa.Column("chain_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("party", sa.String(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "party", "event_id", name="pk_ledger_event_party"),
    )
    op.create_index(
        "ix_ledger_event_party_block",
        "ledger_event_party",
        ["block_number"],
        postgresql_using="brin",
    )
    # Mirrors built before this table: derive its rows from the stored events. Every address
    # argument is stored as 0x + 40 hex digits (arrays of them too; no other argument has that
    # shape); the zero address is not a party.
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            """
            INSERT INTO ledger_event_party (chain_id, party, event_id, block_number)
            SELECT DISTINCT e.chain_id, v.value, e.id, e.block_number
            FROM ledger_event e,
                 jsonb_each(e.args) AS a(key, val),
                 jsonb_array_elements_text(
                     CASE jsonb_typeof(a.val) WHEN 'array' THEN a.val
                     ELSE jsonb_build_array(a.val) END
                 ) AS v(value)
            WHERE v.value ~ '^0x[0-9a-f]{40}$'
              AND v.value <> '0x0000000000000000000000000000000000000000'
            """
        )
        return
    party = sa.table(
        "ledger_event_party",
        sa.column("chain_id"),
        sa.column("party"),
        sa.column("event_id"),
        sa.column("block_number"),
    )
    rows = [
        {"chain_id": chain_id, "party": p, "event_id": event_id, "block_number": block}
        for event_id, chain_id, block, args in bind.execute(
            sa.text("SELECT id, chain_id, block_number, args FROM ledger_event")
        )
        for p in _parties(json.loads(args) if isinstance(args, str) else args)
    ]
    if rows:
        op.bulk_insert(party, rows)


def _parties(args: dict[str, Any]) -> list[str]:
    found: dict[str, None] = {}
    for value in args.values():
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, str) and _ADDRESS.fullmatch(v) and v != _ZERO:
                found[v] = None
    return list(found)


def downgrade() -> None:
    op.drop_index("ix_ledger_event_party_block", table_name="ledger_event_party")
    op.drop_table("ledger_event_party")
