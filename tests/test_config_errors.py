"""Deploy findings 3, 8, 10, 13: configuration errors name the setting and its source, never
repeat a secret, and VOICEROOM_WEBHOOKS works from the environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voiceroom.config import ConfigError, load_config

WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
GOOD_SECRET = "config-errors-secret-0123456789abcdefgh"


def error(path: Path | None = None, **env: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_config(path, env)
    return str(exc.value)


def test_webhooks_from_the_environment_are_a_json_object() -> None:
    hooks = {"shop": {"url": "https://shop.example/h", "secret": WHSEC, "events": ["room.*"]}}
    config = load_config(None, {"VOICEROOM_WEBHOOKS": json.dumps(hooks)})
    assert config.webhooks == hooks


@pytest.mark.parametrize("value", [f"shop=https://shop.example/h?{WHSEC}", f'{{"shop": "{WHSEC}'])
def test_a_bad_webhooks_value_names_the_variable_but_not_the_secret(value: str) -> None:
    message = error(VOICEROOM_WEBHOOKS=value, VOICEROOM_SECRET=GOOD_SECRET)
    assert "VOICEROOM_WEBHOOKS" in message and "JSON object" in message
    assert "whsec_" not in message and "MfKQ9r8" not in message
    assert "VOICEROOM_SECRET" not in message


def test_a_bad_webhook_endpoint_is_refused_at_load_with_its_source() -> None:
    hooks = {"shop": {"url": "https://shop.example/h", "secret": WHSEC, "events": ["rom.*"]}}
    message = error(VOICEROOM_WEBHOOKS=json.dumps(hooks), VOICEROOM_SECRET=GOOD_SECRET)
    assert message == (
        "webhooks.shop: unknown event filter 'rom.*' "
        "(webhooks from environment variable VOICEROOM_WEBHOOKS)"
    )


def test_an_api_key_error_blames_api_keys_only_and_hides_the_key() -> None:
    message = error(VOICEROOM_API_KEYS="shop:short-key", VOICEROOM_SECRET=GOOD_SECRET)
    assert "VOICEROOM_API_KEYS" in message
    assert "VOICEROOM_SECRET" not in message and "short-key" not in message


def test_media_settings_are_checked_at_load_naming_the_key_and_file(tmp_path: Path) -> None:
    toml = tmp_path / "v.toml"
    toml.write_text("[media_settings]\ncomplexity = 11\n")
    message = error(toml)
    assert message.startswith("media_settings.complexity = 11: complexity must be 0..10")
    assert message.endswith(f"(media_settings.complexity from {toml})")
    message = error(VOICEROOM_MEDIA_JITTER_MIN_FRAMES="5")
    assert "media_settings.jitter_min_frames from environment variable" in message


def test_a_bad_address_names_the_setting() -> None:
    message = error(VOICEROOM_MEDIA_PUBLIC_IP="999.1.1.1")
    assert message == (
        "media_public_ip: not an IP address: '999.1.1.1' "
        "(media_public_ip from environment variable VOICEROOM_MEDIA_PUBLIC_IP)"
    )


def test_a_parse_error_names_its_source_once() -> None:
    message = error(VOICEROOM_PORT="abc")
    assert message == "VOICEROOM_PORT=abc: expected an integer, got 'abc' (setting 'port')"
    message = error(VOICEROOM_API_PORT="99999")
    assert message.count("VOICEROOM_API_PORT") == 1


def test_only_reads_the_settings_asked_for() -> None:
    env = {"VOICEROOM_TURN_URLS": "turn:turn.example.com", "VOICEROOM_STORE": "memory"}
    with pytest.raises(ConfigError, match="turn_urls need turn_secret"):
        load_config(None, env)
    config = load_config(None, env, only={"store", "data_dir"})
    assert config.store == "memory" and config.turn_urls == ()
