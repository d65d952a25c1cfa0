"""End-to-end: the demo story over HTTP on the embedded profile and on a Besu-like anvil, and
`make run` started, probed with the curl lines it prints, and stopped."""

from __future__ import annotations

import io

import pytest
from rich.console import Console


@pytest.fixture
def console() -> tuple[Console, io.StringIO]:
    """A wide console recording into a buffer (the story's printed steps)."""
    buffer = io.StringIO()
    return Console(file=buffer, width=200, force_terminal=False), buffer
