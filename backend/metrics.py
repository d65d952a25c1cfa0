"""Process-local counters and gauges, exposed in the Prometheus text format at /metrics."""

from __future__ import annotations

import threading
from collections import defaultdict

_lock = threading.Lock()
_counters: defaultdict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
_gauges: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}


def inc(name: str, value: float = 1.0, **labels: str) -> None:
    with _lock:
        _counters[(name, tuple(sorted(labels.items())))] += value


def set_gauge(name: str, value: float, **labels: str) -> None:
    with _lock:
        _gauges[(name, tuple(sorted(labels.items())))] = value


def value(name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    with _lock:
        return _counters.get(key, _gauges.get(key, 0.0))


def render() -> str:
    lines: list[str] = []
    with _lock:
        items = [*_counters.items(), *_gauges.items()]
    for (name, labels), v in sorted(items):
        label_text = ",".join(f'{k}="{val}"' for k, val in labels)
        lines.append(f"{name}{{{label_text}}} {v:g}" if label_text else f"{name} {v:g}")
    return "\n".join(lines) + "\n"
