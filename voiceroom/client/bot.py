"""``voiceroom bot``: scripted room members for demos, tests and load generation.

A bot joins with a token, and then, as asked:

- **speaks**: takes a free seat during the warm-up (if the room allows it) or raises its
  hand during the show, accepts seat invitations, and publishes a tone, a file or silence
  while it has a seat (nothing while it has none: the transceiver is negotiated up front,
  so promotion needs no renegotiation);
- **listens**: records what it hears to a WAV file, and checks for expected tones (FFT);
- **hosts**: auto-promotes the speaker queue, starts the show, starts and ends a 1v1
  consultation on a schedule, ends the room;
- **shops** (``--claim``): claims every flash sale the moment it opens, once, and keeps
  what it was told (claim ids, or the refusal: sold_out, limit_reached, sale_closed...).

Library use::

    bot = Bot(BotConfig(url, token, speak=True, tone=440.0))
    async with bot:           # joined, media up, behaviours running
        await bot.client.wait_until(lambda s: s.seated)

Command line (``voiceroom bot --help``)::

    voiceroom bot "http://localhost:8765/?token=..." --speak --tone 440
    voiceroom bot ws://localhost:8765 --token $HOST --auto-promote --start-show-after 5 \\
        --consult auto --consult-after 10 --consult-for 20
    voiceroom bot ws://localhost:8765 --secret $S --room demo --count 50 --record-dir out/
    voiceroom bot ws://localhost:8765 --secret $S --room demo --count 200 --no-media --claim
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from voiceroom.client.audio import (
    AudioSource,
    FileSource,
    SilenceSource,
    ToneSource,
    tone_level,
)
from voiceroom.client.cli import BOT_HELP
from voiceroom.client.connection import RoomClient
from voiceroom.client.errors import ClientError, ServerError
from voiceroom.client.media import MediaPeer
from voiceroom.client.state import RoomState
from voiceroom.games.errors import GamesCode
from voiceroom.room.errors import ErrorCode

# Refusals that only mean "not now": the bot waits for the room to change and tries again.
_NOT_NOW = frozenset(
    {
        ErrorCode.SEAT_POLICY,
        ErrorCode.NO_FREE_SEAT,
        ErrorCode.WRONG_PHASE,
        ErrorCode.ALREADY_QUEUED,
        ErrorCode.ALREADY_SEATED,
        ErrorCode.QUEUE_EMPTY,
        ErrorCode.NOT_QUEUED,
        ErrorCode.NO_INVITE,
        ErrorCode.RATE_LIMITED,
        ErrorCode.IN_CONSULTATION,
        ErrorCode.CONSULTATION_ACTIVE,
        GamesCode.GAME_NOT_OPEN,  # the vote / round closed before our turn
    }
)
# Claim refusals that may change: try again on the next change of the room.
_CLAIM_LATER = frozenset({"early_access", "sale_not_open", "rate_limited"})
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_TONE_NOT_HEARD = 3


def pick_option(user: str, options: int) -> int:
    """A bot's vote when none is given: stable per user id (tests can predict tallies)."""
    return zlib.crc32(user.encode()) % options


def pick_amount(user: str) -> int:
    """A bot's guess when none is given: 1.00 to 200.00 in minor units, stable per user."""
    return 100 + zlib.crc32(b"guess:" + user.encode()) % 19_901


