// Staff panels. Host and co-host: run the room (start the show, schedule, music, end), the
// speaker queue (promote/deny), the audience (invite, 1v1, remove). Agent: private
// consultation requests (accept) and their own call (end).
import { h, bdi, icon } from "../dom.js";
import { t, formatNumber } from "../i18n.js";
import { button, card, empty, person } from "./common.js";

export function hostCard(st, ui, act) {
  const isHost = st.role === "host";
  const live = st.phase !== "ended";
  const rows = [];
  if (isHost && st.phase === "warmup") {
    const minutes = ui.input("schedule-minutes", { type: "number", min: "1", max: "1440", value: "10", class: "input input-num", id: "schedule-minutes" });
    rows.push(h("div", { class: "btn-row" },
      button(t("host.start_show"), () => act("room.start_show"), { kind: "primary" }),
      h("form", {
        class: "inline-form",
        onSubmit: (e) => {
          e.preventDefault();
          const n = Number(minutes.value);
          if (n > 0) act("room.schedule", { starts_at: Date.now() / 1000 + n * 60 });
        },
      }, h("label", { class: "muted", for: "schedule-minutes" }, t("host.schedule_in")), minutes, h("span", { class: "muted" }, t("host.minutes")),
      h("button", { type: "submit", class: "btn btn-secondary btn-sm" }, t("host.schedule")))));
  }
  const stage = st.stageConsultation;
  if (stage) rows.push(consultControls(stage, act));
  if (live) rows.push(musicRow(st, ui, act));
  const body = [h("div", { class: "stack" }, rows)];
  body.push(h("h3", {}, t("queue.title"), " ", h("span", { class: "count" }, formatNumber(st.queue.length))));
  body.push(queueList(st, act));
  body.push(h("h3", {}, t("audience.title")));
  body.push(audienceList(st, act));
  if (isHost && live) {
    body.push(h("div", { class: "danger-zone" },
      button(t("host.end_room"), () => confirm(t("confirm.end_room")) && act("room.end"), { kind: "danger" })));
  }
  return card("host-panel", t("host.title"), ...body);
}

/** The show's running 1v1, run from one place: switch the mode in place, or end it. The
 *  phase banner already says who is talking to whom, so no sentence is repeated here. */
function consultControls(k, act) {
  const mode = (m) => h("button", {
    type: "button",
    class: ["btn", "btn-sm", "seg", k.mode === m ? "btn-primary" : "btn-secondary"],
    "aria-pressed": String(k.mode === m),
    disabled: k.mode === m,
    dataset: { mode: m },
    onClick: () => act("consult.set_mode", { id: k.id, mode: m }),
  }, icon("headset"), h("span", {}, t(`consult.mode_${m}`)));
  return h("div", { class: "notice notice-consult consult-controls", id: "consult-controls" },
    h("div", { class: "btn-row" },
      h("span", { class: "muted" }, t("consult.mode_label")),
      h("div", { class: "segmented", role: "group", "aria-label": t("consult.mode_label") }, mode("private"), mode("listen_in")),
      button(t("action.back_to_show"), () => act("consult.end", { id: k.id }), { kind: "danger" })));
}

/** "On a call with sales" beside a person in an agent's call: the host sees it (staff get
 *  every call, protocol.md 4.2) and offers no 1v1 the server would refuse. */
export function salesCallMark(st, user) {
  return st.consultationOf(user)?.kind === "agent" ? h("span", { class: "badge on-call" }, icon("headset"), t("audience.on_sales_call")) : null;
}

/** Both 1v1 modes for a person, wherever the host can start one (queue, audience, seat). */
export function consultButtons(user, act, { done = (p) => p } = {}) {
  return [
    button(t("action.consult_private"), () => done(act("consult.start", { user, mode: "private" })), { iconName: "headset", small: true }),
    button(t("action.consult_listen_in"), () => done(act("consult.start", { user, mode: "listen_in" })), { iconName: "headset", small: true }),
  ];
}

