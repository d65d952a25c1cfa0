"""Limits (issue 13): a flood of challenges and a password-guessing run of logins are refused
with 429 and Retry-After, on memory storage (embedded) and on the local Redis."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from backend.api.app import create_app
from backend.ratelimit import Limiter
from backend.security import sign_message
from backend.settings import BackendSettings
from chain.connection import dev_account


def _settings(**kw: object) -> BackendSettings:
    return BackendSettings(profile="embedded", **kw)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = create_app(
        _settings(
            rate_limit_auth_per_client="1000/minute",
            rate_limit_auth_per_address="5/minute",
            login_lockout_failures=3,
        )
    )
    with TestClient(app) as c:
        yield c  # type: ignore[misc]


def test_challenges_for_one_address_are_rate_limited(client: TestClient) -> None:
    address = dev_account(0).address
    codes = [
        client.post("/v1/auth/challenge", json={"address": address}).status_code for _ in range(6)
    ]
    assert codes == [200] * 5 + [429]
    r = client.post("/v1/auth/challenge", json={"address": address})
    assert r.status_code == 429 and r.json()["code"] == "RateLimited"
    assert 1 <= int(r.headers["Retry-After"]) <= 60


def test_failed_logins_lock_the_client_out_even_for_a_correct_login(client: TestClient) -> None:
    acct = dev_account(1)
    for _ in range(3):
        ch = client.post("/v1/auth/challenge", json={"address": acct.address}).json()
        bad = sign_message(dev_account(2), ch["message"])
        r = client.post(
            "/v1/auth/login", json={"challenge_id": ch["challenge_id"], "signature": bad}
        )
        assert r.status_code == 401
    ch = client.post("/v1/auth/challenge", json={"address": acct.address}).json()
    good = sign_message(acct, ch["message"])
    r = client.post("/v1/auth/login", json={"challenge_id": ch["challenge_id"], "signature": good})
    assert r.status_code == 429 and r.json()["code"] == "LoginLockedOut"
    assert int(r.headers["Retry-After"]) >= 1


def test_the_redis_storage_is_shared_between_limiters() -> None:
    settings = _settings(
        task_always_eager=False,
        broker_url="redis://127.0.0.1:6379/15",
        rate_limit_auth_per_address="2/minute",
    )
    one, two = Limiter.from_settings(settings), Limiter.from_settings(settings)
    assert type(one.storage).__name__ == "RedisStorage"
    key = uuid.uuid4().hex
    one.hit(one.auth_per_address, "t", key, code="RateLimited", what="x")
    two.hit(two.auth_per_address, "t", key, code="RateLimited", what="x")
    from backend.errors import TooManyRequests

    with pytest.raises(TooManyRequests) as err:
        one.hit(one.auth_per_address, "t", key, code="RateLimited", what="x")
    assert err.value.retry_after >= 1


def test_writes_per_member_are_rate_limited() -> None:
    from tests.backend.conftest import make_api

    gen = make_api(_settings(rate_limit_writes_per_member="40/minute", wait_timeout_seconds=30))
    api = next(gen)
    try:
        # onboarding used some of the operator's writes; the rest go, then 429
        codes = [
            api.as_("operator")
            .post("/v1/operator/cash/mint", json={"account": api.addresses["bank"], "amount": 1})
            .status_code
            for _ in range(40)
        ]
        assert 202 in codes and codes[-1] == 429
        r = api.as_("operator").post(
            "/v1/operator/cash/mint", json={"account": api.addresses["bank"], "amount": 1}
        )
        assert r.json()["code"] == "RateLimited" and "Retry-After" in r.headers
        assert api.as_("bank").get("/v1/me").status_code == 200  # reads are not counted
    finally:
        gen.close()


def test_waiting_requests_are_bounded() -> None:
    settings = _settings(max_waiting_requests=1)
    limiter = Limiter.from_settings(settings)
    limiter.wait_slot()
    from backend.errors import TooManyRequests

    with pytest.raises(TooManyRequests) as err:
        limiter.wait_slot()
    assert err.value.code == "TooManyWaiting" and err.value.retry_after == 1
    limiter.release_wait_slot()
    limiter.wait_slot()  # free again


def _fail_login(client: TestClient, address: str, **kw: Any) -> Any:
    ch = client.post("/v1/auth/challenge", json={"address": address}, **kw).json()
    bad = sign_message(dev_account(2), ch["message"])
    return client.post(
        "/v1/auth/login", json={"challenge_id": ch["challenge_id"], "signature": bad}, **kw
    )


def _login(client: TestClient, account: Any, **kw: Any) -> Any:
    ch = client.post("/v1/auth/challenge", json={"address": account.address}, **kw).json()
    good = sign_message(account, ch["message"])
    return client.post(
        "/v1/auth/login", json={"challenge_id": ch["challenge_id"], "signature": good}, **kw
    )


def test_failed_logins_for_one_member_lock_that_member_out_from_any_client() -> None:
    app = create_app(
        _settings(
            rate_limit_auth_per_client="1000/minute",
            login_lockout_failures=100,  # the client itself is never locked out here
            login_lockout_failures_per_member=3,
        )
    )
    victim, other = dev_account(1), dev_account(0)
    with TestClient(app) as client:
        for _ in range(3):
            assert _fail_login(client, victim.address).status_code == 401
        r = _login(client, victim)
        assert r.status_code == 429 and r.json()["code"] == "MemberLoginLockedOut"
        assert victim.address in r.json()["message"] and int(r.headers["Retry-After"]) >= 1
        # the client is not locked out: another member logs in from it
        assert _login(client, other).status_code == 200


def test_x_forwarded_for_names_the_client_only_behind_a_trusted_proxy() -> None:
    proxy = ("10.1.2.3", 40000)
    settings = {"rate_limit_auth_per_client": "1000/minute", "login_lockout_failures": 2}
    behind = create_app(_settings(trusted_proxies=["10.0.0.0/8"], **settings))
    with TestClient(behind, client=proxy) as client:
        guesser = {"X-Forwarded-For": "198.51.100.7"}
        for _ in range(2):
            assert _fail_login(client, dev_account(1).address, headers=guesser).status_code == 401
        r = _login(client, dev_account(1), headers=guesser)
        assert r.status_code == 429 and r.json()["code"] == "LoginLockedOut"
        # another client behind the same proxy is not locked out, nor is it by a forged entry
        # left of the one the proxy appended
        forged = {"X-Forwarded-For": "198.51.100.7, 198.51.100.8"}
        assert _login(client, dev_account(0), headers=forged).status_code == 200  # the operator
    # no trusted proxy (the default): the header is ignored, so it cannot dodge a lock-out
    direct = create_app(_settings(**settings))
    with TestClient(direct, client=("192.0.2.9", 40000)) as client:
        for n in range(2):
            spoof = {"X-Forwarded-For": f"203.0.113.{n}"}
            assert _fail_login(client, dev_account(1).address, headers=spoof).status_code == 401
        r = _login(client, dev_account(1), headers={"X-Forwarded-For": "203.0.113.99"})
        assert r.status_code == 429 and r.json()["code"] == "LoginLockedOut"


def test_the_client_address_is_the_rightmost_untrusted_hop() -> None:
    import ipaddress

    from backend.ratelimit import client_address

    trusted = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))
    assert client_address("192.0.2.1", ["198.51.100.1"], trusted) == "192.0.2.1"
    assert client_address("10.0.0.1", ["198.51.100.1, 10.0.0.9"], trusted) == "198.51.100.1"
    assert client_address("10.0.0.1", ["1.1.1.1", "198.51.100.1"], trusted) == "198.51.100.1"
    assert client_address("2001:db8::1", ["not-an-ip, 10.0.0.2"], trusted) == "not-an-ip"
    assert client_address("10.0.0.1", [], trusted) == "10.0.0.1"
    assert client_address(None, ["198.51.100.1"], trusted) == "unknown"


def test_a_trusted_proxy_that_is_no_address_is_refused_naming_the_setting() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="trusted_proxies"):
        _settings(trusted_proxies=["10.0.0.0/8", "proxy.internal"])
