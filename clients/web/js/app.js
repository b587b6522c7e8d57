// Wires the page: token -> locale -> session -> room state -> views, and audio.
// Everything a person must know (reconnecting, mic blocked, errors, tap to listen) is put
// on screen here, not only logged.
import { Session, CLOSE } from "./session.js";
import { RoomState, callEndedNotice, chatLimit } from "./state.js";
import { Media } from "./media.js";
import { h, fill, icon } from "./dom.js";
import { t, has, pickLocale, setLocale, locale, LOCALES, formatCountdown } from "./i18n.js";
import { phaseBanner, seatGrid } from "./views/stage.js";
import { myCard } from "./views/me.js";
import { hostCard, agentCard } from "./views/staff.js";
import { chatLines } from "./views/chat.js";
import { farewell, goneCard } from "./views/gone.js";
import { gamesCards } from "./views/games.js";
import { ShopState } from "./views/shop_state.js";
import { shopSections, paintShop, SHOP_COUNTERS } from "./views/shop.js";

const WS_PATH = "/ws"; // voiceroom.config.Config.ws_path
const JOIN_CHECK_PATH = "/api/join-check"; // voiceroom.signalling.gateway.JOIN_CHECK_PATH
const TOAST_MS = 5000;

const $ = (id) => document.getElementById(id);

/** The token's claims, read without verifying (the server verifies; we only pick a locale). */
export function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

const app = {
  st: new RoomState(),
  shop: new ShopState(), // snapshot.shop and the shop's events (views/shop_state.js)
  session: null,
  media: null,
  conn: { state: "connecting" },
  mic: "off",
  autoplayBlocked: false,
  mediaAvailable: true,
  closed: null, // {code, reason} once the session will not come back
  noToken: false, // opened without a join link
};

// View-local state that is not the room's: the selected seat, inputs kept across renders.
const ui = {
  selectedSeat: null,
  focusKey: null, // a control to focus after the next render (a seat's menu opened/closed)
  mic: "off", // mirrors app.mic for the views: off, live, denied, error
  inputs: new Map(),
  outcomes: new Map(), // "sale:1" -> what the last claim was told: claimed, sold_out, ...
  toast: (text) => toast(text),
  rerender: () => render(),
  leave: () => leaveRoom(),
  /** The same input element on every render, so typing survives a re-render. Its name
   *  for screen readers is the visible words: the <label> around it (or `label` given
   *  here), else its placeholder - never an aria-label from the key ("sale-qty") or a
   *  sample value ("99.00") that would hide the label. */
  input(key, props) {
    let el = this.inputs.get(key);
    const { label, ...attrs } = props;
    if (!el) {
      el = h("input", { class: "input", ...attrs });
      this.inputs.set(key, el);
    }
    if (props.placeholder) el.placeholder = props.placeholder; // follows a language switch
    if (label) el.setAttribute("aria-label", label);
    else el.removeAttribute("aria-label");
    return el;
  },
};

async function main() {
  const token = new URLSearchParams(location.search).get("token");
  window.voiceroomBoot = "catalog"; // how far start-up got (the browser tests report it)
  await setLocale(pickLocale(token ? tokenClaims(token).locale : null));
  window.voiceroomBoot = "shell";
  buildShell();
  if (!token) {
    app.noToken = true;
    render();
    return;
  }
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = `?token=${encodeURIComponent(token)}`;
  const session = new Session(`${scheme}://${location.host}${WS_PATH}${query}`, { checkUrl: `${JOIN_CHECK_PATH}${query}` });
  app.session = session;
  app.media = new Media(session, $("remote-audio"));
  wireSession(session);
  wireMedia(app.media);
  session.connect();
  setInterval(tick, 1000);
  window.voiceroom = app; // for people debugging in the console, and for the browser test
  window.voiceroomBoot = "connecting";
}

