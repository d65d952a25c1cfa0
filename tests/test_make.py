"""The README's two commands on a fresh clone: `make test` installs what its tests need."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_test_installs_the_npm_toolchain_before_running_the_tests() -> None:
    # -n: print, run nothing; -B: as on a fresh clone, where nothing is built yet
    plan = subprocess.run(
        ["make", "-n", "-B", "test"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert "npm ci" in plan, plan
    assert plan.index("npm ci") < plan.index("pytest"), plan


def test_ci_runs_make_test_and_the_readme_asks_for_nothing_before_it() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    assert "make test" in ci
    opening = (REPO / "README.md").read_text().split("## ")[0]
    assert "make test" in opening
    assert "make node" not in opening
