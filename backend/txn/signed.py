"""Client-signed requests: a member that holds its own key signs its own transactions.

Its request is prepared in the API (built, estimated, refused there if the ledger would refuse
it) and waits awaiting_signature; the signed bytes the member posts are checked against what
was prepared, stored as signed and from then on follow the executor's path (a worker broadcasts
them). The nonce is fixed at submission, not at preparation: see `store_signed`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from eth_utils.address import to_checksum_address
from sqlalchemy import update
from sqlmodel import col

from backend.models import TxRequest, TxStatus, utcnow
from backend.runtime import Runtime
from backend.txn.actions import build_call
from backend.txn.errors import failure
from backend.txn.nonces import next_nonce, signer_lock
from chain.errors import ChainError, ContractRevert
from chain.outbox import DecodedTx

#: What a prepared transaction carries besides its nonce (fixed only at submission).
UNSIGNED_FIELDS = (
    "type",
    "to",
    "data",
    "value",
    "gas",
    "chainId",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
)


class NonceNotNext(Exception):
    """The signed nonce is not the signer's next free one (another request took it, or a gap)."""

    def __init__(self, expected: int, got: int) -> None:
        super().__init__(f"nonce {got} is not the signer's next nonce {expected}")
        self.expected = expected
        self.got = got


def prepare_unsigned(rt: Runtime, req: TxRequest) -> None:
    """Build and estimate a request that its signer signs itself; a refusal fails it at once."""
    try:
        fn = build_call(rt, req.action, req.params)
        tx = rt.sender.prepare(fn, account=to_checksum_address(req.signer))
    except ContractRevert as exc:
        req.status = TxStatus.FAILED
        req.error_code, req.error_message, req.error_details = failure(exc)
        return
    except ChainError:
        raise
    except Exception as exc:  # a request that cannot even be built will never succeed
        req.status = TxStatus.FAILED
        req.error_code, req.error_message, req.error_details = failure(exc)
        return
    prepared = dict(tx)
    req.unsigned_tx = {k: prepared[k] for k in UNSIGNED_FIELDS if prepared.get(k) is not None}
    req.status = TxStatus.AWAITING_SIGNATURE
    req.expires_at = utcnow() + timedelta(seconds=rt.settings.signature_timeout_seconds)


def signed_mismatches(req: TxRequest, tx: DecodedTx) -> dict[str, dict[str, Any]]:
    """Where signed bytes depart from the prepared transaction (signer, to, data, value,
    chain id); gas and fees are the signer's own business."""
    prepared = req.unsigned_tx or {}
    want: dict[str, Any] = {
        "from": to_checksum_address(req.signer),
        "to": prepared.get("to"),
        "data": str(prepared.get("data", "0x")).lower(),
        "value": int(prepared.get("value", 0)),
        "chainId": prepared.get("chainId"),
    }
    got: dict[str, Any] = {
        "from": tx.sender,
        "to": tx.to,
        "data": "0x" + tx.data.hex(),
        "value": tx.value,
        "chainId": tx.chain_id,
    }
    return {k: {"expected": want[k], "got": got[k]} for k in want if want[k] != got[k]}


def store_signed(rt: Runtime, req: TxRequest, raw: bytes, tx: DecodedTx) -> bool:
    """Fix the nonce and store the signed bytes, atomically for the signer.

    The nonce must be the signer's next free one at this moment: reserving nonces when requests
    are prepared would leave a gap, and every later transaction of the signer stuck behind it,
    each time a prepared request is abandoned; the server, holding no key, could never fill it.
    Returns False if the request no longer awaits a signature (signed meanwhile, or expired).
    """
    with signer_lock(rt, req.signer) as conn:
        expected = next_nonce(rt, conn, req.signer)
        if tx.nonce != expected:
            raise NonceNotNext(expected, tx.nonce)
        now = utcnow()
        changed = conn.execute(
            update(TxRequest)
            .where(
                col(TxRequest.id) == req.id,
                col(TxRequest.status) == TxStatus.AWAITING_SIGNATURE,
                col(TxRequest.expires_at) > now,
            )
            .values(
                status=TxStatus.SIGNED,
                raw_tx="0x" + raw.hex(),
                tx_hash=tx.tx_hash,
                nonce=tx.nonce,
                updated_at=now,
            )
        ).rowcount
    return int(changed) == 1


def expire_unsigned(rt: Runtime, request_id: str | None = None) -> int:
    """Requests left unsigned past their deadline become expired; returns how many."""
    now = utcnow()
    stmt = update(TxRequest).where(
        col(TxRequest.status) == TxStatus.AWAITING_SIGNATURE, col(TxRequest.expires_at) <= now
    )
    if request_id is not None:
        stmt = stmt.where(col(TxRequest.id) == request_id)
    with rt.engine.begin() as conn:
        return int(conn.execute(stmt.values(status=TxStatus.EXPIRED, updated_at=now)).rowcount)