@dataclass(frozen=True, slots=True)
class BotConfig:
    url: str
    token: str | None = None  # or a link with ?token=
    # Speaking
    speak: bool = False  # get a seat: take one in the warm-up, raise a hand in the show
    accept_invites: bool = True
    tone: float | None = None  # publish a sine at this frequency (Hz) while seated
    file: Path | None = None  # ... or this WAV/OGG file
    loop: bool = True
    silence: bool = False  # ... or silence (the default when speaking with no source)
    # Listening
    media: bool = True
    record: Path | None = None  # WAV of everything heard
    keep_seconds: float = 10.0
    expect_tones: tuple[float, ...] = ()  # frequencies that must be heard (exit code 3)
    tone_threshold: float = 0.02
    # Hosting (host / co-host tokens)
    auto_promote: bool = False
    start_show_after: float | None = None  # seconds after joining
    consult_user: str | None = None  # a user id, or "auto": the first seated listener
    consult_mode: str = "listen_in"
    consult_after: float = 5.0  # seconds after the show started
    consult_for: float | None = None  # end it after this long (None: leave it running)
    end_after: float | None = None  # end the room this long after joining
    # Games (load): play every vote / guess-the-price round that opens
    vote: bool = False
    vote_option: int | None = None  # None: an option picked from the user id (stable)
    guess: bool = False
    guess_amount: int | None = None  # minor units; None: picked from the user id
    # Shopping
    claim: bool = False  # claim each flash sale once, as soon as it opens
    claim_quantity: int = 1
    # Lifetime
    duration: float | None = None  # leave after this long (None: until the room ends)
    leave_at_end: bool = True  # leave (free the seat) rather than just disconnect


@dataclass(slots=True)
class BotReport:
    user: str = ""
    seated_at: float | None = None  # seconds after joining
    show_started_at: float | None = None
    consultations: list[int] = field(default_factory=list)
    promoted: list[str] = field(default_factory=list)
    tone_levels: dict[float, float] = field(default_factory=dict)  # peak level heard
    errors: list[str] = field(default_factory=list)
    resumes: int = 0
    votes: dict[int, int] = field(default_factory=dict)  # vote id -> option cast
    guesses: dict[int, int] = field(default_factory=dict)  # round id -> amount guessed
    claims: dict[int, int] = field(default_factory=dict)  # sale id -> claim id
    claim_refusals: dict[int, str] = field(default_factory=dict)  # sale id -> error code


