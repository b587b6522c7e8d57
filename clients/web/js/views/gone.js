// The page once this member is out of the room for good (room ended, removed, left,
// opened elsewhere) or was never let in (expired or invalid link): one card that says
// what happened and the next step, instead of a half-alive room. Only actions that can
// work are offered: "Rejoin" after leaving, "Use here" when opened elsewhere; never after
// the room ended (410) or a removal (banned).
import { h } from "../dom.js";
import { t, has } from "../i18n.js";
import { button } from "./common.js";

// voiceroom.protocol.CloseCode (session.js CLOSE), repeated so this module stays pure.
const KICKED = 4003;
const ROOM_CLOSED = 4004;
const REPLACED = 4001;
const NORMAL = 1000;

/** What to show, or null while the member is (still) in the room.
 *  st: RoomState; closed: the session's final status ({code, refused}) or null.
 *  Returns {kind, title, text, action}: keys into the catalogs, action "rejoin",
 *  "use_here" or null. */
export function farewell(st, closed) {
  const refused = closed?.refused;
  if (refused) {
    // Never let in: the join check said why (expired link, removed, room ended...).
    if (refused.code === "room_ended") return gone("ended");
    if (refused.code === "banned") return gone("kicked");
    return { kind: "refused", title: "gone.refused_title", text: `refused.${refused.code}`, action: null };
  }
  // The room's own word first (it arrives before the close), then the close code.
  if (st?.ended === "kicked" || closed?.code === KICKED) return gone("kicked");
  if (st?.ended === "ended" || closed?.code === ROOM_CLOSED) return gone("ended");
  if (closed?.code === REPLACED) return gone("replaced", "use_here");
  if (st?.ended === "left" || closed?.code === NORMAL) return gone("left", "rejoin");
  if (st?.ended || closed) return gone("other", "rejoin");
  return null;
}

function gone(kind, action = null) {
  return { kind, title: `gone.${kind}_title`, text: `gone.${kind}_next`, action };
}

export function goneCard(f, reload) {
  const action = f.action === "rejoin" ? t("closed.rejoin") : f.action === "use_here" ? t("gone.use_here") : null;
  return h("section", { class: `card center gone gone-${f.kind}`, id: "gone", role: "status" },
    h("h2", {}, t(f.title)),
    // A refusal code this page has no words for (a newer server): the generic sentence.
    h("p", { class: "muted" }, t(has(f.text) ? f.text : "refused.other")),
    action ? h("div", { class: "btn-row center-row" }, button(action, reload, { kind: "primary" })) : null);
}
