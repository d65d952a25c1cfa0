"""Fixtures for the indexer: mirror databases (SQLite file, throwaway PostgreSQL database) and
an anvil chain with the consortium deployed."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine, text

from chain.connection import ChainConnection, connect
from chain.settings import ChainSettings
from indexer.db import make_engine, upgrade
from indexer.runner import Indexer
from indexer.settings import IndexerSettings
from tests.factories import World, build_world

PG_ADMIN_DSN = os.environ.get("SCF_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
MIRROR_TABLES = (
    "ledger_event",
    "ledger_status",
    "member",
    "root",
    "piece",
    "offer",
    "cash_balance",
    "holding",
    "repayment",
    "piece_payment",
    "distribution",
)
# The party rows, with the event's position in place of its surrogate id.
PARTY_ROWS = (
    "SELECT p.chain_id, p.party, p.block_number, e.log_index FROM ledger_event_party p "
    "JOIN ledger_event e ON e.id = p.event_id WHERE p.chain_id = :c"
)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'mirror.sqlite3'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def _pg_url(dbname: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    return f"{base}/{dbname}".replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture
def pg_database() -> Iterator[Callable[[], str]]:
    """Makes throwaway databases (created from `test`, dropped afterwards); returns URLs."""
    made: list[str] = []

    def make() -> str:
        name = f"scf_idx_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return _pg_url(name)

    yield make
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        for name in made:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_engine(pg_database: Callable[[], str]) -> Iterator[Engine]:
    engine = make_engine(pg_database())
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def anvil_conn() -> Iterator[ChainConnection]:
    with connect(ChainSettings(profile="anvil")) as connection:
        yield connection


@pytest.fixture(scope="module")
def anvil_deployed(anvil_conn: ChainConnection) -> World:
    return build_world(anvil_conn)


@pytest.fixture
def anvil_world(anvil_deployed: World, anvil_conn: ChainConnection) -> Iterator[World]:
    """The consortium on anvil, reverted to its starting state after the test."""
    snap = anvil_conn.snapshot()
    yield anvil_deployed
    anvil_conn.revert(snap)


def make_indexer(world: World, engine: Engine, **settings: Any) -> Indexer:
    return Indexer(
        w3=world.conn.w3,
        deployment=world.deployment,
        engine=engine,
        settings=IndexerSettings(**settings),
    )


def dump(engine: Engine, chain_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """Every mirror row of a chain, sorted, without surrogate ids: equal dumps, equal mirrors."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in MIRROR_TABLES:
            rows = conn.execute(
                text(f"SELECT * FROM {table} WHERE chain_id = :c"), {"c": chain_id}
            ).mappings()
            cleaned = [
                tuple(sorted((k, _norm(v)) for k, v in r.items() if k != "id")) for r in rows
            ]
            out[table] = sorted(cleaned)
        parties = conn.execute(text(PARTY_ROWS), {"c": chain_id}).all()
        out["ledger_event_party"] = sorted(tuple(r) for r in parties)
    return out


def _norm(v: Any) -> Any:
    if isinstance(v, dict):
        return tuple(sorted((k, _norm(x)) for k, x in v.items()))
    if isinstance(v, list):
        return tuple(_norm(x) for x in v)
    if isinstance(v, str) and v.isdigit():
        return int(v)
    try:
        return int(v) if type(v).__name__ == "Decimal" else v
    except (TypeError, ValueError):
        return v
