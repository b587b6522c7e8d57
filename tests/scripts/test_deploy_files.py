"""The deployment files agree with docs/deploy.md (deploy findings 5, 6, 11, 14, 15): the
nginx file passes `nginx -t`, proxies the HTTP API, overwrites X-Forwarded-For everywhere
and keeps /healthz and /metrics private; deploy.md's voiceroom.toml loads and configures
the API; the unit's stop timeout outlasts the server's own drain bounds.

nginx runs only as `nginx -t` on a temp config (nothing listens)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from voiceroom.config import Config, load_config

ROOT = Path(__file__).resolve().parents[2]
NGINX_FILE = ROOT / "deploy" / "nginx-voiceroom.conf"
UNIT = ROOT / "deploy" / "voiceroom.service"
DEPLOY_MD = ROOT / "docs" / "deploy.md"
API_MD = ROOT / "docs" / "api.md"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def locations(text: str) -> dict[str, str]:
    """``location`` blocks of the nginx file by their match (no nested braces inside)."""
    text = re.sub(r"#[^\n]*", "", text)
    return {
        m.group(1).strip(): m.group(2) for m in re.finditer(r"location\s+([^{]+)\{([^{}]*)\}", text)
    }


def test_nginx_locations() -> None:
    text = NGINX_FILE.read_text()
    locs = locations(text)
    assert set(locs) == {"/", "/api/v1/", "= /metrics", "= /healthz"}, locs
    assert "proxy_pass http://127.0.0.1:8766;" in locs["/api/v1/"]
    for name, body in locs.items():
        assert "proxy_pass http://127.0.0.1:876" in body, name
        assert "proxy_set_header X-Forwarded-For $remote_addr;" in body, name
        assert "proxy_set_header X-Forwarded-Proto $scheme;" in body, name
    for name in ("= /metrics", "= /healthz"):
        assert "allow 127.0.0.1;" in locs[name] and locs[name].rstrip().count("deny all;") == 1
    # Overwrite, never append: not in the file, not in the API doc's block either.
    assert "proxy_add_x_forwarded_for" not in text
    assert "proxy_add_x_forwarded_for" not in API_MD.read_text()


def test_nginx_t_accepts_the_file(tmp_path: Path) -> None:
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (scripts/bootstrap.sh installs it)")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    site = NGINX_FILE.read_text()
    site = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", site)
    site = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", site)
    (tmp_path / "site.conf").write_text(site)
    temps = "".join(
        f"    {n}_temp_path {tmp_path / n};\n"
        for n in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\n"
        f"events {{ worker_connections 64; }}\n"
        f"http {{\n    access_log off;\n{temps}    include {tmp_path / 'site.conf'};\n}}\n"
    )
    check = subprocess.run(
        [NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr


def deploy_toml() -> str:
    """§7's voiceroom.toml with the guide's example values."""
    section = DEPLOY_MD.read_text().split("## 7. voiceroom")[1]
    body = re.search(r"voiceroom\.toml >/dev/null <<EOF\n(.*?)\nEOF\n", section, re.S)
    assert body is not None
    return (
        body.group(1).replace("$NAME", "voiceroom.example.com").replace("$PUBLIC_IP", "203.0.113.7")
    )


def test_deploy_toml_configures_the_api(tmp_path: Path) -> None:
    path = tmp_path / "voiceroom.toml"
    path.write_text(deploy_toml())
    env = {
        "VOICEROOM_SECRET": "s" * 48,
        "VOICEROOM_TURN_SECRET": "t" * 48,
        "VOICEROOM_API_KEYS": "shop1:" + "k" * 48,
    }
    # secrets.env in §5 sets exactly these.
    secrets = DEPLOY_MD.read_text().split("## 5. Secrets")[1].split("## 6.")[0]
    assert set(re.findall(r"^(VOICEROOM_\w+)=", secrets, re.M)) == set(env)
    config = load_config(path, env)
    assert (config.host, config.port, config.api_port) == ("127.0.0.1", 8765, 8766)
    assert config.public_url.rstrip("/") == "https://voiceroom.example.com"
    assert config.api and config.api_keys == ("shop1:" + "k" * 48,)
    assert not re.search(r"^api_keys\s*=", deploy_toml(), re.M)  # secret in secrets.env
    assert not config.media_server_ice


def test_unit_stop_timeout_outlasts_the_drain() -> None:
    text = UNIT.read_text()
    match = re.search(r"^TimeoutStopSec=(\d+)$", text, re.M)
    assert match is not None
    # The front: the API's graceful stop (shutdown_timeout), then the workers' drain
    # (shutdown_timeout + 10 s) before it kills them itself; 5 s for a spare worker.
    shutdown = Config().shutdown_timeout
    assert int(match.group(1)) >= 2 * shutdown + 20
    assert "secrets.env (mode 0640" in text and "chmod 0640 /etc/voiceroom/secrets.env" in (
        DEPLOY_MD.read_text()
    )
