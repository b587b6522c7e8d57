"""Argument checks shared by the shop's handlers. Each returns the clean value or raises
a :class:`RuleError` with a commerce code; none writes anything.

Types are exact (``type(x) is int``): a bool is not an int and a float is not money. The
same commands reach the shop from the wire (already shape-checked by the protocol) and
from server entry points (the demo, the API), so the shop checks for itself.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

from voiceroom.commerce.errors import CommerceCode, fail

MAX_ID_CHARS: Final = 64
MAX_TITLE_CHARS: Final = 200
MAX_URL_CHARS: Final = 2048
# Commands are journaled and replayed in their wire form (protocol.parse_body), so no
# field may hold more than the wire allows, even from a server-side caller.
MAX_IMAGE_CHARS: Final = 4096  # protocol.MAX_STR_CHARS: room for a tiny data: URL
MAX_LIST_ITEMS: Final = 32  # protocol.MAX_ITEMS: explicit coupon codes, options, titles
MAX_LOCALES: Final = 16
MAX_OPTIONS: Final = 20
MAX_OPTION_CHARS: Final = 40
MAX_TIER_CHARS: Final = 32

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
_LOCALE = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


def bad(message: str) -> Exception:
    return fail(CommerceCode.BAD_OFFER, message)


def ident(value: Any, what: str) -> str:
    if type(value) is not str or not 1 <= len(value) <= MAX_ID_CHARS or not _ID.fullmatch(value):
        raise bad(f"{what} must be 1..{MAX_ID_CHARS} of A-Z a-z 0-9 _ . : - (got {value!r:.80})")
    return value


def count(value: Any, what: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise bad(f"{what} must be an integer {low}..{high}")
    return value


def seconds(value: Any, what: str, low: float, high: float) -> float:
    """A finite number of seconds (an int is fine: JavaScript writes 60.0 as 60)."""
    if type(value) not in (int, float) or not math.isfinite(value) or not low <= value <= high:
        raise bad(f"{what} must be a number of seconds {low:g}..{high:g}")
    return float(value)


def instant(value: Any, what: str) -> float:
    if type(value) not in (int, float) or not math.isfinite(value):
        raise bad(f"{what} must be a finite UTC epoch time")
    return float(value)


def text(value: Any, what: str, high: int) -> str:
    if type(value) is not str:
        raise bad(f"{what} must be a string")
    clean = value.strip()
    if not 1 <= len(clean) <= high:
        raise bad(f"{what} must be 1..{high} characters")
    return clean


def titles(value: Any) -> dict[str, str]:
    """Locale -> title: 1..16 entries, locales like ``en`` or ``ar-SA``."""
    if type(value) is not dict or not 1 <= len(value) <= MAX_LOCALES:
        raise bad(f"titles must map 1..{MAX_LOCALES} locales to a title")
    out: dict[str, str] = {}
    for locale, title in value.items():
        if type(locale) is not str or not _LOCALE.fullmatch(locale):
            raise bad(f"titles: {locale!r:.40} is not a locale tag like en or ar-SA")
        out[locale] = text(title, f"titles[{locale}]", MAX_TITLE_CHARS)
    return out


def url(value: Any, what: str, *, image: bool = False) -> str:
    """Empty, or http(s); an image may also be a path on this server or a data: image."""
    if type(value) is not str:
        raise bad(f"{what} must be a string")
    if not value:
        return ""
    cap = MAX_IMAGE_CHARS if image else MAX_URL_CHARS
    ok = value.startswith(("https://", "http://")) or (
        image and (value.startswith("data:image/") or (value.startswith("/") and "//" not in value))
    )
    if len(value) > cap or not ok or any(ch.isspace() for ch in value):
        allowed = "http(s), a /path or a data:image URL" if image else "an http(s) URL"
        raise bad(f"{what} must be {allowed} of at most {cap} characters")
    return value


def options(value: Any) -> tuple[str, ...]:
    if type(value) not in (list, tuple) or len(value) > MAX_OPTIONS:
        raise bad(f"options must be a list of at most {MAX_OPTIONS} strings")
    out = tuple(text(v, "option", MAX_OPTION_CHARS) for v in value)
    if len(set(out)) != len(out):
        raise bad("options must be distinct")
    return out


def tier(value: Any, what: str = "tier") -> str:
    return text(value, what, MAX_TIER_CHARS)