Log = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Bot:
    """One scripted member. ``start()`` joins and starts the behaviours, ``stop()`` ends
    them; ``run()`` does both and waits for the end (duration, room ended, Ctrl-C)."""

    def __init__(self, config: BotConfig, *, log: Log | None = _stderr) -> None:
        self.config = config
        self.report = BotReport()
        self.client: RoomClient | None = None
        self.media: MediaPeer | None = None
        self._log = log
        self._t0 = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self._done = asyncio.Event()
        self._hand_raised = False
        self._seat_refused_in: str | None = None  # phase in which take_seat said "not now"

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        cfg = self.config
        self._t0 = time.monotonic()
        self.client = await RoomClient.join(cfg.url, cfg.token)
        self.report.user = self.client.user
        self.say(f"joined as {self.client.role} (phase {self.client.state.phase})")
        if cfg.media:
            self.media = await MediaPeer.connect(
                self.client, keep_seconds=cfg.keep_seconds, record_to=cfg.record
            )
            self.say("media connected")
        self._spawn(self._react_loop())
        if cfg.expect_tones and self.media is not None:
            self._spawn(self._watch_tones())
        if cfg.start_show_after is not None or cfg.consult_user or cfg.end_after is not None:
            self._spawn(self._host_schedule())
        if cfg.duration is not None:
            self._spawn(self._stop_after(cfg.duration))
        self._spawn(self._watch_close())

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.media is not None:
            await self.media.close()
        if self.client is not None:
            self.report.resumes = self.client.resumes
            if self.config.leave_at_end:
                await self.client.leave()
            else:
                await self.client.close()
        self._done.set()

    async def wait(self) -> None:
        """Until the duration is over or the room has ended for this bot."""
        await self._done.wait()

    async def run(self) -> BotReport:
        await self.start()
        try:
            await self.wait()
        finally:
            await self.stop()
        return self.report

    async def __aenter__(self) -> Bot:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def say(self, message: str) -> None:
        if self._log is not None:
            who = self.report.user or "bot"
            self._log(f"[{self.elapsed:7.2f}s] {who}: {message}")

    # ------------------------------------------------------------------ behaviours
    def _spawn(self, coro: Any) -> None:
        self._tasks.append(asyncio.create_task(coro))

    async def _react_loop(self) -> None:
        client = self._require_client()
        while client.closed is None:
            seen = client.version
            await self._react(client.state)

            def changed(_: RoomState, seen: int = seen) -> bool:
                return client.version != seen

            # Re-check on every change, and every second anyway (retry "not now" refusals).
            with contextlib.suppress(TimeoutError):
                await client.wait_until(changed, timeout=1.0)

    async def _react(self, state: RoomState) -> None:
        cfg = self.config
        if cfg.speak or cfg.accept_invites:
            await self._seek_seat(state)
        self._sync_publishing(state)
        if cfg.vote or cfg.guess:
            await self._play(state)
        if cfg.claim:
            await self._claim_sales(state)
        if cfg.auto_promote and state.queue:
            head = state.queue[0]["user"]
            if await self._try(self._require_client().promote(head), f"promote {head}"):
                self.report.promoted.append(head)
                self.say(f"promoted {head}")

    async def _seek_seat(self, state: RoomState) -> None:
        client = self._require_client()
        if state.seated:
            self._hand_raised = False
            return
        if state.invite is not None and self.config.accept_invites:
            await self._try(client.accept_invite(), "accept invite")
            return
        if not self.config.speak:
            return
        if state.phase == "warmup" and self._seat_refused_in != "warmup":
            if not await self._try(client.take_seat(), "take seat"):
                self._seat_refused_in = "warmup"
        elif state.phase == "show" and state.queue_position is None and not self._hand_raised:
            if state.role in ("host", "cohost", "agent"):
                if self._seat_refused_in != "show" and not await self._try(
                    client.take_seat(), "take seat"
                ):
                    self._seat_refused_in = "show"
            elif await self._try(client.raise_hand(), "raise hand"):
                self._hand_raised = True
                self.say("raised hand")

    async def _play(self, state: RoomState) -> None:
        """Vote in an open poll and guess in an open round, once each."""
        client = self._require_client()
        poll = state.games.get("vote")
        if self.config.vote and poll and poll["id"] not in self.report.votes:
            n = len(poll["options"])
            option = self.config.vote_option
            option = pick_option(client.user, n) if option is None else option % n
            self.report.votes[poll["id"]] = option  # once per poll, whatever the answer
            if await self._try(client.vote(option), f"vote {option}"):
                self.say(f"voted {option} in vote {poll['id']}")
        round_ = state.games.get("guess")
        if self.config.guess and round_ and round_["id"] not in self.report.guesses:
            amount = self.config.guess_amount
            amount = pick_amount(client.user) if amount is None else amount
            self.report.guesses[round_["id"]] = amount
            if await self._try(client.guess(amount), f"guess {amount}"):
                self.say(f"guessed {amount} in round {round_['id']}")

    async def _claim_sales(self, state: RoomState) -> None:
        """One claim per open sale; a refusal that is final is kept, not retried."""
        client = self._require_client()
        for sale in state.shop.open_sales():
            sale_id = int(sale["id"])
            if sale_id in self.report.claims or sale_id in self.report.claim_refusals:
                continue
            try:
                await client.claim_sale(sale_id, self.config.claim_quantity)
            except ServerError as exc:
                if str(exc.code) in _CLAIM_LATER:
                    continue
                self.report.claim_refusals[sale_id] = str(exc.code)
                self.say(f"sale {sale_id}: {exc.code}")
                continue
            except ClientError as exc:
                self._error(f"claim sale {sale_id}", exc)
                continue
            mine = [k for k in state.shop.claims if int(k["sale"]) == sale_id]
            self.report.claims[sale_id] = int(mine[-1]["id"]) if mine else 0
            self.say(f"sale {sale_id}: claimed")

    def _sync_publishing(self, state: RoomState) -> None:
        if state.seated and self.report.seated_at is None:
            self.report.seated_at = self.elapsed  # a host is seated from its join on
        if self.media is None:
            return
        cfg = self.config
        wants_to_publish = cfg.speak or cfg.silence or cfg.tone is not None or cfg.file is not None
        if state.seated and wants_to_publish and not self.media.publishing:
            self.media.publish(self._source())
            self.say(f"on seat {state.my_seat}: publishing {self._source_name()}")
        elif not state.seated and self.media.publishing:
            self.media.stop_publishing()
            self.say("off seat: stopped publishing")

    def _source(self) -> AudioSource:
        cfg = self.config
        if cfg.file is not None:
            return FileSource(cfg.file, loop=cfg.loop)
        if cfg.tone is not None:
            return ToneSource(cfg.tone)
        return SilenceSource()

    def _source_name(self) -> str:
        cfg = self.config
        if cfg.file is not None:
            return str(cfg.file)
        return f"{cfg.tone:g} Hz tone" if cfg.tone is not None else "silence"

    async def _host_schedule(self) -> None:
        cfg = self.config
        client = self._require_client()
        marks: list[tuple[float, str]] = []
        if cfg.start_show_after is not None:
            marks.append((cfg.start_show_after, "show"))
        if cfg.end_after is not None:
            marks.append((cfg.end_after, "end"))
        if cfg.consult_user:
            self._spawn(self._consultation())
        for at, what in sorted(marks):
            await asyncio.sleep(max(0.0, at - self.elapsed))
            if what == "show" and client.state.phase == "warmup":
                if await self._try(client.start_show(), "start show"):
                    self.report.show_started_at = self.elapsed
                    self.say("show started")
            elif what == "end" and await self._try(client.end_room(), "end room"):
                self.say("room ended")

    async def _consultation(self) -> None:
        cfg = self.config
        client = self._require_client()
        await client.wait_until(lambda s: s.phase == "show", timeout=None)
        await asyncio.sleep(cfg.consult_after)
        user = cfg.consult_user
        if user == "auto":
            state = await client.wait_until(
                lambda s: self._first_seated_shopper(s) is not None, timeout=None
            )
            user = self._first_seated_shopper(state)
        assert user is not None
        try:
            id_ = await client.start_consultation(user, cfg.consult_mode)
        except ClientError as exc:
            self._error(f"start consultation with {user}", exc)
            return
        self.report.consultations.append(id_)
        self.say(f"consultation {id_} with {user} ({cfg.consult_mode})")
        if cfg.consult_for is not None:
            await asyncio.sleep(cfg.consult_for)
            if await self._try(client.end_consultation(id_), "end consultation"):
                self.say(f"consultation {id_} ended")

    def _first_seated_shopper(self, state: RoomState) -> str | None:
        for seat in state.seats:
            user = seat.get("user")
            role = state.members.get(user or "", {}).get("role")
            if user and user != state.user and role == "listener":
                return str(user)
        return None

    async def _watch_tones(self) -> None:
        media = self.media
        assert media is not None
        levels = self.report.tone_levels
        while True:
            await asyncio.sleep(0.25)
            recent = media.recent(0.5)
            for freq in self.config.expect_tones:
                level = tone_level(recent, freq)
                if level > levels.get(freq, 0.0):
                    if levels.get(freq, 0.0) <= self.config.tone_threshold < level:
                        self.say(f"hears {freq:g} Hz (level {level:.3f})")
                    levels[freq] = level

    async def _stop_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._done.set()

    async def _watch_close(self) -> None:
        client = self._require_client()
        with contextlib.suppress(ClientError):
            await client.wait_until(lambda _: False, timeout=None)
        if client.closed is not None:
            self.say(f"disconnected: {client.closed}")
        self._done.set()

    # ------------------------------------------------------------------ helpers
    async def _try(self, request: Any, what: str) -> bool:
        """Run one request; "not now" refusals return False quietly, others are logged."""
        try:
            await request
        except ServerError as exc:
            if exc.code not in _NOT_NOW:
                self._error(what, exc)
            return False
        except ClientError as exc:
            self._error(what, exc)
            return False
        return True

    def _error(self, what: str, exc: Exception) -> None:
        self.report.errors.append(f"{what}: {exc}")
        self.say(f"{what} failed: {exc}")

    def _require_client(self) -> RoomClient:
        assert self.client is not None, "bot not started"
        return self.client

    def heard(self, freq: float) -> bool:
        return self.report.tone_levels.get(freq, 0.0) > self.config.tone_threshold


