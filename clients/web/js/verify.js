// Recomputes a lottery draw from its lottery.drawn body, exactly as docs/engagement.md
// ("Checking a draw") and voiceroom/games/lottery.py define it, with WebCrypto. Pure: no
// DOM, so node's test runner checks it against the Python reference's test vector.

const enc = new TextEncoder();
const subtle = () => globalThis.crypto.subtle;

export function hex(bytes) {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text) {
  if (typeof text !== "string" || text.length % 2 || /[^0-9a-f]/i.test(text)) throw new Error("bad hex");
  return Uint8Array.from(text.match(/../g) ?? [], (x) => parseInt(x, 16));
}

/** Compare byte arrays as unsigned big-endian numbers (and UTF-8 ids by their bytes). */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

export async function sha256Hex(bytes) {
  return hex(await subtle().digest("SHA-256", bytes));
}

export const listDigest = (entrants) => sha256Hex(enc.encode(entrants.join("\n")));

export async function pickWinners(seed, entrants, k, tickets) {
  const key = await subtle().importKey("raw", seed, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const scored = await Promise.all(entrants.map(async (user, i) => {
    let best = null;
    for (let j = 0; j < (tickets?.[i] ?? 1); j++) {
      const t = new Uint8Array(await subtle().sign("HMAC", key, enc.encode(`${user}\n${j}`)));
      if (best === null || compareBytes(t, best) < 0) best = t;
    }
    return { user, score: best, id: enc.encode(user) };
  }));
  scored.sort((a, b) => compareBytes(a.score, b.score) || compareBytes(a.id, b.id));
  return scored.slice(0, Math.max(k, 0)).map((s) => s.user);
}

/** Problems found in a draw (empty: it verifies). `seen` is the commitment shown at the open. */
export async function verifyDraw(draw, seen = null) {
  const problems = [];
  let seed;
  try { seed = fromHex(draw.seed); } catch { return ["the seed is not hex"]; }
  const entrants = draw.entrants ?? [];
  const tickets = draw.tickets?.length ? draw.tickets : entrants.map(() => 1);
  if (await sha256Hex(seed) !== draw.commitment) problems.push("SHA-256(seed) is not the commitment");
  if (seen && seen !== draw.commitment) problems.push("the commitment changed since the open");
  for (let i = 1; i < entrants.length; i++) {
    if (compareBytes(enc.encode(entrants[i - 1]), enc.encode(entrants[i])) >= 0) {
      problems.push("the entrant list is not sorted");
      break;
    }
  }
  if (await listDigest(entrants) !== draw.list_digest) problems.push("the list digest does not match");
  if (tickets.length !== entrants.length || tickets.some((n) => !(n >= 1))) problems.push("bad tickets");
  else {
    const winners = await pickWinners(seed, entrants, draw.k, tickets);
    if (JSON.stringify(winners) !== JSON.stringify(draw.winners)) problems.push("the winners do not follow");
  }
  return problems;
}
