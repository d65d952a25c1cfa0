"""A body sent with another Content-Type than JSON is a 415 that says so, not a 422 about a
dictionary."""

from __future__ import annotations

import json

import pytest

from tests.backend.conftest import YUAN, Api, invoice


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml; charset=utf-8"],
)
def test_a_json_body_sent_as_another_type_is_a_415_naming_it(api: Api, content_type: str) -> None:
    a = api.addresses
    body = json.dumps(invoice(a["tier1"], a["core"], "INV-CT-1", 100 * YUAN))
    resp = api.as_("tier1").post(
        "/v1/invoices", content=body, headers={"Content-Type": content_type}
    )
    assert resp.status_code == 415, resp.text
    err = resp.json()
    assert err["code"] == "UnsupportedMediaType"
    assert "application/json" in err["message"] and content_type in err["message"]
    assert err["details"] == {"content_type": content_type, "expected": "application/json"}


def test_json_with_a_charset_is_json_and_a_bad_json_body_is_still_a_422(api: Api) -> None:
    a = api.addresses
    tier1 = api.as_("tier1")
    body = invoice(a["tier1"], a["core"], "INV-CT-2", 100 * YUAN)
    ok = tier1.post(
        "/v1/invoices",
        content=json.dumps(body),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 202, ok.text
    bad = tier1.post("/v1/invoices", json={**body, "number": "INV-CT-3", "amount": "lots"})
    assert bad.status_code == 422 and bad.json()["code"] == "ValidationError", bad.text
