"""Credentials (issue 13): what a leaked API key or a stolen token can no longer do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from backend.models import ActivationCode, ApiKey
from tests.backend.conftest import Api


def _bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def test_an_api_key_cannot_create_an_api_key(api: Api) -> None:
    r = api.as_("bank").post("/v1/auth/api-keys", json={"name": "key B"})
    assert r.status_code == 403
    assert r.json()["code"] == "LoginRequired"
    assert "login" in r.json()["message"]


def test_an_api_key_cannot_list_or_revoke_api_keys(api: Api) -> None:
    # key A is made by a login; key B (also made by a login) tries to revoke A
    login = api.as_("auditor")
    key_a = login.post("/v1/auth/api-keys", json={"name": "A"}).json()
    key_b = login.post("/v1/auth/api-keys", json={"name": "B"}).json()
    as_b = _bearer(key_b["key"])
    r = api.client.delete(f"/v1/auth/api-keys/{key_a['id']}", headers=as_b)
    assert r.status_code == 403 and r.json()["code"] == "LoginRequired"
    r = api.client.get("/v1/auth/api-keys", headers=as_b)
    assert r.status_code == 403 and r.json()["code"] == "LoginRequired"
    # A still works
    assert api.client.get("/v1/me", headers=_bearer(key_a["key"])).status_code == 200


def test_an_expired_api_key_is_refused_with_its_own_code(api: Api) -> None:
    soon = datetime.now(UTC) + timedelta(hours=1)
    created = api.as_("auditor").post(
        "/v1/auth/api-keys", json={"name": "short", "expires_at": soon.isoformat()}
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert datetime.fromisoformat(key["expires_at"]) == soon.replace(microsecond=soon.microsecond)
    assert api.client.get("/v1/me", headers=_bearer(key["key"])).status_code == 200
    with Session(api.rt.engine) as session:  # an hour passes
        row = session.get(ApiKey, key["id"])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()
    r = api.client.get("/v1/me", headers=_bearer(key["key"]))
    assert r.status_code == 401
    assert r.json()["code"] == "ApiKeyExpired"
    assert r.json()["details"] == {"key_id": key["id"]}


def test_an_api_key_cannot_be_made_already_expired(api: Api) -> None:
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = api.as_("auditor").post("/v1/auth/api-keys", json={"name": "x", "expires_at": past})
    assert r.status_code == 422 and r.json()["code"] == "ExpiryInPast"
    r = api.as_("auditor").post(
        "/v1/auth/api-keys", json={"name": "x", "expires_at": "2099-01-01T00:00:00"}
    )
    assert r.status_code == 422 and r.json()["code"] == "NaiveDateTime"


def test_the_key_list_shows_expiry_and_last_use(api: Api) -> None:
    later = datetime.now(UTC) + timedelta(days=30)
    key = (
        api.as_("auditor")
        .post("/v1/auth/api-keys", json={"name": "erp", "expires_at": later.isoformat()})
        .json()
    )
    listed = {k["id"]: k for k in api.as_("auditor").get("/v1/auth/api-keys").json()}
    assert listed[key["id"]]["last_used_at"] is None
    assert listed[key["id"]]["expires_at"] is not None
    assert api.client.get("/v1/me", headers=_bearer(key["key"])).status_code == 200
    listed = {k["id"]: k for k in api.as_("auditor").get("/v1/auth/api-keys").json()}
    assert listed[key["id"]]["last_used_at"] is not None
    assert "secret_hash" not in listed[key["id"]]


def test_logout_revokes_the_token_and_only_that_token(api: Api) -> None:
    from chain.connection import dev_account

    own_key = dev_account(1)  # the auditor's
    first, second = api.login(own_key), api.login(own_key)
    assert api.client.get("/v1/me", headers=_bearer(first)).status_code == 200
    assert api.client.post("/v1/auth/logout", headers=_bearer(first)).status_code == 204
    r = api.client.get("/v1/me", headers=_bearer(first))
    assert r.status_code == 401 and r.json()["code"] == "TokenRevoked"
    # logging out twice is refused the same way; the other login is untouched
    r = api.client.post("/v1/auth/logout", headers=_bearer(first))
    assert r.status_code == 401 and r.json()["code"] == "TokenRevoked"
    assert api.client.get("/v1/me", headers=_bearer(second)).status_code == 200


def test_an_api_key_cannot_log_out(api: Api) -> None:
    r = api.as_("bank").post("/v1/auth/logout")
    assert r.status_code == 403 and r.json()["code"] == "LoginRequired"


def test_the_keeper_purges_expired_challenges_and_denylist_entries(api: Api) -> None:
    from backend.keeper import JOBS
    from backend.models import LoginChallenge, RevokedToken

    purge = next(job for job in JOBS if job.name == "purge_auth")
    past = datetime.now(UTC) - timedelta(seconds=1)
    with Session(api.rt.engine) as session:
        session.add(LoginChallenge(id="old-challenge", address="0x0", message="m", expires_at=past))
        session.add(RevokedToken(jti="old-token", expires_at=past))
        session.add(RevokedToken(jti="live-token", expires_at=past + timedelta(hours=1)))
        session.commit()
    outcome = purge.run(api.rt)
    assert outcome["challenges"] >= 1 and outcome["revoked_tokens"] >= 1
    with Session(api.rt.engine) as session:
        assert session.get(LoginChallenge, "old-challenge") is None
        assert session.get(RevokedToken, "old-token") is None
        assert session.get(RevokedToken, "live-token") is not None


def test_the_login_message_is_sign_in_with_ethereum_bound_to_this_server(api: Api) -> None:
    from chain.connection import dev_account

    acct = dev_account(1)
    message = api.client.post("/v1/auth/challenge", json={"address": acct.address}).json()[
        "message"
    ]
    lines = message.split("\n")
    assert lines[0] == "http://127.0.0.1:8000 wants you to sign in with your Ethereum account:"
    assert lines[1] == acct.address  # EIP-55
    assert "URI: http://127.0.0.1:8000" in lines
    assert f"Chain ID: {api.rt.chain_id}" in lines
    assert any(line.startswith("Issued At: ") and line.endswith("Z") for line in lines)
    assert any(line.startswith("Expiration Time: ") for line in lines)


def test_a_message_for_another_domain_or_chain_is_refused() -> None:
    import pytest

    from backend.errors import Unauthenticated
    from backend.security import challenge_message, check_challenge

    now = datetime.now(UTC)
    ours = {"public_url": "https://scf.example.cn", "chain_id": 1337}
    msg = challenge_message(
        address="0x" + "11" * 20,
        nonce="abcdef0123456789",
        expires_at=now + timedelta(minutes=2),
        **ours,
    )
    check_challenge(msg, nonce="abcdef0123456789", now=now, **ours)
    for other, field in (
        ({"public_url": "https://phish.example", "chain_id": 1337}, "domain"),
        ({"public_url": "https://scf.example.cn", "chain_id": 1}, "chain_id"),
    ):
        with pytest.raises(Unauthenticated) as err:
            check_challenge(msg, nonce="abcdef0123456789", now=now, **other)
        assert err.value.code == "ChallengeMismatch" and err.value.details == {"field": field}
    with pytest.raises(Unauthenticated) as err:
        check_challenge(msg, nonce="abcdef0123456789", now=now + timedelta(minutes=3), **ours)
    assert err.value.code == "ChallengeExpired"


# -- onboarding: a one-time activation code, never the member's credential ---------------------


def _onboard(api: Api, legal_id: str) -> dict[str, Any]:
    r = api.as_("operator").post(
        "/v1/operator/members?wait=true", json={"legal_id": legal_id, "roles": ["SUPPLIER"]}
    )
    assert r.status_code == 202, r.text
    created: dict[str, Any] = r.json()
    assert created["transaction"]["status"] == "mined"
    return created


def _activate(api: Api, code: str) -> Any:
    return api.client.post("/v1/auth/activate", json={"code": code})


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_the_onboarding_answer_holds_no_working_credential(api: Api) -> None:
    created = _onboard(api, "USCC-cred-1")
    assert "api_key" not in created
    code = created["activation"]["code"]
    assert code.startswith("scfact_") and created["activation"]["address"] == created["address"]
    # nothing the operator was shown opens the member's account
    for value in _strings(created):
        for headers in (_bearer(value), {"X-API-Key": value}):
            r = api.client.get("/v1/me", headers=headers)
            assert r.status_code == 401, (value, r.text)
    # only a hash of the code is kept
    with Session(api.rt.engine) as session:
        row = session.get(ActivationCode, code.split("_")[1])
        assert row is not None and row.address == created["address"].lower()
        assert code.split("_", 2)[2] not in row.secret_hash


def test_an_activation_code_gives_the_members_own_key_once(api: Api) -> None:
    created = _onboard(api, "USCC-cred-2")
    code = created["activation"]["code"]
    first = _activate(api, code)
    assert first.status_code == 201, first.text
    key = first.json()
    assert key["address"] == created["address"] and key["key"].startswith("scf_")
    me = api.client.get("/v1/me", headers=_bearer(key["key"]))
    assert me.status_code == 200 and me.json()["address"] == created["address"]
    assert me.json()["custodial"] is True
    again = _activate(api, code)
    assert again.status_code == 401
    assert again.json()["code"] == "ActivationCodeUsed"
    assert "already used" in again.json()["message"]


def test_an_expired_activation_code_is_refused(api: Api) -> None:
    created = _onboard(api, "USCC-cred-3")
    code = created["activation"]["code"]
    expires = datetime.fromisoformat(created["activation"]["expires_at"])
    hours = api.rt.settings.activation_hours
    assert timedelta(hours=hours - 1) < expires - datetime.now(UTC) <= timedelta(hours=hours)
    with Session(api.rt.engine) as session:  # the hours pass
        row = session.get(ActivationCode, code.split("_")[1])
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.add(row)
        session.commit()
    r = _activate(api, code)
    assert r.status_code == 401 and r.json()["code"] == "ActivationCodeExpired"
    assert "expired" in r.json()["message"]


def test_an_unknown_activation_code_is_refused(api: Api) -> None:
    created = _onboard(api, "USCC-cred-4")
    code = created["activation"]["code"]
    for wrong in (code[:-4] + "AAAA", "scfact_000000000000_x", "not-a-code"):
        r = _activate(api, wrong)
        assert r.status_code == 401 and r.json()["code"] == "ActivationCodeUnknown", wrong
    assert _activate(api, code).status_code == 201  # the real one still works


def test_a_reissued_code_replaces_the_old_one(api: Api) -> None:
    created = _onboard(api, "USCC-cred-5")
    old = created["activation"]["code"]
    r = api.as_("operator").post(f"/v1/operator/members/{created['address']}/activation")
    assert r.status_code == 201, r.text
    new = r.json()["code"]
    assert new != old and r.json()["address"] == created["address"]
    refused = _activate(api, old)
    assert refused.status_code == 401 and refused.json()["code"] == "ActivationCodeReplaced"
    assert _activate(api, new).status_code == 201


def test_a_member_that_lost_its_key_activates_a_reissued_code_and_the_old_key_stops(
    api: Api,
) -> None:
    created = _onboard(api, "USCC-cred-6")
    lost = _activate(api, created["activation"]["code"]).json()["key"]
    reissued = api.as_("operator").post(f"/v1/operator/members/{created['address']}/activation")
    assert reissued.status_code == 201
    # the old key works until the new code is used (a re-issue alone locks nobody out) ...
    assert api.client.get("/v1/me", headers=_bearer(lost)).status_code == 200
    fresh = _activate(api, reissued.json()["code"]).json()["key"]
    # ... and then only the new key does
    r = api.client.get("/v1/me", headers=_bearer(lost))
    assert r.status_code == 401 and r.json()["code"] == "InvalidApiKey"
    assert api.client.get("/v1/me", headers=_bearer(fresh)).status_code == 200


def test_only_the_operator_reissues_and_only_for_a_custodial_member(api: Api) -> None:
    created = _onboard(api, "USCC-cred-7")
    r = api.as_("tier1").post(f"/v1/operator/members/{created['address']}/activation")
    assert r.status_code == 403 and r.json()["code"] == "MissingRole"
    auditor = api.addresses["auditor"]  # holds its own key
    r = api.as_("operator").post(f"/v1/operator/members/{auditor}/activation")
    assert r.status_code == 409 and r.json()["code"] == "NotCustodial"
    assert auditor in r.json()["message"]
    stranger = "0x" + "ab" * 20
    r = api.as_("operator").post(f"/v1/operator/members/{stranger}/activation")
    assert r.status_code == 404
