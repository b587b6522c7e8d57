// WebRTC audio, as the media plane expects it (voiceroom/media): one audio transceiver,
// sendrecv, negotiated once up front even for a listener (the sender simply has no track),
// non-trickle ICE (the whole offer goes in one `media.offer`). Taking the mic later is a
// `replaceTrack`, never a renegotiation, so promotion and 1v1 switches cost no set-up time.
//
// Negotiation is checked, not hoped for (docs/protocol.md 3.4): an offer goes out only
// with at least one candidate (with TURN, the relay allocation may outlast the first gather
// wait); a refused or unanswered offer, ICE that fails, or a connection still not up
// CONNECT_TIMEOUT after the answer, each lead to a fresh offer on a fresh RTCPeerConnection
// (the server replaces this member's peer), with backoff, while the session is open.
//
// STUN/TURN: the servers and policy `welcome.session` hands out (ice_servers,
// ice_transport_policy: "relay" means TURN relays only), refreshed with `media.ice` before
// time-limited TURN credentials expire (docs/protocol.md 4.1).
//
// Events (CustomEvent): "state" [{connection}],
// "mic" [{state: off|live|denied|insecure|error, error}], "autoplay" [{blocked: bool}].

// Timeouts (ms)
const ICE_GATHER_TIMEOUT = 3000; // host candidates on a LAN take milliseconds; never hang
const ICE_GATHER_TIMEOUT_TURN = 6000; // a TURN allocation is a round trip or two more
const ICE_GATHER_MAX = 15000; // no candidate at all by then: this offer cannot connect
const ICE_REFRESH_MARGIN = 300_000; // ask for new TURN credentials this long before expiry
export const CONNECT_TIMEOUT = 15000; // answer -> ICE+DTLS connected, else negotiate again
const RETRY_FIRST = 1000; // then doubled per failure in a row, up to RETRY_MAX
const RETRY_MAX = 15000;

const MIC_CONSTRAINTS = {
  audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
};

export class Media extends EventTarget {
  constructor(session, audioEl) {
    super();
    this.session = session;
    this.audio = audioEl;
    this.pc = null;
    this.sender = null;
    this.micTrack = null;
    this.micWanted = false;
    this.muted = false;
    this.remoteStream = null;
    this.analyser = null;
    this.ice = { servers: [], policy: "all", expiresAt: null };
    this.iceTimer = null;
    this.negotiating = null; // the negotiation in flight (one at a time)
    this.watchdog = null; // CONNECT_TIMEOUT after an answer
    this.retryTimer = null;
    this.failures = 0; // negotiations in a row that did not connect
    this.offers = 0; // media.offer requests sent by this page (diagnostics, tests)
    this.closed = false;
    this.connectTimeout = CONNECT_TIMEOUT; // tests may shorten it
    session.addEventListener("welcome", ({ detail }) => this.setIce(detail.session ?? {}));
  }

