"""Decode revert data into `ContractRevert` against a set of ABI errors."""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chain.abi import canonical_type
from chain.artifacts import combined_error_abi
from chain.errors import ArtifactError, ContractRevert

log = logging.getLogger(__name__)

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")
PANIC_SELECTOR = bytes.fromhex("4e487b71")

_BUILTIN_ERRORS: tuple[dict[str, Any], ...] = (
    {"type": "error", "name": "Error", "inputs": [{"name": "message", "type": "string"}]},
    {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
)


@dataclass(frozen=True)
class _ErrorSpec:
    name: str
    signature: str
    types: tuple[str, ...]
    names: tuple[str, ...]


class RevertDecoder:
    """Maps 4-byte selectors to error definitions and decodes revert payloads."""

    def __init__(self, error_abis: Iterable[dict[str, Any]] = ()) -> None:
        self._specs: dict[bytes, _ErrorSpec] = {}
        for err in (*_BUILTIN_ERRORS, *error_abis):
            self.add(err)

    def add(self, err: dict[str, Any]) -> None:
        """Register one ABI `error` entry (non-error entries are ignored)."""
        if err.get("type") != "error":
            return
        inputs = err.get("inputs", [])
        types = tuple(canonical_type(i) for i in inputs)
        signature = f"{err['name']}({','.join(types)})"
        names = tuple(i.get("name") or f"arg{n}" for n, i in enumerate(inputs))
        self._specs[keccak(text=signature)[:4]] = _ErrorSpec(err["name"], signature, types, names)

    def decode(self, data: bytes, *, tx_hash: str | None = None) -> ContractRevert:
        """Turn raw revert bytes into a ContractRevert (name "Unknown" if unrecognised)."""
        spec = self._specs.get(data[:4]) if len(data) >= 4 else None
        if spec is None:
            return ContractRevert("Unknown", {"data": data}, data=data, tx_hash=tx_hash)
        try:
            values = abi_decode(list(spec.types), data[4:])
        except (DecodingError, OverflowError, ValueError):
            log.warning("revert payload does not match %s", spec.signature)
            return ContractRevert("Unknown", {"data": data}, data=data, tx_hash=tx_hash)
        args = {n: _normalise(t, v) for n, t, v in zip(spec.names, spec.types, values, strict=True)}
        return ContractRevert(spec.name, args, data=data, signature=spec.signature, tx_hash=tx_hash)


def _normalise(typ: str, value: Any) -> Any:
    if typ == "address":
        return to_checksum_address(value)
    if typ == "address[]":
        return [to_checksum_address(v) for v in value]
    if isinstance(value, tuple) and typ.endswith("]"):
        return list(value)
    return value


_default: RevertDecoder | None = None


def default_decoder() -> RevertDecoder:
    """Decoder over the union of the three contracts' errors (builtins only if not compiled)."""
    global _default
    if _default is None:
        try:
            _default = RevertDecoder(combined_error_abi())
        except ArtifactError:
            log.warning("contract artifacts missing; decoding only Error/Panic")
            return RevertDecoder()
    return _default


def revert_data_from_exception(exc: BaseException) -> bytes | None:
    """Best effort extraction of raw revert bytes from web3 / eth-tester exceptions."""
    seen: set[int] = set()
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    # 1. web3 ContractLogicError and friends carry hex `data`.
    for e in chain:
        data = getattr(e, "data", None)
        if isinstance(data, str) and data.startswith("0x"):
            return bytes.fromhex(data[2:])
        if isinstance(data, dict):
            inner = data.get("data")
            if isinstance(inner, str) and inner.startswith("0x"):
                return bytes.fromhex(inner[2:])
    # 2. eth-tester wraps py-evm's Revert(bytes) (gas estimation path).
    for e in chain:
        for arg in e.args:
            if isinstance(arg, bytes | bytearray):
                return bytes(arg)
            if isinstance(arg, BaseException) and arg.args and isinstance(arg.args[0], bytes):
                return arg.args[0]
    # 3. eth-tester's eth_call path stringifies: "b'...'" or the decoded reason string.
    for e in chain:
        if type(e).__name__ != "TransactionFailed" or not e.args:
            continue
        msg = e.args[0]
        if not isinstance(msg, str):
            continue
        msg = msg.removeprefix("execution reverted: ").removeprefix("execution reverted")
        if msg.startswith(("b'", 'b"')):
            try:
                literal = ast.literal_eval(msg)
            except (ValueError, SyntaxError):
                continue
            if isinstance(literal, bytes):
                return literal
        elif msg:
            return _encode_error_string(msg)
        else:
            return b""
    return None


def _encode_error_string(message: str) -> bytes:
    return ERROR_STRING_SELECTOR + abi_encode(["string"], [message])
