"""Structured logging: the `extra={...}` fields of a record rendered as key=value or JSON."""

from __future__ import annotations

import json
import logging
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class KeyValueFormatter(logging.Formatter):
    """`time level logger: message k=v k=v`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = _extras(record)
        if not extras:
            return base
        return base + " " + " ".join(f"{k}={v}" for k, v in extras.items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, extras as top-level fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            **_extras(record),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure(*, json_lines: bool = False, level: int | None = None) -> None:
    """Put the structured formatter on the root logger's handlers (adding one if none)."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    formatter: logging.Formatter = JsonFormatter() if json_lines else KeyValueFormatter()
    for handler in root.handlers:
        handler.setFormatter(formatter)
    if level is not None:
        root.setLevel(level)
