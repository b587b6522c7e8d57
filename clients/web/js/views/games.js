// The games (docs/engagement.md): host controls and shopper views for votes, guess the
// price and giveaways (with the draw verified in the page), the leaderboard, the daily
// check-in and tier progress, prompts in the viewer's own idiom, and market time.
// Each card is a function of the room state and the viewer; only `act` talks to the server.
import { h } from "../dom.js";
import { t, has, locale, formatNumber } from "../i18n.js";
import { button, card, empty, person } from "./common.js";
import { verifyDraw } from "../verify.js";
import { parseMinor, titleOf } from "./shop_state.js";
import { CURRENCIES } from "./shop.js";

const PROMPTS = {
  raise_hand_invite: ["host"],
  flash_sale_now: ["product", "minutes"],
  guess_the_price: ["product"],
  vote_now: ["question"],
  welcome_new: ["host"],
  lottery_open: ["prize"],
  checkin_today: [],
  show_starting: ["minutes"],
}; // voiceroom/games/prompts.py PROMPT_PARAMS
const RULES = ["room", "seated", "chat", "tier"];
const MAX_OPTIONS = 6;

// Inputs and selects that must survive re-renders (typing, choices) beyond ui.input.
const kept = new Map();
function keep(key, make) {
  if (!kept.has(key)) kept.set(key, make());
  return kept.get(key);
}

/** Text another person typed, isolated so its direction cannot reorder our sentence. */
const iso = (text) => "\u2068" + String(text ?? "") + "\u2069";
/** "A, B and C" in the viewer's language (Arabic uses its own comma and "و"). */
const list = (items) => new Intl.ListFormat(locale(), { type: "conjunction" }).format(items);
const isolateAll = (params) => Object.fromEntries(Object.entries(params ?? {}).map(([k, v]) => [k, iso(v)]));

export function currencyDigits(currency) {
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch {
    return 2;
  }
}

/** Integer minor units as the viewer's currency text (display only). */
export function money(minor, currency) {
  const d = currencyDigits(currency);
  try {
    return new Intl.NumberFormat(locale(), { style: "currency", currency }).format(minor / 10 ** d);
  } catch {
    return `${formatNumber(minor / 10 ** d)} ${currency}`;
  }
}

/** What a shopper typed ("129.5", "1,250.50", "١٣٠٠") as minor units of `currency`, without
 *  floating point; null if not a price. The shop's parser, so both read digits alike. */
export function toMinor(text, currency) {
  return parseMinor(text, currencyDigits(currency));
}

/** The round's product as this viewer reads it: a shop product's title in their language
 *  (the host picks from the shop, which sends its id), else the text the host typed. */
export function guessProductName(product, shop, lang) {
  const p = shop?.products?.get(product);
  return p ? titleOf(p, lang) : product;
}

/** `shop` (views/shop_state.js ShopState, optional): the host picks the round's product from
 *  it, and shoppers read that product's title in their own language. */
export function gamesCards(st, ui, act, now, shop = null) {
  const g = st.games;
  if (!g || st.ended) return [];
  const host = st.isModerator;
  const shopper = st.role === "listener";
  const out = [];
  if (g.prompt) out.push(promptCard(g.prompt, shop));
  out.push(card("games", t("games.title"),
    feed(g),
    shopper ? myProgress(st, act, now) : null,
    voteBlock(st, ui, act, host, shopper),
    guessBlock(st, ui, act, host, shopper, shop),
    lotteryBlock(st, ui, act, host),
    host ? promptSender(st, ui, act, shop) : null,
    marketBlock(st, ui, act, now)));
  out.push(boardCard(st));
  return out;
}

function promptCard(p, shop) {
  const key = `prompt.${p.id}`;
  // A product picked from the shop goes as its id: each page shows its own title.
  const params = p.params?.product ? { ...p.params, product: guessProductName(p.params.product, shop, locale()) } : p.params;
  return h("section", { class: "card prompt-card", id: "prompt", role: "status" },
    h("p", { class: "prompt-text", dataset: { prompt: p.id } }, has(key) ? t(key, isolateAll(params)) : p.id));
}

