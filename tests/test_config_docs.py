"""Issue 9 item 13: docs/configuration.md covers every setting and is current."""

from __future__ import annotations

import subprocess
import sys

from voiceroom.config import SETTING_DOCS, env_name, load_config, setting_keys
from voiceroom.config_docs import REPO_ROOT, missing_docs, render


def test_every_setting_has_a_meaning_and_no_meaning_is_orphaned() -> None:
    missing = missing_docs()
    assert not missing, (
        f"undocumented settings {missing}: add their meaning to SETTING_DOCS in "
        "voiceroom/config.py, then run python scripts/gen_config_docs.py"
    )
    orphans = set(SETTING_DOCS) - set(setting_keys())
    assert not orphans, f"SETTING_DOCS describes settings that do not exist: {orphans}"


def test_the_page_is_generated_and_current() -> None:
    page = (REPO_ROOT / "docs" / "configuration.md").read_text()
    assert page == render(), "stale: run python scripts/gen_config_docs.py"
    for key in setting_keys():
        assert f"| `{key}` |" in page
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "gen_config_docs.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout


def test_each_documented_variable_really_sets_its_key() -> None:
    warnings: list[str] = []
    cfg = load_config(
        None,
        {
            env_name("send_queue_bytes"): "100000",
            env_name("room.reconnect_grace"): "7.5",
            env_name("room.warmup_open_seats"): "false",
            env_name("log_level"): "debug",
            env_name("media_settings.bitrate"): "24000",
            env_name("room.tiers"): "gold, silver",
        },
        warn=warnings.append,
    )
    assert warnings == []
    assert cfg.send_queue_bytes == 100_000
    assert cfg.room.reconnect_grace == 7.5 and cfg.room.warmup_open_seats is False
    assert cfg.log_level == "debug" and cfg.media_settings["bitrate"] == 24000
    assert cfg.room.tiers == ("gold", "silver")


def test_every_voiceroom_variable_the_project_uses_is_a_setting_or_known() -> None:
    """A script's own VOICEROOM_* switch must be in NON_SETTING_ENV, or the server warns
    about it as a misspelt setting."""
    import re

    from voiceroom.config import NON_SETTING_ENV, all_env_names

    used: set[str] = set()
    for pattern in ("scripts/*.sh", "scripts/*.py", "tests/**/*.py", "voiceroom/**/*.py"):
        for path in REPO_ROOT.glob(pattern):
            used |= set(re.findall(r"\bVOICEROOM_[A-Z][A-Z_]*[A-Z]\b", path.read_text()))
    known = set(all_env_names()) | NON_SETTING_ENV
    # Misspellings the tests use on purpose:
    deliberate = {"VOICEROOM_RECONNECT_GRACE", "VOICEROOM_SEND_QUEUE_BYTE"}
    assert used - known - deliberate == set()
