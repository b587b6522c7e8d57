"""Interaction prompts by id. A prompt is never prose on the wire: clients show
``prompt.<id>`` from their catalog, which is written in the market idiom of its locale
(docs/engagement.md: ar invites to the mic, id/zh to share and group-buy, en/ja state the
rules). Every id has text in every catalog (tests/games/test_catalogs.py)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from voiceroom.games import commands as c
from voiceroom.games.errors import GamesCode
from voiceroom.games.events import PromptScheduled, PromptShown
from voiceroom.games.model import Ctx, Handler
from voiceroom.room.commands import Command
from voiceroom.room.errors import ErrorCode, RuleError
from voiceroom.room.events import EVERYONE, TO_MODERATORS, Emit
from voiceroom.room.model import Actor

PROMPT_IDS: tuple[str, ...] = (
    "raise_hand_invite",
    "flash_sale_now",
    "guess_the_price",
    "vote_now",
    "welcome_new",
    "lottery_open",
    "checkin_today",
    "show_starting",
)

# Parameters a prompt's text may use ({name} in the catalogs); anything else is refused.
PROMPT_PARAMS: dict[str, frozenset[str]] = {
    "raise_hand_invite": frozenset({"host"}),
    "flash_sale_now": frozenset({"product", "minutes"}),
    "guess_the_price": frozenset({"product"}),
    "vote_now": frozenset({"question"}),
    "welcome_new": frozenset({"host"}),
    "lottery_open": frozenset({"prize"}),
    "checkin_today": frozenset(),
    "show_starting": frozenset({"minutes"}),
}

MAX_PARAM_CHARS = 100
MAX_AHEAD_S = 7 * 86400
_NAME = re.compile(r"[a-z_]{1,20}")
_MINUTES = re.compile(r"[0-9]{1,3}")
MAX_MINUTES = 600


def check_prompt(prompt_id: str, params: Any) -> dict[str, str]:
    """The validated parameters of a prompt, or RuleError."""
    if prompt_id not in PROMPT_PARAMS:
        raise RuleError(GamesCode.UNKNOWN_PROMPT, f"unknown prompt {prompt_id!r}")
    if not isinstance(params, dict):
        raise RuleError(ErrorCode.INVALID_ARGUMENT, "params must be a map")
    allowed = PROMPT_PARAMS[prompt_id]
    out: dict[str, str] = {}
    for key, value in params.items():
        if not isinstance(key, str) or key not in allowed:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, f"{prompt_id} takes no param {key!r}")
        if not isinstance(value, str) or len(value) > MAX_PARAM_CHARS:
            raise RuleError(
                ErrorCode.INVALID_ARGUMENT, f"param {key} must be text of <= {MAX_PARAM_CHARS}"
            )
        out[key] = value
    # Every {name} the text uses must be filled: "Flash sale on X for  minutes" is no prompt.
    missing = sorted(k for k in allowed if not out.get(k, "").strip())
    if missing:
        raise RuleError(ErrorCode.INVALID_ARGUMENT, f"{prompt_id} needs {', '.join(missing)}")
    # "minutes" is put into a sentence as a number ("only 5 minutes"): "five" would read
    # "只有five分钟" on a Chinese page. Whole minutes, 1..600, ASCII digits.
    if "minutes" in out:
        minutes = out["minutes"].strip()
        if not _MINUTES.fullmatch(minutes) or not 1 <= int(minutes) <= MAX_MINUTES:
            raise RuleError(
                ErrorCode.INVALID_ARGUMENT, f"param minutes must be a whole number 1..{MAX_MINUTES}"
            )
        out["minutes"] = str(int(minutes))
    return out


@dataclass(frozen=True, slots=True)
class Scheduled:
    n: int
    at: float
    id: str
    params: dict[str, str]
    by: str


@dataclass(slots=True)
class Prompts:
    scheduled: list[Scheduled] = field(default_factory=list)  # by (at, n)
    last: PromptShown | None = None
    next_n: int = 1

    def send(self, ctx: Ctx, actor: Actor, cmd: c.SendPrompt, now: float, out: list[Emit]) -> None:
        params = check_prompt(cmd.id, cmd.params)
        self.show(cmd.id, params, actor.user, now, out)

    def schedule(
        self, ctx: Ctx, actor: Actor, cmd: c.SchedulePrompt, now: float, out: list[Emit]
    ) -> None:
        params = check_prompt(cmd.id, cmd.params)
        if not math.isfinite(cmd.at) or cmd.at < now or cmd.at > now + MAX_AHEAD_S:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "at must be within the next 7 days")
        if len(self.scheduled) >= ctx.config.max_scheduled_prompts:
            raise RuleError(ErrorCode.INVALID_ARGUMENT, "too many scheduled prompts")
        item = Scheduled(self.next_n, cmd.at, cmd.id, params, actor.user)
        self.next_n += 1
        self.scheduled.append(item)
        self.scheduled.sort(key=lambda s: (s.at, s.n))
        out.append(Emit(TO_MODERATORS, PromptScheduled(item.n, item.id, item.at)))

    # server-side moves
    def show(
        self,
        prompt_id: str,
        params: dict[str, str],
        by: str | None,
        now: float,
        out: list[Emit],
        n: int | None = None,
    ) -> None:
        self.last = PromptShown(prompt_id, params, by, now, n)
        out.append(Emit(EVERYONE, self.last))

    def due(self, now: float, out: list[Emit]) -> None:
        while self.scheduled and self.scheduled[0].at <= now:
            item = self.scheduled.pop(0)
            self.show(item.id, item.params, None, now, out, item.n)


HANDLERS: dict[type[Command], Handler] = {
    c.SendPrompt: Prompts.send,
    c.SchedulePrompt: Prompts.schedule,
}
