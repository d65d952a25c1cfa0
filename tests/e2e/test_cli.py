"""The `scf` command line: every command has --help, configuration errors name the variable,
secrets never show, and exit codes mean something."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from backend.tools.cli import app
from chain.connection import dev_account

COMMANDS = [
    [], ["compile"], ["deploy"], ["walkthrough"], ["index"], ["reconcile"], ["serve"],
    ["worker"], ["beat"], ["demo"], ["member"], ["member", "add"], ["member", "suspend"],
    ["member", "list"], ["member", "reissue"], ["member", "activate"], ["keys"], ["keys", "new"],
    ["config"], ["config", "show"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "scf")
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_config_show_masks_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCF_MASTER_KEY", "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTMyYg==")
    monkeypatch.setenv("SCF_DATABASE_URL", "postgresql://scf:hunter2@db.internal/scf")
    result = CliRunner().invoke(app, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["SCF_MASTER_KEY"] == "********"
    assert shown["SCF_DATABASE_URL"] == "postgresql://scf:********@db.internal/scf"
    assert shown["SCF_CHAIN_PROFILE"] == "tester"
    assert "hunter2" not in result.output and "c2VjcmV0" not in result.output


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SCF_CHAIN_PROFILE", "besu"),
        ("SCF_INDEXER_POLL_SECONDS", "-1"),
        ("SCF_TOKEN_LIFETIME_SECONDS", "soon"),
    ],
)
def test_a_bad_value_fails_at_start_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    for command in (["config", "show"], ["serve", "--port", "1"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, result.output
        assert variable in " ".join(result.output.split())


def test_production_without_a_master_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCF_PROFILE", "production")
    result = CliRunner().invoke(app, ["serve"])
    assert result.exit_code == 2
    assert "SCF_MASTER_KEY" in result.output


def test_keys_new_prints_a_usable_key_pair() -> None:
    from eth_account import Account

    result = CliRunner().invoke(app, ["keys", "new", "--json"])
    assert result.exit_code == 0, result.output
    pair = json.loads(result.output)
    assert Account.from_key(pair["private_key"]).address == pair["address"]


def test_demo_against_no_api_exits_3() -> None:
    result = CliRunner().invoke(app, ["demo", "--api-url", "http://127.0.0.1:9", "--no-start"])
    assert result.exit_code == 3, result.output


def test_member_list_needs_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SCF_API_KEY", raising=False)
    monkeypatch.delenv("SCF_OPERATOR_KEY", raising=False)
    result = CliRunner().invoke(app, ["member", "list"])
    assert result.exit_code == 2


@pytest.fixture(scope="module")
def deployment_record(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real deployment record (deployed on an in-process chain) for commands to attach to."""
    from chain.connection import connect
    from chain.consortium import entity_id
    from chain.deploy import deploy
    from chain.settings import ChainSettings

    conn = connect(ChainSettings(profile="tester"))
    operator = dev_account(0)
    conn.fund(operator.address)
    record = tmp_path_factory.mktemp("deployment") / "deployment.json"
    deploy(conn, operator=operator, operator_entity_id=entity_id("OPERATOR")).save(record)
    conn.close()
    return str(record)


@pytest.mark.parametrize("command", ["index", "reconcile"])
def test_a_ledger_that_does_not_answer_exits_3(command: str, deployment_record: str) -> None:
    args = [command, "--profile", "rpc", "--rpc-url", "http://127.0.0.1:9"]
    result = CliRunner().invoke(app, [*args, "--deployment", deployment_record])
    assert result.exit_code == 3, result.output
    assert "cannot reach the ledger" in result.output


@pytest.mark.parametrize("command", ["index", "reconcile"])
def test_a_missing_deployment_record_is_a_configuration_error(
    command: str, tmp_path: pytest.TempPathFactory
) -> None:
    missing = f"{tmp_path}/nowhere.json"
    result = CliRunner().invoke(app, [command, "--deployment", missing])
    assert result.exit_code == 2, result.output
    assert "no deployment record" in " ".join(result.output.split())
