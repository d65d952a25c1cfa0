"""ABI types and calls, encoded straight with eth_abi: the one canonicalisation of ABI types
(tuples expanded to `(t1,t2)`) used to name events, errors and functions, and the encoders.

web3's `ContractFunction` validates and normalises every argument on each call, which costs more
than signing the transaction; a batch of requests encodes thousands a second, so each function's
selector and argument types are resolved once from the ABI and reused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from eth_abi.abi import decode, encode
from eth_utils.crypto import keccak


def canonical_type(param: Mapping[str, Any]) -> str:
    """The ABI type string of a parameter, a struct expanded into `(t1,t2)` (with its array
    suffix, if any)."""
    typ: str = param["type"]
    if typ.startswith("tuple"):
        inner = ",".join(canonical_type(c) for c in param.get("components", []))
        return f"({inner}){typ[len('tuple') :]}"
    return typ


def signature(item: Mapping[str, Any]) -> str:
    """`name(t1,t2)`: what an event's topic, an error's or a function's selector hashes."""
    return f"{item['name']}({','.join(canonical_type(i) for i in item.get('inputs', []))})"


class Function:
    """One contract function: its selector, calldata and return decoding."""

    def __init__(self, item: Mapping[str, Any]) -> None:
        self.name: str = item["name"]
        self.inputs = [canonical_type(i) for i in item["inputs"]]
        self.outputs = [canonical_type(o) for o in item.get("outputs", [])]
        self.selector = keccak(text=signature(item))[:4]

    def calldata(self, args: Sequence[Any]) -> str:
        """0x-hex calldata; addresses as hex strings, bytesN as bytes."""
        return "0x" + (self.selector + encode(self.inputs, list(args))).hex()

    def result(self, raw: bytes) -> tuple[Any, ...]:
        return tuple(decode(self.outputs, raw))


def function(abi: Iterable[Mapping[str, Any]], name: str) -> Function:
    """The function called `name` in `abi` (the first, if overloaded)."""
    for item in abi:
        if item.get("type") == "function" and item["name"] == name:
            return Function(item)
    raise ValueError(f"no function named {name!r} in this ABI")


class CalldataEncoder:
    """Encodes calls of one contract's functions by name (overloaded names are refused)."""

    def __init__(self, abi: Iterable[Mapping[str, Any]]) -> None:
        self._functions: dict[str, Function] = {}
        overloaded: set[str] = set()
        for item in abi:
            if item.get("type") != "function":
                continue
            if item["name"] in self._functions:
                overloaded.add(item["name"])
            self._functions[item["name"]] = Function(item)
        for name in overloaded:
            del self._functions[name]

    def encode(self, name: str, args: Sequence[Any]) -> str:
        """0x-hex calldata for `name(*args)`; addresses as hex strings, bytesN as bytes."""
        try:
            fn = self._functions[name]
        except KeyError:
            raise ValueError(f"no single function named {name!r} in this ABI") from None
        return fn.calldata(args)
