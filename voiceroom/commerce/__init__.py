"""The pure commerce core: products and the showcase, flash sales, coupon drops and group
buys. A side core beside the room (see ``voiceroom/venue.py``): imports nothing of
voiceroom's but the room's value types and exceptions; no I/O, no clock, no randomness.
"""

from __future__ import annotations

from voiceroom.commerce.commands import COMMAND_TYPES, COMMANDS
from voiceroom.commerce.config import ShopConfig
from voiceroom.commerce.core import Shop, ShopSnapshot
from voiceroom.commerce.errors import CommerceCode
from voiceroom.commerce.events import EPHEMERAL_TYPES, EVENT_TYPES

__all__ = [
    "COMMANDS",
    "COMMAND_TYPES",
    "EPHEMERAL_TYPES",
    "EVENT_TYPES",
    "CommerceCode",
    "Shop",
    "ShopConfig",
    "ShopSnapshot",
]
