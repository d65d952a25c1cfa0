"""Sending with a durable outbox: sign, let the caller persist the signed bytes, then broadcast.

A process that dies after signing can only ever re-broadcast the very same bytes (same hash),
never sign a second transaction for the same intent, so a write is sent at most once. Whether a
stored transaction can still be mined is decided from the chain: a receipt means mined; a
confirmed nonce beyond ours with no receipt means it was dropped and may be signed anew.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account._utils.legacy_transactions import Transaction as LegacyTransaction
from eth_account._utils.signing import extract_chain_id
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import TxParams, TxReceipt

from chain import rpc
from chain.errors import ChainError, NonceError
from chain.revert import revert_data_from_exception
from chain.tx import (
    ALREADY_KNOWN_MESSAGES,
    ESTIMATE_BLOCKS,
    NONCE_MESSAGES,
    Buildable,
    SignedTx,
    TxSender,
    mentions,
)

__all__ = [
    "DecodedTx",
    "Mined",
    "OutboxSender",
    "SignedTx",
    "decode_signed_transaction",
    "mined_from_receipt",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DecodedTx:
    """What a signed transaction commits its signer to (legacy or EIP-2718 typed)."""

    sender: str
    nonce: int
    to: str | None
    data: bytes
    value: int
    chain_id: int | None
    gas: int
    tx_hash: str


@dataclass(frozen=True)
class Mined:
    """A receipt, reduced to what a batch of requests needs: logs in JSON-RPC shape (hex)."""

    tx_hash: str
    block_number: int
    ok: bool
    logs: list[dict[str, Any]]


def decode_signed_transaction(raw: bytes) -> DecodedTx:
    """Decode and recover the signer of raw signed bytes; ValueError if they are not that."""
    try:
        if raw and raw[0] <= 0x7F:
            typed = TypedTransaction.from_bytes(HexBytes(raw))
            fields = typed.as_dict()
            chain_id: int | None = int(fields["chainId"])
        else:
            legacy = LegacyTransaction.from_bytes(HexBytes(raw))
            fields = legacy.as_dict()
            chain_id = extract_chain_id(int(fields["v"]))[0]
        sender = Account.recover_transaction(raw)
    except Exception as exc:  # rlp and signature errors come in many types
        raise ValueError(f"not a signed transaction: {exc}") from exc
    to = fields.get("to") or None
    return DecodedTx(
        sender=to_checksum_address(sender),
        nonce=int(fields["nonce"]),
        to=to_checksum_address(to) if to else None,
        data=bytes(HexBytes(fields.get("data", b""))),
        value=int(fields["value"]),
        chain_id=chain_id,
        gas=int(fields["gas"]),
        tx_hash="0x" + keccak(raw).hex(),
    )


class OutboxSender(TxSender):
    """A `TxSender` whose sends go through a caller-supplied `record` step before broadcast."""

    def prepare(
        self, fn: Buildable, *, account: LocalAccount | str, gas: int | None = None
    ) -> TxParams:
        """Build and estimate (a refusal raises ContractRevert here, before anything is sent);
        `account` may be a bare address when someone else will sign."""
        return self._fill(fn, account=account, value=0, gas=gas)

    def next_nonce(self, address: str) -> int:
        """The node's pending transaction count for `address` (its next usable nonce)."""
        return int(self.w3.eth.get_transaction_count(to_checksum_address(address), "pending"))

    def sign_and_send(
        self,
        tx: TxParams,
        *,
        account: LocalAccount,
        record: Callable[[SignedTx], None],
        floor: Callable[[], int] | None = None,
    ) -> SignedTx:
        """Allocate the signer's next nonce, sign, `record`, broadcast; under the signer's lock.

        `record` must persist durably (and may raise to abort: nothing is then broadcast). It is
        called again with a new nonce only when the node refused the previous one, which
        therefore can never be mined. `floor`, if given, is the lowest nonce other senders
        (other processes) have left free: the cached sequence is moved up to it.
        """
        return self._submit(tx, account=account, record=record, floor=floor)

    def rebroadcast(self, raw: bytes) -> None:
        """Send stored bytes again; the node already having them (or having mined them) is fine."""
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Exception as exc:
            if mentions(exc, ALREADY_KNOWN_MESSAGES + NONCE_MESSAGES):
                return
            raise ChainError(f"rebroadcast failed: {exc}") from exc

    def receipt(self, tx_hash: str) -> TxReceipt | None:
        """The receipt if mined, else None."""
        try:
            return self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            return None

    def dropped(self, signed_sender: str, nonce: int, tx_hash: str) -> bool:
        """Whether a stored transaction can never be mined: its nonce is used and it is not."""
        if self.receipt(tx_hash) is not None:
            return False
        confirmed = int(
            self.w3.eth.get_transaction_count(to_checksum_address(signed_sender), "latest")
        )
        return confirmed > nonce

    # -- batches: one JSON-RPC round trip for many transactions (one by one on eth-tester) ----

    def estimate_many(self, txs: Sequence[TxParams]) -> list[int | ChainError]:
        """Gas for each transaction (with the margin), or its refusal: a decoded ContractRevert,
        or a ChainError when the node gave no revert data. Like `_estimate`: the latest block
        first, the pending block for what it refuses."""
        if self._tester:
            out: list[int | ChainError] = []
            for tx in txs:
                try:
                    out.append(self._estimate(tx))
                except ChainError as exc:
                    out.append(exc)
            return out
        probes = [{k: _hex(v) for k, v in tx.items() if k in _PROBE} for tx in txs]
        latest, pending = ESTIMATE_BLOCKS
        answers = self._batch([("eth_estimateGas", [p, latest]) for p in probes])
        refused = [i for i, a in enumerate(answers) if "error" in a]
        again = self._batch([("eth_estimateGas", [probes[i], pending]) for i in refused])
        for i, a in zip(refused, again, strict=True):
            answers[i] = a
        margin = self.conn.settings.gas_multiplier
        results: list[int | ChainError] = []
        for a in answers:
            if "error" not in a:
                results.append(int(int(a["result"], 16) * margin))
                continue
            data = _error_data(a["error"])
            results.append(
                self.decoder.decode(data)
                if data is not None
                else ChainError(f"gas estimation failed: {a['error']}")
            )
        return results

    def broadcast_many(self, raws: Sequence[bytes]) -> list[ChainError | None]:
        """Broadcast signed transactions: None where the node took it (or already had it);
        NonceError where the nonce is taken (that transaction can never be mined); a decoded
        ContractRevert where the node refused it outright; else a ChainError (it may or may not
        have been taken)."""
        if self._tester:
            errors: list[ChainError | None] = []
            for raw in raws:
                try:
                    self.w3.eth.send_raw_transaction(raw)
                    errors.append(None)
                except Exception as exc:
                    errors.append(self._refusal(str(exc), revert_data_from_exception(exc)))
            return errors
        answers = self._batch([("eth_sendRawTransaction", ["0x" + r.hex()]) for r in raws])
        return [
            None
            if "error" not in a
            else self._refusal(str(a["error"].get("message", a["error"])), _error_data(a["error"]))
            for a in answers
        ]

    def _refusal(self, message: str, data: bytes | None) -> ChainError | None:
        if mentions(message, ALREADY_KNOWN_MESSAGES):
            return None
        if mentions(message, NONCE_MESSAGES):
            return NonceError(message)
        if data:
            return self.decoder.decode(data)
        return ChainError(f"broadcast failed: {message}")

    def receipts_many(self, tx_hashes: Sequence[str]) -> list[Mined | None]:
        """Each transaction's receipt, or None while it is not mined."""
        if self._tester:
            return [mined_from_receipt(self.receipt(h)) for h in tx_hashes]
        answers = self._batch([("eth_getTransactionReceipt", [h]) for h in tx_hashes])
        out: list[Mined | None] = []
        for h, a in zip(tx_hashes, answers, strict=True):
            r = a.get("result")
            if "error" in a:
                raise ChainError(f"receipt for {h}: {a['error']}")
            out.append(
                None
                if not r
                else Mined(h.lower(), int(r["blockNumber"], 16), r["status"] == "0x1", r["logs"])
            )
        return out

    @property
    def _tester(self) -> bool:
        return isinstance(self.w3.provider, EthereumTesterProvider)

    def _batch(self, calls: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        try:
            return rpc.batch(self.w3.provider, calls)
        except ChainError:
            raise
        except Exception as exc:
            raise ChainError(f"batch of {len(calls)} {calls[0][0]} failed: {exc}") from exc


_PROBE = ("from", "to", "data", "value")


def _hex(value: Any) -> Any:
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def _error_data(error: Any) -> bytes | None:
    """Revert bytes from a JSON-RPC error object (`data` as hex, or nested under `data`)."""
    data = error.get("data") if isinstance(error, dict) else None
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x") and len(data) > 2:
        return bytes.fromhex(data[2:])
    return None


def mined_from_receipt(receipt: TxReceipt | None) -> Mined | None:
    """A web3 receipt (eth-tester) in the JSON-RPC shape the batch path yields."""
    if receipt is None:
        return None
    logs = [
        {
            "address": log_["address"].lower(),
            "topics": [HexBytes(t).to_0x_hex() for t in log_["topics"]],
            "data": HexBytes(log_["data"]).to_0x_hex(),
            "blockNumber": hex(log_["blockNumber"]),
            "blockHash": HexBytes(log_["blockHash"]).to_0x_hex(),
            "transactionHash": HexBytes(log_["transactionHash"]).to_0x_hex(),
            "transactionIndex": hex(log_["transactionIndex"]),
            "logIndex": hex(log_["logIndex"]),
        }
        for log_ in receipt["logs"]
    ]
    return Mined(
        HexBytes(receipt["transactionHash"]).to_0x_hex(),
        int(receipt["blockNumber"]),
        receipt["status"] == 1,
        logs,
    )
