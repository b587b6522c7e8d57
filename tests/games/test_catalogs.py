"""Every prompt id and every error code (of every core) has text in every catalog, prompt
placeholders are the ones the core accepts, machine-written catalogs say so, and each
market's prompt keeps its idiom (docs/engagement.md, "Prompts in the shopper's idiom")."""

from __future__ import annotations

import importlib
import json
import re
from enum import StrEnum
from pathlib import Path

import pytest

from voiceroom.games.errors import GamesCode
from voiceroom.games.prompts import PROMPT_IDS, PROMPT_PARAMS
from voiceroom.room.errors import ErrorCode

I18N = Path(__file__).resolve().parents[2] / "clients" / "web" / "i18n"
LOCALES = ("en", "ar", "zh", "id", "ja")
CATALOGS = {lang: json.loads((I18N / f"{lang}.json").read_text("utf-8")) for lang in LOCALES}


def all_codes() -> list[str]:
    """Every core's error codes: room, games, and commerce once it exists."""
    enums: list[type[StrEnum]] = [ErrorCode, GamesCode]
    try:  # by name: the commerce core lands on another branch
        commerce = importlib.import_module("voiceroom.commerce.errors")
    except ImportError:
        pass
    else:
        enums.append(commerce.CommerceCode)
    return [c.value for e in enums for c in e]


def test_no_code_in_two_cores() -> None:
    codes = all_codes()
    assert len(codes) == len(set(codes))


@pytest.mark.parametrize("lang", LOCALES)
def test_every_prompt_and_error_has_text(lang: str) -> None:
    cat = CATALOGS[lang]
    missing = [f"prompt.{p}" for p in PROMPT_IDS if not cat.get(f"prompt.{p}", "").strip()]
    missing += [f"error.{c}" for c in all_codes() if not cat.get(f"error.{c}", "").strip()]
    assert not missing, f"{lang}: {missing}"


@pytest.mark.parametrize("lang", LOCALES)
def test_prompt_placeholders_are_params_the_core_accepts(lang: str) -> None:
    for p in PROMPT_IDS:
        used = set(re.findall(r"\{(\w+)\}", CATALOGS[lang][f"prompt.{p}"]))
        assert used <= PROMPT_PARAMS[p], (lang, p, used)


@pytest.mark.parametrize("lang", ["zh", "id", "ja"])
def test_new_catalogs_mark_machine_text_and_cover_the_games(lang: str) -> None:
    cat = CATALOGS[lang]
    assert "native" in cat["_review"]
    en_games = {k for k in CATALOGS["en"] if k.startswith(("games.", "tier."))}
    assert en_games <= set(cat), en_games - set(cat)
    for key, text in cat.items():
        if key in CATALOGS["en"] and key != "_review":
            want = set(re.findall(r"\{(\w+)\}", CATALOGS["en"][key]))
            assert set(re.findall(r"\{(\w+)\}", text)) == want or key.startswith("prompt."), key


# One marker of each market's idiom, per the source article: the Arabic prompt invites to
# the mic, the South-East Asian ones to share and buy together, the European one states rules.
IDIOM = {
    "ar": "المايك",  # the mic
    "id": r"(Bagikan|bagikan|Ajak|ajak|bareng|patungan)",  # share / invite / together / group-buy
    "zh": r"(分享|拼团|叫上朋友)",  # share / group-buy
    "en": r"(Rules|rules|One |one )",
    "ja": r"(お一人様|先着順|ルール)",  # per person / first come
}


@pytest.mark.parametrize("prompt", ["flash_sale_now", "guess_the_price", "vote_now"])
@pytest.mark.parametrize("lang", LOCALES)
def test_prompts_keep_their_market_idiom(lang: str, prompt: str) -> None:
    assert re.search(IDIOM[lang], CATALOGS[lang][f"prompt.{prompt}"]), (lang, prompt)
