"""The ``voiceroom`` command: a thin layer over Config, Server and auth.

voiceroom serve [--host H] [--port P] [--config file.toml] [--demo] [--media]
                [--tls-cert cert.pem --tls-key key.pem] [--media-public-ip IP]
voiceroom token --room demo --user u1 --name Ann --role listener --tier vip --ttl 3600
voiceroom db upgrade|check|export [--config F] [--store URL] [--out file.json]
voiceroom bot URL [--token T] [--speak --tone 440] [--auto-promote ...]  (voiceroom.client.bot)
voiceroom verify-draw FILE [--commitment HEX]   (recompute a lottery draw; exit 0 if it holds)
voiceroom prime-time --zone Asia/Riyadh --zone Europe/Berlin [--window 20-23] [--days 7]
voiceroom api rooms create|list|get|schedule|start|end ..., voiceroom api link ROOM ...,
voiceroom api token                                            (voiceroom.api.client)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from voiceroom import cli_games
from voiceroom.auth import AuthError, issue_token
from voiceroom.client.cli import BOT_HELP, add_bot_arguments, run_bot
from voiceroom.config import Config, ConfigError, check_secret, load_config
from voiceroom.observability import configure_logging
from voiceroom.room.model import Role
from voiceroom.store.base import StoreError


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    p = argparse.ArgumentParser(prog="voiceroom", description="Voice rooms for live commerce.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser(
        "serve",
        help="run the signalling server",
        description="Run the server. Settings: defaults < --config < VOICEROOM_* < flags "
        "(every key: docs/configuration.md).",
    )
    s.add_argument("--config", metavar="FILE", help="TOML config file (docs/configuration.md)")
    s.add_argument("--host", help="address to listen on (default 127.0.0.1; 0.0.0.0 for all)")
    s.add_argument("--port", type=int, help="TCP port (default 8765; 0 picks a free one)")
    s.add_argument(
        "--demo",
        action="store_true",
        help='open room "demo", print join links; bundled warm-up music unless --music-dir',
    )
    s.add_argument(
        "--media",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the WebRTC media plane (default on; --no-media: signalling only)",
    )
    s.add_argument("--music-dir", metavar="DIR", help="folder of tracks hosts may play")
    s.add_argument("--tls-cert", help="PEM certificate chain: https + wss on the same port")
    s.add_argument("--tls-key", help="PEM private key for --tls-cert")
    s.add_argument(
        "--media-public-ip", help="address to advertise for media (NAT 1:1, e.g. a cloud VM)"
    )
    s.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="worker processes (default 0: one per core; 1 when the server itself does TLS)",
    )
    s.add_argument(
        "--log-level", choices=["debug", "info", "warning", "error"], help="default info"
    )
    _store_arguments(s)

    d = sub.add_parser("db", help="the durable store: migrate, check, export")
    d.add_argument(
        "action", choices=["upgrade", "check", "export"], help="what to do with the store"
    )
    d.add_argument("--config", metavar="FILE", help="TOML config file (docs/configuration.md)")
    _store_arguments(d)
    d.add_argument("--out", help="export: write the JSON here (default: stdout)")

    t = sub.add_parser(
        "token",
        help="print a signed join token",
        description="Print a join token signed with the server's secret (VOICEROOM_SECRET "
        "or `secret` in --config).",
    )
    t.add_argument("--config", metavar="FILE", help="TOML config file holding the secret")
    t.add_argument("--room", required=True, help="room id")
    t.add_argument("--user", required=True, help="identity (the token's sub)")
    t.add_argument("--name", required=True, help="display name")
    t.add_argument("--role", default="listener", choices=[r.value for r in Role], help="role")
    t.add_argument("--tier", default="new", help="one of the rooms' tiers (room.tiers)")
    t.add_argument("--locale", default="en", help="UI language, e.g. en or ar")
    t.add_argument("--ttl", type=float, default=None, help="seconds (default: token_ttl)")

    b = sub.add_parser("bot", help=BOT_HELP, description=BOT_HELP)
    add_bot_arguments(b)
    games = cli_games.add_arguments(sub)  # verify-draw, prime-time

    from voiceroom.api.client import HELP as API_HELP
    from voiceroom.api.client import add_api_arguments

    a = sub.add_parser("api", help=API_HELP, description=API_HELP)
    add_api_arguments(a)
    return p, {"serve": s, "token": t, "bot": b, "db": d, "api": a, **games}


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser, subs = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # An unknown flag belongs to the subcommand's usage, not the top-level one.
        subs[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def _warn(message: str) -> None:
    print(f"voiceroom: warning: {message}", file=sys.stderr)


def _store_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        help="memory | sqlite | sqlite:///path | postgresql+psycopg://... "
        "(default: sqlite under --data-dir; env VOICEROOM_STORE)",
    )
    p.add_argument("--data-dir", help="where store=sqlite keeps voiceroom.db (default ./var)")


# `voiceroom serve` and `voiceroom db` keep data by default; the library's Config does not.
SERVE_DEFAULTS: dict[str, object] = {"store": "sqlite", "workers": 0}
# What `voiceroom db` reads: the store's settings only.
STORE_SETTINGS = frozenset({"store", "data_dir", "snapshot_every"})


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    if args.command == "bot":
        return run_bot(args)  # voiceroom.client.bot, imported only now
    if args.command == "verify-draw":
        return cli_games.verify_draw_main(args)
    if args.command == "prime-time":
        return cli_games.prime_time_main(args)
    try:
        if args.command == "serve":
            config = load_config(
                args.config,
                os.environ,
                warn=_warn,
                host=args.host,
                port=args.port,
                media=args.media,
                music_dir=args.music_dir,
                tls_cert=args.tls_cert,
                tls_key=args.tls_key,
                media_public_ip=args.media_public_ip,
                log_level=args.log_level,
                store=args.store,
                data_dir=args.data_dir,
                workers=args.workers,
                defaults=SERVE_DEFAULTS,
            )
            check_secret(config.secret, demo=args.demo)
            return _serve(config, demo=args.demo)
        if args.command == "db":
            config = load_config(
                args.config,
                os.environ,
                warn=_warn,
                store=args.store,
                data_dir=args.data_dir,
                defaults=SERVE_DEFAULTS,
                only=STORE_SETTINGS,  # not the TURN or API secrets the server needs
            )
            return _db(config, args.action, args.out)
        config = load_config(args.config, os.environ, warn=_warn)
        if args.command == "api":
            from voiceroom.api.client import run_api

            return run_api(args, config, os.environ)
        check_secret(config.secret, demo=False)
        if args.tier not in config.room.tiers:
            tiers = ", ".join(config.room.tiers)
            raise ConfigError(
                f"unknown tier {args.tier!r}: the rooms' tiers are {tiers} "
                "(room.tiers / VOICEROOM_ROOM_TIERS)"
            )
        print(
            issue_token(
                config.secret,
                room=args.room,
                user=args.user,
                name=args.name,
                role=args.role,
                tier=args.tier,
                locale=args.locale,
                ttl=config.token_ttl if args.ttl is None else args.ttl,
            )
        )
        return 0
    except (ConfigError, AuthError, StoreError) as exc:
        print(f"voiceroom: {redact(str(exc), os.environ)}", file=sys.stderr)
        return 2


_URL_PASSWORD = re.compile(r"(://[^/\s:@]*:)[^@\s/]+@")
_WHSEC = re.compile(r"whsec_[A-Za-z0-9+/=_-]+")
_SECRET_VARIABLES = ("VOICEROOM_SECRET", "VOICEROOM_TURN_SECRET", "VOICEROOM_TURN_PASSWORD")


def redact(message: str, env: Mapping[str, str]) -> str:
    """``message`` without secrets, should one have slipped in (config.py's messages leave
    them out already): webhook secrets, passwords in URLs, the secrets the environment
    holds (join-token secret, TURN secret and password, API key secrets)."""
    values = [env.get(name, "") for name in _SECRET_VARIABLES]
    values += [e.partition(":")[2] for e in env.get("VOICEROOM_API_KEYS", "").split(",")]
    for value in sorted(filter(None, (v.strip() for v in values)), key=len, reverse=True):
        if len(value) >= 8:
            message = message.replace(value, "***")
    message = _WHSEC.sub("whsec_***", message)
    return _URL_PASSWORD.sub(r"\1***@", message)


def worker_count(config: Config) -> int:
    """``workers``: 0 is one per core, except that TLS on the server itself means one (the
    front routes by peeking at the request head, which TLS hides), and so does a store the
    workers cannot share (memory, none)."""
    from voiceroom.workers.front import default_workers

    if config.workers > 1 and config.tls:
        raise ConfigError(
            f"workers = {config.workers} with tls_cert: the server terminates TLS in one process "
            "only; terminate TLS in a reverse proxy (docs/deploy.md) or set workers = 1"
        )
    shared = config.store not in ("memory", "none")
    if config.workers > 1 and not shared:
        raise ConfigError(
            f"workers = {config.workers} with store = {config.store!r}: workers share the "
            "store (a restarted worker's rooms, webhook endpoints); use sqlite or postgresql, "
            "or workers = 1"
        )
    if config.workers == 0:
        return 1 if config.tls or not shared else default_workers()
    return config.workers


def _serve(config: Config, *, demo: bool) -> int:
    from voiceroom.server import CannotListen, Server, check_start, demo_config
    from voiceroom.workers.supervisor import WorkerStartFailed, WorkerUnavailable

    if demo:
        config = demo_config(config)
    # Refuses what cannot work before anything starts (no worker is spawned for a bad
    # setting): the worker count, then what only a start would find (the TLS files).
    count = worker_count(config)
    check_start(config)
    configure_logging(config.log_level, json=config.log_json)

    def ready(server: Any, links: dict[str, str]) -> None:
        print(f"voiceroom: demo room ready on port {server.port}. Open one link per browser:")
        for label, link in links.items():
            print(f"  {label:13} {link}")
        expires = server.demo_links_expire_at
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(expires))
        minutes = round((expires - time.time()) / 60)
        print(
            f"  (these links expire at {when}, in {minutes} min; restart to get new ones, "
            "or set VOICEROOM_TOKEN_TTL in seconds)"
        )
        if server.ephemeral_secret:
            print("  (tokens signed with a throw-away secret: set VOICEROOM_SECRET to keep them)")
        if server.api_port is not None:
            bound = server.config.host
            host = bound if bound not in ("0.0.0.0", "::", "") else "localhost"
            print(f"  HTTP API: http://{host}:{server.api_port}/api/v1 (docs/api.md)")
        sys.stdout.flush()

    async def run() -> None:
        if count > 1:
            from voiceroom.workers.front import Front

            await Front(config, count).run(demo=demo, on_ready=ready)
        else:
            await Server(config).run(demo=demo, on_ready=ready)

    try:
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C during shutdown
            asyncio.run(run())
    except CannotListen as exc:  # binding the port: one line, not a traceback
        if exc.errno == errno.EADDRINUSE:
            why = "the address is already in use (another server? pick one with --port)"
        elif exc.errno == errno.EACCES:
            why = "permission denied (ports below 1024 need privileges)"
        else:
            why = exc.strerror or str(exc)
        print(f"voiceroom: cannot listen on {exc.where}: {why}", file=sys.stderr)
        return 1
    except WorkerStartFailed as exc:
        if exc.code == 2:  # a configuration error: the worker said which, in one line
            return 2
        print(f"voiceroom: {redact(str(exc), os.environ)}", file=sys.stderr)
        return 1
    except WorkerUnavailable as exc:  # workers not ready within START_TIMEOUT
        print(f"voiceroom: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # anything else the start needs (data_dir, the store's file)
        print(f"voiceroom: cannot start: {redact(str(exc), os.environ)}", file=sys.stderr)
        return 1
    return 0


def _db(config: Config, action: str, out: str | None) -> int:
    from voiceroom.store import open_store
    from voiceroom.store.sql import dumps

    store = open_store(config.store, config.data_dir)
    try:
        if action == "upgrade":
            store.upgrade()
            print(f"voiceroom: {getattr(store, 'safe_url', store.url)} is up to date")
            return 0
        if action == "check":
            problems = store.check()
            for problem in problems:
                print(f"voiceroom: {problem}", file=sys.stderr)
            if not problems:
                print("voiceroom: store ok")
            return 1 if problems else 0
        text = dumps(store.export())
        if out:
            with open(out, "w", encoding="utf-8") as f:
                f.write(text)
        else:
            print(text)
        return 0
    finally:
        store.close()
