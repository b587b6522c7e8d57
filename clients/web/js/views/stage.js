// The stage: phase banner (warm-up countdown / live / 1v1) and the seat grid with names,
// tier badges, mute marks and speaking rings. Moderators pick a seat to act on it.
import { h, icon, bdi } from "../dom.js";
import { t, formatCountdown, formatTime, formatNumber } from "../i18n.js";
import { avatar, tierBadge, button, focusKeys } from "./common.js";
import { consultButtons, salesCallMark } from "./staff.js";

export function phaseBanner(st, now) {
  const k = st.stageConsultation;
  let pill;
  let line;
  if (st.phase === "ended") {
    pill = h("span", { class: "pill pill-ended" }, t("phase.ended"));
    line = t("phase.ended_line");
  } else if (st.phase === "warmup") {
    pill = h("span", { class: "pill pill-warmup" }, t("phase.warmup"));
    const left = st.showStartsAt == null ? null : st.showStartsAt - now;
    if (left === null) line = t("phase.warmup_line");
    else if (left > 0) {
      line = [t("phase.starts_in"), " ", h("bdi", { class: "countdown", dir: "ltr", dataset: { until: st.showStartsAt } }, formatCountdown(left)),
        h("span", { class: "muted" }, " · ", t("phase.starts_at", { time: formatTime(st.showStartsAt) }))];
    } else line = t("phase.starting_soon");
  } else {
    pill = h("span", { class: "pill pill-live" }, h("span", { class: "dot" }), t("phase.live"));
    line = k ? [consultLine(st)] : t(st.role === "listener" && !st.canSpeak ? "phase.live_line" : "phase.live_line_on_stage");
  }
  // What this member hears: "Now playing" only while the music is in their mix.
  const music = st.musicHeard || st.musicPaused
    ? h("div", { class: ["music-line", st.musicPaused && "music-paused"] }, icon("music"),
      t(st.musicPaused ? "music.paused" : "music.playing"), " ", h("bdi", {}, st.music.track))
    : null;
  return [
    h("div", { class: ["phase", `phase-${st.phase}`, k && "phase-consult"] }, pill, h("div", { class: "phase-line" }, line)),
    music,
  ];
}

/** The banner's sentence about the show's 1v1: the pair read about themselves ("You are in
 *  a private call with Layla"), everyone else about the pair. tr: the translator. */
export function consultLine(st, tr = t) {
  const k = st.stageConsultation;
  if (!k) return null;
  const isolate = (name) => "\u2068" + name + "\u2069";
  if (k.staff === st.you.user || k.shopper === st.you.user) {
    return tr(`consult.with_stage_${k.mode}`, { name: isolate(k.staff === st.you.user ? k.shopper_name : k.staff_name) });
  }
  return tr(`phase.consult_${k.mode}`, { host: isolate(k.staff_name), shopper: isolate(k.shopper_name) });
}

/** A seat's visible label and its name for screen readers, from the same words: "Seat 2:
 *  Locked", "Seat 1: Take seat", "Host's seat: Hana" (seat 0 has no number on screen). */
export function seatText(st, seat, canTake, tr = t) {
  const taken = seat.status === "taken";
  const locked = seat.status === "locked";
  const hostSeat = seat.index === 0;
  const label = taken ? seat.name : locked ? tr("seat.locked") : hostSeat ? tr("seat.host_seat") : canTake ? tr("seat.take") : tr("seat.free");
  const name = hostSeat ? tr("seat.host_seat_name") : tr("seat.number", { n: seat.index });
  const state = hostSeat && !taken && !locked ? tr("seat.free") : label;
  return { label, aria: tr("seat.aria", { seat: name, state }) };
}

