"""Pages from the Jinja2 templates beside this module: one environment per language, the
header's navigation by roles, flash messages, names beside addresses."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from sqlmodel import Session

from backend.api.deps import runtime_of
from backend.console import format as fmt
from backend.console import i18n
from backend.console.i18n import N_
from backend.console.session import CSRF_FIELD, Viewer
from backend.services import directory
from chain.enums import Role

TEMPLATES = Path(__file__).parent / "templates"
FLASH_COOKIE = "scf_flash"
PREFIX = "/console"


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str  # an English msgid, translated in the header
    roles: tuple[Role, ...]  # empty: every member
    #: besides the roles, whether it applies to this viewer (None: always)
    when: Callable[[Request, Viewer], bool] | None = None


#: The header's links: each party's pages under its own prefix, shown only to its roles.
NAV: tuple[NavItem, ...] = (
    NavItem(f"{PREFIX}/", N_("Home"), ()),
    NavItem(f"{PREFIX}/supplier", N_("Receivables"), (Role.SUPPLIER,)),
    NavItem(f"{PREFIX}/core", N_("Payables"), (Role.CORE_ENTERPRISE,)),
    NavItem(f"{PREFIX}/financier", N_("Financing"), (Role.FINANCIER,)),
    NavItem(f"{PREFIX}/regulator", N_("Supervision"), (Role.REGULATOR,)),
    NavItem(f"{PREFIX}/auditor", N_("Audit"), (Role.AUDITOR, Role.REGULATOR)),
    NavItem(f"{PREFIX}/operator", N_("Consortium"), (Role.OPERATOR,)),
    NavItem(f"{PREFIX}/notifications", N_("Notifications"), ()),
)

ROLE_LABELS: dict[Role, str] = {
    Role.OPERATOR: N_("operator"),
    Role.CORE_ENTERPRISE: N_("core enterprise"),
    Role.SUPPLIER: N_("supplier"),
    Role.FINANCIER: N_("financier"),
    Role.REGULATOR: N_("regulator"),
    Role.AUDITOR: N_("auditor"),
}


#: Statuses of pieces, receivables, offers and financing requests as the services name them.
STATUS_LABELS: dict[str, str] = {
    "pending": N_("pending"),
    "active": N_("active"),
    "split": N_("split"),
    "void": N_("void"),
    "paid": N_("paid"),
    "registered": N_("awaiting confirmation"),
    "confirmed": N_("confirmed"),
    "rejected": N_("rejected"),
    "cancelled": N_("cancelled"),
    "overdue": N_("overdue"),
    "settled": N_("settled"),
    "refused": N_("refused"),
    "closed": N_("closed"),
    "open": N_("open"),
    "accepted": N_("accepted"),
    # requests under an approval policy, and staff users
    "pending_approval": N_("waiting for approval"),
    "queued": N_("queued"),
    "mined": N_("done"),
    "expired": N_("expired"),
    "failed": N_("failed"),
    "disabled": N_("disabled"),
}


#: Links added by pages that apply to some viewers only (the staff pages add theirs).
EXTRA_NAV: list[NavItem] = []


def nav_for(seen: Viewer | None, request: Request | None = None) -> list[NavItem]:
    if seen is None:
        return []
    items = [*NAV[:-1], *EXTRA_NAV, NAV[-1]]  # notifications stay last
    return [
        i
        for i in items
        if (not i.roles or any(seen.has(r) for r in i.roles))
        and (i.when is None or request is None or i.when(request, seen))
    ]


@pass_context
def _address(ctx: Context, value: str | None) -> Markup:
    names: dict[str, str] = ctx.get("names") or {}
    return fmt.address(value, names)


@pass_context
def _csrf_field(ctx: Context) -> Markup:
    seen: Viewer | None = ctx.get("viewer")
    if seen is None:
        return Markup("")
    # and a key of its own: the same form sent twice sends one transaction (`forms.form_idem`)
    return Markup(
        '<input type="hidden" name="{}" value="{}"><input type="hidden" name="idem" value="{}">'
    ).format(CSRF_FIELD, seen.csrf, secrets.token_urlsafe(16))


@cache
def environment(lang: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_translations(i18n.translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.filters.update(fmt.FILTERS)
    env.filters["addr"] = _address
    env.globals["translate"] = i18n.translations(lang).gettext
    env.globals["event_arg"] = fmt.event_arg
    env.globals["csrf_field"] = _csrf_field
    env.globals["languages"] = i18n.LANGUAGES
    env.globals["role_labels"] = ROLE_LABELS
    env.globals["status_labels"] = STATUS_LABELS
    return env


def language(request: Request) -> str:
    return i18n.language_of(request.cookies.get(i18n.COOKIE))


def tr(request: Request, message: str, **values: object) -> str:
    """`message` in the request's language, `%(name)s` filled from `values`."""
    text = i18n.translations(language(request)).gettext(message)
    return text % values if values else text


def names(request: Request, lang: str) -> dict[str, str]:
    """Every directory name; a page shows only those of the addresses it shows. A Chinese page
    names members by their registered (legal) names, an English one by their short names."""
    with Session(runtime_of(request).engine) as session:
        return directory.all_names(session, legal=lang == "zh")


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    viewer: Viewer | None = None,
) -> HTMLResponse:
    seen = viewer or getattr(request.state, "console_viewer", None)
    lang = language(request)
    flash = request.cookies.get(FLASH_COOKIE)
    page = environment(lang).get_template(template)
    html = page.render(
        {
            "request": request,
            "viewer": seen,
            "nav": nav_for(seen, request),
            "lang": lang,
            "here": request.url.path,
            "flash": unquote(flash) if flash else None,
            "names": names(request, lang) if seen is not None else {},
            **(context or {}),
        }
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"  # a page shows what a credential saw
    if flash:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def redirect(path: str, *, flash: str | None = None) -> Response:
    """After a form: back to a page (303 See Other), with a message the next page shows once."""
    response = RedirectResponse(path, status_code=303)
    if flash:
        response.set_cookie(
            FLASH_COOKIE, quote(flash), httponly=True, samesite="strict", path=PREFIX
        )
    return response


def local_path(target: str | None, default: str = f"{PREFIX}/") -> str:
    """`target` if it is a console path of this site (no open redirect), else `default`."""
    safe = target is not None and "\\" not in target and "://" not in target
    if safe and target is not None and target.startswith(f"{PREFIX}/"):
        return target
    return default
