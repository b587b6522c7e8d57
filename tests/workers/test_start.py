"""Deploy finding 2: a worker that exits while ``serve --workers N`` starts ends the start at
once (no restart loop until START_TIMEOUT), and SIGTERM during the start stops it promptly.
The workers here are real processes that exit, or hang, instead of starting."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest

from voiceroom.server import run_until_signalled
from voiceroom.workers.front import Front
from voiceroom.workers.supervisor import Supervisor, WorkerStartFailed

from .test_workers import settings

pytestmark = pytest.mark.timeout(60)


def fake_worker(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    """Workers run ``code`` (python -c) instead of voiceroom.workers.worker."""

    async def process(self: Supervisor) -> tuple[asyncio.subprocess.Process, socket.socket]:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, pass_fds=[child.fileno()]
        )
        child.close()
        return proc, parent

    monkeypatch.setattr(Supervisor, "_process", process)


async def test_a_worker_that_exits_during_start_ends_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_worker(monkeypatch, "import sys, time; time.sleep(0.3); sys.exit(3)")
    front = Front(settings(tmp_path, api=False), 2)
    began = time.monotonic()
    with pytest.raises(WorkerStartFailed) as exc:
        await front.start()
    assert exc.value.code == 3
    assert "exited during start-up (exit code 3)" in str(exc.value)
    assert time.monotonic() - began < 20  # not START_TIMEOUT (120 s) of restarts
    assert not front.socket_dir.exists()
    assert all(h.proc is not None and h.proc.returncode is not None for h in front.workers.handles)


async def test_sigterm_during_start_stops_it_promptly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_worker(monkeypatch, "import time; time.sleep(60)")  # never ready
    front = Front(settings(tmp_path, api=False), 2)
    task = asyncio.create_task(run_until_signalled(front, demo=False, on_ready=None))
    for _ in range(400):  # until both workers are spawned (and will never be ready)
        if len(front.workers.handles) == 2 and all(h.proc for h in front.workers.handles):
            break
        await asyncio.sleep(0.05)
    began = time.monotonic()
    os.kill(os.getpid(), signal.SIGTERM)
    async with asyncio.timeout(20):
        await task
    assert time.monotonic() - began < 8  # the workers' 10 s stop grace is not waited out
    assert all(h.proc is not None and h.proc.returncode is not None for h in front.workers.handles)
