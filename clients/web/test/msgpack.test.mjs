// The page's MessagePack (js/msgpack.js: @msgpack/msgpack with the protocol's options):
// `node --test clients/web/test/`. Byte vectors in fixtures/python-msgpack.json were
// produced by the server's own encoder (Python msgpack, use_bin_type=True), so both
// directions are checked against it.
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
});

test("binary data is bin", () => {
  for (const n of [0, 1, 255, 256, 65536]) {
    const b = new Uint8Array(n).map((_, i) => i & 0xff);
    const packed = encode(b);
    assert.equal(packed[0], n < 256 ? 0xc4 : n < 65536 ? 0xc5 : 0xc6);
    assert.deepEqual(decode(packed), b);
  }
});

test("undefined properties are left out; undefined alone is nil", () => {
  assert.deepEqual(decode(encode({ a: 1, b: undefined })), { a: 1 });
  assert.equal(hex(encode(undefined)), "c0");
});

test("64-bit integers: Number when safe, BigInt beyond, also deep inside", () => {
  assert.equal(decode(unhex("cf0000000100000000")), 2 ** 32);
  assert.equal(decode(unhex("cf001fffffffffffff")), Number.MAX_SAFE_INTEGER);
  assert.equal(decode(unhex("cf0020000000000000")), 2n ** 53n); // not exactly a Number
  assert.equal(decode(unhex("cfffffffffffffffff")), 0xffffffffffffffffn);
  assert.equal(decode(unhex("d3fffffffffffffffb")), -5);
  assert.equal(decode(unhex("d38000000000000000")), -0x8000000000000000n);
  // {"a": [uint64 7, {"b": uint64 2^63}]}
  assert.deepEqual(decode(unhex("81a16192cf0000000000000007" + "81a162cf8000000000000000")), { a: [7, { b: 2n ** 63n }] });
});

test("float 32 and ext decode", () => {
  assert.equal(decode(unhex("ca3fc00000")), 1.5);
  for (const [bytes, type, data] of [["d40107", 1, [7]], ["c70201abcd", 1, [0xab, 0xcd]]]) {
    const ext = decode(unhex(bytes));
    assert.equal(ext.type, type);
    assert.deepEqual([...ext.data], data);
  }
});

test("decodes from any view of the frame", () => {
  const frame = unhex("00a3616263ff");
  assert.equal(decode(frame.subarray(1, 5)), "abc");
  assert.equal(decode(new DataView(frame.buffer, 1, 4)), "abc");
  assert.equal(decode(frame.slice(1, 5).buffer), "abc");
});

test("refuses bad input instead of guessing", () => {
  assert.throws(() => decode(unhex("")), RangeError);
  assert.throws(() => decode(unhex("c1")), /type byte/); // never used
  assert.throws(() => decode(unhex("a3616263ff")), /Extra 1 of 5 byte/); // trailing byte
  assert.throws(() => decode(unhex("a461")), /Max length exceeded/); // longer than the frame
  assert.throws(() => decode(unhex("92a461")), /Max length exceeded/);
  assert.throws(() => decode(unhex("cd01")), RangeError); // truncated uint16
  assert.throws(() => decode(unhex("a3616263").subarray(0, 3)), RangeError); // truncated str
  assert.throws(() => decode(unhex("930102")), RangeError); // array cut short
  // Absurd counts and lengths: refused from the header, before any allocation.
  assert.throws(() => decode(unhex("ddffffffff")), /Max length exceeded/);
  assert.throws(() => decode(unhex("dfffffffff")), /Max length exceeded/);
  assert.throws(() => decode(unhex("dbffffffff")), /Max length exceeded/);
  assert.throws(() => decode(unhex("81c0c0")), /type of key/); // nil map key
  assert.throws(() => encode(() => 1), /Unrecognized object/);
  const cyclic = [];
  cyclic.push(cyclic);
  assert.throws(() => encode(cyclic), /Too deep/);
});

test("a __proto__ key is refused, never a prototype change", () => {
  const bytes = unhex("81a95f5f70726f746f5f5f81a8706f6c6c75746564c3"); // {"__proto__": {"polluted": true}}
  assert.throws(() => decode(bytes), /__proto__/);
  assert.equal({}.polluted, undefined);
});
