"""The transaction pipeline: transaction requests, their state machine, and the Celery task
that executes them. Queued custodial requests go in batches (`backend.dispatch`); this module's
`execute` runs one request at a time (client-signed, retried or abandoned ones).

A request moves queued → signed → sent → mined | failed. The signed bytes are stored before
they are broadcast, so a worker that dies at any moment leaves a request that the next attempt
either finishes (receipt found), re-broadcasts (same bytes, same hash) or, only when the chain
shows the stored transaction can never be mined, signs anew. A transaction that may have been
mined is never replaced by a second one.

A member that holds its own key (non-custodial) signs its own transactions: its request is
prepared in the API (built, estimated, refused there if the ledger would refuse it) and waits in
awaiting_signature; the signed bytes the member posts are checked against what was prepared,
stored as SIGNED and from then on follow exactly the path above (a worker broadcasts them). The
nonce is fixed at submission, not at preparation: see `accept_signed`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import redis
from celery import Celery, Task
from eth_utils.address import to_checksum_address
from sqlalchemy import Connection, bindparam, func, or_, text, update
from sqlmodel import Session, col, select

from backend import metrics
from backend.models import (
    FinancingRequest,
    FinancingStatus,
    InvoiceDocument,
    TxRequest,
    TxStatus,
    utcnow,
)
from backend.runtime import Runtime, get_runtime
from backend.settings import BackendSettings
from chain.errors import ChainError, ContractRevert, TransactionFailed
from chain.outbox import DecodedTx, SignedTx, mined_from_receipt
from chain.tx import Buildable

log = logging.getLogger(__name__)

celery_app = Celery("scf")
celery_app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_eager_propagates=True,
    broker_connection_retry_on_startup=True,
)

ACTIVE = (TxStatus.QUEUED, TxStatus.SIGNED, TxStatus.SENT)


class LostClaim(Exception):
    """Another attempt took over this request (its lease expired); stop without sending."""


class Transient(Exception):
    """The node could not be reached; nothing was sent, or what was sent is stored."""


def configure_celery(settings: BackendSettings) -> Celery:
    from backend.keeper import beat_schedule

    celery_app.conf.update(
        broker_url=settings.broker_url,
        task_always_eager=settings.eager,
        broker_transport_options={
            # a message a dead worker had taken is handed out again after this long ...
            "visibility_timeout": settings.broker_visibility_timeout_seconds,
            # ... and looked for this often (kombu's default sweep is ~100 s apart)
            "unacked_restore_interval": max(1, settings.broker_visibility_timeout_seconds // 4),
            "unacked_restore_throttle": 1,
        },
        beat_schedule=beat_schedule(settings),
        include=["backend.pipeline", "backend.keeper"],
    )
    # Connections are pooled on first use: drop them so that a new broker URL takes effect.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    return celery_app


# -- the actions a request may carry ------------------------------------------------------------


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
    """(to, calldata) for a request, encoded without web3 (see `chain.calldata`)."""
    contract, function, args = _call(action)
    return getattr(rt.deployment, contract).address, rt.calldata(contract).encode(function, args(p))


_RESULT_EVENTS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "root.register": ("receivables", "ReceivableRegistered", ("rootId",)),
    "root.issue": ("receivables", "ReceivableRegistered", ("rootId",)),
    "root.repay": ("receivables", "Repaid", ("totalRepaid", "creditUsed")),
    "root.distribute": ("receivables", "Distributed", ("piecesVisited", "amount", "nextCursor")),
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


def enqueue(request_id: str, *, batched: bool = False) -> None:
    """Hand a committed request to the workers (run at once when eager). `batched`: a new
    custodial request, which the batch dispatcher takes (see `execute_tx_task`); it needs no
    message of its own while a dispatcher run is wanted and has not started yet."""
    if batched and not _want_dispatch():
        return
    execute_tx_task.apply_async(args=[request_id, batched])


#: Set (in the broker's Redis) from when a dispatcher run is asked for until a worker starts
#: it. A request committed meanwhile is claimed by that run, or, if another dispatcher holds
#: the lock then, by that one's look for queued requests after it lets go (`dispatch.run`).
#: It expires with the broker's visibility timeout, by when a lost message is handed out again.
_WANTED_KEY = "scf:dispatch:wanted"
_redis_clients: dict[str, redis.Redis] = {}


def _broker_redis() -> redis.Redis | None:
    url = str(celery_app.conf.broker_url or "")
    if celery_app.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return None
    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients.setdefault(url, redis.Redis.from_url(url))
    return client


def _want_dispatch() -> bool:
    """Ask for a dispatcher run: True if the caller must send the message (none is pending)."""
    client = _broker_redis()
    if client is None:
        return True
    ttl = int(celery_app.conf.broker_transport_options.get("visibility_timeout", 60))
    try:
        return bool(client.set(_WANTED_KEY, b"1", nx=True, ex=max(ttl, 1)))
    except redis.RedisError:
        return True  # the message itself then succeeds or fails loudly


def _dispatch_started() -> None:
    """Before a dispatcher run looks for queued requests: later ones ask for a run again."""
    client = _broker_redis()
    if client is not None:
        try:
            client.delete(_WANTED_KEY)
        except redis.RedisError:
            log.warning("could not clear the dispatch flag; it expires by itself")


# -- client-signed requests (non-custodial signers) ---------------------------------------------

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
        from backend.errors import jsonable

        req.status = TxStatus.FAILED
        req.error_code, req.error_message = exc.name, str(exc)
        req.error_details = jsonable(exc.args_)
        return
    except ChainError:
        raise
    except Exception as exc:  # a request that cannot even be built will never succeed
        from backend.errors import ApiError

        req.status = TxStatus.FAILED
        req.error_code = exc.code if isinstance(exc, ApiError) else "InvalidRequest"
        req.error_message = str(exc)
        return
    prepared = dict(tx)
    req.unsigned_tx = {k: prepared[k] for k in UNSIGNED_FIELDS if prepared.get(k) is not None}
    req.status = TxStatus.AWAITING_SIGNATURE
    req.expires_at = utcnow() + timedelta(seconds=rt.settings.signature_timeout_seconds)


@contextmanager
def signer_lock(rt: Runtime, signer: str) -> Iterator[Connection]:
    """A database transaction during which no other submission for `signer` runs: the nonce
    manager's per-signer lock in this process, a PostgreSQL advisory lock across processes."""
    with rt.conn.nonces.lock_for(to_checksum_address(signer)), rt.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                {"k": f"scf-signer:{signer.lower()}"},
            )
        yield conn


