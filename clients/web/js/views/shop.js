// The shop on the page: the "now showing" card, live offers (flash sales with a countdown
// and a Claim button that says how it went, coupon drops, group buys "3 of 5 joined"), the
// product list, and the host's / co-host's shop controls. Functions of the shop state and
// the viewer; counters that change many times a second (units left, group progress) are
// painted in place by `paintShop`, so a re-render never eats a click on Claim.
import { h } from "../dom.js";
import { t, has, locale, formatTime, formatCountdown } from "../i18n.js";
import { button, card, empty } from "./common.js";
import { formatMoney, parseMinor, exponentOf, titleOf } from "./shop_state.js";

export const CURRENCIES = ["SAR", "AED", "KWD", "QAR", "EGP", "USD", "EUR", "GBP", "IDR", "MYR", "JPY"];

/** Everything shop-related for this member, as a list of cards (empty: nothing to show). */
export function shopSections(st, shop, ui, ask, act, now) {
  if (!shop.ready) return [];
  const out = [];
  const shown = shop.shown;
  if (shown) out.push(showcaseCard(shop, shown));
  const offers = offersCard(st, shop, ui, ask, act, now);
  if (offers) out.push(offers);
  if (st.isModerator) out.push(controlsCard(st, shop, ui, act));
  else if (shop.products.size) out.push(productsCard(st, shop, act));
  return out;
}

const price = (minor, x) => formatMoney(minor, x.currency, x.exponent, locale());
const title = (shop, id) => titleOf(shop.products.get(id), locale()) || id;
const tierName = (tier) => (has(`tier.${tier}`) ? t(`tier.${tier}`) : tier);

// ------------------------------------------------------------------ "now showing"
/** The showcase's stock line as [catalog key, params]: during a flash sale the sale's own
 *  units ("3 left of 5"), which are not the product's stock ("24 in stock"). */
export function showcaseStock(shop, p) {
  const sale = shop.saleOf(p.id);
  if (sale) return ["sale.left", { n: sale.left, total: sale.quantity }]; // as paintShop paints it
  return p.stock > 0 ? ["shop.stock_left", { n: p.stock }] : ["shop.sold_out", {}];
}

function showcaseCard(shop, p) {
  const sale = shop.saleOf(p.id);
  const [stockKey, stockParams] = showcaseStock(shop, p);
  return h("section", { class: "card showcase", id: "showcase" },
    h("h2", { class: "card-title" }, h("span", { class: "badge live-badge" }, t("shop.now_showing"))),
    h("div", { class: "product" },
      p.image ? h("img", { class: "product-img", src: p.image, alt: "", loading: "lazy" }) : h("div", { class: "product-img placeholder" }),
      h("div", { class: "product-body" },
        h("h3", { class: "product-title", dir: "auto" }, titleOf(p, locale())),
        h("p", { class: "price-line" },
          sale ? h("span", { class: "price sale-price" }, price(sale.price, sale)) : null,
          h("span", { class: sale ? "price list-price" : "price" }, price(p.price, p))),
        h("p", { class: "muted stock", dataset: sale ? { saleLeft: String(sale.id), total: String(sale.quantity) } : { productStock: p.id } },
          t(stockKey, stockParams)),
        p.options.length ? h("p", { class: "chips" }, p.options.map((o) => h("span", { class: "chip", dir: "auto" }, o))) : null,
        p.url ? h("a", { class: "btn btn-secondary btn-sm", href: p.url, target: "_blank", rel: "noopener noreferrer" }, t("shop.buy_at_shop")) : null)));
}

// ------------------------------------------------------------------ offers
function offersCard(st, shop, ui, ask, act, now) {
  const rows = [
    ...shop.liveSales.map((s) => saleBanner(st, shop, s, ui, ask, act, now)),
    ...shop.liveDrops.map((d) => dropRow(st, shop, d, ui, ask, act, now)),
    ...shop.liveDeals.map((d) => dealRow(st, shop, d, ui, ask, act, now)),
  ];
  const mine = [...shop.coupons.values()].filter((k) => !shop.liveDrops.some((d) => d.id === k.drop));
  for (const k of mine) rows.push(h("div", { class: "offer coupon" }, h("span", {}, t("coupon.your_code")), " ", h("code", { class: "code" }, k.code)));
  if (!rows.length) return null;
  return h("section", { class: "card offers", id: "offers" }, rows);
}

