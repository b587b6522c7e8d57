// The catalogs stay complete: same keys in every language, a message for every wire error
// code and system chat code the server can send, and every key the code asks for exists.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";

const read = (rel) => readFileSync(new URL(rel, import.meta.url), "utf8");
const en = JSON.parse(read("../i18n/en.json"));
const ar = JSON.parse(read("../i18n/ar.json"));

test("every language has exactly the English keys", () => {
  assert.deepEqual(Object.keys(ar).sort(), Object.keys(en).sort());
});

test("placeholders match across languages", () => {
  const names = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
  for (const key of Object.keys(en)) assert.deepEqual(names(ar[key]), names(en[key]), key);
});

test("every server error code has a message", () => {
  const src = read("../../../voiceroom/room/errors.py");
  const codes = [...src.matchAll(/^\s+[A-Z_]+ = "([a-z_]+)"/gm)].map((m) => m[1]);
  assert.ok(codes.length > 20);
  for (const code of codes) assert.ok(`error.${code}` in en, `error.${code}`);
});

test("every system chat code the room posts has a message", () => {
  const src = read("../../../voiceroom/room/core.py");
  const codes = [...src.matchAll(/_system\(\s*"([a-z_]+)"/g)].map((m) => m[1]);
  assert.ok(codes.length >= 3);
  for (const code of codes) {
    assert.ok(`system.${code}` in en || `system.${code}.listen_in` in en, `system.${code}`);
  }
});

test("every literal key used by the code exists", () => {
  const dir = new URL("../js/", import.meta.url);
  const files = readdirSync(dir, { recursive: true }).filter((f) => f.endsWith(".js"));
  for (const f of files) {
    const src = readFileSync(new URL(f, dir), "utf8");
    for (const [, key] of src.matchAll(/\bt\("([a-z_.]+)"/g)) assert.ok(key in en, `${f}: ${key}`);
  }
});
