// View logic that decides what a page shows (issue 9): an ended or removed-from room looks
// ended, a refused link is not "joining", rings only for what one can hear, a tier we have
// no words for gets a generic badge, and two different Mute buttons have different labels.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { RoomState, callEndedNotice, chatLimit } from "../js/state.js";
import { farewell } from "../js/views/gone.js";
import { tierKey } from "../js/views/common.js";
import { consultLine, seatText } from "../js/views/stage.js";

const read = (rel) => JSON.parse(readFileSync(new URL(rel, import.meta.url), "utf8"));
const catalogs = { en: read("../i18n/en.json"), ar: read("../i18n/ar.json") };

const seat = (index, extra = {}) => ({ index, status: "free", user: null, name: null, tier: null, self_muted: false, moderator_muted: false, ...extra });
const me = { user: "u1", name: "Layla", role: "listener", tier: "vip", locale: "ar", connected: true };
const taken = (index, user) => seat(index, { status: "taken", user, name: user, tier: "new" });

const SNAPSHOT = {
  room: "demo", phase: "show", show_starts_at: null, seat_count: 4, tiers: ["vip", "new"],
  warmup_open_seats: false, chat_max_chars: 500, you: me, your_seat: null, your_queue_position: null,
  your_request_position: null, your_invite: null, self_muted: false, moderator_muted: false,
  seats: [taken(0, "h"), taken(1, "s1"), taken(2, "ann"), seat(3)],
  members: [], member_count: 9, queue: null, requests: null, consultations: [], chat: [], music: null,
};

function liveRoom(you = me) {
  const st = new RoomState();
  st.applySnapshot({ ...SNAPSHOT, you });
  return st;
}
const pairWithAnn = (mode) => ({ id: 3, kind: "stage", mode, staff: "h", staff_name: "Hana", shopper: "ann", shopper_name: "Ann", started_at: 1 });

test("an ended room is over: no live rings, no way back in", () => {
  const st = liveRoom();
  st.applyLive({ speaking: ["h", "s1"] });
  assert.equal(farewell(st, null), null); // in the room: the normal page
  st.applyEvent("room.phase", { phase: "ended", show_starts_at: null });
  assert.equal(st.speaking.size, 0);
  assert.equal(st.ringOn("h"), false);
  st.applyEvent("media.speaking", { user: "s1", speaking: true }); // late: ignored
  assert.equal(st.ringOn("s1"), false);
  // Ended before the socket closed, and after the 4004 close: the same card, no Rejoin (410).
  for (const closed of [null, { code: 4004 }]) {
    assert.deepEqual(farewell(st, closed), { kind: "ended", title: "gone.ended_title", text: "gone.ended_next", action: null });
  }
});

test("a removed listener: out at once, no ring, no rejoin", () => {
  const st = liveRoom();
  st.applyLive({ speaking: ["h"] });
  st.applyEvent("member.left", { user: "u1", reason: "kicked" });
  assert.equal(st.ringOn("h"), false);
  assert.equal(st.canSpeak, false);
  assert.equal(farewell(st, null).kind, "kicked");
  assert.equal(farewell(st, { code: 4003 }).action, null);
  assert.equal(farewell(new RoomState(), { code: 4003 }).kind, "kicked");
});

test("only actions that can work: rejoin after leaving, use-here when opened elsewhere", () => {
  const fresh = () => new RoomState();
  assert.equal(farewell(fresh(), { code: 1000 }).action, "rejoin");
  assert.equal(farewell(fresh(), { code: 4001 }).action, "use_here");
  assert.equal(farewell(fresh(), { code: 1011 }).action, "rejoin");
  const timedOut = liveRoom();
  timedOut.applyEvent("member.left", { user: "u1", reason: "timeout" });
  assert.equal(farewell(timedOut, null).action, "rejoin");
  // Back in with a fresh welcome (a new member after the grace): the room again, not the card.
  timedOut.applySnapshot(SNAPSHOT);
  assert.equal(farewell(timedOut, null), null);
});

test("a refused link is explained, never 'joining', and not retried by a button", () => {
  const st = new RoomState(); // never let in: no snapshot
  const expired = farewell(st, { code: 1006, refused: { ok: false, code: "token_expired", retry: false } });
  assert.deepEqual(expired, { kind: "refused", title: "gone.refused_title", text: "refused.token_expired", action: null });
  assert.equal(farewell(st, { code: 1006, refused: { code: "room_ended" } }).kind, "ended");
  assert.equal(farewell(st, { code: 1006, refused: { code: "banned" } }).kind, "kicked");
});

test("every farewell has its words in every language", () => {
  const cases = [{ code: 1000 }, { code: 1011 }, { code: 4001 }, { code: 4003 }, { code: 4004 }, { refused: { code: "token_expired" } }];
  for (const closed of cases) {
    const f = farewell(new RoomState(), closed);
    for (const [lang, cat] of Object.entries(catalogs)) {
      assert.ok(f.title in cat && f.text in cat, `${lang}: ${f.title} / ${f.text}`);
    }
  }
});

