// A small, strict MessagePack codec (https://github.com/msgpack/msgpack/blob/master/spec.md)
// for the voiceroom wire protocol. Written here rather than vendored so the page has no
// third-party code to track and no build step; it covers the whole spec except that ext
// values decode to {type, data} and are never produced by the encoder.
//
// Encoding: null/undefined -> nil, booleans, integers (smallest format; beyond 32 bits via
// BigInt), other numbers -> float 64, BigInt -> int 64, strings (UTF-8), Uint8Array /
// ArrayBuffer -> bin, arrays, Map and plain objects -> map. Object properties whose value
// is undefined are left out, as JSON does, so optional fields can be written `x: undefined`.
// Decoding: maps -> plain objects, bin -> Uint8Array, 64-bit integers -> Number when safe
// (|n| <= 2^53 - 1, what the server promises for ids and seq), otherwise BigInt.

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

class Writer {
  constructor() {
    this.buf = new Uint8Array(256);
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
  }

  ensure(n) {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v) { this.ensure(1); this.view.setUint8(this.pos, v); this.pos += 1; }
  u16(v) { this.ensure(2); this.view.setUint16(this.pos, v); this.pos += 2; }
  u32(v) { this.ensure(4); this.view.setUint32(this.pos, v); this.pos += 4; }
  i8(v) { this.ensure(1); this.view.setInt8(this.pos, v); this.pos += 1; }
  i16(v) { this.ensure(2); this.view.setInt16(this.pos, v); this.pos += 2; }
  i32(v) { this.ensure(4); this.view.setInt32(this.pos, v); this.pos += 4; }
  u64(v) { this.ensure(8); this.view.setBigUint64(this.pos, v); this.pos += 8; }
  i64(v) { this.ensure(8); this.view.setBigInt64(this.pos, v); this.pos += 8; }
  f64(v) { this.ensure(8); this.view.setFloat64(this.pos, v); this.pos += 8; }
  bytes(b) { this.ensure(b.length); this.buf.set(b, this.pos); this.pos += b.length; }
}

/** Encode a value to a Uint8Array. Throws TypeError for values msgpack cannot carry. */
export function encode(value) {
  const w = new Writer();
  write(w, value, 0);
  return w.buf.slice(0, w.pos);
}

const MAX_DEPTH = 100; // a cycle would otherwise recurse until the stack overflows

function write(w, v, depth) {
  if (depth > MAX_DEPTH) throw new TypeError("msgpack: nesting too deep (cycle?)");
  if (v === null || v === undefined) return w.u8(0xc0);
  switch (typeof v) {
    case "boolean": return w.u8(v ? 0xc3 : 0xc2);
    case "number": return Number.isInteger(v) ? writeInt(w, v) : (w.u8(0xcb), w.f64(v));
    case "bigint": return writeBigInt(w, v);
    case "string": return writeStr(w, v);
    case "object": break;
    default: throw new TypeError(`msgpack: cannot encode ${typeof v}`);
  }
  if (v instanceof Uint8Array || v instanceof ArrayBuffer) {
    const b = v instanceof ArrayBuffer ? new Uint8Array(v) : v;
    if (b.length < 0x100) { w.u8(0xc4); w.u8(b.length); }
    else if (b.length < 0x10000) { w.u8(0xc5); w.u16(b.length); }
    else { w.u8(0xc6); w.u32(b.length); }
    return w.bytes(b);
  }
  if (Array.isArray(v)) {
    writeHeader(w, v.length, 0x90, 0xdc, 0xdd);
    for (const item of v) write(w, item, depth + 1);
    return;
  }
  const entries = v instanceof Map
    ? [...v.entries()]
    : Object.entries(v).filter(([, x]) => x !== undefined);
  writeHeader(w, entries.length, 0x80, 0xde, 0xdf);
  for (const [k, x] of entries) {
    write(w, k, depth + 1);
    write(w, x, depth + 1);
  }
}

function writeHeader(w, n, fix, t16, t32) {
  if (n < 16) w.u8(fix | n);
  else if (n < 0x10000) { w.u8(t16); w.u16(n); }
  else { w.u8(t32); w.u32(n); }
}

function writeInt(w, n) {
  if (n >= 0) {
    if (n < 0x80) return w.u8(n);
    if (n < 0x100) { w.u8(0xcc); return w.u8(n); }
    if (n < 0x10000) { w.u8(0xcd); return w.u16(n); }
    if (n < 0x100000000) { w.u8(0xce); return w.u32(n); }
    if (n <= Number.MAX_SAFE_INTEGER) { w.u8(0xcf); return w.u64(BigInt(n)); }
  } else {
    if (n >= -32) return w.i8(n); // negative fixint: 0xe0..0xff
    if (n >= -0x80) { w.u8(0xd0); return w.i8(n); }
    if (n >= -0x8000) { w.u8(0xd1); return w.i16(n); }
    if (n >= -0x80000000) { w.u8(0xd2); return w.i32(n); }
    if (n >= Number.MIN_SAFE_INTEGER) { w.u8(0xd3); return w.i64(BigInt(n)); }
  }
  // Integral but unsafe (e.g. 1e300): its integer value is not exact anyway; keep it a float.
  w.u8(0xcb);
  w.f64(n);
}

