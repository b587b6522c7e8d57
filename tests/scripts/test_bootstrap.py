"""Issue 9 item 11: scripts/bootstrap.sh waits for another apt/dpkg (bounded), retries,
and keeps the console readable (details in var/bootstrap.log).

Runs the real script in a scratch copy of the tree, with apt-get, dpkg-query and sudo
replaced by shims on PATH (nothing is installed) and a virtualenv that is already current.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

FAKE_APT = """#!/usr/bin/env bash
# Holds "the lock" for the first $LOCKED calls, then installs noisily.
n=$(cat "$STATE/calls" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "$STATE/calls"
echo "$*" >> "$STATE/args"
if [ "$n" -le "$LOCKED" ]; then
  echo "E: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 4242 (apt-get)" >&2
  echo "E: Unable to acquire the dpkg frontend lock, is another process using it?" >&2
  exit 100
fi
for i in $(seq 1 300); do echo "Unpacking fake-package-$i (1.0) ..."; done
if [ -e /proc/self/fd/3 ]; then
  for p in 10 40 70 100; do echo "pmstatus:sox:$p:Installing sox" >&3; done
fi
exit 0
"""


def _exe(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    (root / "scripts" / "bootstrap.sh").write_text((ROOT / "scripts" / "bootstrap.sh").read_text())
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    venv = root / ".venv" / "bin"
    venv.mkdir(parents=True)
    _exe(venv / "python", "#!/bin/sh\nexit 0\n")
    digest = hashlib.sha256((root / "pyproject.toml").read_bytes()).hexdigest()
    (root / ".venv" / ".voiceroom-installed").write_text(digest + "\n")
    shims = tmp_path / "bin"
    shims.mkdir()
    _exe(shims / "apt-get", FAKE_APT)
    _exe(shims / "dpkg-query", "#!/bin/sh\nexit 1\n")  # nothing installed
    _exe(shims / "sudo", '#!/bin/sh\nexec "$@"\n')
    (tmp_path / "state").mkdir()
    return tmp_path


def run(tree: Path, locked: int, wait: int) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{tree / 'bin'}:{os.environ['PATH']}",
        "STATE": str(tree / "state"),
        "LOCKED": str(locked),
        "APT_LOCK_WAIT": str(wait),
        "APT_RETRY_SLEEP": "1",
        "VOICEROOM_WITH_BROWSER": "0",
        "VOICEROOM_SKIP_NPM": "1",
    }
    env.pop("VOICEROOM_SKIP_APT", None)
    return subprocess.run(
        ["bash", str(tree / "repo" / "scripts" / "bootstrap.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_waits_for_the_apt_lock_then_installs_with_a_readable_console(tree: Path) -> None:
    out = run(tree, locked=2, wait=30)
    assert out.returncode == 0, out.stderr
    calls = int((tree / "state" / "calls").read_text())
    assert calls == 4  # update: 2 refused + 1 ok; install: 1 ok
    console = out.stdout + out.stderr
    assert console.count("holds the lock") == 2
    assert "fake-package" not in console  # apt's chatter is in the log, not the console
    assert len(console.splitlines()) <= 15, console
    log = (tree / "repo" / "var" / "bootstrap.log").read_text()
    assert log.count("Unpacking fake-package-") == 600 and "Could not get lock" in log
    args = (tree / "state" / "args").read_text()
    assert "DPkg::Lock::Timeout=60" in args
    if os.getuid() == 0:
        assert "apt-get install 100% Installing sox" in console


def test_gives_up_after_the_bounded_wait_and_fails(tree: Path) -> None:
    out = run(tree, locked=1000, wait=2)
    assert out.returncode != 0
    assert "apt-get update failed (exit 100)" in out.stderr
    assert "Could not get lock" in out.stderr  # the end of the log, shown on failure
    assert int((tree / "state" / "calls").read_text()) <= 4
