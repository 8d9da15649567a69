// Media modes of the Chromium interop driver (issue 4; doc/interop.md, "Media").
//
//   media-echo        the page sends its fake camera and microphone to echo-server
//                     (VP8 + Opus, weft answers), plays what weft echoes back and
//                     checks Chromium's getStats(); a second case adds a data
//                     channel (audio + video + data in one BUNDLE), trickled
//   media-echo-h264   as media-echo, H264 preferred with setCodecPreferences
//   media-weft-sends  echo-client --media (libvpx VP8 + libopus) offers to the
//                     page, which answers and sends every received track back
//                     (re-encoded by Chromium); echo-client decodes the echo,
//                     the page's getStats() shows weft's stream decoded, and a
//                     screenshot of the page showing weft's test pattern is saved
//
// Imported by run.mjs, which owns the case bookkeeping (runCase) and Chromium.
import fs from 'node:fs';
import path from 'node:path';

import { PEER, TestFailure, autoSizes, log, offerToEndpoint, runEchoClient, sleep, startEchoServer } from './lib.mjs';

export const MEDIA_MODES = ['media-echo', 'media-echo-h264', 'media-weft-sends'];

// The fake camera (640x480, 20 fps here) and microphone (a beep), granted
// without a prompt, and remote audio allowed to play without a user gesture.
export const MEDIA_SWITCHES = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
];

// Firefox's: a fake camera (a moving colour pattern) and microphone (a tone).
export const MEDIA_PREFS = {
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
};

// What the issue asks of Chromium's inbound streams.
const MIN_VIDEO_DECODED = 100;
const MIN_AUDIO_PACKETS = 200;
// How long media flows once the first echoed packets arrived.
const MEDIA_SECONDS = 10;
// After the page stops sending: how long the last packets may take to come back.
const TAIL_MS = 1000;
// How long a packet Chromium counts as sent may take to be counted by weft:
// its way through loopback and weft's queues on a loaded machine (weft-sends).
const HANDOFF_MS = 500;

const fmt = (n, d = 1) => (typeof n === 'number' ? n.toFixed(d) : String(n));

// ---- SDP helpers ----------------------------------------------------------

// [{kind, port, pts, attrs: [lines], mid, dir}] per m= section.
export function sdpSections(sdp) {
  return (sdp || '')
    .split(/\r?\n(?=m=)/)
    .slice(1)
    .map((sec) => {
      const ls = sec.split(/\r?\n/).filter(Boolean);
      const f = ls[0].slice(2).split(' ');
      const attr = (name) => ls.filter((l) => l.startsWith(`a=${name}`)).map((l) => l.slice(2 + name.length));
      const dir = ls.find((l) => /^a=(sendrecv|sendonly|recvonly|inactive)$/.test(l));
      return {
        kind: f[0],
        port: Number(f[1]),
        proto: f[2],
        pts: f.slice(3),
        lines: ls,
        mid: (attr('mid:')[0] || null),
        dir: dir ? dir.slice(2) : null,
        rtpmap: (pt) => (attr(`rtpmap:${pt} `)[0] || null),
        fmtp: (pt) => (attr(`fmtp:${pt} `)[0] || null),
      };
    });
}

// The first (preferred) codec of a media section: "VP8/90000", "opus/48000/2"...
function firstCodec(sec) {
  if (!sec || !sec.pts.length) return null;
  return { pt: Number(sec.pts[0]), rtpmap: sec.rtpmap(sec.pts[0]), fmtp: sec.fmtp(sec.pts[0]) };
}

// ---- UDP drops in this network namespace ---------------------------------------

// Per local UDP port, the datagrams the kernel dropped because the socket's
// receive buffer was full (/proc/net/udp "drops"; the test runs in a netns
// of its own, so every socket listed is Chromium's or weft's). Tells a loss
// on loopback from a packet weft itself lost.
export function udpDrops() {
  const out = new Map();
  for (const f of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = fs.readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const l of text.split('\n').slice(1)) {
      const c = l.trim().split(/\s+/);
      if (c.length < 13) continue;
      const port = parseInt(c[1].split(':')[1], 16);
      out.set(port, (out.get(port) || 0) + Number(c[c.length - 1]));
    }
  }
  return out;
}

// "candidate:... udp PRIO 127.0.0.1 PORT typ ..." -> PORT
function candPort(c) {
  const f = (c || '').split(' ');
  return f.length > 5 ? Number(f[5]) : null;
}

// ---- page helpers -----------------------------------------------------------

async function mediaStats(b, id) {
  return b.eval(([i]) => window.weft.mediaStats(i), [id]);
}

// After the page stopped sending: the stats once nothing moves any more (the
// same RTP counts in two samples 500 ms apart, at most 6 s). Firefox, on a
// loaded machine, was seen to count one video packet more after the 1 s
// tail than when it was read (weft got 578 where the count said 577, and the
// last came too late to be echoed): a frame still on its way out.
async function settledStats(b, id) {
  const key = (s) => ['audio', 'video'].map((k) => `${s[k].outbound?.packetsSent}/${s[k].inbound?.packetsReceived}`).join(' ');
  let st = await mediaStats(b, id);
  const end = performance.now() + 6000;
  while (performance.now() < end) {
    await sleep(500);
    const next = await mediaStats(b, id);
    const same = key(next) === key(st);
    st = next;
    if (same) break;
  }
  return st;
}

