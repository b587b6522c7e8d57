// What this member can do themselves: answer an invite, mute/unmute, leave the seat, raise
// a hand (and see their place), ask for a private consultation, end their own 1v1, leave
// the room (everyone, the host too: leaving is not ending the room).
import { h, bdi, icon } from "../dom.js";
import { t, formatCountdown } from "../i18n.js";
import { button, card, roleLabel, tierBadge, avatar, focusKeys } from "./common.js";

export function myCard(st, ui, act, now) {
  const rows = [whoAmI(st, st.ended ? null : ui.leave)];
  if (st.ended) return card("me", null, ...rows);
  if (st.invite) rows.push(inviteRow(st, act, now));
  const k = st.myConsultation;
  // A moderator's stage 1v1 is run from the host panel (mode, back to the show): one
  // control, not a second button with the same sentence here.
  if (k && !(k.kind === "stage" && st.isModerator)) rows.push(consultRow(st, k, act));
  // Seated, but a listen-in 1v1 is the only voice in the mix: say so, or the mic looks live.
  if (st.unheardOnSeat) rows.push(h("p", { class: "notice notice-unheard", role: "status" }, t("consult.not_heard")));
  // Seated and in a private call: only the partner hears her, not the room (protocol 3.4).
  const partner = st.privateOnSeat;
  if (partner != null) rows.push(h("p", { class: "notice notice-unheard", role: "status" }, t("consult.not_heard_private", { name: "\u2068" + partner + "\u2069" })));
  if (st.canSpeak) rows.push(micRow(st, ui, act));
  if (st.role === "listener" && !st.mySeat && !k) {
    rows.push(handRow(st, act));
    rows.push(requestRow(st, ui, act));
  }
  return card("me", null, ...rows);
}

function whoAmI(st, leave) {
  const me = st.you;
  // A moderator leaving is asked first: the room stays open (End the room closes it).
  const onLeave = () => (!st.isModerator || confirm(t("confirm.leave_host"))) && leave();
  return h("div", { class: "whoami" },
    avatar(me.user, me.name),
    h("div", { class: "grow" }, h("div", { class: "whoami-name", title: me.name }, bdi(me.name), " ", tierBadge(me.tier)),
      h("div", { class: "muted" }, roleLabel(st.mySeat && st.role === "listener" ? "speaker" : st.role))),
    leave ? h("button", { type: "button", class: "btn btn-secondary btn-sm leave-room", id: "leave-room", onClick: onLeave, dataset: focusKeys("leave-room") }, icon("exit"), h("span", {}, t("room.leave"))) : null);
}

function inviteRow(st, act, now) {
  const inv = st.invite;
  return h("div", { class: "notice notice-invite" },
    h("p", {}, t("invite.text", { name: "\u2068" + inv.by_name + "\u2069", n: inv.seat }), " ",
      h("span", { class: "muted" }, "(", h("bdi", { dir: "ltr", dataset: { until: inv.expires_at } }, formatCountdown(inv.expires_at - now)), ")")),
    // On a private call the seat is hers, but the room hears her only once the call ends.
    st.myConsultation?.mode === "private" ? h("p", { class: "muted invite-on-call" }, t("invite.on_call")) : null,
    h("div", { class: "btn-row" },
      button(t("invite.accept"), () => act("seat.accept_invite"), { kind: "primary", key: "invite", then: "mic hand" }),
      button(t("invite.decline"), () => act("seat.decline_invite"), { key: "invite-decline", then: "hand mic" })));
}

function consultRow(st, k, act) {
  const partner = k.staff === st.you.user ? k.shopper_name : k.staff_name;
  // A stage 1v1's sentence is in the phase banner already (stage.js consultLine).
  return h("div", { class: "notice notice-consult" },
    k.kind === "stage" ? null : h("p", {}, t(`consult.with_${k.kind}_${k.mode}`, { name: "\u2068" + partner + "\u2069" })),
    button(t("consult.end"), () => act("consult.end", { id: k.id }), { kind: "danger", key: "consult-end", then: "request hand mic" }));
}

function micRow(st, ui, act) {
  const modMuted = st.moderatorMuted;
  const blocked = ui.mic === "denied" || ui.mic === "error"; // the alert above says what to do
  const muted = st.selfMuted || modMuted || blocked;
  return h("div", { class: "mic-row" },
    h("button", {
      type: "button",
      class: ["mic-toggle", muted ? "is-muted" : "is-live"],
      disabled: modMuted || blocked,
      "aria-pressed": String(!muted),
      onClick: () => act(st.selfMuted ? "mic.unmute" : "mic.mute"),
      dataset: focusKeys("mic"),
    }, h("span", { class: "mic-icon" }, icon(muted ? "micOff" : "mic")), h("span", {}, blocked ? t("mic.blocked") : modMuted ? t("mic.muted_by_mod") : muted ? t("mic.unmute") : t("mic.mute"))),
    st.mySeat && st.mySeat.index !== 0
      ? button(t("seat.leave"), () => act("seat.leave"), { iconName: "exit", key: "seat-leave", then: "hand" })
      : null);
}

function handRow(st, act) {
  if (st.phase !== "show") {
    const hint = st.phase === "warmup" && st.warmupOpenSeats ? t("hand.warmup_open") : t("hand.opens_at_show");
    return h("p", { class: "hint" }, hint);
  }
  if (st.queuePosition != null) {
    return h("div", { class: "hand-row raised" },
      h("p", { class: "queue-pos" }, t("hand.position", { n: st.queuePosition })),
      button(t("hand.lower"), () => act("queue.cancel"), { iconName: "hand", key: "hand", then: "mic" }));
  }
  return h("div", { class: "hand-row" },
    button(t("hand.raise"), () => act("queue.join"), { kind: "primary", iconName: "hand", key: "hand", then: "mic" }),
    h("p", { class: "hint" }, t("hand.hint")));
}

function requestRow(st, ui, act) {
  if (st.requestPosition != null) {
    return h("div", { class: "request-row" },
      h("p", {}, t("request.position", { n: st.requestPosition })),
      button(t("request.cancel"), () => act("consult.cancel_request"), { small: true, key: "request", then: "consult-end" }));
  }
  const note = ui.input("request-note", { type: "text", maxlength: "200", placeholder: t("request.note_placeholder") });
  return h("form", {
    class: "request-row",
    onSubmit: (e) => {
      e.preventDefault();
      act("consult.request", { note: note.value.trim() }).then(() => { note.value = ""; });
    },
  }, h("p", { class: "muted" }, t("request.hint")), h("div", { class: "inline-form" }, note,
    h("button", { type: "submit", class: "btn btn-secondary", dataset: focusKeys("request", "consult-end") }, t("request.send"))));
}
