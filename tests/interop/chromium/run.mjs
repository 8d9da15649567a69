#!/usr/bin/env node
// weft <-> Chromium interop driver (doc/interop.md, "The interop matrix").
//
//   node run.mjs MODE --echo-server PATH --echo-client PATH [--timeout S] [--verbose]
//               [--out-dir DIR] [--weft-debug SPEC]
//
// MODE:
//   weft-answers  the page offers to echo-server (trickle and not), runs the
//                 message checks, closes a channel and then the pc, and checks
//                 echo-server's log for that pc
//   weft-offers   echo-client offers to this driver's endpoint, where Chromium answers
//   pq            as weft-offers (default run), Chromium with post-quantum DTLS key
//                 exchange forced on; weft (DTLS server) must reassemble a fragmented
//                 ClientHello
//   mdns          both directions with Chromium's host candidates renamed <uuid>.local
//   pq-baseline   (manual) the pq run with PQ switched off: the ClientHello must
//                 come unfragmented
//   self          (validation of the driver) Chromium offers to Chromium through this
//                 driver's own endpoint, with the weft-answers checks
//   media-echo, media-echo-h264, media-weft-sends
//                 audio and video (media.mjs): Chromium's fake camera and microphone
//                 echoed by echo-server, and echo-client's VP8/Opus echoed by Chromium
//
// --out-dir DIR: where files worth keeping go (media-weft-sends' screenshot);
// default ./chromium-MODE. --weft-debug SPEC: WEFT_DEBUG for the examples
// (media modes), their stderr saved in --out-dir.
//
// Exits 0 only if every check passed; otherwise prints every failure and exits 1.
// Never skips: a missing Chromium, playwright-core or example binary is a failure.
import fs from 'node:fs';
import path from 'node:path';

import {
  PEER,
  TestFailure,
  autoSizes,
  driverMain,
  failures,
  log,
  maxMessageSize,
  mdnsRewrite,
  offerToEndpoint,
  parseDriverArgs,
  runCase,
  runEchoClient,
  sleep,
  startBrowser,
  startEchoServer,
  withTimeout,
} from './lib.mjs';
import { MEDIA_MODES, MEDIA_PREFS, MEDIA_SWITCHES, runMediaMode, udpDrops } from './media.mjs';

// The Chromium switch for post-quantum DTLS key exchange: the Blink feature
// WebRtcPqcForDtls (blink::features::kWebRtcPqcForDtls), which puts
// X25519MLKEM768 first in the pc's CryptoOptions key-exchange groups. Chromium
// 156 has it on by default; the test forces it on so that it does not depend
// on that default. With it the ClientHello is 1413 bytes, sent in 2 fragments
// (1175 + 238); with --disable-features=WebRtcPqcForDtls it is 191 bytes in
// one. (libwebrtc's field trial WebRTC-EnableDtlsPqc does not control it in
// Chromium: forcing it Disabled leaves the 1413-byte ClientHello.)
export const PQ_SWITCH = '--enable-features=WebRtcPqcForDtls';
export const PQ_OFF_SWITCH = '--disable-features=WebRtcPqcForDtls';

const NEGOTIATED = { id: 42, label: 'negotiated' };
const MODES = ['weft-answers', 'weft-offers', 'pq', 'mdns', 'pq-baseline', 'self', ...MEDIA_MODES];

// The modes Firefox runs (--browser firefox): pq is a Chromium switch, and
// this Firefox has no H264 (OpenH264 is a plugin it would download).
const FIREFOX_MODES = ['weft-answers', 'weft-offers', 'mdns', 'self', 'media-echo', 'media-weft-sends'];

// The a=max-message-size each browser answers with.
const BROWSER_MMS = { chromium: 262144, firefox: 1073741823 };

