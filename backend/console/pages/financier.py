"""A financier's pages: pieces offered for financing, its offers and holdings."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from backend.console.render import PREFIX, render
from backend.console.session import FinancierViewer

router = APIRouter(prefix=f"{PREFIX}/financier", include_in_schema=False)


@router.get("")
def home(request: Request, seen: FinancierViewer) -> Response:
    return render(request, "financier/home.html")
