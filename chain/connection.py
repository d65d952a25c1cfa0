"""Connection profiles: in-process eth-tester, a spawned anvil, or any JSON-RPC URL."""

from __future__ import annotations

import atexit
import contextlib
import logging
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware
from web3.providers import BaseProvider
from web3.providers.eth_tester import EthereumTesterProvider
from web3.types import RPCEndpoint, RPCResponse

from chain.errors import ProfileError
from chain.nonces import NonceManager
from chain.settings import ChainSettings

log = logging.getLogger(__name__)

DEV_ACCOUNT_SEED = b"scf-ledger dev account "
DEFAULT_FUNDING_WEI = 100 * 10**18


class _LockedTesterProvider(EthereumTesterProvider):
    """eth-tester is not thread-safe; serialise every request through one lock."""

    def __init__(self, tester: Any) -> None:
        super().__init__(tester)
        self.lock = threading.RLock()

    def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        with self.lock:
            return super().make_request(method, params)


@dataclass
class AnvilProcess:
    """A running anvil child process."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.log_path is not None:
            self.log_path.unlink(missing_ok=True)
            self.log_path = None


@dataclass
class ChainConnection:
    """A `Web3` plus profile-specific helpers (time, snapshots, funding) and nonce state."""

    w3: Web3
    settings: ChainSettings
    anvil: AnvilProcess | None = None
    nonces: NonceManager = field(init=False)
    _chain_id: int | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        w3 = self.w3
        self.nonces = NonceManager(
            lambda addr: w3.eth.get_transaction_count(to_checksum_address(addr), "pending")
        )

    @property
    def profile(self) -> str:
        return self.settings.profile

    @property
    def fee_mode(self) -> str:
        return self.settings.effective_fee_mode

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    @property
    def tester(self) -> Any:
        """The underlying `EthereumTester` (tester profile only)."""
        provider = self.w3.provider
        if not isinstance(provider, EthereumTesterProvider):
            raise ProfileError(f"profile {self.profile!r} has no eth-tester")
        return provider.ethereum_tester

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        """Raw JSON-RPC call (anvil/rpc) returning `result` or raising ProfileError."""
        resp = self.w3.provider.make_request(RPCEndpoint(method), params or [])
        if resp.get("error"):
            raise ProfileError(f"{method} failed: {resp['error']}")
        return resp.get("result")

    # -- time and blocks -------------------------------------------------------------------

    def latest_timestamp(self) -> int:
        """The latest block's timestamp (raw JSON-RPC where there is a node: web3's block
        formatting costs more than the call itself, and writes ask this once each)."""
        if isinstance(self.w3.provider, EthereumTesterProvider):
            return int(self.w3.eth.get_block("latest")["timestamp"])
        return int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def advance_time(self, seconds: int) -> int:
        """Move chain time forward by `seconds` and mine a block; returns its timestamp."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        if self.profile == "tester":
            target = self.latest_timestamp() + max(seconds, 1)
            with self._tester_lock():
                # eth-tester's mined block may land a second short of the requested time.
                for _ in range(3):
                    pending = int(self.tester.get_block_by_number("pending")["timestamp"])
                    self.tester.time_travel(max(target, pending + 1))
                    if self.latest_timestamp() >= target:
                        break
        elif self.profile == "anvil":
            self.rpc("evm_increaseTime", [seconds])
            self.rpc("evm_mine")
        else:
            raise ProfileError("advance_time needs the tester or anvil profile")
        return self.latest_timestamp()

    def mine(self, blocks: int = 1) -> None:
        if self.profile == "tester":
            with self._tester_lock():
                self.tester.mine_blocks(blocks)
        elif self.profile == "anvil":
            self.rpc("anvil_mine", [hex(blocks)])
        else:
            raise ProfileError("mine needs the tester or anvil profile")

    def snapshot(self) -> Any:
        """Take a state snapshot to `revert` to later (tester, anvil)."""
        if self.profile == "tester":
            with self._tester_lock():
                return self.tester.take_snapshot()
        if self.profile == "anvil":
            return self.rpc("evm_snapshot")
        raise ProfileError("snapshot needs the tester or anvil profile")

    def revert(self, snapshot_id: Any) -> None:
        """Restore a snapshot and drop cached nonces."""
        if self.profile == "tester":
            with self._tester_lock():
                self.tester.revert_to_snapshot(snapshot_id)
        elif self.profile == "anvil":
            if not self.rpc("evm_revert", [snapshot_id]):
                raise ProfileError(f"evm_revert({snapshot_id}) refused")
        else:
            raise ProfileError("revert needs the tester or anvil profile")
        self.nonces.reset()

    def _tester_lock(self) -> threading.RLock:
        return cast(_LockedTesterProvider, self.w3.provider).lock

    # -- accounts --------------------------------------------------------------------------

    def fund(self, address: str, wei: int = DEFAULT_FUNDING_WEI) -> None:
        """Give `address` native currency (tester: a faucet transfer; anvil: set the balance)."""
        address = to_checksum_address(address)
        if self.profile == "tester":
            with self._tester_lock():
                faucet = self.tester.get_accounts()[0]
                self.tester.send_transaction(
                    {"from": faucet, "to": address, "value": wei, "gas": 21000}
                )
        elif self.profile == "anvil":
            self.rpc("anvil_setBalance", [address, hex(wei)])
        else:
            raise ProfileError("cannot fund accounts on an rpc chain")

    def dev_accounts(self, count: int, *, fund: bool = True) -> list[LocalAccount]:
        """Deterministic local keys for tests and the demo, funded unless on a real rpc chain."""
        accounts = [dev_account(i) for i in range(count)]
        if fund and self.profile != "rpc":
            for acct in accounts:
                self.fund(acct.address)
        return accounts

    def new_account(self, *, fund: bool = True) -> LocalAccount:
        """A fresh random key, funded unless on a real rpc chain."""
        acct: LocalAccount = Account.create()
        if fund and self.profile != "rpc":
            self.fund(acct.address)
        return acct

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        if self.anvil is not None:
            self.anvil.stop()
            self.anvil = None

    def __enter__(self) -> ChainConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