// ------------------------------------------------------------------ wiring
function wireSession(session) {
  session.addEventListener("welcome", ({ detail }) => {
    if (detail.snapshot) app.st.applySnapshot(detail.snapshot);
    if (detail.snapshot) app.shop.applySnapshot(detail.snapshot.shop);
    app.st.applyLive(detail);
    app.mediaAvailable = detail.session.media;
    render();
    if (app.mediaAvailable && !app.st.ended) {
      if (detail.session.media_peer === false) app.media.forgetPeer("the server holds no media peer for this page");
      app.media.ensureConnected().catch((err) => toast(errorText(err)));
    }
  });
  session.addEventListener("event", ({ detail }) => {
    // An agent ended her call: the card just changes back, so say it (before the call is gone).
    const ended = detail.type === "consult.ended" ? callEndedNotice(app.st, detail.body) : null;
    if (ended) toast(t(ended.key, { name: "\u2068" + ended.name + "\u2069" }));
    app.st.applyEvent(detail.type, detail.body);
    app.shop.applyEvent(detail.type, detail.body);
    if (SHOP_COUNTERS.has(detail.type)) paintShop(app.shop); // many a second: in place
    else if (detail.type === "media.speaking") paintSpeaking();
    else if (detail.type === "room.count") paintCount();
    else render();
    // Made co-host: the welcome had no music library (nor the queue) for us; sync brings both.
    if (detail.type === "member.role" && detail.body.user === app.st.you.user && app.st.isModerator && app.st.tracks === null) {
      app.session.request("sync").then((reply) => {
        app.st.applySnapshot(reply.snapshot);
        app.shop.applySnapshot(reply.snapshot.shop);
        app.st.applyLive(reply);
        render();
      }, () => undefined);
    }
  });
  session.addEventListener("status", ({ detail }) => {
    app.conn = detail;
    if (detail.state === "closed") {
      app.closed = detail;
      app.media.close();
    }
    render();
  });
  session.addEventListener("error", ({ detail }) => toast(errorText(detail)));
}

function wireMedia(media) {
  media.addEventListener("mic", ({ detail }) => {
    app.mic = detail.state;
    if (detail.state === "error") console.warn("voiceroom: microphone error", detail.error);
    if (detail.state === "insecure") toast(t("audio.needs_https"));
    render();
  });
  media.addEventListener("autoplay", ({ detail }) => {
    app.autoplayBlocked = detail.blocked;
    render();
  });
  media.addEventListener("state", ({ detail }) => {
    // ICE failed (network change, server restart): media.js negotiates again by itself
    // (with backoff, while signalling is up); the person is told once per failure.
    if (detail.connection === "failed" && app.conn.state === "open") toast(t("audio.network_blocked"));
  });
}

/** Leave the room for good (protocol `leave`; the server closes with 1000): the page shows
 *  "You left the room" with Rejoin (views/gone.js). Not ending it: End the room does that. */
function leaveRoom() {
  app.session.leave().catch((err) => console.warn("voiceroom: leave", err)).finally(() => {
    // Left while the socket was down (no close event will come): out all the same.
    if (app.closed) return;
    app.closed = app.conn = { state: "closed", code: CLOSE.NORMAL, reason: "left" };
    app.media.close();
    render();
  });
}

/** Send a command; a refusal becomes a localized toast. Resolves with the reply body. */
function act(type, body = {}) {
  return app.session.request(type, body).then((reply) => {
    // Off-seat in a 1v1 there is no seat event to tell us; the reply is our cue.
    if (type === "mic.mute" || type === "mic.unmute") {
      app.st.selfMuted = type === "mic.mute";
      render();
    }
    return reply;
  }, (err) => {
    toast(errorText(err));
    throw err;
  }).catch(() => undefined);
}

/** Send a command and say how it went, without a toast: the view shows the outcome
 *  (a claim: claimed, sold out, limit, too late). Resolves {ok, reply} or {ok: false, code}. */
function ask(type, body = {}) {
  return app.session.request(type, body).then(
    (reply) => ({ ok: true, reply }),
    (err) => ({ ok: false, code: err?.code ?? "generic" }),
  );
}

function errorText(err) {
  const code = err?.code;
  if (code && has(`error.${code}`)) return t(`error.${code}`);
  console.warn("voiceroom:", err);
  return t("error.generic");
}

// ------------------------------------------------------------------ rendering
function buildShell() {
  const select = h("select", { id: "lang", class: "lang", "aria-label": "Language / اللغة", onChange: async (e) => {
    await setLocale(e.target.value, { remember: true });
    buildShell();
    render();
  } }, Object.entries(LOCALES).map(([code, { label }]) => h("option", { value: code, selected: code === locale() }, label)));
  fill($("topbar"),
    h("div", { class: "brand" }, h("span", { class: "logo" }, icon("mic")), h("span", { id: "room-title" }, t("app.name"))),
    h("div", { id: "conn", class: "conn" }),
    h("label", { class: "lang-wrap" }, icon("globe"), select));
  $("chat-title").textContent = t("chat.title");
  $("chat-input").placeholder = t("chat.placeholder");
  $("chat-input").setAttribute("aria-label", t("chat.placeholder"));
  $("chat-send").setAttribute("aria-label", t("chat.send"));
  fill($("chat-send"), icon("send"));
  document.title = t("app.name");
}

/** Where the keyboard focus is, in words that survive a re-render (which rebuilds every
 *  button): the element itself (inputs are kept), its focus key and fallbacks, and its
 *  place among the focusable controls of each enclosing container with an id. */
const FOCUSABLE = "button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), a[href], [tabindex='0']";
const RENDERED = ["main", "phase", "alerts"];

