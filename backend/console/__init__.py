"""The web console: server-rendered pages at /console over the same services, permissions and
visibility as the API. `mount(app)` adds it to an app built by `backend.api.app.create_app`."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from backend.console import errors
from backend.console.pages import (
    approvals,
    auditor,
    common,
    core,
    financier,
    operator,
    regulator,
    staff,
    supplier,
)
from backend.console.render import PREFIX

STATIC = Path(__file__).parent / "static"
ROUTERS = (common, staff, approvals, supplier, core, financier, regulator, auditor, operator)


def mount(app: FastAPI) -> None:
    for page in ROUTERS:
        app.include_router(page.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    errors.install(app)
