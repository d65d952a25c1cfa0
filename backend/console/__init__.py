"""The web console: server-rendered pages at /console over the same services, permissions and
visibility as the API. `mount(app)` adds it to an app built by `backend.api.app.create_app`."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from backend.api.app import BodyLimit
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


#: The console's forms that carry files: their bodies may be as large as an attachment, as
#: POST /v1/attachments may (the API's BodyLimit).
UPLOAD_PATHS = (supplier.INVOICE_FORM,)


def mount(app: FastAPI) -> None:
    for page in ROUTERS:
        app.include_router(page.router)
    for middleware in app.user_middleware:
        factory: object = middleware.cls
        if factory is BodyLimit:
            uploads = cast(tuple[str, ...], middleware.kwargs.get("uploads", ()))
            middleware.kwargs["uploads"] = (*uploads, *UPLOAD_PATHS)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    errors.install(app)
