"""The Celery app and how a committed request reaches the workers: enqueue by task name (the
tasks live in `backend.worker`), and the flag that lets new custodial requests share one
dispatcher message."""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import Celery

from backend.settings import BackendSettings

log = logging.getLogger(__name__)

#: Task names: `backend.worker` registers them, everything else sends by name.
EXECUTE_TX = "scf.execute_tx"
WORKER_MODULE = "backend.worker"

celery_app = Celery("scf")
celery_app.conf.update(
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    task_eager_propagates=True,
    broker_connection_retry_on_startup=True,
    include=[WORKER_MODULE],
)


def configure_celery(
    settings: BackendSettings, *, beat_schedule: dict[str, dict[str, Any]]
) -> Celery:
    celery_app.conf.update(
        broker_url=settings.broker_url,
        task_always_eager=settings.eager,
        broker_transport_options={
            # a message a dead worker had taken is handed out again after this long ...
            "visibility_timeout": settings.broker_visibility_timeout_seconds,
            # ... and looked for this often (kombu's default sweep is ~100 s apart)
            "unacked_restore_interval": max(1, settings.broker_visibility_timeout_seconds // 4),
            "unacked_restore_throttle": 1,
        },
        beat_schedule=beat_schedule,
    )
    global _flag_seconds
    _flag_seconds = settings.dispatch_flag_seconds
    # Connections are pooled on first use: drop them so that a new broker URL takes effect.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
    return celery_app


def send(task: str, *args: Any, countdown: float | None = None) -> None:
    """Send `task` by name; run at once when tasks are eager (Celery's `send_task` would not)."""
    if task not in celery_app.tasks:
        celery_app.loader.import_default_modules()  # the worker module, as a worker loads it
    celery_app.tasks[task].apply_async(args=list(args), countdown=countdown)


def enqueue(request_id: str, *, batched: bool = False) -> None:
    """Hand a committed request to the workers (run at once when eager). `batched`: a new
    custodial request, which the batch dispatcher takes (see `backend.worker.execute_tx`); it
    needs no message of its own while a dispatcher run is wanted and has not started yet."""
    if batched and not _want_dispatch():
        return
    send(EXECUTE_TX, request_id, batched)


#: Set (in the broker's Redis) from when a dispatcher run is asked for until a worker starts
#: it. A request committed meanwhile is claimed by that run, or, if another dispatcher holds
#: the lock then, by that one's look for queued requests after it lets go (`dispatcher.run`).
#: It lives only a few seconds (`dispatch_flag_seconds`), not until the broker hands a lost
#: message out again: a worker that took the message and died before starting it holds the
#: flag for no one, and a request after it then sends a message of its own (a message too
#: many costs a dispatcher run that finds another running, or nothing queued, and returns).
WANTED_KEY = "scf:dispatch:wanted"
_flag_seconds = 3.0
_redis_clients: dict[str, redis.Redis] = {}


def _broker_redis() -> redis.Redis | None:
    url = str(celery_app.conf.broker_url or "")
    if celery_app.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return None
    client = _redis_clients.get(url)
    if client is None:
        client = _redis_clients.setdefault(url, redis.Redis.from_url(url))
    return client


def _want_dispatch() -> bool:
    """Ask for a dispatcher run: True if the caller must send the message (none is pending)."""
    client = _broker_redis()
    if client is None:
        return True
    try:
        return bool(client.set(WANTED_KEY, b"1", nx=True, px=max(int(_flag_seconds * 1000), 1)))
    except redis.RedisError:
        return True  # the message itself then succeeds or fails loudly


def dispatch_started() -> None:
    """Before a dispatcher run looks for queued requests (and when a worker starts: a flag
    left by a dead one is no one's): later requests ask for a run again."""
    client = _broker_redis()
    if client is not None:
        try:
            client.delete(WANTED_KEY)
        except redis.RedisError:
            log.warning("could not clear the dispatch flag; it expires by itself")
