// The page's draw check agrees with the Python reference (docs/engagement.md test vector)
// and catches tampering; the games state follows events; prices parse without floats.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { verifyDraw, pickWinners, sha256Hex, listDigest } from "../js/verify.js";
import { RoomState } from "../js/state.js";
import { toMinor, checkedInToday, marketDay, missingParams, guessProductName, promptMinutes } from "../js/views/games.js";
import { ShopState } from "../js/views/shop_state.js";

const seed = new Uint8Array([...Array(32).keys()]);
const entrants = ["alice", "bob", "carol", "dave"];

async function draw(k = 2, tickets = [1, 1, 1, 1]) {
  return {
    id: 1, k, tickets, entrants, seed: Buffer.from(seed).toString("hex"),
    commitment: await sha256Hex(seed), list_digest: await listDigest(entrants),
    winners: await pickWinners(seed, entrants, k, tickets),
  };
}

test("the engagement.md test vector", async () => {
  assert.equal(await sha256Hex(seed), "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd");
  assert.equal(await listDigest(entrants), "4a101be8818a8531067caad009abc9a355a94d22ec2494737190d804436b1db2");
  assert.deepEqual(await pickWinners(seed, entrants, 4), ["alice", "dave", "carol", "bob"]);
  assert.deepEqual(await verifyDraw(await draw()), []);
});

test("tampering fails", async () => {
  const good = await draw();
  const flip = { ...good, seed: "01" + good.seed.slice(2) };
  assert.notDeepEqual(await verifyDraw(flip), []);
  assert.notDeepEqual(await verifyDraw({ ...good, entrants: ["alice", "bob", "carol"] }), []);
  assert.notDeepEqual(await verifyDraw({ ...good, winners: ["bob", "dave"] }), []);
  assert.notDeepEqual(await verifyDraw(good, "00".repeat(32)), []);
  assert.notDeepEqual(await verifyDraw({ ...good, entrants: ["bob", "alice", "carol", "dave"] }), []);
});

test("games events fold into the state", () => {
  const st = new RoomState();
  st.applySnapshot({ room: "r", phase: "show", seat_count: 2, tiers: ["vip", "active", "new"], you: { user: "u1", name: "U", role: "listener", tier: "new" },
    seats: [], members: [], member_count: 1, consultations: [], chat: [], games: { vote: null, leaderboard: {} } });
  st.applyEvent("vote.opened", { id: 1, question: "q", options: ["a", "b"], at: 1 });
  st.applyEvent("vote.yours", { id: 1, option: 1 });
  st.applyEvent("vote.tally", { id: 1, tallies: [3, 4], total: 7 });
  assert.deepEqual(st.games.vote_tallies, [3, 4]);
  assert.equal(st.games.your_vote, 1);
  st.applyEvent("vote.closed", { id: 1, question: "q", options: ["a", "b"], tallies: [3, 5], total: 8, winners: [1], reason: "closed" });
  assert.equal(st.games.vote, null);
  assert.equal(st.games.last_vote.total, 8);
  st.applyEvent("member.tier", { user: "u1", tier: "active" });
  assert.equal(st.you.tier, "active");
  st.applyEvent("lottery.opened", { id: 3, commitment: "abc" });
  assert.equal(st.games.seen_commitment[3], "abc");
});

test("prices in minor units without floats", () => {
  assert.equal(toMinor("129.5", "EUR"), 12950);
  assert.equal(toMinor("129,05", "EUR"), 12905);
  assert.equal(toMinor("1500", "JPY"), 1500);
  assert.equal(toMinor("1.5", "JPY"), null);
  assert.equal(toMinor("12.345", "USD"), null);
  assert.equal(toMinor("abc", "USD"), null);
  // What shoppers type in an Arabic or English page: Arabic-Indic digits, thousands commas.
  assert.equal(toMinor("١٣٠٠", "SAR"), 130000);
  assert.equal(toMinor("١٬٣٠٠٫٥", "SAR"), 130050);
  assert.equal(toMinor("1,250.5", "SAR"), 125050);
  assert.equal(toMinor("1,250", "SAR"), 125000);
  assert.equal(toMinor("12,345,678", "JPY"), 12345678);
  assert.equal(toMinor("1.250,5", "EUR"), 125050);
  assert.equal(toMinor("1,25", "EUR"), 125);
  assert.equal(toMinor("1,250", "KWD"), 1250); // three decimals: the comma is the decimal
  assert.equal(toMinor("1,2,3", "SAR"), null);
  assert.equal(toMinor("12,50.5", "SAR"), null);
});

