// MessagePack for the wire: the maintained @msgpack/msgpack (its ES module build, vendored
// in ../vendor/msgpack/ from the npm version pinned in package-lock.json; see
// docs/adr/0003-web-msgpack.md). This module only fixes the options the protocol needs, so
// the bytes match the server's Python msgpack (use_bin_type=True) both ways:
// - encode: integers in their smallest format (2^32 … 2^53 as uint64, like Python), other
//   numbers as float 64, Uint8Array as bin, properties that are undefined left out.
// - decode: 64-bit integers to Number when safe (ids and seq are capped at 2^53 − 1 by
//   the server), to BigInt beyond; a length header larger than the frame is refused
//   before anything is allocated; truncated input and trailing bytes are errors; a
//   `__proto__` map key is refused (DecodeError) instead of touching a prototype.
import { Encoder, Decoder } from "../vendor/msgpack/dist.esm/index.mjs";

const encoder = new Encoder({ ignoreUndefined: true });

/** One value to a fresh Uint8Array. */
export function encode(value) {
  return encoder.encode(value);
}

/** Exactly one value from `bytes` (Uint8Array, ArrayBuffer or a view). */
export function decode(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : ArrayBuffer.isView(bytes)
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : new Uint8Array(bytes);
  // No string, bin, array or map can be longer than the frame that carries it.
  const most = view.byteLength;
  const decoder = new Decoder({
    useBigInt64: true,
    maxStrLength: most, maxBinLength: most, maxArrayLength: most, maxMapLength: most, maxExtLength: most,
  });
  const value = decoder.decode(view);
  // BigInts come only from the 64-bit formats (0xcf, 0xd3): without those bytes, skip the walk.
  return view.includes(0xcf) || view.includes(0xd3) ? narrow(value) : value;
}

const MIN = BigInt(Number.MIN_SAFE_INTEGER);
const MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** 64-bit integers that fit a Number exactly become Numbers (in place). */
function narrow(v) {
  if (typeof v === "bigint") return v >= MIN && v <= MAX ? Number(v) : v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = narrow(v[i]);
  } else if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    for (const key of Object.keys(v)) v[key] = narrow(v[key]);
  }
  return v;
}
