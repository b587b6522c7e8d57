// Small pieces the views share: avatars, tier badges, buttons.
import { h, icon } from "../dom.js";
import { t, has } from "../i18n.js";

export function initials(name) {
  const words = (name ?? "?").replace(/\(.*?\)/g, "").trim().split(/\s+/).filter(Boolean);
  const letters = words.slice(0, 2).map((w) => [...w][0]);
  return (letters.join("") || "?").toUpperCase();
}

/** A stable hue per user, so a person keeps their colour across reloads and devices. */
export function hue(user) {
  let x = 0;
  for (const ch of user ?? "") x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return x % 360;
}

export function avatar(user, name, { size = "md" } = {}) {
  return h("span", { class: `avatar avatar-${size}`, style: `--hue:${hue(user)}`, "aria-hidden": "true" }, initials(name));
}

/** The catalog key for a tier: its own when we have words for it, else a generic one
 *  (a shop may define tiers this page does not know; never show a raw id). */
export function tierKey(tier, known = has) {
  return known(`tier.${tier}`) ? `tier.${tier}` : "tier.other";
}

export function tierBadge(tier) {
  if (!tier) return null;
  const key = tierKey(tier);
  return h("span", { class: ["badge", "tier", key === "tier.other" ? "tier-other" : `tier-${tier}`] }, t(key));
}

export function roleLabel(role) {
  return t(`role.${role}`);
}

/** A person's name with their tier: "Layla [VIP]". */
export function person(user, name, tier) {
  // title: the whole name on hover/long-press; the CSS also wraps a long one.
  return h("span", { class: "person" }, avatar(user, name, { size: "sm" }), h("span", { class: "person-name", dir: "auto", title: name }, name), tierBadge(tier));
}

/** `key`: the control's focus key - after a re-render, focus goes to the control with the
 *  same key (Raise hand -> Lower hand); `then`: keys to try when none has it (app.js). */
export function button(label, onClick, { kind = "secondary", iconName, disabled, small, title, key, then } = {}) {
  return h("button", {
    type: "button",
    class: ["btn", `btn-${kind}`, small && "btn-sm"],
    onClick,
    disabled: !!disabled,
    title,
    dataset: focusKeys(key, then),
  }, iconName ? icon(iconName) : null, h("span", {}, label));
}

/** The dataset that names a control for focus keeping (app.js restoreFocus). */
export function focusKeys(key, then) {
  if (!key) return undefined;
  return then ? { focusKey: key, focusThen: then } : { focusKey: key };
}

export function card(id, title, ...body) {
  return h("section", { class: "card", id }, title ? h("h2", { class: "card-title" }, title) : null, ...body);
}

export const empty = (text) => h("p", { class: "muted empty" }, text);
