// The signalling session: one WebSocket carrying msgpack frames (voiceroom/protocol.py).
//
// - request(type, body) sends {v, type, id, body} and resolves with the matching reply's
//   body, or rejects with a ServerError carrying the wire error code.
// - Every frame with a `seq` (welcome and room events) advances `lastSeq`. After a drop the
//   session reconnects with `&resume=lastSeq`, so the server replays what was missed (or
//   sends a fresh snapshot when it cannot), with exponential backoff and jitter.
// - Close codes that mean "do not come back" (left, kicked, replaced, room closed) stop it.
// - A socket refused at the handshake shows the page only "connection failed" (browsers
//   hide the HTTP status): the session then asks `checkUrl` (GET /api/join-check) why, and
//   stops on a permanent refusal (expired link, removed, room ended) instead of retrying.
//
// Events dispatched (CustomEvent, detail in brackets):
//   "welcome" [welcome body], "event" [{type, seq, body}], "status" [{state, code, reason}]
//   state is one of: connecting, open, reconnecting, closed. After a refused handshake the
//   status also carries `refused`: the join-check answer {ok, status, code, message, retry}.
import { encode, decode } from "./msgpack.js";

export const PROTOCOL_VERSION = 1;

// voiceroom.protocol.CloseCode values the client acts on.
export const CLOSE = Object.freeze({
  NORMAL: 1000, GOING_AWAY: 1001, POLICY_VIOLATION: 1008, SERVICE_RESTART: 1012,
  REPLACED: 4001, SLOW_CONSUMER: 4002, KICKED: 4003, ROOM_CLOSED: 4004,
});
const FINAL_CLOSES = new Set([CLOSE.NORMAL, CLOSE.REPLACED, CLOSE.KICKED, CLOSE.ROOM_CLOSED]);

// Timeouts (ms)
const REQUEST_TIMEOUT = 15000; // media.offer waits for ICE set-up on the server
const HEARTBEAT_EVERY = 15000; // a silent mobile network is only noticed when we ask
const HEARTBEAT_TIMEOUT = 8000;
const BACKOFF_FIRST = 500;
const BACKOFF_MAX = 10000;

export class ServerError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
    this.serverMessage = message;
  }
}

export class Session extends EventTarget {
  /** url: the ws(s) endpoint with its token, e.g. wss://host/ws?token=...
   *  checkUrl: the join check for the same token, e.g. /api/join-check?token=... */
  constructor(url, { checkUrl = null } = {}) {
    super();
    this.url = url;
    this.checkUrl = checkUrl;
    this.ws = null;
    this.nextId = 1;
    this.pending = new Map(); // id -> {resolve, reject, timer}
    this.lastSeq = null;
    this.attempt = 0;
    this.stopped = false;
    this.retryTimer = null;
    this.heartbeat = null;
  }

  connect() {
    this.stopped = false;
    // joined: as in retry() - a page that was in the room is reconnecting, not "cannot join"
    // (a status without it made the banner flip between the two during a server restart).
    const joined = this.lastSeq !== null;
    this.emit("status", { state: joined ? "reconnecting" : "connecting", attempt: this.attempt, joined });
    const url = this.lastSeq === null ? this.url : `${this.url}&resume=${this.lastSeq}`;
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    let opened = false; // false at close: the handshake itself was refused (or unreachable)
    ws.onopen = () => { opened = true; };
    ws.onmessage = (e) => this.onFrame(e.data);
    ws.onclose = (e) => this.onClose(ws, e, opened);
    this.ws = ws;
  }

  /** Leave the room for good (the server frees seat and queue place at once). */
  async leave() {
    try { await this.request("leave"); } finally { this.close(); }
  }

  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.ws?.close(CLOSE.NORMAL);
  }

  request(type, body = {}) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(new ServerError("disconnected", "not connected"));
    }
    const id = this.nextId++;
    this.ws.send(encode({ v: PROTOCOL_VERSION, type, id, body }));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ServerError("timeout", `${type}: no answer`));
      }, REQUEST_TIMEOUT);
      this.pending.set(id, { resolve, reject, timer });
    });
  }

  onFrame(data) {
    let msg;
    try {
      msg = decode(new Uint8Array(data));
    } catch (err) {
      console.error("voiceroom: undecodable frame", err);
      return;
    }
    if (typeof msg.seq === "number") this.lastSeq = msg.seq;
    switch (msg.type) {
      case "reply":
      case "error": {
        const waiter = this.pending.get(msg.id);
        if (waiter) {
          this.pending.delete(msg.id);
          clearTimeout(waiter.timer);
          if (msg.type === "reply") waiter.resolve(msg.body ?? {});
          else waiter.reject(new ServerError(msg.code, msg.message));
        } else if (msg.type === "error") {
          // An error without a request (e.g. refused at join): the person must see it.
          this.emit("error", new ServerError(msg.code, msg.message));
        }
        return;
      }
      case "welcome":
        this.attempt = 0;
        this.startHeartbeat();
        this.emit("status", { state: "open" });
        this.emit("welcome", msg.body);
        return;
      default:
        this.emit("event", { type: msg.type, seq: msg.seq ?? null, body: msg.body ?? {} });
    }
  }

  onClose(ws, e, opened = true) {
    if (ws !== this.ws) return; // an old socket, or one we already gave up on
    this.ws = null;
    this.stopHeartbeat();
    for (const [, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(new ServerError("disconnected", "connection lost"));
    }
    this.pending.clear();
    if (this.stopped || FINAL_CLOSES.has(e.code)) {
      this.stopped = true;
      this.emit("status", { state: "closed", code: e.code, reason: e.reason });
      return;
    }
    if (!opened && this.checkUrl) this.checkRefusal(e);
    else this.retry(e, null);
  }

  /** Ask the server why the handshake failed; stop on a refusal that will not change. */
  async checkRefusal(e) {
    let verdict = null;
    try {
      const resp = await fetch(this.checkUrl, { cache: "no-store" });
      if (resp.ok) verdict = await resp.json();
    } catch {
      // Server unreachable (or an older one without the check): just try again.
    }
    if (this.stopped) return;
    if (verdict && !verdict.ok && verdict.retry === false) {
      this.stopped = true;
      this.emit("status", { state: "closed", code: e.code, reason: e.reason, refused: verdict });
      return;
    }
    this.retry(e, verdict && !verdict.ok ? verdict : null);
  }

  retry(e, refused) {
    const delay = Math.min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    // joined: false while we have never been let in (e.g. the room is not open yet).
    this.emit("status", { state: "reconnecting", code: e.code, reason: e.reason, attempt: this.attempt, delay, joined: this.lastSeq !== null, refused });
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  startHeartbeat() {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => {
      const ws = this.ws;
      const timer = setTimeout(() => {
        // A dead link may take minutes to report its close: give up on it now.
        ws.close(4000, "heartbeat timeout");
        this.onClose(ws, { code: 4000, reason: "heartbeat timeout" });
      }, HEARTBEAT_TIMEOUT);
      this.request("ping").then(() => clearTimeout(timer), () => clearTimeout(timer));
    }, HEARTBEAT_EVERY);
  }

  stopHeartbeat() {
    clearInterval(this.heartbeat);
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}