const parseArgs = (argv) =>
  parseDriverArgs(argv, {
    modes: MODES,
    usage: '--echo-server PATH --echo-client PATH [--browser chromium|firefox]',
    outPrefix: 'chromium',
    defaults: { echoServer: null, echoClient: null, timeout: 120, weftDebug: null, browser: 'chromium' },
    options: { '--echo-server': 'echoServer', '--echo-client': 'echoClient', '--weft-debug': 'weftDebug', '--browser': 'browser' },
  });

// Chromium's pc.close() aborts the SCTP association (ABORT, cause 12:
// User-Initiated Abort); weft reports that as an sctp-failure error, as the
// W3C API and Chromium itself do (an RTCErrorEvent on each channel). Expected
// after a remote close, not a failure.
const isRemoteAbort = (e) => e.ev === 'error' && /sctp-failure.*\(cause 12\)/.test(e.message || '');

const fmt = (n) => (typeof n === 'number' ? n.toFixed(1) : String(n));

// --weft-debug SPEC: echo-server runs with WEFT_DEBUG=SPEC, its stderr saved
// in --out-dir.
const weftDebugOpts = (o, what) =>
  o.weftDebug ? { env: { WEFT_DEBUG: o.weftDebug }, logFile: path.join(o.outDir, `${what}-echo-server.stderr`) } : {};

// Checks the page's per-channel results of weft.check().
function checkResults(check, res, what) {
  check(!res.errors.length, `${what}: page errors: ${res.errors.join('; ')}`);
  let sent = 0;
  let echoed = 0;
  let lost = 0;
  for (const c of res.channels) {
    check(!c.errors.length, `${what}: channel ${c.label}: ${c.errors.join('; ')}`);
    sent += c.sent || 0;
    echoed += c.echoed || 0;
    lost += c.lost || 0;
    if (c.ordered) check(c.echoed === c.sent, `${what}: channel ${c.label}: ${c.echoed}/${c.sent} echoed on a reliable channel`);
  }
  return { sent, echoed, lost };
}

// ---- weft answers: the page offers to echo-server --------------------------

const ANSWER_CASES = [
  { name: 'non-trickle', channels: [{ label: 'echo-0' }] },
  { name: 'trickle', channels: [{ label: 'echo-0' }], trickle: true },
  { name: '8-channels', channels: Array.from({ length: 8 }, (_, i) => ({ label: `echo-${i}` })) },
  { name: 'unordered-maxRetransmits0', channels: [{ label: 'echo-0', options: { ordered: false, maxRetransmits: 0 } }] },
  { name: 'negotiated-42', channels: [], negotiated: NEGOTIATED },
  { name: 'negotiated-42+echo-0-trickle', channels: [{ label: 'echo-0' }], negotiated: NEGOTIATED, trickle: true },
];

// srv: the echo-server (null in self mode: the endpoint is Chromium itself).
async function pageOffers(b, srv, endpoint, c, check, { mdns = false, count = 3 } = {}) {
  const knownPcs = new Set(srv ? srv.events.filter((e) => e.ev === 'session').map((e) => e.pc) : []);
  const o = await offerToEndpoint(b, endpoint, { channels: c.channels, negotiated: c.negotiated, trickle: !!c.trickle, mdns });
  let pcNum = null;
  if (srv) {
    const news = srv.events.filter((e) => e.ev === 'session' && !knownPcs.has(e.pc));
    if (!check(news.length === 1, `expected one new "session" line in echo-server's log, got ${news.length}`)) return null;
    pcNum = news[0].pc;
  }
  if (c.trickle) {
    check(o.trickled > 0, 'trickle: no candidate was PATCHed');
    check(!/^a=candidate:/m.test(o.offer), 'trickle: the POSTed offer already held candidates');
  } else {
    check(/^a=candidate:/m.test(o.offer), 'non-trickle: the offer holds no candidate');
  }
  check(/^a=candidate:/m.test(o.answer), 'the answer holds no candidate');
  const open = await b.eval(([id]) => window.weft.waitOpen(id, 15000), [o.id]).catch((e) => {
    throw new TestFailure(`channels never opened: ${e.message}`);
  });
  const labels = [...c.channels.map((x) => x.label), ...(c.negotiated ? [c.negotiated.label] : [])];
  // Up to the answer's max-message-size, at most 256 KiB (what echo-server
  // advertises; Firefox answering in self mode allows 1 GiB).
  const sizes = autoSizes(o.max_message_size && Math.min(o.max_message_size, 262144));
  const res = await b.eval(([id, opts]) => window.weft.check(id, opts), [o.id, { labels, sizes, count, timeoutMs: 30000 }]);
  const tot = checkResults(check, res, 'checks');
  const drops = [...udpDrops()].filter(([, n]) => n > 0);
  if (drops.length) log(`UDP receive-buffer drops by port: ${drops.map(([p, n]) => `${p}: ${n}`).join(', ')}`);
  return { o, pcNum, open, res, tot, sizes };
}

