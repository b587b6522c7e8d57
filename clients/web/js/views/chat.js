// Chat: people's messages as typed, system messages localised from their code and params
// (voiceroom.room.model.ChatMessageView) so each person reads them in their own language.
import { h, bdi } from "../dom.js";
import { t, has, formatTime } from "../i18n.js";
import { hue } from "./common.js";

export function chatLines(st) {
  return st.chat.map((m) => m.kind === "system"
    ? h("li", { class: "chat-msg system" }, systemText(m))
    : h("li", { class: ["chat-msg", m.user === st.you.user && "mine"] },
      h("span", { class: "chat-name", style: `--hue:${hue(m.user)}` }, bdi(m.name ?? m.user)),
      h("span", { class: "chat-time muted" }, formatTime(m.at)),
      h("p", { class: "chat-text", dir: "auto" }, m.text)));
}

function systemText(m) {
  const p = m.params ?? {};
  // Some codes read differently per parameter (a 1v1 listen-in vs private).
  const keyed = p.mode ? `system.${m.code}.${p.mode}` : null;
  const key = keyed && has(keyed) ? keyed : `system.${m.code}`;
  if (!has(key)) return t("system.unknown");
  const isolated = Object.fromEntries(Object.entries(p).map(([k, v]) => [k, "\u2068" + v + "\u2069"]));
  return t(key, isolated);
}
