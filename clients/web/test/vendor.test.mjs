// The vendored @msgpack/msgpack (clients/web/vendor/msgpack/) is exactly the npm package
// the lock file pins: same version everywhere, licence kept, and, once `npm ci` has
// installed it (scripts/bootstrap.sh does; npm checks the tarball against the lock's
// sha512), byte for byte the same files. scripts/vendor_web.sh refreshes the copy.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";

const root = new URL("../../../", import.meta.url);
const vendored = new URL("clients/web/vendor/msgpack/", root);
const installed = new URL("node_modules/@msgpack/msgpack/", root);
const json = (url) => JSON.parse(readFileSync(url, "utf8"));
const NAME = "@msgpack/msgpack";

/** The files the page loads: the ES module build's .mjs files, relative paths. */
function esmFiles(base) {
  const dir = new URL("dist.esm/", base);
  return readdirSync(dir, { recursive: true }).filter((f) => f.endsWith(".mjs")).map((f) => `dist.esm/${f}`).sort();
}

test("one pinned version: package.json, package-lock.json and the vendored copy agree", () => {
  const pin = json(new URL("package.json", root)).dependencies[NAME];
  assert.match(pin, /^\d+\.\d+\.\d+$/, "pin an exact version: the vendored copy is one version");
  const lock = json(new URL("package-lock.json", root)).packages[`node_modules/${NAME}`];
  assert.equal(lock.version, pin);
  assert.match(lock.integrity, /^sha512-/);
  const copy = json(new URL("package.json", vendored));
  assert.equal(copy.name, NAME);
  assert.equal(copy.version, pin);
  assert.equal(copy.license, lock.license);
});

test("the licence ships with the copy", () => {
  const licence = readFileSync(new URL("LICENSE", vendored), "utf8");
  assert.match(licence, /Permission to use, copy, modify, and\/or distribute/); // ISC
});

test("the page loads the vendored build, and everything it imports is there", () => {
  const src = readFileSync(new URL("clients/web/js/msgpack.js", root), "utf8");
  assert.match(src, /from "\.\.\/vendor\/msgpack\/dist\.esm\/index\.mjs"/);
  const files = new Set(esmFiles(vendored));
  for (const f of files) {
    const text = readFileSync(new URL(f, vendored), "utf8");
    for (const [, rel] of text.matchAll(/from "(\.[^"]+)"/g)) {
      const target = new URL(rel, new URL(f, vendored)).href.slice(vendored.href.length);
      assert.ok(files.has(target), `${f} imports ${rel}, which is not vendored`);
    }
  }
});

test("the vendored files are byte for byte the installed npm package", (t) => {
  if (!existsSync(installed)) {
    t.skip("node_modules/@msgpack/msgpack is missing: run `npm ci` (scripts/bootstrap.sh does)");
    return;
  }
  assert.equal(json(new URL("package.json", installed)).version, json(new URL("package.json", vendored)).version,
    "node_modules holds another version: run `npm ci`");
  const files = esmFiles(installed);
  assert.deepEqual(esmFiles(vendored), files, "run scripts/vendor_web.sh");
  for (const f of ["LICENSE", "package.json", ...files]) {
    assert.ok(readFileSync(new URL(f, vendored)).equals(readFileSync(new URL(f, installed))), `${f} differs: run scripts/vendor_web.sh`);
  }
});
