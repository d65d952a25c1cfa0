"""`scf reconcile` and `scf config show` with the embedded profile (`make run`): the chain and
its databases live in the serving process, which records where they are while it runs."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from backend import config as backend_config
from backend.config import EmbeddedRun, effective_rows, load_config
from backend.tools import cli
from tests.backend.conftest import Api


@pytest.fixture
def record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "embedded-run.json"
    monkeypatch.setattr(backend_config, "RUN_RECORD", path)
    for name in ("SCF_PROFILE", "SCF_DATABASE_URL", "SCF_MIRROR_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    return path


def test_reconcile_without_a_running_embedded_api_says_why_it_cannot(record: Path) -> None:
    result = CliRunner().invoke(cli.app, ["reconcile"])
    assert result.exit_code == 2, result.output
    assert "make run" in result.output and "none is running" in result.output
    assert "--profile anvil|rpc" in result.output


def test_config_show_without_a_running_embedded_api_names_no_file_it_would_not_use(
    record: Path,
) -> None:
    rows = {r["variable"]: r for r in effective_rows(load_config())}
    for variable in ("SCF_DATABASE_URL", "SCF_MIRROR_DATABASE_URL", "SCF_INDEXER_DATABASE_URL"):
        assert "scf-embedded-*" in rows[variable]["value"], rows[variable]
        assert "no `make run` is running" in rows[variable]["source"]
    assert "deployed afresh" in rows["SCF_CHAIN_DEPLOYMENT_PATH"]["value"]


def _running(api: Api, record: Path, tmp_path: Path) -> EmbeddedRun:
    """What `scf serve` records once started, its auditor's key in its seed record."""
    rt = api.rt
    seed = tmp_path / "seed.json"
    auditor_token = api.headers["auditor"]["Authorization"].removeprefix("Bearer ")
    seed.write_text(
        json.dumps(
            {
                "chain_id": rt.chain_id,
                "receivables": rt.deployment.receivables.address.lower(),
                "members": {"auditor": {"api_key": auditor_token}},
            }
        )
    )
    run = cli.embedded_run(rt, api_url="http://testserver", seed_file=seed)
    run.save()
    return run


def test_reconcile_with_make_run_going_compares_through_the_running_api(
    api: Api, record: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _running(api, record, tmp_path)
    assert EmbeddedRun.running() is not None
    # the running API, without starting it again
    monkeypatch.setattr(cli.httpx, "Client", lambda **kw: contextlib.nullcontext(api.client))
    result = CliRunner().invoke(cli.app, ["reconcile"])
    assert result.exit_code == 0, result.output
    assert "mirror matches the chain: 0 mismatches" in result.output
    assert f"chain {api.rt.chain_id} at block" in result.output
    as_json: Any = CliRunner().invoke(cli.app, ["reconcile", "--json"])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.output)["ok"] is True


def test_config_show_with_make_run_going_names_its_databases_and_deployment(
    api: Api, record: Path, tmp_path: Path
) -> None:
    run = _running(api, record, tmp_path)
    running = EmbeddedRun.running()
    assert running == run
    rows = {r["variable"]: r for r in effective_rows(load_config(), running)}
    assert rows["SCF_DATABASE_URL"]["value"] == str(api.rt.engine.url)
    assert rows["SCF_MIRROR_DATABASE_URL"]["value"] == str(api.rt.mirror.url)
    assert rows["SCF_INDEXER_DATABASE_URL"]["value"] == str(api.rt.mirror.url)
    assert Path(rows["SCF_CHAIN_DEPLOYMENT_PATH"]["value"]).exists()
    assert rows["SCF_DATABASE_URL"]["source"].startswith("make run (pid ")