function feed(g) {
  return (g.feed ?? []).map((f) => h("p", { class: "notice game-feed" }, f.kind === "tier"
    ? t("games.tier.earned", { name: iso(f.name), tier: t(`tier.${f.tier}`) })
    : t("games.checkin.done", { name: iso(f.name), n: f.streak })));
}

/** The calendar day (YYYY-MM-DD) at `now` in the show's market zone: the server's check-in day. */
export function marketDay(zone, now) {
  try {
    return new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit" }).format(now * 1000);
  } catch {
    return null;
  }
}

/** Whether this member already checked in on the market's today (the button is then done). */
export function checkedInToday(g, now) {
  return !!g?.streak && g.streak.day === marketDay(g.market_zone ?? "UTC", now);
}

function myProgress(st, act, now) {
  const g = st.games;
  const done = checkedInToday(g, now);
  const row = [button(t(done ? "games.checkin.checked" : "games.checkin.button"), () => act("checkin.daily"), { small: true, disabled: done })];
  if (g.streak) row.push(h("span", { class: "muted" }, t("games.checkin.streak", { n: g.streak.count })));
  // Tier progress is counted by the server (chat scores at most every 10 s): the snapshot's
  // number, then each score.yours, so chat and claims move it as votes and guesses do.
  if (st.you.tier === "new" && g.active_after) {
    row.push(h("span", { class: "muted" }, t("games.tier.progress", { n: Math.min(g.interactions ?? 0, g.active_after), total: g.active_after })));
  }
  return h("div", { class: "btn-row game-me" }, row);
}

// ---------------------------------------------------------------- vote
function voteBlock(st, ui, act, host, shopper) {
  const g = st.games;
  const rows = [h("h3", { class: "game-title" }, t("games.vote.title"))];
  if (g.vote) {
    const tallies = g.vote_tallies ?? g.vote.options.map(() => 0);
    const total = tallies.reduce((a, b) => a + b, 0);
    rows.push(h("p", { class: "game-question", dir: "auto" }, g.vote.question));
    rows.push(h("div", { class: "vote-options" }, g.vote.options.map((option, i) => {
      const share = total ? Math.round((100 * tallies[i]) / total) : 0;
      const mine = g.your_vote === i;
      return h("button", {
        type: "button",
        class: ["vote-option", mine && "is-mine"],
        disabled: !shopper,
        "aria-pressed": String(mine),
        onClick: () => act("vote.cast", { option: i }),
        style: `--share:${share}%`,
      }, h("span", { class: "vote-label", dir: "auto" }, option),
      h("span", { class: "vote-count" }, formatNumber(tallies[i]), mine ? ` · ${t("games.vote.yours")}` : ""));
    })));
    rows.push(h("p", { class: "muted" }, t("games.vote.total", { n: total })));
    if (host) rows.push(button(t("games.vote.close"), () => act("vote.close"), { kind: "primary", small: true }));
  } else if (host) {
    const q = ui.input("vote-q", { placeholder: t("games.vote.question"), maxLength: 140 });
    const opts = [];
    // Two option fields, and one more each time the last one is filled (up to six).
    for (let i = 0; i < MAX_OPTIONS && (i < 2 || opts[i - 1].value.trim()); i++) {
      opts.push(ui.input(`vote-o${i}`, { placeholder: t("games.vote.option", { n: i + 1 }), maxLength: 60 }));
    }
    rows.push(h("div", { class: "game-form" }, q, opts.map((el) => { el.oninput = () => ui.rerender(); return el; }),
      button(t("games.vote.open"), () => {
        const options = opts.map((el) => el.value.trim()).filter(Boolean);
        act("vote.open", { question: q.value.trim(), options }).then((r) => {
          if (r) for (const el of [q, ...opts]) el.value = "";
        });
      }, { kind: "primary", small: true })));
  }
  if (g.last_vote && !g.vote) rows.push(voteResult(g.last_vote));
  return rows.length > 1 ? h("div", { class: "game", id: "game-vote" }, rows) : null;
}