# ---------------------------------------------------------------------- command line
def configs_from_args(args: argparse.Namespace) -> list[BotConfig]:
    """One BotConfig per bot the arguments ask for."""
    base = BotConfig(
        url=args.url,
        token=args.token,
        speak=args.speak,
        accept_invites=not args.no_invites,
        tone=args.tone,
        file=args.file,
        loop=not args.no_loop,
        silence=args.silence,
        media=not args.no_media,
        record=args.record,
        expect_tones=tuple(args.expect_tone),
        auto_promote=args.auto_promote,
        start_show_after=args.start_show_after,
        consult_user=args.consult,
        consult_mode=args.consult_mode,
        consult_after=args.consult_after,
        consult_for=args.consult_for,
        end_after=args.end_after,
        vote=args.vote,
        vote_option=args.vote_option,
        guess=args.guess,
        guess_amount=args.guess_amount,
        claim=args.claim,
        claim_quantity=args.claim_quantity,
        duration=args.duration,
    )
    if args.count < 1:
        raise ValueError("--count must be at least 1")
    if args.no_media and (args.record or args.record_dir or args.expect_tone):
        # Nothing would be heard: refuse rather than exit 0 with no file or no check.
        raise ValueError("--record, --record-dir and --expect-tone need media (drop --no-media)")
    secret = args.secret or os.environ.get("VOICEROOM_SECRET")
    has_token = bool(args.token) or "token=" in args.url
    if has_token and args.count == 1:
        return [base]
    if not secret:
        raise ValueError("no token: pass --token, a link with ?token=, or --secret to mint them")
    from voiceroom.auth import issue_token

    configs = []
    for i in range(args.count):
        user = args.user if args.count == 1 else f"{args.user}-{i + 1}"
        token = issue_token(
            secret,
            room=args.room,
            user=user,
            name=args.name or user,
            role=args.role,
            tier=args.tier,
        )
        record = base.record
        if args.record_dir is not None:
            args.record_dir.mkdir(parents=True, exist_ok=True)
            record = args.record_dir / f"{user}.wav"
        # Distinct tones per bot, so an FFT can tell speakers apart (440, 440*2^(1/4), ...).
        tone = None if base.tone is None else base.tone * 2 ** (i / 4)
        configs.append(replace(base, token=token, record=record, tone=tone))
    return configs


