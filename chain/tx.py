"""Locally signed transactions: fees, gas, nonces, receipts and decoded reverts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast

from eth_account.signers.local import LocalAccount
from eth_typing import BlockIdentifier
from hexbytes import HexBytes
from web3.exceptions import TimeExhausted, Web3Exception, Web3RPCError
from web3.types import Nonce, TxParams, TxReceipt, Wei

from chain.connection import ChainConnection
from chain.errors import ChainError, ContractRevert, NonceError, TransactionFailed
from chain.revert import RevertDecoder, default_decoder, revert_data_from_exception

log = logging.getLogger(__name__)

NONCE_MESSAGES = (
    "nonce too low",
    "nonce too high",
    "invalid nonce",
    "invalid transaction nonce",
    "nonce is too low",
    "replacement transaction underpriced",
    "incorrect nonce",
    "nonce has already been used",
)
ALREADY_KNOWN_MESSAGES = ("already known", "known transaction", "already imported")
_MAX_NONCE_RETRIES = 5
# Gas is estimated on the latest block, as Besu and geth do when no block is named (anvil takes
# its pending block, and re-executes every pending transaction for each estimate: 9 ms of node
# CPU with 200 pending against 0.75 ms). Only a refusal there is asked again of the pending
# block, where a transaction that depends on one not yet mined can pass. eth-tester mines each
# transaction on arrival: it has no pending block to ask.
ESTIMATE_BLOCKS: tuple[BlockIdentifier, ...] = ("latest", "pending")


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction: what must be stored before it is broadcast, where that matters."""

    sender: str
    nonce: int
    tx_hash: str
    raw: bytes


class Buildable(Protocol):
    """A web3 contract function call or constructor call."""

    def build_transaction(self, transaction: TxParams | None = None) -> TxParams: ...


