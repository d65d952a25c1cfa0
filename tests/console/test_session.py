"""The console's session without a browser: the login form takes an API key into an HttpOnly
cookie, every POST needs the session's CSRF token, refusals render as pages with the API's
codes, and the API itself answers as before."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chain.connection import dev_account
from tests.backend.conftest import Api, make_api
from tests.console.clients import browser, csrf_of, key_of, logged_in


@pytest.fixture(scope="module")
def api() -> Iterator[Api]:
    yield from make_api(with_console=True)


def test_login_sets_an_httponly_strict_cookie_and_shows_the_member(api: Api) -> None:
    c = browser(api)
    resp = c.post(
        "/console/login",
        data={"api_key": key_of(api, "tier1"), "next": "/console/supplier"},
        follow_redirects=False,
    )
    assert resp.status_code == 303
    assert resp.headers["location"] == "/console/supplier"
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith("scf_console=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # public_url is http here
    home = c.get("/console/")
    assert home.status_code == 200
    assert "supplier" in home.text
    assert home.headers["cache-control"] == "no-store"


def test_login_refuses_an_unknown_key_naming_the_code(api: Api) -> None:
    resp = browser(api).post("/console/login", data={"api_key": "scf_nope_nope"})
    assert resp.status_code == 401
    assert "InvalidApiKey" in resp.text


def test_login_refuses_an_empty_form(api: Api) -> None:
    resp = browser(api).post("/console/login", data={"api_key": "  "})
    assert resp.status_code == 401
    assert "ApiKeyMissing" in resp.text and "Paste your API key." in resp.text


def test_a_page_without_a_session_sends_to_the_login(api: Api) -> None:
    resp = browser(api).get("/console/supplier", follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"].startswith("/console/login?next=/console/supplier")


def test_login_does_not_redirect_off_the_console(api: Api) -> None:
    c = browser(api)
    resp = c.post(
        "/console/login",
        data={"api_key": key_of(api, "tier1"), "next": "https://evil.example/console/"},
        follow_redirects=False,
    )
    assert resp.headers["location"] == "/console/"


def test_a_post_without_the_csrf_token_is_refused_with_a_page(api: Api) -> None:
    c = logged_in(api, "tier1")
    resp = c.post("/console/notifications/read", data={})
    assert resp.status_code == 403
    assert "CsrfTokenMissing" in resp.text and "<html" in resp.text


def test_a_post_with_another_sessions_csrf_token_is_refused(api: Api) -> None:
    other = logged_in(api, "core")
    token = csrf_of(other.get("/console/").text)
    c = logged_in(api, "tier1")
    resp = c.post("/console/notifications/read", data={"csrf": token})
    assert resp.status_code == 403
    assert "CsrfTokenInvalid" in resp.text


def test_a_post_with_the_csrf_token_goes_through(api: Api) -> None:
    c = logged_in(api, "tier1")
    token = csrf_of(c.get("/console/").text)
    resp = c.post("/console/notifications/read", data={"csrf": token}, follow_redirects=False)
    assert resp.status_code == 303
    assert "marked read" in c.get(resp.headers["location"]).text


def test_a_wrong_roles_page_is_a_403_page_with_the_api_code(api: Api) -> None:
    resp = logged_in(api, "tier1").get("/console/core")
    assert resp.status_code == 403
    assert "MissingRole" in resp.text and "needs the role CORE_ENTERPRISE" in resp.text
    assert "Traceback" not in resp.text


def test_an_unknown_console_page_is_a_404_page(api: Api) -> None:
    resp = logged_in(api, "tier1").get("/console/no-such-page")
    assert resp.status_code == 404
    assert "<html" in resp.text and "NotFound" in resp.text


def test_the_nav_shows_only_the_pages_of_the_members_roles(api: Api) -> None:
    html = logged_in(api, "tier1").get("/console/").text
    assert 'href="/console/supplier"' in html
    assert 'href="/console/core"' not in html
    assert 'href="/console/financier"' not in html


def test_the_language_switch_translates_the_pages(api: Api) -> None:
    c = logged_in(api, "tier1")
    resp = c.get("/console/lang?to=zh&next=/console/", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/console/"
    html = c.get("/console/").text
    assert 'lang="zh-Hans"' in html and "退出登录" in html
    c.get("/console/lang?to=en&next=/console/")
    assert "Log out" in c.get("/console/").text


def test_logout_clears_the_cookie(api: Api) -> None:
    c = logged_in(api, "tier1")
    token = csrf_of(c.get("/console/").text)
    resp = c.post("/console/logout", data={"csrf": token}, follow_redirects=False)
    assert resp.status_code == 303
    assert 'scf_console=""' in resp.headers["set-cookie"]
    assert c.get("/console/", follow_redirects=False).status_code == 303


def test_logout_revokes_a_bearer_token(api: Api) -> None:
    token = api.login(dev_account(1))  # the auditor's own key: a login of its own
    c = browser(api)
    resp = c.post("/console/login", data={"api_key": token}, follow_redirects=False)
    assert resp.status_code == 303
    csrf = csrf_of(c.get("/console/").text)
    c.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    resp = api.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401 and resp.json()["code"] == "TokenRevoked"


def test_the_api_still_answers_json(api: Api) -> None:
    resp = api.client.get("/v1/me")
    assert resp.status_code == 401
    assert resp.json()["code"] == "Unauthenticated"
    assert api.client.get("/v1/no-such").json()["code"] == "NotFound"


def test_a_login_form_from_elsewhere_is_refused(api: Api) -> None:
    """Login CSRF: another site's form (no token, or one that is not this browser's) cannot log
    the browser into an account of its choosing."""
    c = browser(api)
    key = key_of(api, "tier1")
    for token in ("", "forged-token"):
        resp = c.post(
            "/console/login", data={"api_key": key, "login_csrf": token}, follow_redirects=False
        )
        assert resp.status_code == 403 and "LoginFormExpired" in resp.text
        assert "scf_console=" not in resp.headers.get("set-cookie", "")
    mine = c.login_token()
    resp = c.post(
        "/console/login", data={"api_key": key, "login_csrf": mine}, follow_redirects=False
    )
    assert resp.status_code == 303 and resp.headers["set-cookie"].startswith("scf_console=")
    # the staff login takes the same token
    other = browser(api)
    resp = other.post(
        "/console/login/staff",
        data={"login": "x", "password": "y", "code": "123456", "login_csrf": mine},
    )
    assert resp.status_code == 403 and "LoginFormExpired" in resp.text
