"""Operating the API: offline docs, the access log and its request id, who may read /metrics."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator

import pytest

from tests.backend.conftest import Api


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def access_log() -> Iterator[_Lines]:
    logger = logging.getLogger("scf.access")
    handler = _Lines()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def test_docs_load_swagger_ui_from_the_server_itself(api: Api) -> None:
    page = api.client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", page.text)
    urls += re.findall(r"""url:\s*["']([^"']+)["']""", page.text)
    assert urls and "https://" not in page.text and "http://" not in page.text, urls
    assets = [u for u in urls if u.startswith("/docs/assets/")]
    assert {a.rsplit("/", 1)[1] for a in assets} >= {"swagger-ui-bundle.js", "swagger-ui.css"}
    for url in urls:
        assert api.client.get(url).status_code == 200, url


def test_each_request_is_one_json_access_line_with_its_id(api: Api, access_log: _Lines) -> None:
    r = api.as_("operator").get("/v1/me")
    assert r.status_code == 200
    rid = r.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid)
    [record] = [x for x in access_log.records if getattr(x, "request_id", None) == rid]
    fields = {k: getattr(record, k) for k in ("method", "path", "status", "member", "request_id")}
    assert fields == {
        "method": "GET",
        "path": "/v1/me",
        "status": 200,
        "member": api.addresses["operator"],
        "request_id": rid,
    }
    assert record.duration_ms >= 0  # type: ignore[attr-defined]
    line = logging.getLogger("scf.access").handlers[0].format(record)
    assert json.loads(line)["request_id"] == rid  # one JSON object on one line
    assert "\n" not in line


def test_a_well_formed_client_request_id_is_kept_and_a_bad_one_replaced(
    api: Api, access_log: _Lines
) -> None:
    kept = api.client.get("/healthz", headers={"X-Request-ID": "trace-42.a:b"})
    assert kept.headers["X-Request-ID"] == "trace-42.a:b"
    bad = api.client.get("/healthz", headers={"X-Request-ID": 'x" forged=1'})
    assert re.fullmatch(r"[0-9a-f]{32}", bad.headers["X-Request-ID"])
    anonymous = [r for r in access_log.records if r.request_id == "trace-42.a:b"]  # type: ignore[attr-defined]
    assert anonymous[0].member is None and anonymous[0].status == 200  # type: ignore[attr-defined]


def test_refusals_are_logged_with_their_status(api: Api, access_log: _Lines) -> None:
    r = api.client.get("/v1/me")
    assert r.status_code == 401
    [record] = [x for x in access_log.records if x.request_id == r.headers["X-Request-ID"]]  # type: ignore[attr-defined]
    assert record.status == 401  # type: ignore[attr-defined]


def test_metrics_are_for_operators_only(api: Api) -> None:
    anonymous = api.client.get("/metrics")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "Unauthenticated"
    auditor = api.as_("auditor").get("/metrics")
    assert auditor.status_code == 403, auditor.text
    assert auditor.json()["code"] == "MissingRole"
    operator = api.as_("operator").get("/metrics")
    assert operator.status_code == 200
    assert operator.headers["content-type"].startswith("text/plain")
