"""The console's session: the credential (an API key or a bearer token) in an HttpOnly cookie,
authenticated exactly as the API authenticates its headers, and the CSRF token every POST form
carries (an HMAC of that credential under the master key's "console-csrf" subkey)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Response

from backend.api.deps import (
    MirrorDep,
    SessionDep,
    check_active,
    check_roles,
    principal_for,
    runtime_of,
)
from backend.errors import Forbidden, Unauthenticated
from backend.services.context import Principal
from chain.enums import Role

COOKIE = "scf_console"
CSRF_FIELD = "csrf"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class LoginNeeded(Unauthenticated):
    """No console session, or its credential no longer works: the page sends to the login."""

    code = "LoginNeeded"


class CsrfRefused(Forbidden):
    code = "CsrfTokenInvalid"


@dataclass(frozen=True)
class Viewer:
    """Who looks at a console page: the member, the credential of its session and the CSRF
    token its forms carry."""

    member: Principal
    credential: str
    csrf: str

    def has(self, role: Role) -> bool:
        return self.member.has(role)


def csrf_token(request: Request, credential: str) -> str:
    return runtime_of(request).csrf.token(credential)


def set_session(request: Request, response: Response, credential: str) -> None:
    secure = runtime_of(request).settings.public_url.startswith("https://")
    response.set_cookie(
        COOKIE,
        credential,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/console",
    )


#: Before a session there is no credential to sign: the login forms carry a random token that
#: must equal this cookie's (double submit), so another site cannot log a browser into an
#: account of its choosing (login CSRF).
LOGIN_COOKIE = "scf_login"
LOGIN_FIELD = "login_csrf"


def login_token(request: Request) -> str:
    """The login forms' token: the browser's, or a new one."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


def keep_login_token(request: Request, response: Response, token: str) -> None:
    secure = runtime_of(request).settings.public_url.startswith("https://")
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=secure, path="/console"
    )


def login_token_matches(request: Request, sent: str) -> bool:
    kept = request.cookies.get(LOGIN_COOKIE)
    return kept is not None and bool(sent) and hmac.compare_digest(kept, sent)


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/console", httponly=True, samesite="strict")


async def checked_form(request: Request) -> None:
    """A POST must carry the session's CSRF token in its form (403 page otherwise)."""
    if request.method in SAFE_METHODS:
        return
    credential = request.cookies.get(COOKIE)
    if not credential:
        raise LoginNeeded("log in to the console first")
    form = await request.form()  # cached on the request: the route's Form fields read it again
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not sent:
        raise CsrfRefused(
            "this form came without its security token (csrf): reload the page and send it again",
            code="CsrfTokenMissing",
        )
    if not runtime_of(request).csrf.matches(credential, sent):
        raise CsrfRefused(
            "this form's security token (csrf) does not belong to this session: "
            "reload the page and send it again"
        )


def viewer(
    request: Request,
    session: SessionDep,
    mirror: MirrorDep,
    _: Annotated[None, Depends(checked_form)],
) -> Viewer:
    credential = request.cookies.get(COOKIE)
    if not credential:
        raise LoginNeeded("log in to the console first")
    try:
        member = principal_for(request, session, mirror, credential)
    except Unauthenticated as exc:
        raise LoginNeeded(exc.message, details={"reason": exc.code}) from exc
    seen = Viewer(member=member, credential=credential, csrf=csrf_token(request, credential))
    request.state.console_viewer = seen  # the error page shows the header for it too
    return seen


AnyViewer = Annotated[Viewer, Depends(viewer)]


async def active_viewer(seen: AnyViewer) -> Viewer:
    check_active(seen.member)
    return seen


ActiveViewer = Annotated[Viewer, Depends(active_viewer)]


def party(*roles: Role, even_suspended: bool = False) -> Callable[[Viewer], Awaitable[Viewer]]:
    """A page for the members holding any of `roles`: others get the 403 page (MissingRole),
    as the API's `require_role` answers them."""

    if even_suspended:

        async def check_any(seen: AnyViewer) -> Viewer:
            check_roles(seen.member, roles)
            return seen

        return check_any

    async def check(seen: ActiveViewer) -> Viewer:
        check_roles(seen.member, roles)
        return seen

    return check


SupplierViewer = Annotated[Viewer, Depends(party(Role.SUPPLIER))]
CoreViewer = Annotated[Viewer, Depends(party(Role.CORE_ENTERPRISE))]
DebtorViewer = Annotated[Viewer, Depends(party(Role.CORE_ENTERPRISE, even_suspended=True))]
FinancierViewer = Annotated[Viewer, Depends(party(Role.FINANCIER))]
RegulatorViewer = Annotated[Viewer, Depends(party(Role.REGULATOR))]
AuditorViewer = Annotated[Viewer, Depends(party(Role.AUDITOR, Role.REGULATOR))]
OperatorViewer = Annotated[Viewer, Depends(party(Role.OPERATOR))]
