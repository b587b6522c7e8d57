"""The ``voiceroom`` command: a thin layer over Config, Server and auth.

voiceroom serve [--host H] [--port P] [--config file.toml] [--demo] [--media]
voiceroom token --room demo --user u1 --name Ann --role listener --tier vip --ttl 3600
voiceroom db upgrade|check|export [--config F] [--store URL] [--out file.json]
voiceroom bot URL [--token T] [--speak --tone 440] [--auto-promote ...]  (voiceroom.client.bot)
voiceroom api rooms create|list|get|schedule|start|end ..., voiceroom api link ROOM ...,
voiceroom api token                                            (voiceroom.api.client)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from collections.abc import Sequence

from voiceroom.auth import AuthError, issue_token
from voiceroom.client.cli import BOT_HELP, add_bot_arguments, run_bot
from voiceroom.config import Config, ConfigError, load_config
from voiceroom.observability import configure_logging
from voiceroom.room.model import Role
from voiceroom.store.base import StoreError


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="voiceroom", description="Voice rooms for live commerce.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the signalling server")
    s.add_argument("--config", help="TOML config file (see voiceroom.config)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument(
        "--demo",
        action="store_true",
        help='open room "demo", print join links; bundled warm-up music unless --music-dir',
    )
    s.add_argument("--media", action=argparse.BooleanOptionalAction, default=None)
    s.add_argument("--music-dir")
    s.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    _store_arguments(s)

    d = sub.add_parser("db", help="the durable store: migrate, check, export")
    d.add_argument("action", choices=["upgrade", "check", "export"])
    d.add_argument("--config", help="TOML config file (see voiceroom.config)")
    _store_arguments(d)
    d.add_argument("--out", help="export: write the JSON here (default: stdout)")

    t = sub.add_parser("token", help="print a signed join token")
    t.add_argument("--config", help="TOML config file holding the secret")
    t.add_argument("--room", required=True)
    t.add_argument("--user", required=True, help="identity (the token's sub)")
    t.add_argument("--name", required=True, help="display name")
    t.add_argument("--role", default="listener", choices=[r.value for r in Role])
    t.add_argument("--tier", default="new")
    t.add_argument("--locale", default="en")
    t.add_argument("--ttl", type=float, default=None, help="seconds (default: config)")

    add_bot_arguments(sub.add_parser("bot", help=BOT_HELP, description=BOT_HELP))

    from voiceroom.api.client import HELP as API_HELP
    from voiceroom.api.client import add_api_arguments

    add_api_arguments(sub.add_parser("api", help=API_HELP, description=API_HELP))
    return p


def _store_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        help="memory | sqlite | sqlite:///path | postgresql+psycopg://... "
        "(default: sqlite under --data-dir; env VOICEROOM_STORE)",
    )
    p.add_argument("--data-dir", help="where store=sqlite keeps voiceroom.db (default ./var)")


# `voiceroom serve` and `voiceroom db` keep data by default; the library's Config does not.
SERVE_DEFAULTS = {"store": "sqlite"}


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "bot":
        return run_bot(args)  # voiceroom.client.bot, imported only now
    try:
        if args.command == "serve":
            config = load_config(
                args.config,
                os.environ,
                host=args.host,
                port=args.port,
                media=args.media,
                music_dir=args.music_dir,
                log_level=args.log_level,
                store=args.store,
                data_dir=args.data_dir,
                defaults=SERVE_DEFAULTS,
            )
            return _serve(config, demo=args.demo)
        if args.command == "db":
            config = load_config(
                args.config,
                os.environ,
                store=args.store,
                data_dir=args.data_dir,
                defaults=SERVE_DEFAULTS,
            )
            return _db(config, args.action, args.out)
        config = load_config(args.config, os.environ)
        if args.command == "api":
            from voiceroom.api.client import run_api

            return run_api(args, config, os.environ)
        if not config.secret:
            print(
                "voiceroom: no secret: set VOICEROOM_SECRET or `secret` in --config",
                file=sys.stderr,
            )
            return 2
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
        print(f"voiceroom: {exc}", file=sys.stderr)
        return 2


def _serve(config: Config, *, demo: bool) -> int:
    from voiceroom.server import Server, demo_config  # keeps `voiceroom token` light

    if demo:
        config = demo_config(config)
    configure_logging(config.log_level, json=config.log_json)

    def ready(server: Server, links: dict[str, str]) -> None:
        print(f"voiceroom: demo room ready on port {server.port}. Open one link per browser:")
        for label, link in links.items():
            print(f"  {label:13} {link}")
        if server.api_port is not None:
            bound = server.config.host
            host = bound if bound not in ("0.0.0.0", "::", "") else "localhost"
            print(f"  HTTP API      http://{host}:{server.api_port}/api/v1 (docs/api.md)")
        if server.ephemeral_secret:
            print("  (tokens signed with a throw-away secret: set VOICEROOM_SECRET to keep them)")
        sys.stdout.flush()

    async def run() -> None:
        server = Server(config)
        await server.run(demo=demo, on_ready=ready)

    with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C during shutdown
        asyncio.run(run())
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
