#!/usr/bin/env node
// A WHIP-shaped endpoint (doc/interop.md, "HTTP offer/answer") that answers
// with libdatachannel, through npm node-datachannel: the foreign peer of
// tests/interop/ndc (run.mjs), and usable by hand against echo-client.
//
//   node answerer.mjs [--host 127.0.0.1] [--port 0] [--lifetime S] [--ndc-log LEVEL]
//                     [--cert FILE --key FILE] [--negotiated ID]
//
// POST /offer (application/sdp): a new PeerConnection sets the offer as its
// remote description; the answer is sent (201, Location /session/N) once its
// ICE gathering is complete, with every candidate in it (non-trickle).
// PATCH /session/N adds RFC 8840 candidates, DELETE /session/N closes the
// peer connection, GET /health says ok. Every data channel the remote opens
// echoes each message back on it: text as text, binary as binary, in order.
//
// libdatachannel answers an actpass offer with a=setup:active: it is the DTLS
// client, and it sends its ClientHello as soon as its own ICE agent (libjuice)
// has a valid pair, which is before the offerer's ICE reports connected.
//
// Gathers on 127.0.0.1 only (libjuice gathers nothing on a loopback-only
// network unless bound to it), no STUN/TURN server. Log: one JSON object per
// line on stdout, like echo-server's (`t`, `ev`, `pc`): listening, session,
// answer, pc-state, ice-state, channel, open, closed, error, session-end,
// stopped. --ndc-log LEVEL (Verbose, Debug, Info, Warning, Error) prints
// libdatachannel's own log on stderr. --cert FILE --key FILE (PEM, key not
// encrypted): libdatachannel's DTLS certificate (certificatePemFile /
// keyPemFile) instead of the ECDSA one it makes; `run.mjs rsa` gives it an
// RSA one. The answer line has the answer's a=fingerprint (sha-256).
// --negotiated ID: every peer connection also gets a negotiated channel with
// SCTP id ID (label "negotiated"), echoing like the others, made right after
// the offer is set: its message callback is in place before any message can
// arrive. A channel the remote opens with DCEP reaches JavaScript only after
// libdatachannel has taken its first messages, and installing the callback
// then races with libdatachannel's receive thread (both run
// flushPendingMessages, unlocked): now and then one of the first messages is
// handed over after later ones (`run.mjs rsa` uses a negotiated channel).
// Stops on SIGINT/SIGTERM and after --lifetime S (default 600).
import http from 'node:http';
import { parseSdpFrag, readBody } from '../chromium/lib.mjs';
import { loadNdc, ndcLogToStderr, parseOptions, sdpFingerprint } from './ndc-common.mjs';

const ndc = await loadNdc();
const opt = parseOptions(
  process.argv.slice(2),
  { host: '127.0.0.1', port: 0, lifetime: 600, ndcLog: null, cert: null, key: null, negotiated: null },
  'answerer.mjs [--host H] [--port P] [--lifetime S] [--ndc-log LEVEL] [--cert FILE --key FILE] [--negotiated ID]',
);
if (opt.negotiated !== null) opt.negotiated = Number(opt.negotiated);
if (opt.host !== '127.0.0.1') {
  console.error('answerer.mjs: loopback only (--host 127.0.0.1)');
  process.exit(2);
}
if (opt.negotiated !== null && !(Number.isInteger(opt.negotiated) && opt.negotiated >= 0 && opt.negotiated < 1024)) {
  console.error('answerer.mjs: --negotiated ID, an SCTP stream id 0-1023');
  process.exit(2);
}
if (!opt.cert !== !opt.key) {
  console.error('answerer.mjs: --cert and --key go together');
  process.exit(2);
}
const T0 = performance.now();
ndcLogToStderr(ndc, opt.ndcLog, T0);
const emit = (o) => process.stdout.write(`${JSON.stringify({ t: Math.round(performance.now() - T0) / 1000, ...o })}\n`);

const CONFIG = { iceServers: [], bindAddress: '127.0.0.1' };
if (opt.cert) {
  CONFIG.certificatePemFile = opt.cert;
  CONFIG.keyPemFile = opt.key;
}
const GATHER_MS = 5000;
const sessions = new Map(); // n -> {pc, channels, ended}
let served = 0;

function endSession(n) {
  const s = sessions.get(n);
  if (!s || s.ended) return;
  s.ended = true;
  for (const dc of s.channels) {
    try {
      dc.close();
    } catch {
      /* already closed */
    }
  }
  try {
    s.pc.close();
  } catch {
    /* already closed */
  }
  emit({ ev: 'session-end', pc: n });
}

