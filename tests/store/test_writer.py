"""The writer thread: group commit, callbacks only after commit and in order, retries."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from voiceroom.store import Entry, EntryKind, Store, Write
from voiceroom.store.memory import MemoryStore
from voiceroom.store.writer import StoreWriter

from .test_contract import Builder


async def test_group_commit_releases_in_order_after_commit(store: Store) -> None:
    writer = StoreWriter(store)
    writer.start()
    b = Builder()
    writer.submit(b.open(), lambda: None)
    released: list[int] = []
    committed_at_release: list[bool] = []

    def done(n: int) -> None:
        released.append(n)
        # What the callback releases is already in the store.
        committed_at_release.append(any(e.n == n for e in store.entries("r1", after=n - 1)))

    total = 300
    for i in range(total):
        w = b.chat("ann", f"m{i}", float(i))
        assert w.entry is not None
        n = w.entry.n
        writer.submit(w, lambda n=n: done(n))  # type: ignore[misc]
    assert writer.pending == total + 1
    await writer.flush()
    assert released == list(range(1, total + 1))
    assert all(committed_at_release)
    assert writer.pending == 0
    # Many writes, few transactions: that is what keeps the durable path cheap.
    assert writer.stats.writes == total + 1
    assert writer.stats.commits < total / 2, writer.stats
    await writer.aclose()


async def test_call_sees_every_write_queued_before_it(store: Store) -> None:
    writer = StoreWriter(store)
    writer.start()
    b = Builder()
    writer.submit(b.open(), lambda: None)
    for i in range(20):
        writer.submit(b.chat("ann", str(i), float(i)), lambda: None)
    count = await writer.call(lambda s: len(s.entries("r1")))
    assert count == 20
    await writer.aclose()


class Flaky(MemoryStore):
    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def write(self, writes: Sequence[Write]) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database went away")
        super().write(writes)


async def test_a_failed_commit_is_retried_and_replies_wait_for_it() -> None:
    store = Flaky(failures=2)
    writer = StoreWriter(store)
    writer.start()
    done = asyncio.Event()
    writer.submit(Write("r", Entry("r", 1, EntryKind.TICK, 1.0)), done.set)
    await asyncio.wait_for(done.wait(), 5)
    assert writer.stats.errors == 2 and writer.stats.commits == 1
    assert [e.n for e in store.entries("r")] == [1]
    await writer.aclose()


async def test_a_failing_callback_does_not_stop_the_others() -> None:
    writer = StoreWriter(MemoryStore())
    writer.start()
    got: list[Any] = []

    def bad() -> None:
        raise RuntimeError("boom")

    writer.submit(Write("r", Entry("r", 1, EntryKind.TICK, 1.0)), bad)
    writer.submit(Write("r", Entry("r", 2, EntryKind.TICK, 2.0)), lambda: got.append(2))
    await writer.flush()
    assert got == [2]
    await writer.aclose()


async def test_a_write_that_can_never_commit_is_dropped_and_poisons_its_room() -> None:
    store = MemoryStore()
    writer = StoreWriter(store)
    writer.start()
    done: list[str] = []
    failed: list[str] = []

    def w(room: str, n: int) -> Write:
        return Write(room, Entry(room, n, EntryKind.TICK, float(n)))

    def submit(tag: str, write: Write) -> None:
        writer.submit(write, lambda: done.append(tag), lambda exc: failed.append(tag))

    submit("a1", w("a", 1))
    submit("a1-again", w("a", 1))  # a duplicate key: retrying cannot help
    submit("a2", w("a", 2))  # after a dropped write: dropped too (no gap in a's journal)
    submit("b1", w("b", 1))  # another room is not held up
    await writer.flush()
    assert sorted(done) == ["a1", "b1"] and failed == ["a1-again", "a2"]
    assert writer.pending == 0 and writer.stats.dropped == 2
    # Rebuilt from the store (recovery clears the poison): the room writes again.
    await writer.call(lambda s: writer.clear_poison("a"))
    submit("a2-retry", w("a", 2))
    await writer.flush()
    assert "a2-retry" in done and [e.n for e in store.entries("a")] == [1, 2]
    await writer.aclose()