@contextmanager
def custodial_signer_lock(rt: Runtime, signer: str) -> Iterator[Connection]:
    """Hold `signer`'s sequence while a worker allocates, signs, records and broadcasts; the
    connection it yields holds the lock, and the record step writes through it.

    The nonce manager's cache is per process; with several worker processes (or machines) it
    would hand the same nonce out twice. Under a PostgreSQL advisory lock (a session lock: the
    record step commits before the broadcast), `stored_floor` keeps every process past the
    nonces any other has stored.
    """
    key = f"scf-signer:{signer.lower()}"
    with rt.conn.nonces.lock_for(to_checksum_address(signer)), rt.engine.connect() as conn:
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            conn.execute(text("SELECT pg_advisory_lock(hashtextextended(:k, 0))"), {"k": key})
            conn.commit()
        try:
            yield conn
        finally:
            if postgres:
                conn.rollback()
                conn.execute(text("SELECT pg_advisory_unlock(hashtextextended(:k, 0))"), {"k": key})
                conn.commit()


def stored_floor(conn: Connection, signer: str, request_id: str) -> int:
    """One past the highest nonce stored for `signer` by any other request (0 if none)."""
    stored = conn.execute(
        select(func.max(TxRequest.nonce)).where(
            TxRequest.signer == signer.lower(),
            col(TxRequest.id) != request_id,
            col(TxRequest.status).in_([TxStatus.SIGNED, TxStatus.SENT, TxStatus.MINED]),
        )
    ).scalar()
    conn.commit()
    return 0 if stored is None else int(stored) + 1