export function seatGrid(st, ui, act) {
  const k = st.stageConsultation ?? st.myConsultation;
  const inPair = (user) => k && (k.staff === user || k.shopper === user);
  const canTake = canTakeSeat(st);
  const tiles = st.seats.map((seat) => {
    const taken = seat.status === "taken";
    const me = taken && seat.user === st.you.user;
    const muted = seat.self_muted || seat.moderator_muted;
    // Only rings this member can hear: never a private pair's (st.ringOn).
    const speaking = taken && st.ringOn(seat.user) && !muted;
    const selectable = st.isModerator && !st.ended && !(seat.index === 0 && !taken && st.role !== "host");
    const free = seat.status === "free";
    const hostSeat = seat.index === 0;
    const onClick = selectable
      ? () => {
        ui.selectedSeat = ui.selectedSeat === seat.index ? null : seat.index;
        // Opened: focus moves into the seat's menu (Escape closes it and comes back here).
        ui.focusKey = ui.selectedSeat === null ? `seat-${seat.index}` : "seat-menu";
        ui.rerender();
      }
      : free && canTake && !hostSeat ? () => act("seat.take", { seat: seat.index }) : undefined;
    const { label, aria } = seatText(st, seat, free && canTake);
    return h("li", {
      class: ["seat", `seat-${seat.status}`, speaking && "speaking", me && "me", inPair(seat.user) && "in-consult",
        ui.selectedSeat === seat.index && "selected"],
      dataset: { seat: seat.index, user: seat.user ?? "" },
    }, h(onClick ? "button" : "div", {
      class: "seat-body", type: onClick ? "button" : undefined, onClick,
      "aria-label": aria,
      "aria-expanded": selectable ? String(ui.selectedSeat === seat.index) : undefined,
      dataset: onClick ? focusKeys(`seat-${seat.index}`, "mic") : undefined,
    },
    h("span", { class: "seat-ring" },
      taken ? avatar(seat.user, seat.name, { size: "lg" })
        : h("span", { class: "avatar avatar-lg avatar-empty" }, icon(seat.status === "locked" ? "lock" : "plus")),
      taken && muted ? h("span", { class: ["mute-mark", seat.moderator_muted && "by-mod"], title: t(seat.moderator_muted ? "seat.muted_by_mod" : "seat.muted") }, icon("micOff")) : null,
      hostSeat && taken ? h("span", { class: "host-mark" }, t("role.host")) : null),
    // dir=auto on the clipping element: a long Latin name in Arabic is cut at its end;
    // two lines, then the title (and the seat's aria-label) has the whole name.
    h("span", { class: "seat-name", dir: "auto", title: taken ? seat.name : undefined }, label),
    taken ? tierBadge(seat.tier) : hostSeat ? null : h("span", { class: "seat-index" }, formatNumber(seat.index)),
    ));
  });
  const hint = st.isModerator && ui.selectedSeat == null && !st.ended ? h("p", { class: "hint" }, t("stage.manage_hint")) : null;
  return [h("ul", { class: "seats" }, tiles), hint, st.isModerator ? seatActions(st, ui, act) : null];
}

/** Staff may sit down any time; the audience only in an open warm-up (core: _take_seat). */
function canTakeSeat(st) {
  if (st.mySeat || st.ended) return false;
  return st.isStaff || (st.phase === "warmup" && st.warmupOpenSeats);
}

/** The action bar for the seat a moderator picked. */
function seatActions(st, ui, act) {
  const seat = ui.selectedSeat == null ? null : st.seats[ui.selectedSeat];
  if (!seat) return null;
  // After an action the menu closes and focus goes back to the seat it was opened from.
  const close = () => { ui.selectedSeat = null; ui.focusKey = `seat-${seat.index}`; ui.rerender(); };
  const done = (p) => p.then(close);
  const buttons = [];
  if (seat.status === "taken") {
    const self = seat.user === st.you.user;
    buttons.push(seat.moderator_muted
      ? button(t("action.unmute_seat"), () => done(act("seat.unmute", { seat: seat.index })), { iconName: "mic", small: true })
      : button(t("action.mute_seat"), () => done(act("seat.mute", { seat: seat.index })), { iconName: "micOff", small: true }));
    if (!self) {
      buttons.push(button(t("action.demote"), () => done(act("seat.demote", { user: seat.user })), { small: true }));
      const shopper = (st.members.get(seat.user)?.role ?? "listener") === "listener";
      if (st.phase === "show" && !st.stageConsultation && shopper && !st.consultationOf(seat.user)) {
        buttons.push(...consultButtons(seat.user, act, { done }));
      }
      buttons.push(button(t("action.kick"), () => confirm(t("confirm.kick", { name: seat.name })) && done(act("room.kick", { user: seat.user })), { kind: "danger", small: true }));
    }
  } else if (seat.status === "locked") {
    buttons.push(button(t("action.unlock_seat"), () => done(act("seat.unlock", { seat: seat.index })), { small: true }));
  } else {
    if (canTakeSeat(st) && seat.index !== 0) {
      buttons.push(button(t("seat.take"), () => done(act("seat.take", { seat: seat.index })), { kind: "primary", iconName: "mic", small: true }));
    }
    buttons.push(button(t("action.lock_seat"), () => done(act("seat.lock", { seat: seat.index })), { iconName: "lock", small: true }));
  }
  const title = seat.status === "taken" ? [bdi(seat.name), " · ", t("seat.number", { n: seat.index })] : t("seat.number", { n: seat.index });
  const onCall = seat.status === "taken" ? salesCallMark(st, seat.user) : null;
  buttons[0].dataset.focusKey = "seat-menu";
  return h("div", {
    class: "seat-actions", role: "toolbar", "aria-label": t("seat.number", { n: seat.index }),
    onKeydown: (e) => { if (e.key === "Escape") { e.preventDefault(); close(); } },
  }, h("strong", {}, title), onCall, h("div", { class: "btn-row" }, buttons));
}