// Samples getStats() every second for `seconds` (framesDecoded must keep
// growing: a frozen decoder would not), calling onSample(stats, i).
async function sampleStats(b, id, seconds, onSample = () => {}) {
  const samples = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    const s = await mediaStats(b, id);
    samples.push(s);
    await onSample(s, i);
  }
  return samples;
}

// Waits (bounded) until getStats shows inbound packets on both kinds.
async function waitInbound(b, id, timeoutMs) {
  const t0 = performance.now();
  let s = null;
  while (performance.now() - t0 < timeoutMs) {
    s = await mediaStats(b, id);
    if (s.audio.inbound?.packetsReceived > 0 && s.video.inbound?.packetsReceived > 0) return performance.now() - t0;
    await sleep(100);
  }
  throw new TestFailure(`no echoed packets on both kinds within ${timeoutMs} ms; ${PEER.name}'s stats: ${JSON.stringify(s)}`);
}

// Audio concealment over a window of two getStats() samples while audio
// flowed: NetEq conceals every 10 ms once the remote stops sending, and
// while its buffer fills at the start, neither of which is a decoding issue.
export function concealWindow(from, to) {
  const f = from?.audio.inbound;
  const t = to?.audio.inbound;
  if (!f || !t) return null;
  return {
    concealedSamples: t.concealedSamples - f.concealedSamples,
    totalSamplesReceived: t.totalSamplesReceived - f.totalSamplesReceived,
    seconds: (t.totalSamplesReceived - f.totalSamplesReceived) / 48000,
  };
}

// The checks on Chromium's inbound streams common to every mode; returns a
// short text for the case line.
// audioWindow: concealWindow() to judge concealment by (default: the whole
// of st).
// lossy: the kernel dropped datagrams on the pair's sockets (udpDrops()), or
// Chromium discarded some of its own before its socket (an echo then lacks
// them): then frames Chromium had to drop (and the PLIs that recover from them) are
// the network's doing and only reported; without loss there must be none.
// bursty: 256 KiB data-channel messages cross the same transport while the
// media flows. weft runs SCTP and the media echo on one engine thread, so a
// burst delays audio a little (more under ASan); NetEq conceals those late
// packets. Allowed up to 20 % then (nothing is lost; decoding is checked).
function checkInbound(check, st, { videoMime, audioMime = 'audio/opus', who, audioWindow = null, lossy = false, bursty = false }) {
  const v = st.video.inbound;
  const a = st.audio.inbound;
  const ar = audioWindow || a;
  if (check(v, `${who}: ${PEER.name} has no inbound-rtp video stats`)) {
    check(v.codec && v.codec.mimeType === videoMime, `${who}: inbound video codec ${JSON.stringify(v.codec)}, expected ${videoMime}`);
    check(v.framesDecoded >= MIN_VIDEO_DECODED, `${who}: ${PEER.name} decoded ${v.framesDecoded} video frames, expected >= ${MIN_VIDEO_DECODED}`);
    check(v.keyFramesDecoded >= 1, `${who}: ${PEER.name} decoded no video keyframe (keyFramesDecoded ${v.keyFramesDecoded})`);
    // Chromium counts no decode errors as such: a frame it could not decode
    // is received but never decoded, and is dropped or makes it ask for a
    // keyframe (pliCount/firCount). Everything received must be decoded
    // (at most 2 frames still in the decoder when the stats were read).
    const firefox = PEER.name === 'Firefox'; // its decoder may drop frames: see below
    check(v.framesReceived - v.framesDecoded - (v.framesDropped || 0) <= 2 && (firefox || v.framesReceived - v.framesDecoded <= 2),
      `${who}: ${PEER.name} received ${v.framesReceived} video frames but decoded ${v.framesDecoded} (dropped ${v.framesDropped})`);
    // Firefox's decoder, starved of CPU (ASan suite and 2 busy loops), drops
    // frames it cannot decode in time and asks for a keyframe, with every
    // packet delivered (packetsLost 0, counts exact): reported, not failed,
    // as long as they are a few (at most 2 % of the frames, 2 PLIs).
    if (firefox && !lossy) {
      check((v.framesDropped || 0) <= Math.ceil(v.framesReceived * 0.02) && (v.pliCount || 0) <= 2 && (v.firCount || 0) === 0,
        `${who}: ${PEER.name} dropped ${v.framesDropped} of ${v.framesReceived} video frames (${v.pliCount} PLIs, ${v.firCount} FIRs), with no packet lost on the way`);
    } else if (!lossy) {
      check((v.framesDropped || 0) === 0, `${who}: ${PEER.name} dropped ${v.framesDropped} video frames, with no packet lost on the way`);
      check((v.firCount || 0) === 0, `${who}: ${PEER.name} sent ${v.firCount} FIRs (a decoder that lost its state), with no packet lost on the way`);
      check((v.pliCount || 0) <= 2, `${who}: ${PEER.name} sent ${v.pliCount} PLIs (frames it could not decode), with no packet lost on the way`);
    }
    check(v.frameWidth > 0 && v.frameHeight > 0, `${who}: inbound video has no frame size`);
  }
  if (check(a, `${who}: ${PEER.name} has no inbound-rtp audio stats`)) {
    check(a.codec && a.codec.mimeType === audioMime, `${who}: inbound audio codec ${JSON.stringify(a.codec)}, expected ${audioMime}`);
    check(a.packetsReceived >= MIN_AUDIO_PACKETS, `${who}: ${PEER.name} received ${a.packetsReceived} audio packets, expected >= ${MIN_AUDIO_PACKETS}`);
    check(a.totalSamplesReceived > 0, `${who}: ${PEER.name} decoded no audio samples (totalSamplesReceived ${a.totalSamplesReceived})`);
    // NetEq conceals what it could not decode or did not get in time; on
    // loopback that is start-up and the odd late packet, not a tenth.
    const conc = ar.totalSamplesReceived ? ar.concealedSamples / ar.totalSamplesReceived : 1;
    check(conc < (bursty ? 0.2 : lossy ? 0.1 : 0.05), `${who}: ${PEER.name} concealed ${fmt(conc * 100)} % of the audio samples (${ar.concealedSamples}/${ar.totalSamplesReceived}` +
      `${audioWindow ? ` in ${fmt(audioWindow.seconds)} s of steady flow` : ''})`);
  }
  if (!v || !a) return '';
  const conc = ar.totalSamplesReceived ? (100 * ar.concealedSamples) / ar.totalSamplesReceived : NaN;
  return `video ${v.codec?.mimeType} ${v.frameWidth}x${v.frameHeight}: framesReceived ${v.framesReceived}, framesDecoded ${v.framesDecoded}, ` +
    `keyFramesDecoded ${v.keyFramesDecoded}, framesDropped ${v.framesDropped}, packetsReceived ${v.packetsReceived}, ` +
    `packetsLost ${v.packetsLost}, nackCount ${v.nackCount}, pliCount ${v.pliCount}, freezes ${v.freezeCount}, decoder ${v.decoderImplementation ?? '(hidden: no capture)'}; ` +
    `audio ${a.codec?.mimeType}: packetsReceived ${a.packetsReceived}, packetsLost ${a.packetsLost}, ` +
    `totalSamplesReceived ${a.totalSamplesReceived}, concealed ${fmt(conc, 2)} %${audioWindow ? ` (over ${fmt(audioWindow.seconds)} s of steady flow)` : ''}`;
}