class TxSender:
    """Signs with local keys and submits; one nonce sequence per signer, shared across threads."""

    def __init__(self, conn: ChainConnection, *, decoder: RevertDecoder | None = None) -> None:
        self.conn = conn
        self.w3 = conn.w3
        self._decoder = decoder

    @property
    def decoder(self) -> RevertDecoder:
        return self._decoder or default_decoder()

    # -- public API ------------------------------------------------------------------------

    def transact(
        self,
        fn: Buildable,
        *,
        account: LocalAccount,
        value: int = 0,
        gas: int | None = None,
    ) -> TxReceipt:
        """Send and wait; raises ContractRevert if the call reverts (before or after mining)."""
        return self.wait(self.send(fn, account=account, value=value, gas=gas))

    def send(
        self,
        fn: Buildable,
        *,
        account: LocalAccount,
        value: int = 0,
        gas: int | None = None,
    ) -> HexBytes:
        """Estimate gas (decoding a revert), sign, submit; returns the hash without waiting."""
        tx = self._fill(fn, account=account, value=value, gas=gas)
        return HexBytes(self._submit(tx, account=account).tx_hash)

    def send_params(self, tx: TxParams, *, account: LocalAccount) -> HexBytes:
        """Send a plain transaction (e.g. a value transfer); nonce and fees are filled in."""
        params: TxParams = {**tx, "from": account.address, "chainId": self.conn.chain_id}
        params.update(self.fee_fields())
        if "gas" not in params:
            params["gas"] = self._estimate(params)
        return HexBytes(self._submit(params, account=account).tx_hash)

    def wait(self, tx_hash: HexBytes | str, *, timeout: float | None = None) -> TxReceipt:
        """Wait for the receipt (and confirmations); status 0 becomes ContractRevert."""
        settings = self.conn.settings
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                HexBytes(tx_hash),
                timeout=timeout or settings.receipt_timeout_seconds,
                poll_latency=settings.receipt_poll_seconds,
            )
        except TimeExhausted as exc:
            raise ChainError(f"no receipt for {HexBytes(tx_hash).to_0x_hex()}") from exc
        if receipt["status"] == 0:
            raise self.explain_failure(receipt)
        if settings.confirmations > 0:
            self._wait_confirmations(receipt["blockNumber"], settings.confirmations)
        return receipt

    def call(
        self,
        fn: Any,
        *,
        account: LocalAccount | str | None = None,
        block: BlockIdentifier = "latest",
    ) -> Any:
        """`fn.call()` with reverts decoded into ContractRevert."""
        params: TxParams = {}
        if account is not None:
            params["from"] = account if isinstance(account, str) else account.address
        try:
            return fn.call(params, block_identifier=block)
        except Exception as exc:
            data = revert_data_from_exception(exc)
            if data is None:
                raise
            raise self.decoder.decode(data) from exc

    # -- internals -------------------------------------------------------------------------

    def fee_fields(self) -> TxParams:
        if self.conn.fee_mode == "zero":
            return {"gasPrice": Wei(0)}
        latest = self.w3.eth.get_block("latest")
        base = latest.get("baseFeePerGas")
        if base is None:
            return {"gasPrice": self.w3.eth.gas_price}
        priority = self.conn.settings.priority_fee_wei
        return {
            "maxPriorityFeePerGas": Wei(priority),
            "maxFeePerGas": Wei(2 * int(base) + priority),
        }

    def _fill(
        self, fn: Buildable, *, account: LocalAccount | str, value: int, gas: int | None
    ) -> TxParams:
        params: TxParams = {
            "from": account if isinstance(account, str) else account.address,
            "value": Wei(value),
            "chainId": self.conn.chain_id,
            "nonce": Nonce(0),  # placeholder; allocated under the signer's lock in _submit
            "gas": 0,
        }
        params.update(self.fee_fields())
        tx = fn.build_transaction(params)
        tx["gas"] = gas if gas is not None else self._estimate(tx)
        return tx

    def _estimate(self, tx: TxParams) -> int:
        """Gas with the margin, estimated on the latest block; only a refusal there is asked
        again of the pending block (see `ESTIMATE_BLOCKS`)."""
        probe: TxParams = {k: v for k, v in tx.items() if k in ("from", "to", "data", "value")}  # type: ignore[assignment]
        blocks = ESTIMATE_BLOCKS[:1] if self.conn.profile == "tester" else ESTIMATE_BLOCKS
        for block in blocks:
            try:
                estimate = self.w3.eth.estimate_gas(probe, block)
                break
            except Exception as exc:
                if block == blocks[-1]:
                    data = revert_data_from_exception(exc)
                    if data is not None:
                        raise self.decoder.decode(data) from exc
                    raise ChainError(f"gas estimation failed: {exc}") from exc
        return int(estimate * self.conn.settings.gas_multiplier)

    def _submit(
        self,
        tx: TxParams,
        *,
        account: LocalAccount,
        record: Callable[[SignedTx], None] | None = None,
        floor: Callable[[], int] | None = None,
    ) -> SignedTx:
        """Under the signer's lock: allocate its next nonce (raised to `floor()` if given), sign,
        `record` (if given; it may raise to abort), broadcast. A nonce the node refuses is
        resynced and the transaction signed again."""
        address = account.address
        nonces = self.conn.nonces
        for attempt in range(_MAX_NONCE_RETRIES):
            with nonces.lock_for(address):
                nonce = nonces.peek(address)
                if floor is not None and (lowest := floor()) > nonce:
                    nonces.advance(address, lowest - 1)
                    nonce = lowest
                tx["nonce"] = Nonce(nonce)
                raw = account.sign_transaction(cast(dict[str, Any], tx))
                signed = SignedTx(
                    address, nonce, HexBytes(raw.hash).to_0x_hex(), bytes(raw.raw_transaction)
                )
                if record is not None:
                    record(signed)
                try:
                    self.w3.eth.send_raw_transaction(signed.raw)
                except Exception as exc:
                    if mentions(exc, ALREADY_KNOWN_MESSAGES):
                        # Exactly these bytes are already in the pool: that is success.
                        nonces.advance(address, nonce)
                        return signed
                    if mentions(exc, NONCE_MESSAGES):
                        log.warning(
                            "nonce rejected, resyncing",
                            extra={"address": address, "nonce": nonce, "attempt": attempt},
                        )
                        nonces.resync(address)
                        continue
                    # The node may or may not have taken it: trust its pending count.
                    nonces.resync(address)
                    data = revert_data_from_exception(exc)
                    if data is not None:
                        raise self.decoder.decode(data) from exc
                    if isinstance(exc, Web3Exception):
                        raise ChainError(f"send failed: {exc}") from exc
                    raise
                nonces.advance(address, nonce)
                log.debug("sent", extra={"address": address, "nonce": nonce, "tx": signed.tx_hash})
                return signed
        raise NonceError(f"nonce for {address} kept being rejected")

    def explain_failure(self, receipt: TxReceipt) -> ChainError:
        tx_hash = receipt["transactionHash"].to_0x_hex()
        data = self._revert_data_for(receipt)
        if data is None:
            return TransactionFailed(
                f"transaction {tx_hash} failed without revert data (out of gas?)", tx_hash=tx_hash
            )
        err: ContractRevert = self.decoder.decode(data, tx_hash=tx_hash)
        return err

    def _revert_data_for(self, receipt: TxReceipt) -> bytes | None:
        tx_hash = receipt["transactionHash"]
        if self.conn.profile != "tester":
            try:
                trace = self.conn.rpc(
                    "debug_traceTransaction", [tx_hash.to_0x_hex(), {"tracer": "callTracer"}]
                )
                output = trace.get("output") if isinstance(trace, dict) else None
                if isinstance(output, str) and trace.get("error"):
                    return bytes.fromhex(output.removeprefix("0x"))
            except (ChainError, Web3RPCError, ValueError) as exc:
                log.debug("debug_traceTransaction unavailable: %s", exc)
        tx = self.w3.eth.get_transaction(tx_hash)
        replay: TxParams = {"from": tx["from"], "data": tx["input"], "value": tx["value"]}
        if tx.get("to"):
            replay["to"] = tx["to"]
        replay["gas"] = tx["gas"]
        try:
            self.w3.eth.call(replay, block_identifier=max(receipt["blockNumber"] - 1, 0))
        except Exception as exc:
            return revert_data_from_exception(exc)
        return None

    def _wait_confirmations(self, block_number: int, confirmations: int) -> None:
        deadline = time.monotonic() + self.conn.settings.receipt_timeout_seconds
        while self.w3.eth.block_number < block_number + confirmations:
            if time.monotonic() > deadline:
                raise ChainError(f"block {block_number} not confirmed in time")
            time.sleep(self.conn.settings.receipt_poll_seconds)


def mentions(error: BaseException | str, needles: tuple[str, ...]) -> bool:
    """Whether a node's error message contains any of `needles` (nodes word them loosely)."""
    text = str(error).lower()
    return any(m in text for m in needles)