test("no ring for a private pair one cannot hear; rings follow a mode switch in place", () => {
  const st = liveRoom();
  st.applyEvent("consult.started", { consultation: pairWithAnn("private") });
  st.applyEvent("media.speaking", { user: "ann", speaking: true }); // e.g. from an old server
  st.applyEvent("media.speaking", { user: "s1", speaking: true });
  assert.equal(st.ringOn("ann"), false); // the audience cannot hear her
  assert.equal(st.ringOn("s1"), true); // the show goes on
  st.applyEvent("consult.updated", { consultation: pairWithAnn("listen_in"), by: "h" });
  assert.equal(st.stageConsultation.mode, "listen_in");
  assert.equal(st.consultations.size, 1);
  assert.equal(st.ringOn("ann"), true); // now the room hears the pair
  st.applyEvent("consult.updated", { consultation: pairWithAnn("private"), by: "h" });
  assert.equal(st.ringOn("ann"), false);

  const ann = liveRoom({ ...me, user: "ann", name: "Ann" });
  ann.applyEvent("consult.started", { consultation: pairWithAnn("private") });
  ann.applyEvent("media.speaking", { user: "h", speaking: true });
  assert.equal(ann.ringOn("h"), true); // the pair see each other
});

test("a tier this page has no words for gets a generic, translated badge", () => {
  for (const cat of Object.values(catalogs)) {
    const known = (k) => k in cat;
    assert.equal(tierKey("vip", known), "tier.vip");
    assert.equal(tierKey("platinum-plus", known), "tier.other");
    assert.ok(cat["tier.other"] && cat["tier.other"] !== "platinum-plus");
  }
});

test("the two Mute buttons (my mic, a seat) never share a label", () => {
  for (const [lang, cat] of Object.entries(catalogs)) {
    const mine = [cat["mic.mute"], cat["mic.unmute"]];
    const seats = [cat["action.mute_seat"], cat["action.unmute_seat"]];
    for (const label of mine) assert.ok(!seats.includes(label), `${lang}: ${label}`);
    // The two 1v1 modes read differently from each other too.
    assert.notEqual(cat["consult.mode_private"], cat["consult.mode_listen_in"], lang);
  }
});

// A translator over one catalog, as i18n.t fills it (numbers as given).
const translator = (cat) => (key, params = {}) => {
  assert.ok(key in cat, key);
  return cat[key].replace(/\{(\w+)\}/g, (_, n) => String(params[n] ?? ""));
};

test("a seat's screen-reader name is what the seat shows, numbered as shown", () => {
  // Finding 11: "Seat 0: Hana (host)" for the host's unnumbered seat, "Seat 2: free" for a
  // locked one, "Seat 1: free" where the screen says "Take seat".
  const en = translator(catalogs.en);
  const st = liveRoom();
  const host = { ...taken(0, "h"), name: "Hana" };
  assert.deepEqual(seatText(st, host, false, en), { label: "Hana", aria: "Host's seat: Hana" });
  assert.equal(seatText(st, seat(0), false, en).aria, "Host's seat: Free");
  assert.deepEqual(seatText(st, seat(2, { status: "locked" }), false, en), { label: "Locked", aria: "Seat 2: Locked" });
  assert.deepEqual(seatText(st, seat(1), true, en), { label: "Take seat", aria: "Seat 1: Take seat" });
  assert.deepEqual(seatText(st, seat(3), false, en), { label: "Free", aria: "Seat 3: Free" });
  assert.equal(seatText(st, taken(1, "s1"), false, en).aria, "Seat 1: s1");
  const ar = translator(catalogs.ar);
  assert.equal(seatText(st, seat(2, { status: "locked" }), false, ar).aria, "المقعد 2: مقفل");
  assert.equal(seatText(st, host, false, ar).aria, "مقعد المضيف: Hana");
});

test("in a 1v1 the pair read about themselves; seated speakers a listen-in silences are told", () => {
  // Finding 16: the shopper in the 1v1 read "Hana is in a private consultation with Ann".
  const en = translator(catalogs.en);
  const strip = (s) => s.replace(/[\u2068\u2069]/g, "");
  for (const mode of ["private", "listen_in"]) {
    const ann = liveRoom({ ...me, user: "ann", name: "Ann" });
    ann.applyEvent("consult.started", { consultation: pairWithAnn(mode) });
    const hana = liveRoom({ ...me, user: "h", name: "Hana", role: "host" });
    hana.applyEvent("consult.started", { consultation: pairWithAnn(mode) });
    const audience = liveRoom();
    audience.applyEvent("consult.started", { consultation: pairWithAnn(mode) });
    assert.equal(strip(consultLine(ann, en)), strip(en(`consult.with_stage_${mode}`, { name: "Hana" })));
    assert.equal(strip(consultLine(hana, en)), strip(en(`consult.with_stage_${mode}`, { name: "Ann" })));
    assert.equal(strip(consultLine(audience, en)), strip(en(`phase.consult_${mode}`, { host: "Hana", shopper: "Ann" })));
  }
  assert.equal(consultLine(liveRoom(), en), null);

  // s1 holds seat 1: not heard during a listen-in (unless one of the pair), heard in private.
  const s1 = liveRoom({ ...me, user: "s1", name: "s1" });
  assert.equal(s1.unheardOnSeat, false);
  s1.applyEvent("consult.started", { consultation: pairWithAnn("listen_in") });
  assert.equal(s1.unheardOnSeat, true);
  s1.applyEvent("consult.updated", { consultation: pairWithAnn("private"), by: "h" });
  assert.equal(s1.unheardOnSeat, false);
  const ann = liveRoom({ ...me, user: "ann", name: "Ann" }); // seated shopper of the pair
  ann.applyEvent("consult.started", { consultation: pairWithAnn("listen_in") });
  assert.equal(ann.unheardOnSeat, false);
  assert.equal(liveRoom().unheardOnSeat, false); // not seated: nothing to tell
  assert.ok(catalogs.ar["consult.not_heard"]);
});

