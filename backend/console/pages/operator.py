"""The operator's pages: the consortium's members and the chain."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from backend.console.render import PREFIX, render
from backend.console.session import OperatorViewer

router = APIRouter(prefix=f"{PREFIX}/operator", include_in_schema=False)


@router.get("")
def home(request: Request, seen: OperatorViewer) -> Response:
    return render(request, "operator/home.html")
