// The Chromium side of weft's interop tests: plain RTCPeerConnection code,
// no library. run.mjs (through lib.mjs) calls window.weft.* with
// page.evaluate(); events the driver must react to at once (trickled
// candidates, channel closes) go out through window.__weftEvent, a function
// the driver exposes before loading this page.
'use strict';

(() => {
  const MiB = 1024 * 1024;
  const pcs = new Map(); // id -> entry (see newEntry)
  let nextId = 1;

  function emit(ev) {
    if (typeof window.__weftEvent === 'function') window.__weftEvent(JSON.stringify(ev)).catch(() => {});
  }

  function sleep(ms) {
    return new Promise((r) => setTimeout(r, ms));
  }

  // Resolves when pred() holds, checked on every event in `targets` and every 50 ms;
  // rejects with `what` after timeoutMs.
  function until(pred, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      if (pred()) return resolve();
      const t0 = performance.now();
      const iv = setInterval(() => {
        if (pred()) {
          clearInterval(iv);
          resolve();
        } else if (performance.now() - t0 > timeoutMs) {
          clearInterval(iv);
          reject(new Error(`timeout after ${timeoutMs} ms: ${what}`));
        }
      }, 20);
    });
  }

  function entry(id) {
    const e = pcs.get(id);
    if (!e) throw new Error(`no peer connection ${id}`);
    return e;
  }

  function newEntry(role) {
    const pc = new RTCPeerConnection({ iceServers: [] });
    const e = {
      id: nextId++,
      pc,
      role,
      created: performance.now(),
      channels: new Map(), // label -> dc
      openAt: new Map(), // label -> ms since created
      closedAt: new Map(),
      echoed: new Map(), // label -> {messages, bytes} (answerer)
      errors: [],
      remoteMaxMessageSize: null,
    };
    pc.onicecandidate = (ev) => {
      if (ev.candidate && ev.candidate.candidate) {
        emit({
          ev: 'candidate',
          id: e.id,
          candidate: ev.candidate.candidate,
          sdpMid: ev.candidate.sdpMid,
          sdpMLineIndex: ev.candidate.sdpMLineIndex,
        });
      } else if (!ev.candidate) {
        emit({ ev: 'end-of-candidates', id: e.id });
      }
    };
    pc.onconnectionstatechange = () => emit({ ev: 'pc-state', id: e.id, state: pc.connectionState });
    pcs.set(e.id, e);
    return e;
  }

  function track(e, dc) {
    dc.binaryType = 'arraybuffer';
    e.channels.set(dc.label, dc);
    const opened = () => {
      if (!e.openAt.has(dc.label)) e.openAt.set(dc.label, performance.now() - e.created);
    };
    if (dc.readyState === 'open') opened();
    dc.addEventListener('open', opened);
    dc.addEventListener('close', () => {
      e.closedAt.set(dc.label, performance.now() - e.created);
      emit({ ev: 'dc-closed', id: e.id, label: dc.label });
    });
    dc.addEventListener('error', (ev) => {
      const msg = ev.error ? `${ev.error.name}: ${ev.error.message}` : 'error event';
      e.errors.push(`channel ${dc.label}: ${msg}`);
    });
  }

  // Echoes every message back on the same channel, same type, in order.
  // Chromium refuses send() past 16 MiB queued and the echo direction can be
  // slower than the incoming one, so beyond 8 MiB buffered the echoes wait in
  // a JS queue, flushed from bufferedamountlow: nothing is dropped.
  const ECHO_HIGH = 8 * MiB;
  function echo(e, dc) {
    const stat = { messages: 0, bytes: 0, max_size: 0, text: 0, binary: 0, max_queued: 0 };
    e.echoed.set(dc.label, stat);
    const queue = [];
    let head = 0;
    const send = (d) => {
      try {
        dc.send(d);
      } catch (err) {
        e.errors.push(`echo on ${dc.label}: ${err.name}: ${err.message}`);
      }
    };
    const flush = () => {
      while (head < queue.length && dc.readyState === 'open' && dc.bufferedAmount < ECHO_HIGH) send(queue[head++]);
      if (head === queue.length) {
        queue.length = 0;
        head = 0;
      }
    };
    dc.bufferedAmountLowThreshold = ECHO_HIGH / 2;
    dc.addEventListener('bufferedamountlow', flush);
    dc.addEventListener('message', (m) => {
      const n = typeof m.data === 'string' ? utf8len(m.data) : m.data.byteLength;
      stat.messages++;
      stat.bytes += n;
      stat.max_size = Math.max(stat.max_size, n);
      if (typeof m.data === 'string') stat.text++;
      else stat.binary++;
      if (head < queue.length || dc.bufferedAmount + n > ECHO_HIGH) {
        queue.push(m.data);
        stat.max_queued = Math.max(stat.max_queued, queue.length - head);
      } else {
        send(m.data);
      }
    });
  }

  function gatheringComplete(pc, timeoutMs) {
    return until(() => pc.iceGatheringState === 'complete', timeoutMs, 'ICE gathering complete');
  }

  function maxMessageSize(sdp) {
    const m = /^a=max-message-size:(\d+)/m.exec(sdp || '');
    return m ? Number(m[1]) : null;
  }

  // ---- message patterns -------------------------------------------------

  const enc = new TextEncoder();
  function utf8len(s) {
    return enc.encode(s).length;
  }
  // 1-, 2-, 3- and 4-byte UTF-8 sequences, so every text of 4+ bytes is multi-byte.
  const ALPHA = ['a', 'é', '€', '😀', 'z', 'ж', '中', '𝄞', ' ', 'Q'];
  const ALPHA_LEN = ALPHA.map(utf8len);

  // A string of exactly n UTF-8 bytes derived from (channel, round, n).
  function textOf(n, ch, round) {
    const parts = [];
    let bytes = 0;
    let i = (ch * 7 + round * 3 + n) % ALPHA.length;
    while (bytes < n) {
      const k = i++ % ALPHA.length;
      if (bytes + ALPHA_LEN[k] <= n) {
        parts.push(ALPHA[k]);
        bytes += ALPHA_LEN[k];
      } else {
        parts.push('x');
        bytes += 1;
      }
    }
    return parts.join('');
  }

  function binaryOf(n, ch, round) {
    const b = new Uint8Array(n);
    const base = (ch * 7 + round * 13 + n) & 0xff;
    for (let i = 0; i < n; i++) b[i] = (base + i * 31 + (i >> 8)) & 0xff;
    return b;
  }

  function fnv(bytes) {
    let h = 0x811c9dc5;
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], 16777619) >>> 0;
    return h;
  }

  function keyOf(data) {
    if (typeof data === 'string') {
      const b = enc.encode(data);
      return `t${b.length}:${fnv(b)}`;
    }
    const b = data instanceof ArrayBuffer ? new Uint8Array(data) : data;
    return `b${b.length}:${fnv(b)}`;
  }

  function describe(data) {
    if (typeof data === 'string') return `text(${utf8len(data)} B)`;
    if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return `binary(${data.byteLength} B)`;
    return `unknown(${Object.prototype.toString.call(data)})`;
  }

  function same(expected, got) {
    if (typeof expected === 'string') return typeof got === 'string' && got === expected;
    if (!(got instanceof ArrayBuffer) || got.byteLength !== expected.byteLength) return false;
    const a = new Uint8Array(got);
    for (let i = 0; i < a.length; i++) if (a[i] !== expected[i]) return false;
    return true;
  }

  function sizeOf(data) {
    return typeof data === 'string' ? utf8len(data) : data.byteLength;
  }

  // Sends `msgs` on dc, pausing while more than 1 MiB is buffered (until
  // bufferedamountlow at 256 KiB), as echo-client does.
  async function sendAll(dc, msgs, deadline) {
    dc.bufferedAmountLowThreshold = 256 * 1024;
    for (const m of msgs) {
      while (dc.bufferedAmount > MiB) {
        if (dc.readyState !== 'open') throw new Error(`channel ${dc.label} is ${dc.readyState} while sending`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`send timeout on ${dc.label}: bufferedAmount stays ${dc.bufferedAmount}`);
        await new Promise((r) => {
          const t = setTimeout(r, Math.min(left, 200));
          dc.addEventListener(
            'bufferedamountlow',
            () => {
              clearTimeout(t);
              r();
            },
            { once: true },
          );
        });
      }
      dc.send(m);
    }
  }

  // The echo-client checks, run from this side on one open channel.
  async function checkChannel(dc, ch, { sizes, count, timeoutMs, quietMs }) {
    const ordered = dc.ordered && dc.maxRetransmits === null && dc.maxPacketLifeTime === null;
    const msgs = [];
    for (let r = 0; r < count; r++) {
      for (const n of sizes) {
        msgs.push(textOf(n, ch, r));
        msgs.push(binaryOf(n, ch, r));
      }
    }
    const res = {
      label: dc.label,
      id: dc.id,
      ordered,
      sent: 0,
      echoed: 0,
      lost: 0,
      bytes: 0,
      max_size: Math.max(...sizes),
      errors: [],
    };
    const outstanding = new Map(); // unordered: key -> copies not yet echoed
    if (!ordered) for (const m of msgs) outstanding.set(keyOf(m), (outstanding.get(keyOf(m)) || 0) + 1);
    let next = 0;
    let lastEcho = performance.now();
    const onMessage = (ev) => {
      lastEcho = performance.now();
      const d = ev.data;
      if (ordered) {
        if (next >= msgs.length) {
          res.errors.push(`extra echo ${describe(d)} after all ${msgs.length} came back`);
          return;
        }
        const exp = msgs[next];
        if (!same(exp, d)) {
          if (res.errors.length < 5)
            res.errors.push(`echo #${next}: expected ${describe(exp)}, got ${describe(d)}${sizeOf(d) === sizeOf(exp) ? ' with different content' : ''}`);
        } else {
          res.echoed++;
          res.bytes += sizeOf(d);
        }
        next++;
      } else {
        const k = keyOf(d);
        const left = outstanding.get(k);
        if (left === undefined) {
          if (res.errors.length < 5) res.errors.push(`echo ${describe(d)} equals no message sent`);
        } else if (left === 0) {
          if (res.errors.length < 5) res.errors.push(`echo ${describe(d)} arrived more often than sent`);
        } else {
          outstanding.set(k, left - 1);
          res.echoed++;
          res.bytes += sizeOf(d);
        }
      }
    };
    dc.addEventListener('message', onMessage);
    const deadline = performance.now() + timeoutMs;
    try {
      await sendAll(dc, msgs, deadline);
      res.sent = msgs.length;
      if (ordered) {
        await until(() => next >= msgs.length || dc.readyState !== 'open', deadline - performance.now(),
          `echoes on ${dc.label}`).catch(() => {});
        if (next < msgs.length)
          res.errors.push(`only ${next}/${msgs.length} echoes arrived (channel ${dc.readyState})`);
      } else {
        // Done when everything came back, or nothing came for quietMs after the
        // send buffer drained: the rest is lost.
        await until(() => res.echoed >= msgs.length ||
          (dc.bufferedAmount === 0 && performance.now() - lastEcho > quietMs),
          deadline - performance.now(), `echoes on ${dc.label}`).catch(() => {});
        res.lost = msgs.length - res.echoed;
        if (res.echoed === 0) res.errors.push(`no echo at all of ${msgs.length} messages`);
      }
    } catch (err) {
      res.sent = res.sent || msgs.length;
      res.errors.push(`${err.name}: ${err.message}`);
    } finally {
      dc.removeEventListener('message', onMessage);
    }
    return res;
  }

  // ---- throughput ----------------------------------------------------------

  // echo-client's method: sends msgSize binary messages for `seconds`, never
  // queueing one that would take bufferedAmount past 1 MiB (resumes from
  // bufferedamountlow at 512 KiB); the remote echoes; then waits for the last
  // echo. Goodput = echoed bytes / (last echo - first send).
  async function throughputOn(dc, seconds, msgSize, drainMs = 10000) {
    const buf = binaryOf(msgSize, 0, 0);
    let bytes = 0;
    let echoed = 0;
    let sent = 0;
    let lastEcho = 0;
    const onMessage = (ev) => {
      bytes += ev.data.byteLength;
      echoed++;
      lastEcho = performance.now();
    };
    dc.addEventListener('message', onMessage);
    dc.bufferedAmountLowThreshold = msgSize <= MiB / 2 ? MiB / 2 : Math.max(0, MiB - msgSize);
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    let sendError = null;
    const pump = () => {
      try {
        while (performance.now() < end && dc.readyState === 'open') {
          const b = dc.bufferedAmount;
          if (b && b + msgSize > MiB) break;
          dc.send(buf);
          sent++;
        }
      } catch (err) {
        sendError = `${err.name}: ${err.message}`;
      }
    };
    dc.addEventListener('bufferedamountlow', pump);
    pump();
    // A safety net: the low event alone could stall if it fired before the loop broke.
    const iv = setInterval(pump, 20);
    await sleep(seconds * 1000);
    clearInterval(iv);
    dc.removeEventListener('bufferedamountlow', pump);
    await until(() => echoed >= sent || dc.readyState !== 'open', drainMs, 'last throughput echo').catch(() => {});
    dc.removeEventListener('message', onMessage);
    const elapsed = ((lastEcho || performance.now()) - t0) / 1000;
    return {
      seconds: elapsed,
      bytes,
      sent,
      echoed,
      mb_per_s: bytes / elapsed / 1e6,
      msg_size: msgSize,
      error: sendError || (echoed < sent ? `only ${echoed}/${sent} echoes came back` : null),
    };
  }

  // ---- media -----------------------------------------------------------------

  // Plays every remote track of pc entry `e` in a <video> or <audio> element
  // of its own (Chromium only decodes, and an answerer relaying a received
  // audio track only sends, once the track plays somewhere).
  function playRemote(e, ev) {
    const t = ev.track;
    const mid = ev.transceiver ? ev.transceiver.mid : null;
    e.media.remote.push({ kind: t.kind, mid, id: t.id });
    const el = document.createElement(t.kind === 'video' ? 'video' : 'audio');
    el.id = `pc${e.id}-${t.kind}-${mid}`;
    el.autoplay = true;
    el.playsInline = true;
    if (t.kind === 'video') {
      // Shown at its own size, for the driver's screenshot.
      el.style.cssText = 'display:block;border:1px solid #888;margin:4px';
    }
    el.srcObject = new MediaStream([t]);
    document.body.appendChild(el);
    e.media.elements.push(el);
    el.play().catch((err) => e.errors.push(`playing remote ${t.kind}: ${err.name}: ${err.message}`));
  }

  function mediaState(e) {
    if (!e.media) {
      e.media = { local: null, remote: [], elements: [], codecPrefs: null };
      e.pc.addEventListener('track', (ev) => playRemote(e, ev));
    }
    return e.media;
  }

  // The receiver's video codecs with `mime` (e.g. "video/H264", packetization-mode=1
  // first) moved to the front, every other codec kept after them: the offer then
  // lists that codec first and the answerer picks it if it can.
  function preferCodec(mime) {
    const caps = RTCRtpReceiver.getCapabilities('video');
    if (!caps) throw new Error('RTCRtpReceiver.getCapabilities("video") returned null');
    const m = mime.toLowerCase();
    const isIt = (c) => c.mimeType.toLowerCase() === m;
    const pm1 = (c) => /packetization-mode=1/.test(c.sdpFmtpLine || '');
    const first = caps.codecs.filter(isIt).sort((a, b) => pm1(b) - pm1(a));
    if (!first.length) throw new Error(`Chromium's receiver has no ${mime} codec: ${caps.codecs.map((c) => c.mimeType).join(' ')}`);
    return [...first, ...caps.codecs.filter((c) => !isIt(c))];
  }

  // getUserMedia (the fake devices) and one sendrecv transceiver per track.
  async function addLocalMedia(e, { audio = true, video = true, preferVideo = null }) {
    const st = mediaState(e);
    const stream = await navigator.mediaDevices.getUserMedia({ audio, video });
    st.local = stream;
    for (const t of stream.getTracks()) {
      const tr = e.pc.addTransceiver(t, { direction: 'sendrecv', streams: [stream] });
      if (t.kind === 'video' && preferVideo) {
        const prefs = preferCodec(preferVideo);
        tr.setCodecPreferences(prefs);
        st.codecPrefs = prefs.slice(0, 3).map((c) => `${c.mimeType} ${c.sdpFmtpLine || ''}`.trim());
      }
    }
  }

  const INBOUND_KEYS = [
    'kind', 'mid', 'ssrc', 'packetsReceived', 'packetsLost', 'packetsDiscarded', 'bytesReceived', 'jitter',
    'nackCount', 'pliCount', 'firCount', 'framesReceived', 'framesDecoded', 'keyFramesDecoded', 'framesDropped',
    'framesPerSecond', 'frameWidth', 'frameHeight', 'freezeCount', 'totalFreezesDuration', 'decoderImplementation',
    'powerEfficientDecoder', 'totalSamplesReceived', 'concealedSamples', 'silentConcealedSamples',
    'concealmentEvents', 'insertedSamplesForDeceleration', 'removedSamplesForAcceleration', 'audioLevel',
    'totalAudioEnergy', 'jitterBufferEmittedCount', 'fecPacketsReceived', 'retransmittedPacketsReceived',
  ];
  const OUTBOUND_KEYS = [
    'kind', 'mid', 'ssrc', 'packetsSent', 'bytesSent', 'retransmittedPacketsSent', 'nackCount', 'pliCount',
    'firCount', 'framesEncoded', 'keyFramesEncoded', 'framesSent', 'frameWidth', 'frameHeight',
    'encoderImplementation', 'qualityLimitationReason', 'targetBitrate', 'active',
  ];
  const pick = (r, keys) => {
    const o = {};
    for (const k of keys) if (r[k] !== undefined) o[k] = r[k];
    return o;
  };

  // Per kind: the inbound-rtp and outbound-rtp of the (one) audio and video
  // stream, their codecs, and the remote-inbound-rtp (what the remote reported).
  async function mediaStats(e) {
    const s = await e.pc.getStats();
    const out = { audio: { inbound: null, outbound: null, remoteInbound: null }, video: { inbound: null, outbound: null, remoteInbound: null } };
    const codec = (r) => {
      const c = r.codecId ? s.get(r.codecId) : null;
      return c ? { mimeType: c.mimeType, payloadType: c.payloadType, sdpFmtpLine: c.sdpFmtpLine || '' } : null;
    };
    s.forEach((r) => {
      const k = r.kind || r.mediaType;
      if (!out[k]) return;
      if (r.type === 'inbound-rtp') out[k].inbound = { ...pick(r, INBOUND_KEYS), codec: codec(r) };
      else if (r.type === 'outbound-rtp') out[k].outbound = { ...pick(r, OUTBOUND_KEYS), codec: codec(r) };
      else if (r.type === 'remote-inbound-rtp')
        out[k].remoteInbound = pick(r, ['packetsLost', 'fractionLost', 'roundTripTime', 'jitter']);
    });
    // The selected pair: what Chromium counted as sent but discarded before
    // its socket (packetsDiscardedOnSend: its send queue was full), all kinds.
    s.forEach((r) => {
      if (r.type !== 'transport' || !r.selectedCandidatePairId) return;
      const p = s.get(r.selectedCandidatePairId);
      if (p) out.pair = pick(p, ['packetsSent', 'packetsReceived', 'packetsDiscardedOnSend', 'bytesDiscardedOnSend']);
    });
    return out;
  }

  // What the page shows of the remote video: drawn into a canvas, the share
  // of distinct colours and the luma spread (a blank or frozen-grey frame has
  // neither). For the weft-sends check that weft's pattern is on screen.
  function videoPicture(e) {
    const el = e.media.elements.find((x) => x.tagName === 'VIDEO');
    if (!el) return { error: 'no remote video element' };
    const w = el.videoWidth;
    const h = el.videoHeight;
    if (!w || !h) return { error: `remote video has no size yet (readyState ${el.readyState})`, id: el.id };
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.drawImage(el, 0, 0, w, h);
    const px = g.getImageData(0, 0, w, h).data;
    let sum = 0;
    let sum2 = 0;
    const colours = new Set();
    const n = w * h;
    for (let i = 0; i < px.length; i += 4) {
      const y = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
      sum += y;
      sum2 += y * y;
      colours.add(((px[i] >> 4) << 8) | ((px[i + 1] >> 4) << 4) | (px[i + 2] >> 4));
    }
    const mean = sum / n;
    return {
      id: el.id,
      width: w,
      height: h,
      currentTime: el.currentTime,
      paused: el.paused,
      lumaMean: mean,
      lumaStd: Math.sqrt(Math.max(0, sum2 / n - mean * mean)),
      colours: colours.size,
    };
  }

  // ---- the API the driver calls ------------------------------------------

  window.weft = {
    // An offerer pc with the given channels ([{label, options}]) and, if asked,
    // a negotiated channel {id, label}. Non-trickle: returns once gathering is
    // complete (every candidate in the SDP); trickle: right after
    // setLocalDescription, candidates follow as 'candidate' events.
    // media: {audio, video, preferVideo} adds the fake camera/microphone as
    // sendrecv transceivers (before the channels: m= order audio, video, data)
    // and plays what comes back.
    async offer({ channels = [], negotiated = null, trickle = false, media = null, timeoutMs = 10000 } = {}) {
      const e = newEntry('offerer');
      if (media) await addLocalMedia(e, media);
      for (const c of channels) track(e, e.pc.createDataChannel(c.label, c.options || {}));
      if (negotiated) {
        track(e, e.pc.createDataChannel(negotiated.label || 'negotiated', { negotiated: true, id: negotiated.id }));
      }
      await e.pc.setLocalDescription(await e.pc.createOffer());
      if (!trickle) await gatheringComplete(e.pc, timeoutMs);
      return { id: e.id, sdp: e.pc.localDescription.sdp };
    },

    async setAnswer(id, sdp) {
      const e = entry(id);
      e.remoteMaxMessageSize = maxMessageSize(sdp);
      await e.pc.setRemoteDescription({ type: 'answer', sdp });
      return { max_message_size: e.remoteMaxMessageSize };
    },

    // c = {candidate, sdpMid, sdpMLineIndex}; c.candidate === '' means end-of-candidates.
    async addCandidate(id, c) {
      await entry(id).pc.addIceCandidate(c);
    },

    // An answerer pc that echoes every channel the remote opens, plus a
    // negotiated echo channel (id 42, "negotiated" unless told otherwise).
    // Returns once gathering is complete.
    // media: 'echo' plays every received track and sends it back on the same
    // (sendrecv) transceiver, re-encoded by Chromium.
    async answer(offerSdp, { negotiated = { id: 42, label: 'negotiated' }, media = null, timeoutMs = 10000 } = {}) {
      const e = newEntry('answerer');
      if (media) mediaState(e);
      e.pc.ondatachannel = (ev) => {
        track(e, ev.channel);
        echo(e, ev.channel);
      };
      if (negotiated) {
        const dc = e.pc.createDataChannel(negotiated.label, { negotiated: true, id: negotiated.id });
        track(e, dc);
        echo(e, dc);
      }
      e.remoteMaxMessageSize = maxMessageSize(offerSdp);
      await e.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
      if (media === 'echo') {
        for (const t of e.pc.getTransceivers()) {
          if (!t.receiver.track || t.currentDirection === 'stopped') continue;
          t.direction = 'sendrecv';
          await t.sender.replaceTrack(t.receiver.track);
        }
      }
      await e.pc.setLocalDescription(await e.pc.createAnswer());
      await gatheringComplete(e.pc, timeoutMs);
      return { id: e.id, sdp: e.pc.localDescription.sdp };
    },

    // Waits until every channel of an offerer pc is open. connect_ms: from pc
    // creation to the last channel open.
    async waitOpen(id, timeoutMs = 15000) {
      const e = entry(id);
      const labels = [...e.channels.keys()];
      try {
        await until(() => labels.every((l) => e.openAt.has(l)), timeoutMs, 'data channels open');
      } catch (err) {
        const st = labels.map((l) => `${l}:${e.channels.get(l).readyState}`).join(' ');
        throw new Error(`${err.message} (pc ${e.pc.connectionState}, ice ${e.pc.iceConnectionState}, ${st})`);
      }
      const open = labels.map((l) => e.openAt.get(l));
      return { connect_ms: Math.max(...open), open_ms: open };
    },

    // Runs the message checks on the given channels (default: all) at once.
    async check(id, { labels = null, sizes, count = 3, timeoutMs = 30000, quietMs = 1500 } = {}) {
      const e = entry(id);
      const ls = labels || [...e.channels.keys()];
      const results = await Promise.all(
        ls.map((l, ch) => {
          const dc = e.channels.get(l);
          if (!dc) return { label: l, errors: [`no channel ${l}`] };
          if (dc.readyState !== 'open') return { label: l, errors: [`channel ${l} is ${dc.readyState}`] };
          return checkChannel(dc, ch, { sizes, count, timeoutMs, quietMs });
        }),
      );
      return { channels: results, errors: e.errors.slice() };
    },

    async closeChannel(id, label, timeoutMs = 5000) {
      const e = entry(id);
      const dc = e.channels.get(label);
      if (!dc) throw new Error(`no channel ${label} on pc ${id}`);
      const t0 = performance.now();
      dc.close();
      await until(() => dc.readyState === 'closed', timeoutMs, `channel ${label} closed`);
      return { ms: performance.now() - t0 };
    },

    closePc(id) {
      const e = entry(id);
      e.pc.close();
      if (e.media) {
        if (e.media.local) for (const t of e.media.local.getTracks()) t.stop();
        // The next session's screenshot shows only its own video.
        for (const el of e.media.elements) {
          el.srcObject = null;
          el.remove();
        }
      }
      return { errors: e.errors.slice() };
    },

    info(id) {
      const e = entry(id);
      const ch = {};
      for (const [l, dc] of e.channels) {
        ch[l] = {
          id: dc.id,
          state: dc.readyState,
          ordered: dc.ordered,
          max_retransmits: dc.maxRetransmits,
          max_packet_life_time: dc.maxPacketLifeTime,
          negotiated: dc.negotiated,
          protocol: dc.protocol,
          open_ms: e.openAt.get(l) ?? null,
          closed_ms: e.closedAt.get(l) ?? null,
          echoed: e.echoed.get(l) || null,
        };
      }
      return {
        role: e.role,
        connection: e.pc.connectionState,
        ice: e.pc.iceConnectionState,
        signaling: e.pc.signalingState,
        channels: ch,
        errors: e.errors.slice(),
        remote_max_message_size: e.remoteMaxMessageSize,
      };
    },

    async mediaStats(id) {
      return JSON.parse(JSON.stringify(await mediaStats(entry(id))));
    },

    // The offer's/answer's media as this page set it up, and the remote tracks seen.
    mediaInfo(id) {
      const e = entry(id);
      const m = e.media || { local: null, remote: [], elements: [], codecPrefs: null };
      return {
        local: m.local ? m.local.getTracks().map((t) => ({ kind: t.kind, label: t.label, state: t.readyState })) : [],
        remote: m.remote,
        codecPrefs: m.codecPrefs,
        elements: m.elements.map((el) => ({ id: el.id, tag: el.tagName, paused: el.paused, currentTime: el.currentTime, readyState: el.readyState })),
        transceivers: e.pc.getTransceivers().map((t) => ({ mid: t.mid, direction: t.direction, currentDirection: t.currentDirection })),
        errors: e.errors.slice(),
      };
    },

    // Stops sending on every sender (replaceTrack(null)): no more RTP goes
    // out, so counts read after it can be compared with the remote's.
    async pauseSending(id) {
      const e = entry(id);
      for (const t of e.pc.getTransceivers()) if (t.sender.track) await t.sender.replaceTrack(null);
    },

    videoPicture(id) {
      return videoPicture(entry(id));
    },

    codecCapabilities() {
      const f = (caps) => (caps ? caps.codecs.map((c) => `${c.mimeType} ${c.sdpFmtpLine || ''}`.trim()) : null);
      return {
        receiverVideo: f(RTCRtpReceiver.getCapabilities('video')),
        senderVideo: f(RTCRtpSender.getCapabilities('video')),
        receiverAudio: f(RTCRtpReceiver.getCapabilities('audio')),
      };
    },

    // The selected pair and DTLS parameters, from getStats().
    async stats(id) {
      const s = await entry(id).pc.getStats();
      const out = { transport: null, pair: null, local: null, remote: null };
      s.forEach((r) => {
        if (r.type === 'transport') out.transport = r;
      });
      if (out.transport && out.transport.selectedCandidatePairId) {
        out.pair = s.get(out.transport.selectedCandidatePairId) || null;
        if (out.pair) {
          out.local = s.get(out.pair.localCandidateId) || null;
          out.remote = s.get(out.pair.remoteCandidateId) || null;
        }
      }
      return JSON.parse(JSON.stringify(out));
    },

    // Echo goodput on an open channel of an offerer pc (the remote echoes).
    async throughput(id, label, { seconds = 10, msgSize = 65536 } = {}) {
      const dc = entry(id).channels.get(label);
      if (!dc || dc.readyState !== 'open') throw new Error(`channel ${label} is not open`);
      return throughputOn(dc, seconds, msgSize, Math.max(30000, seconds * 3000));
    },

    // Chromium to Chromium in this page: two pcs, candidates handed over
    // directly, one reliable ordered channel, the answerer echoes.
    async throughputLocal({ seconds = 10, msgSize = 65536, timeoutMs = 15000 } = {}) {
      const t0 = performance.now();
      const a = new RTCPeerConnection({ iceServers: [] });
      const b = new RTCPeerConnection({ iceServers: [] });
      try {
        a.onicecandidate = (ev) => ev.candidate && b.addIceCandidate(ev.candidate).catch(() => {});
        b.onicecandidate = (ev) => ev.candidate && a.addIceCandidate(ev.candidate).catch(() => {});
        const eb = { echoed: new Map(), errors: [] };
        b.ondatachannel = (ev) => {
          ev.channel.binaryType = 'arraybuffer';
          echo(eb, ev.channel);
        };
        const dc = a.createDataChannel('throughput');
        dc.binaryType = 'arraybuffer';
        await a.setLocalDescription(await a.createOffer());
        await b.setRemoteDescription(a.localDescription);
        await b.setLocalDescription(await b.createAnswer());
        await a.setRemoteDescription(b.localDescription);
        await until(() => dc.readyState === 'open', timeoutMs, 'throughput channel open');
        const connectMs = performance.now() - t0;
        const r = await throughputOn(dc, seconds, msgSize, Math.max(30000, seconds * 3000));
        const errors = [r.error, ...eb.errors].filter(Boolean);
        return { ...r, error: errors.length ? errors.join('; ') : null, connect_ms: connectMs };
      } finally {
        a.close();
        b.close();
      }
    },
  };
})();