test("a scheduled prompt leaves the queue when it is shown", () => {
  const st = new RoomState();
  st.applySnapshot({ room: "r", phase: "show", seat_count: 2, tiers: [], you: { user: "h", name: "H", role: "host", tier: "vip" },
    seats: [], members: [], member_count: 1, consultations: [], chat: [], games: { scheduled_prompts: [] } });
  st.applyEvent("prompt.scheduled", { n: 1, id: "show_starting", at: 100 });
  st.applyEvent("prompt.scheduled", { n: 2, id: "vote_now", at: 200 });
  st.applyEvent("prompt.shown", { id: "show_starting", params: {}, by: null, at: 100, n: 1 });
  assert.deepEqual(st.games.scheduled_prompts.map((x) => x.n), [2]);
  assert.equal(st.games.prompt.id, "show_starting");
});

const LANGS = ["en", "ar", "zh", "id", "ja"];
const catalog = (lang) => JSON.parse(readFileSync(new URL(`../i18n/${lang}.json`, import.meta.url), "utf8"));

test("guess results are numbered once: by the list, not again in the row text", () => {
  for (const lang of LANGS) assert.doesNotMatch(catalog(lang)["games.guess.row"], /\{rank\}/, lang);
});

test("counts are phrased without plural forms (1 guesses, 3 صوت)", () => {
  const keys = ["games.guess.count", "games.vote.total", "games.lottery.drawn", "group.completed_count"];
  for (const lang of ["en", "ar"]) {
    const c = catalog(lang);
    // "Votes: {n}": the number follows a label, so no noun has to agree with it.
    for (const key of keys) for (const n of ["{n}", "{entrants}"]) {
      const at = c[key].indexOf(n);
      if (at < 0) continue;
      const after = c[key].slice(at + n.length);
      assert.ok(after === "" || /^[،,]/.test(after), `${lang} ${key}: "${c[key]}"`);
    }
  }
});

test("Arabic tier news does not put the tier name where it would need the accusative", () => {
  // "Noor أصبح الآن نشِط" needs نشِطًا (and أصبحت for a woman): the tier is named as a label.
  const text = catalog("ar")["games.tier.earned"];
  assert.doesNotMatch(text, /أصبح/);
  assert.match(text, /«\{tier\}»/);
});

test("check-in is done for the rest of the market's day", () => {
  const st = new RoomState();
  st.applySnapshot({ room: "r", phase: "show", seat_count: 2, tiers: [], you: { user: "u1", name: "U", role: "listener", tier: "new" },
    seats: [], members: [], member_count: 1, consultations: [], chat: [], games: { market_zone: "Asia/Riyadh", streak: null } });
  const now = Date.UTC(2026, 11, 3, 22, 30) / 1000; // 01:30 on 4 December in Riyadh
  assert.equal(marketDay("Asia/Riyadh", now), "2026-12-04");
  assert.equal(checkedInToday(st.games, now), false);
  st.applyEvent("checkin.done", { user: "u1", name: "U", day: "2026-12-04", streak: 2 });
  assert.equal(checkedInToday(st.games, now), true);
  assert.equal(checkedInToday(st.games, now + 86400), false); // a new day: check in again
  st.applyEvent("checkin.done", { user: "u2", name: "V", day: "2026-12-05", streak: 1 });
  assert.equal(st.games.streak.day, "2026-12-04"); // someone else's check-in is not ours
});

