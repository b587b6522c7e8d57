"""`voiceroom db upgrade|check|export` on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def db(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "voiceroom", "db", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )


def test_db_check_upgrade_export(sql_url: str) -> None:
    before = db("check", "--store", sql_url)
    assert before.returncode == 1 and "run upgrade" in before.stderr
    up = db("upgrade", env={"VOICEROOM_STORE": sql_url})  # the environment works too
    assert up.returncode == 0, up.stderr
    assert "up to date" in up.stdout and "password" not in up.stdout
    ok = db("check", "--store", sql_url)
    assert ok.returncode == 0 and "store ok" in ok.stdout, ok.stderr
    out = json.loads(db("export", "--store", sql_url).stdout)
    assert out["revision"] == "0003" and out["rooms"] == [] and "journal" in out


def test_db_defaults_to_sqlite_under_the_data_dir(tmp_path: Path) -> None:
    up = db("upgrade", "--data-dir", str(tmp_path))
    assert up.returncode == 0, up.stderr
    assert (tmp_path / "voiceroom.db").is_file()


def test_db_refuses_an_unknown_store() -> None:
    bad = db("check", "--store", "mysql://x")
    assert bad.returncode == 2 and "unknown store" in bad.stderr
