"""The console as a browser without one: a TestClient with its own cookie jar, logged in by the
login form, and the CSRF token a page carries."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.backend.conftest import Api


def key_of(api: Api, who: str) -> str:
    return api.headers[who]["Authorization"].removeprefix("Bearer ")


class ConsoleClient(TestClient):
    """A client with its own cookie jar that sends the login forms as a browser does: with the
    login token the login page gave it (a form already carrying one is sent as it is)."""

    def post(self, url: Any, *args: Any, data: Any = None, **kw: Any) -> Any:
        if str(url).startswith("/console/login") and isinstance(data, dict):
            data = {"login_csrf": self.login_token(), **data}
        return super().post(url, *args, data=data, **kw)

    def login_token(self) -> str:
        page = self.get("/console/login")
        found = re.search(r'name="login_csrf" value="([^"]+)"', page.text)
        assert found, "the login page carries no login token"
        return found.group(1)


def browser(api: Api, **kw: Any) -> ConsoleClient:
    """A client of its own (its own cookie jar) on the same app."""
    return ConsoleClient(api.client.app, base_url="http://127.0.0.1:8000", **kw)


def logged_in(api: Api, who: str) -> TestClient:
    c = browser(api)
    resp = c.post("/console/login", data={"api_key": key_of(api, who)}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    return c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)
