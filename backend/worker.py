"""The Celery tasks and the beat schedule: the one module that sees the executor, the
dispatcher and the keeper together (`scf worker` runs these tasks, `scf beat` the schedule)."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task
from celery.signals import worker_ready

from backend import keeper
from backend.models import utcnow
from backend.runtime import get_runtime
from backend.settings import BackendSettings
from backend.txn import dispatcher
from backend.txn.errors import Transient
from backend.txn.executor import execute, past_queued
from backend.txn.queue import EXECUTE_TX, celery_app, configure_celery, dispatch_started, send

log = logging.getLogger(__name__)


def configure(settings: BackendSettings) -> Celery:
    """The Celery app for `settings`, with the keeper's schedule."""
    return configure_celery(settings, beat_schedule=beat_schedule(settings))


def beat_schedule(settings: BackendSettings) -> dict[str, dict[str, Any]]:
    return {job.name: {"task": job.task, "schedule": job.every(settings)} for job in keeper.JOBS}


@celery_app.task(name=EXECUTE_TX, bind=True, max_retries=20)  # type: ignore[untyped-decorator]
def execute_tx(self: Task[Any, Any], request_id: str | None, batched: bool = False) -> str | None:
    """Execute transaction requests (safe to run again: see `backend.txn.executor`).

    Queued custodial requests go in batches (`backend.txn.dispatcher`): a task finding a
    dispatcher already running returns at once, as that one takes its request. A task for
    anything else (client-signed, retried, recovered) then runs its request alone, and resumes
    requests a dead worker abandoned. Without a request (a worker starting): a dispatcher pass
    and the abandoned requests only."""
    rt = get_runtime()
    if batched:
        dispatch_started()
    try:
        ran = dispatcher.run(rt)
        if batched and ran is None:
            return None
        mine = request_id is not None and past_queued(rt, request_id)
        status = execute(rt, request_id) if mine and request_id is not None else None
        for stale in dispatcher.abandoned(rt):  # a dead worker's, whose message is gone
            execute(rt, stale)
        lapse = dispatcher.next_lapse(rt)
        if lapse is not None and not self.request.is_eager:
            # look again once those claims lapse, in case their holder died meanwhile; a delay
            # past the broker's visibility timeout would have the message handed out twice
            wait = max((lapse - utcnow()).total_seconds(), 0) + 1
            cap = rt.settings.broker_visibility_timeout_seconds / 2
            execute_tx.apply_async(args=[request_id, False], countdown=min(wait, cap))
    except Transient as exc:
        log.warning("transient failure, will retry", extra={"request": request_id, "err": str(exc)})
        if self.request.is_eager:
            return None  # the keeper's recovery sweep picks it up
        raise self.retry(exc=exc, countdown=min(2**self.request.retries, 30)) from exc
    return None if status is None else status.value


@worker_ready.connect  # type: ignore[untyped-decorator]
def resume_on_start(**_: Any) -> None:
    """A worker that starts clears the dispatch flag (one a worker that died before starting
    its run left set would hold new requests back) and asks for a dispatcher pass: what is
    queued, and what a dead dispatcher left in flight (`dispatcher.run` lapses its claims)."""
    dispatch_started()
    send(EXECUTE_TX, None, False)
    log.info("worker ready: dispatch flag cleared, dispatcher pass asked for")


def _register(job: keeper.Job) -> None:
    @celery_app.task(name=job.task)  # type: ignore[untyped-decorator]
    def run() -> Any:
        return job.run(get_runtime())


for _job in keeper.JOBS:
    _register(_job)
