"""The ``voiceroom bot`` command line: argument definitions only, so that ``voiceroom`` can
build its parser without importing aiortc and PyAV (``voiceroom token`` stays fast).

``voiceroom/cli.py`` calls :func:`add_bot_arguments` on its ``bot`` subparser and hands the
parsed arguments to :func:`run_bot`, which imports :mod:`voiceroom.client.bot` lazily.
"""

from __future__ import annotations

import argparse
from pathlib import Path

BOT_HELP = "run scripted room members: speakers, listeners, hosts (demos, tests, load)"


def add_bot_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``voiceroom bot`` options to ``parser`` (a subparser of the main CLI)."""
    p = parser
    p.add_argument("url", help="ws://host:port, or a join link http://host:port/?token=...")
    p.add_argument("--token", help="join token (or put it in the link)")
    g = p.add_argument_group("minting tokens (load generation)")
    g.add_argument("--secret", help="sign tokens (default: $VOICEROOM_SECRET)")
    g.add_argument("--room", default="demo")
    g.add_argument("--user", default="bot", help="user id; with --count, a prefix")
    g.add_argument("--name", help="display name (default: the user id)")
    g.add_argument("--role", default="listener", choices=["host", "cohost", "agent", "listener"])
    g.add_argument("--tier", default="new")
    g.add_argument("--count", type=int, default=1, help="run this many bots (needs --secret)")
    s = p.add_argument_group("speaking")
    s.add_argument("--speak", action="store_true", help="take a seat / raise a hand")
    src = s.add_mutually_exclusive_group()
    src.add_argument("--tone", type=float, metavar="HZ", help="publish a sine tone")
    src.add_argument("--file", type=Path, help="publish an audio file (anything PyAV decodes)")
    src.add_argument("--silence", action="store_true", help="publish silence")
    s.add_argument("--no-loop", action="store_true", help="play --file once")
    s.add_argument("--no-invites", action="store_true", help="ignore seat invitations")
    listen = p.add_argument_group("listening")
    listen.add_argument("--no-media", action="store_true", help="signalling only")
    listen.add_argument("--record", type=Path, help="write what the bot hears to a WAV file")
    listen.add_argument("--record-dir", type=Path, help="with --count: one WAV per bot")
    listen.add_argument(
        "--expect-tone",
        type=float,
        action="append",
        default=[],
        metavar="HZ",
        help="exit with status 3 unless this tone was heard (repeatable)",
    )
    h = p.add_argument_group("hosting (host or co-host token)")
    h.add_argument("--auto-promote", action="store_true", help="seat whoever raises a hand")
    h.add_argument("--start-show-after", type=float, metavar="S")
    h.add_argument("--consult", metavar="USER", help='start a 1v1 with USER ("auto": first seated)')
    h.add_argument("--consult-mode", default="listen_in", choices=["listen_in", "private"])
    h.add_argument("--consult-after", type=float, default=5.0, metavar="S")
    h.add_argument("--consult-for", type=float, metavar="S")
    h.add_argument("--end-after", type=float, metavar="S", help="end the room")
    games = p.add_argument_group("games (load)")
    games.add_argument("--vote", action="store_true", help="vote in every vote that opens")
    games.add_argument("--vote-option", type=int, metavar="N", help="0-based (default: by id)")
    games.add_argument("--guess", action="store_true", help="guess in every price round")
    games.add_argument("--guess-amount", type=int, metavar="MINOR", help="(default: by id)")
    shop = p.add_argument_group("shopping (listener token)")
    shop.add_argument("--claim", action="store_true", help="claim every flash sale as it opens")
    shop.add_argument("--claim-quantity", type=int, default=1, metavar="N", help="units per claim")
    p.add_argument("--duration", type=float, metavar="S", help="leave after S seconds")
    p.add_argument("--quiet", action="store_true")
    return p


def run_bot(args: argparse.Namespace) -> int:
    """Run what ``args`` asks for; returns the process exit status."""
    from voiceroom.client import bot

    return bot.run_bot(args)
