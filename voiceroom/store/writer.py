"""The store's writer thread: group commit off the event loop.

Room jobs never write. A job hands its :class:`Write` and a ``done`` callback to
:meth:`StoreWriter.submit` (a queue put: no I/O, no lock held for long) and returns. The
writer thread takes *everything* queued, commits it in one transaction, and then schedules
the ``done`` callbacks on the event loop, in submission order: that is when the job's frames
and its reply go out, so an "ok" always follows the commit. Under load batches grow, and the
cost of a commit (one fsync on SQLite, one round trip on PostgreSQL) is shared by every
command in it.

A failed commit is retried with backoff (the batch stays whole, callbacks wait): a store
that is down delays replies, it never loses an acknowledged write and never stalls the
loop (the media tick runs on).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from voiceroom.observability import get_logger
from voiceroom.store.base import Store, Write

T = TypeVar("T")
Done = Callable[[], None]
Failed = Callable[[BaseException], None]

# Errors that retrying cannot fix (a key that exists, a value the column refuses): the
# batch is split and each write committed alone, so one bad write cannot stall the rest.
try:
    from sqlalchemy.exc import DataError, IntegrityError, ProgrammingError

    PERMANENT: tuple[type[BaseException], ...] = (
        IntegrityError,
        DataError,
        ProgrammingError,
        KeyError,
        TypeError,
        ValueError,
    )
except ImportError:  # pragma: no cover - SQLAlchemy is a dependency
    PERMANENT = (KeyError, TypeError, ValueError)

_NOTHING = object()
MAX_BATCH = 2000  # writes in one transaction, at most
RETRY_MAX_S = 5.0


@dataclass(slots=True)
class WriterStats:
    commits: int = 0
    writes: int = 0
    errors: int = 0
    dropped: int = 0  # writes that could never commit (their output was never released)
    max_batch: int = 0
    last_commit_s: float = 0.0
    max_commit_s: float = 0.0
    commit_s_total: float = 0.0
    queued: int = 0
    batches: list[int] = field(default_factory=list)  # recent batch sizes (bench)


class _Call:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[Store], Any], future: asyncio.Future[Any]) -> None:
        self.fn = fn
        self.future = future


class StoreWriter:
    def __init__(self, store: Store, *, max_batch: int = MAX_BATCH) -> None:
        self.store = store
        self.max_batch = max_batch
        self.stats = WriterStats()
        self.log = get_logger(component="store")
        self._q: queue.SimpleQueue[tuple[Write, Done, Failed | None] | _Call | None] = (
            queue.SimpleQueue()
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._pending = 0  # submitted, not yet committed (read on the loop thread)
        # Rooms with a write that could never commit: their later writes are dropped too
        # (a gap in a journal is worse than a room closed), until clear_poison(room).
        self._poisoned: set[str] = set()  # writer thread only

    def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    # ------------------------------------------------------------------ loop side
    def submit(self, write: Write, done: Done, failed: Failed | None = None) -> None:
        """Queue ``write``; ``done()`` runs on the loop once it is committed. A write
        that can never commit (see PERMANENT) is dropped: ``failed(exc)`` runs instead."""
        self._pending += 1
        self._q.put((write, done, failed))

    async def call(self, fn: Callable[[Store], T]) -> T:
        """Run ``fn(store)`` on the writer thread after every write queued before it
        (reads that must see them, recovery, pruning)."""
        if self._thread is None:
            return fn(self.store)
        fut: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._q.put(_Call(fn, fut))
        return await fut

    async def flush(self) -> None:
        """Wait until everything submitted so far is committed."""
        await self.call(lambda store: None)

    async def aclose(self) -> None:
        """Commit what is queued, then stop the thread."""
        if self._thread is None:
            return
        await self.flush()
        self._stopping = True
        self._q.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None

    def _committed(self, dones: list[Done], count: int) -> None:
        self._pending -= count
        for done in dones:
            try:
                done()
            except Exception:
                self.log.exception("store callback failed")

    def _dropped(self, failed: Failed | None, exc: BaseException) -> None:
        if failed is not None:
            try:
                failed(exc)
            except Exception:
                self.log.exception("store failure callback failed")

    # ------------------------------------------------------------------ writer thread
    def _run(self) -> None:
        carry: Any = _NOTHING
        while True:
            item = self._q.get() if carry is _NOTHING else carry
            carry = _NOTHING
            if item is None:
                return
            if isinstance(item, _Call):
                self._run_call(item)
                continue
            items = [item]
            while len(items) < self.max_batch:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None or isinstance(nxt, _Call):
                    carry = nxt  # after this batch: a call sees every write before it
                    break
                items.append(nxt)
            self._commit(items)

    def clear_poison(self, room: str) -> None:
        """Writer thread (inside ``call``): the room is being rebuilt from the store."""
        self._poisoned.discard(room)

    def _commit(self, items: list[tuple[Write, Done, Failed | None]]) -> None:
        assert self._loop is not None
        if self._poisoned:
            kept = []
            for item in items:
                if item[0].room in self._poisoned:
                    self._drop(item, RuntimeError(f"room {item[0].room}: an earlier write failed"))
                else:
                    kept.append(item)
            if len(kept) < len(items):
                self._loop.call_soon_threadsafe(self._committed, [], len(items) - len(kept))
            items = kept
            if not items:
                return
        try:
            self._commit_batch([w for w, _, _ in items])
        except PERMANENT as exc:
            self.log.error("store batch refused: committing its writes one by one", error=repr(exc))
            dones = []
            for item in items:
                write, done, _ = item
                if write.room in self._poisoned:
                    self._drop(item, RuntimeError(f"room {write.room}: an earlier write failed"))
                    continue
                try:
                    self._commit_batch([write])
                    dones.append(done)
                except PERMANENT as one:
                    self._poisoned.add(write.room)
                    self._drop(item, one)
            self._loop.call_soon_threadsafe(self._committed, dones, len(items))
            return
        self._loop.call_soon_threadsafe(self._committed, [d for _, d, _ in items], len(items))

    def _drop(self, item: tuple[Write, Done, Failed | None], exc: BaseException) -> None:
        assert self._loop is not None
        self.stats.dropped += 1
        self.log.error("store write dropped", room=item[0].room, error=repr(exc))
        self._loop.call_soon_threadsafe(self._dropped, item[2], exc)

    def _commit_batch(self, batch: list[Write]) -> None:
        """Commit, retrying what may pass later (a database that went away)."""
        delay = 0.05
        while True:
            started = time.perf_counter()
            try:
                self.store.write(batch)
            except PERMANENT:
                self.stats.errors += 1
                raise
            except Exception as exc:
                self.stats.errors += 1
                self.log.error("store commit failed: retrying", error=repr(exc), writes=len(batch))
                time.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            took = time.perf_counter() - started
            st = self.stats
            st.commits += 1
            st.writes += len(batch)
            st.max_batch = max(st.max_batch, len(batch))
            st.last_commit_s = took
            st.max_commit_s = max(st.max_commit_s, took)
            st.commit_s_total += took
            st.batches.append(len(batch))
            if len(st.batches) > 1000:
                del st.batches[:500]
            return

    def _run_call(self, call: _Call) -> None:
        assert self._loop is not None
        try:
            result = call.fn(self.store)
        except BaseException as exc:
            self._loop.call_soon_threadsafe(_set_exception, call.future, exc)
        else:
            self._loop.call_soon_threadsafe(_set_result, call.future, result)


def _set_result(fut: asyncio.Future[Any], value: Any) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut: asyncio.Future[Any], exc: BaseException) -> None:
    if not fut.done():
        fut.set_exception(exc)
