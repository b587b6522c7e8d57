// Unit tests for the browser msgpack codec: `node --test clients/web/test/`.
// Byte vectors in fixtures/python-msgpack.json were produced by the server's own encoder
// (Python msgpack, use_bin_type=True), so both directions are checked against it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { encode, decode } from "../js/msgpack.js";

const hex = (b) => Buffer.from(b).toString("hex");
const unhex = (s) => new Uint8Array(Buffer.from(s, "hex"));
const fixtures = JSON.parse(readFileSync(new URL("./fixtures/python-msgpack.json", import.meta.url)));

test("encodes exactly as the server's Python msgpack does", () => {
  for (const { json, hex: want } of fixtures) {
    assert.equal(hex(encode(JSON.parse(json))), want, json.slice(0, 60));
  }
});

test("decodes the server's bytes", () => {
  for (const { json, hex: bytes } of fixtures) {
    assert.deepEqual(decode(unhex(bytes)), JSON.parse(json), json.slice(0, 60));
  }
});

test("format boundaries round-trip", () => {
  const values = [
    0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER,
    -1, -31, -32, -33, -127, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1,
    Number.MIN_SAFE_INTEGER, 0.5, -1.25, 3.141592653589793, 1e-300, Infinity, -Infinity,
    "", "x".repeat(31), "x".repeat(32), "x".repeat(255), "x".repeat(256), "x".repeat(70000),
    "مرحبا بكم", "😀",
  ];
  for (const v of values) assert.deepEqual(decode(encode(v)), v, String(v).slice(0, 20));
  assert.ok(Number.isNaN(decode(encode(NaN))));
});

test("arrays and maps of every header size", () => {
  for (const n of [0, 15, 16, 65535, 65536]) {
    const arr = Array.from({ length: n }, (_, i) => i % 3);
    assert.deepEqual(decode(encode(arr)), arr);
  }
  for (const n of [0, 15, 16, 70000]) {
    const obj = Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    assert.deepEqual(decode(encode(obj)), obj);
  }
  assert.deepEqual(decode(encode(new Map([["a", 1]]))), { a: 1 });
});

test("binary data is bin, decoded as a copy", () => {
  for (const n of [0, 1, 255, 256, 65536]) {
    const b = new Uint8Array(n).map((_, i) => i & 0xff);
    const packed = encode(b);
    assert.equal(packed[0], n < 256 ? 0xc4 : n < 65536 ? 0xc5 : 0xc6);
    assert.deepEqual(decode(packed), b);
  }
  assert.deepEqual(decode(encode(new Uint8Array([1, 2]).buffer)), new Uint8Array([1, 2]));
});

test("undefined properties are left out; undefined alone is nil", () => {
  assert.deepEqual(decode(encode({ a: 1, b: undefined })), { a: 1 });
  assert.equal(hex(encode(undefined)), "c0");
});

test("64-bit integers: Number when safe, BigInt beyond", () => {
  assert.equal(decode(unhex("cf0000000100000000")), 2 ** 32);
  assert.equal(decode(unhex("cfffffffffffffffff")), 0xffffffffffffffffn);
  assert.equal(decode(unhex("d38000000000000000")), -0x8000000000000000n);
  assert.equal(hex(encode(2n ** 63n)), "cf8000000000000000");
  assert.equal(hex(encode(-5n)), "d3fffffffffffffffb");
  assert.throws(() => encode(2n ** 64n), TypeError);
});

test("float 32 and ext decode", () => {
  assert.equal(decode(unhex("ca3fc00000")), 1.5);
  assert.deepEqual(decode(unhex("d4ff07")), { type: -1, data: new Uint8Array([7]) });
  assert.deepEqual(decode(unhex("c70201abcd")), { type: 1, data: new Uint8Array([0xab, 0xcd]) });
});

test("refuses bad input instead of guessing", () => {
  assert.throws(() => decode(unhex("")), RangeError);
  assert.throws(() => decode(unhex("c1")), RangeError); // never used
  assert.throws(() => decode(unhex("a3616263ff")), RangeError); // trailing byte
  assert.throws(() => decode(unhex("a461")), RangeError); // truncated str
  assert.throws(() => decode(unhex("cd01")), RangeError); // truncated uint16
  assert.throws(() => decode(unhex("ddffffffff")), RangeError); // absurd array count
  assert.throws(() => decode(unhex("a2c328")), TypeError); // invalid UTF-8
  assert.throws(() => decode(unhex("81c0c0")), RangeError); // nil map key
  assert.throws(() => encode(() => 1), TypeError);
  const cyclic = [];
  cyclic.push(cyclic);
  assert.throws(() => encode(cyclic), TypeError);
});

test("a __proto__ key is data, not a prototype change", () => {
  const obj = decode(encode(new Map([["__proto__", { polluted: true }]])));
  assert.equal(Object.getPrototypeOf(obj), Object.prototype);
  assert.deepEqual(Object.keys(obj), ["__proto__"]);
  assert.equal({}.polluted, undefined);
});