function voteResult(v) {
  if (!v.winners.length) return h("p", { class: "muted" }, t("games.vote.no_votes"));
  const names = list(v.winners.map((i) => iso(v.options[i])));
  return h("div", { class: "game-result" },
    h("p", { class: "vote-result" }, t("games.vote.result", { options: names })),
    h("p", { class: "muted" }, v.options.map((o, i) => `${o}: ${formatNumber(v.tallies[i])}`).join(" · ")));
}

// ---------------------------------------------------------------- guess the price
function guessBlock(st, ui, act, host, shopper, shop) {
  const g = st.games;
  const rows = [h("h3", { class: "game-title" }, t("games.guess.title"))];
  const round = g.guess;
  const named = (product) => iso(guessProductName(product, shop, locale()));
  if (round) {
    rows.push(h("p", { class: "game-question" }, t("games.guess.prompt", { product: named(round.product) })));
    if (shopper && g.your_guess == null) {
      const amount = ui.input("guess-amount", { placeholder: t("games.guess.amount"), inputMode: "decimal" });
      rows.push(h("div", { class: "btn-row" }, amount, button(t("games.guess.submit"), () => {
        const minor = toMinor(amount.value, round.currency);
        if (minor === null) return ui.toast?.(t("shopctl.bad_amount"));
        act("guess.submit", { amount: minor }).then((r) => { if (r) amount.value = ""; });
      }, { kind: "primary", small: true })));
    } else if (g.your_guess != null) {
      rows.push(h("p", {}, t("games.guess.yours", { amount: money(g.your_guess, round.currency) })));
    }
    rows.push(h("p", { class: "muted" }, t("games.guess.count", { n: g.guess_count ?? 0 })));
    if (host) {
      if (g.guess_price != null) rows.push(h("p", { class: "muted" }, t("games.guess.secret", { amount: money(g.guess_price, round.currency) })));
      rows.push(button(t("games.guess.close"), () => act("guess.close"), { kind: "primary", small: true }));
    }
  } else if (host) {
    // A product of the shop (its id goes on the wire: every page shows its own title, and
    // the price is in its currency), or another one by name with a currency from the list.
    const products = shop ? [...shop.products.values()] : [];
    const pick = keep("guess-pick", () => h("select", { class: "input", name: "guess-pick", onChange: () => ui.rerender() }));
    pick.setAttribute("aria-label", t("games.guess.product"));
    const chosen = products.some((p) => p.id === pick.value) || pick.value === "-" ? pick.value : (products[0]?.id ?? "-");
    pick.replaceChildren(...products.map((p) => h("option", { value: p.id, selected: p.id === chosen }, titleOf(p, locale()))),
      h("option", { value: "-", selected: chosen === "-" }, t("games.guess.other_product")));
    pick.value = chosen;
    const item = shop?.products?.get(chosen) ?? null;
    const product = ui.input("guess-product", { placeholder: t("games.guess.product"), "aria-label": t("games.guess.product"), maxLength: 100 });
    const currency = keep("guess-currency", () => h("select", { class: "input", name: "guess-currency" }));
    currency.setAttribute("aria-label", t("games.guess.currency"));
    const cur = currency.value || products[0]?.currency || "USD";
    currency.replaceChildren(...[...new Set([cur, ...CURRENCIES])].map((c) => h("option", { value: c, selected: c === cur }, c)));
    currency.value = cur;
    const price = ui.input("guess-price", { placeholder: t("games.guess.price"), "aria-label": t("games.guess.price"), inputMode: "decimal" });
    rows.push(h("div", { class: "game-form" }, products.length ? pick : null, item ? null : [product, currency], price,
      button(t("games.guess.open"), () => {
        const code = item ? item.currency : currency.value;
        const minor = toMinor(price.value, code);
        if (!minor) return ui.toast?.(t("shopctl.bad_amount"));
        const name = item ? item.id : product.value.trim();
        if (!name) return ui.toast?.(t("games.guess.need_product"));
        act("guess.open", { product: name, price: minor, currency: code })
          .then((r) => { if (r) product.value = price.value = ""; });
      }, { kind: "primary", small: true })));
  }
  if (g.last_guess && !round) rows.push(guessResult(g.last_guess, named));
  return rows.length > 1 ? h("div", { class: "game", id: "game-guess" }, rows) : null;
}