function countdown(label, until) {
  return h("span", { class: "countdown" }, h("span", { class: "muted" }, label), " ",
    h("strong", { dataset: { until: String(until) } }, formatCountdown(until - Date.now() / 1000)));
}

function saleBanner(st, shop, s, ui, ask, act, now) {
  const isShopper = st.role === "listener";
  const early = s.early_tier && now < s.early_until;
  const mine = shop.unitsClaimed(s.id);
  const outcome = ui.outcomes.get(`sale:${s.id}`);
  const lastClaim = shop.claimedIn(s.id).at(-1);
  let action = null;
  if (isShopper && s.state === "open") {
    const can = s.left > 0 && mine < s.per_user_limit && (!early || st.you.tier === s.early_tier);
    action = button(mine ? t("sale.claim_more") : t("sale.claim"), async () => {
      const res = await ask("sale.claim", { sale: s.id });
      ui.outcomes.set(`sale:${s.id}`, res.ok ? "claimed" : res.code);
      ui.rerender();
    }, { kind: "primary", disabled: !can });
    if (mine >= s.per_user_limit) action = null;
  }
  let said = null;
  if (mine && lastClaim && (outcome === "claimed" || !outcome || outcome === "limit_reached")) {
    said = h("p", { class: "outcome ok", role: "status" }, t("sale.outcome.claimed", { time: formatTime(lastClaim.expires_at) }), " ", h("span", { class: "muted" }, `#${lastClaim.id}`));
  } else if (outcome && outcome !== "claimed") {
    const key = `sale.outcome.${outcome}`;
    said = h("p", { class: "outcome bad", role: "status" }, has(key) ? t(key) : t("sale.outcome.other"));
  }
  return h("div", { class: ["offer", "sale", `sale-${s.state}`], dataset: { sale: String(s.id) } },
    h("div", { class: "offer-head" },
      h("span", { class: "badge flash" }, t("sale.title")),
      h("strong", { dir: "auto" }, title(shop, s.product)),
      h("span", { class: "badge state" }, t(`sale.state.${s.state}`))),
    h("p", { class: "price-line" }, h("span", { class: "price sale-price" }, price(s.price, s)), " ",
      h("span", { class: "price list-price" }, price(s.list_price, s))),
    h("p", { class: "offer-meta" },
      h("span", { dataset: { saleLeft: String(s.id), total: String(s.quantity) } }, t("sale.left", { n: s.left, total: s.quantity })),
      " · ", t("sale.limit", { n: s.per_user_limit })),
    s.state === "scheduled" ? countdown(t("sale.starts_in"), s.starts_at)
      : s.state !== "closed" ? countdown(t("sale.ends_in"), s.ends_at) : null,
    early ? h("p", { class: "early" }, t("sale.early_for", { tier: tierName(s.early_tier) }), " ",
      h("strong", { dataset: { until: String(s.early_until) } }, formatCountdown(s.early_until - now))) : null,
    h("div", { class: "btn-row" }, action,
      st.isModerator && s.state !== "closed" ? button(t("shopctl.close"), () => act("sale.close", { sale: s.id }), { small: true }) : null),
    said);
}

function dropRow(st, shop, d, ui, ask, act, now) {
  const mine = shop.coupons.get(d.id);
  const what = d.percent_off ? t("coupon.percent_off", { n: d.percent_off })
    : d.amount_off ? t("coupon.amount_off", { amount: formatMoney(d.amount_off, d.currency, exponentOf(d.currency), locale()) }) : "";
  const eligible = !d.tier || st.you.tier === d.tier;
  let action = null;
  if (mine) action = h("p", { class: "outcome ok" }, t("coupon.your_code"), " ", h("code", { class: "code" }, mine.code));
  else if (st.role === "listener" && d.state === "open" && eligible) {
    action = button(t("coupon.claim"), async () => {
      const res = await ask("coupon.claim", { drop: d.id });
      if (!res.ok) ui.outcomes.set(`coupon:${d.id}`, res.code);
      ui.rerender();
    }, { kind: "primary" });
  }
  const refused = ui.outcomes.get(`coupon:${d.id}`);
  return h("div", { class: "offer coupon", dataset: { drop: String(d.id) } },
    h("div", { class: "offer-head" }, h("span", { class: "badge coupon-badge" }, t("coupon.title")), h("strong", {}, what),
      d.tier ? h("span", { class: "muted" }, t("coupon.for_tier", { tier: tierName(d.tier) })) : null),
    h("p", { class: "offer-meta" }, d.state === "gone" ? t("coupon.gone") : h("span", { dataset: { dropLeft: String(d.id) } }, t("coupon.left", { n: d.left })),
      " · ", countdown(t("coupon.expires_in"), d.expires_at)),
    h("div", { class: "btn-row" }, action,
      st.isModerator ? button(t("shopctl.close"), () => act("coupon.close", { drop: d.id }), { small: true }) : null),
    refused && !mine ? h("p", { class: "outcome bad" }, t(`error.${refused}`)) : null);
}

