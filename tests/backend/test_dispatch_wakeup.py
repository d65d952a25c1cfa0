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


def test_a_lost_message_blocks_no_one_past_the_visibility_timeout(broker: redis.Redis) -> None:
    enqueue("r1", batched=True)
    broker.delete("celery")  # the message is lost; the broker would hand it out again by then
    enqueue("r2", batched=True)
    assert _published(broker) == 0
    time.sleep(2.2)
    enqueue("r3", batched=True)
    assert _published(broker) == 1