function echoChannel(n, s, dc) {
  const label = dc.getLabel();
  const id = dc.getId();
  let messages = 0;
  let bytes = 0;
  const firstSeen = []; // the first messages as libdatachannel handed them to us: "t<len>" / "b<len>
  s.channels.push(dc);
  emit({ ev: 'channel', pc: n, dc: id, label, protocol: dc.getProtocol() });
  const opened = () => emit({ ev: 'open', pc: n, dc: id, label });
  // A channel handed to onDataChannel is already open in libdatachannel.
  if (dc.isOpen()) opened();
  else dc.onOpen(opened);
  dc.onMessage((m) => {
    try {
      if (firstSeen.length < 32)
        firstSeen.push(typeof m === 'string' ? `t${Buffer.byteLength(m)}` : `b${m.length}`);
      if (typeof m === 'string') {
        dc.sendMessage(m);
        bytes += Buffer.byteLength(m);
      } else {
        dc.sendMessageBinary(m);
        bytes += m.length;
      }
      messages++;
    } catch (e) {
      emit({ ev: 'error', pc: n, dc: id, label, message: `echo: ${e.message}` });
    }
  });
  dc.onError((e) => emit({ ev: 'error', pc: n, dc: id, label, message: String(e) }));
  dc.onClosed(() => emit({ ev: 'closed', pc: n, dc: id, label, messages, bytes, first: firstSeen }));
}

async function answer(offer) {
  const n = ++served;
  const pc = new ndc.PeerConnection(`answerer-${n}`, CONFIG);
  const s = { pc, channels: [], ended: false };
  sessions.set(n, s);
  emit({ ev: 'session', pc: n });
  pc.onStateChange((state) => {
    emit({ ev: 'pc-state', pc: n, state });
    if (state === 'closed' || state === 'failed') endSession(n);
  });
  pc.onIceStateChange((state) => emit({ ev: 'ice-state', pc: n, state }));
  pc.onDataChannel((dc) => echoChannel(n, s, dc));
  const gathered = new Promise((resolve) => {
    const t = setTimeout(() => {
      emit({ ev: 'error', pc: n, message: `gathering not complete after ${GATHER_MS} ms` });
      resolve();
    }, GATHER_MS);
    pc.onGatheringStateChange((state) => {
      if (state === 'complete') {
        clearTimeout(t);
        resolve();
      }
    });
  });
  pc.setRemoteDescription(offer, 'offer'); // the answer is made at once (auto-negotiation)
  // After the offer: made before it, the channel would start an offer of
  // its own (auto-negotiation in the stable state).
  if (opt.negotiated !== null)
    echoChannel(n, s, pc.createDataChannel('negotiated', { negotiated: true, id: opt.negotiated }));
  await gathered;
  const desc = pc.localDescription();
  if (!desc || !desc.sdp) throw new Error('no local description after the offer');
  const candidates = desc.sdp.split('\n').filter((l) => l.startsWith('a=candidate:')).length;
  const fingerprint = sdpFingerprint(desc.sdp);
  emit({ ev: 'answer', pc: n, candidates, fingerprint });
  return { n, sdp: desc.sdp };
}

const server = http.createServer(async (req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  const reply = (status, body = '', headers = {}) => {
    res.writeHead(status, { Connection: 'close', ...headers });
    res.end(body);
  };
  try {
    if (u.pathname === '/health' && req.method === 'GET') return reply(200, 'ok', { 'Content-Type': 'text/plain' });
    if (u.pathname === '/offer' && req.method === 'POST') {
      const ct = (req.headers['content-type'] || '').split(';')[0].trim();
      if (ct !== 'application/sdp') return reply(415, `Content-Type must be application/sdp, not "${ct}"`);
      const r = await answer(await readBody(req));
      return reply(201, r.sdp, { 'Content-Type': 'application/sdp', Location: `/session/${r.n}` });
    }
    const m = /^\/session\/(\d+)$/.exec(u.pathname);
    if (m) {
      const n = Number(m[1]);
      const s = sessions.get(n);
      if (!s || s.ended) return reply(404, 'no such session');
      if (req.method === 'PATCH') {
        for (const c of parseSdpFrag(await readBody(req))) {
          if (c.candidate) s.pc.addRemoteCandidate(c.candidate, c.sdpMid ?? '0');
          emit({ ev: 'remote-candidate', pc: n, candidate: c.candidate || 'end-of-candidates' });
        }
        return reply(204);
      }
      if (req.method === 'DELETE') {
        endSession(n);
        return reply(200, 'ok');
      }
      return reply(405, 'method not allowed');
    }
    return reply(404, 'not found');
  } catch (e) {
    emit({ ev: 'error', message: `${req.method} ${u.pathname}: ${e.message}` });
    return reply(e.status || 500, String(e.message));
  }
});

let stopping = false;
function stop(reason) {
  if (stopping) return;
  stopping = true;
  emit({ ev: 'stopping', reason });
  for (const n of sessions.keys()) endSession(n);
  server.close();
  emit({ ev: 'stopped', sessions: served });
  ndc.cleanup();
  process.exit(0);
}
process.on('SIGINT', () => stop('signal'));
process.on('SIGTERM', () => stop('signal'));
setTimeout(() => stop('lifetime'), opt.lifetime * 1000).unref();

server.listen(opt.port, opt.host, () => emit({ ev: 'listening', host: opt.host, port: server.address().port }));
