"""Write docs/configuration.md from voiceroom/config.py (``--check``: exit 1 if stale).

python scripts/gen_config_docs.py            # rewrite the page
python scripts/gen_config_docs.py --check    # CI: is it current and complete?
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voiceroom.config_docs import REPO_ROOT, missing_docs, render

PAGE = REPO_ROOT / "docs" / "configuration.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the page is stale")
    args = parser.parse_args()
    missing = missing_docs()
    if missing:
        print("settings without a meaning in config.SETTING_DOCS: " + ", ".join(missing))
        return 1
    text = render()
    if args.check:
        if not PAGE.exists() or PAGE.read_text() != text:
            print(f"{PAGE} is stale: run python scripts/gen_config_docs.py")
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
