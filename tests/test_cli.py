"""Issue 9 item 10 (and 12, 13 parts): what an operator sees from the ``voiceroom`` command."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from voiceroom.cli import main

GOOD_SECRET = "cli-unit-secret-0123456789abcdefghij"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("VOICEROOM_"):
            monkeypatch.delenv(key)


def test_port_in_use_is_one_clear_line_and_a_failure() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "VOICEROOM_SECRET": GOOD_SECRET}
        out = subprocess.run(
            [sys.executable, "-m", "voiceroom", "serve", "--no-media", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("voiceroom:")]
    assert lines == [
        f"voiceroom: cannot listen on 127.0.0.1:{port}: the address is already in use "
        "(another server? pick one with --port)"
    ]


def test_every_serve_and_token_option_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("serve", "token"):
        with pytest.raises(SystemExit) as exit_:
            main([command, "--help"])
        assert exit_.value.code == 0
        text = capsys.readouterr().out
        options = text.split("options:", 1)[1]
        # Each option line carries a help text (on the same line or the next, indented).
        lines = options.strip("\n").splitlines()
        for i, line in enumerate(lines):
            if line.startswith("  -"):
                rest = line.strip().split("  ", 1)
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                has_help = len(rest) == 2 or nxt.startswith(" " * 10)
                assert has_help, f"{command}: no help for {line.strip()!r}"


def test_a_wrong_flag_shows_the_subcommand_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--prot", "9000"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: voiceroom serve ") and "unrecognized arguments: --prot" in err


@pytest.mark.parametrize("secret", ["", "12345", "x" * 31])
def test_a_short_secret_is_refused_outside_demo(
    secret: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOICEROOM_SECRET", secret)
    assert main(["serve", "--no-media", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "at least 32" in err
    token = ["token", "--room", "r", "--user", "u", "--name", "U"]
    assert main(token) == 2
    assert "at least 32" in capsys.readouterr().err


def test_token_tier_is_checked_against_the_rooms_tiers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOICEROOM_SECRET", GOOD_SECRET)
    base = ["token", "--room", "r", "--user", "u", "--name", "U"]
    assert main([*base, "--tier", "gold"]) == 2
    assert "unknown tier 'gold'" in capsys.readouterr().err
    assert main([*base, "--tier", "vip"]) == 0
    assert capsys.readouterr().out.count(".") == 2  # a JWT
    monkeypatch.setenv("VOICEROOM_ROOM_TIERS", "gold,silver")
    assert main([*base, "--tier", "gold"]) == 0


def test_bad_environment_values_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOICEROOM_SECRET", GOOD_SECRET)
    monkeypatch.setenv("VOICEROOM_PORT", "abc")
    assert main(["serve", "--no-media"]) == 2
    err = capsys.readouterr().err
    assert "VOICEROOM_PORT=abc: expected an integer, got 'abc'" in err
    monkeypatch.delenv("VOICEROOM_PORT")
    monkeypatch.setenv("VOICEROOM_ROOM_SEAT_COUNT", "many")
    assert main(["token", "--room", "r", "--user", "u", "--name", "U"]) == 2
    assert "VOICEROOM_ROOM_SEAT_COUNT=many" in capsys.readouterr().err


def test_a_misspelt_variable_warns_with_the_closest_name(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOICEROOM_SECRET", GOOD_SECRET)
    monkeypatch.setenv("VOICEROOM_RECONNECT_GRACE", "30")  # it is a room setting
    monkeypatch.setenv("VOICEROOM_SEND_QUEUE_BYTE", "100000")
    assert main(["token", "--room", "r", "--user", "u", "--name", "U"]) == 0
    err = capsys.readouterr().err
    assert (
        "voiceroom: warning: unknown environment variable VOICEROOM_RECONNECT_GRACE ignored: "
        "it names no setting; did you mean VOICEROOM_ROOM_RECONNECT_GRACE "
        "(room.reconnect_grace)?" in err
    )
    assert "did you mean VOICEROOM_SEND_QUEUE_BYTES (send_queue_bytes)?" in err


def test_a_range_error_names_where_the_value_came_from(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOICEROOM_SECRET", GOOD_SECRET)
    monkeypatch.setenv("VOICEROOM_PORT", "99999")
    assert main(["serve", "--no-media"]) == 2
    assert "(port from environment variable VOICEROOM_PORT)" in capsys.readouterr().err
    monkeypatch.delenv("VOICEROOM_PORT")
    monkeypatch.setenv("VOICEROOM_ROOM_SEAT_COUNT", "0")
    assert main(["serve", "--no-media"]) == 2
    err = capsys.readouterr().err
    assert "seat_count from environment variable VOICEROOM_ROOM_SEAT_COUNT" in err


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--workers", "2", "--tls-cert", "c.pem", "--tls-key", "k.pem"], "terminate TLS"),
        (["--workers", "2", "--store", "memory"], "share the store"),
    ],
)
def test_workers_that_cannot_work_are_refused_with_the_reason(
    args: list[str], says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VOICEROOM_SECRET", "x" * 40)
    assert main(["serve", "--no-media", "--port", "0", *args]) == 2
    assert says in capsys.readouterr().err


def test_workers_default_to_the_cores_but_one_where_they_cannot_share() -> None:
    from voiceroom.cli import worker_count
    from voiceroom.config import Config
    from voiceroom.workers.front import default_workers

    assert worker_count(Config(workers=0, store="sqlite")) == default_workers()
    assert worker_count(Config(workers=0, store="memory")) == 1
    tls = Config(workers=0, store="sqlite", tls_cert=Path("c"), tls_key=Path("k"))
    assert worker_count(tls) == 1
    assert worker_count(Config(workers=3, store="sqlite")) == 3


def test_db_reads_only_the_store_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = tmp_path / "voiceroom.toml"
    toml.write_text(
        f'data_dir = "{tmp_path}"\nturn_urls = ["turn:turn.example.com:3478"]\n'
        'api_keys = ["shop:short"]\n[media_settings]\ncomplexity = 11\n'
    )
    assert main(["db", "upgrade", "--config", str(toml)]) == 0
    assert main(["db", "check", "--config", str(toml)]) == 0
    assert "store ok" in capsys.readouterr().out
    assert (tmp_path / "voiceroom.db").exists()


def serve(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "VOICEROOM_SECRET": GOOD_SECRET, **env}
    return subprocess.run(
        [sys.executable, "-m", "voiceroom", "serve", "--no-media", "--port", "0", *args],
        env=full,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            '[webhooks.shop]\nurl = "https://shop.example/h"\n'
            'secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"\nevents = ["rom.*"]\n',
            "voiceroom: webhooks.shop: unknown event filter 'rom.*' (webhooks from ",
        ),
        ("[media_settings]\ncomplexity = 11\n", "voiceroom: media_settings.complexity = 11: "),
    ],
)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_bad_setting_stops_serve_before_any_worker_in_one_line(
    toml: str, says: str, workers: str, tmp_path: Path
) -> None:
    (tmp_path / "v.toml").write_text(toml)
    out = serve(["--config", "v.toml", "--workers", workers], tmp_path)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "worker" not in out.stderr
    assert out.stderr.splitlines() == [ln for ln in out.stderr.splitlines() if says in ln]
    assert len(out.stderr.splitlines()) == 1
    assert "whsec_" not in out.stderr


def test_an_oserror_that_is_not_the_bind_is_not_called_cannot_listen(tmp_path: Path) -> None:
    out = serve(["--workers", "1"], tmp_path, VOICEROOM_DATA_DIR="/proc/nope")
    assert out.returncode == 1
    assert "Traceback" not in out.stderr and "cannot listen" not in out.stderr
    assert "voiceroom: cannot start: " in out.stderr and "/proc/nope" in out.stderr


def test_a_missing_tls_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "cert.pem").write_text("not a certificate\n")
    out = serve(["--tls-cert", "cert.pem", "--tls-key", "key.pem"], tmp_path)
    assert out.returncode == 2
    assert out.stderr.startswith("voiceroom: tls_key key.pem: cannot read it: No such file")
    (tmp_path / "key.pem").write_text("not a key\n")
    out = serve(["--tls-cert", "cert.pem", "--tls-key", "key.pem"], tmp_path)
    assert out.returncode == 2
    assert "tls_cert cert.pem / tls_key key.pem: not a PEM certificate chain" in out.stderr


def test_redact_hides_what_might_be_a_secret() -> None:
    from voiceroom.cli import redact

    env = {
        "VOICEROOM_SECRET": GOOD_SECRET,
        "VOICEROOM_TURN_PASSWORD": "turn-pass-1234",
        "VOICEROOM_API_KEYS": "shop:api-key-secret-0123456789,x:",
    }
    message = (
        f"a {GOOD_SECRET} b turn-pass-1234 c api-key-secret-0123456789 "
        "d whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw e postgresql+psycopg://vr:pw0rd@db/vr"
    )
    assert redact(message, env) == (
        "a *** b *** c *** d whsec_*** e postgresql+psycopg://vr:***@db/vr"
    )


def test_no_config_error_repeats_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    whsec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    monkeypatch.setenv("VOICEROOM_SECRET", GOOD_SECRET)
    for name, value in [
        ("VOICEROOM_WEBHOOKS", f"shop=https://shop.example/h {whsec}"),
        ("VOICEROOM_WEBHOOKS", f'{{"shop": {{"url": "ftp://x", "secret": "{whsec}"}}}}'),
        ("VOICEROOM_API_KEYS", "shop:short-api-key"),
        ("VOICEROOM_TURN_URLS", "turn:turn.example.com"),
    ]:
        monkeypatch.setenv(name, value)
        assert main(["serve", "--no-media"]) == 2
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and name in err, err
        for secret in (whsec, "short-api-key", GOOD_SECRET, "MfKQ9r8"):
            assert secret not in err
        assert "VOICEROOM_SECRET" not in err
        monkeypatch.delenv(name)
