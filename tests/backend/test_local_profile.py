"""The story on the local profile: anvil + PostgreSQL + Redis, writes executed by a real Celery
worker process."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis

from backend.settings import BackendSettings
from chain.connection import AnvilProcess, dev_account, start_anvil
from chain.settings import ChainSettings
from tests.backend.conftest import Api, make_api
from tests.backend.test_story import run_story

PG_ADMIN_DSN = os.environ.get("SCF_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SCF_TEST_REDIS_URL", "redis://127.0.0.1:6379/7")

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilProcess]:
    proc = start_anvil(ChainSettings(profile="anvil"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    name = f"scf_api_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def local_env(
    anvil: AnvilProcess, database: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    redis.Redis.from_url(REDIS_URL).flushdb()
    deployment = tmp_path_factory.mktemp("local") / "deployment.json"
    return {
        "SCF_PROFILE": "local",
        "SCF_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "SCF_OPERATOR_KEY": dev_account(0).key.hex(),
        "SCF_KEEPER_KEY": dev_account(9_999).key.hex(),
        "SCF_DATABASE_URL": database,
        "SCF_MIRROR_DATABASE_URL": database,
        "SCF_BROKER_URL": REDIS_URL,
        "SCF_DEPLOYMENT_PATH": str(deployment),
        "SCF_CHAIN_PROFILE": "rpc",
        "SCF_CHAIN_RPC_URL": anvil.url,
        "SCF_CHAIN_FEE_MODE": "zero",
    }


@pytest.fixture(scope="module")
def local_api(local_env: dict[str, str], anvil: AnvilProcess) -> Iterator[Api]:
    saved = {k: os.environ.get(k) for k in local_env}
    os.environ.update(local_env)
    worker: subprocess.Popen[bytes] | None = None
    log_path = Path(local_env["SCF_DEPLOYMENT_PATH"]).with_name("worker.log")
    try:
        settings = BackendSettings(deploy=True, run_indexer=True, wait_timeout_seconds=60)
        gen = make_api(settings, ChainSettings())
        # the worker must start once the deployment record exists: make_api deploys first
        # and only then onboards, so start it from the runtime's lifespan hook below.
        from backend import runtime as runtime_module

        original = runtime_module.build_runtime

        def build_and_start_worker(*args: object, **kw: object) -> runtime_module.Runtime:
            nonlocal worker
            rt = original(*args, **kw)  # type: ignore[arg-type]
            with log_path.open("wb") as log:
                worker = subprocess.Popen(
                    [str(Path(sys.executable).with_name("scf")), "worker", "--concurrency", "8"],
                    env={**os.environ},
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            deadline = time.monotonic() + 90
            while b"ready." not in log_path.read_bytes():
                assert time.monotonic() < deadline, log_path.read_text(errors="replace")
                time.sleep(0.2)
            return rt

        import backend.app as app_module

        app_module.build_runtime = build_and_start_worker  # type: ignore[assignment]
        try:
            api = next(gen)
        finally:
            app_module.build_runtime = original
        yield api
        gen.close()
    finally:
        if worker is not None:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def test_story_on_the_local_profile_with_a_celery_worker(local_api: Api) -> None:
    assert local_api.rt.settings.eager is False
    rt = local_api.rt

    def advance(seconds: int) -> None:
        rt.conn.rpc("evm_increaseTime", [seconds])
        rt.conn.rpc("evm_mine")

    run_story(local_api, advance)