function guessResult(r, named) {
  return h("div", { class: "game-result" },
    h("p", { class: "guess-reveal" }, t("games.guess.reveal", { product: named(r.product), amount: money(r.price, r.currency) })),
    r.winner ? h("p", {}, t("games.guess.winner", { name: iso(r.ranking[0]?.name ?? r.winner) })) : null,
    // The list numbers the rows (by rank: tied guesses share a number); the text does not.
    h("ol", { class: "guess-ranking" }, r.ranking.map((x) => h("li", { value: x.rank },
      t("games.guess.row", { name: iso(x.name), amount: money(x.amount, r.currency), off: money(x.off_by, r.currency) })))));
}

// ---------------------------------------------------------------- giveaway
function ruleText(l) {
  const base = t(`games.lottery.rule.${l.rule}`);
  return l.rule === "tier" ? `${base}: ${t(`tier.${l.tier}`)}` : base;
}

/** "VIP 3 · Active 2 · New 1": tickets per tier of a weighted giveaway, or null. */
export function ticketsText(weights, tierName = (tier) => t(`tier.${tier}`)) {
  const entries = Object.entries(weights ?? {});
  if (!entries.length) return null;
  return entries.map(([tier, n]) => `${tierName(tier)} ${formatNumber(n)}`).join(" · ");
}

/** Whether the viewer is among a draw's entrants ("in"/"out"), or null for staff, who
 *  never enter (docs/engagement.md: you can check that your own id is in the list). */
export function entrantCheck(draw, you, role) {
  if (role !== "listener") return null;
  return draw.entrants.includes(you) ? "in" : "out";
}

function lotteryBlock(st, ui, act, host) {
  const g = st.games;
  const rows = [h("h3", { class: "game-title" }, t("games.lottery.title"))];
  const l = g.lottery;
  if (l) {
    rows.push(h("p", { class: "game-question" }, h("bdi", {}, l.prize)));
    rows.push(h("p", {}, t("games.lottery.rule_line", { rule: ruleText(l) })));
    if (l.rule === "chat") rows.push(h("p", { class: "notice" }, t("games.lottery.enter_chat", { keyword: iso(l.keyword) })));
    rows.push(h("p", { class: "lottery-winners" }, t("games.lottery.winners_line", { n: formatNumber(l.winners) })));
    const tickets = ticketsText(l.weights);
    if (tickets) rows.push(h("p", { class: "lottery-tickets" }, t("games.lottery.tickets_line", { list: tickets })));
    rows.push(h("p", { class: "muted seal", title: l.commitment }, t("games.lottery.seal", { hash: l.commitment.slice(0, 16) + "…" })));
    if (host) {
      rows.push(h("div", { class: "btn-row" },
        button(t("games.lottery.draw"), () => act("lottery.draw"), { kind: "primary", small: true }),
        button(t("games.lottery.cancel"), () => act("lottery.cancel"), { small: true })));
    }
  } else if (host) {
    const prize = ui.input("lot-prize", { placeholder: t("games.lottery.prize"), maxLength: 100 });
    const rule = keep("lot-rule", () => h("select", { class: "input", onChange: () => ui.rerender() }));
    rule.setAttribute("aria-label", t("games.lottery.rule_label")); // words, never the id "rule"
    const value = rule.value || "room";
    rule.replaceChildren(...RULES.map((r) => h("option", { value: r, selected: r === value }, t(`games.lottery.rule.${r}`))));
    rule.value = value;
    const keyword = ui.input("lot-keyword", { placeholder: t("games.lottery.keyword"), maxLength: 40 });
    const tier = keep("lot-tier", () => h("select", { class: "input" }));
    tier.setAttribute("aria-label", t("games.lottery.tier_label"));
    const tierValue = tier.value || "vip";
    tier.replaceChildren(...Object.keys(g.tiers ?? { vip: 1 }).map((x) => h("option", { value: x, selected: x === tierValue }, t(`tier.${x}`))));
    const winners = ui.input("lot-winners", { placeholder: t("games.lottery.winners"), type: "number", min: "1", max: "100", value: "1" });
    const weighted = keep("lot-weighted", () => h("input", { type: "checkbox" }));
    rows.push(h("div", { class: "game-form" }, prize, rule,
      value === "chat" ? keyword : null, value === "tier" ? tier : null,
      h("label", { class: "inline" }, t("games.lottery.winners"), " ", winners),
      h("label", { class: "inline" }, weighted, " ", t("games.lottery.weighted")),
      button(t("games.lottery.open"), () => {
        const body = { prize: prize.value.trim(), rule: value, winners: Number.parseInt(winners.value, 10) || 1, weighted: weighted.checked };
        if (value === "chat") body.keyword = keyword.value.trim();
        if (value === "tier") body.tier = tier.value;
        act("lottery.open", body).then((r) => { if (r) prize.value = ""; });
      }, { kind: "primary", small: true })));
  }
  if (g.last_draw && !l) rows.push(drawResult(st, g.last_draw, ui));
  else if (g.cancelled && !l && !g.last_draw) rows.push(h("p", { class: "muted" }, t("games.lottery.cancelled")));
  return rows.length > 1 ? h("div", { class: "game", id: "game-lottery" }, rows) : null;
}