function focusPlace() {
  const el = document.activeElement;
  if (!el || el === document.body || !RENDERED.some((id) => $(id)?.contains(el))) return el ? { el } : null;
  const keys = [el.dataset?.focusKey, ...(el.dataset?.focusThen ?? "").split(" ")].filter(Boolean);
  const boxes = [];
  for (let box = el.parentElement?.closest("[id]"); box; box = box.parentElement?.closest("[id]")) {
    boxes.push([box.id, [...box.querySelectorAll(FOCUSABLE)].indexOf(el)]);
  }
  return { el, keys, boxes };
}

function restoreFocus(place) {
  const wanted = ui.focusKey;
  ui.focusKey = null;
  const byKey = (key) => [...document.querySelectorAll(`[data-focus-key="${CSS.escape(key)}"]`)].find((x) => x.matches(FOCUSABLE));
  if (wanted) {
    const el = byKey(wanted);
    if (el) return el.focus();
  }
  if (!place?.el || place.el.isConnected || document.activeElement !== document.body) return;
  for (const key of place.keys ?? []) {
    const el = byKey(key);
    if (el) return el.focus();
  }
  // No key: the control now at its place in the nearest container still there (the same
  // button of the re-rendered card; out of the room, #main's one card: Rejoin).
  const [id, ordinal] = (place.boxes ?? []).find(([x]) => $(x)) ?? [null, 0];
  const box = id ? $(id) : $("main").firstElementChild;
  if (!box) return;
  const all = [...box.querySelectorAll(FOCUSABLE)];
  const el = all[Math.min(Math.max(ordinal, 0), all.length - 1)];
  if (el) el.focus();
  else if (box.matches("section")) { box.tabIndex = -1; box.focus(); }
}

function render() {
  const place = focusPlace();
  renderRoom();
  restoreFocus(place);
}

function renderRoom() {
  const st = app.st;
  const focused = document.activeElement;
  const selection = focused?.selectionStart != null ? [focused.selectionStart, focused.selectionEnd] : null;
  if (app.noToken) {
    fill($("main"), h("section", { class: "card center" }, h("h2", {}, t("join.no_token_title")), h("p", {}, t("join.no_token"))));
    return;
  }
  syncAudio();
  renderAlerts();
  renderConn();
  // Out of the room for good, or never let in: say so and stop showing a live room.
  const gone = farewell(st, app.closed);
  if (gone) {
    fill($("phase"));
    fill($("main"), goneCard(gone, () => location.reload()));
    if (st.ready) renderChat();
    else $("chat").hidden = true;
    return;
  }
  if (!st.ready) {
    fill($("main"), h("section", { class: "card center" }, h("p", { class: "muted" }, t("join.connecting"))));
    $("chat").hidden = true;
    return;
  }
  const now = Date.now() / 1000;
  ui.mic = app.mic;
  $("room-title").textContent = st.room;
  fill($("phase"), phaseBanner(st, now));
  const sections = [
    h("section", { class: "card", id: "stage" }, h("h2", { class: "card-title" }, t("stage.title"),
      // Everyone: the snapshot's count, then room.count (staff also count joins and leaves).
      h("span", { class: "muted count", id: "member-count" }, t("stage.members", { n: st.memberCount }))),
    seatGrid(st, ui, act)),
    myCard(st, ui, act, now),
  ];
  // The shop: under the stage for moderators; on top for shoppers (what is on sale first).
  sections.splice(st.isModerator ? 1 : 0, 0, ...shopSections(st, app.shop, ui, ask, act, now));
  if (st.isModerator) sections.push(hostCard(st, ui, act));
  if (st.role === "agent") sections.push(agentCard(st, act));
  sections.push(...gamesCards(st, ui, act, now, app.shop));
  fill($("main"), sections);
  renderChat();
  if (focused?.isConnected && focused !== document.activeElement) {
    focused.focus();
    if (selection) focused.setSelectionRange(...selection);
  }
}

function renderChat() {
  const st = app.st;
  $("chat").hidden = false;
  const log = $("chat-log");
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  fill(log, chatLines(st));
  if (!st.chat.length) log.append(h("li", { class: "muted empty" }, t("chat.empty")));
  if (atBottom) log.scrollTop = log.scrollHeight;
  const input = $("chat-input");
  const closed = !!st.ended || !!app.closed;
  // No maxLength: the browser counts UTF-16 units (an emoji is two) and cuts a paste
  // silently; the server counts code points. The counter says it, submit refuses.
  input.removeAttribute("maxlength");
  paintChatCounter();
  input.disabled = closed;
  $("chat-send").disabled = closed;
  input.placeholder = t(closed ? "chat.closed" : "chat.placeholder");
  input.setAttribute("aria-label", input.placeholder);
}

function renderConn() {
  const { state } = app.conn;
  fill($("conn"), h("span", { class: `conn-dot conn-${state}` }), t(`conn.${state}`));
}

