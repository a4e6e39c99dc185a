"""Database work off the event loop: a thread pool for ordinary calls, a group-commit
writer for the meter stream, a buffer for last-seen times, and the outbox relay.

Why a group-commit writer: with 2,000 chargers each sending MeterValues every second, one
transaction per message is 2,000 commits (and fsyncs) a second. The writer gathers what
arrives within a few milliseconds from every charger, stores it in one transaction, and
only then resolves each handler's future — so every charger is still answered after its
values are durable, and PostgreSQL sees tens of commits a second instead of thousands.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from backend.services import charger_state, session_outbox
from backend.services.session_outbox import SessionEndedPort

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class Database:
    """Run `fn(session, *args)` in a worker thread with a fresh SQLAlchemy session."""

    def __init__(self, session_factory: sessionmaker[Session], threads: int) -> None:
        self._factory = session_factory
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="bridge-db")

    async def run(self, fn: Callable[..., R], *args: Any) -> R:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(self.call, fn, *args))

    def call(self, fn: Callable[..., R], *args: Any) -> R:
        with self._factory() as s:
            return fn(s, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


class GroupCommitWriter(Generic[T, R]):
    """Batch items from many chargers into one transaction.

    ``flush(session, items) -> results`` stores a batch and commits; one result per item.
    Should a batch fail, its items are retried one by one, so a single bad item fails
    alone (its charger gets a CALLERROR and resends) and the others still succeed.
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        flush: Callable[[Session, Sequence[T]], Sequence[R]],
        *,
        max_batch: int,
        max_delay_s: float,
    ) -> None:
        self._factory = session_factory
        self._flush = flush
        self._max_batch = max_batch
        self._max_delay_s = max_delay_s
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._wake = asyncio.Event()
        # One thread: batches are serial, each one as large as the load makes it.
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="bridge-writer")
        self._task: asyncio.Task[None] | None = None
        self.batches = 0  # for tests and metrics
        self.items = 0
        self.busy_s = 0.0  # time spent storing, in the writer's thread

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit-writer")

    async def submit(self, item: T) -> R:
        """Queue an item; return its result once its batch is committed."""
        if self._task is None or self._task.done():
            raise RuntimeError("the writer is not running")
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            if len(self._queue) < self._max_batch and self._max_delay_s > 0:
                await asyncio.sleep(self._max_delay_s)  # let others join this commit
            batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
            if not self._queue:
                self._wake.clear()
            if not batch:
                continue
            items = [item for item, _ in batch]
            try:
                results = await loop.run_in_executor(self._thread, self._store, items)
            except Exception:
                log.exception("meter batch of %d failed; retrying one by one", len(items))
                results = await loop.run_in_executor(self._thread, self._store_each, items)
            self.batches += 1
            self.items += len(items)
            for (_, future), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _store(self, items: Sequence[T]) -> Sequence[R | BaseException]:
        began = time.perf_counter()
        try:
            with self._factory() as s:
                return list(self._flush(s, items))
        finally:
            self.busy_s += time.perf_counter() - began

    def _store_each(self, items: Sequence[T]) -> list[R | BaseException]:
        results: list[R | BaseException] = []
        for item in items:
            try:
                results.extend(self._store([item]))
            except Exception as exc:  # handed to that item's handler: CALLERROR
                results.append(exc)
        return results

    async def close(self) -> None:
        """Stop after the queued items are written."""
        while self._queue and self._task and not self._task.done():
            await asyncio.sleep(0.005)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._thread.shutdown(wait=True)


class LastSeen:
    """Last-heard times kept in memory and written for all chargers at once."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._pending: dict[int, datetime] = {}

    def touch(self, charge_point_id: int, at: datetime) -> None:
        self._pending[charge_point_id] = at

    async def flush(self) -> None:
        pending, self._pending = self._pending, {}
        if pending:
            try:
                await self._db.run(charger_state.flush_last_seen, pending)
            except Exception:
                log.exception("last-seen flush failed; keeping %d for next time", len(pending))
                self._pending = pending | self._pending


class OutboxRelay:
    """Deliver owed session-ended notices to the port: right after a session ends
    (`kick`), and again at each housekeeping pass for those that failed."""

    def __init__(self, db: Database, port: SessionEndedPort, clock: Callable[[], datetime]):
        self._db = db
        self._port = port
        self._clock = clock
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()

    def kick(self) -> None:
        task = asyncio.create_task(self.deliver_due())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def deliver_due(self) -> int:
        """Deliver what is due; the number delivered."""
        async with self._lock:  # one pass at a time on this node
            ids = await self._db.run(session_outbox.due, self._clock())
            delivered = 0
            for outbox_id in ids:
                delivered += await self._db.run(
                    session_outbox.deliver, outbox_id, self._port, self._clock()
                )
            return delivered

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
