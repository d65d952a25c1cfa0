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
from typing import Any, cast

from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound, Web3Exception
from web3.types import Nonce, TxParams, TxReceipt

from chain.errors import ChainError, NonceError
from chain.revert import revert_data_from_exception
from chain.tx import (
    _ALREADY_KNOWN_MESSAGES,
    _MAX_NONCE_RETRIES,
    _NONCE_MESSAGES,
    Buildable,
    TxSender,
    _matches,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction as it must be stored before it is broadcast."""

    sender: str
    nonce: int
    tx_hash: str
    raw: bytes


class OutboxSender(TxSender):
    """A `TxSender` whose sends go through a caller-supplied `record` step before broadcast."""

    def prepare(self, fn: Buildable, *, account: LocalAccount, gas: int | None = None) -> TxParams:
        """Build and estimate (a refusal raises ContractRevert here, before anything is sent)."""
        return self._fill(fn, account=account, value=0, gas=gas)

    def sign_and_send(
        self, tx: TxParams, *, account: LocalAccount, record: Callable[[SignedTx], None]
    ) -> SignedTx:
        """Allocate the signer's next nonce, sign, `record`, broadcast; under the signer's lock.

        `record` must persist durably (and may raise to abort: nothing is then broadcast). It is
        called again with a new nonce only when the node refused the previous one, which
        therefore can never be mined.
        """
        address = account.address
        nonces = self.conn.nonces
        for attempt in range(_MAX_NONCE_RETRIES):
            with nonces.lock_for(address):
                nonce = nonces.peek(address)
                tx["nonce"] = Nonce(nonce)
                signed_raw = account.sign_transaction(cast(dict[str, Any], tx))
                signed = SignedTx(
                    address,
                    nonce,
                    HexBytes(signed_raw.hash).to_0x_hex(),
                    bytes(signed_raw.raw_transaction),
                )
                record(signed)
                try:
                    self.w3.eth.send_raw_transaction(signed.raw)
                except Exception as exc:
                    if _matches(exc, _ALREADY_KNOWN_MESSAGES):
                        nonces.advance(address, nonce)
                        return signed
                    if _matches(exc, _NONCE_MESSAGES):
                        log.warning(
                            "nonce rejected, resyncing",
                            extra={"address": address, "nonce": nonce, "attempt": attempt},
                        )
                        nonces.resync(address)
                        continue
                    nonces.resync(address)
                    data = revert_data_from_exception(exc)
                    if data is not None:
                        raise self.decoder.decode(data) from exc
                    if isinstance(exc, Web3Exception):
                        raise ChainError(f"send failed: {exc}") from exc
                    raise
                nonces.advance(address, nonce)
                return signed
        raise NonceError(f"nonce for {address} kept being rejected")

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
