"""Everything a process of the backend holds once: chain connection, contracts, engines, keys,
and (in the embedded profile) the in-process indexer. The API, the workers and the keeper each
build one from the same settings."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from backend.blobstore import BlobStore, open_blob_store
from backend.db import make_engine, session_scope, upgrade
from backend.errors import Conflict
from backend.models import CustodyKey
from backend.ratelimit import Limiter
from backend.security import CsrfSigner, KeyVault, TokenIssuer, master_key_bytes
from backend.settings import BackendSettings
from chain.abi import CalldataEncoder
from chain.connection import ChainConnection, connect, dev_account
from chain.consortium import entity_id
from chain.deploy import Contracts, Deployment, deploy
from chain.outbox import OutboxSender
from chain.settings import REPO_ROOT, ChainSettings
from indexer.decode import LogDecoder, ledger_decoder
from indexer.runner import Indexer, open_indexer
from indexer.settings import IndexerSettings

log = logging.getLogger(__name__)

KEEPER_DEV_INDEX = 9_999


@dataclass
class Runtime:
    settings: BackendSettings
    chain_settings: ChainSettings
    indexer_settings: IndexerSettings
    conn: ChainConnection
    deployment: Deployment
    contracts: Contracts
    sender: OutboxSender
    engine: Engine
    mirror: Engine
    vault: KeyVault
    tokens: TokenIssuer
    csrf: CsrfSigner
    operator: LocalAccount
    keeper: LocalAccount
    limiter: Limiter
    blobs: BlobStore
    indexer: Indexer | None = None
    _accounts: dict[str, LocalAccount] = field(default_factory=dict)
    _accounts_lock: threading.Lock = field(default_factory=threading.Lock)
    _custodial: set[str] = field(default_factory=set)  # addresses known held (set.add is atomic)
    _encoders: dict[str, CalldataEncoder] = field(default_factory=dict)
    _clock: tuple[float, int] = (float("-inf"), 0)  # (monotonic read at, chain timestamp)

    @property
    def chain_id(self) -> int:
        return self.deployment.chain_id

    def chain_time_floor(self, max_age: float = 0.5) -> int:
        """A lower bound of the chain's clock, read from the node at most every `max_age`
        seconds (the clock only moves on). Fit to refuse what the chain would surely refuse
        (a due date already past), never to refuse what it would accept: use `conn`'s
        latest timestamp for that."""
        read_at, timestamp = self._clock
        if time.monotonic() - read_at > max_age:
            read_at = time.monotonic()
            timestamp = self.conn.latest_timestamp()
            self._clock = (read_at, timestamp)
        return timestamp

    def calldata(self, contract: str) -> CalldataEncoder:
        """The calldata encoder of `contract` ("registry", "token" or "receivables")."""
        encoder = self._encoders.get(contract)
        if encoder is None:
            encoder = CalldataEncoder(getattr(self.contracts, contract).abi)
            self._encoders[contract] = encoder
        return encoder

    @cached_property
    def log_decoder(self) -> LogDecoder:
        """Decodes the ledger's logs: what a mined request reports back (a new root id, ...)."""
        d = self.deployment
        return ledger_decoder(
            registry=d.registry.address,
            token=d.token.address,
            receivables=d.receivables.address,
            build_dir=self.chain_settings.build_dir,
        )

    # -- custody ---------------------------------------------------------------------------

    def store_key(self, account: LocalAccount) -> None:
        """Take `account`'s key into custody (encrypted); a no-op if already held."""
        address = account.address.lower()
        try:
            with session_scope(self.engine) as session:
                if session.get(CustodyKey, address) is not None:
                    return
                nonce, ciphertext = self.vault.seal(address=address, private_key=bytes(account.key))
                session.add(CustodyKey(address=address, nonce=nonce, ciphertext=ciphertext))
        except IntegrityError:
            pass  # another process (an API worker starting beside this one) stored it first
        with self._accounts_lock:
            self._accounts[address] = account

    def has_key(self, address: str) -> bool:
        address = address.lower()
        if address in self._accounts or address in self._custodial:
            return True
        with Session(self.engine) as session:
            held = session.get(CustodyKey, address) is not None
        if held:
            self._custodial.add(address)  # custody is never given up: no need to ask again
        return held

    def account_for(self, address: str) -> LocalAccount:
        """The custodial signer for `address`, decrypted once per process."""
        address = address.lower()
        with self._accounts_lock:
            cached = self._accounts.get(address)
        if cached is not None:
            return cached
        if address == self.keeper.address.lower():
            return self.keeper
        with Session(self.engine) as session:
            row = session.get(CustodyKey, address)
        if row is None:
            raise Conflict(
                f"{address} is not a custodial member: the server holds no key to sign for it",
                code="SignerNotCustodial",
            )
        account = self.vault.open(address=address, nonce=row.nonce, ciphertext=row.ciphertext)
        with self._accounts_lock:
            self._accounts[address] = account
        return account

    # -- mirror ----------------------------------------------------------------------------

    def mirror_cursor(self) -> int:
        """The last block the mirror covers (-1 if not attached yet)."""
        with self.mirror.connect() as conn:
            value = conn.execute(
                text("SELECT cursor_block FROM indexer_state WHERE chain_id = :c"),
                {"c": self.chain_id},
            ).scalar()
        return -1 if value is None else int(value)

    def close(self) -> None:
        if self.indexer is not None:
            self.indexer.close()
            self.indexer.engine.dispose()
            self.indexer = None
        self.engine.dispose()
        self.mirror.dispose()
        self.conn.close()


