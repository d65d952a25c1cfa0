"""The exit codes of every `scf` command, as the README lists them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a refusal, mismatches found, a wrong figure in the demo
    USAGE = 2  # bad usage or configuration
    UNREACHABLE = 3  # a service (the API, a node) does not answer
    INTERRUPTED = 130