function musicRow(st, ui, act) {
  if (st.music) {
    return h("div", { class: "btn-row" },
      // A listen-in 1v1 pauses the music in the mix: the track is kept, not heard.
      h("span", { class: st.musicPaused ? "music-paused" : undefined }, t(st.musicPaused ? "music.paused" : "music.playing"), " ", bdi(st.music.track)),
      button(t("music.stop"), () => act("music.stop"), { iconName: "music", small: true }));
  }
  if (st.tracks) {
    // The server's library (welcome.tracks): pick, do not type.
    if (!st.tracks.length) return h("p", { class: "muted" }, t("music.none"));
    const picker = trackPicker(ui, st.tracks);
    return h("form", {
      class: "inline-form",
      onSubmit: (e) => { e.preventDefault(); if (picker.value) act("music.play", { track: picker.value, gain: 0.5, loop: true }); },
    }, picker, h("button", { type: "submit", class: "btn btn-secondary btn-sm" }, icon("music"), t("music.play")));
  }
  // An older server sends no list: fall back to typing a name.
  const track = ui.input("music-track", { type: "text", placeholder: t("music.track_placeholder"), maxlength: "200" });
  return h("form", {
    class: "inline-form",
    onSubmit: (e) => { e.preventDefault(); if (track.value.trim()) act("music.play", { track: track.value.trim(), gain: 0.5, loop: true }); },
  }, track, h("button", { type: "submit", class: "btn btn-secondary btn-sm" }, t("music.play")));
}

/** One <select> kept across renders (the choice survives), options rebuilt when the list changes. */
function trackPicker(ui, tracks) {
  let el = ui.inputs.get("music-select");
  if (!el) {
    el = h("select", { class: "input", id: "music-track" });
    ui.inputs.set("music-select", el);
  }
  el.setAttribute("aria-label", t("music.pick"));
  const key = tracks.join("\n");
  if (el.dataset.tracks !== key) {
    const chosen = el.value;
    el.replaceChildren(...tracks.map((name) => h("option", { value: name, dir: "auto" }, name)));
    el.dataset.tracks = key;
    if (tracks.includes(chosen)) el.value = chosen;
  }
  return el;
}

function queueList(st, act) {
  if (st.phase !== "show") return empty(t("queue.opens_at_show"));
  if (!st.queue.length) return empty(t("queue.empty"));
  const canConsult = !st.stageConsultation;
  return h("ol", { class: "list" }, st.queue.map((e) => h("li", { class: "list-item", dataset: { user: e.user } },
    h("span", { class: "pos" }, formatNumber(e.position)),
    person(e.user, e.name, e.tier),
    salesCallMark(st, e.user),
    h("div", { class: "btn-row" },
      button(t("queue.promote"), () => act("queue.promote", { user: e.user }), { kind: "primary", small: true }),
      canConsult && !st.consultationOf(e.user) ? consultButtons(e.user, act) : null,
      button(t("queue.deny"), () => act("queue.deny", { user: e.user }), { small: true })))));
}

function audienceList(st, act) {
  // Seated people are on the stage and raised hands in the queue: list everyone else once.
  const shown = new Set([...st.seats.map((s) => s.user), ...st.queue.map((e) => e.user)]);
  const people = [...st.members.values()]
    .filter((m) => m.user !== st.you.user && !shown.has(m.user))
    .sort((a, b) => (b.connected - a.connected) || a.name.localeCompare(b.name));
  if (!people.length) return empty(t("audience.empty"));
  const canConsult = st.phase === "show" && !st.stageConsultation;
  return h("ul", { class: "list" }, people.map((m) => h("li", { class: ["list-item", !m.connected && "offline"], dataset: { user: m.user } },
    person(m.user, m.name, m.tier),
    m.role !== "listener" ? h("span", { class: "badge role" }, t(`role.${m.role}`)) : null,
    salesCallMark(st, m.user),
    h("div", { class: "btn-row" },
      button(t("audience.invite"), () => act("seat.invite", { user: m.user }), { small: true }),
      canConsult && m.role === "listener" && !st.consultationOf(m.user) ? consultButtons(m.user, act) : null,
      m.role === "listener" || st.role === "host"
        ? button(t("action.kick"), () => confirm(t("confirm.kick", { name: m.name })) && act("room.kick", { user: m.user }), { kind: "danger", small: true })
        : null))));
}

export function agentCard(st, act) {
  const mine = st.myConsultation;
  const body = [];
  if (mine) {
    body.push(h("p", { class: "muted" }, t("agent.busy")));
  } else if (st.requests.length) {
    body.push(button(t("agent.take_next"), () => act("consult.accept", {}), { kind: "primary" }));
  }
  body.push(h("h3", {}, t("agent.requests"), " ", h("span", { class: "count" }, formatNumber(st.requests.length))));
  body.push(st.requests.length
    ? h("ol", { class: "list" }, st.requests.map((r) => h("li", { class: "list-item", dataset: { user: r.user } },
      person(r.user, r.name, r.tier),
      r.note ? h("q", { class: "note" }, bdi(r.note)) : null,
      mine ? null : button(t("agent.accept"), () => act("consult.accept", { user: r.user }), { kind: "primary", small: true }))))
    : empty(t("agent.no_requests")));
  return card("agent-panel", t("agent.title"), ...body);
}