// Waits (bounded) for echo-server's session-end of pc `pcNum`.
async function waitSessionEnd(srv, pcNum, ms) {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    if (srv.forPc(pcNum).some((e) => e.ev === 'session-end')) return true;
    await sleep(50);
  }
  return false;
}

// ---- weft answers: the page sends media to echo-server -----------------------

const ECHO_CASES = {
  'media-echo': [
    { name: 'audio+video', video: 'video/VP8' },
    { name: 'audio+video+data-trickle', video: 'video/VP8', data: true, trickle: true },
  ],
  'media-echo-h264': [{ name: 'audio+video-h264', video: 'video/H264', prefer: 'video/H264' }],
};

async function echoCase(b, srv, c, check) {
  if (c.prefer === 'video/H264') {
    // Debian's Chromium must be able to encode and decode H264 here (OpenH264
    // and FFmpeg): without it this case cannot test anything, and says so.
    const caps = await b.eval(() => window.weft.codecCapabilities());
    const h264 = (l) => (l || []).filter((x) => /^video\/H264 .*packetization-mode=1/.test(x));
    check(h264(caps.receiverVideo).length > 0, `this ${PEER.name} has NO H264 decoder (RTCRtpReceiver.getCapabilities('video'): ${caps.receiverVideo})`);
    check(h264(caps.senderVideo).length > 0, `this ${PEER.name} has NO H264 encoder (RTCRtpSender.getCapabilities('video'): ${caps.senderVideo})`);
    console.log(`     H264 in this ${PEER.name}: decoder ${h264(caps.receiverVideo).map((x) => x.split('profile-level-id=')[1]).join(',') || 'NONE'}; ` +
      `encoder ${h264(caps.senderVideo).map((x) => x.split('profile-level-id=')[1]).join(',') || 'NONE'}`);
    if (!h264(caps.receiverVideo).length || !h264(caps.senderVideo).length) return `H264 NOT AVAILABLE in this ${PEER.name}`;
  }
  const known = new Set(srv.events.filter((e) => e.ev === 'session').map((e) => e.pc));
  const channels = c.data ? [{ label: 'echo-0' }] : [];
  const o = await offerToEndpoint(b, srv.url, {
    channels,
    trickle: !!c.trickle,
    media: { audio: true, video: true, preferVideo: c.prefer || null },
  });
  const news = srv.events.filter((e) => e.ev === 'session' && !known.has(e.pc));
  if (!check(news.length === 1, `expected one new "session" line in echo-server's log, got ${news.length}`)) return '';
  const pcNum = news[0].pc;

  // The negotiation: audio, video (and data) answered, sendrecv, the codec wanted.
  const offS = sdpSections(o.offer);
  const ansS = sdpSections(o.answer);
  const want = ['audio', 'video', ...(c.data ? ['application'] : [])];
  check(JSON.stringify(offS.map((s) => s.kind)) === JSON.stringify(want), `the page's offer has sections ${offS.map((s) => s.kind)}, expected ${want}`);
  check(JSON.stringify(ansS.map((s) => s.kind)) === JSON.stringify(want), `weft's answer has sections ${ansS.map((s) => s.kind)}, expected ${want}`);
  const bundle = /^a=group:BUNDLE (.*)$/m.exec(o.answer);
  check(bundle && bundle[1].trim().split(' ').length === want.length, `weft's answer does not bundle all ${want.length} sections: ${bundle ? bundle[0] : 'no a=group'}`);
  const ansV = ansS.find((s) => s.kind === 'video');
  const ansA = ansS.find((s) => s.kind === 'audio');
  for (const s of [ansA, ansV]) {
    if (!s) continue;
    check(s.port !== 0, `weft rejected the ${s.kind} section (port 0)`);
    check(s.dir === 'sendrecv', `weft answered the ${s.kind} section ${s.dir}, expected sendrecv`);
  }
  const vCodec = firstCodec(ansV);
  const aCodec = firstCodec(ansA);
  const vName = c.video.split('/')[1];
  check(vCodec && vCodec.rtpmap && vCodec.rtpmap.toUpperCase().startsWith(`${vName.toUpperCase()}/90000`),
    `weft's answer: first video codec ${JSON.stringify(vCodec)}, expected ${vName}`);
  check(aCodec && aCodec.rtpmap && /^opus\/48000/i.test(aCodec.rtpmap), `weft's answer: first audio codec ${JSON.stringify(aCodec)}, expected opus`);
  let offV = null;
  if (c.prefer) {
    offV = firstCodec(offS.find((s) => s.kind === 'video'));
    check(offV && offV.rtpmap && offV.rtpmap.startsWith(`${vName}/`), `setCodecPreferences did not put ${vName} first in the offer: ${JSON.stringify(offV)}`);
    if (vName === 'H264') check(/packetization-mode=1/.test(vCodec?.fmtp || ''), `weft answered H264 without packetization-mode=1: ${vCodec?.fmtp}`);
  }

  // Data in the same BUNDLE: the channel must work while media flows.
  let dataNote = '';
  let dataCheck = null;
  if (c.data) {
    await b.eval(([id]) => window.weft.waitOpen(id, 15000), [o.id]).catch((e) => {
      throw new TestFailure(`data channel never opened next to media: ${e.message}`);
    });
    // Runs while media flows; awaited after the sampling.
    dataCheck = b.eval(([id, opts]) => window.weft.check(id, opts), [o.id, { labels: ['echo-0'], sizes: autoSizes(o.max_message_size), count: 3, timeoutMs: 20000 }]);
  }

  const firstMs = await waitInbound(b, o.id, 10000);
  const samples = await sampleStats(b, o.id, MEDIA_SECONDS);
  if (dataCheck) {
    const res = await dataCheck;
    check(!res.errors.length, `page errors: ${res.errors.join('; ')}`);
    for (const ch of res.channels) {
      check(!ch.errors.length, `channel ${ch.label}: ${ch.errors.join('; ')}`);
      check(ch.echoed === ch.sent && ch.sent > 0, `channel ${ch.label}: ${ch.echoed}/${ch.sent} echoed next to media`);
      dataNote = `; data echo-0: ${ch.echoed}/${ch.sent} echoed (up to ${ch.max_size} B) while media flowed`;
    }
  }
  // Decoding must not have stalled: frames decoded in the last 3 s of the run.
  const dec = samples.map((s) => s.video.inbound?.framesDecoded || 0);
  const late = dec[dec.length - 1] - dec[dec.length - 4];
  check(late >= 20, `${PEER.name}'s video decoding stalled: framesDecoded at 1 s intervals ${dec.join(' ')}`);

  // Stop sending, let the last echoes in, then compare both sides' counts.
  await b.eval(([id]) => window.weft.pauseSending(id), [o.id]);
  await sleep(TAIL_MS);
  const st = await settledStats(b, o.id);
  // Kernel drops on the pair's two sockets (read while they are still open).
  const sp = srv.forPc(pcNum).find((e) => e.ev === 'selected-pair');
  const drops = udpDrops();
  const weftPort = candPort(sp?.local);
  const chromePort = candPort(sp?.remote);
  const dropNote = sp ? `UDP receive-buffer drops: weft's socket (port ${weftPort}) ${drops.get(weftPort) ?? '?'}, ` +
    `${PEER.name}'s (port ${chromePort}) ${drops.get(chromePort) ?? '?'}` : 'no selected-pair line';
  const mi = await b.eval(([id]) => window.weft.mediaInfo(id), [o.id]);
  check(!mi.errors.length, `page errors: ${mi.errors.join('; ')}`);
  check(mi.remote.length === 2 && mi.remote.some((r) => r.kind === 'audio') && mi.remote.some((r) => r.kind === 'video'),
    `the page got remote tracks ${JSON.stringify(mi.remote)}, expected one audio and one video`);
  const weftDrops = drops.get(weftPort) || 0;
  const chromeDrops = drops.get(chromePort) || 0;
  // What Chromium counted as sent (outbound-rtp packetsSent) but threw away
  // before its socket (its send queue was full: its SCTP bursts next to
  // media fill it), all kinds together, like the kernel's drops.
  const chromeDiscards = st.pair?.packetsDiscardedOnSend || 0;
  const note = checkInbound(check, st, {
    videoMime: c.video,
    who: 'echoed stream',
    audioWindow: concealWindow(samples[1], samples[samples.length - 1]),
    lossy: weftDrops + chromeDrops + chromeDiscards > 0,
    bursty: !!c.data,
  });
  for (const k of ['audio', 'video']) {
    const out = st[k].outbound;
    if (check(out && out.packetsSent > 0, `${PEER.name} sent no ${k} packets: ${JSON.stringify(out)}`))
      check(out.codec?.mimeType === (k === 'video' ? c.video : 'audio/opus'), `${PEER.name} sent ${k} as ${JSON.stringify(out.codec)}`);
  }

  await b.eval(([id]) => window.weft.closePc(id), [o.id]);
  check(await waitSessionEnd(srv, pcNum, 5000), `echo-server logged no session-end for pc ${pcNum} within 5 s of the page's close`);
  const evs = srv.forPc(pcNum);
  log(`echo-server log of pc ${pcNum}:\n${evs.map((e) => JSON.stringify(e)).join('\n')}`);
  const tracks = evs.filter((e) => e.ev === 'track');
  check(tracks.length === 2 && tracks.some((t) => t.kind === 'audio') && tracks.some((t) => t.kind === 'video'),
    `echo-server's "track" lines: ${JSON.stringify(tracks)}, expected one audio and one video`);
  const errs = evs.filter((e) => e.ev === 'error' && !/sctp-failure.*\(cause 12\)/.test(e.message || ''));
  check(!errs.length, `echo-server errors for pc ${pcNum}:\n${errs.map((e) => JSON.stringify(e)).join('\n')}`);
  const ts = {};
  for (const e of evs.filter((x) => x.ev === 'track-stats')) ts[e.kind] = e;
  const parts = [];
  for (const k of ['audio', 'video']) {
    const t = ts[k];
    if (!check(t, `echo-server logged no track-stats for its ${k} track`)) continue;
    const out = st[k].outbound;
    const inb = st[k].inbound;
    check(t.srtp_failures === 0, `echo-server: ${t.srtp_failures} SRTP failures on ${k}`);
    if (out) {
      // Every packet Chromium sent reached weft (loopback: nothing is lost;
      // Chromium's count includes its retransmissions, so weft's may be
      // lower by at most those). What may be missing besides is bounded by
      // the counted drops, all kinds and data together: the kernel's on
      // weft's socket and Chromium's own discards before its socket.
      const d = out.packetsSent - t.packets_received;
      check(d >= 0 && d <= (out.retransmittedPacketsSent || 0) + weftDrops + chromeDiscards,
        `${k}: ${PEER.name} sent ${out.packetsSent} packets (${out.retransmittedPacketsSent || 0} retransmitted), echo-server received ${t.packets_received} ` +
        `(the kernel dropped ${weftDrops} datagrams on weft's socket, ${PEER.name} discarded ${chromeDiscards} before its socket; ` +
        `${PEER.name}'s selected pair: ${JSON.stringify(st.pair)}; weft's track: ${JSON.stringify(t)})`);
    }
    // weft echoed every packet, and everything it sent reached Chromium.
    check(t.packets_sent >= t.packets_received, `${k}: echo-server received ${t.packets_received} packets but echoed ${t.packets_sent}`);
    if (inb) {
      const d = t.packets_sent - inb.packetsReceived;
      check(d >= 0 && d <= (t.retransmitted || 0) + chromeDrops,
        `${k}: echo-server sent ${t.packets_sent} packets (${t.retransmitted} retransmitted), ${PEER.name} received ${inb.packetsReceived} ` +
        `(lost ${inb.packetsLost}; the kernel dropped ${chromeDrops} datagrams on ${PEER.name}'s socket)`);
    }
    const fb = `${out?.retransmittedPacketsSent ?? 0} retransmitted, NACKs ${out?.nackCount}${k === 'video' ? `, PLIs ${out?.pliCount}` : ''} received`;
    if (k === 'video' && out) parts.push(`${PEER.name}'s encoder: ${out.encoderImplementation} ${out.frameWidth}x${out.frameHeight}`);
    parts.push(`${k}: ${PEER.name} sent ${out?.packetsSent} (${fb}), weft received ${t.packets_received}, ` +
      `echoed ${t.packets_sent} (nacks_received ${t.nacks_received}, retransmitted ${t.retransmitted}, plis_received ${t.plis_received}, ` +
      `plis_sent ${t.plis_sent}), ${PEER.name} received ${inb?.packetsReceived}`);
  }
  parts.push(`${PEER.name}'s selected pair: ${st.pair?.packetsSent} packets sent, ${st.pair?.packetsDiscardedOnSend} discarded on send`);
  if (offV) console.log(`     ${c.name}: the offer's first video codec ${offV.rtpmap} (${offV.fmtp || ''})`);
  console.log(`     ${c.name}: negotiated ${vCodec?.rtpmap}${vCodec?.fmtp ? ` (${vCodec.fmtp})` : ''} + ${aCodec?.rtpmap}; ` +
    `first echo after ${fmt(firstMs, 0)} ms; framesDecoded at 1 s intervals ${dec.join(' ')}`);
  console.log(`     ${c.name}: ${note}`);
  console.log(`     ${c.name}: ${parts.join('; ')}`);
  console.log(`     ${c.name}: ${dropNote}`);
  return `framesDecoded ${st.video.inbound?.framesDecoded}, audio packetsReceived ${st.audio.inbound?.packetsReceived}${dataNote}`;
}