  /** STUN/TURN from welcome.session or a media.ice reply; schedules the next refresh. */
  setIce(body) {
    this.ice = {
      servers: Array.isArray(body.ice_servers) ? body.ice_servers : [],
      policy: body.ice_transport_policy === "relay" ? "relay" : "all",
      expiresAt: typeof body.ice_expires_at === "number" ? body.ice_expires_at : null,
    };
    if (this.pc) {
      // New credentials for ICE restarts of the live connection; the policy cannot change.
      try { this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers: this.ice.servers }); }
      catch (err) { console.warn("voiceroom: setConfiguration failed", err); }
    }
    clearTimeout(this.iceTimer);
    if (this.ice.expiresAt === null) return;
    // As voiceroom.ice.refresh_delay: a margin before expiry, or at 80 % of a short life.
    const left = this.ice.expiresAt * 1000 - Date.now();
    const wait = Math.max(1000, left >= 2 * ICE_REFRESH_MARGIN ? left - ICE_REFRESH_MARGIN : 0.8 * left);
    this.iceTimer = setTimeout(() => this.refreshIce().catch(() => {
      this.iceTimer = setTimeout(() => this.refreshIce().catch(() => undefined), 10_000);
    }), wait);
  }

  async refreshIce() {
    this.setIce(await this.session.request("media.ice"));
  }

  /** A peer connection that is up, or on its way up after an answer. */
  get connected() {
    return ["connected", "connecting", "new"].includes(this.pc?.connectionState) && !!this.pc?.remoteDescription;
  }

  /** Negotiate (again) unless a peer connection is up or being set up. Rejects when this
   *  attempt fails; a new one is then already scheduled (with backoff). */
  async ensureConnected() {
    this.closed = false;
    if (this.negotiating) return this.negotiating;
    if (this.pc && this.connected) return undefined;
    clearTimeout(this.retryTimer);
    this.negotiating = this.negotiate().catch((err) => {
      this.scheduleRetry();
      throw err;
    }).finally(() => { this.negotiating = null; });
    return this.negotiating;
  }

  async negotiate() {
    clearTimeout(this.watchdog);
    this.pc?.close();
    this.pc = null;
    if (this.ice.expiresAt !== null && this.ice.expiresAt * 1000 - Date.now() < 30_000) {
      await this.refreshIce().catch(() => undefined);
    }
    // No servers: the server's own address is reachable directly.
    const pc = new RTCPeerConnection({ iceServers: this.ice.servers, iceTransportPolicy: this.ice.policy });
    this.pc = pc;
    const transceiver = pc.addTransceiver("audio", { direction: "sendrecv" });
    this.sender = transceiver.sender;
    if (this.micTrack) await this.attachMic();
    pc.ontrack = (e) => this.playRemote(e.streams[0] ?? new MediaStream([e.track]));
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      const state = pc.connectionState;
      if (state === "connected") {
        this.failures = 0;
        clearTimeout(this.watchdog);
      } else if (state === "failed") {
        this.renegotiate("ICE/DTLS failed");
      }
      this.emit("state", { connection: state });
    };
    try {
      await pc.setLocalDescription(await pc.createOffer());
      await iceGatheringComplete(pc, this.ice.servers.length ? ICE_GATHER_TIMEOUT_TURN : ICE_GATHER_TIMEOUT);
      if (!hasCandidate(pc.localDescription.sdp)) {
        // Relay only, a TURN allocation still on its way: an offer without candidates
        // could never connect (nothing is trickled later). Wait for the first one.
        await firstCandidate(pc, ICE_GATHER_MAX - ICE_GATHER_TIMEOUT_TURN);
        if (!hasCandidate(pc.localDescription.sdp)) throw new MediaSetupError("no ICE candidates (TURN server unreachable?)");
      }
      this.offers += 1;
      const { sdp } = await this.session.request("media.offer", { sdp: pc.localDescription.sdp });
      if (pc !== this.pc) return; // closed or replaced while we waited
      await pc.setRemoteDescription({ type: "answer", sdp });
    } catch (err) {
      if (pc === this.pc) {
        pc.close();
        this.pc = null;
      }
      throw err;
    }
    if (pc.connectionState !== "connected") {
      this.watchdog = setTimeout(() => {
        if (pc === this.pc && pc.connectionState !== "connected") this.renegotiate(`not connected ${this.connectTimeout} ms after the answer`);
      }, this.connectTimeout);
    }
  }

  /** The server holds no peer for this page any more (it, or the worker holding the room,
   *  restarted): the old one still looks connected here until ICE consent gives out
   *  (~30 s), so forget it; the caller's ensureConnected() then negotiates at once. */
  forgetPeer(why) {
    if (!this.pc) return;
    console.warn(`voiceroom: media: ${why}; negotiating again`);
    clearTimeout(this.watchdog);
    this.pc.close();
    this.pc = null;
  }

  /** Give up on the current peer connection and negotiate a new one, with backoff. */
  renegotiate(why) {
    if (this.closed) return;
    console.warn(`voiceroom: media: ${why}; negotiating again`);
    clearTimeout(this.watchdog);
    this.pc?.close();
    this.pc = null;
    this.scheduleRetry();
  }

  scheduleRetry() {
    if (this.closed) return;
    clearTimeout(this.retryTimer);
    const delay = Math.min(RETRY_MAX, RETRY_FIRST * 2 ** this.failures);
    this.failures += 1;
    this.retryTimer = setTimeout(() => {
      // Signalling down: the next welcome negotiates (app.js), nothing to do here.
      if (this.closed || !this.session.ws || this.session.ws.readyState !== WebSocket.OPEN) return;
      this.ensureConnected().catch((err) => console.warn("voiceroom: media set-up failed", err));
    }, delay);
  }

  close() {
    this.closed = true;
    clearTimeout(this.iceTimer);
    clearTimeout(this.watchdog);
    clearTimeout(this.retryTimer);
    this.pc?.close();
    this.pc = null;
    this.setMicWanted(false);
  }

  /** The mic on the current sender. A sender of a closed connection refuses it: no matter,
   *  the next negotiation attaches the track to its own sender. */
  async attachMic() {
    const sender = this.sender;
    try {
      await sender?.replaceTrack(this.micTrack);
    } catch (err) {
      if (sender === this.sender && this.pc) console.warn("voiceroom: replaceTrack failed", err);
    }
  }

  playRemote(stream) {
    this.remoteStream = stream;
    this.analyser = null;
    this.audio.srcObject = stream;
    this.resumePlayback();
  }

  /** Browsers refuse play() before a user gesture: report it so the page offers a button. */
  async resumePlayback() {
    try {
      await this.audio.play();
      this.emit("autoplay", { blocked: false });
    } catch (err) {
      if (err.name === "NotAllowedError") this.emit("autoplay", { blocked: true });
      else console.warn("voiceroom: audio play failed", err);
    }
  }

  /** Take the mic when the room lets this member speak, release it when not. */
  async setMicWanted(wanted) {
    if (wanted === this.micWanted) return;
    this.micWanted = wanted;
    if (!wanted) {
      const track = this.micTrack;
      this.micTrack = null;
      await this.attachMic();
      track?.stop(); // release the device: the browser's recording dot goes away
      this.emit("mic", { state: "off" });
      return;
    }
    if (!navigator.mediaDevices?.getUserMedia) {
      // Browsers give the microphone to https pages (and localhost) only. micWanted stays
      // true: asking again on every render cannot help (and would repeat the message).
      this.emit("mic", { state: window.isSecureContext ? "error" : "insecure" });
      return;
    }
    let track;
    try {
      const stream = await navigator.mediaDevices.getUserMedia(MIC_CONSTRAINTS);
      track = stream.getAudioTracks()[0];
    } catch (err) {
      this.micWanted = false;
      const denied = err.name === "NotAllowedError" || err.name === "SecurityError";
      this.emit("mic", { state: denied ? "denied" : "error", error: err });
      return;
    }
    if (!this.micWanted) { track.stop(); return; } // seat lost while the prompt was open
    track.enabled = !this.muted;
    this.micTrack = track;
    await this.attachMic();
    this.emit("mic", { state: "live" });
  }

  /** Local mute on top of the server's: no audio leaves this device while muted. */
  setMuted(muted) {
    this.muted = muted;
    if (this.micTrack) this.micTrack.enabled = !muted;
  }

  /** Strongest frequency (Hz) and its level (dBFS) in what we hear: for tests and meters. */
  remotePeak() {
    if (!this.remoteStream) return null;
    if (!this.analyser) {
      const ctx = new AudioContext();
      this.analyser = ctx.createAnalyser();
      this.analyser.fftSize = 4096;
      ctx.createMediaStreamSource(this.remoteStream).connect(this.analyser);
    }
    const bins = new Float32Array(this.analyser.frequencyBinCount);
    this.analyser.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    const hz = (best * this.analyser.context.sampleRate) / this.analyser.fftSize;
    return { hz, db: bins[best], contextState: this.analyser.context.state };
  }

  /** Inbound and outbound audio counters from WebRTC stats. */
  async stats() {
    const out = {};
    if (!this.pc) return out;
    (await this.pc.getStats()).forEach((r) => {
      if (r.type === "inbound-rtp" && r.kind === "audio") {
        Object.assign(out, { bytesReceived: r.bytesReceived, packetsReceived: r.packetsReceived,
          packetsLost: r.packetsLost, jitter: r.jitter, audioLevel: r.audioLevel });
      } else if (r.type === "outbound-rtp" && r.kind === "audio") {
        Object.assign(out, { bytesSent: r.bytesSent, packetsSent: r.packetsSent });
      }
    });
    return out;
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

class MediaSetupError extends Error {
  constructor(message) {
    super(message);
    this.code = "media_error";
  }
}

function hasCandidate(sdp) {
  return /^a=candidate:/m.test(sdp);
}

/** Resolves at the first local candidate (or gathering complete, or the timeout). */
function firstCandidate(pc, timeout) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icecandidate", done);
      pc.removeEventListener("icegatheringstatechange", done);
      resolve();
    };
    const timer = setTimeout(done, timeout);
    pc.addEventListener("icecandidate", done);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

function iceGatheringComplete(pc, timeout) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === "complete") done(); };
    const timer = setTimeout(done, timeout);
    pc.addEventListener("icegatheringstatechange", check);
  });
}
