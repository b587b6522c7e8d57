"""Generated documentation: docs/openapi.json and the tables in docs/api.md.

``python -m voiceroom.api.docs`` rewrites both from the code; tests/api/test_docs.py fails
when the committed files differ from what this renders (as test_ws_docs does for the wire
protocol), so the documents cannot drift from the API.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from voiceroom.api.events import OPT_IN, WEBHOOK_TYPES, WEBHOOKS

ROOT = Path(__file__).resolve().parents[2]
OPENAPI_FILE = ROOT / "docs" / "openapi.json"
API_MD = ROOT / "docs" / "api.md"
BLOCKS = ("endpoints", "webhooks")


def openapi() -> dict[str, Any]:
    # A throw-away service: the document depends on the code only, not on config.
    from voiceroom.api.service import ApiService
    from voiceroom.config import Config
    from voiceroom.observability import Metrics
    from voiceroom.signalling.room_host import Registry

    config = Config(port=0)
    return ApiService(config, Registry(config, Metrics())).app.openapi()


def openapi_json() -> str:
    return json.dumps(openapi(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def endpoints_table(doc: dict[str, Any]) -> str:
    rows = ["| Method | Path | Scope | What |", "|---|---|---|---|"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            short = path.removeprefix("/api/v1")
            rows.append(f"| {method.upper()} | `{short}` | `{op['x-scope']}` | {op['summary']} |")
    return "\n".join(rows)


def webhooks_table() -> str:
    rows = ["| Webhook `type` | From room event | Opt-in |", "|---|---|---|"]
    sources: dict[str, list[str]] = {t: [] for t in WEBHOOK_TYPES}
    for event, rule in WEBHOOKS.items():
        for t in rule.types:
            sources[t].append(f"`{event.TYPE}`")
    sources["room.scheduled"].append("`POST /rooms`")
    for t in WEBHOOK_TYPES:
        rows.append(f"| `{t}` | {', '.join(sources[t])} | {'yes' if t in OPT_IN else ''} |")
    return "\n".join(rows)


def render_api_md(text: str) -> str:
    blocks = {"endpoints": endpoints_table(openapi()), "webhooks": webhooks_table()}
    for name in BLOCKS:
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", flags=re.DOTALL)
        if not pattern.search(text):
            raise ValueError(f"docs/api.md lacks the {name} markers")
        body = blocks[name] + "\n"
        text = pattern.sub(lambda m: m.group(1) + body + m.group(2), text)  # noqa: B023
    return text


def main() -> int:
    OPENAPI_FILE.write_text(openapi_json())
    API_MD.write_text(render_api_md(API_MD.read_text()))
    print(f"wrote {OPENAPI_FILE} and the tables in {API_MD}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