function drawResult(st, d, ui) {
  const v = st.games.verified;
  if (!v[d.id]) {
    v[d.id] = "checking";
    verifyDraw(d, st.games.seen_commitment?.[d.id] ?? null)
      .then((problems) => { v[d.id] = problems.length ? "failed" : "ok"; if (problems.length) console.warn("voiceroom: draw", problems); })
      .catch((err) => { v[d.id] = "failed"; console.warn("voiceroom: draw", err); })
      .finally(() => ui.rerender());
  }
  const state = v[d.id];
  const won = d.winners.includes(st.you.user);
  return h("div", { class: "game-result draw-result" },
    won ? h("p", { class: "notice you-won" }, t("games.lottery.you_won", { prize: iso(d.prize) })) : null,
    h("p", {}, t("games.lottery.drawn", { prize: iso(d.prize), n: d.winners.length, entrants: d.entrants.length })),
    d.winners.length
      ? h("p", { class: "winners" }, t("games.lottery.winner_list", { names: list(d.winner_names.map(iso)) }))
      : h("p", { class: "muted" }, t("games.lottery.no_winner")),
    h("p", { class: ["verify", `verify-${state}`], dataset: { verify: state } },
      t(state === "ok" ? "games.lottery.verified" : state === "failed" ? "games.lottery.verify_failed" : "games.lottery.checking")),
    h("p", { class: "muted seal" }, t("games.lottery.seal", { hash: d.commitment.slice(0, 16) + "…" })),
    drawDetails(st, d),
    // The same check, outside the page: `voiceroom verify-draw draw-N.json`.
    h("a", { class: "btn btn-sm btn-secondary", download: `draw-${d.id}.json`, href: drawHref(d) }, t("games.lottery.download")));
}

const openDraws = new Set(); // draw ids whose details the viewer opened
/** What the page verified, for anyone to read: the seed, the tickets and every entrant,
 *  and whether the viewer is one of them. Folded: a long list is not the headline. */
