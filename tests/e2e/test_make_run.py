"""`make run` on a fresh port: it prints the demo consortium and three curl lines; each works;
the console's URL it prints serves the login page; an interrupt stops the server."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from backend.security import totp_code

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_make_run_serves_the_api_and_its_printed_curl_lines_work(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SCF_")},
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={port}"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 150
        curls: list[str] = []
        while len(curls) < 3:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.5)
            curls = [ln for ln in log.read_text().splitlines() if ln.startswith("curl ")]
        assert all(f"http://127.0.0.1:{port}/" in c for c in curls)
        answers = []
        for line in curls:
            done = subprocess.run(shlex.split(line), capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stderr
            answers.append(json.loads(done.stdout))
        me, credit, registered = answers
        assert me["roles"] == ["SUPPLIER"]
        assert credit["credit_limit"] > 0 and credit["credit_used"] == 0
        assert registered["transaction"]["status"] == "mined", registered
        assert registered["invoice"]["status"] == "registered"
        consoles = [ln for ln in log.read_text().splitlines() if ln.startswith("Web console: ")]
        assert consoles, log.read_text()
        url = consoles[0].split()[2]
        assert url == f"http://127.0.0.1:{port}/console"
        login = subprocess.run(
            ["curl", "-s", "-L", url], capture_output=True, text=True, timeout=60
        )
        assert "Log in to the console" in login.stdout
        _people_log_in_and_approve(log.read_text(), port, registered["invoice"]["root_id"])
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    assert "Shutting down" in text or "Finished server process" in text, text[-2000:]


def _people_log_in_and_approve(printed: str, port: int, root_id: int) -> None:
    """The core enterprise's people log in with what `make run` printed for them (login,
    password, TOTP secret); the clerk's confirmation waits until the manager approves it."""
    people = {}
    for line in printed.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) == 6 and cells[2].startswith("core."):
            people[cells[2]] = (cells[3], cells[4])
    assert set(people) == {"core.admin", "core.clerk", "core.manager"}, printed
    base = f"http://127.0.0.1:{port}"
    tokens = {}
    for login in ("core.clerk", "core.manager"):
        password, secret = people[login]
        r = httpx.post(
            f"{base}/v1/auth/staff-login",
            json={"login": login, "password": password, "code": totp_code(secret)},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        assert r.json()["password_change_required"] is False
        tokens[login] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    made = httpx.post(
        f"{base}/v1/payables/{root_id}/confirm", headers=tokens["core.clerk"], timeout=60
    ).json()
    assert made["status"] == "pending_approval" and made["made_by"] == "core.clerk", made
    pending = httpx.get(
        f"{base}/v1/approvals/{made['id']}", headers=tokens["core.manager"], timeout=60
    ).json()
    r = httpx.post(
        f"{base}/v1/approvals/{made['id']}/approve?wait=true",
        json={"action_hash": pending["action_hash"]},
        headers=tokens["core.manager"],
        timeout=60,
    )
    assert r.status_code == 200 and r.json()["request"]["status"] == "mined", r.text