async def run_bots(configs: Sequence[BotConfig], *, log: Log | None = _stderr) -> list[BotReport]:
    bots = [Bot(c, log=log) for c in configs]

    async def one(bot: Bot) -> BotReport:
        try:
            return await bot.run()
        except ClientError as exc:
            bot.report.errors.append(f"join: {exc}")
            bot.say(f"failed: {exc}")
            return bot.report

    # Stagger joins a little: a burst of N handshakes + ICE set-ups all at once is a test of
    # the server's start-up path, not of a running room.
    async def staggered(i: int, bot: Bot) -> BotReport:
        await asyncio.sleep(i * 0.02)
        return await one(bot)

    return list(await asyncio.gather(*(staggered(i, b) for i, b in enumerate(bots))))


def run_bot(args: argparse.Namespace) -> int:
    """Run the bots ``args`` (from :func:`voiceroom.client.cli.add_bot_arguments`) ask for;
    returns the exit status."""
    try:
        configs = configs_from_args(args)
    except (ValueError, ClientError) as exc:
        print(f"voiceroom bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    log = None if args.quiet else _stderr
    with contextlib.suppress(KeyboardInterrupt):
        reports = asyncio.run(run_bots(configs, log=log))
        return _exit_code(configs, reports)
    return EXIT_OK


def _exit_code(configs: Sequence[BotConfig], reports: Sequence[BotReport]) -> int:
    code = EXIT_OK
    for cfg, report in zip(configs, reports, strict=True):
        if any(e.startswith("join:") for e in report.errors):
            code = EXIT_ERROR
        for freq in cfg.expect_tones:
            level = report.tone_levels.get(freq, 0.0)
            print(f"{report.user or '?'}: {freq:g} Hz peak level {level:.3f}", file=sys.stderr)
            if level <= cfg.tone_threshold and code == EXIT_OK:
                code = EXIT_TONE_NOT_HEARD
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m voiceroom.client.bot``: the same as ``voiceroom bot``."""
    from voiceroom.client.cli import add_bot_arguments

    parser = argparse.ArgumentParser(prog="voiceroom bot", description=BOT_HELP)
    add_bot_arguments(parser)
    return run_bot(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
