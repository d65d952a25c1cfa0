"""Sending with a durable outbox: sign, let the caller persist the signed bytes, then broadcast.

A process that dies after signing can only ever re-broadcast the very same bytes (same hash),
never sign a second transaction for the same intent, so a write is sent at most once. Whether a
stored transaction can still be mined is decided from the chain: a receipt means mined; a
confirmed nonce beyond ours with no receipt means it was dropped and may be signed anew.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from eth_account import Account
from eth_account._utils.legacy_transactions import Transaction as LegacyTransaction
from eth_account._utils.signing import extract_chain_id
from eth_account.signers.local import LocalAccount
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound
from web3.types import TxParams, TxReceipt

from chain.errors import ChainError
from chain.tx import (
    _ALREADY_KNOWN_MESSAGES,
    _NONCE_MESSAGES,
    Buildable,
    SignedTx,
    TxSender,
    _matches,
)

__all__ = ["DecodedTx", "OutboxSender", "SignedTx", "decode_signed_transaction"]

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
            if _matches(exc, _ALREADY_KNOWN_MESSAGES + _NONCE_MESSAGES):
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