function renderAlerts() {
  const alerts = [];
  const st = app.st;
  if (app.closed || st.ended) {
    // The page says it in one card (views/gone.js); nothing else is live any more.
    fill($("alerts"));
    return;
  }
  if (app.conn.state === "reconnecting" && app.conn.refused) {
    // The server said why (e.g. the host has not opened the room yet): say it, keep trying.
    alerts.push(alert("warn", `${refusedText(app.conn.refused)} ${t("conn.retrying", { n: app.conn.attempt ?? 1 })}`));
  } else if (app.conn.state === "reconnecting") {
    alerts.push(alert("warn", t(app.conn.joined ? "conn.lost" : "conn.cannot_join", { n: app.conn.attempt ?? 1 })));
  }
  if (app.mic === "denied") {
    alerts.push(alert("error", t("mic.denied"), [t("mic.retry"), () => { app.mic = "off"; render(); }]));
  } else if (app.mic === "error") {
    alerts.push(alert("error", t("mic.error"), [t("mic.retry"), () => { app.mic = "off"; render(); }]));
  }
  if (app.autoplayBlocked && !app.closed) {
    alerts.push(h("button", { type: "button", class: "tap-to-listen", onClick: () => app.media.resumePlayback() }, icon("speaker"), t("audio.tap_to_listen")));
  }
  if (st.ready && !app.mediaAvailable) alerts.push(alert("info", t("audio.unavailable")));
  fill($("alerts"), alerts);
}

/** A join-check answer as a sentence: by its stable code, the server's English otherwise. */
function refusedText(refused) {
  const key = `refused.${refused.code}`;
  return has(key) ? t(key) : t("refused.other");
}

function alert(kind, text, action) {
  return h("div", { class: `alert alert-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", {}, text), action ? h("button", { type: "button", class: "btn btn-sm btn-secondary", onClick: action[1] }, action[0]) : null);
}

/** The mic follows the room: live while this member may speak, released otherwise. */
function syncAudio() {
  const st = app.st;
  if (!app.mediaAvailable || app.closed) return;
  const wanted = st.canSpeak;
  if (app.mic === "denied" || app.mic === "error") {
    if (wanted) return; // re-prompt only when the person taps "Retry"
    app.mic = "off"; // off the seat: nothing to ask for any more
  }
  app.media.setMuted(st.selfMuted || st.moderatorMuted);
  app.media.setMicWanted(wanted);
}

function paintCount() {
  const el = $("member-count");
  if (el) el.textContent = t("stage.members", { n: app.st.memberCount });
}

function paintSpeaking() {
  for (const el of document.querySelectorAll(".seat[data-user]")) {
    el.classList.toggle("speaking", !!el.dataset.user && app.st.ringOn(el.dataset.user) && !el.querySelector(".mute-mark"));
  }
}

/** Countdowns tick in place: re-rendering every second would eat clicks on buttons. */
function tick() {
  const now = Date.now() / 1000;
  let expired = false;
  for (const el of document.querySelectorAll("[data-until]")) {
    const left = Number(el.dataset.until) - now;
    el.textContent = formatCountdown(left);
    expired ||= left <= 0;
  }
  if (expired) render(); // e.g. "starts in 0:00" becomes "about to start"
}

function toast(text) {
  const el = h("div", { class: "toast", role: "alert" }, text);
  $("toasts").append(el);
  setTimeout(() => el.remove(), TOAST_MS);
}

// The chat form lives outside the re-rendered area: typing is never interrupted.
$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text) return;
  const limit = chatLimit(text, app.st.chatMaxChars);
  if (limit.over) {
    paintChatCounter();
    toast(t("chat.too_long", { n: limit.n, max: limit.max }));
    return;
  }
  act("chat.send", { text }).then((reply) => {
    if (reply) input.value = "";
    paintChatCounter();
  });
});
$("chat-input").addEventListener("input", () => paintChatCounter());

/** "480 / 500" beside the chat box near the limit (in code points, as the server counts),
 *  marked when over it; nothing well under it. */
function paintChatCounter() {
  const input = $("chat-input");
  let el = $("chat-counter");
  if (!el) {
    el = h("span", { id: "chat-counter", class: "chat-counter muted", "aria-live": "polite" });
    $("chat-form").append(el);
    input.setAttribute("aria-describedby", "chat-counter");
  }
  const max = app.st.chatMaxChars;
  const limit = max ? chatLimit(input.value, max) : { near: false };
  el.hidden = !limit.near;
  el.classList.toggle("over", !!limit.over);
  el.textContent = limit.near ? t(limit.over ? "chat.counter_over" : "chat.counter", { n: limit.n, max: limit.max }) : "";
}

main().catch((err) => {
  console.error(err);
  document.body.prepend(h("div", { class: "alert alert-error" }, String(err)));
});