// The page closes `label` and then the pc; weft must report the channel's
// closing/closed, then pc-state closed, then nothing but session-end.
async function remoteClose(b, srv, id, pcNum, label, check) {
  await b.eval(([i, l]) => window.weft.closeChannel(i, l, 5000), [id, label]).catch((e) => {
    check(false, `page: closing channel ${label}: ${e.message}`);
  });
  const info = await b.eval(([i]) => window.weft.info(i), [id]);
  await b.eval(([i]) => window.weft.closePc(i), [id]);
  check(!info.errors.length, `page errors: ${info.errors.join('; ')}`);
  if (!srv) return '';
  await sleep(1500);
  const evs = srv.forPc(pcNum);
  const desc = (e) => JSON.stringify(e);
  log(`echo-server log of pc ${pcNum}:\n${evs.map(desc).join('\n')}`);
  const chEv = (ev) => evs.find((e) => e.ev === ev && e.label === label);
  check(chEv('closing'), `echo-server logged no "closing" for channel ${label} of pc ${pcNum}`);
  check(chEv('closed'), `echo-server logged no "closed" for channel ${label} of pc ${pcNum}`);
  const ci = evs.findIndex((e) => e.ev === 'pc-state' && e.state === 'closed');
  if (check(ci >= 0, `echo-server logged no "pc-state" "closed" for pc ${pcNum} within 1.5 s of the page's close; its lines:\n${evs.slice(-8).map(desc).join('\n')}`)) {
    const after = evs.slice(ci + 1).filter((e) => e.ev !== 'session-end');
    check(!after.length, `echo-server logged for pc ${pcNum} after "pc-state" "closed":\n${after.map(desc).join('\n')}`);
  }
  const errs = evs.filter((e) => e.ev === 'error' && !isRemoteAbort(e));
  check(!errs.length, `echo-server errors for pc ${pcNum}:\n${errs.map(desc).join('\n')}`);
  const notes = [evs.some((e) => e.ev === 'session-end') ? 'session-end seen' : 'no session-end within 1.5 s'];
  if (evs.some(isRemoteAbort)) notes.push('weft reported the abort as sctp-failure');
  return notes.join(', ');
}

function checkServerChannels(srv, pcNum, c, check) {
  const evs = srv.forPc(pcNum);
  for (const ch of c.channels) {
    const e = evs.find((x) => x.ev === 'channel' && x.label === ch.label);
    if (!check(e, `echo-server logged no "channel" for ${ch.label}`)) continue;
    const opt = ch.options || {};
    check(e.ordered === (opt.ordered !== false), `echo-server: ${ch.label} ordered=${e.ordered}, ${PEER.name} opened it with ordered=${opt.ordered !== false}`);
    if ('maxRetransmits' in opt)
      check(e.max_retransmits === opt.maxRetransmits, `echo-server: ${ch.label} max_retransmits=${e.max_retransmits}, expected ${opt.maxRetransmits}`);
    check(evs.some((x) => x.ev === 'open' && x.label === ch.label), `echo-server logged no "open" for ${ch.label}`);
  }
  if (c.negotiated) {
    const e = evs.find((x) => x.ev === 'channel' && x.dc === c.negotiated.id);
    if (check(e, `echo-server logged no "channel" with dc ${c.negotiated.id}`))
      check(e.negotiated === true, `echo-server: channel ${c.negotiated.id} negotiated=${e.negotiated}`);
  }
  return evs.find((x) => x.ev === 'selected-pair') || null;
}

