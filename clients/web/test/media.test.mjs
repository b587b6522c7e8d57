// The page's media plane without a browser: only the decisions, with a stand-in peer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Media } from "../js/media.js";

function media() {
  const m = new Media(new EventTarget(), null);
  const calls = { offers: 0, closed: 0 };
  m.negotiate = async () => { calls.offers += 1; };
  m.pc = { connectionState: "connected", remoteDescription: { sdp: "v=0" }, close() { calls.closed += 1; } };
  return { m, calls };
}

test("a connected peer is kept by a welcome; one the server no longer holds is replaced at once", async () => {
  const { m, calls } = media();
  await m.ensureConnected(); // an ordinary resume: the UDP path outlived the socket
  assert.equal(calls.offers, 0);
  m.forgetPeer("the server holds no media peer for this page");
  assert.equal(calls.closed, 1);
  assert.equal(m.pc, null);
  await m.ensureConnected(); // no backoff wait: the offer goes out now
  assert.equal(calls.offers, 1);
  m.forgetPeer("again"); // nothing to forget: no second close
  assert.equal(calls.closed, 1);
});
