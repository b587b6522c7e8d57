// The shop mirror and the money helpers: integer minor units in, exact text out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ShopState, decimalString, formatMoney, parseMinor, exponentOf, titleOf } from "../js/views/shop_state.js";
import { showcaseStock } from "../js/views/shop.js";

const product = { id: "dress", titles: { en: "Silk dress", ar: "فستان حرير" }, price: 19900, currency: "SAR", exponent: 2, stock: 10, sold: 0, url: "", image: "", options: [] };
const sale = { id: 1, product: "dress", price: 9900, list_price: 19900, currency: "SAR", exponent: 2, quantity: 5, left: 5, per_user_limit: 1, starts_at: 100, ends_at: 400, early_tier: null, early_until: 100, state: "open" };

test("snapshot and events", () => {
  const st = new ShopState();
  st.applySnapshot({ products: [product], showing: null, sales: [], your_claims: [], coupons: [], your_coupons: [], groups: [], your_groups: [], reservation_ttl: 900 });
  assert.equal(st.applyEvent("seat.updated", {}), false);
  st.applyEvent("product.showing", { product: "dress" });
  assert.equal(st.shown.id, "dress");
  st.applyEvent("sale.updated", { sale, reason: "opened" });
  st.applyEvent("sale.left", { sale: 1, left: 3 });
  st.applyEvent("sale.left", { sale: 1, left: 4 }); // a late, older value never raises it
  assert.equal(st.sales.get(1).left, 3);
  st.applyEvent("sale.claimed", { claim: { id: 7, sale: 1, quantity: 1, expires_at: 1000 } });
  st.applyEvent("sale.claimed", { claim: { id: 7, sale: 1, quantity: 1, expires_at: 1000 } });
  assert.equal(st.unitsClaimed(1), 1);
  assert.equal(st.saleOf("dress").id, 1);
  st.applyEvent("group.updated", { deal: { id: 1, state: "open", filling: { group: 1, joined: 1, size: 3 } }, reason: "started" });
  st.applyEvent("group.progress", { deal: 1, group: 1, joined: 2, size: 3 });
  assert.equal(st.deals.get(1).filling.joined, 2);
  st.applyEvent("group.status", { group: { deal: 1, group: 1, joined: 3, size: 3, state: "complete" }, reason: "completed" });
  assert.equal(st.myGroup(1).state, "complete");
});

test("money is formatted from integer minor units, exactly", () => {
  assert.equal(decimalString(19900, 2), "199.00");
  assert.equal(decimalString(5, 3), "0.005");
  assert.equal(decimalString(1999, 0), "1999");
  assert.equal(formatMoney(1999, "JPY", 0, "en"), "¥1,999");
  assert.equal(formatMoney(19900, "USD", 2, "en"), "$199.00");
  assert.match(formatMoney(1500, "KWD", 3, "en"), /^KWD\s1\.500$/); // NBSP between
  const ar = formatMoney(19900, "SAR", 2, "ar");
  assert.match(ar, /ر\.س/); // the riyal sign, in the Arabic locale's own pattern
  assert.match(ar, /(199|١٩٩)[.٫](00|٠٠)/); // Latin or Arabic-Indic digits, per ICU's data
  assert.equal(formatMoney(900719925474099, "USD", 2, "en"), "$9,007,199,254,740.99");
});

test("typed amounts become minor units or null", () => {
  assert.equal(parseMinor("199", 2), 19900);
  assert.equal(parseMinor("199.5", 2), 19950);
  assert.equal(parseMinor("١٩٩٫٥٠", 2), 19950);
  assert.equal(parseMinor("0.10", 2), 10);
  assert.equal(parseMinor("1.005", 2), null);
  assert.equal(parseMinor("1.5", 0), null);
  assert.equal(parseMinor("-3", 2), null);
  assert.equal(parseMinor("abc", 2), null);
  assert.equal(parseMinor("1,250.50", 2), 125050);
  assert.equal(parseMinor("١٬٢٥٠", 2), 125000);
  assert.equal(exponentOf("KWD"), 3);
  assert.equal(exponentOf("JPY"), 0);
  assert.equal(exponentOf("SAR"), 2);
});

test("titles fall back to English", () => {
  assert.equal(titleOf(product, "ar"), "فستان حرير");
  assert.equal(titleOf(product, "fr"), "Silk dress");
});

test("during a flash sale the showcase counts the sale's units, not the product's stock", () => {
  const st = new ShopState();
  st.applySnapshot({ products: [{ ...product, stock: 24 }], showing: "dress", sales: [{ ...sale, quantity: 1, left: 1 }] });
  assert.deepEqual(showcaseStock(st, st.shown), ["sale.left", { n: 1, total: 1 }]);
  st.applyEvent("sale.left", { sale: 1, left: 0 });
  assert.deepEqual(showcaseStock(st, st.shown), ["sale.left", { n: 0, total: 1 }]);
  st.applyEvent("sale.updated", { sale: { ...sale, quantity: 1, left: 0, state: "closed" }, reason: "closed" });
  assert.deepEqual(showcaseStock(st, st.shown), ["shop.stock_left", { n: 24 }]);
});
