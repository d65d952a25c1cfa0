"""The CLI outside a terminal (a pipe, a file): every value whole, no line wrapped."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from backend.tools import cli

ADDRESSES = [
    "0x115672Bf8F7DAE0a8fa3b23Ac5f8E1a3c6c8A1b2",
    "0x9aE3f0C1D2b4e5F6A7b8C9d0E1f2A3b4C5d6E7f8",
]
TX_HASH = "0x" + "ab12" * 16
ROLES = ["CORE_ENTERPRISE", "SUPPLIER", "FINANCIER", "REGULATOR", "AUDITOR"]


class _Api:
    """The operator's API client, answering as the API does."""

    def get(self, url: str, *, token: str) -> Any:
        assert url == "/v1/operator/members"
        return [
            {
                "address": a,
                "roles": ROLES,
                "status": "active",
                "credit_limit": 1_000_000_000_00,
                "credit_used": 0,
            }
            for a in ADDRESSES
        ]

    def put(self, url: str, *, token: str, json: Any) -> Any:
        return {"status": "mined", "tx_hash": TX_HASH}


@pytest.fixture
def narrow(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose stdout is not a terminal, in an environment that says 80 columns (a shell
    exporting COLUMNS, as pytest-xdist's workers do: rich reads it when a console is made)."""
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr(cli, "console", cli.Output())
    monkeypatch.setattr(cli, "_operator_client", lambda *a: (_Api(), "token"))
    return CliRunner()


def test_member_list_outside_a_terminal_prints_every_address_and_role_whole(
    narrow: CliRunner,
) -> None:
    result = narrow.invoke(cli.app, ["member", "list", "--api-key", "k"])
    assert result.exit_code == 0, result.output
    assert "…" not in result.output
    for address in ADDRESSES:
        (line,) = [ln for ln in result.output.splitlines() if address in ln]
        assert ", ".join(ROLES) in line and "active" in line and "1,000,000,000.00" in line


def test_a_transaction_hash_is_printed_on_one_line_with_its_member(narrow: CliRunner) -> None:
    result = narrow.invoke(cli.app, ["member", "suspend", ADDRESSES[0], "--api-key", "k"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"{ADDRESSES[0]} → suspended: transaction mined {TX_HASH}"


def test_config_show_outside_a_terminal_folds_no_value(narrow: CliRunner) -> None:
    result = narrow.invoke(cli.app, ["config", "show", "--json"])
    assert result.exit_code == 0, result.output
    url = json.loads(result.output)["SCF_DATABASE_URL"]
    table = narrow.invoke(cli.app, ["config", "show"])
    assert table.exit_code == 0, table.output
    assert any(url in line for line in table.output.splitlines()), table.output