async function modeMediaEcho(o, b, mode, { runCase, stopServer }) {
  const srv = await startEchoServer(o.echoServer, [], { env: o.weftDebug ? { WEFT_DEBUG: o.weftDebug } : {} });
  try {
    for (const c of ECHO_CASES[mode]) await runCase(`${mode}/${c.name}`, (check) => echoCase(b, srv, c, check));
  } finally {
    await stopServer(srv);
    if (o.weftDebug) fs.writeFileSync(path.join(o.outDir, `${mode}-echo-server.stderr`), srv.stderr.join('\n'));
  }
}

// ---- weft sends: echo-client --media offers, the page echoes -----------------

const SEND_CASES = [
  { name: 'media-only', args: ['--channels', '0'], screenshot: true },
  { name: 'media+data-trickle', args: ['--channels', '1', '--count', '1', '--trickle'], data: true },
];

async function weftSendsCase(o, b, c, check) {
  const before = b.sessions.length;
  b.answerOptions = { media: 'echo', negotiated: null };
  let sess = null;
  let last = null; // the last getStats() before echo-client hung up
  const samples = []; // framesDecoded every 0.5 s
  const full = []; // the getStats() samples
  let drops = new Map();
  let shot = null;
  let picture = null;
  let stop = false;
  // Watches the page's side while echo-client runs.
  const watcher = (async () => {
    while (!stop && !(sess = b.sessions[before])) await sleep(50);
    while (!stop && sess.pcId === null) await sleep(50);
    if (stop) return;
    for (let i = 0; !stop && i < 60; i++) {
      await sleep(500);
      let s;
      const at = Date.now(); // the counts in s are from after this instant
      try {
        s = await mediaStats(b, sess.pcId);
        s.at = at;
      } catch (e) {
        log(`mediaStats: ${e.message}`);
        break;
      }
      if (!s.video.inbound && !s.audio.inbound && last) break; // closed
      last = s;
      full.push(s);
      // A socket's count only grows, and it is gone once echo-client hung
      // up: keep the last count seen for every port (a map replaced at each
      // sample lost weft's port when the last sample came after the hang-up,
      // and a loss could not be told from a kernel drop).
      for (const [port, n] of udpDrops()) drops.set(port, Math.max(n, drops.get(port) || 0));
      samples.push(s.video.inbound?.framesDecoded || 0);
      // Once weft's stream has played a while: the picture and the screenshot.
      if (c.screenshot && !shot && (s.video.inbound?.framesDecoded || 0) >= 90) {
        picture = await b.eval(([id]) => window.weft.videoPicture(id), [sess.pcId]);
        const file = path.join(o.outDir, 'media-weft-sends.png');
        fs.mkdirSync(o.outDir, { recursive: true });
        await b.page.screenshot({ path: file, timeout: 5000 });
        shot = file;
      }
    }
  })();
  let r;
  try {
    r = await runEchoClient(o.echoClient, ['--url', `${b.origin}/offer`, '--media', '--media-seconds', String(MEDIA_SECONDS), ...c.args, '--timeout', '30'], {
      env: o.weftDebug ? { WEFT_DEBUG: o.weftDebug } : {},
      timeoutMs: 45000,
    });
  } finally {
    stop = true;
    await watcher;
    b.answerOptions = null;
  }
  if (o.weftDebug) fs.writeFileSync(path.join(o.outDir, `media-weft-sends-${c.name}-echo-client.stderr`), r.stderr.join('\n'));
  const res = r.result;
  const tail = r.stderr.filter((l) => !l.startsWith('[')).slice(-25).join('\n');
  check(r.code === 0, `echo-client exit ${r.code ?? r.signal}${r.timedOut ? ' (killed: timeout)' : ''}; stdout: ${r.stdout.join('\n') || '(none)'}\nstderr tail:\n${tail}`);
  check(res && res.ok === true, `echo-client result not ok: ${res ? res.error : 'no JSON result line'}`);
  check(b.sessions.length === before + 1, `expected one POST /offer, got ${b.sessions.length - before}`);
  if (!sess || sess.pcId === null) return '';
  check(!sess.errors.length, `endpoint: ${sess.errors.join('; ')}`);
  const mi = await b.eval(([id]) => window.weft.mediaInfo(id), [sess.pcId]);
  // echo-client's hang-up aborts SCTP, as in weft-offers: not an error.
  const pageErrs = mi.errors.filter((e) => !/User-Initiated Abort/.test(e));
  check(!pageErrs.length, `page errors: ${pageErrs.join('; ')}`);
  check(mi.remote.length === 2 && mi.remote.some((r) => r.kind === 'audio') && mi.remote.some((r) => r.kind === 'video'),
    `the page got remote tracks ${JSON.stringify(mi.remote)}, expected one audio and one video`);
  await b.eval(([id]) => window.weft.closePc(id), [sess.pcId]);

  // weft's offer and the page's answer.
  const offS = sdpSections(sess.offer);
  const ansS = sdpSections(sess.answer);
  const want = ['audio', 'video', ...(c.data ? ['application'] : [])];
  const kinds = (ss) => ss.map((s) => s.kind).sort().join(',');
  check(kinds(offS) === [...want].sort().join(','), `weft's offer has sections ${offS.map((s) => s.kind)}, expected ${want}`);
  for (const s of ansS) {
    if (s.kind === 'application') continue;
    check(s.port !== 0 && s.dir === 'sendrecv', `${PEER.name} answered the ${s.kind} section port ${s.port} ${s.dir}, expected sendrecv`);
  }
  const vCodec = firstCodec(ansS.find((s) => s.kind === 'video'));
  if (c.args.includes('--trickle')) {
    check(!/^a=candidate:/m.test(sess.offer), 'trickle: weft\'s POSTed offer already held candidates');
    check(sess.patches.some((p) => /^a=candidate:/m.test(p)), 'trickle: no PATCH carried a candidate');
    check(sess.patches.some((p) => /^a=end-of-candidates/m.test(p)), 'trickle: no PATCH carried end-of-candidates');
  }

  // echo-client decoded Chromium's re-encoding of its own stream.
  const m = res && res.media;
  let clientNote = '';
  if (check(m && m.video && m.audio, `echo-client's result has no media object: ${JSON.stringify(res)}`)) {
    check(m.video.codec === 'VP8', `echo-client video codec ${m.video.codec}, expected VP8`);
    check(m.audio.codec === 'opus', `echo-client audio codec ${m.audio.codec}, expected opus`);
    for (const k of ['video', 'audio']) {
      check(m[k].frames_decoded >= 100, `echo-client decoded ${m[k].frames_decoded} ${k} frames of ${PEER.name}'s echo, expected >= 100`);
      check(m[k].decode_errors === 0, `echo-client: ${m[k].decode_errors} ${k} decode errors`);
    }
    clientNote = `echo-client: video sent ${m.video.frames_sent} frames (${m.video.packets_sent} packets), got back ${m.video.frames_received}, ` +
      `decoded ${m.video.frames_decoded}, keyframes asked by ${PEER.name} ${m.video.keyframes_requested_by_remote}, nacks_sent ${m.video.nacks_sent}, ` +
      `plis_sent ${m.video.plis_sent}; audio sent ${m.audio.frames_sent}, decoded ${m.audio.frames_decoded} of ${m.audio.frames_received}; ` +
      `handed to weft late (> 40 ms): audio ${m.audio.late_frames} (worst ${m.audio.max_late_ms} ms), video ${m.video.late_frames} (worst ${m.video.max_late_ms} ms)`;
  }

  // Chromium decoded weft's VP8 (320x240 test pattern) and Opus.
  const weftPort = candPort(res?.selected_pair?.local);
  const chromePort = candPort(res?.selected_pair?.remote);
  const weftDrops = drops.get(weftPort) || 0;
  const chromeDrops = drops.get(chromePort) || 0;
  let pageNote = '';
  if (check(last, `never got ${PEER.name}\'s getStats() while echo-client ran`)) {
    // Concealment from 1 s after weft's audio started to the last sample
    // followed by one with more packets (weft still sending).
    const pk = (x) => x.audio.inbound?.packetsReceived || 0;
    const i0 = full.findIndex((x) => pk(x) > 0) + 2;
    let i1 = full.length - 2;
    while (i1 > i0 && pk(full[i1 + 1]) <= pk(full[i1])) i1--;
    const audioWindow = i1 > i0 ? concealWindow(full[i0], full[i1]) : null;
    check(audioWindow && audioWindow.seconds >= 5, `fewer than 5 s of steady audio from weft in ${PEER.name}'s stats (samples ${i0}..${i1})`);
    pageNote = checkInbound(check, last, {
      videoMime: 'video/VP8', who: "weft's stream", audioWindow, lossy: weftDrops + chromeDrops > 0,
      bursty: !!c.data,
    });
    const v = last.video.inbound;
    if (v) check(v.frameWidth === 320 && v.frameHeight === 240, `${PEER.name} decoded weft's video at ${v.frameWidth}x${v.frameHeight}, expected 320x240`);
    for (const k of ['audio', 'video']) {
      const inb = last[k].inbound;
      const out = last[k].outbound;
      check(out && out.packetsSent > 0, `${PEER.name} echoed no ${k} (outbound ${JSON.stringify(out)})`);
      if (!m || !m[k] || !inb) continue;
      // Everything weft sent reached Chromium, but what the kernel dropped
      // on Chromium's socket (the last stats come from after weft's last
      // packet: echo-client waits 3 s for the tail before it hangs up).
      const d = m[k].packets_sent - inb.packetsReceived;
      check(d >= 0 && d <= chromeDrops,
        `${k}: echo-client sent ${m[k].packets_sent} packets, ${PEER.name} received ${inb.packetsReceived} (lost ${inb.packetsLost}; ` +
        `the kernel dropped ${chromeDrops} datagrams on ${PEER.name}'s socket)`);
      if (k === 'video' && !chromeDrops)
        check(inb.framesReceived === m.video.frames_sent, `${PEER.name} received ${inb.framesReceived} of the ${m.video.frames_sent} frames weft sent`);
      // And echo-client got what Chromium sent back. Chromium never stops
      // sending while the pc is open, and echo-client read its counters at
      // m.stats_wall_ms: compare with Chromium's count from a sample taken
      // at least HANDOFF_MS before that (packets on their way, or sent after
      // echo-client's snapshot, are not losses).
      const ref = full.filter((x) => x.at <= m.stats_wall_ms - HANDOFF_MS).pop();
      const rout = ref && ref[k].outbound;
      // Chromium's discards before its socket (all kinds) excuse as many.
      const discards = ref?.pair?.packetsDiscardedOnSend || 0;
      if (check(rout, `no ${PEER.name} sample ${HANDOFF_MS} ms before echo-client's counters (at ${m.stats_wall_ms})`))
        check(m[k].packets_received >= rout.packetsSent - (rout.retransmittedPacketsSent || 0) - weftDrops - discards,
          `${k}: ${PEER.name} had sent ${rout.packetsSent} packets ${m.stats_wall_ms - ref.at} ms before echo-client's ` +
          `counters, echo-client received only ${m[k].packets_received} ` +
          `(the kernel dropped ${weftDrops} datagrams on weft's socket, ${PEER.name} discarded ${discards} before its socket)`);
    }
  }
  let picNote = '';
  if (c.screenshot) {
    if (check(picture, `the page never showed 90 decoded frames of weft's video (framesDecoded every 0.5 s: ${samples.join(' ')})`)) {
      check(!picture.error, `remote video: ${picture.error}`);
      // weft's moving test pattern: many colours and a real luma spread; a
      // black, grey or green (undecodable) frame has neither.
      check(picture.width === 320 && picture.height === 240, `the <video> shows ${picture.width}x${picture.height}, expected 320x240`);
      check(picture.colours >= 16 && picture.lumaStd >= 20, `the <video> does not show a test pattern: ${JSON.stringify(picture)}`);
      check(!picture.paused && picture.currentTime > 0, `the <video> is not playing: ${JSON.stringify(picture)}`);
      picNote = `; screenshot ${shot} (video ${picture.width}x${picture.height}, ${picture.colours} colours, luma mean ${fmt(picture.lumaMean)} sd ${fmt(picture.lumaStd)})`;
    }
  }
  if (c.data) {
    check(res && res.channels === 1 && res.echoed === res.sent && res.sent > 0, `data next to media: echo-client ${res?.echoed}/${res?.sent} echoed on ${res?.channels} channels`);
  }
  console.log(`     ${c.name}: weft offered ${offS.map((s) => s.kind).join('+')}, ${PEER.name} answered ${vCodec?.rtpmap}; ${clientNote}`);
  console.log(`     ${c.name}: ${PEER.name}: ${pageNote}`);
  console.log(`     ${c.name}: UDP receive-buffer drops: weft's socket (port ${weftPort}) ${drops.get(weftPort) ?? '?'}, ` +
    `${PEER.name}'s (port ${chromePort}) ${drops.get(chromePort) ?? '?'}`);
  if (c.data && res) console.log(`     ${c.name}: data echo-0 ${res.echoed}/${res.sent} echoed next to media`);
  return `page framesDecoded ${last?.video.inbound?.framesDecoded}, echo-client decoded ${m?.video?.frames_decoded} video / ${m?.audio?.frames_decoded} audio${picNote}`;
}

async function modeWeftSends(o, b, { runCase }) {
  for (const c of SEND_CASES) await runCase(`media-weft-sends/${c.name}`, (check) => weftSendsCase(o, b, c, check));
}

export async function runMediaMode(mode, o, b, helpers) {
  if (mode === 'media-weft-sends') return modeWeftSends(o, b, helpers);
  return modeMediaEcho(o, b, mode, helpers);
}
