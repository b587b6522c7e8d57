"""``voiceroom api …``: the HTTP API from a shell, signing a fresh short-lived token per call
so an operator never writes a JWT by hand.

    voiceroom api token [--scope rooms:read ...] [--ttl 300]
    voiceroom api rooms create --title T --market riyadh --tz Asia/Riyadh \\
        --starts-at 2026-12-03T21:00 [--id ID] [--seats 8]   (a time without offset is
                                                             read in --tz, the market's zone)
    voiceroom api rooms list [--state warmup|show|ended] [--market M]
    voiceroom api rooms get|start|end ID
    voiceroom api rooms schedule ID --starts-at ISO|none [--tz ZONE]
    voiceroom api link ROOM --user U --name N [--role R] [--tier T] [--locale L] [--ttl S]
    voiceroom api participants list|remove|role|tier|mute ROOM [USER|SEAT] [VALUE]
    voiceroom api call METHOD PATH [--body JSON]   (any endpoint, e.g. GET /webhooks/deliveries)

Key: ``--key kid:secret``, else ``VOICEROOM_API_KEY``, else the first of the config's
``api_keys``. URL: ``--url``, else ``VOICEROOM_API_URL``, else http://127.0.0.1:<api port>.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from voiceroom.api.auth import ALL_SCOPES, MAX_TTL, issue_api_token
from voiceroom.config import Config

HELP = "call the HTTP API (rooms, join links) with an API key"


def add_api_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="TOML config (its api_keys and port)")
    p.add_argument("--url", help="API base URL, e.g. http://127.0.0.1:8766")
    p.add_argument("--key", help="kid:secret (default: $VOICEROOM_API_KEY or the config's)")
    sub = p.add_subparsers(dest="api_command", required=True)

    t = sub.add_parser("token", help="print a short-lived API token (for curl)")
    t.add_argument("--scope", nargs="*", default=list(ALL_SCOPES))
    t.add_argument("--ttl", type=float, default=300.0, help=f"seconds, at most {MAX_TTL:g}")

    rooms = sub.add_parser("rooms", help="create, list, get, schedule, start, end rooms")
    rsub = rooms.add_subparsers(dest="rooms_command", required=True)
    c = rsub.add_parser("create")
    c.add_argument("--id")
    c.add_argument("--title", required=True)
    c.add_argument("--market", required=True, help="market name, e.g. riyadh")
    c.add_argument("--tz", required=True, help="the market's IANA zone, e.g. Asia/Riyadh")
    c.add_argument("--starts-at", help="ISO 8601; without an offset it is read in --tz")
    c.add_argument("--seats", type=int, default=8)
    ls = rsub.add_parser("list")
    ls.add_argument("--state", choices=["warmup", "show", "ended"])
    ls.add_argument("--market")
    for name in ("get", "start", "end"):
        rsub.add_parser(name).add_argument("room")
    s = rsub.add_parser("schedule")
    s.add_argument("room")
    s.add_argument("--starts-at", required=True, help="ISO 8601, or 'none' to clear")
    s.add_argument("--tz", default="UTC", help="zone for a time without offset")

    people = sub.add_parser("participants", help="list, remove, set role / tier, mute a seat")
    psub = people.add_subparsers(dest="participants_command", required=True)
    psub.add_parser("list").add_argument("room")
    rm = psub.add_parser("remove")
    rm.add_argument("room")
    rm.add_argument("user")
    for name, choices in (("role", ["cohost", "agent", "listener"]), ("tier", None)):
        q = psub.add_parser(name)
        q.add_argument("room")
        q.add_argument("user")
        q.add_argument("value", choices=choices)
    mute = psub.add_parser("mute")
    mute.add_argument("room")
    mute.add_argument("seat", type=int)
    mute.add_argument("--off", action="store_true", help="lift the moderator mute")

    call = sub.add_parser("call", help="any endpoint: METHOD PATH (under /api/v1)")
    call.add_argument("method", choices=["GET", "POST", "PUT", "DELETE"])
    call.add_argument("path", help="e.g. /rooms/riyadh-prime/chat?limit=20")
    call.add_argument("--body", help="JSON request body")

    link = sub.add_parser("link", help="mint a join link for one user")
    link.add_argument("room")
    link.add_argument("--user", required=True)
    link.add_argument("--name", required=True)
    link.add_argument("--role", default="listener", choices=["host", "cohost", "agent", "listener"])
    link.add_argument("--tier", default="new")
    link.add_argument("--locale", default="en")
    link.add_argument("--ttl", type=int, default=3600)
    link.add_argument("--json", action="store_true", help="print url, token and expiry")


def _instant(text: str, zone: str) -> str:
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(zone))
    return at.isoformat()


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None, dict[str, Any]]:
    """(method, path, json body, query) for the chosen command."""
    if args.api_command == "link":
        body = {
            "user": args.user,
            "name": args.name,
            "role": args.role,
            "tier": args.tier,
            "locale": args.locale,
            "ttl": args.ttl,
        }
        return "POST", f"/rooms/{args.room}/links", body, {}
    if args.api_command == "call":
        path, _, query = args.path.partition("?")
        params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        payload = None if args.body is None else json.loads(args.body)
        return args.method, "/" + path.lstrip("/"), payload, params
    if args.api_command == "participants":
        pc, room = args.participants_command, args.room
        if pc == "list":
            return "GET", f"/rooms/{room}/participants", None, {}
        if pc == "remove":
            return "DELETE", f"/rooms/{room}/participants/{args.user}", None, {}
        if pc == "mute":
            return "PUT", f"/rooms/{room}/seats/{args.seat}/mute", {"muted": not args.off}, {}
        return "PUT", f"/rooms/{room}/participants/{args.user}/{pc}", {pc: args.value}, {}
    cmd = args.rooms_command
    if cmd == "create":
        body = {
            "title": args.title,
            "market": {"name": args.market, "time_zone": args.tz},
            "seat_count": args.seats,
        }
        if args.id:
            body["id"] = args.id
        if args.starts_at:
            body["starts_at"] = _instant(args.starts_at, args.tz)
        return "POST", "/rooms", body, {}
    if cmd == "list":
        query = {k: v for k, v in (("state", args.state), ("market", args.market)) if v}
        return "GET", "/rooms", None, query
    if cmd == "get":
        return "GET", f"/rooms/{args.room}", None, {}
    if cmd in ("start", "end"):
        return "POST", f"/rooms/{args.room}/{cmd}", None, {}
    if cmd == "schedule":
        at = None if args.starts_at.lower() == "none" else _instant(args.starts_at, args.tz)
        return "PUT", f"/rooms/{args.room}/schedule", {"starts_at": at}, {}
    raise SystemExit(f"unknown command {cmd}")


def run_api(args: argparse.Namespace, config: Config, env: Mapping[str, str]) -> int:
    key = (
        args.key or env.get("VOICEROOM_API_KEY") or (config.api_keys[0] if config.api_keys else "")
    )
    kid, _, secret = key.partition(":")
    if not kid or not secret:
        print(
            "voiceroom: no API key: --key kid:secret, VOICEROOM_API_KEY or api_keys",
            file=sys.stderr,
        )
        return 2
    if args.api_command == "token":
        print(issue_api_token(kid, secret, args.scope, ttl=args.ttl))
        return 0
    url = args.url or env.get("VOICEROOM_API_URL") or f"http://127.0.0.1:{config.api_bind_port}"
    import httpx  # here: `voiceroom token` and `serve` need not load it

    method, path, body, query = _request(args)
    token = issue_api_token(kid, secret, ALL_SCOPES, ttl=60)
    try:
        response = httpx.request(
            method,
            url.rstrip("/") + "/api/v1" + path,
            json=body,
            params=query or None,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
        )
    except httpx.HTTPError as exc:
        print(f"voiceroom: cannot reach the API at {url}: {exc}", file=sys.stderr)
        return 1
    try:
        data = response.json()
    except ValueError:
        data = {"error": {"code": "http", "message": response.text}}
    if response.status_code >= 400:
        err = data.get("error") if isinstance(data, dict) else None
        detail = f"{err['code']}: {err['message']}" if err else json.dumps(data)
        print(f"voiceroom: HTTP {response.status_code} {detail}", file=sys.stderr)
        return 1
    if args.api_command == "link" and not args.json:
        print(data["url"])
    else:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    return 0
