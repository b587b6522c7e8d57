// Strings come from catalogs (../i18n/<lang>.json), never from code. The locale is picked
// from, in order: ?lang= in the URL, the person's last choice, the token's `locale`
// claim, the browser's languages; English when none of those is a catalog we ship.

export const LOCALES = { en: { dir: "ltr", label: "English" }, ar: { dir: "rtl", label: "العربية" } };
// Catalogs with the games, prompts and errors; other UI strings fall back to English.
Object.assign(LOCALES, { zh: { dir: "ltr", label: "中文" }, id: { dir: "ltr", label: "Bahasa Indonesia" }, ja: { dir: "ltr", label: "日本語" } });
const STORE_KEY = "voiceroom.lang";

let catalog = {};
let fallback = {};
let current = "en";

export function pickLocale(tokenLocale) {
  const wanted = [
    new URLSearchParams(location.search).get("lang"),
    safeStorage()?.getItem(STORE_KEY),
    tokenLocale,
    ...(navigator.languages ?? [navigator.language]),
  ];
  for (const tag of wanted) {
    const base = (tag ?? "").toLowerCase().split(/[-_]/)[0];
    if (base in LOCALES) return base;
  }
  return "en";
}

// A catalog request that hangs (a connection the network silently dropped) must not leave
// the page dead before it even connects: each try gets a deadline, and a new try a new
// request.
const CATALOG_TIMEOUT_MS = 4000;
const CATALOG_TRIES = 3;

async function loadCatalog(lang) {
  for (let attempt = 1; ; attempt++) {
    try {
      const reply = await fetch(`i18n/${lang}.json`, { signal: AbortSignal.timeout(CATALOG_TIMEOUT_MS) });
      if (!reply.ok) throw new Error(`i18n/${lang}.json: HTTP ${reply.status}`);
      return await reply.json();
    } catch (err) {
      if (attempt >= CATALOG_TRIES) throw err;
      console.warn("voiceroom: catalog request failed, trying again", String(err));
    }
  }
}

export async function setLocale(lang, { remember = false } = {}) {
  if (!(lang in LOCALES)) lang = "en";
  const load = loadCatalog;
  [catalog, fallback] = await Promise.all([load(lang), lang === "en" ? null : load("en")]);
  fallback ??= catalog;
  current = lang;
  document.documentElement.lang = lang;
  document.documentElement.dir = LOCALES[lang].dir;
  if (remember) safeStorage()?.setItem(STORE_KEY, lang);
}

export const locale = () => current;

/** The string for `key` with {name} placeholders filled; the key itself if unknown. */
export function t(key, params = {}) {
  const template = catalog[key] ?? fallback[key];
  if (template === undefined) {
    console.warn("voiceroom: missing string", key);
    return key;
  }
  return template.replace(/\{(\w+)\}/g, (_, name) => {
    const v = params[name];
    return typeof v === "number" ? formatNumber(v) : String(v ?? "");
  });
}

export const has = (key) => key in catalog || key in fallback;

export const formatNumber = (n) => new Intl.NumberFormat(current).format(n);

export function formatTime(epochSeconds) {
  return new Intl.DateTimeFormat(current, { hour: "numeric", minute: "2-digit" }).format(epochSeconds * 1000);
}

/** "1:05:09" / "4:02": a countdown, digits in the locale's numbering system. */
export function formatCountdown(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const two = new Intl.NumberFormat(current, { minimumIntegerDigits: 2 });
  const one = new Intl.NumberFormat(current);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${one.format(h)}:${two.format(m)}:${two.format(s % 60)}` : `${one.format(m)}:${two.format(s % 60)}`;
}

function safeStorage() {
  try { return window.localStorage; } catch { return null; } // blocked in some privacy modes
}
