"""Check the mirror against the chain's current state (view calls, not events).

Every piece (1..lastPieceId), every root, every offer (1..lastOfferId), every member, every cash
balance and the ledger-wide settings are read from the contracts at the mirror's cursor block
and compared field by field with SQL. Cash is also checked as a whole: the balances must sum to
the token's total supply on both sides, which catches an account missing from the mirror.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select
from web3 import Web3
from web3.providers import HTTPProvider

from chain import rpc
from chain.abi import Function, function
from chain.artifacts import get_artifact
from chain.deploy import Deployment
from chain.rpc import BatchRefused
from indexer.errors import IndexerError
from indexer.models import metadata
from indexer.types import canonical_address, canonical_hash

_BATCH = 250


@dataclass(frozen=True)
class Mismatch:
    kind: str
    key: str
    field: str
    mirror: Any
    chain: Any


@dataclass
class ReconcileReport:
    chain_id: int
    block: int
    checked: dict[str, int] = field(default_factory=dict)
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON: values shown as text (uint256 amounts do not fit a JSON number)."""
        return {
            "chain_id": self.chain_id,
            "block": self.block,
            "ok": self.ok,
            "checked": self.checked,
            "mismatches": [
                {
                    "kind": m.kind,
                    "key": m.key,
                    "field": m.field,
                    "mirror": str(m.mirror),
                    "chain": str(m.chain),
                }
                for m in self.mismatches
            ],
        }


class _Caller:
    """eth_call at one block: JSON-RPC batches over HTTP, one by one otherwise."""

    def __init__(self, w3: Web3, block: int) -> None:
        self.w3 = w3
        self.block = block
        self.http = isinstance(w3.provider, HTTPProvider)

    def many(
        self, to: str, fn: Function, arg_lists: Sequence[tuple[Any, ...]]
    ) -> list[tuple[Any, ...]]:
        datas = [fn.calldata(args) for args in arg_lists]
        raws: list[bytes] = []
        if self.http:
            for i in range(0, len(datas), _BATCH):
                calls = [
                    ("eth_call", [{"to": to, "data": d}, hex(self.block)])
                    for d in datas[i : i + _BATCH]
                ]
                try:
                    resps = rpc.batch(self.w3.provider, calls)
                except BatchRefused as exc:
                    raise IndexerError(f"eth_call {exc}") from exc
                for resp in resps:
                    if resp.get("error"):
                        raise IndexerError(f"eth_call failed: {resp['error']}")
                    raws.append(bytes.fromhex(str(resp["result"])[2:]))
        else:
            target = Web3.to_checksum_address(to)
            for d in datas:
                raws.append(
                    bytes(self.w3.eth.call({"to": target, "data": d}, block_identifier=self.block))  # type: ignore[typeddict-item]
                )
        return [fn.result(raw) for raw in raws]

    def one(self, to: str, fn: Function, *args: Any) -> tuple[Any, ...]:
        return self.many(to, fn, [args])[0]


