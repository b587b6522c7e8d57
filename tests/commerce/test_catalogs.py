"""docs/protocol.md names every shop command, event and error code; every shop error code
has a message in every web-client catalog; no code is in two cores."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voiceroom.commerce import COMMAND_TYPES, EVENT_TYPES, CommerceCode
from voiceroom.room.errors import ErrorCode

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "protocol.md").read_text()
CATALOGS = {p.stem: json.loads(p.read_text()) for p in (ROOT / "clients/web/i18n").glob("*.json")}

NAMES = (
    [f"`{t.TYPE}`" for t in COMMAND_TYPES]
    + [f"`{e.TYPE}`" for e in EVENT_TYPES]
    + [f"`{code.value}`" for code in CommerceCode]
)


@pytest.mark.parametrize("name", NAMES)
def test_documented(name: str) -> None:
    assert name in DOC


@pytest.mark.parametrize("code", list(CommerceCode), ids=str)
def test_every_code_has_a_message(code: CommerceCode) -> None:
    assert set(CATALOGS) >= {"en", "ar"}
    for lang, catalog in CATALOGS.items():
        assert f"error.{code.value}" in catalog, (lang, code)


def test_no_code_in_two_cores() -> None:
    assert not {c.value for c in CommerceCode} & {c.value for c in ErrorCode}


def test_core_limits_fit_the_wire() -> None:
    """Journaled commands are replayed through protocol.parse_body: a server-side caller
    must not get past the core with a value the wire would refuse on replay."""
    from voiceroom import protocol
    from voiceroom.commerce import checks

    assert checks.MAX_IMAGE_CHARS <= protocol.MAX_STR_CHARS
    assert checks.MAX_URL_CHARS <= protocol.MAX_STR_CHARS
    assert checks.MAX_LIST_ITEMS <= protocol.MAX_ITEMS
    assert checks.MAX_OPTIONS <= protocol.MAX_ITEMS and checks.MAX_LOCALES <= protocol.MAX_ITEMS