function dealRow(st, shop, d, ui, ask, act, now) {
  const g = d.filling;
  const mine = shop.myGroup(d.id);
  const inLive = mine && (mine.state === "filling" || mine.state === "complete") && mine.reason !== "left";
  let status = null;
  if (mine?.state === "complete") status = h("p", { class: "outcome ok" }, t("group.you.complete"));
  else if (mine?.state === "expired" && mine.reason === "expired") status = h("p", { class: "outcome bad" }, t("group.you.expired"));
  else if (inLive && g) status = h("p", { class: "outcome ok" }, t("group.you.filling", { n: Math.max(0, g.size - g.joined) }));
  let action = null;
  if (st.role === "listener") {
    action = inLive && mine.state === "filling"
      ? button(t("group.leave"), () => act("group.leave", { deal: d.id }), { small: true })
      : !inLive ? button(t("group.join"), () => ask("group.join", { deal: d.id }).then((r) => { if (!r.ok) ui.rerender(); }), { kind: "primary" }) : null;
  }
  const joined = g ? g.joined : 0;
  return h("div", { class: "offer group", dataset: { deal: String(d.id) } },
    h("div", { class: "offer-head" }, h("span", { class: "badge group-badge" }, t("group.title")), h("strong", { dir: "auto" }, title(shop, d.product))),
    h("p", { class: "price-line" }, h("span", { class: "price sale-price" }, t("group.price_when", { price: price(d.price, d), size: d.size })), " ",
      h("span", { class: "price list-price" }, price(d.list_price, d))),
    h("div", { class: "progress", role: "progressbar", "aria-valuemin": "0", "aria-valuemax": String(d.size), "aria-valuenow": String(joined) },
      h("div", { class: "bar", style: `inline-size:${Math.round((100 * joined) / d.size)}%`, dataset: { dealBar: String(d.id) } })),
    h("p", { class: "offer-meta" }, h("span", { dataset: { dealProgress: String(d.id), size: String(d.size) } }, t("group.progress", { joined, size: d.size })),
      g ? [" · ", countdown(t("group.time_left"), g.expires_at)] : null,
      d.completed ? [" · ", t("group.completed_count", { n: d.completed })] : null),
    h("div", { class: "btn-row" }, action,
      st.isModerator ? button(t("shopctl.close"), () => act("group.close", { deal: d.id }), { small: true }) : null),
    status);
}

// ------------------------------------------------------------------ product list
function productsCard(st, shop, act) {
  return card("products", t("shop.products"), productList(st, shop, act));
}

function productList(st, shop, act) {
  if (!shop.products.size) return empty(t("shop.no_products"));
  return h("ul", { class: "list" }, [...shop.products.values()].map((p) => h("li", { class: "list-item product-row", dataset: { product: p.id } },
    p.image ? h("img", { class: "thumb", src: p.image, alt: "" }) : null,
    h("span", { class: "grow", dir: "auto" }, titleOf(p, locale())),
    h("span", { class: "price" }, price(p.price, p)),
    h("span", { class: "muted", dataset: { productStock: p.id } }, p.stock > 0 ? t("shop.stock_left", { n: p.stock }) : t("shop.sold_out")),
    st.isModerator
      ? (shop.showing === p.id
        ? button(t("shop.unpin"), () => act("product.unpin"), { small: true })
        : button(t("shop.pin"), () => act("product.pin", { product: p.id }), { small: true, kind: "primary" }))
      : (shop.showing === p.id ? h("span", { class: "badge" }, t("shop.showing_badge")) : null))));
}

// ------------------------------------------------------------------ host controls
function field(label, input) {
  return h("label", { class: "field" }, h("span", { class: "muted" }, label), input);
}

