"""Keys and settings: outside the embedded profile no weak master key and no development key
for any role; the embedded profile's master key is its own, never a public one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from eth_account import Account
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.runtime import Runtime
from backend.security import TOKEN_ALGORITHM, TOKEN_AUDIENCE
from backend.settings import BackendSettings
from backend.tools.cli import exposure_warning
from chain.connection import dev_account

GOOD_MASTER = base64.urlsafe_b64encode(os.urandom(32)).decode()


def _production(**overrides: str) -> BackendSettings:
    values = {
        "profile": "production",
        "master_key": GOOD_MASTER,
        "operator_key": Account.create().key.to_0x_hex(),
        "keeper_key": Account.create().key.to_0x_hex(),
        **overrides,
    }
    return BackendSettings(**values)  # type: ignore[arg-type]


def test_real_keys_are_accepted_outside_embedded() -> None:
    assert _production().profile == "production"


@pytest.mark.parametrize(
    "master",
    [
        "a",  # what the review tried
        "change-me",
        base64.urlsafe_b64encode(b"k" * 31).decode(),  # a byte short
        base64.urlsafe_b64encode(b"k" * 33).decode(),
        "not base64 at all!",
    ],
)
def test_a_weak_master_key_is_refused_naming_the_variable(master: str) -> None:
    with pytest.raises(ValueError, match="SCF_MASTER_KEY must be 32 random bytes"):
        _production(master_key=master)


@pytest.mark.parametrize("variable", ["operator_key", "keeper_key"])
def test_a_development_key_is_refused_for_any_role(variable: str) -> None:
    for index in (0, 1, 9_999):  # the operator's, a member's, the keeper's default
        with pytest.raises(ValueError, match="development key whose seed is public"):
            _production(**{variable: dev_account(index).key.to_0x_hex()})


def test_the_keeper_key_is_required_outside_embedded() -> None:
    with pytest.raises(ValueError, match="SCF_KEEPER_KEY is required"):
        BackendSettings(
            profile="production", master_key=GOOD_MASTER, operator_key=Account.create().key.hex()
        )


def _forged_operator_token(master: bytes) -> str:
    """A token for the dev operator signed with the token subkey of `master`."""
    secret = hmac.new(master, b"token", hashlib.sha256).digest()
    now = datetime.now(UTC)
    claims = {
        "sub": dev_account(0).address.lower(),
        "aud": TOKEN_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(hours=1)).timestamp()),
        "jti": "forged",
    }
    return jwt.encode(claims, secret, algorithm=TOKEN_ALGORITHM)


def test_the_embedded_master_key_is_random_per_database_and_kept_beside_it() -> None:
    public = hashlib.sha256(b"scf-ledger embedded placeholder master key").digest()
    keys = []
    for _ in range(2):
        app = create_app(BackendSettings(profile="embedded"))
        with TestClient(app) as client:
            rt: Runtime = app.state.runtime
            database = rt.engine.url.database
            assert database is not None
            key_file = os.path.join(os.path.dirname(database), "master.key")
            assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"
            keys.append(Path(key_file).read_text())
            forged = {"Authorization": f"Bearer {_forged_operator_token(public)}"}
            r = client.get("/v1/me", headers=forged)
            assert r.status_code == 401 and r.json()["code"] == "InvalidToken"
    assert keys[0] != keys[1]


@pytest.mark.parametrize(("host", "warned"), [("127.0.0.1", False), ("::1", False),
                                              ("localhost", False), ("0.0.0.0", True),
                                              ("192.0.2.10", True)])  # fmt: skip
def test_embedded_serve_warns_when_it_listens_beyond_loopback(host: str, warned: bool) -> None:
    assert (exposure_warning(host, BackendSettings(profile="embedded")) is not None) is warned
    assert exposure_warning(host, _production()) is None