def next_nonce(rt: Runtime, conn: Connection, signer: str) -> int:
    """The signer's next free nonce: past what the node knows and what is stored signed."""
    stored = conn.execute(
        select(func.max(TxRequest.nonce)).where(
            TxRequest.signer == signer.lower(),
            col(TxRequest.status).in_([TxStatus.SIGNED, TxStatus.SENT]),
        )
    ).scalar()
    return max(rt.sender.next_nonce(signer), -1 if stored is None else int(stored) + 1)


def provisional_nonce(rt: Runtime, req: TxRequest) -> int:
    """The nonce to sign `req` with: the signer's next free one, after its earlier requests
    still awaiting a signature (signed in the order they were made, none collides)."""
    with rt.engine.connect() as conn:
        base = next_nonce(rt, conn, req.signer)
        ahead = conn.execute(
            select(func.count()).where(
                TxRequest.signer == req.signer,
                TxRequest.status == TxStatus.AWAITING_SIGNATURE,
                col(TxRequest.created_at) < req.created_at,
                col(TxRequest.expires_at) > utcnow(),
            )
        ).scalar()
    return base + int(ahead or 0)


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


# -- executing requests --------------------------------------------------------------------------


def _set(
    rt: Runtime, request_id: str, token: str | None, conn: Connection | None = None, **values: Any
) -> int:
    """Update a request, only while `token` still holds its claim; returns rows changed.
    Committed at once (through `conn` if given)."""
    values["updated_at"] = utcnow()
    stmt = update(TxRequest).where(TxRequest.id == request_id)  # type: ignore[arg-type]
    if token is not None:
        stmt = stmt.where(TxRequest.claim_token == token)  # type: ignore[arg-type]
    if conn is not None:
        changed = int(conn.execute(stmt.values(**values)).rowcount)
        conn.commit()
        return changed
    with rt.engine.begin() as own:
        return int(own.execute(stmt.values(**values)).rowcount)


def _claim(rt: Runtime, request_id: str, token: str) -> bool:
    now = utcnow()
    lease = timedelta(seconds=rt.settings.stuck_after_seconds)
    stmt = (
        update(TxRequest)
        .where(TxRequest.id == request_id)  # type: ignore[arg-type]
        .where(TxRequest.status.in_(ACTIVE))  # type: ignore[attr-defined]
        .where(or_(col(TxRequest.locked_until).is_(None), col(TxRequest.locked_until) < now))
        .values(
            claim_token=token,
            locked_until=now + lease,
            attempts=TxRequest.attempts + 1,
            updated_at=now,
        )
    )
    with rt.engine.begin() as conn:
        return int(conn.execute(stmt).rowcount) == 1


def execute(rt: Runtime, request_id: str) -> TxStatus | None:
    """Run one request as far as it goes; returns its status (None if another attempt has it)."""
    token = uuid.uuid4().hex
    if not _claim(rt, request_id, token):
        return None
    try:
        with Session(rt.engine, expire_on_commit=False) as session:
            req = session.get(TxRequest, request_id)
        assert req is not None
        if req.status == TxStatus.QUEUED:
            return _send_new(rt, req, token)
        return _resume(rt, req, token)
    except LostClaim:
        log.warning("tx request taken over by another attempt", extra={"request": request_id})
        return None
    finally:
        _set(rt, request_id, token, claim_token=None, locked_until=None)


