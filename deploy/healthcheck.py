#!/usr/bin/env python3
"""Exit 0 when voiceroom's /healthz answers 200 (Docker HEALTHCHECK, systemd, monitors).

Reads VOICEROOM_PORT (default 8765) and talks https when VOICEROOM_TLS_CERT is set. The
check is against 127.0.0.1, where the certificate's name cannot match: it is not verified
(this tests liveness, not the certificate). 503 while shutting down counts as unhealthy.
"""

import os
import ssl
import sys
import urllib.error
import urllib.request

port = os.environ.get("VOICEROOM_PORT", "8765")
tls = bool(os.environ.get("VOICEROOM_TLS_CERT"))
url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/healthz"
context = ssl._create_unverified_context() if tls else None
try:
    with urllib.request.urlopen(url, timeout=4, context=context) as resp:
        sys.exit(0 if resp.status == 200 else 1)
except (OSError, urllib.error.URLError) as exc:
    print(f"unhealthy: {url}: {exc}", file=sys.stderr)
    sys.exit(1)
