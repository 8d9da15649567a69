#!/usr/bin/env node
// One libdatachannel (npm node-datachannel) offerer against a WHIP-shaped
// endpoint (doc/interop.md, "HTTP offer/answer"), such as weft's echo-server:
// the foreign peer of `run.mjs rsa`, role "libdatachannel offers".
//
//   node offerer.mjs --url http://127.0.0.1:PORT/offer [--cert FILE --key FILE]
//                    [--timeout S] [--ndc-log LEVEL]
//
// Creates a PeerConnection (no ICE server, bound to 127.0.0.1; with --cert and
// --key, libdatachannel's certificatePemFile / keyPemFile: its DTLS
// certificate, RSA in `run.mjs rsa`), opens data channel "echo", waits for ICE
// gathering to complete, POSTs the offer (application/sdp, every candidate in
// it) and sets the 201's body as the answer. libdatachannel offers
// a=setup:actpass; an answer with a=setup:active makes the endpoint the DTLS
// client. Once the channel is open it sends MESSAGES (text and binary, 1 byte
// to 64 KiB, each one different), all at once, and checks that every echo
// comes back intact, with its type, in order; then closes the channel and the
// peer connection and waits (bounded) for both to report closed.
//
// Prints one JSON object on stdout: ok, error (when not ok), connect_ms (from
// the creation of the peer connection to the channel open), signal_ms (POST
// sent to answer received), open_after_answer_ms, echo_ms, sent, echoed,
// offer_fingerprint / answer_fingerprint (the a=fingerprint values),
// answer_setup, remote_fingerprint (what libdatachannel verified), closed.
// Exit status 0 only if ok. Bounded by --timeout S (default 20) in all cases.
import { httpRequest } from '../chromium/lib.mjs';
import { loadNdc, ndcLogToStderr, parseOptions, sdpFingerprint } from './ndc-common.mjs';

const ndc = await loadNdc();
const USAGE = 'offerer.mjs --url http://... [--cert FILE --key FILE] [--timeout S] [--ndc-log LEVEL]';
const opt = parseOptions(process.argv.slice(2), { url: null, cert: null, key: null, timeout: 20, ndcLog: null }, USAGE);
if (!opt.url || !opt.url.startsWith('http://') || !opt.cert !== !opt.key) {
  console.error(`usage: ${USAGE} (--url is required; --cert and --key go together)`);
  process.exit(2);
}

const T0 = performance.now();
const since = () => Math.round((performance.now() - T0) * 10) / 10;
ndcLogToStderr(ndc, opt.ndcLog, T0);

// What is sent: [kind, size], each message's bytes derived from its index so
// that a swapped, truncated or corrupted echo cannot pass for the right one.
const SIZES = [1, 2, 100, 1000, 1200, 4096, 16384, 65536, 1, 1000, 65536];
const MESSAGES = [];
for (const n of SIZES) for (const kind of ['text', 'binary']) MESSAGES.push([kind, n]);
for (let i = 0; i < 20; i++) MESSAGES.push([i % 2 ? 'binary' : 'text', 1 + i]); // a burst of small ones

function payload(i, kind, n) {
  if (kind === 'text') {
    let s = `#${i}:`;
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    while (s.length < n) s += alphabet[(i * 7 + s.length) % alphabet.length];
    return s.slice(0, n);
  }
  const b = Buffer.alloc(n);
  for (let k = 0; k < n; k++) b[k] = (i * 31 + k * 7) & 0xff;
  return b;
}

const result = { ok: false, sent: 0, echoed: 0, closed: false };
let pc = null; // made below; finish() may run before only on the overall timeout
let pcClosed;
const pcClosedP = new Promise((r) => {
  pcClosed = r;
});
async function finish(error) {
  if (finish.done) return;
  finish.done = true;
  if (error) result.error = error;
  clearTimeout(overall);
  // Close the peer connection and wait (bounded) for libdatachannel to say
  // so: its SCTP shutdown must go out before the process exits.
  try {
    if (pc) pc.close();
  } catch {
    /* already closed */
  }
  result.pc_closed = await Promise.race([pcClosedP.then(() => true), new Promise((r) => setTimeout(() => r(false), 3000))]);
  if (!error && !result.pc_closed) result.error = 'the peer connection did not report closed within 3 s of close()';
  result.ok = !result.error;
  process.stdout.write(`${JSON.stringify(result)}\n`);
  ndc.cleanup();
  process.exit(result.ok ? 0 : 1);
}
let stage = 'gathering';
const overall = setTimeout(() => finish(`timeout after ${opt.timeout} s (${stage})`), opt.timeout * 1000);

