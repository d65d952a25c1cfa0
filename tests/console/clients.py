"""The console as a browser without one: a TestClient with its own cookie jar, logged in by the
login form, and the CSRF token a page carries."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.backend.conftest import Api


def key_of(api: Api, who: str) -> str:
    return api.headers[who]["Authorization"].removeprefix("Bearer ")


def browser(api: Api) -> TestClient:
    """A client of its own (its own cookie jar) on the same app."""
    return TestClient(api.client.app, base_url="http://127.0.0.1:8000")


def logged_in(api: Api, who: str) -> TestClient:
    c = browser(api)
    resp = c.post("/console/login", data={"api_key": key_of(api, who)}, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    return c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)