#: Development keys are derived from a seed that is in the repository: public keys, for any role.
DEV_KEYS_CHECKED = 10_000


def is_dev_key(private_key: bytes | str) -> bool:
    """Whether `private_key` is one of the first `DEV_KEYS_CHECKED` development keys (the
    keeper's default among them), which anyone who reads the repository can derive."""
    raw = (
        bytes.fromhex(private_key.removeprefix("0x"))
        if isinstance(private_key, str)
        else private_key
    )
    return any(keccak(DEV_ACCOUNT_SEED + str(i).encode()) == raw for i in range(DEV_KEYS_CHECKED))


def dev_account(index: int) -> LocalAccount:
    """The `index`-th deterministic development key (never use outside dev/test)."""
    key = keccak(DEV_ACCOUNT_SEED + str(index).encode())
    acct: LocalAccount = Account.from_key(key)
    return acct


def connect(settings: ChainSettings | None = None) -> ChainConnection:
    """Open a connection for the configured profile."""
    settings = settings or ChainSettings()
    if settings.profile == "tester":
        return ChainConnection(Web3(_tester_provider(settings)), settings)
    if settings.profile == "anvil":
        anvil = start_anvil(settings)
        try:
            w3 = Web3(_http_provider(anvil.url, settings))
            return ChainConnection(w3, settings, anvil=anvil)
        except BaseException:
            anvil.stop()
            raise
    if settings.profile == "rpc":
        w3 = Web3(_http_provider(settings.rpc_url, settings))
        if settings.poa_middleware:
            w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        if not w3.is_connected():
            raise ProfileError(f"no JSON-RPC node answering at {settings.rpc_url}")
        return ChainConnection(w3, settings)
    raise ProfileError(f"unknown profile {settings.profile!r}")


def _tester_provider(settings: ChainSettings) -> BaseProvider:
    from eth_tester import EthereumTester, PyEVMBackend

    params = PyEVMBackend.generate_genesis_params(
        overrides={"gas_limit": settings.tester_gas_limit}
    )
    backend = PyEVMBackend(genesis_parameters=params)
    return _LockedTesterProvider(EthereumTester(backend))


def _http_provider(url: str, settings: ChainSettings) -> BaseProvider:
    return Web3.HTTPProvider(url, request_kwargs={"timeout": settings.rpc_timeout_seconds})


def anvil_binary(settings: ChainSettings) -> Path:
    """The anvil executable: explicit setting, else contracts/node_modules, else PATH."""
    candidates = [
        settings.anvil_bin,
        settings.contracts_dir / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil",
        settings.contracts_dir / "node_modules/.bin/anvil",
    ]
    for cand in candidates:
        if cand is not None and cand.exists():
            return cand
    from shutil import which

    found = which("anvil")
    if found:
        return Path(found)
    raise ProfileError("anvil not found; run `make node` (npm ci in contracts/)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_anvil(settings: ChainSettings) -> AnvilProcess:
    """Spawn anvil and wait until it answers JSON-RPC; it is stopped at exit."""
    binary = anvil_binary(settings)
    attempts = 3 if settings.anvil_port == 0 else 1
    last_error = ""
    for _ in range(attempts):
        port = settings.anvil_port or _free_port()
        cmd = [
            str(binary),
            "--host", "127.0.0.1",
            "--port", str(port),
            "--chain-id", str(settings.anvil_chain_id),
            "--gas-limit", str(settings.anvil_gas_limit),
            "--hardfork", settings.evm_version,
        ]  # fmt: skip
        if settings.anvil_zero_gas:
            cmd += ["--gas-price", "0", "--base-fee", "0"]
        if settings.anvil_block_time:
            cmd += ["--block-time", str(settings.anvil_block_time)]
        log.info("starting anvil", extra={"cmd": " ".join(cmd)})
        with tempfile.NamedTemporaryFile(prefix="anvil-", suffix=".log", delete=False) as errlog:
            proc = subprocess.Popen(
                cmd, stdout=subprocess.DEVNULL, stderr=errlog, start_new_session=True
            )
        anvil = AnvilProcess(proc, port, Path(errlog.name))
        atexit.register(anvil.stop)
        if _wait_for_rpc(anvil, settings.anvil_start_timeout_seconds):
            return anvil
        last_error = Path(errlog.name).read_text(errors="replace")[-2000:]
        anvil.stop()
    raise ProfileError(f"anvil did not start: {last_error}")


def _wait_for_rpc(anvil: AnvilProcess, timeout: float) -> bool:
    import requests

    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}
    while time.monotonic() < deadline:
        if anvil.proc.poll() is not None:
            return False
        with contextlib.suppress(requests.RequestException):
            if requests.post(anvil.url, json=body, timeout=1).ok:
                return True
        time.sleep(0.05)
    return False


__all__ = [
    "AnvilProcess",
    "ChainConnection",
    "anvil_binary",
    "connect",
    "dev_account",
    "start_anvil",
]
