from __future__ import annotations

from tests.backend.conftest import Api


def test_me(api: Api) -> None:
    r = api.as_("core").get("/v1/me")
    assert r.status_code == 200, r.text
    assert r.json()["roles"] == ["CORE_ENTERPRISE"]