async function modeWeftAnswers(o, b, self) {
  let srv = null;
  let endpoint = b.origin;
  if (!self) {
    srv = await startEchoServer(o.echoServer, ['--negotiated', String(NEGOTIATED.id)], weftDebugOpts(o, 'weft-answers'));
    endpoint = srv.url;
  }
  try {
    for (const c of ANSWER_CASES) {
      await runCase(`${self ? 'self' : 'weft-answers'}/${c.name}`, async (check) => {
        const r = await pageOffers(b, srv, endpoint, c, check);
        if (!r) return '';
        if (srv) {
          checkServerChannels(srv, r.pcNum, c, check);
          const sp = srv.forPc(r.pcNum).find((x) => x.ev === 'selected-pair');
          check(sp, `echo-server logged no "selected-pair" for pc ${r.pcNum}`);
        }
        check(r.o.max_message_size !== null, 'the answer has no a=max-message-size (the checks used 64 KiB)');
        const closeLabel = c.channels.length ? c.channels[0].label : c.negotiated.label;
        const rc = await remoteClose(b, srv, r.o.id, r.pcNum, closeLabel, check);
        return `connect ${fmt(r.open.connect_ms)} ms, ${r.tot.echoed}/${r.tot.sent} echoed` +
          `${r.tot.lost ? ` (${r.tot.lost} lost, unordered)` : ''}, sizes up to ${Math.max(...r.sizes)}` +
          ` (remote max-message-size ${r.o.max_message_size}), ${c.trickle ? `${r.o.trickled} candidates trickled, ` : ''}` +
          `remote close ok${rc ? `, ${rc}` : ''}`;
      });
    }
  } finally {
    if (srv) await stopServer(srv);
  }
}

async function stopServer(srv) {
  await runCase('echo-server/stops-cleanly', async (check) => {
    const ex = await srv.stop();
    check(ex.code === 0, `echo-server exit: ${JSON.stringify(ex)}; stderr tail:\n${srv.stderr.slice(-20).join('\n')}`);
    check(srv.events.some((e) => e.ev === 'stopped'), 'echo-server printed no "stopped" line');
    check(!srv.badLines.length, `echo-server stdout lines that are not JSON:\n${srv.badLines.slice(0, 5).join('\n')}`);
    const errs = srv.events.filter((e) => e.ev === 'error' && !isRemoteAbort(e));
    check(!errs.length, `echo-server "error" lines:\n${errs.slice(0, 10).map((e) => JSON.stringify(e)).join('\n')}`);
    return `${srv.events.filter((e) => e.ev === 'session').length} sessions served`;
  });
}

// ---- weft offers: echo-client against this driver's endpoint -----------------

const OFFER_CASES = [
  { name: 'default', args: [] },
  { name: 'trickle', args: ['--trickle'] },
  { name: '8-channels', args: ['--channels', '8'] },
  { name: 'unordered-maxRetransmits0', args: ['--unordered', '--max-retransmits', '0'] },
  { name: 'negotiated-42', args: ['--negotiated', '42'] },
  { name: 'remote-close', args: ['--await-remote-close', '10'] },
];

function describeClient(r) {
  const tail = r.stderr.slice(-25).join('\n');
  return `exit ${r.code ?? r.signal}${r.timedOut ? ' (killed: timeout)' : ''}; stdout: ${r.stdout.join('\n') || '(none)'}\nstderr tail:\n${tail}`;
}

