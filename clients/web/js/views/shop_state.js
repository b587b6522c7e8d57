// The shop as this member sees it: built from `snapshot.shop` (voiceroom.commerce.core
// ShopSnapshot) and kept current by the shop's events (voiceroom/commerce/events.py). No
// DOM, no I/O, so it is unit-tested in node. Money stays integer minor units here; only
// the view formats it.

export class ShopState {
  constructor() {
    this.ready = false;
    this.products = new Map();
    this.showing = null;
    this.sales = new Map();
    this.claims = [];
    this.drops = new Map();
    this.coupons = new Map(); // drop id -> {drop, code, expires_at}: this member's codes
    this.deals = new Map();
    this.myGroups = new Map(); // "deal:group" -> group view + last reason
    this.reservationTtl = 0;
  }

  applySnapshot(s) {
    s = s ?? {};
    this.ready = true;
    this.products = new Map((s.products ?? []).map((p) => [p.id, { ...p }]));
    this.showing = s.showing ?? null;
    this.sales = new Map((s.sales ?? []).map((x) => [x.id, { ...x }]));
    this.claims = [...(s.your_claims ?? [])];
    this.drops = new Map((s.coupons ?? []).map((d) => [d.id, { ...d }]));
    this.coupons = new Map((s.your_coupons ?? []).map((k) => [k.drop, k]));
    this.deals = new Map((s.groups ?? []).map((d) => [d.id, { ...d }]));
    this.myGroups = new Map((s.your_groups ?? []).map((g) => [`${g.deal}:${g.group}`, { ...g }]));
    this.reservationTtl = s.reservation_ttl ?? 0;
  }

  /** Apply one event; false for a type that is not the shop's. */
  applyEvent(type, b) {
    const handler = HANDLERS[type];
    if (!handler) return false;
    handler(this, b);
    return true;
  }

  // ---------------------------------------------------------------- derived views
  get shown() { return this.showing ? this.products.get(this.showing) ?? null : null; }
  /** Live sales first (open, then coming up), then sold-out ones still in their window. */
  get liveSales() {
    const order = { open: 0, scheduled: 1, sold_out: 2 };
    return [...this.sales.values()].filter((s) => s.state in order).sort((a, b) => order[a.state] - order[b.state] || a.id - b.id);
  }
  get liveDrops() { return [...this.drops.values()].filter((d) => d.state !== "closed"); }
  get liveDeals() { return [...this.deals.values()].filter((d) => d.state === "open"); }
  claimedIn(saleId) { return this.claims.filter((k) => k.sale === saleId); }
  unitsClaimed(saleId) { return this.claimedIn(saleId).reduce((n, k) => n + k.quantity, 0); }
  /** This member's group in a group buy: the filling or completed one, else the last. */
  myGroup(dealId) {
    let found = null;
    for (const g of this.myGroups.values()) if (g.deal === dealId && (!found || g.group >= found.group)) found = g;
    return found;
  }
  /** The open sale on a product, if any (the showcase card shows its price). */
  saleOf(productId) { return this.liveSales.find((s) => s.product === productId && s.state === "open") ?? null; }
}

const HANDLERS = {
  "product.added": (st, b) => { st.products.set(b.product.id, { ...b.product }); },
  "product.updated": (st, b) => { st.products.set(b.product.id, { ...b.product }); },
  "product.removed": (st, b) => { st.products.delete(b.product); if (st.showing === b.product) st.showing = null; },
  "product.showing": (st, b) => { st.showing = b.product; },
  "product.stock": (st, b) => { const p = st.products.get(b.product); if (p) p.stock = b.stock; },
  "sale.updated": (st, b) => { st.sales.set(b.sale.id, { ...b.sale }); },
  "sale.claimed": (st, b) => { if (!st.claims.some((k) => k.id === b.claim.id)) st.claims.push(b.claim); },
  "sale.left": (st, b) => {
    const s = st.sales.get(b.sale);
    if (s && s.state === "open") s.left = Math.min(s.left, b.left); // never back up: events race
  },
  "coupon.updated": (st, b) => { st.drops.set(b.drop.id, { ...b.drop }); },
  "coupon.claimed": (st, b) => { st.coupons.set(b.coupon.drop, b.coupon); },
  "coupon.left": (st, b) => { const d = st.drops.get(b.drop); if (d && d.state === "open") d.left = Math.min(d.left, b.left); },
  "group.updated": (st, b) => { st.deals.set(b.deal.id, { ...b.deal }); },
  "group.status": (st, b) => { st.myGroups.set(`${b.group.deal}:${b.group.group}`, { ...b.group, reason: b.reason }); },
  "group.progress": (st, b) => {
    const d = st.deals.get(b.deal);
    if (d?.filling && d.filling.group === b.group) d.filling = { ...d.filling, joined: b.joined };
  },
};

