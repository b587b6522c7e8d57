"""h11-style lifecycle tables, and the throttle for high-rate counters.

Every entity with a lifecycle (sale, coupon drop, group buy, group) has a table
``state -> {move -> next state}`` with *every* state as a key. A move is a command type
(sent by someone) or a :class:`Trigger` (caused by state or time: stock ran out, a
deadline passed, the room ended). A move missing from the table is refused with
``wrong_state``, or with a more telling code from the entity's ``REFUSALS`` (a claim on a
sold-out sale is ``sold_out``, not ``wrong_state``): the claimant is told the truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from voiceroom.commerce.errors import CommerceCode, fail
from voiceroom.room.commands import Command
from voiceroom.room.events import EVERYONE, Emit, Event


class Trigger(StrEnum):
    """Moves nobody sends: caused by the state or by the clock."""

    START = "start"  # a scheduled window opens
    SELL_OUT = "sell_out"  # the last unit or coupon was claimed
    FILL = "fill"  # a group reached its size
    EXPIRE = "expire"  # a group's time limit passed
    END = "end"  # an offer's window passed
    ROOM_END = "room_end"  # the room ended


Move = type[Command] | Trigger
S = TypeVar("S", bound=StrEnum)
Table = Mapping[S, Mapping[Move, S]]


def move_name(m: Move) -> str:
    return m.value if isinstance(m, Trigger) else m.TYPE


def next_state(
    table: Mapping[S, Mapping[Move, S]],
    state: S,
    move: Move,
    refusals: Mapping[tuple[S, Move], CommerceCode],
    what: str,
) -> S:
    """The state ``move`` leads to from ``state``, or a RuleError; writes nothing."""
    target = table[state].get(move)
    if target is None:
        code = refusals.get((state, move), CommerceCode.WRONG_STATE)
        raise fail(code, f"{what} is {state.value}: {move_name(move)} is not possible")
    return target


class ValueEq:
    """Compared by value, attribute by attribute: a shop rebuilt from the journal equals
    the live one (the store's replay test compares them)."""

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(self) == vars(other)


class Throttle(ValueEq):
    """At most one event per key every ``interval`` seconds, the latest value winning.

    ``offer`` sends at once when the key has been quiet for the interval, otherwise keeps
    the event as pending; ``flush`` (from ``tick``) sends pending ones whose interval has
    passed. Driven by ``now`` only, so a replay sends the same events.
    """

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.last: dict[str, float] = {}
        self.pending: dict[str, Event] = {}

    def offer(self, key: str, event: Event, now: float, out: list[Emit]) -> None:
        last = self.last.get(key)
        if last is None or now - last >= self.interval:
            out.append(Emit(EVERYONE, event))
            self.last[key] = now
            self.pending.pop(key, None)
        else:
            self.pending[key] = event

    def flush(self, now: float, out: list[Emit]) -> None:
        for key, event in list(self.pending.items()):
            if now - self.last[key] >= self.interval:
                out.append(Emit(EVERYONE, event))
                self.last[key] = now
                del self.pending[key]

    def forget(self, key: str) -> None:
        """The entity's lifecycle event carries the final value: drop what is pending."""
        self.pending.pop(key, None)
        self.last.pop(key, None)

    def state(self) -> tuple[dict[str, float], dict[str, Event]]:
        return dict(self.last), dict(self.pending)