def test_a_run_record_of_a_finished_process_is_not_a_running_api(record: Path) -> None:
    record.write_text(
        json.dumps(
            {
                "pid": 2**22 + 12345,  # beyond pid_max: no such process
                "api_url": "http://127.0.0.1:8000",
                "chain_id": 1,
                "receivables": "0x" + "00" * 20,
                "database_url": "sqlite:///x",
                "mirror_database_url": "sqlite:///y",
                "deployment_path": "z",
                "seed_file": None,
            }
        )
    )
    assert EmbeddedRun.running() is None


def test_verify_log_without_a_running_embedded_api_says_why_it_cannot(record: Path) -> None:
    result = CliRunner().invoke(cli.app, ["audit", "verify-log"])
    assert result.exit_code == 2, result.output
    assert "make run" in result.output and "none is running" in result.output
    assert "--url" in result.output


def test_verify_log_with_make_run_going_checks_through_the_running_api(
    fresh_api: Api, record: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlmodel import Session

    from backend.keeper import anchor_action_log
    from backend.models import ActionLogEntry

    api = fresh_api
    _running(api, record, tmp_path)
    monkeypatch.setattr(cli.httpx, "Client", lambda **kw: contextlib.nullcontext(api.client))
    anchored = anchor_action_log(api.rt)
    assert anchored is not None and anchored["status"] == "mined", anchored

    def verify(*args: str) -> tuple[int, dict[str, Any]]:
        result = CliRunner().invoke(cli.app, ["audit", "verify-log", "--json", *args])
        return result.exit_code, json.loads(result.stdout)

    code, report = verify()
    assert code == 0, report
    assert report["ok"] is True and report["anchors_checked"] == 1
    assert report["entries"] == report["last_seq"] >= anchored["seq"] >= 6  # the onboardings
    printed = CliRunner().invoke(cli.app, ["audit", "verify-log"])
    assert printed.exit_code == 0, printed.output
    assert "checked by the API, http://testserver/v1/audit/action-log/verify" in printed.output
    assert printed.output.rstrip().endswith("intact")

    with Session(api.rt.engine) as session:  # someone edits entry 2 in the database
        edited = session.get(ActionLogEntry, 2)
        assert edited is not None
        action, kept = edited.action, edited.details
        edited.details = {**kept, "amount": 1}
        session.add(edited)
        session.commit()
    code, report = verify()
    assert code == 1 and report["ok"] is False and report["broken_seq"] == 2
    assert report["first_break"].startswith(f"entry 2 ({action}) was changed")
    printed = CliRunner().invoke(cli.app, ["audit", "verify-log"])
    assert printed.exit_code == 1
    assert f"BROKEN: entry 2 ({action}) was changed" in printed.output

    with Session(api.rt.engine) as session:  # put back, then entry 3 deleted
        edited = session.get(ActionLogEntry, 2)
        assert edited is not None
        edited.details = kept
        session.add(edited)
        session.delete(session.get(ActionLogEntry, 3))
        session.commit()
    code, report = verify()
    assert code == 1 and report["broken_seq"] == 4
    assert report["first_break"] == "entry 3 is missing (seq jumps to 4)"


def test_verify_log_through_a_given_api_needs_an_auditors_or_regulators_key(
    api: Api, record: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli.httpx, "Client", lambda **kw: contextlib.nullcontext(api.client))
    monkeypatch.delenv("SCF_API_KEY", raising=False)

    def token(name: str) -> str:
        return api.headers[name]["Authorization"].removeprefix("Bearer ")

    url = ["audit", "verify-log", "--url", "http://testserver"]
    result = CliRunner().invoke(cli.app, [*url, "--api-key", token("regulator")])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("intact")
    refused = CliRunner().invoke(cli.app, [*url, "--api-key", token("tier1")])
    assert refused.exit_code == 2 and "needs the role AUDITOR or REGULATOR" in refused.output
    keyless = CliRunner().invoke(cli.app, url)
    assert keyless.exit_code == 2 and "--api-key, SCF_API_KEY" in keyless.output
    r = api.as_("tier1").get("/v1/audit/action-log/verify")
    assert r.status_code == 403 and r.json()["code"] == "MissingRole"
