"""Every member's pages: login and logout, the language switch, home and notifications."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Query, Request, Response

from backend.api.deps import MirrorDep, RuntimeDep, SessionDep, principal_for
from backend.api.routes import attachments, statements
from backend.console import i18n
from backend.console.i18n import N_
from backend.console.render import PREFIX, language, local_path, names, redirect, render, tr
from backend.console.session import (
    ActiveViewer,
    AnyViewer,
    clear_session,
    keep_login_token,
    login_token,
    login_token_matches,
    set_session,
)
from backend.errors import Unauthenticated
from backend.services import auth, inbox

router = APIRouter(prefix=PREFIX, include_in_schema=False)

#: Why the login form is shown again, by the code of the refusal that sent it there.
REASONS = {
    "LoginNeeded": N_("Log in to use the console."),
    "InvalidApiKey": N_("That API key is unknown or revoked."),
    "ApiKeyExpired": N_("That API key has expired."),
    "TokenExpired": N_("Your login has expired: log in again."),
    "TokenRevoked": N_("You logged out: log in again."),
    "InvalidToken": N_("That login is not valid: log in again."),
}

#: The staff login (login name, password and a 6-digit code → a bearer token): its form posts to
#: `backend.console.pages.staff`.
STAFF_LOGIN = True


def login_page(request: Request, context: dict[str, Any], *, status_code: int = 200) -> Response:
    """The login page, its forms carrying the browser's login token (`session.LOGIN_COOKIE`)."""
    token = login_token(request)
    page = render(
        request,
        "common/login.html",
        {"staff_login": STAFF_LOGIN, "login_csrf": token, **context},
        status_code=status_code,
    )
    keep_login_token(request, page, token)
    return page


#: a login form sent without the token its page gave (another site's form, or an old page)
LOGIN_FORM_EXPIRED = N_(
    "This login form has expired or did not come from this console: log in again."
)


def _login_page(
    request: Request, *, next_path: str, error: str | None = None, code: str | None = None
) -> Response:
    status = 403 if code == "LoginFormExpired" else 401 if error else 200
    return login_page(
        request, {"next": next_path, "error": error, "code": code}, status_code=status
    )


@router.get("/login")
def login_form(
    request: Request,
    next: Annotated[str | None, Query()] = None,
    reason: Annotated[str | None, Query()] = None,
) -> Response:
    note = REASONS.get(reason or "") if reason else None
    return login_page(request, {"next": local_path(next), "notice": note})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    mirror: MirrorDep,
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    login_csrf: Annotated[str, Form()] = "",
) -> Response:
    """An API key pasted once: if the API would take it, the session cookie holds it."""
    credential = api_key.strip()
    target = local_path(next)
    if not login_token_matches(request, login_csrf):
        return _login_page(
            request, next_path=target, error=LOGIN_FORM_EXPIRED, code="LoginFormExpired"
        )
    if not credential:
        return _login_page(
            request, next_path=target, error=N_("Paste your API key."), code="ApiKeyMissing"
        )
    try:
        principal_for(request, session, mirror, credential)
    except Unauthenticated as exc:
        return _login_page(request, next_path=target, error=exc.message, code=exc.code)
    response = redirect(target)
    set_session(request, response, credential)
    return response


# The staff login, POST /console/login/staff, is in `backend.console.pages.staff`.


@router.post("/logout")
def logout(seen: AnyViewer, session: SessionDep) -> Response:
    """End the console session; a bearer token is revoked as /v1/auth/logout revokes it."""
    if not seen.member.via_api_key:
        auth.logout(session=session, me=seen.member)
    response = redirect(f"{PREFIX}/login")
    clear_session(response)
    return response


@router.get("/lang")
def switch_language(
    to: Annotated[str, Query()],
    next: Annotated[str | None, Query()] = None,
) -> Response:
    response = redirect(local_path(next))
    response.set_cookie(
        i18n.COOKIE,
        i18n.language_of(to),
        max_age=365 * 24 * 3600,
        samesite="lax",
        path=PREFIX,
    )
    return response


@router.get("")
def home_bare() -> Response:
    return redirect(f"{PREFIX}/")


@router.get("/")
def home(request: Request, seen: AnyViewer, session: SessionDep) -> Response:
    my_name = names(request, language(request)).get(seen.member.address)
    latest = (
        []
        if seen.member.suspended
        else inbox.listing(session, seen.member, unread=True, kind=None, after=0, limit=5)
    )
    return render(
        request,
        "common/home.html",
        {"me": seen.member, "my_name": my_name, "unread": latest},
    )


@router.get("/notifications")
def notifications(
    request: Request,
    seen: ActiveViewer,
    session: SessionDep,
    unread: Annotated[bool | None, Query()] = None,
) -> Response:
    items = inbox.listing(session, seen.member, unread=unread, kind=None, after=0, limit=100)
    return render(request, "common/notifications.html", {"items": items, "unread": unread})


@router.post("/notifications/read")
def mark_all_read(request: Request, seen: ActiveViewer, session: SessionDep) -> Response:
    marked = inbox.mark_read(session, seen.member, None)
    return redirect(f"{PREFIX}/notifications", flash=tr(request, "%(n)d marked read.", n=marked))


@router.get("/invoices/{invoice_id}/files/{sha256}")
def invoice_file(
    invoice_id: Annotated[int, Path(gt=0, lt=2**63)],
    sha256: Annotated[str, Path(pattern=r"^[0-9a-fA-F]{64}$")],
    seen: ActiveViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
) -> Response:
    """A file behind an invoice, to whoever GET /v1/invoices/{id}/attachments/{sha256} serves."""
    return attachments.download(
        invoice_id=invoice_id,
        sha256=sha256,
        me=seen.member,
        rt=rt,
        session=session,
        mirror=mirror,
    )


@router.get("/statement")
def statement_file(
    request: Request,
    seen: ActiveViewer,
    rt: RuntimeDep,
    session: SessionDep,
    mirror: MirrorDep,
    format: Annotated[Literal["pdf", "csv"], Query()] = "pdf",
) -> Response:
    """The member's statement: the file GET /v1/me/statement serves, for the console's
    session (whose cookie does not reach /v1)."""
    return statements.my_statement(
        request,
        me=seen.member,
        rt=rt,
        session=session,
        mirror=mirror,
        from_date=None,
        to_date=None,
        from_block=None,
        to_block=None,
        format=format,
    )
