// The room as this member sees it: built from the welcome snapshot (voiceroom.room.core
// Snapshot) and kept current by room events (voiceroom/room/events.py). No DOM, no I/O,
// so it is unit-tested in node. Views read it; only `applySnapshot`/`applyEvent` write it.

import { applyGamesEvent, emptyGames, GAMES_HANDLERS } from "./games_state.js";

const CHAT_KEEP = 200;
export const MODERATORS = new Set(["host", "cohost"]);
export const STAFF = new Set(["host", "cohost", "agent"]);

export class RoomState {
  constructor() {
    this.ready = false;
    this.ended = null; // why this member is out of the room for good: "ended", "kicked", ...
    this.speaking = new Set();
    this.memberCount = 0;
    this.tracks = null; // the music library (moderators only; null: not sent to us)
  }

  applySnapshot(s) {
    this.ready = true;
    this.room = s.room;
    this.phase = s.phase;
    this.showStartsAt = s.show_starts_at;
    this.seatCount = s.seat_count;
    this.tiers = s.tiers;
    this.warmupOpenSeats = s.warmup_open_seats;
    this.chatMaxChars = s.chat_max_chars;
    this.you = { ...s.you };
    this.queuePosition = s.your_queue_position;
    this.requestPosition = s.your_request_position;
    this.invite = s.your_invite;
    this.selfMuted = s.self_muted;
    this.moderatorMuted = s.moderator_muted;
    this.seats = s.seats.map((x) => ({ ...x }));
    this.members = new Map(s.members.map((m) => [m.user, { ...m }]));
    this.memberCount = s.member_count;
    this.queue = s.queue ?? [];
    this.requests = s.requests ?? [];
    this.consultations = new Map(s.consultations.map((k) => [k.id, k]));
    this.chat = [...s.chat];
    this.music = s.music?.track ? s.music : null;
    // A snapshot means we are in the room (again): only an ended room is still "out".
    this.ended = this.phase === "ended" ? "ended" : null;
    if (this.ended) this.speaking.clear();
    this.games = { ...emptyGames(), ...(s.games ?? {}), verified: this.games?.verified ?? {} };
  }

  /** The live state a welcome (even a resumed one) or a sync reply carries beside the
   *  snapshot: who is speaking now (media.speaking is never replayed) and, for
   *  moderators, the music library. */
  applyLive(body) {
    if (Array.isArray(body.speaking)) this.speaking = new Set(body.speaking);
    if (body.tracks !== undefined) this.tracks = body.tracks;
  }

  /** Apply one event; returns false for a type this client does not know (ignored). */
  applyEvent(type, b) {
    if (type === "member.tier" || type in GAMES_HANDLERS) return applyGamesEvent(this, type, b);
    const handler = HANDLERS[type];
    if (!handler) return false;
    handler(this, b);
    return true;
  }

  // ---------------------------------------------------------------- derived views
  get role() { return this.you?.role; }
  get isModerator() { return MODERATORS.has(this.role); }
  get isStaff() { return STAFF.has(this.role); }
  get mySeat() { return this.seats?.find((s) => s.user === this.you.user) ?? null; }
  get myConsultation() {
    for (const k of this.consultations?.values() ?? []) {
      if (k.staff === this.you.user || k.shopper === this.you.user) return k;
    }
    return null;
  }
  get stageConsultation() {
    for (const k of this.consultations?.values() ?? []) if (k.kind === "stage") return k;
    return null;
  }
  /** The server routes this member's voice: on a seat, or one of a 1v1's pair. */
  get canSpeak() { return !!this.ready && !this.ended && (!!this.mySeat || !!this.myConsultation); }
  /** The voice reaches nobody while muted, by self or by a moderator. */
  get micLive() { return this.canSpeak && !this.selfMuted && !this.moderatorMuted; }

  /** The music is paused in the mix for everyone while a listen-in 1v1 runs (protocol.md
   *  3.3, who hears whom). */
  get musicPaused() { return !!this.music && this.stageConsultation?.mode === "listen_in"; }
  /** What this member hears of the music: not while paused, nor inside a private call
   *  (the pair hear only each other; the room hears the music as before). */
  get musicHeard() { return !!this.music && !this.musicPaused && this.myConsultation?.mode !== "private"; }
  /** On a seat during a listen-in 1v1 without being one of its pair: seated, mic live,
   *  and yet nobody hears this member until it ends. */
  get unheardOnSeat() {
    const k = this.stageConsultation;
    return !this.ended && !!this.mySeat && k?.mode === "listen_in" && k.staff !== this.you.user && k.shopper !== this.you.user;
  }

