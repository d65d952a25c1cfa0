"""Pure decoding: a raw log (JSON-RPC shape, hex strings) to a `DecodedEvent`.

Decoders are built once per (contract, topic0) from the compiled ABIs. Indexed arguments and
events whose data holds only static types are sliced straight out of the hex; events with dynamic
data (strings, arrays) go through a precompiled eth_abi tuple decoder.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.codec import ABICodec
from eth_abi.decoding import ContextFramesBytesIO
from eth_abi.registry import registry as default_registry
from eth_utils.crypto import keccak

from chain.abi import canonical_type, signature
from indexer.errors import DecodeError

RawLog = Mapping[str, Any]
"""A log as eth_getLogs returns it: blockNumber, blockHash, transactionHash, transactionIndex,
logIndex, address, topics, data — numbers and bytes as 0x hex strings."""

Value = Any
_STATIC_ELEMENTARY = ("uint", "int", "address", "bool", "bytes32")
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(slots=True)
class DecodedEvent:
    """One ledger event with its position on the chain and its arguments as Python values.

    Integers are `int`, addresses and bytes32 lower-case 0x hex, strings `str`, arrays lists.
    """

    block_number: int
    block_hash: str
    tx_hash: str
    tx_index: int
    log_index: int
    address: str
    contract: str
    event: str
    args: dict[str, Value]
    args_json: str = ""
    """`args` as compact JSON with integers as decimal strings (what the event table stores)."""
    parties: tuple[str, ...] = ()
    """The distinct non-zero addresses among the address-typed arguments (arrays included)."""

    @property
    def position(self) -> tuple[int, int]:
        return (self.block_number, self.log_index)


def _topic_decoder(typ: str) -> Callable[[str], Value]:
    """Indexed arguments: value types are the 32-byte word; others are only their hash."""
    if typ == "address":
        return lambda t: "0x" + t[-40:].lower()
    if typ.startswith("uint"):
        return lambda t: int(t, 16)
    if typ.startswith("int"):
        bits = 256

        def signed(t: str) -> int:
            v = int(t, 16)
            return v - (1 << bits) if v >> (bits - 1) else v

        return signed
    if typ == "bool":
        return lambda t: int(t, 16) != 0
    return lambda t: t.lower()  # bytes32, or the keccak of a dynamic indexed value


def _word_decoder(typ: str) -> Callable[[str], Value]:
    """One static 32-byte word, as 64 hex digits."""
    if typ == "address":
        return lambda w: "0x" + w[24:].lower()
    if typ.startswith("uint"):
        return lambda w: int(w, 16)
    if typ == "bool":
        return lambda w: int(w, 16) != 0
    if typ == "bytes32":
        return lambda w: "0x" + w.lower()
    if typ.startswith("int"):

        def signed(w: str) -> int:
            v = int(w, 16)
            return v - (1 << 256) if v >> 255 else v

        return signed
    raise ValueError(f"not a static word type: {typ}")


def _normalise(typ: str, value: Value) -> Value:
    """eth_abi output to the canonical JSON-friendly forms."""
    if typ.endswith("]"):
        inner = typ[: typ.rindex("[")]
        return [_normalise(inner, v) for v in value]
    if typ == "address":
        return str(value).lower()
    if typ.startswith("bytes"):
        return "0x" + bytes(value).hex()
    return value


def _reader(typ: str, k: int) -> Callable[[str], Value] | None:
    """A reader of data argument `k` straight from the hex, or None (use eth_abi)."""
    head = 2 + 64 * k
    if typ.startswith(_STATIC_ELEMENTARY) and not typ.endswith("]"):
        word = _word_decoder(typ)
        return lambda d: word(d[head : head + 64])
    if typ.endswith("[]") and typ[:-2].startswith(_STATIC_ELEMENTARY) and "[" not in typ[:-2]:
        elem = _word_decoder(typ[:-2])

        def array(d: str) -> list[Value]:
            pos = 2 + 2 * int(d[head : head + 64], 16)
            n = int(d[pos : pos + 64], 16)
            body = pos + 64
            if len(d) < body + 64 * n:
                raise DecodeError("array runs past the data")
            return [elem(d[i : i + 64]) for i in range(body, body + 64 * n, 64)]

        return array
    if typ in ("string", "bytes"):

        def blob(d: str) -> Value:
            pos = 2 + 2 * int(d[head : head + 64], 16)
            n = int(d[pos : pos + 64], 16)
            raw = d[pos + 64 : pos + 64 + 2 * n]
            if len(raw) != 2 * n:
                raise DecodeError("bytes run past the data")
            if typ == "bytes":
                return "0x" + raw.lower()
            return bytes.fromhex(raw).decode("utf-8", errors="replace")

        return blob
    return None


def _parties(inputs: Sequence[Mapping[str, Any]]) -> Callable[[dict[str, Value]], tuple[str, ...]]:
    """The event's parties: its address and address[] arguments, distinct, without the zero
    address (the mint/burn marker, nobody's)."""
    one = [i["name"] for i in inputs if canonical_type(i) == "address"]
    many = [i["name"] for i in inputs if canonical_type(i) == "address[]"]
    if not many and len(one) == 1:
        key = one[0]
        return lambda a: () if a[key] == ZERO_ADDRESS else (a[key],)

    def parties(a: dict[str, Value]) -> tuple[str, ...]:
        found = dict.fromkeys([a[k] for k in one])
        for k in many:
            found.update(dict.fromkeys(a[k]))
        found.pop(ZERO_ADDRESS, None)
        return tuple(found)

    return parties


def _compile(
    name: str, inputs: Sequence[Mapping[str, Any]], readable: bool
) -> tuple[Callable[[Sequence[str], str], dict[str, Value]] | None, Callable[..., str]]:
    """Generate one decoding function and one JSON function per event (no per-field calls)."""
    env: dict[str, Any] = {"DecodeError": DecodeError, "_json_value": _json_value, "json": json}
    fields: list[str] = []
    js: list[str] = []
    topic, k = 0, 0
    for inp in inputs:
        typ, key = canonical_type(inp), repr(inp["name"])
        if inp["indexed"]:
            topic += 1
            t = f"topics[{topic}]"
            if typ == "address":
                expr = f'"0x" + {t}[26:66].lower()'
            elif typ.startswith("uint"):
                expr = f"int({t}, 16)"
            elif typ == "bool":
                expr = f"int({t}, 16) != 0"
            elif typ.startswith("int"):
                env[f"_t{topic}"] = _topic_decoder(typ)
                expr = f"_t{topic}({t})"
            else:
                expr = f"{t}.lower()"
        else:
            h = 2 + 64 * k
            if typ.startswith("uint") and not typ.endswith("]"):
                expr = f"int(data[{h}:{h + 64}], 16)"
            elif typ == "address":
                expr = f'"0x" + data[{h + 24}:{h + 64}].lower()'
            elif typ == "bool":
                expr = f"int(data[{h}:{h + 64}], 16) != 0"
            elif typ == "bytes32":
                expr = f'"0x" + data[{h}:{h + 64}].lower()'
            else:
                env[f"_r{k}"] = _reader(typ, k)
                expr = f"_r{k}(data)"
            k += 1
        fields.append(f"{key}: {expr}")
        field = f"a[{key}]"
        if (
            typ.endswith("]")
            or typ in ("string", "bytes")
            or (typ.startswith("int") and not typ.startswith("uint"))
        ):
            js.append(f'"\\"{inp["name"]}\\":" + _json_value({field})')
        elif typ == "bool":
            js.append(f'"\\"{inp["name"]}\\":" + ("true" if {field} else "false")')
        elif typ.startswith("uint"):
            js.append(f'"\\"{inp["name"]}\\":\\"" + str({field}) + "\\""')
        else:
            js.append(f'"\\"{inp["name"]}\\":\\"" + {field} + "\\""')
    json_src = 'def to_json(a):\n    return "{" + ' + ' + "," + '.join(js or ['""']) + ' + "}"\n'
    exec(json_src, env)
    if not readable:
        return None, env["to_json"]
    need = 2 + 64 * k
    src = (
        "def fast(topics, data):\n"
        f"    if len(topics) != {topic + 1}:\n"
        f"        raise DecodeError({name + ': expected ' + str(topic) + ' indexed topics'!r})\n"
        f"    if len(data) < {need}:\n"
        f"        raise DecodeError({name + ': data too short'!r})\n"
        f"    return {{{', '.join(fields)}}}\n"
    )
    exec(src, env)
    return env["fast"], env["to_json"]


class EventDecoder:
    """Decodes one event of one contract; built once, called per log.

    Indexed arguments and the data's head-tail layout of elementary types, arrays of them,
    strings and bytes are read straight from the hex (eth_abi's stream decoders cost about a
    millisecond for a split's three arrays); anything else goes through a precompiled eth_abi
    tuple decoder, which is also the reference the fast path is tested against.
    """

    __slots__ = (
        "_abi_decoder",
        "_data",
        "_data_len",
        "_names",
        "_topics",
        "_types",
        "contract",
        "fast",
        "name",
        "parties",
        "to_json",
        "topic0",
    )

    def __init__(self, contract: str, abi_event: Mapping[str, Any], codec: ABICodec) -> None:
        self.contract = contract
        self.name: str = abi_event["name"]
        self.topic0 = "0x" + keccak(text=signature(abi_event)).hex()
        inputs = abi_event["inputs"]
        self._topics = [(i["name"], _topic_decoder(i["type"])) for i in inputs if i["indexed"]]
        data_inputs = [(i["name"], canonical_type(i)) for i in inputs if not i["indexed"]]
        self._names = [n for n, _ in data_inputs]
        self._types = [t for _, t in data_inputs]
        self._abi_decoder: Any = codec._registry.get_tuple_decoder(*self._types, strict=False)
        readers = [(n, _reader(t, k)) for k, (n, t) in enumerate(data_inputs)]
        self._data: list[tuple[str, Callable[[str], Value]]] | None = None
        if all(r is not None for _, r in readers):
            self._data = [(n, r) for n, r in readers if r is not None]
        self._data_len = 2 + 64 * len(data_inputs)
        self.fast, self.to_json = _compile(self.name, inputs, self._data is not None)
        self.parties = _parties(inputs)

    def decode_args(self, topics: Sequence[str], data: str) -> dict[str, Value]:
        if len(topics) != len(self._topics) + 1:
            raise DecodeError(f"{self.name}: expected {len(self._topics)} indexed topics")
        args = {name: fn(topics[k]) for k, (name, fn) in enumerate(self._topics, start=1)}
        if len(data) < self._data_len:
            raise DecodeError(f"{self.name}: data too short")
        if self._data is not None:
            try:
                for name, read in self._data:
                    args[name] = read(data)
            except (ValueError, IndexError) as exc:
                raise DecodeError(f"{self.name}: {exc}") from exc
            return args
        args.update(self.decode_data_with_eth_abi(data))
        return args

    def decode_data_with_eth_abi(self, data: str) -> dict[str, Value]:
        """The data arguments through eth_abi (the fallback, and the reference in tests)."""
        try:
            stream = ContextFramesBytesIO(bytes.fromhex(data[2:]))  # type: ignore[no-untyped-call]
            values = self._abi_decoder(stream)
        except Exception as exc:
            raise DecodeError(f"{self.name}: {exc}") from exc
        return {
            name: _normalise(typ, value)
            for name, typ, value in zip(self._names, self._types, values, strict=True)
        }


class LogDecoder:
    """Decodes any log of the watched contracts: address → contract name, topic0 → decoder."""

    def __init__(self, contracts: Mapping[str, tuple[str, Iterable[Mapping[str, Any]]]]) -> None:
        """`contracts` maps contract name to (address, ABI)."""
        codec = ABICodec(default_registry)
        self._by_address: dict[str, dict[str, EventDecoder]] = {}
        self.names: dict[str, str] = {}
        for name, (address, abi) in contracts.items():
            addr = address.lower()
            self.names[addr] = name
            table = self._by_address.setdefault(addr, {})
            for item in abi:
                if item.get("type") == "event" and not item.get("anonymous", False):
                    dec = EventDecoder(name, item, codec)
                    table[dec.topic0] = dec

    @property
    def addresses(self) -> list[str]:
        return list(self._by_address)

    def event_decoder(self, log: RawLog) -> EventDecoder:
        return self._by_address[log["address"].lower()][log["topics"][0].lower()]

    def decode(self, log: RawLog) -> DecodedEvent:
        address = log["address"].lower()
        topics = log["topics"]
        try:
            dec = self._by_address[address][topics[0].lower()]
        except (KeyError, IndexError) as exc:
            raise DecodeError(
                f"unknown event at {address} topic {topics[:1]} (block {log['blockNumber']})"
            ) from exc
        data = log["data"]
        if dec.fast is not None:
            try:
                args = dec.fast(topics, data)
            except (ValueError, IndexError) as exc:
                raise DecodeError(f"{dec.name}: {exc}") from exc
        else:
            args = dec.decode_args(topics, data)
        return DecodedEvent(
            int(log["blockNumber"], 16),
            log["blockHash"].lower(),
            log["transactionHash"].lower(),
            int(log["transactionIndex"], 16),
            int(log["logIndex"], 16),
            address,
            dec.contract,
            dec.name,
            args,
            dec.to_json(args),
            dec.parties(args),
        )

    def decode_all(self, logs: Iterable[RawLog]) -> list[DecodedEvent]:
        return [self.decode(log) for log in logs]


def ledger_decoder(
    *, registry: str, token: str, receivables: str, build_dir: Any = None
) -> LogDecoder:
    """A decoder for a deployment of the three ledger contracts."""
    from chain.artifacts import get_artifact

    return LogDecoder(
        {
            "MemberRegistry": (registry, get_artifact("MemberRegistry", build_dir).abi),
            "SettlementToken": (token, get_artifact("SettlementToken", build_dir).abi),
            "Receivables": (receivables, get_artifact("Receivables", build_dir).abi),
        }
    )


def args_json(args: Mapping[str, Value]) -> str:
    """`json.dumps(json_args(args))`, compact, in one pass (the store's hot path)."""
    return "{" + ",".join(f'"{k}":{_json_value(v)}' for k, v in args.items()) + "}"


def _json_value(v: Value) -> str:
    t = type(v)
    if t is int:
        return f'"{v}"'
    if t is str:
        return f'"{v}"' if v.startswith("0x") and v.isalnum() else json.dumps(v)
    if t is bool:
        return "true" if v else "false"
    if t is list:
        return "[" + ",".join(_json_value(x) for x in v) + "]"
    return json.dumps(_jsonable(v))


def json_args(args: Mapping[str, Value]) -> dict[str, Value]:
    """Arguments for the JSON column: integers become decimal strings (lossless everywhere)."""
    return {k: _jsonable(v) for k, v in args.items()}


def _jsonable(v: Value) -> Value:
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    raise TypeError(f"unexpected argument value {v!r}")
