"""Calldata for a contract function, encoded straight with eth_abi.

web3's `ContractFunction` validates and normalises every argument on each call, which costs more
than signing the transaction; a batch of requests encodes thousands a second, so each function's
selector and argument types are resolved once from the ABI and reused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eth_abi.abi import encode
from eth_utils.crypto import keccak


class CalldataEncoder:
    """Encodes calls of one contract's functions (by name; overloaded names are refused)."""

    def __init__(self, abi: Iterable[Mapping[str, Any]]) -> None:
        self._functions: dict[str, tuple[bytes, list[str]]] = {}
        overloaded: set[str] = set()
        for item in abi:
            if item.get("type") != "function":
                continue
            name = item["name"]
            types = [_canonical(i) for i in item["inputs"]]
            selector = keccak(text=f"{name}({','.join(types)})")[:4]
            if name in self._functions:
                overloaded.add(name)
            self._functions[name] = (selector, types)
        for name in overloaded:
            del self._functions[name]

    def encode(self, name: str, args: Sequence[Any]) -> str:
        """0x-hex calldata for `name(*args)`; addresses as hex strings, bytesN as bytes."""
        try:
            selector, types = self._functions[name]
        except KeyError:
            raise ValueError(f"no single function named {name!r} in this ABI") from None
        return "0x" + (selector + encode(types, list(args))).hex()


def _canonical(param: Mapping[str, Any]) -> str:
    typ: str = param["type"]
    if typ.startswith("tuple"):
        inner = ",".join(_canonical(c) for c in param["components"])
        return f"({inner}){typ[5:]}"
    return typ