// Runs echo-client once and checks its result and what the page saw.
// Returns {r, sess, info}.
async function clientRun(o, b, c, check, { env = {}, remoteClose = false } = {}) {
  const before = b.sessions.length;
  let closing = null;
  let stats = null;
  const onStderr = (line, j) => {
    // Chromium's view of the DTLS transport, while the connection is up.
    if (j && j.ev === 'open' && !stats) {
      const sess = b.sessions[b.sessions.length - 1];
      stats = b.eval(([i]) => window.weft.stats(i), [sess.pcId]).catch(() => null);
    }
    if (!remoteClose || !j || j.ev !== 'awaiting-remote-close' || closing) return;
    const sess = b.sessions[b.sessions.length - 1];
    closing = (async () => {
      await b.eval(([i]) => window.weft.closeChannel(i, 'echo-0', 5000), [sess.pcId]);
      await b.eval(([i]) => window.weft.closePc(i), [sess.pcId]);
    })().catch((e) => check(false, `page: remote close: ${e.message}`));
  };
  const r = await runEchoClient(o.echoClient, ['--url', `${b.origin}/offer`, ...c.args, '--timeout', '20'], {
    env,
    timeoutMs: 45000,
    onStderr,
  });
  if (closing) await closing;
  if (stats) stats = await stats;
  const sess = b.sessions[before] || null;
  const res = r.result;
  check(b.sessions.length === before + 1, `expected one POST /offer, got ${b.sessions.length - before}`);
  if (r.code !== 0 && sess && sess.pcId !== null) {
    // What Chromium saw, to tell which side lost what.
    const seen = await b.eval(([i]) => window.weft.info(i), [sess.pcId]).catch((e) => ({ error: e.message }));
    check(false, `echo-client failed: ${describeClient(r)}\n${PEER.name}'s side of that session: ${JSON.stringify(seen)}`);
  } else {
    check(r.code === 0, `echo-client failed: ${describeClient(r)}`);
  }
  check(res && res.ok === true, `echo-client result not ok: ${res ? res.error : 'no JSON result line'}`);
  if (!res || !sess) return { r, sess, info: null, stats };
  check(res.error === null, `echo-client error: ${res.error}`);
  const remoteMax = maxMessageSize(sess.answer);
  check(remoteMax === BROWSER_MMS[b.engine], `${PEER.name}'s answer a=max-message-size is ${remoteMax}, expected ${BROWSER_MMS[b.engine]}`);
  check(res.max_message_size === remoteMax, `echo-client max_message_size ${res.max_message_size}, the answer says ${remoteMax}`);
  check(res.sent > 0, `echo-client sent ${res.sent} messages`);
  check(!sess.errors.length, `endpoint: ${sess.errors.join('; ')}`);
  const info = await b.eval(([i]) => window.weft.info(i), [sess.pcId]);
  // When echo-client closes its pc, its SCTP stack aborts the association, as
  // Chromium's own pc.close() does (the channels there get "OperationError:
  // User-Initiated Abort, reason=Close called"): not an error.
  const errs = info.errors.filter((e) => !/User-Initiated Abort/.test(e));
  check(!errs.length, `page errors: ${errs.join('; ')}`);
  return { r, sess, info, stats };
}

function echoChannels(info) {
  return Object.entries(info.channels).filter(([l]) => l.startsWith('echo-'));
}

