"""The effective configuration: the chain, indexer and backend settings read together, checked
once at start-up (a bad value names its environment variable), and shown with secrets masked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr, ValidationError
from pydantic_settings import BaseSettings

from backend.settings import BackendSettings
from chain.settings import SECRET_WORDS, ChainSettings, describe_validation_error
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


def effective_rows(config: Config) -> list[dict[str, str]]:
    """One row per setting: the variable, its masked value, and whether it was set or defaulted."""
    rows: list[dict[str, str]] = []
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
            rows.append(
                {
                    "section": section,
                    "variable": f"{prefix}{field.upper()}",
                    "value": mask(field, value),
                    "source": source,
                }
            )
    return rows
