"""The games core: auditable lotteries, guess-the-price, audience votes, leaderboards,
daily check-ins, tiers that grow, localized prompts and market-time scheduling.

Pure like :mod:`voiceroom.room`: no I/O, no clock, no randomness (entropy comes in).
"""

from __future__ import annotations

from voiceroom.games.core import Games, GamesSnapshot
from voiceroom.games.errors import GamesCode
from voiceroom.games.lottery import pick_winners, verify_draw
from voiceroom.games.model import GamesConfig

__all__ = ["Games", "GamesCode", "GamesConfig", "GamesSnapshot", "pick_winners", "verify_draw"]