/** A <select> kept across renders (the choice survives); options rebuilt when they change. */
function select(ui, key, options) {
  let el = ui.inputs.get(key);
  if (!el) {
    el = h("select", { class: "input", name: key });
    ui.inputs.set(key, el);
  }
  const sig = options.map(([v, l]) => `${v}=${l}`).join("\n");
  if (el.dataset.sig !== sig) {
    const chosen = el.value;
    el.replaceChildren(...options.map(([v, l]) => h("option", { value: v }, l)));
    el.dataset.sig = sig;
    if (options.some(([v]) => v === chosen)) el.value = chosen;
  }
  return el;
}

const num = (ui, key, value, extra = {}) => ui.input(key, { type: "number", value: String(value), class: "input input-num", name: key, ...extra });
const text = (ui, key, extra = {}) => ui.input(key, { type: "text", class: "input", name: key, ...extra });

function controlsCard(st, shop, ui, act) {
  const products = [...shop.products.values()].map((p) => [p.id, titleOf(p, locale())]);
  const body = [h("h3", {}, t("shop.products")), productList(st, shop, act)];
  const bad = () => ui.toast?.(t("shopctl.bad_amount"));
  if (products.length) {
    // Flash sale
    const product = select(ui, "sale-product", products);
    const salePrice = text(ui, "sale-price", { inputmode: "decimal", placeholder: "99.00" });
    const qty = num(ui, "sale-qty", 10, { min: "1" });
    const minutes = num(ui, "sale-minutes", 5, { min: "1" });
    const perUser = num(ui, "sale-per-user", 1, { min: "1", max: "100" });
    const vip = num(ui, "sale-vip", 0, { min: "0" });
    const startsIn = num(ui, "sale-starts-in", 0, { min: "0" });
    body.push(h("h3", {}, t("shopctl.start_sale")), h("form", {
      class: "shop-form", id: "sale-form",
      onSubmit: (e) => {
        e.preventDefault();
        const p = shop.products.get(product.value);
        const minor = p && parseMinor(salePrice.value, p.exponent);
        if (minor === null || minor === undefined) return bad();
        const body2 = { product: p.id, price: minor, quantity: Number(qty.value), duration: Number(minutes.value) * 60, per_user_limit: Number(perUser.value) };
        if (Number(vip.value) > 0) Object.assign(body2, { early_tier: "vip", early_seconds: Number(vip.value) });
        if (Number(startsIn.value) > 0) body2.starts_at = Date.now() / 1000 + Number(startsIn.value) * 60;
        act("sale.start", body2);
      },
    }, field(t("shopctl.product"), product), field(t("shopctl.sale_price"), salePrice), field(t("shopctl.quantity"), qty),
    field(t("shopctl.minutes"), minutes), field(t("shopctl.per_user"), perUser), field(t("shopctl.vip_first"), vip),
    field(t("shopctl.starts_in"), startsIn),
    h("button", { type: "submit", class: "btn btn-primary btn-sm" }, t("shopctl.start"))));
    // Group buy
    const gProduct = select(ui, "group-product", products);
    const gPrice = text(ui, "group-price", { inputmode: "decimal", placeholder: "150.00" });
    const gSize = num(ui, "group-size", 3, { min: "2", max: "100" });
    const gMinutes = num(ui, "group-minutes", 10, { min: "1" });
    body.push(h("h3", {}, t("shopctl.start_group")), h("form", {
      class: "shop-form", id: "group-form",
      onSubmit: (e) => {
        e.preventDefault();
        const p = shop.products.get(gProduct.value);
        const minor = p && parseMinor(gPrice.value, p.exponent);
        if (minor === null || minor === undefined) return bad();
        const limit = Number(gMinutes.value) * 60;
        act("group.start", { product: p.id, price: minor, size: Number(gSize.value), time_limit: limit, duration: Math.max(limit, 3600) });
      },
    }, field(t("shopctl.product"), gProduct), field(t("shopctl.group_price"), gPrice), field(t("shopctl.size"), gSize),
    field(t("shopctl.group_minutes"), gMinutes), h("button", { type: "submit", class: "btn btn-primary btn-sm" }, t("shopctl.start"))));
  }
  // Coupon drop: codes generated by the server from fresh entropy
  const uses = num(ui, "coupon-uses", 50, { min: "1" });
  const pct = num(ui, "coupon-pct", 10, { min: "1", max: "100" });
  const cMinutes = num(ui, "coupon-minutes", 10, { min: "1" });
  const cTier = select(ui, "coupon-tier", [["", t("shopctl.everyone")], ...(st.tiers ?? []).map((x) => [x, tierName(x)])]);
  body.push(h("h3", {}, t("shopctl.drop_coupons")), h("form", {
    class: "shop-form", id: "coupon-form",
    onSubmit: (e) => {
      e.preventDefault();
      const drop = { duration: Number(cMinutes.value) * 60, uses: Number(uses.value), percent_off: Number(pct.value) };
      if (cTier.value) drop.tier = cTier.value;
      act("coupon.drop", drop);
    },
  }, field(t("shopctl.uses"), uses), field(t("shopctl.percent"), pct), field(t("shopctl.minutes"), cMinutes),
  field(t("shopctl.coupon_tier"), cTier),
  h("button", { type: "submit", class: "btn btn-primary btn-sm" }, t("shopctl.drop"))));
  // Add a product
  const id = text(ui, "product-id", { maxlength: "64", placeholder: "dress-2" });
  const en = text(ui, "product-en", { maxlength: "200", dir: "ltr" });
  const ar = text(ui, "product-ar", { maxlength: "200", dir: "rtl" });
  const pPrice = text(ui, "product-price", { inputmode: "decimal", placeholder: "199.00" });
  const currency = select(ui, "product-currency", CURRENCIES.map((c) => [c, c]));
  const stock = num(ui, "product-stock", 20, { min: "0" });
  const image = text(ui, "product-image", { placeholder: "https://… or /img/…", dir: "ltr" });
  body.push(h("h3", {}, t("shopctl.add_product")), h("form", {
    class: "shop-form", id: "product-form",
    onSubmit: (e) => {
      e.preventDefault();
      const minor = parseMinor(pPrice.value, exponentOf(currency.value));
      if (minor === null) return bad();
      const titles = {};
      if (en.value.trim()) titles.en = en.value.trim();
      if (ar.value.trim()) titles.ar = ar.value.trim();
      act("product.add", { id: id.value.trim(), titles, price: minor, currency: currency.value, stock: Number(stock.value), image: image.value.trim() });
    },
  }, field(t("shopctl.id"), id), field(t("shopctl.title_en"), en), field(t("shopctl.title_ar"), ar),
  field(t("shopctl.price"), pPrice), field(t("shopctl.currency"), currency), field(t("shopctl.stock"), stock),
  field(t("shopctl.image"), image), h("button", { type: "submit", class: "btn btn-secondary btn-sm" }, t("shopctl.add"))));
  return card("shop-panel", t("shopctl.title"), ...body);
}