test("'Now playing' only while the music is in this member's mix", () => {
  // protocol.md 3.3: a listen-in 1v1 pauses the music in the mix; a private pair hear only
  // each other (the room keeps the music).
  const music = { track: "intro.ogg", gain: 0.5, loop: true };
  const audience = liveRoom();
  const ann = liveRoom({ ...me, user: "ann", name: "Ann" });
  for (const st of [audience, ann]) st.applyEvent("music.changed", music);
  assert.deepEqual([audience.musicHeard, audience.musicPaused], [true, false]);
  for (const st of [audience, ann]) st.applyEvent("consult.started", { consultation: pairWithAnn("listen_in") });
  assert.deepEqual([audience.musicHeard, audience.musicPaused, ann.musicHeard], [false, true, false]);
  for (const st of [audience, ann]) st.applyEvent("consult.updated", { consultation: pairWithAnn("private"), by: "h" });
  assert.deepEqual([audience.musicHeard, audience.musicPaused], [true, false]); // the show goes on
  assert.deepEqual([ann.musicHeard, ann.musicPaused], [false, false]); // in the pair: not heard
  for (const st of [audience, ann]) st.applyEvent("consult.ended", { id: 3, kind: "stage", by: "h", reason: "ended" });
  assert.equal(ann.musicHeard, true);
  audience.applyEvent("music.changed", { track: null });
  assert.deepEqual([audience.musicHeard, audience.musicPaused], [false, false]);
});

// Second web-page pass (W3).
const salesCall = { id: 7, kind: "agent", mode: "private", staff: "ag", staff_name: "Omar", shopper: "u1", shopper_name: "Layla", started_at: 1 };

test("a seated shopper on a private call is told the room cannot hear her", () => {
  const st = liveRoom();
  st.applyEvent("seat.updated", { seat: taken(3, "u1") });
  assert.equal(st.privateOnSeat, null);
  st.applyEvent("consult.started", { consultation: salesCall });
  assert.equal(st.privateOnSeat, "Omar");
  assert.equal(st.unheardOnSeat, false); // the listen-in sentence would be wrong here
  st.applyEvent("consult.ended", { id: 7, kind: "agent", by: "ag", reason: "ended" });
  assert.equal(st.privateOnSeat, null);
  // The host's private 1v1 with a seated shopper: the same.
  st.applyEvent("consult.started", { consultation: { ...pairWithAnn("private"), shopper: "u1", shopper_name: "Layla" } });
  assert.equal(st.privateOnSeat, "Hana");
  assert.ok(catalogs.en["consult.not_heard_private"].includes("{name}"));
});

test("the host sees who is on a call with sales", () => {
  const st = liveRoom({ ...me, user: "h", name: "Hana", role: "host" });
  st.applyEvent("consult.started", { consultation: { ...salesCall, shopper: "kim", shopper_name: "Kim" } });
  assert.equal(st.consultationOf("kim")?.kind, "agent");
  assert.equal(st.consultationOf("ann"), null);
});

test("a shopper is told when the agent ends her call, not when she ends it", () => {
  const st = liveRoom();
  st.applyEvent("consult.started", { consultation: salesCall });
  assert.deepEqual(callEndedNotice(st, { id: 7, kind: "agent", by: "ag", reason: "ended" }), { key: "consult.call_ended", name: "Omar" });
  assert.equal(callEndedNotice(st, { id: 7, kind: "agent", by: "u1", reason: "ended" }), null);
  assert.equal(callEndedNotice(st, { id: 8, kind: "agent", by: "ag", reason: "ended" }), null);
  assert.ok("consult.call_ended" in catalogs.ar);
});

test("the chat limit counts code points as the server does", () => {
  const emoji = "😀".repeat(400); // 800 UTF-16 units: a maxLength of 500 cut it to 250
  assert.deepEqual(chatLimit(emoji, 500), { n: 400, max: 500, near: true, over: false });
  assert.equal(chatLimit("x".repeat(3000), 500).over, true);
  assert.equal(chatLimit("  hi  ", 500).n, 2);
  assert.equal(chatLimit("x".repeat(399), 500).near, false);
});
