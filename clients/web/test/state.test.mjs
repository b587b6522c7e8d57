// The room state follows the snapshot and events exactly as the server defines them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RoomState } from "../js/state.js";

const seat = (index, extra = {}) => ({ index, status: "free", user: null, name: null, tier: null, self_muted: false, moderator_muted: false, ...extra });
const me = { user: "u1", name: "Layla", role: "listener", tier: "vip", locale: "ar", connected: true };

function snapshot(extra = {}) {
  return {
    room: "demo", phase: "warmup", show_starts_at: null, seat_count: 3, tiers: ["vip", "active", "new"],
    warmup_open_seats: true, chat_max_chars: 500, you: me, your_seat: null, your_queue_position: null,
    your_request_position: null, your_invite: null, self_muted: false, moderator_muted: false,
    seats: [seat(0, { status: "taken", user: "h", name: "Hana", tier: "vip" }), seat(1), seat(2)],
    members: [], member_count: 2, queue: null, requests: null, consultations: [], chat: [], music: null,
    ...extra,
  };
}

test("promotion puts me on a seat and lets me speak; a moderator mute silences me", () => {
  const st = new RoomState();
  st.applySnapshot(snapshot({ phase: "show" }));
  assert.equal(st.canSpeak, false);
  st.applyEvent("queue.position", { position: 1, reason: "joined" });
  assert.equal(st.queuePosition, 1);
  st.applyEvent("queue.position", { position: null, reason: "promoted" });
  st.applyEvent("seat.updated", { seat: seat(2, { status: "taken", user: "u1", name: "Layla", tier: "vip" }), reason: "promoted" });
  assert.equal(st.mySeat.index, 2);
  assert.equal(st.micLive, true);
  st.applyEvent("seat.updated", { seat: seat(2, { status: "taken", user: "u1", name: "Layla", moderator_muted: true }), reason: "muted" });
  assert.equal(st.micLive, false);
  st.applyEvent("seat.updated", { seat: seat(2), reason: "demoted" });
  assert.equal(st.canSpeak, false);
});

test("a 1v1 lets an unseated shopper speak; ending it forgets an off-seat self-mute", () => {
  const st = new RoomState();
  st.applySnapshot(snapshot({ phase: "show" }));
  const k = { id: 7, kind: "stage", mode: "listen_in", staff: "h", staff_name: "Hana", shopper: "u1", shopper_name: "Layla", started_at: 1 };
  st.applyEvent("consult.started", { consultation: k });
  assert.equal(st.stageConsultation.id, 7);
  assert.equal(st.canSpeak, true);
  st.selfMuted = true;
  st.applyEvent("consult.ended", { id: 7, kind: "stage", by: "h", reason: "ended" });
  assert.equal(st.canSpeak, false);
  assert.equal(st.selfMuted, false);
});

test("room end, kick, role change, chat cap, music, speaking", () => {
  const st = new RoomState();
  st.applySnapshot(snapshot());
  st.applyEvent("member.role", { user: "u1", role: "cohost" });
  assert.equal(st.isModerator, true);
  for (let i = 0; i < 250; i++) st.applyEvent("chat.message", { message: { id: i, at: 0, kind: "user", text: "x" } });
  assert.equal(st.chat.length, 200);
  assert.equal(st.chat[0].id, 50);
  st.applyEvent("music.changed", { track: "a.ogg", gain: 0.5, loop: true });
  assert.equal(st.music.track, "a.ogg");
  st.applyEvent("music.changed", { track: null, gain: 0, loop: false });
  assert.equal(st.music, null);
  st.applyEvent("media.speaking", { user: "h", speaking: true });
  assert.ok(st.speaking.has("h"));
  st.applyEvent("member.left", { user: "h", reason: "left" });
  assert.ok(!st.speaking.has("h"));
  assert.equal(st.applyEvent("something.new", {}), false);
  st.applyEvent("room.phase", { phase: "ended", show_starts_at: null });
  assert.equal(st.ended, "ended");
  assert.equal(st.canSpeak, false);
});

test("kicked: I am out for good", () => {
  const st = new RoomState();
  st.applySnapshot(snapshot());
  st.applyEvent("member.left", { user: "u1", reason: "kicked" });
  assert.equal(st.ended, "kicked");
});

test("late joiner: who is speaking and the music library come with the welcome", () => {
  const st = new RoomState();
  st.applyEvent("media.speaking", { user: "gone", speaking: true }); // before a reconnect
  st.applySnapshot(snapshot());
  st.applyLive({ speaking: ["h"], tracks: null });
  assert.deepEqual([...st.speaking], ["h"]); // replaced, not merged
  assert.equal(st.tracks, null);
  st.applyLive({ speaking: [], tracks: ["a.ogg", "b.mp3"] });
  assert.equal(st.speaking.size, 0);
  assert.deepEqual(st.tracks, ["a.ogg", "b.mp3"]);
  st.applyLive({}); // an older server: nothing changes
  assert.deepEqual(st.tracks, ["a.ogg", "b.mp3"]);
});

test("member count: snapshot, then room.count; staff also count joins and leaves", () => {
  const st = new RoomState();
  st.applySnapshot(snapshot());
  assert.equal(st.memberCount, 2);
  st.applyEvent("room.count", { members: 57 });
  assert.equal(st.memberCount, 57);
  st.applyEvent("member.joined", { member: { ...me, user: "u9" } }); // a listener: no change
  assert.equal(st.memberCount, 57);
  const host = new RoomState();
  host.applySnapshot(snapshot({ you: { ...me, role: "host" }, members: [{ ...me, role: "host" }], member_count: 1 }));
  host.applyEvent("member.joined", { member: { ...me, user: "u2" } });
  host.applyEvent("member.joined", { member: { ...me, user: "u2" } }); // a repeat counts once
  assert.equal(host.memberCount, 2);
  host.applyEvent("member.left", { user: "u2", reason: "left" });
  assert.equal(host.memberCount, 1);
  host.applyEvent("room.count", { members: 3 });
  assert.equal(host.memberCount, 3);
});

test("a page that was in the room stays 'reconnecting' (joined) on every status of a retry", async () => {
  // Finding 6: during a server restart the banner flipped between "Connection lost" and
  // "Cannot join the room yet", because connect() announced `reconnecting` without `joined`.
  const { Session } = await import("../js/session.js");
  const sockets = [];
  const saved = globalThis.WebSocket;
  globalThis.WebSocket = class { constructor(url) { this.url = url; sockets.push(this); } close() {} };
  globalThis.WebSocket.OPEN = 1;
  try {
    const session = new Session("ws://x/ws?token=t");
    const seen = [];
    session.addEventListener("status", ({ detail }) => seen.push(detail));
    session.connect();
    assert.equal(seen.at(-1).state, "connecting");
    session.lastSeq = 7; // a welcome came: we were in the room
    sockets.at(-1).onclose({ code: 1012, reason: "restart" }); // opened, then dropped
    clearTimeout(session.retryTimer);
    session.connect(); // the retry's reconnect
    assert.match(sockets.at(-1).url, /&resume=7$/);
    const retrying = seen.filter((s) => s.state === "reconnecting");
    assert.equal(retrying.length, 2);
    for (const s of retrying) assert.equal(s.joined, true, JSON.stringify(s));
    session.close();
  } finally {
    globalThis.WebSocket = saved;
  }
});