/** Ephemeral counters (sale.left, coupon.left, group.progress, product.stock), painted in
 *  place: no re-render, so a Claim button under a finger stays where it is. */
export function paintShop(shop) {
  for (const el of document.querySelectorAll("[data-sale-left]")) {
    const s = shop.sales.get(Number(el.dataset.saleLeft));
    if (!s) continue;
    el.textContent = el.dataset.total ? t("sale.left", { n: s.left, total: s.quantity })
      : s.left > 0 ? t("shop.stock_left", { n: s.left }) : t("shop.sold_out");
  }
  for (const el of document.querySelectorAll("[data-drop-left]")) {
    const d = shop.drops.get(Number(el.dataset.dropLeft));
    if (d) el.textContent = t("coupon.left", { n: d.left });
  }
  for (const el of document.querySelectorAll("[data-product-stock]")) {
    const p = shop.products.get(el.dataset.productStock);
    if (p) el.textContent = p.stock > 0 ? t("shop.stock_left", { n: p.stock }) : t("shop.sold_out");
  }
  for (const el of document.querySelectorAll("[data-deal-progress]")) {
    const d = shop.deals.get(Number(el.dataset.dealProgress));
    const joined = d?.filling?.joined ?? 0;
    if (d) el.textContent = t("group.progress", { joined, size: d.size });
    const bar = document.querySelector(`[data-deal-bar="${el.dataset.dealProgress}"]`);
    if (d && bar) bar.style.inlineSize = `${Math.round((100 * joined) / d.size)}%`;
  }
}

export const SHOP_COUNTERS = new Set(["sale.left", "coupon.left", "group.progress", "product.stock"]);