async function modeWeftOffers(o, b) {
  for (const c of OFFER_CASES) {
    await runCase(`weft-offers/${c.name}`, async (check) => {
      const { r, sess, info } = await clientRun(o, b, c, check, { remoteClose: c.name === 'remote-close' });
      const res = r.result;
      if (!info) return '';
      const chans = echoChannels(info);
      const wantChans = c.name === '8-channels' ? 8 : c.name === 'negotiated-42' ? 0 : 1;
      check(chans.length === wantChans, `${PEER.name} saw ${chans.length} echo-* channels, expected ${wantChans}`);
      check(res.channels === Math.max(wantChans, 1), `echo-client reports ${res.channels} channels`);
      for (const [l, ch] of chans) {
        check(ch.echoed && ch.echoed.messages > 0, `${PEER.name} echoed nothing on ${l}`);
        if (c.name === 'unordered-maxRetransmits0') {
          check(ch.ordered === false && ch.max_retransmits === 0,
            `${PEER.name} sees ${l} as ordered=${ch.ordered} maxRetransmits=${ch.max_retransmits}, weft asked for unordered, 0`);
        } else {
          check(ch.ordered === true && ch.max_retransmits === null && ch.max_packet_life_time === null,
            `${PEER.name} sees ${l} as ordered=${ch.ordered} maxRetransmits=${ch.max_retransmits}`);
          // The auto sizes end at Chromium's max-message-size.
          check(ch.echoed.max_size === 262144, `largest message ${PEER.name} echoed on ${l}: ${ch.echoed.max_size} B, expected 262144`);
        }
      }
      if (c.name === 'negotiated-42') {
        const n = info.channels.negotiated;
        check(n && n.echoed && n.echoed.messages > 0, `${PEER.name} echoed nothing on the negotiated channel 42`);
        if (n) check(n.id === 42 && n.echoed.max_size === 262144, `negotiated channel: id ${n.id}, largest echo ${n.echoed?.max_size}`);
      }
      if (c.name === 'unordered-maxRetransmits0') check(res.echoed > 0, 'no echo at all');
      else check(res.echoed === res.sent && res.lost === 0, `echo-client: ${res.echoed}/${res.sent} echoed, ${res.lost} lost on a reliable channel`);
      if (c.name === 'trickle') {
        const cands = sess.patches.filter((p) => /^a=candidate:/m.test(p)).length;
        check(cands > 0, 'trickle: no PATCH carried a candidate');
        check(sess.patches.some((p) => /^a=end-of-candidates/m.test(p)), 'trickle: no PATCH carried end-of-candidates');
        check(!/^a=candidate:/m.test(sess.offer), 'trickle: the POSTed offer already held candidates');
      } else {
        check(/^a=candidate:/m.test(sess.offer), 'non-trickle: the offer holds no candidate');
      }
      if (c.name === 'remote-close') {
        const rc = res.remote_close;
        if (check(rc, 'echo-client result has no remote_close')) {
          check(rc.channels_closed >= 1 && rc.pc_closed === true && rc.late_callbacks === 0, `remote_close: ${JSON.stringify(rc)}`);
        }
        // What weft reported, in order: echo-0 closing then closed (the page
        // closed it alone first), then the connection closed, nothing after.
        const evs = r.stderr.map((l) => { try { return JSON.parse(l); } catch { return null; } }).filter(Boolean);
        const at = (pred) => evs.findIndex(pred);
        const iClosing = at((e) => e.ev === 'closing' && e.label === 'echo-0');
        const iClosed = at((e) => e.ev === 'closed' && e.label === 'echo-0');
        const iPc = at((e) => e.ev === 'pc-state' && e.state === 'closed');
        check(iClosing >= 0 && iClosed > iClosing && iPc > iClosed,
          `weft's events for the remote close out of order: closing ${iClosing}, closed ${iClosed}, pc closed ${iPc}`);
      }
      return `connect ${fmt(res.connect_ms)} ms, ${res.echoed}/${res.sent} echoed${res.lost ? ` (${res.lost} lost)` : ''}, ` +
        `${res.bytes} B, run ${Math.round(r.ms)} ms${c.name === 'trickle' ? `, ${sess.patches.length} PATCHes` : ''}`;
    });
  }
}

// ---- post-quantum DTLS ------------------------------------------------------

const CH_RE = /reassembled a (\d+)-byte ClientHello from (\d+) fragments/;

