"""The regulator's pages: supervision of the whole ledger."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from backend.console.render import PREFIX, render
from backend.console.session import RegulatorViewer

router = APIRouter(prefix=f"{PREFIX}/regulator", include_in_schema=False)


@router.get("")
def home(request: Request, seen: RegulatorViewer) -> Response:
    return render(request, "regulator/home.html")
