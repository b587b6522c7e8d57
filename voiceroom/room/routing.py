"""Who hears whom: the routing the media plane applies on every 20 ms tick.

The room derives a :class:`Routing` from its state (:meth:`Room.routing`); the media plane
never decides audibility itself. A 1v1 switch is just a new Routing: the mixer picks it up
on the next tick, with no renegotiation and no new connection.

A *mix* is a sorted tuple of ``(source, gain)`` pairs. Sources are member identities, or
:data:`MUSIC_SOURCE` for the host's warm-up music. Members who share a mix share one
encoded stream (encode once, send the same payload to all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

MUSIC_SOURCE = "@music"

Mix = tuple[tuple[str, float], ...]
SILENCE: Mix = ()


def make_mix(gains: Mapping[str, float]) -> Mix:
    """Canonical form: sorted, zero gains dropped, so equal mixes compare equal."""
    return tuple(sorted((s, g) for s, g in gains.items() if g > 0.0))


@dataclass(frozen=True, slots=True)
class Routing:
    """``default`` is what a member hears unless ``overrides`` names them.

    ``publishers`` are the members whose uplink audio the media plane accepts (seat holders
    who are not muted, consultation pairs). Anyone else's media is never mixed.
    """

    default: Mix = SILENCE
    overrides: Mapping[str, Mix] = field(default_factory=dict)
    publishers: frozenset[str] = frozenset()

    def mix_for(self, user: str) -> Mix:
        return self.overrides.get(user, self.default)

    def sources(self) -> frozenset[str]:
        """Every source that some member hears."""
        out = {s for s, _ in self.default}
        for mix in self.overrides.values():
            out.update(s for s, _ in mix)
        return frozenset(out)

    def hears(self, listener: str, source: str) -> bool:
        return any(s == source for s, _ in self.mix_for(listener))