function drawDetails(st, d) {
  const mine = entrantCheck(d, st.you.user, st.role);
  const tickets = d.tickets.some((n) => n !== 1);
  // The page re-renders on every event: an opened list stays open.
  return h("details", { class: "draw-details", open: openDraws.has(d.id),
    onToggle: (e) => { if (e.target.open) openDraws.add(d.id); else openDraws.delete(d.id); } },
    h("summary", {}, t("games.lottery.details")),
    mine ? h("p", { class: mine === "in" ? "notice" : "muted", dataset: { entrant: mine } },
      t(mine === "in" ? "games.lottery.you_entered" : "games.lottery.you_not_entered")) : null,
    h("p", { class: "seal" }, t("games.lottery.seed_full", { seed: d.seed })),
    h("p", { class: "seal" }, t("games.lottery.commitment_full", { hash: d.commitment })),
    h("p", {}, t("games.lottery.entrants_label", { n: formatNumber(d.entrants.length) })),
    h("ol", { class: "entrants" }, d.entrants.map((id, i) =>
      h("li", { class: id === st.you.user ? "you" : null },
        h("bdi", {}, id), tickets ? ` ×${formatNumber(d.tickets[i])}` : null))));
}

const hrefs = new Map(); // one object URL per draw, not one per render
function drawHref(d) {
  if (!hrefs.has(d.id)) {
    const blob = new Blob([JSON.stringify({ type: "lottery.drawn", body: d }, null, 2)], { type: "application/json" });
    hrefs.set(d.id, URL.createObjectURL(blob));
  }
  return hrefs.get(d.id);
}

// ---------------------------------------------------------------- prompts and market
/** The details a prompt's text uses that are still blank (the server refuses those too). */
export function missingParams(id, params) {
  return (PROMPTS[id] ?? []).filter((name) => !String(params?.[name] ?? "").trim());
}

/** A prompt detail's field: named by its own words ("Minutes (1-600)"), minutes a number
 *  (the server refuses "five"), a product picked from the shop when it has any.
 *  {els: what to show, input: what to focus, read: the value to send}. */
function promptField(ui, name, shop) {
  const label = t(`games.prompt.param.${name}`);
  const single = (el) => ({ els: [el], input: el, read: () => el.value });
  if (name === "minutes") {
    return single(ui.input("prompt-minutes", { label, placeholder: label, type: "number", min: "1", max: String(MAX_PROMPT_MINUTES), step: "1", inputMode: "numeric" }));
  }
  const text = ui.input(`prompt-${name}`, { label, placeholder: label, maxLength: 100 });
  const products = name === "product" && shop ? [...shop.products.values()] : [];
  if (!products.length) return single(text);
  const pick = keep("prompt-product-pick", () => h("select", { class: "input", name: "prompt-product", onChange: () => ui.rerender() }));
  pick.setAttribute("aria-label", label);
  const chosen = products.some((p) => p.id === pick.value) || pick.value === "-" ? pick.value : products[0].id;
  pick.replaceChildren(...products.map((p) => h("option", { value: p.id, selected: p.id === chosen }, titleOf(p, locale()))),
    h("option", { value: "-", selected: chosen === "-" }, t("games.prompt.other_product")));
  pick.value = chosen;
  // The value sent: the product's id, or the name typed for another one.
  return chosen === "-"
    ? { els: [pick, text], input: text, read: () => text.value }
    : { els: [pick], input: pick, read: () => pick.value };
}

/** The minutes a prompt may name (voiceroom/games/prompts.py MAX_MINUTES). */
export const MAX_PROMPT_MINUTES = 600;

/** A prompt's "minutes" as the server takes it: a whole number 1..600, else null. */
export function promptMinutes(text) {
  const s = String(text ?? "").trim();
  if (!/^[0-9]{1,3}$/.test(s)) return null;
  const n = Number(s);
  return n >= 1 && n <= MAX_PROMPT_MINUTES ? String(n) : null;
}