def reconcile(
    *,
    w3: Web3,
    engine: Engine,
    deployment: Deployment,
    block: int | None = None,
    build_dir: Path | None = None,
) -> ReconcileReport:
    """Compare the mirror of `deployment` with the chain at `block` (default: the cursor)."""
    t = metadata.tables
    chain_id = deployment.chain_id
    with engine.connect() as conn:
        state = (
            conn.execute(
                select(t["indexer_state"]).where(t["indexer_state"].c.chain_id == chain_id)
            )
            .mappings()
            .first()
        )
        if state is None:
            raise IndexerError(f"no mirror of chain {chain_id} in this database")
        mirror: dict[str, dict[Any, dict[str, Any]]] = {}
        for table, keycol in (
            ("piece", "piece_id"),
            ("root", "root_id"),
            ("offer", "offer_id"),
            ("member", "address"),
            ("cash_balance", "address"),
        ):
            tab = t[table]
            rows = conn.execute(select(tab).where(tab.c.chain_id == chain_id)).mappings()
            mirror[table] = {r[keycol]: dict(r) for r in rows}
        status = (
            conn.execute(
                select(t["ledger_status"]).where(t["ledger_status"].c.chain_id == chain_id)
            )
            .mappings()
            .first()
        )
        events = conn.execute(
            select(func.count())
            .select_from(t["ledger_event"])
            .where(t["ledger_event"].c.chain_id == chain_id)
        ).scalar_one()
    at = int(state["cursor_block"]) if block is None else block
    report = ReconcileReport(chain_id=chain_id, block=at)
    report.checked["events"] = int(events)
    call = _Caller(w3, at)
    rcv_abi = get_artifact("Receivables", build_dir).abi
    tok_abi = get_artifact("SettlementToken", build_dir).abi
    reg_abi = get_artifact("MemberRegistry", build_dir).abi
    rcv, tok, reg = (
        deployment.receivables.address,
        deployment.token.address,
        deployment.registry.address,
    )
    out = report.mismatches

    def cmp(kind: str, key: Any, fields: Iterable[tuple[str, Any, Any]]) -> None:
        for name, m, c in fields:
            if m != c:
                out.append(Mismatch(kind, str(key), name, m, c))

    # -- pieces ----------------------------------------------------------------------------
    last_piece, last_offer = call.one(rcv, function(rcv_abi, "lastIds"))
    piece_ids = list(range(1, int(last_piece) + 1))
    pieces = call.many(rcv, function(rcv_abi, "pieceOf"), [(i,) for i in piece_ids])
    chain_roots: list[int] = []
    for pid, (p,) in zip(piece_ids, pieces, strict=True):
        holder, amount, root_id, parent_id, nxt, pstatus, depth, frozen, paid_out = p
        if parent_id == 0 and root_id == pid:
            chain_roots.append(pid)
        row = mirror["piece"].pop(pid, None)
        if row is None:
            out.append(Mismatch("piece", str(pid), "*", None, "exists"))
            continue
        cmp("piece", pid, [
            ("holder", row["holder"], canonical_address(holder)),
            ("amount", row["amount"], amount),
            ("root_id", row["root_id"], root_id),
            ("parent_id", row["parent_id"] or 0, parent_id),
            ("next_id", row["next_id"], nxt),
            ("status", row["status"], pstatus),
            ("depth", row["depth"], depth),
            ("frozen", row["frozen"], frozen),
            ("paid_out", row["paid_out"], paid_out),
        ])  # fmt: skip
    for pid in mirror["piece"]:
        out.append(Mismatch("piece", str(pid), "*", "exists", None))
    report.checked["pieces"] = len(piece_ids)

    # -- roots -----------------------------------------------------------------------------
    root_ids = sorted(set(chain_roots) | set(mirror["root"]))
    roots = call.many(rcv, function(rcv_abi, "rootOf"), [(i,) for i in root_ids])
    for rid, (r,) in zip(root_ids, roots, strict=True):
        (debtor, due, rstatus, frozen, live_pieces, supplier, head, cursor, _frozen_pieces,
         face, repaid, paid_out, _last_paid, invoice_hash, invoice_key) = r  # fmt: skip
        row = mirror["root"].get(rid)
        if row is None:
            out.append(Mismatch("root", str(rid), "*", None, "exists"))
            continue
        cmp("root", rid, [
            ("debtor", row["debtor"], canonical_address(debtor)),
            ("due_date", row["due_date"], due),
            ("status", row["status"], rstatus),
            ("frozen", row["frozen"], frozen),
            ("supplier", row["supplier"], canonical_address(supplier)),
            ("head", row["head"], head),
            ("cursor", row["cursor"], cursor),
            ("face_value", row["face_value"], face),
            ("repaid", row["repaid"], repaid),
            ("distributed", row["distributed"], paid_out),
            ("live_pieces", row["live_pieces"], live_pieces),
            ("invoice_hash", row["invoice_hash"], canonical_hash(invoice_hash)),
            ("invoice_key", row["invoice_key"], canonical_hash(invoice_key)),
        ])  # fmt: skip
    report.checked["roots"] = len(root_ids)

    # -- offers ----------------------------------------------------------------------------
    offer_ids = list(range(1, int(last_offer) + 1))
    offers = call.many(rcv, function(rcv_abi, "offerOf"), [(i,) for i in offer_ids])
    for oid, (o,) in zip(offer_ids, offers, strict=True):
        financier, expiry, ostatus, piece_id, price = o
        row = mirror["offer"].pop(oid, None)
        if row is None:
            out.append(Mismatch("offer", str(oid), "*", None, "exists"))
            continue
        cmp("offer", oid, [
            ("financier", row["financier"], canonical_address(financier)),
            ("expiry", row["expiry"], expiry),
            ("status", row["status"], ostatus),
            ("piece_id", row["piece_id"], piece_id),
            ("price", row["price"], price),
        ])  # fmt: skip
    for oid in mirror["offer"]:
        out.append(Mismatch("offer", str(oid), "*", "exists", None))
    report.checked["offers"] = len(offer_ids)

    # -- members ---------------------------------------------------------------------------
    addresses = sorted(mirror["member"])
    infos = call.many(reg, function(reg_abi, "memberOf"), [(a,) for a in addresses])
    used = call.many(rcv, function(rcv_abi, "creditUsedOf"), [(a,) for a in addresses])
    for addr, info, (credit_used,) in zip(addresses, infos, used, strict=True):
        roles, mstatus, entity_id, credit_limit = info
        row = mirror["member"][addr]
        cmp("member", addr, [
            ("roles", row["roles"], roles),
            ("status", row["status"], mstatus),
            ("entity_id", row["entity_id"], canonical_hash(entity_id)),
            ("credit_limit", row["credit_limit"], credit_limit),
            ("credit_used", row["credit_used"], credit_used),
        ])  # fmt: skip
    report.checked["members"] = len(addresses)

    # -- cash ------------------------------------------------------------------------------
    holders = sorted(mirror["cash_balance"])
    balances = call.many(tok, function(tok_abi, "balanceOf"), [(a,) for a in holders])
    for addr, (balance,) in zip(holders, balances, strict=True):
        cmp("cash", addr, [("balance", mirror["cash_balance"][addr]["balance"], balance)])
    (supply,) = call.one(tok, function(tok_abi, "totalSupply"))
    mirror_sum = sum(r["balance"] for r in mirror["cash_balance"].values())
    chain_sum = sum(b for (b,) in balances)
    cmp("cash", "*", [("sum of balances = total supply", mirror_sum, supply)])
    cmp("cash", "*", [("chain balances of mirrored accounts = total supply", supply, chain_sum)])
    report.checked["cash_accounts"] = len(holders)

    # -- ledger-wide -----------------------------------------------------------------------
    (paused,) = call.one(reg, function(reg_abi, "paused"))
    ((max_depth, min_piece, grace, max_live),) = call.one(rcv, function(rcv_abi, "limits"))
    (ledger,) = call.one(tok, function(tok_abi, "ledger"))
    s: dict[str, Any] = dict(status) if status else {}
    cmp("ledger", "*", [
        ("paused", s.get("paused"), paused),
        ("max_depth", s.get("max_depth"), max_depth),
        ("min_piece_amount", s.get("min_piece_amount"), min_piece),
        ("grace_period", s.get("grace_period"), grace),
        ("max_live_pieces", s.get("max_live_pieces"), max_live),
        ("total_supply", s.get("total_supply"), supply),
        ("token_ledger", s.get("token_ledger"), canonical_address(ledger)),
    ])  # fmt: skip
    return report
