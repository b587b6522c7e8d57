#!/usr/bin/env bash
# Refreshes the web client's vendored JavaScript from the npm packages pinned in
# package.json / package-lock.json: installs them exactly (npm ci checks each tarball
# against the lock's sha512), then copies what the page loads, with the licence and the
# package's own package.json (its version), into clients/web/vendor/<name>/.
# To update: change the version in package.json, `npm install`, run this, commit all.
# clients/web/test/vendor.test.mjs fails when the copy and the installed package differ.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
npm ci --no-audit --no-fund --loglevel=error
src="node_modules/@msgpack/msgpack"
dst="clients/web/vendor/msgpack"
rm -rf "$dst"
mkdir -p "$dst"
cp "$src/LICENSE" "$src/package.json" "$dst/"
# The ES module build only: no source maps, type declarations or other builds.
(cd "$src" && find dist.esm -name '*.mjs' -print0) | while IFS= read -r -d '' f; do
  mkdir -p "$dst/$(dirname "$f")"
  cp "$src/$f" "$dst/$f"
done
echo "vendored @msgpack/msgpack $(node -p "require('./$src/package.json').version") into $dst"