async function modePq(o, b, forced) {
  await runCase(forced ? 'pq/weft-dtls-server' : 'pq-baseline/weft-dtls-server', async (check) => {
    const { r, sess, stats } = await clientRun(o, b, { args: [] }, check, { env: { WEFT_DEBUG: 'dtls:debug' } });
    if (sess) check(/^a=setup:active/m.test(sess.answer), `${PEER.name} did not answer a=setup:active (weft would not be the DTLS server)`);
    const hits = r.stderr.map((l) => CH_RE.exec(l)).filter(Boolean);
    const desc = hits.map((m) => `${m[1]} B in ${m[2]} fragments`).join(', ') || 'no reassembly line (unfragmented)';
    if (forced) {
      check(hits.length > 0, `weft's stderr has no "reassembled a N-byte ClientHello from M fragments" line: ` +
        `the ClientHello was not fragmented, so the PQ key share was not sent. dtls lines:\n` +
        r.stderr.filter((l) => /dtls/i.test(l)).slice(0, 15).join('\n'));
      check(hits.some((m) => Number(m[2]) >= 2), `ClientHello fragments: ${desc}`);
    } else {
      check(!hits.length, `PQ switched off, yet weft reassembled a fragmented ClientHello: ${desc}`);
    }
    const t = stats && stats.transport;
    if (t) check(t.dtlsRole === 'client', `${PEER.name}'s DTLS role is ${t.dtlsRole}, expected client (weft the server)`);
    const dtls = t ? `; ${PEER.name}: DTLS ${t.dtlsRole}, version ${t.tlsVersion}, ${t.dtlsCipher}` : '';
    return `ClientHello: ${desc}; connect ${fmt(r.result?.connect_ms)} ms${dtls}`;
  });
}

// ---- mDNS host candidates ---------------------------------------------------

// Chromium: the driver renames Chromium's host candidates to <uuid>.local
// names nobody answers for, so weft must pair through peer-reflexive
// candidates. Firefox (media.peerconnection.ice.obfuscate_host_addresses):
// Firefox names its own host candidates and answers for them with its mDNS
// responder (its loopback candidates, which it gathers by pref, stay in the
// clear); weft pairs with whatever it can reach, and the case line says which.
const LOCAL_CAND = /\.local \d+ typ host/;
const IP_HOST_CAND = /^a=candidate:\S+ \d+ \S+ \d+ (\d+\.\d+\.\d+\.\d+|[0-9a-f:]+) \d+ typ host/m;
const isLoopbackCand = (l) => / (127\.\d+\.\d+\.\d+|::1) \d+ typ host/.test(l);

async function modeMdns(o, b) {
  const rewrite = b.engine === 'chromium';
  const srv = await startEchoServer(o.echoServer, ['--negotiated', String(NEGOTIATED.id)], weftDebugOpts(o, 'mdns'));
  try {
    for (const trickle of [false, true]) {
      const c = { name: trickle ? 'trickle' : 'non-trickle', channels: [{ label: 'echo-0' }], trickle };
      await runCase(`mdns/weft-answers-${c.name}`, async (check) => {
        const r = await pageOffers(b, srv, srv.url, c, check, { mdns: rewrite, count: 1 });
        if (!r) return '';
        if (rewrite) check(r.o.mdnsNames.size > 0, `no host candidate was rewritten (${PEER.name} gathered none?)`);
        const sent = trickle ? (r.o.patches || []).join('\r\n') : r.o.offer;
        const hostLines = sent.split(/\r?\n/).filter((l) => / typ host/.test(l));
        if (!trickle || !rewrite) {
          check(!hostLines.some((l) => IP_HOST_CAND.test(l) && !isLoopbackCand(l)), `an IP host candidate is left in what ${PEER.name} sent:\n${hostLines.join('\n')}`);
          check(LOCAL_CAND.test(sent), `no .local candidate in what ${PEER.name} sent:\n${hostLines.join('\n')}`);
        }
        const sp = srv.forPc(r.pcNum).find((x) => x.ev === 'selected-pair');
        if (check(sp, `echo-server logged no "selected-pair" for pc ${r.pcNum}`) && rewrite)
          check(/ typ prflx/.test(sp.remote), `echo-server's selected remote candidate is not prflx: ${sp.remote}`);
        await remoteClose(b, srv, r.o.id, r.pcNum, 'echo-0', check);
        const names = rewrite ? [...r.o.mdnsNames.values()] : hostLines.filter((l) => LOCAL_CAND.test(l)).map((l) => l.split(' ')[4]);
        return `connect ${fmt(r.open.connect_ms)} ms, ${r.tot.echoed}/${r.tot.sent} echoed, ` +
          `names ${[...new Set(names)].join(' ')}, weft selected remote: ${sp ? sp.remote : '-'}`;
      });
    }
  } finally {
    await stopServer(srv);
  }
  await runCase('mdns/weft-offers', async (check) => {
    const names = new Map();
    if (rewrite) b.rewriteAnswer = (sdp) => mdnsRewrite(sdp, names);
    try {
      const { r, sess } = await clientRun(o, b, { args: ['--sizes', '0,1,1024,65536'] }, check);
      const res = r.result;
      if (!sess || !res) return '';
      check(LOCAL_CAND.test(sess.answer), 'no .local host candidate in the answer');
      if (rewrite) {
        check(names.size > 0, 'no host candidate of the answer was rewritten');
        check(res.selected_pair && / typ prflx/.test(res.selected_pair.remote),
          `echo-client's selected remote candidate is not prflx: ${JSON.stringify(res.selected_pair)}`);
      }
      check(res.echoed === res.sent, `${res.echoed}/${res.sent} echoed`);
      return `connect ${fmt(res.connect_ms)} ms, ${res.echoed}/${res.sent} echoed, selected remote: ${res.selected_pair?.remote}`;
    } finally {
      b.rewriteAnswer = null;
    }
  });
}