def _fail(rt: Runtime, req: TxRequest, token: str, exc: ChainError) -> TxStatus:
    if isinstance(exc, ContractRevert):
        from backend.errors import jsonable

        code, details = exc.name, jsonable(exc.args_)
    else:
        code, details = type(exc).__name__, {}
    _set(
        rt,
        req.id,
        token,
        status=TxStatus.FAILED,
        error_code=code,
        error_message=str(exc),
        error_details=details,
    )
    metrics.inc("scf_tx_failed_total", action=req.action, code=code)
    log.info("tx request failed", extra={"request": req.id, "action": req.action, "code": code})
    return TxStatus.FAILED


def _send_new(rt: Runtime, req: TxRequest, token: str) -> TxStatus:
    try:
        account = rt.account_for(req.signer)
        fn = build_call(rt, req.action, req.params)
        tx = rt.sender.prepare(fn, account=account)
    except ContractRevert as exc:
        return _fail(rt, req, token, exc)
    except ChainError as exc:
        raise Transient(str(exc)) from exc
    except Exception as exc:  # a request that cannot even be built will never succeed
        from backend.errors import ApiError

        code = exc.code if isinstance(exc, ApiError) else "InvalidRequest"
        _set(rt, req.id, token, status=TxStatus.FAILED, error_code=code, error_message=str(exc))
        return TxStatus.FAILED

    try:
        with custodial_signer_lock(rt, account.address) as conn:

            def record(signed: SignedTx) -> None:
                changed = _set(
                    rt,
                    req.id,
                    token,
                    conn=conn,
                    status=TxStatus.SIGNED,
                    raw_tx="0x" + signed.raw.hex(),
                    tx_hash=signed.tx_hash,
                    nonce=signed.nonce,
                )
                if changed != 1:
                    raise LostClaim(req.id)

            signed = rt.sender.sign_and_send(
                tx,
                account=account,
                record=record,
                floor=lambda: stored_floor(conn, req.signer, req.id),
            )
    except ContractRevert as exc:  # the node refused it outright: it is not in any pool
        return _fail(rt, req, token, exc)
    except ChainError as exc:
        raise Transient(str(exc)) from exc
    _set(rt, req.id, token, status=TxStatus.SENT)
    metrics.inc("scf_tx_sent_total", action=req.action)
    return _finish(rt, req, token, signed.tx_hash)


def _resume(rt: Runtime, req: TxRequest, token: str) -> TxStatus:
    assert req.tx_hash is not None and req.raw_tx is not None and req.nonce is not None
    signer = to_checksum_address(req.signer)
    try:
        if rt.sender.receipt(req.tx_hash) is None:
            if rt.sender.dropped(signer, req.nonce, req.tx_hash):
                if req.unsigned_tx is not None:  # client-signed: only the member can sign anew
                    log.warning("client-signed tx can never be mined", extra={"request": req.id})
                    timeout = timedelta(seconds=rt.settings.signature_timeout_seconds)
                    _set(
                        rt,
                        req.id,
                        token,
                        status=TxStatus.AWAITING_SIGNATURE,
                        raw_tx=None,
                        tx_hash=None,
                        nonce=None,
                        expires_at=utcnow() + timeout,
                    )
                    return TxStatus.AWAITING_SIGNATURE
                log.warning("stored tx can never be mined; signing anew", extra={"request": req.id})
                _set(
                    rt, req.id, token, status=TxStatus.QUEUED, raw_tx=None, tx_hash=None, nonce=None
                )
                req.status = TxStatus.QUEUED
                return _send_new(rt, req, token)
            # The signer's earlier stored transactions first: a node holds a nonce above a
            # gap unmined, and a dead dispatcher may have broadcast only some of its batch.
            for raw in _earlier_unmined(rt, req.signer, req.nonce):
                rt.sender.rebroadcast(raw)
            rt.sender.rebroadcast(bytes.fromhex(req.raw_tx.removeprefix("0x")))
            rt.conn.nonces.resync(signer)
            _set(rt, req.id, token, status=TxStatus.SENT)
    except ChainError as exc:
        raise Transient(str(exc)) from exc
    return _finish(rt, req, token, req.tx_hash)