  /** The seated member's own private call (an agent's, or the host's private 1v1): only
   *  the partner hears them, the room does not (protocol.md 3.4). The partner's name. */
  get privateOnSeat() {
    const k = this.myConsultation;
    if (this.ended || !this.mySeat || k?.mode !== "private") return null;
    return k.staff === this.you.user ? k.shopper_name : k.staff_name;
  }
  /** The 1v1 or call `user` is in, as far as this member can see (staff see every one). */
  consultationOf(user) {
    for (const k of this.consultations?.values() ?? []) if (k.staff === user || k.shopper === user) return k;
    return null;
  }

  /** A speaking ring for `user`, only if this member can hear them: never for a private
   *  pair we are not part of (the server does not send those either; an old one may have). */
  ringOn(user) {
    if (this.ended || !this.speaking.has(user)) return false;
    for (const k of this.consultations?.values() ?? []) {
      if (k.mode === "private" && (k.staff === user || k.shopper === user)) {
        return k.staff === this.you?.user || k.shopper === this.you?.user;
      }
    }
    return true;
  }

  nameOf(user) {
    if (user === this.you?.user) return this.you.name;
    const m = this.members.get(user);
    if (m) return m.name;
    const seat = this.seats.find((s) => s.user === user);
    return seat?.name ?? user;
  }
}

/** What a shopper is told when an agent ends her call (consult.ended): the catalog key
 *  and the agent's name, or null (not her call, or she ended it herself). Read before the
 *  event is applied: afterwards the call is gone. */
export function callEndedNotice(st, body) {
  const k = st.consultations?.get(body.id);
  if (!k || k.kind !== "agent" || k.shopper !== st.you?.user || body.by === st.you.user) return null;
  if (body.reason === "room_ended") return null;
  return { key: "consult.call_ended", name: k.staff_name };
}

/** A chat message's length as the server counts it (code points, after trimming), and
 *  whether to show the counter (near the limit) or refuse to send (over it). */
export function chatLimit(text, max) {
  const n = [...text.trim()].length;
  return { n, max, near: n >= Math.floor(max * 0.8), over: n > max };
}

const HANDLERS = {
  "member.joined": (st, b) => {
    // Staff hear of every join at once; everyone else waits for room.count.
    if (st.isStaff && !st.members.has(b.member.user)) st.memberCount += 1;
    st.members.set(b.member.user, { ...b.member });
  },
  "member.left": (st, b) => {
    if (st.isStaff && st.members.has(b.user)) st.memberCount = Math.max(0, st.memberCount - 1);
    st.members.delete(b.user);
    st.speaking.delete(b.user);
    if (b.user === st.you.user) {
      st.ended = b.reason;
      st.speaking.clear(); // out of the room: nothing is live any more
    }
  },
  "member.presence": (st, b) => {
    const m = st.members.get(b.user);
    if (m) m.connected = b.connected;
  },
  "member.role": (st, b) => {
    const m = st.members.get(b.user);
    if (m) m.role = b.role;
    if (b.user === st.you.user) st.you.role = b.role;
  },
  "seat.updated": (st, b) => {
    const seat = { ...b.seat };
    st.seats[seat.index] = seat;
    if (seat.user === st.you.user) {
      st.selfMuted = seat.self_muted;
      st.moderatorMuted = seat.moderator_muted;
    }
  },
  "queue.updated": (st, b) => { st.queue = b.entries; },
  "queue.position": (st, b) => { st.queuePosition = b.position; },
  "invite.received": (st, b) => { st.invite = b; },
  "invite.ended": (st, b) => { if (b.user === st.you.user) st.invite = null; },
  "room.phase": (st, b) => {
    st.phase = b.phase;
    st.showStartsAt = b.show_starts_at;
    if (b.phase === "ended") {
      st.ended = "ended";
      st.speaking.clear();
    }
  },
  "consult.started": (st, b) => { st.consultations.set(b.consultation.id, b.consultation); },
  // The same 1v1 switched between private and listen-in (consult.set_mode): same id.
  "consult.updated": (st, b) => { st.consultations.set(b.consultation.id, b.consultation); },
  "consult.ended": (st, b) => {
    const k = st.consultations.get(b.id);
    st.consultations.delete(b.id);
    // The server forgets a self-mute made off-seat in a 1v1 (core: _end_consult).
    if (k && (k.staff === st.you.user || k.shopper === st.you.user) && !st.mySeat) st.selfMuted = false;
  },
  "consult.requests": (st, b) => { st.requests = b.requests; },
  "consult.request_status": (st, b) => { st.requestPosition = b.position; },
  "chat.message": (st, b) => {
    st.chat.push(b.message);
    if (st.chat.length > CHAT_KEEP) st.chat.splice(0, st.chat.length - CHAT_KEEP);
  },
  "music.changed": (st, b) => { st.music = b.track ? b : null; },
  "room.count": (st, b) => { st.memberCount = b.members; },
  "media.speaking": (st, b) => {
    if (b.speaking && !st.ended) st.speaking.add(b.user);
    else st.speaking.delete(b.user);
  },
};
