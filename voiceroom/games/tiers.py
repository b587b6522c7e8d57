"""Tiers and their privileges: one table. A ``new`` member grows into ``active`` after
``GamesConfig.active_after`` interactions; ``vip`` comes from the token or the server API.

The room orders its speaker queue by ``RoomConfig.tiers``; :func:`queue_order` is that
order derived from this table (a test asserts the two agree).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Privileges:
    queue_rank: int  # speaker queue and consultation requests: 0 goes first
    badge: str  # badge id; clients show ``tier.<badge>`` from their catalog
    early_access_s: int  # seconds before a flash sale opens to everyone (commerce reads it)
    lottery_weight: int  # tickets in a weighted lottery
    mic_invites: bool  # hosts get "invite to the mic" suggestions for this tier


TIERS: dict[str, Privileges] = {
    "vip": Privileges(0, "vip", 300, 3, True),
    "active": Privileges(1, "active", 60, 2, True),
    "new": Privileges(2, "new", 0, 1, False),
}

NEW = "new"
GROWN = "active"  # what a new member grows into


def is_known(tier: str) -> bool:
    return tier in TIERS


def queue_order() -> tuple[str, ...]:
    return tuple(sorted(TIERS, key=lambda t: TIERS[t].queue_rank))


def lottery_weight(tier: str) -> int:
    p = TIERS.get(tier)
    return p.lottery_weight if p is not None else 1


def grows_into(tier: str, interactions: int, active_after: int) -> str | None:
    """The tier a member reaches with ``interactions``, or None when it does not change."""
    if tier == NEW and interactions >= active_after:
        return GROWN
    return None


def table() -> dict[str, dict[str, object]]:
    """The table as wire values, for snapshots and docs."""
    return {
        name: {
            "queue_rank": p.queue_rank,
            "badge": p.badge,
            "early_access_s": p.early_access_s,
            "lottery_weight": p.lottery_weight,
            "mic_invites": p.mic_invites,
        }
        for name, p in TIERS.items()
    }