def _earlier_unmined(rt: Runtime, signer: str, nonce: int) -> list[bytes]:
    """The stored bytes of `signer`'s signed or sent transactions below `nonce`, in nonce order
    (re-sending stored bytes is always safe: the same hash, never a second transaction)."""
    with Session(rt.engine) as session:
        rows = session.exec(
            select(TxRequest.raw_tx)
            .where(
                TxRequest.signer == signer.lower(),
                col(TxRequest.status).in_([TxStatus.SIGNED, TxStatus.SENT]),
                col(TxRequest.nonce) < nonce,
                col(TxRequest.raw_tx).is_not(None),
            )
            .order_by(col(TxRequest.nonce))
        ).all()
    return [bytes.fromhex(raw.removeprefix("0x")) for raw in rows if raw]


def _finish(rt: Runtime, req: TxRequest, token: str, tx_hash: str) -> TxStatus:
    try:
        receipt = rt.sender.wait(tx_hash)
    except (ContractRevert, TransactionFailed) as exc:
        return _fail(rt, req, token, exc)
    except ChainError as exc:
        raise Transient(str(exc)) from exc
    mined = mined_from_receipt(receipt)
    assert mined is not None
    result = result_from_logs(rt, req.action, mined.logs)
    _set(
        rt,
        req.id,
        token,
        status=TxStatus.MINED,
        block_number=int(receipt["blockNumber"]),
        result=result,
    )
    with rt.engine.begin() as conn:
        after_mined(conn, [(req.action, req.id, req.params, result)])
    metrics.inc("scf_tx_mined_total", action=req.action)
    return TxStatus.MINED


def after_mined(
    conn: Connection, mined: list[tuple[str, str, dict[str, Any], dict[str, Any]]]
) -> None:
    """Off-chain bookkeeping that follows mined writes, given as (action, request id, params,
    result): an invoice learns its root id; a piece that changed hands closes its open
    financing requests. One statement per kind (the caller commits)."""
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
    ]
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


@celery_app.task(name="scf.execute_tx", bind=True, max_retries=20)  # type: ignore[untyped-decorator]
def execute_tx_task(self: Task[Any, Any], request_id: str, batched: bool = False) -> str | None:
    """Execute transaction requests (safe to run again: see the module docstring).

    Queued custodial requests go in batches (`backend.dispatch`): a task finding a dispatcher
    already running returns at once, as that one takes its request. A task for anything else
    (client-signed, retried, recovered) then runs its request alone, and resumes requests a dead
    worker abandoned."""
    from backend import dispatch

    rt = get_runtime()
    if batched:
        _dispatch_started()
    try:
        ran = dispatch.run(rt)
        if batched and ran is None:
            return None
        status = execute(rt, request_id) if _past_queued(rt, request_id) else None
        for stale in dispatch.abandoned(rt):  # a dead worker's, whose message is gone
            execute(rt, stale)
        lapse = dispatch.next_lapse(rt)
        if lapse is not None and not self.request.is_eager:
            # look again once those claims lapse, in case their holder died meanwhile; a delay
            # past the broker's visibility timeout would have the message handed out twice
            wait = max((lapse - utcnow()).total_seconds(), 0) + 1
            cap = rt.settings.broker_visibility_timeout_seconds / 2
            execute_tx_task.apply_async(args=[request_id, False], countdown=min(wait, cap))
    except (Transient, dispatch.Transient) as exc:
        log.warning("transient failure, will retry", extra={"request": request_id, "err": str(exc)})
        if self.request.is_eager:
            return None  # the keeper's recovery sweep picks it up
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 30)) from exc
    return None if status is None else status.value


def _past_queued(rt: Runtime, request_id: str) -> bool:
    with Session(rt.engine) as session:
        req = session.get(TxRequest, request_id)
    return req is not None and req.status in (TxStatus.SIGNED, TxStatus.SENT)
