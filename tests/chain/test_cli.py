"""`scf deploy` as a script sees it: a ledger that does not answer exits 3."""

from __future__ import annotations

import socket

from typer.testing import CliRunner

from chain.cli import app
from chain.exitcodes import ExitCode


def test_deploy_to_a_ledger_that_does_not_answer_exits_3() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    key = "0x" + "11" * 32
    result = CliRunner().invoke(
        app, ["deploy", "--profile", "rpc", "--rpc-url", url, "--operator-key", key]
    )
    assert result.exit_code == ExitCode.UNREACHABLE == 3, result.output
    assert "cannot reach the ledger" in " ".join(result.output.split())
