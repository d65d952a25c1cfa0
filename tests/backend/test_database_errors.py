"""A database that cannot be reached (or has no connection left) is a 503 the client may
retry, never a 500."""

from __future__ import annotations

import socket

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from backend.api.errors import install_handlers


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once closed


def test_unreachable_database_is_a_retryable_503() -> None:
    engine = create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test",
        connect_args={"connect_timeout": 2},
    )
    app = FastAPI()
    install_handlers(app)

    @app.get("/count")
    def count() -> int:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT 1")).scalar_one())

    r = TestClient(app).get("/count")
    assert r.status_code == 503
    assert r.json()["code"] == "DatabaseUnavailable"
    assert r.headers["Retry-After"] == "1"