def _embedded_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="scf-embedded-"))


def _beside(database_url: str) -> Path:
    """The folder of a SQLite database file (else `var/`): where the embedded master key and
    the filesystem document store live."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent
    return REPO_ROOT / "var"


def build_runtime(
    settings: BackendSettings,
    *,
    chain_settings: ChainSettings | None = None,
    indexer_settings: IndexerSettings | None = None,
) -> Runtime:
    """Connect, deploy or attach, migrate the backend's tables, start the indexer if asked."""
    chain_settings = chain_settings or (
        ChainSettings(profile="tester") if settings.embedded else ChainSettings()
    )
    indexer_settings = indexer_settings or IndexerSettings()
    database_url = settings.database_url
    mirror_url = settings.mirror_database_url or indexer_settings.database_url
    if settings.embedded and settings.should_deploy:
        # A fresh chain each start: its mirror and off-chain state must be fresh too.
        fields = settings.model_fields_set
        workdir = _embedded_dir()
        if "database_url" not in fields:
            database_url = f"sqlite:///{workdir / 'backend.sqlite3'}"
        if "mirror_database_url" not in fields:
            mirror_url = f"sqlite:///{workdir / 'mirror.sqlite3'}"
    conn = connect(chain_settings)
    try:
        operator = _operator(settings)
        keeper = _keeper(settings)
        if conn.profile != "rpc":
            for acct in (operator, keeper):
                if conn.w3.eth.get_balance(acct.address) == 0:
                    conn.fund(acct.address)
        sender = OutboxSender(conn)
        if settings.should_deploy:
            deployment = deploy(
                conn, operator=operator, operator_entity_id=entity_id("operator"), sender=sender
            )
            if settings.deployment_path is not None:
                deployment.save(settings.deployment_path)
        else:
            deployment = Deployment.load(settings.deployment_path or chain_settings.deployment_path)
        pool = {"pool_size": settings.db_pool_size, "max_overflow": settings.db_pool_overflow}
        engine = make_engine(database_url, **pool)
        upgrade(engine)
        master = master_key_bytes(settings, key_dir=_beside(database_url))
        mirror = engine if mirror_url == database_url else make_engine(mirror_url, **pool)
        runtime = Runtime(
            settings=settings,
            chain_settings=chain_settings,
            indexer_settings=indexer_settings,
            conn=conn,
            deployment=deployment,
            contracts=Contracts.bind(conn.w3, deployment, chain_settings.build_dir),
            sender=sender,
            engine=engine,
            mirror=mirror,
            vault=KeyVault.from_master(master),
            tokens=TokenIssuer.from_master(master, settings),
            csrf=CsrfSigner.from_master(master),
            operator=operator,
            keeper=keeper,
            limiter=Limiter.from_settings(settings),
            blobs=open_blob_store(settings, default_dir=_beside(database_url) / "documents"),
        )
        runtime.store_key(operator)
        if settings.should_run_indexer:
            # The writer has its own engine: readers holding connections never starve it.
            indexer = open_indexer(
                w3=conn.w3,
                deployment=deployment,
                engine=make_engine(mirror_url),
                settings=indexer_settings,
            )
            indexer.start()
            runtime.indexer = indexer
            # Serve nothing from a mirror that has not caught up with what is already there.
            indexer.wait_for_block(conn.w3.eth.block_number, timeout=settings.wait_timeout_seconds)
        return runtime
    except BaseException:
        conn.close()
        raise


def _operator(settings: BackendSettings) -> LocalAccount:
    if settings.operator_key is not None:
        account: LocalAccount = Account.from_key(settings.operator_key.get_secret_value())
        return account
    return dev_account(0)


def _keeper(settings: BackendSettings) -> LocalAccount:
    if settings.keeper_key is not None:
        account: LocalAccount = Account.from_key(settings.keeper_key.get_secret_value())
        return account
    return dev_account(KEEPER_DEV_INDEX)


# -- the process-wide runtime (workers build it lazily) -----------------------------------------

_current: Runtime | None = None
_current_lock = threading.Lock()


def set_runtime(runtime: Runtime | None) -> Runtime | None:
    """Make `runtime` the process's; returns the one it replaces, for the caller to restore."""
    global _current
    with _current_lock:
        previous, _current = _current, runtime
        return previous


def get_runtime() -> Runtime:
    """The process's runtime; a worker builds it from the environment on first use."""
    global _current
    with _current_lock:
        if _current is None:
            _current = build_runtime(BackendSettings(deploy=False, run_indexer=False))
        return _current


__all__ = ["Runtime", "build_runtime", "get_runtime", "set_runtime"]
