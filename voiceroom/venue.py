"""One pure composite per room: the room core plus the cores beside it (commerce, games).

A ``Venue`` is what the server drives, what the durable store journals and what recovery
replays: every change to a room goes through one of its entry points —
``join``, ``handle``, ``handle_as_server``, ``disconnect``, ``leave``, ``tick`` — with time
(``now``) and randomness (``entropy``) passed in, so replaying the same calls rebuilds the
same state.

Composition, not growth: the room core (``voiceroom.room``) owns members, roles, seats,
phases and 1v1s; a *side core* owns one more concern and sees the room only through
:class:`~voiceroom.room.model.Actor` values and the room's events (``react``). Dispatch is a
table built from each core's ``COMMAND_TYPES`` (a wire name claimed twice raises at import).
Permissions are checked here, role first and then phase, before any handler runs — the same
order as ``Room.handle`` — so a refused sender learns nothing about the state.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

from voiceroom.commerce.core import Shop
from voiceroom.games.checkin import Streak
from voiceroom.games.core import Games
from voiceroom.games.events import TierEarned
from voiceroom.room import commands as rc
from voiceroom.room.core import Room
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import Emit
from voiceroom.room.model import Actor, Phase, Profile, Role, RoomConfig
from voiceroom.room.rules import RULES as ROOM_RULES
from voiceroom.room.rules import Rule
from voiceroom.wire_form import plain, to_wire

# The identity that server-only calls (the HTTP API, the demo loader) act under. It is not a
# member and cannot be reached from the wire: ``handle_as_server`` is not a wire command.
SERVER_USER = "@server"
SERVER_ACTOR = Actor(SERVER_USER, "voiceroom", Role.HOST, "vip", "en")


class SideCore(Protocol):
    """A pure core beside the room (commerce ``Shop``, engagement ``Games``)."""

    NAME: ClassVar[str]  # its key in member snapshots
    COMMAND_TYPES: ClassVar[tuple[type[rc.Command], ...]]
    RULES: ClassVar[Mapping[type[rc.Command], Rule]]

    def handle(
        self, actor: Actor, cmd: rc.Command, now: float, *, entropy: bytes
    ) -> list[Emit]: ...

    def tick(self, now: float) -> list[Emit]: ...

    def react(self, emits: Sequence[Emit], now: float) -> list[Emit]: ...

    def snapshot(self, viewer: Actor | None) -> Any: ...


# Factories for the side cores, in order (each takes the room's config). Adding a core is one
# line here and one in ``protocol`` (its command types).
SideCoreFactory = Callable[[RoomConfig], SideCore]
CORES: tuple[SideCoreFactory, ...] = (
    lambda config: Shop(),  # commerce: showcase, flash sales, coupon drops, group buys
    lambda config: Games(),  # engagement: lotteries, guesses, votes, leaderboards, tiers
)

# Cross-core effects on the room: an event of a side core -> a server-only Room entry point
# that cannot fail for that event (so the command that caused it stays all-or-nothing).
Reaction = Callable[["Venue", Any, float], list[Emit]]


def _tier_earned(venue: Venue, e: TierEarned, now: float) -> list[Emit]:
    """A member grew into a tier: the room changes it (queue rank, seat badge, member.tier)."""
    return venue.room.set_tier(e.user, e.tier, now)


REACTIONS: dict[type, Reaction] = {TierEarned: _tier_earned}


def merge_command_names(*groups: Iterable[type[rc.Command]]) -> dict[str, type[rc.Command]]:
    """Wire name → command class over several cores; a name claimed twice is a bug."""
    merged: dict[str, type[rc.Command]] = {}
    for group in groups:
        for cls in group:
            if not cls.TYPE or cls.TYPE in merged:
                raise ValueError(f"duplicate or empty wire name {cls.TYPE!r} ({cls.__name__})")
            merged[cls.TYPE] = cls
    return merged


def needs_entropy(cmd: rc.Command) -> bool:
    """Commands whose class sets ``NEEDS_ENTROPY`` get fresh random bytes from the host,
    which the journal records so replay draws the same numbers."""
    return bool(getattr(type(cmd), "NEEDS_ENTROPY", False))


class Venue:
    """A room and its side cores, driven through journaled entry points."""

    def __init__(self, room_id: str, config: RoomConfig | None = None) -> None:
        self.room = Room(room_id, config)
        self.cores: tuple[SideCore, ...] = tuple(make(self.room.config) for make in CORES)
        self._core_of: dict[type[rc.Command], SideCore] = {}
        for core in self.cores:
            for cls in core.COMMAND_TYPES:
                if cls in ROOM_RULES or cls in self._core_of:
                    raise ValueError(f"{cls.TYPE} is claimed by two cores")
                self._core_of[cls] = core

    @property
    def id(self) -> str:
        return self.room.id

    # ------------------------------------------------------------------ entry points
    def check(self, user: str, cmd: rc.Command) -> None:
        """Role, then phase: raise RuleError if ``user`` may not send ``cmd`` now.
        The edge calls this before any lookup whose answer could leak (e.g. the music
        library); ``handle`` checks again."""
        member = self.room.members.get(user)
        if member is None:
            raise RuleError(ErrorCode.UNKNOWN_USER, "you are not a member of this room")
        self._check_rule(member.role, cmd)

    def handle(self, user: str, cmd: rc.Command, now: float, *, entropy: bytes = b"") -> list[Emit]:
        """Apply a member's command (any core's), or raise RuleError with nothing changed."""
        core = self._core_of.get(type(cmd))
        if core is None:
            emits = self.room.handle(user, cmd, now)
        else:
            actor = self.room.actor(user)
            if actor is None:
                raise RuleError(ErrorCode.UNKNOWN_USER, "you are not a member of this room")
            self._check_rule(actor.role, cmd)
            emits = core.handle(actor, cmd, now, entropy=entropy)
        return self._react(emits, now)

    def handle_as_server(self, cmd: rc.Command, now: float, *, entropy: bytes = b"") -> list[Emit]:
        """A command from the server itself (HTTP API, demo setup): the caller authorised
        it, so the role check is skipped; the phase rules still hold."""
        if self.room.phase is Phase.ENDED:
            raise RuleError(ErrorCode.ROOM_ENDED, "the room has ended")
        self._check_phase(cmd)
        core = self._core_of.get(type(cmd))
        if core is None:
            emits = self.room.handle_as_server(cmd, now)
        else:
            emits = core.handle(SERVER_ACTOR, cmd, now, entropy=entropy)
        return self._react(emits, now)

    def join(self, profile: Profile, now: float) -> list[Emit]:
        return self._react(self.room.join(profile, now), now)

    def disconnect(self, user: str, now: float) -> list[Emit]:
        return self._react(self.room.disconnect(user, now), now)

    def leave(self, user: str, now: float, reason: str = "left") -> list[Emit]:
        return self._react(self.room.leave(user, now, reason), now)

    def set_tier(self, user: str, tier: str, now: float) -> list[Emit]:
        """Server-only (the HTTP API: a VIP from the shop's CRM): the room changes the
        member's tier and the side cores see ``member.tier``. A journaled entry point like
        ``join``; RuleError for a tier the room does not know."""
        return self._react(self.room.set_tier(user, tier, now), now)

    def load_streak(self, user: str, day: str, count: int, now: float) -> list[Emit]:
        """Server-only: the user's check-in streak from the store's cross-room table
        (at join, ``EntryKind.STREAK``). The newer day wins; no events; RuleError for a
        malformed streak."""
        return self.games.load_streak(user, Streak(day, count))

    def streak(self, user: str) -> Streak | None:
        return self.games.streak(user)

    @property
    def games(self) -> Games:
        for core in self.cores:
            if isinstance(core, Games):
                return core
        raise LookupError("this venue has no games core")

    def tick(self, now: float) -> list[Emit]:
        emits = self.room.tick(now)
        for core in self.cores:
            emits.extend(core.tick(now))
        return self._react(emits, now)

    # ------------------------------------------------------------------ reads
    def snapshot(self, viewer: str) -> dict[str, Any]:
        """What one member sees: the room snapshot plus one key per side core."""
        body: dict[str, Any] = plain(self.room.snapshot(viewer))
        actor = self.room.actor(viewer)
        for core in self.cores:
            body[core.NAME] = to_wire(core.snapshot(actor))
        return body

    def to_state(self) -> bytes:
        """Everything, counters included, for the store's snapshots (trusted storage only:
        it is our own pickle, never read from a client)."""
        return pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def from_state(state: bytes) -> Venue:
        venue = pickle.loads(state)
        if not isinstance(venue, Venue):
            raise TypeError("not a Venue state")
        return venue

    # ------------------------------------------------------------------ internals
    def _rule(self, cmd: rc.Command) -> Rule:
        core = self._core_of.get(type(cmd))
        return ROOM_RULES[type(cmd)] if core is None else core.RULES[type(cmd)]

    def _check_rule(self, role: Role, cmd: rc.Command) -> None:
        rule = self._rule(cmd)
        if role not in rule.roles:
            raise RuleError(ErrorCode.FORBIDDEN, f"{cmd.TYPE} is not allowed for role {role.value}")
        if self.room.phase is Phase.ENDED:
            raise RuleError(ErrorCode.ROOM_ENDED, "the room has ended")
        self._check_phase(cmd)

    def _check_phase(self, cmd: rc.Command) -> None:
        if self.room.phase not in self._rule(cmd).phases:
            raise RuleError(
                ErrorCode.WRONG_PHASE, f"{cmd.TYPE} is not allowed during {self.room.phase.value}"
            )

    def _react(self, emits: list[Emit], now: float) -> list[Emit]:
        """Let every side core see what this call emitted (cross-core effects: a room that
        ends closes its sales, chat earns points). Reactions are server-only and cannot
        fail, so a command stays all-or-nothing; one pass, reactions to reactions included
        for the cores after the one that reacted."""
        if not self.cores:
            return emits
        out = list(emits)
        for core in self.cores:
            out.extend(core.react(tuple(out), now))
        follow: list[Emit] = []
        for emit in out:
            reaction = REACTIONS.get(type(emit.event))
            if reaction is not None:
                follow.extend(reaction(self, emit.event, now))
        if follow:  # the room's answer (e.g. member.tier), seen by the cores too
            for core in self.cores:
                follow.extend(core.react(tuple(follow), now))
            out.extend(follow)
        return out