const config = { iceServers: [], bindAddress: '127.0.0.1' };
if (opt.cert) {
  config.certificatePemFile = opt.cert;
  config.keyPemFile = opt.key;
}
pc = new ndc.PeerConnection('offerer', config);
pc.onStateChange((state) => {
  if (state === 'closed') pcClosed();
  if (state === 'failed' && !finish.done) finish(`peer connection failed (${stage})`);
  if (state === 'closed' && stage !== 'closing' && !finish.done) finish(`peer connection closed (${stage})`);
});
const gathered = new Promise((resolve) =>
  pc.onGatheringStateChange((state) => {
    if (state === 'complete') resolve();
  }),
);
const dc = pc.createDataChannel('echo'); // makes the offer (auto-negotiation)
const opened = new Promise((resolve) => dc.onOpen(resolve));
dc.onError((e) => finish(`channel error (${stage}): ${e}`));
const expected = [];
let echoDone;
const echoed = new Promise((r) => {
  echoDone = r;
});
dc.onMessage((m) => {
  const i = result.echoed;
  const want = expected[i];
  if (!want) return finish(`an echo more than the ${expected.length} messages sent`);
  const [kind, data] = want;
  const gotKind = typeof m === 'string' ? 'text' : 'binary';
  if (gotKind !== kind) return finish(`echo #${i}: ${gotKind}, sent ${kind} (${data.length} bytes)`);
  const same = kind === 'text' ? m === data : Buffer.from(m).equals(data);
  if (!same) {
    const len = kind === 'text' ? Buffer.byteLength(m) : m.byteLength;
    return finish(`echo #${i} (${kind}, ${data.length} bytes) differs: ${len} bytes came back, out of order or corrupted`);
  }
  result.echoed++;
  if (result.echoed === expected.length) echoDone();
});
const closedDc = new Promise((resolve) => dc.onClosed(resolve));

try {
  await gathered;
  const offer = pc.localDescription();
  if (!offer || offer.type !== 'offer') throw new Error(`no local offer after gathering (${offer && offer.type})`);
  result.offer_fingerprint = sdpFingerprint(offer.sdp);
  result.offer_setup = /^a=setup:(\S+)/m.exec(offer.sdp)?.[1] ?? null;
  stage = 'signalling';
  const t1 = performance.now();
  const res = await httpRequest(opt.url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: offer.sdp });
  result.signal_ms = Math.round((performance.now() - t1) * 10) / 10;
  if (res.status !== 201) throw new Error(`POST ${opt.url}: HTTP ${res.status}: ${res.body.trim()}`);
  result.answer_fingerprint = sdpFingerprint(res.body);
  result.answer_setup = /^a=setup:(\S+)/m.exec(res.body)?.[1] ?? null;
  stage = 'connecting';
  const t2 = performance.now();
  pc.setRemoteDescription(res.body, 'answer');
  await opened;
  result.connect_ms = since();
  result.open_after_answer_ms = Math.round((performance.now() - t2) * 10) / 10;
  try {
    result.remote_fingerprint = pc.remoteFingerprint();
  } catch (e) {
    result.remote_fingerprint = `(${e.message})`;
  }
  stage = 'echoing';
  const t3 = performance.now();
  MESSAGES.forEach(([kind, n], i) => {
    const data = payload(i, kind, n);
    expected.push([kind, data]);
    if (kind === 'text') dc.sendMessage(data);
    else dc.sendMessageBinary(data);
    result.sent++;
  });
  await echoed;
  result.echo_ms = Math.round((performance.now() - t3) * 10) / 10;
  stage = 'closing';
  dc.close();
  const closedInTime = await Promise.race([closedDc.then(() => true), new Promise((r) => setTimeout(() => r(false), 3000))]);
  if (!closedInTime) throw new Error('the channel did not report closed within 3 s of close()');
  result.closed = true;
  finish(null);
} catch (e) {
  finish(`${stage}: ${e.message}`);
}