function writeBigInt(w, n) {
  if (n >= 0n) {
    if (n > 0xffffffffffffffffn) throw new TypeError("msgpack: integer above 2^64 - 1");
    w.u8(0xcf);
    return w.u64(n);
  }
  if (n < -0x8000000000000000n) throw new TypeError("msgpack: integer below -2^63");
  w.u8(0xd3);
  w.i64(n);
}

function writeStr(w, s) {
  const b = textEncoder.encode(s);
  if (b.length < 32) w.u8(0xa0 | b.length);
  else if (b.length < 0x100) { w.u8(0xd9); w.u8(b.length); }
  else if (b.length < 0x10000) { w.u8(0xda); w.u16(b.length); }
  else { w.u8(0xdb); w.u32(b.length); }
  w.bytes(b);
}

/** Decode exactly one value from bytes (Uint8Array or ArrayBuffer). Throws on bad input. */
export function decode(data) {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  const r = { bytes, view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), pos: 0 };
  const value = read(r, 0);
  if (r.pos !== bytes.length) throw new RangeError("msgpack: extra bytes after the value");
  return value;
}

function need(r, n) {
  if (r.pos + n > r.bytes.length) throw new RangeError("msgpack: truncated input");
  const at = r.pos;
  r.pos += n;
  return at;
}

function read(r, depth) {
  if (depth > MAX_DEPTH) throw new RangeError("msgpack: nesting too deep");
  const t = r.view.getUint8(need(r, 1));
  if (t < 0x80) return t;
  if (t < 0x90) return readMap(r, t & 0x0f, depth);
  if (t < 0xa0) return readArray(r, t & 0x0f, depth);
  if (t < 0xc0) return readStr(r, t & 0x1f);
  if (t >= 0xe0) return t - 0x100;
  const v = r.view;
  switch (t) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return readBin(r, v.getUint8(need(r, 1)));
    case 0xc5: return readBin(r, v.getUint16(need(r, 2)));
    case 0xc6: return readBin(r, v.getUint32(need(r, 4)));
    case 0xc7: return readExt(r, v.getUint8(need(r, 1)));
    case 0xc8: return readExt(r, v.getUint16(need(r, 2)));
    case 0xc9: return readExt(r, v.getUint32(need(r, 4)));
    case 0xca: return v.getFloat32(need(r, 4));
    case 0xcb: return v.getFloat64(need(r, 8));
    case 0xcc: return v.getUint8(need(r, 1));
    case 0xcd: return v.getUint16(need(r, 2));
    case 0xce: return v.getUint32(need(r, 4));
    case 0xcf: return narrow(v.getBigUint64(need(r, 8)));
    case 0xd0: return v.getInt8(need(r, 1));
    case 0xd1: return v.getInt16(need(r, 2));
    case 0xd2: return v.getInt32(need(r, 4));
    case 0xd3: return narrow(v.getBigInt64(need(r, 8)));
    case 0xd4: return readExt(r, 1);
    case 0xd5: return readExt(r, 2);
    case 0xd6: return readExt(r, 4);
    case 0xd7: return readExt(r, 8);
    case 0xd8: return readExt(r, 16);
    case 0xd9: return readStr(r, v.getUint8(need(r, 1)));
    case 0xda: return readStr(r, v.getUint16(need(r, 2)));
    case 0xdb: return readStr(r, v.getUint32(need(r, 4)));
    case 0xdc: return readArray(r, v.getUint16(need(r, 2)), depth);
    case 0xdd: return readArray(r, v.getUint32(need(r, 4)), depth);
    case 0xde: return readMap(r, v.getUint16(need(r, 2)), depth);
    case 0xdf: return readMap(r, v.getUint32(need(r, 4)), depth);
    default: throw new RangeError(`msgpack: unused type byte 0x${t.toString(16)}`); // 0xc1
  }
}

function narrow(big) {
  const n = Number(big);
  return Number.isSafeInteger(n) ? n : big;
}

function readStr(r, n) {
  const at = need(r, n);
  return textDecoder.decode(r.bytes.subarray(at, at + n));
}

function readBin(r, n) {
  const at = need(r, n);
  return r.bytes.slice(at, at + n); // a copy: the frame buffer may be reused
}

function readExt(r, n) {
  const type = r.view.getInt8(need(r, 1));
  return { type, data: readBin(r, n) };
}

function readArray(r, n, depth) {
  // Every element takes at least one byte: refuse counts the input cannot hold before
  // allocating (a 5-byte frame must not ask for a 4-billion-slot array).
  if (n > r.bytes.length - r.pos) throw new RangeError("msgpack: truncated input");
  const out = new Array(n);
  for (let i = 0; i < n; i++) out[i] = read(r, depth + 1);
  return out;
}

function readMap(r, n, depth) {
  if (n * 2 > r.bytes.length - r.pos) throw new RangeError("msgpack: truncated input");
  const out = {};
  for (let i = 0; i < n; i++) {
    const key = read(r, depth + 1);
    if (typeof key !== "string" && typeof key !== "number") {
      throw new RangeError("msgpack: map keys must be strings or numbers");
    }
    const value = read(r, depth + 1);
    // A "__proto__" key assigned plainly would replace the object's prototype.
    Object.defineProperty(out, String(key), { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}
