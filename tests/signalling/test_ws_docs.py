"""docs/protocol.md names every message type, error code and close code in the code."""

from __future__ import annotations

from pathlib import Path

import pytest

from voiceroom.games.commands import COMMANDS as GAMES_COMMANDS
from voiceroom.games.errors import GamesCode
from voiceroom.games.events import EVENT_TYPES as GAMES_EVENT_TYPES
from voiceroom.protocol import CONTROLS, SERVER_MESSAGE_TYPES, CloseCode
from voiceroom.room.commands import COMMANDS
from voiceroom.room.errors import ErrorCode
from voiceroom.room.events import EVENT_TYPES

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()

NAMES = (
    [f"`{t}`" for t in COMMANDS]
    + [f"`{t}`" for t in CONTROLS]
    + [f"`{e.TYPE}`" for e in EVENT_TYPES]
    + [f"`{t}`" for t in SERVER_MESSAGE_TYPES]
    + [f"`{c.value}`" for c in ErrorCode]
    + [f"| {int(c)} |" for c in CloseCode]
    + [f"`{t}`" for t in GAMES_COMMANDS]
    + [f"`{e.TYPE}`" for e in GAMES_EVENT_TYPES]
    + [f"`{c.value}`" for c in GamesCode]
)


@pytest.mark.parametrize("name", NAMES)
def test_documented(name: str) -> None:
    assert name in DOC