// ---- main ---------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!o) return 2;
  if (!['chromium', 'firefox'].includes(o.browser) || (o.browser === 'firefox' && !FIREFOX_MODES.includes(o.mode))) {
    console.error(`FAIL: --browser ${o.browser} with mode ${o.mode} (Firefox runs ${FIREFOX_MODES.join(', ')})`);
    return 2;
  }
  let b = null;
  return driverMain(
    o,
    async () => {
      const extra = o.mode === 'pq' ? [PQ_SWITCH] : o.mode === 'pq-baseline' ? [PQ_OFF_SWITCH] : MEDIA_MODES.includes(o.mode) ? MEDIA_SWITCHES : [];
      // Firefox: the fake devices for media, its own mDNS host names for mdns.
      const prefs = {
        ...(MEDIA_MODES.includes(o.mode) ? MEDIA_PREFS : {}),
        ...(o.mode === 'mdns' ? { 'media.peerconnection.ice.obfuscate_host_addresses': true } : {}),
      };
      if (o.weftDebug) fs.mkdirSync(o.outDir, { recursive: true });
      b = await startBrowser({ engine: o.browser, extraArgs: o.browser === 'chromium' ? extra : [], prefs });
      const how = o.browser === 'chromium' ? extra.join(' ') : Object.entries(prefs).map(([k, v]) => `${k}=${v}`).join(' ');
      console.log(`${PEER.name} ${b.version} (pid ${b.pid}) up in ${Math.round(b.startMs)} ms${how ? `, ${how}` : ''}`);
      if (o.mode === 'weft-answers') await modeWeftAnswers(o, b, false);
      else if (o.mode === 'self') await modeWeftAnswers(o, b, true);
      else if (o.mode === 'weft-offers') await modeWeftOffers(o, b);
      else if (o.mode === 'pq') await modePq(o, b, true);
      else if (o.mode === 'pq-baseline') await modePq(o, b, false);
      else if (o.mode === 'mdns') await modeMdns(o, b);
      else if (MEDIA_MODES.includes(o.mode)) await runMediaMode(o.mode, o, b, { runCase, stopServer });
      if (b.pageErrors.length) failures.push({ name: 'page', problems: b.pageErrors });
      if (b.endpointErrors.length) failures.push({ name: 'endpoint', problems: b.endpointErrors });
    },
    async () => {
      if (b) await withTimeout(b.close(), 15000, `closing ${PEER.name}`).catch((e) => log(e.message));
    },
  );
}

process.exitCode = await main();
