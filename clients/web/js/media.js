// WebRTC audio, as the media plane expects it (voiceroom/media): one audio transceiver,
// sendrecv, negotiated once up front even for a listener (the sender simply has no track),
// non-trickle ICE (the whole offer goes in one `media.offer`). Taking the mic later is a
// `replaceTrack`, never a renegotiation, so promotion and 1v1 switches cost no set-up time.
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
const ICE_REFRESH_MARGIN = 300_000; // ask for new TURN credentials this long before expiry

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

  get connected() {
    return ["connected", "connecting", "new"].includes(this.pc?.connectionState);
  }

  /** Negotiate (again) if there is no live peer connection. */
  async ensureConnected() {
    if (this.pc && this.connected) return;
    this.pc?.close();
    if (this.ice.expiresAt !== null && this.ice.expiresAt * 1000 - Date.now() < 30_000) {
      await this.refreshIce().catch(() => undefined);
    }
    // No servers: the server's own address is reachable directly.
    const pc = new RTCPeerConnection({ iceServers: this.ice.servers, iceTransportPolicy: this.ice.policy });
    this.pc = pc;
    const transceiver = pc.addTransceiver("audio", { direction: "sendrecv" });
    this.sender = transceiver.sender;
    if (this.micTrack) await this.sender.replaceTrack(this.micTrack);
    pc.ontrack = (e) => this.playRemote(e.streams[0] ?? new MediaStream([e.track]));
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      this.emit("state", { connection: pc.connectionState });
    };
    await pc.setLocalDescription(await pc.createOffer());
    await iceGatheringComplete(pc, this.ice.servers.length ? ICE_GATHER_TIMEOUT_TURN : ICE_GATHER_TIMEOUT);
    const { sdp } = await this.session.request("media.offer", { sdp: pc.localDescription.sdp });
    if (pc !== this.pc) return; // replaced while we waited
    await pc.setRemoteDescription({ type: "answer", sdp });
  }

  close() {
    clearTimeout(this.iceTimer);
    this.pc?.close();
    this.pc = null;
    this.setMicWanted(false);
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
      await this.sender?.replaceTrack(null);
      this.micTrack?.stop(); // release the device: the browser's recording dot goes away
      this.micTrack = null;
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
    await this.sender?.replaceTrack(track);
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
