"""A supplier's pages: its receivables and pieces, invoices, financing, cash."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from backend.console.render import PREFIX, render
from backend.console.session import SupplierViewer

router = APIRouter(prefix=f"{PREFIX}/supplier", include_in_schema=False)


@router.get("")
def home(request: Request, seen: SupplierViewer) -> Response:
    return render(request, "supplier/home.html")