function promptSender(st, ui, act, shop) {
  const select = keep("prompt-id", () => h("select", { class: "input", onChange: () => ui.rerender() }));
  select.setAttribute("aria-label", t("games.prompt.pick"));
  const id = select.value || "raise_hand_invite";
  select.replaceChildren(...Object.keys(PROMPTS).map((p) => h("option", { value: p, selected: p === id }, t(`games.prompt.name.${p}`))));
  select.value = id;
  const fields = PROMPTS[id].map((name) => [name, promptField(ui, name, shop)]);
  const inputs = fields.map(([name, f]) => [name, f.input, f]);
  const later = ui.input("prompt-later", { placeholder: t("games.prompt.in_minutes"), type: "number", min: "1", max: "10080" });
  const queued = st.games.scheduled_prompts ?? [];
  return h("div", { class: "game", id: "game-prompt" },
    h("h3", { class: "game-title" }, t("games.prompt.title")),
    h("div", { class: "game-form" }, select, fields.map(([, f]) => f.els), later,
      button(t("games.prompt.send"), () => {
        const params = Object.fromEntries(inputs.map(([n, , f]) => [n, f.read().trim()]).filter(([, v]) => v));
        if ("minutes" in params) params.minutes = promptMinutes(params.minutes) ?? "";
        const missing = missingParams(id, params);
        for (const [n, el] of inputs) el.toggleAttribute("aria-invalid", missing.includes(n));
        if (missing.length) {
          inputs.find(([n]) => n === missing[0])[1].focus();
          return ui.toast?.(t("games.prompt.missing"));
        }
        const minutes = Number.parseFloat(later.value);
        // The server fires it by its own clock; ours only has to be within a minute of it.
        if (minutes > 0) act("prompt.schedule", { id, params, at: Date.now() / 1000 + minutes * 60 }).then((r) => { if (r) later.value = ""; });
        else act("prompt.send", { id, params });
      }, { kind: "primary", small: true })),
    queued.length ? h("ul", { class: "muted scheduled" }, queued.map((x) => h("li", {},
      t("games.prompt.scheduled_at", { name: t(`games.prompt.name.${x.id}`), time: fmtIn(undefined, x.at, { timeStyle: "short" }) })))) : null);
}

function fmtIn(zone, epoch, opts = { dateStyle: "medium", timeStyle: "short" }) {
  try {
    return new Intl.DateTimeFormat(locale(), { ...opts, timeZone: zone }).format(epoch * 1000);
  } catch {
    return "";
  }
}

function marketBlock(st, ui, act, now) {
  const zone = st.games.market_zone ?? "UTC";
  const rows = [h("h3", { class: "game-title" }, t("games.market.title")),
    h("p", { class: "muted" }, t("games.market.now", { zone: iso(zone), time: fmtIn(zone, now, { timeStyle: "short" }) }))];
  if (st.showStartsAt && st.phase === "warmup") {
    rows.push(h("p", {}, t("games.market.starts", {
      local: fmtIn(undefined, st.showStartsAt), market: fmtIn(zone, st.showStartsAt, { timeStyle: "short" }), zone: iso(zone),
    })));
  }
  if (st.role === "host") {
    const input = ui.input("market-zone", { placeholder: t("games.market.zone"), maxLength: 64 });
    rows.push(h("div", { class: "btn-row" }, input, button(t("games.market.set"), () => act("market.set", { zone: input.value.trim() }), { small: true })));
  }
  return h("div", { class: "game", id: "game-market" }, rows);
}

// ---------------------------------------------------------------- leaderboard
function boardCard(st) {
  const g = st.games;
  const boards = Object.entries(g.leaderboard ?? {});
  const mine = g.your_points ? h("p", { class: "muted" }, t("games.board.you", { n: g.your_points })) : null;
  return card("leaderboard", t("games.board.title"),
    boards.some(([, top]) => top.length)
      ? h("div", { class: "boards" }, boards.map(([name, top]) => h("div", { class: "board" },
        h("h3", { class: "game-title" }, t(`games.board.${name}`)),
        h("ol", { class: "board-list" }, top.map((e) => h("li", { class: "board-row" },
          h("span", { class: "board-rank" }, formatNumber(e.rank)),
          person(e.user, e.name, memberTier(st, e.user)),
          h("span", { class: "board-points" }, t("games.board.points", { n: e.points }))))))))
      : empty(t("games.board.empty")),
    mine);
}

function memberTier(st, user) {
  if (user === st.you.user) return st.you.tier;
  return st.members.get(user)?.tier ?? st.seats.find((s) => s.user === user)?.tier ?? null;
}

