"""The effective configuration: the chain, indexer and backend settings read together, checked
once at start-up (a bad value names its environment variable), and shown with secrets masked."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

from backend.settings import BackendSettings
from chain.settings import REPO_ROOT, SECRET_WORDS, ChainSettings, describe_validation_error
from indexer.settings import IndexerSettings

MASK = "********"
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.\-]*://[^:/@]*:)(?P<password>[^@]+)(?=@)")


class ConfigError(ValueError):
    """A setting has a bad value; the message names the environment variable."""


@dataclass(frozen=True)
class Config:
    backend: BackendSettings
    chain: ChainSettings
    indexer: IndexerSettings

    @property
    def effective_chain(self) -> ChainSettings:
        """The chain the API will use: the embedded profile always runs its own tester chain."""
        if self.backend.embedded:
            return self.chain.model_copy(update={"profile": "tester"})
        return self.chain


SECTIONS: tuple[tuple[str, type[BaseSettings], str], ...] = (
    ("backend", BackendSettings, "SCF_"),
    ("chain", ChainSettings, "SCF_CHAIN_"),
    ("indexer", IndexerSettings, "SCF_INDEXER_"),
)


def load_config(**backend_overrides: Any) -> Config:
    """Read every settings class; all bad values are reported together."""
    loaded: dict[str, BaseSettings] = {}
    problems: list[str] = []
    for name, cls, prefix in SECTIONS:
        overrides = backend_overrides if name == "backend" else {}
        try:
            loaded[name] = cls(**overrides)
        except ValidationError as exc:
            problems.append(describe_validation_error(exc, prefix))
        except ValueError as exc:  # a model validator's own error (SettingsError)
            problems.append(str(exc))
    if problems:
        raise ConfigError("; ".join(problems))
    return Config(
        backend=loaded["backend"],  # type: ignore[arg-type]
        chain=loaded["chain"],  # type: ignore[arg-type]
        indexer=loaded["indexer"],  # type: ignore[arg-type]
    )


#: Where `scf serve` on the embedded profile (`make run`) says, while it runs, where its
#: databases and its deployment record are: each start makes them afresh in a temporary directory.
RUN_RECORD = REPO_ROOT / "var" / "embedded-run.json"


@dataclass(frozen=True)
class EmbeddedRun:
    """A running embedded API: its process, URL, chain and the files it uses."""

    pid: int
    api_url: str
    chain_id: int
    receivables: str
    database_url: str
    mirror_database_url: str
    deployment_path: str
    seed_file: str | None  # the demo consortium's keys (`--seed`), the auditor's among them

    def save(self, path: Path | None = None) -> None:
        path = path or RUN_RECORD
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def running(cls, path: Path | None = None) -> EmbeddedRun | None:
        """The record of the embedded API that is running now; None if none is (no record, or
        its process is gone)."""
        path = path or RUN_RECORD
        try:
            run = cls(**json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            return None
        try:
            os.kill(run.pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # alive, another user's
        return run


def mask(name: str, value: Any) -> str:
    """The value as text, with secrets and URL passwords replaced by a mask."""
    if value is None:
        return "-"
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else "(empty)"
    if any(word in name.lower() for word in SECRET_WORDS) and not isinstance(value, int | float):
        return MASK
    if isinstance(value, Path):
        return str(value)
    text = str(value)
    return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


def effective_rows(config: Config, run: EmbeddedRun | None = None) -> list[dict[str, str]]:
    """One row per setting: the variable, its masked value, and whether it was set or defaulted.
    On the embedded profile the databases and the deployment record are made afresh at each
    start: the files of the running API (`run`), or saying so when none runs."""
    rows: list[dict[str, str]] = []
    fresh = _embedded_files(config, run)
    objects: dict[str, BaseSettings] = {
        "backend": config.backend,
        "chain": config.effective_chain,
        "indexer": config.indexer,
    }
    for section, _cls, prefix in SECTIONS:
        obj = objects[section]
        explicit = obj.model_fields_set
        for field in type(obj).model_fields:
            value = getattr(obj, field)
            source = "set" if field in explicit else "default"
            if section == "chain" and field == "profile" and config.backend.embedded:
                source = "embedded profile"
            if (section, field) in fresh:
                value, source = fresh[(section, field)]
            rows.append(
                {
                    "section": section,
                    "variable": f"{prefix}{field.upper()}",
                    "value": mask(field, value),
                    "source": source,
                }
            )
    return rows


def _embedded_files(
    config: Config, run: EmbeddedRun | None
) -> dict[tuple[str, str], tuple[str, str]]:
    """(section, field) -> (value, source) for the files an embedded start makes afresh."""
    backend = config.backend
    if not (backend.embedded and backend.should_deploy):
        return {}
    set_ = backend.model_fields_set
    if run is not None:
        source = f"make run (pid {run.pid}, {run.api_url})"
        found = {
            ("backend", "database_url"): run.database_url,
            ("backend", "mirror_database_url"): run.mirror_database_url,
            ("indexer", "database_url"): run.mirror_database_url,
            ("chain", "deployment_path"): run.deployment_path,
        }
    else:
        source = "embedded profile: made at each start; no `make run` is running"
        fresh = f"sqlite:///{Path(tempfile.gettempdir()) / 'scf-embedded-*'}"
        found = {
            ("backend", "database_url"): f"{fresh}/backend.sqlite3 (a new directory each start)",
            (
                "backend",
                "mirror_database_url",
            ): f"{fresh}/mirror.sqlite3 (a new directory each start)",
            ("indexer", "database_url"): f"{fresh}/mirror.sqlite3 (a new directory each start)",
            ("chain", "deployment_path"): "none: the contracts are deployed afresh in memory",
        }
    if "database_url" in set_:
        del found[("backend", "database_url")]
    if "mirror_database_url" in set_:
        del found[("backend", "mirror_database_url")], found[("indexer", "database_url")]
    if backend.deployment_path is not None:
        del found[("chain", "deployment_path")]
    return {key: (value, source) for key, value in found.items()}
