"""The auditor's pages: the action log and its verification."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from backend.console.render import PREFIX, render
from backend.console.session import AuditorViewer

router = APIRouter(prefix=f"{PREFIX}/auditor", include_in_schema=False)


@router.get("")
def home(request: Request, seen: AuditorViewer) -> Response:
    return render(request, "auditor/home.html")