// ------------------------------------------------------------------ money
// Non-2 minor-unit exponents of ISO 4217 (voiceroom/commerce/money.py is the source).
const EXPONENTS = {
  0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
  3: "BHD IQD JOD KWD LYD OMR TND",
  4: "CLF UYW",
};
const EXP = new Map(Object.entries(EXPONENTS).flatMap(([e, codes]) => codes.split(" ").map((c) => [c, Number(e)])));
export const exponentOf = (currency) => EXP.get(currency) ?? 2;

/** Minor units as an exact decimal string: (19900, 2) -> "199.00", (1999, 0) -> "1999". */
export function decimalString(minor, exponent) {
  const neg = minor < 0;
  let s = String(Math.abs(minor));
  if (exponent > 0) {
    s = s.padStart(exponent + 1, "0");
    s = `${s.slice(0, -exponent)}.${s.slice(-exponent)}`;
  }
  return (neg ? "-" : "") + s;
}

/** A price for people: Intl.NumberFormat in their locale, from integer minor units. The
 *  decimal goes in as a string, so no binary float rounds it on the way. */
export function formatMoney(minor, currency, exponent, locale) {
  const fmt = new Intl.NumberFormat(locale, {
    style: "currency",
    currency,
    minimumFractionDigits: exponent,
    maximumFractionDigits: exponent,
  });
  return fmt.format(decimalString(minor, exponent));
}

/** What a person typed ("199", "199.5", "١٩٩٫٥٠", "1,250.50", "١٬٢٥٠") as integer minor
 *  units, or null. Grouping separators are taken where they cannot be the decimal one: both
 *  "," and "." in the text (the last one is the decimal), a separator that repeats, the
 *  Arabic thousands sign, or one comma before exactly three digits where the currency has
 *  fewer than three decimals ("1,250" SAR is 1250, "1,250" KWD is 1.250). */
export function parseMinor(text, exponent) {
  let ascii = String(text ?? "")
    .replace(/[\u0660-\u0669]/g, (d) => String(d.charCodeAt(0) - 0x0660))
    .replace(/[\u06f0-\u06f9]/g, (d) => String(d.charCodeAt(0) - 0x06f0))
    .replace(/\u066b/g, ".")
    .replace(/[\u066c\u00a0\u202f' ]/g, (c, i, all) => (/\d/.test(all[i - 1] ?? "") && /\d/.test(all[i + 1] ?? "") ? "" : c))
    .trim();
  const grouped = (sep, dec) => new RegExp(`^\\d{1,3}(?:\\${sep}\\d{3})+(?:\\${dec}\\d*)?$`);
  const commas = (ascii.match(/,/g) ?? []).length;
  const dots = (ascii.match(/\./g) ?? []).length;
  if (commas && dots) {
    const decimalIsDot = ascii.lastIndexOf(".") > ascii.lastIndexOf(",");
    if (decimalIsDot ? !grouped(",", ".").test(ascii) : !grouped(".", ",").test(ascii)) return null;
    ascii = decimalIsDot ? ascii.replaceAll(",", "") : ascii.replaceAll(".", "").replace(",", ".");
  } else if (commas > 1 || (commas === 1 && exponent < 3 && /^\d{1,3},\d{3}$/.test(ascii))) {
    if (!grouped(",", ".").test(ascii)) return null;
    ascii = ascii.replaceAll(",", "");
  } else if (dots > 1) {
    if (!grouped(".", ",").test(ascii)) return null;
    ascii = ascii.replaceAll(".", "");
  }
  const m = /^(\d{1,12})(?:[.,](\d*))?$/.exec(ascii);
  if (!m) return null;
  const frac = m[2] ?? "";
  if (frac.length > exponent) return null;
  const minor = Number(m[1]) * 10 ** exponent + Number(frac.padEnd(exponent, "0") || "0");
  return Number.isSafeInteger(minor) ? minor : null;
}

/** The title in the viewer's language, else English, else any. */
export function titleOf(product, locale) {
  const titles = product?.titles ?? {};
  return titles[locale] ?? titles[locale?.split("-")[0]] ?? titles.en ?? Object.values(titles)[0] ?? product?.id ?? "";
}
