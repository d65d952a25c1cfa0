"""The actions a transaction request may carry: the contract call each one makes, its
calldata, what a mined one reports back, and the off-chain bookkeeping that follows it."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, update

from backend.models import (
    FinancingOffer,
    FinancingRequest,
    FinancingStatus,
    InvoiceDocument,
    TxRequest,
)
from backend.runtime import Runtime
from chain.tx import Buildable


def _b32(value: str) -> bytes:
    return bytes.fromhex(value.removeprefix("0x"))


Args = Callable[[dict[str, Any]], tuple[Any, ...]]

#: action → (contract, function, its arguments from the request's params)
CALLS: dict[str, tuple[str, str, Args]] = {
    "member.add": (
        "registry",
        "addMember",
        lambda p: (p["account"], p["roles"], _b32(p["entity_id"]), p["credit_limit"]),
    ),
    "member.roles": ("registry", "setRoles", lambda p: (p["account"], p["roles"])),
    "member.suspend": ("registry", "suspend", lambda p: (p["account"],)),
    "member.reactivate": ("registry", "reactivate", lambda p: (p["account"],)),
    "member.credit_limit": (
        "registry",
        "setCreditLimit",
        lambda p: (p["account"], p["credit_limit"]),
    ),
    "ledger.pause": ("registry", "pause", lambda p: ()),
    "ledger.unpause": ("registry", "unpause", lambda p: ()),
    "log.anchor": ("registry", "anchorLog", lambda p: (p["seq"], _b32(p["head"]))),
    "cash.mint": ("token", "mint", lambda p: (p["account"], p["amount"])),
    "cash.burn": ("token", "burn", lambda p: (p["account"], p["amount"])),
    "root.register": (
        "receivables",
        "register",
        lambda p: (
            p["debtor"],
            p["face_value"],
            p["due_date"],
            _b32(p["invoice_hash"]),
            _b32(p["invoice_key"]),
        ),
    ),
    "root.issue": (
        "receivables",
        "issue",
        lambda p: (
            p["supplier"],
            p["face_value"],
            p["due_date"],
            _b32(p["invoice_hash"]),
            _b32(p["invoice_key"]),
        ),
    ),
    "root.confirm": ("receivables", "confirm", lambda p: (p["root_id"],)),
    "root.reject": ("receivables", "reject", lambda p: (p["root_id"], p["reason"])),
    "root.cancel": ("receivables", "cancel", lambda p: (p["root_id"],)),
    "root.refuse": ("receivables", "refuse", lambda p: (p["root_id"], p["reason"])),
    "root.reclaim_key": (
        "receivables",
        "reclaimInvoiceKey",
        lambda p: (p["root_id"], p["invoice_number_key"]),
    ),
    "root.close": ("receivables", "close", lambda p: (p["root_id"],)),
    "root.repay": ("receivables", "repay", lambda p: (p["root_id"], p["amount"])),
    "root.distribute": ("receivables", "distribute", lambda p: (p["root_id"], p["max_pieces"])),
    "root.mark_overdue": ("receivables", "markOverdue", lambda p: (p["root_id"],)),
    "root.freeze": ("receivables", "freezeRoot", lambda p: (p["root_id"], p["reason"])),
    "root.unfreeze": ("receivables", "unfreezeRoot", lambda p: (p["root_id"], p["reason"])),
    "piece.freeze": ("receivables", "freezePiece", lambda p: (p["piece_id"], p["reason"])),
    "piece.unfreeze": ("receivables", "unfreezePiece", lambda p: (p["piece_id"], p["reason"])),
    "piece.split": (
        "receivables",
        "split",
        lambda p: (p["piece_id"], p["holders"], p["amounts"]),
    ),
    "piece.transfer": (
        "receivables",
        "safeTransferFrom",
        lambda p: (p["from"], p["to"], p["piece_id"], p["amount"], b""),
    ),
    "piece.claim": ("receivables", "claim", lambda p: (p["piece_id"],)),
    "offer.post": ("receivables", "postOffer", lambda p: (p["piece_id"], p["price"], p["expiry"])),
    "offer.accept": ("receivables", "acceptOffer", lambda p: (p["offer_id"],)),
    "offer.cancel": ("receivables", "cancelOffer", lambda p: (p["offer_id"],)),
}


#: what the ledger still takes from a suspended member: `repay` checks only that the caller is
#: the debtor (money owed must reach the holders)
WHILE_SUSPENDED = frozenset({"root.repay"})


def _call(action: str) -> tuple[str, str, Args]:
    try:
        return CALLS[action]
    except KeyError:
        raise ValueError(f"unknown action {action!r}") from None


def build_call(rt: Runtime, action: str, p: dict[str, Any]) -> Buildable:
    """The web3 contract call for a request (params are JSON: addresses checksummed, bytes
    hex)."""
    contract, function, args = _call(action)
    fn: Buildable = getattr(rt.contracts, contract).functions[function](*args(p))
    return fn


def encode_call(rt: Runtime, action: str, p: dict[str, Any]) -> tuple[str, str]:
    """(to, calldata) for a request, encoded without web3 (see `chain.abi`)."""
    contract, function, args = _call(action)
    return getattr(rt.deployment, contract).address, rt.calldata(contract).encode(function, args(p))


_RESULT_EVENTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "root.register": ("receivables", "ReceivableRegistered", ("rootId",)),
    "root.issue": ("receivables", "ReceivableRegistered", ("rootId",)),
    "root.repay": ("receivables", "Repaid", ("totalRepaid", "creditUsed")),
    "root.distribute": ("receivables", "Distributed", ("piecesVisited", "amount", "nextCursor")),
    "root.refuse": ("receivables", "ReceivableRefused", ("creditUsed",)),
    "root.reclaim_key": ("receivables", "InvoiceKeyReclaimed", ("voided",)),
    "root.close": ("receivables", "ReceivableClosed", ("outstanding", "remainder", "remainderTo")),
    "piece.split": ("receivables", "PieceSplit", ("childIds",)),
    "piece.claim": ("receivables", "PiecePaid", ("amount",)),
    "offer.post": ("receivables", "OfferPosted", ("offerId",)),
}


def result_from_logs(rt: Runtime, action: str, logs: list[dict[str, Any]]) -> dict[str, Any]:
    """What a mined request reports back (a new root id, child ids, ...), from its receipt's
    logs in JSON-RPC shape."""
    spec = _RESULT_EVENTS.get(action)
    if spec is None:
        return {}
    contract_name, event, fields = spec
    address = getattr(rt.deployment, contract_name).address.lower()
    decoder = rt.log_decoder
    for raw in logs:
        if raw["address"].lower() != address or not raw["topics"]:
            continue
        decoded = decoder.decode(raw)
        if decoded.event == event:
            return {_snake(f): decoded.args[f] for f in fields}
    return {}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


# -- creating requests ---------------------------------------------------------------------------


def action_hash(action: str, params: dict[str, Any]) -> str:
    body = json.dumps({"action": action, "params": params}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


def approval_hash(req: TxRequest) -> str:
    """What an approval covers: the member, the signer, the action and its parameters, as
    canonical JSON. The pipeline sends a request under a policy only while its approvals cover
    this hash of what it is about to send."""
    return action_digest(req.member, req.signer, req.action, req.params)


def action_digest(member: str, signer: str, action: str, params: dict[str, Any]) -> str:
    body = json.dumps(
        {"member": member.lower(), "signer": signer.lower(), "action": action, "params": params},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def new_request(
    *,
    member: str,
    signer: str,
    action: str,
    params: dict[str, Any],
    idempotency_key: str | None,
    request_hash: str | None = None,
) -> TxRequest:
    return TxRequest(
        id=str(uuid.uuid4()),
        member=member.lower(),
        signer=signer.lower(),
        action=action,
        params=params,
        idempotency_key=idempotency_key,
        request_hash=request_hash or action_hash(action, params),
    )


#: The off-chain parameter of "offer.post" naming the financing request the offer answers.
ANSWERS = "financing_request_id"


def after_mined(
    conn: Connection, mined: list[tuple[str, str, dict[str, Any], dict[str, Any]]]
) -> None:
    """Off-chain bookkeeping that follows mined writes, given as (action, request id, params,
    result): an invoice learns its root id; an offer, the financing request it answers; a piece
    that changed hands (or was burned by a refusal) closes its open financing requests. One
    statement per kind (the caller commits)."""
    roots = [
        {"b_req": rid, "b_root": int(result["root_id"])}
        for action, rid, _, result in mined
        if action in ("root.register", "root.issue") and "root_id" in result
    ]
    moved = [
        {"b_piece": int(params["piece_id"])}
        for action, _, params, _ in mined
        if action in ("offer.accept", "piece.split", "piece.transfer")
        and params.get("piece_id") is not None
    ] + [  # a refused payable's root piece is burned
        {"b_piece": int(params["root_id"])}
        for action, _, params, _ in mined
        if action == "root.refuse"
    ]
    answers = [
        {"offer_id": int(result["offer_id"]), "financing_request_id": int(params[ANSWERS])}
        for action, _, params, result in mined
        if action == "offer.post" and params.get(ANSWERS) is not None and "offer_id" in result
    ]
    if answers:  # replaced, not added: bookkeeping run twice for a request writes it once
        links = FinancingOffer.__table__  # type: ignore[attr-defined]
        conn.execute(delete(links).where(links.c.offer_id.in_([a["offer_id"] for a in answers])))
        conn.execute(insert(links), answers)
    docs = InvoiceDocument.__table__  # type: ignore[attr-defined]
    requests = FinancingRequest.__table__  # type: ignore[attr-defined]
    if roots:
        conn.execute(
            update(docs)
            .where(docs.c.tx_request_id == bindparam("b_req"))
            .values(root_id=bindparam("b_root")),
            roots,
        )
    if moved:
        conn.execute(
            update(requests)
            .where(
                requests.c.piece_id == bindparam("b_piece"),
                requests.c.status == FinancingStatus.OPEN,
            )
            .values(status=FinancingStatus.CLOSED),
            moved,
        )