test("a prompt is not sent with a detail its text needs left blank", () => {
  assert.deepEqual(missingParams("flash_sale_now", { product: "Scarf" }), ["minutes"]);
  assert.deepEqual(missingParams("flash_sale_now", { product: "Scarf", minutes: " " }), ["minutes"]);
  assert.deepEqual(missingParams("flash_sale_now", { product: "Scarf", minutes: "10" }), []);
  assert.deepEqual(missingParams("checkin_today", {}), []);
});

test("your points and tier progress follow score.yours, not only the snapshot", () => {
  const st = new RoomState();
  st.applySnapshot({ room: "r", phase: "show", seat_count: 2, tiers: [], you: { user: "u1", name: "U", role: "listener", tier: "new" },
    seats: [], members: [], member_count: 1, consultations: [], chat: [], games: { your_points: 52, interactions: 0, active_after: 10 } });
  st.applyEvent("score.yours", { points: 55, interactions: 1 }); // a chat message scored
  assert.equal(st.games.your_points, 55);
  assert.equal(st.games.interactions, 1);
});

test("guess the price: a shop product reads in the viewer's language, its price in its currency", () => {
  const shop = new ShopState();
  shop.applySnapshot({ products: [{ id: "watch", titles: { en: "Classic gold watch", ar: "ساعة ذهبية كلاسيكية" }, price: 99000, currency: "SAR", exponent: 2, stock: 3, options: [] }] });
  assert.equal(guessProductName("watch", shop, "ar"), "ساعة ذهبية كلاسيكية");
  assert.equal(guessProductName("watch", shop, "en"), "Classic gold watch");
  assert.equal(guessProductName("Silk scarf", shop, "ar"), "Silk scarf"); // typed by the host
  assert.equal(guessProductName("watch", null, "ar"), "watch");
  // The hidden price is typed like any price, not in "cents" (a riyal has halalas).
  assert.equal(toMinor("1,300", "SAR"), 130000);
  for (const lang of LANGS) assert.doesNotMatch(catalog(lang)["games.guess.price"], /cent|سنت|分计|sen\b|セント/, lang);
});

test("a giveaway shows its tickets by tier, and a shopper can find themselves among the entrants", async () => {
  const { ticketsText, entrantCheck } = await import("../js/views/games.js");
  const en = catalog("en");
  const name = (tier) => en[`tier.${tier}`];
  assert.equal(ticketsText({}, name), null); // unweighted: nothing to show
  assert.equal(ticketsText({ vip: 3, active: 2, new: 1 }, name), "VIP 3 · Active 2 · New 1");
  for (const lang of LANGS) {
    for (const key of ["games.lottery.winners_line", "games.lottery.tickets_line", "games.lottery.seed_full"]) {
      assert.match(catalog(lang)[key], /\{(n|list|seed)\}/, `${lang} ${key}`);
    }
  }
  const draw = { entrants: ["ann", "bob"], tickets: [1, 1] };
  assert.equal(entrantCheck(draw, "bob", "listener"), "in");
  assert.equal(entrantCheck(draw, "cy", "listener"), "out");
  assert.equal(entrantCheck(draw, "host-1", "host"), null); // staff never enter
});

test("a prompt's minutes is a whole number 1..600, as the server takes it", () => {
  assert.equal(promptMinutes(" 05 "), "5");
  assert.equal(promptMinutes("600"), "600");
  for (const bad of ["five", "0", "601", "5.5", "-3", "", "1e2", "\u0665"]) assert.equal(promptMinutes(bad), null, bad);
});

test("no control is named for screen readers by an internal id", () => {
  // "rule", "tier", "prompt" were read aloud: names come from the catalogs (t(...)).
  const dir = new URL("../js/", import.meta.url);
  for (const f of ["views/games.js", "views/shop.js", "views/staff.js", "views/stage.js", "views/me.js"]) {
    const src = readFileSync(new URL(f, dir), "utf8");
    assert.deepEqual([...src.matchAll(/"aria-label":\s*"([a-z_-]+)"/g)].map((m) => m[1]), [], f);
  }
});
