"""A core enterprise's pages: invoices to confirm, payables, credit, repayment."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from backend.console.render import PREFIX, render
from backend.console.session import CoreViewer

router = APIRouter(prefix=f"{PREFIX}/core", include_in_schema=False)


@router.get("")
def home(request: Request, seen: CoreViewer) -> Response:
    return render(request, "core/home.html")
