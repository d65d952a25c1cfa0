"""The demo story over HTTP (same as `scf demo`): python -m scripts.demo_story [--api-url URL]."""

from __future__ import annotations

import sys

from backend.tools.cli import app

if __name__ == "__main__":
    app(["demo", *sys.argv[1:]])
