"""The games core's error codes. Stable wire codes (``error.code``): never rename.

The role/phase refusals (``forbidden``, ``wrong_phase``, ``room_ended``) come from the
Venue's rule check, with the room's codes; a bad argument reuses the room's
``invalid_argument``. Everything specific to a game has its own code here, and no code
appears in two cores (a test asserts it).
"""

from __future__ import annotations

from enum import StrEnum


class GamesCode(StrEnum):
    GAME_NOT_OPEN = "game_not_open"  # no lottery / round / vote is open now
    GAME_ALREADY_OPEN = "game_already_open"  # close the open one first
    ALREADY_GUESSED = "already_guessed"  # one guess per shopper and round
    NO_SUCH_OPTION = "no_such_option"
    ENTROPY_MISSING = "entropy_missing"  # the server passed no seed for a lottery
    UNKNOWN_PROMPT = "unknown_prompt"
    UNKNOWN_TIER = "unknown_tier"
    UNKNOWN_ZONE = "unknown_zone"  # not an IANA time zone name
    ALREADY_CHECKED_IN = "already_checked_in"  # once per local day of the show's market


GAMES_CODES: frozenset[str] = frozenset(c.value for c in GamesCode)
