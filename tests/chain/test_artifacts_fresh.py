"""The committed artifacts match the sources; needs no node, only package-lock.json."""

from __future__ import annotations

import pytest

from chain.artifacts import CONTRACT_NAMES, load_artifact
from chain.compile import compile_settings, sources_hash
from chain.settings import ChainSettings


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_artifact_matches_current_sources(name: str) -> None:
    artifact = load_artifact(name)
    assert artifact.source_hash == sources_hash(), f"{name} is stale: run `make contracts`"


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_artifact_compiled_with_default_settings(name: str) -> None:
    assert load_artifact(name).settings == compile_settings(ChainSettings())
