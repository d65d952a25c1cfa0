"""New custodial requests share one Celery message while a dispatcher run is pending (against
the real Redis broker; nothing consumes the queue here, so every published message stays)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
import redis

from backend.txn import queue
from backend.txn.queue import celery_app, enqueue

_XDIST_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URL = os.environ.get("SCF_TEST_WAKE_REDIS_URL", f"redis://127.0.0.1:6379/{13 + _XDIST_INDEX}")


@pytest.fixture
def broker() -> Iterator[redis.Redis]:
    saved = (
        celery_app.conf.broker_url,
        celery_app.conf.task_always_eager,
        celery_app.conf.broker_transport_options,
    )
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    celery_app.conf.update(
        broker_url=REDIS_URL,
        task_always_eager=False,
        broker_transport_options={"visibility_timeout": 2},
    )
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    try:
        yield client
    finally:
        client.flushdb()
        url, eager, options = saved
        celery_app.conf.update(
            broker_url=url, task_always_eager=eager, broker_transport_options=options
        )
        celery_app._pool = None
        celery_app.amqp._producer_pool = None


def _published(client: redis.Redis) -> int:
    return int(client.llen("celery"))


def test_requests_share_the_pending_message_until_a_run_starts(broker: redis.Redis) -> None:
    enqueue("r1", batched=True)
    assert _published(broker) == 1
    enqueue("r2", batched=True)
    enqueue("r3", batched=True)
    assert _published(broker) == 1  # the pending run takes them
    queue.dispatch_started()  # a worker starts that run: later requests ask again
    enqueue("r4", batched=True)
    assert _published(broker) == 2
    enqueue("r5")  # not for the batch dispatcher (signed by its member, or a retry): its own
    assert _published(broker) == 3


def test_a_taken_message_whose_worker_died_blocks_no_one_for_long(
    broker: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker took the message and died before starting it: the broker hands the message out
    again only after its visibility timeout (60 s here), but the flag lapses in seconds."""
    celery_app.conf.broker_transport_options = {"visibility_timeout": 60}
    monkeypatch.setattr(queue, "_flag_seconds", 1.0, raising=False)
    enqueue("r1", batched=True)
    broker.delete("celery")  # taken by the worker that died
    enqueue("r2", batched=True)
    assert _published(broker) == 0  # a run is pending as far as anyone can tell
    time.sleep(1.2)
    enqueue("r3", batched=True)
    assert _published(broker) == 1  # a live worker takes this one: r1..r3 are queued for it
