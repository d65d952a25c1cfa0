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
