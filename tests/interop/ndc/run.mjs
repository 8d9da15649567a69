#!/usr/bin/env node
// weft <-> libdatachannel (node-datachannel) interop driver: the first DTLS
// flight is never lost (issue 12 §3; doc/interop.md, "node-datachannel"), and
// a peer with an RSA certificate, in both roles (issue 13 §1).
//
//   node run.mjs early-flight --echo-client PATH [--runs 20] [--bound-ms 100]
//               [--timeout S] [--verbose] [--out-dir DIR]
//   node run.mjs rsa --echo-client PATH --echo-server PATH [--runs 5]
//               [--handshake-bound-ms MS] [--timeout S] [--verbose] [--out-dir DIR]
//
// early-flight: starts answerer.mjs (a WHIP-shaped endpoint answering with
// libdatachannel) and runs echo-client against it --runs times, one after the
// other. weft offers (a=setup:actpass), libdatachannel answers active: weft is
// the DTLS server. libjuice reports connected on its first valid pair and
// libdatachannel sends its ClientHello at once, before weft's ICE (libnice,
// controlling) has nominated a pair and reports connected. weft must keep that
// ClientHello and feed it to DTLS once ICE is up; dropping it costs the
// 1-second OpenSSL retransmission timeout.
//
// Each run (echo-client --count 1, WEFT_DEBUG=pc:debug) must: succeed (every
// echo checked), be DTLS server, never resend a flight, and end the DTLS
// handshake within --handshake-bound-ms of ICE connected (500: half of
// OpenSSL's 1 s first retransmission, so a lost flight cannot pass). The
// median open time (connect_ms, from the creation of the peer connection to
// the channel open) must be under --bound-ms (0: not asserted): a wall-clock
// figure of one run also measures how long a busy machine kept the process
// off the CPU, which says nothing of a lost flight. At least one run must show weft's "feeding N DTLS records that arrived
// before ICE was connected" line, or the test did not exercise the case it
// is about. Prints one line per run, then p50/max of connect_ms and the
// number of runs that took the early path. Each run's stderr is saved in
// --out-dir (default ./ndc-early-flight).
//
// rsa: libdatachannel's DTLS certificate is a self-signed RSA-2048 one, made
// with the openssl CLI in --out-dir (certificatePemFile / keyPemFile); its
// SDP fingerprint must be that certificate's. Both roles, --runs times each:
//  - ndc-offers: offerer.mjs (libdatachannel, actpass) POSTs its offer to
//    weft's echo-server, which answers active: weft is the DTLS client and
//    libdatachannel the server signing with its RSA key, so the suite must be
//    ECDHE-RSA (echo-server's `dtls: client: connected, <suite>` line,
//    WEFT_DEBUG=dtls:debug). offerer.mjs sends text and binary messages of 1
//    byte to 64 KiB and checks every echo, then closes the channel (both
//    sides must see it closed, echo-server with every message counted) and
//    the peer connection (echo-server must see the SCTP association end:
//    libdatachannel shuts it down or, when it destroys it first, aborts it).
//  - weft-offers: echo-client against answerer.mjs (--cert/--key): weft is
//    the DTLS server with its ECDSA certificate, libdatachannel the client
//    presenting its RSA certificate (weft checks it against the answer's
//    fingerprint). echo-client checks its echoes, on a negotiated channel
//    (NEGOTIATED_ID, below).
// Each run must connect and pass its echo checks, and (if
// --handshake-bound-ms is not 0) finish DTLS within that bound of weft's ICE
// connected. The summary gives, per role, p50/max of connect_ms (offerer.mjs:
// peer connection created -> channel open; echo-client: the same), of DTLS
// connected minus ICE connected, the suites negotiated and how many runs
// needed a DTLS retransmission; summary.json in --out-dir has every run's
// numbers.
//
// Exits 0 only if every check passed. Never skips: a missing node-datachannel
// or echo-client is a failure. Every child is killed by PID on every exit path.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  driverMain,
  fail,
  parseDriverArgs,
  runCase,
  runEchoClient,
  sleep,
  startChild,
  startListener,
} from '../chromium/lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const parseArgs = (argv) =>
  parseDriverArgs(argv, {
    modes: ['early-flight', 'rsa'],
    usage: '--echo-client PATH [--echo-server PATH] [--runs N] [--bound-ms MS] [--handshake-bound-ms MS]',
    outPrefix: 'ndc',
    defaults: { echoClient: null, echoServer: null, runs: 20, boundMs: 100, handshakeBoundMs: 500, timeout: 90 },
    options: {
      '--echo-client': 'echoClient', '--echo-server': 'echoServer', '--runs': 'runs', '--bound-ms': 'boundMs',
      '--handshake-bound-ms': 'handshakeBoundMs',
    },
  });

// weft's pc log lines (WEFT_DEBUG=pc:debug, doc/logging.md):
//   weft <time> <level> pc      pc 0x...: ICE connected (x ms)
const PC_LINE = /^weft \S+ +\w+ +pc +pc 0x[0-9a-f]+: (.*)$/;
const MILESTONES = [
  ['ice', /^ICE connected \(([\d.]+) ms\)/],
  ['dtls', /^DTLS connected as (?:server|client) \(([\d.]+) ms\)/],
  ['sctp', /^SCTP association up \(([\d.]+) ms\)/],
];

// What one echo-client run's stderr says about its peer connection.
function parsePcLog(lines) {
  const r = { ice: null, dtls: null, sctp: null, role: null, fed: 0, resent: 0, suite: null, dropped: 0, sctpEnd: null };
  for (const l of lines) {
    // weft's DTLS retransmission timer fired (WEFT_DEBUG dtls:debug).
    if (/ dtls +\S+: no answer within \d+ ms: resending the last flight/.test(l)) r.resent++;
    // The suite (WEFT_DEBUG dtls:info): "dtls    client: connected, TLS-ECDHE-...".
    const suite = / dtls +(?:client|server): connected, (\S+),/.exec(l);
    if (suite && r.suite === null) r.suite = suite[1];
    // A record weft's handshake filter refused (record_ok(), dtls:debug).
    if (/ dtls +\S+: dropped a malformed record/.test(l)) r.dropped++;
    const end = / pc +pc 0x[0-9a-f]+: SCTP association closed: (.*)$/.exec(l);
    if (end && r.sctpEnd === null) r.sctpEnd = end[1];
    const m = PC_LINE.exec(l);
    if (!m) continue;
    const msg = m[1];
    for (const [k, re] of MILESTONES) {
      const x = re.exec(msg);
      if (x && r[k] === null) r[k] = Number(x[1]);
    }
    const role = /^DTLS connected as (server|client)/.exec(msg);
    if (role) r.role = role[1];
    const fed = /^feeding (\d+) DTLS records that arrived before ICE was connected/.exec(msg);
    if (fed) r.fed += Number(fed[1]);
  }
  return r;
}

// Nearest-rank percentile of a sorted array.
const pct = (s, p) => s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
const f1 = (x) => (typeof x === 'number' ? x.toFixed(1) : String(x));

async function earlyFlight(o) {
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error(`--runs ${o.runs}: a positive integer`);
  fs.mkdirSync(o.outDir, { recursive: true });
  const ans = startChild(process.execPath, [path.join(HERE, 'answerer.mjs'), '--lifetime', String(o.timeout + 10)], {
    name: 'answerer',
    logFile: path.join(o.outDir, 'answerer.stderr'),
  });
  const port = (await ans.waitFor((e) => e.ev === 'listening', 10000, '"listening" line')).port;
  const url = `http://127.0.0.1:${port}/offer`;
  const runs = [];
  try {
    for (let i = 1; i <= o.runs; i++) {
      await runCase(`early-flight/run-${String(i).padStart(2, '0')}`, async (check) => {
        const r = await runEchoClient(o.echoClient, ['--url', url, '--count', '1', '--timeout', '10'], {
          env: { WEFT_DEBUG: 'pc:debug,dtls:debug' },
          timeoutMs: 20000,
        });
        fs.writeFileSync(path.join(o.outDir, `run-${i}.stderr`), `${r.stderr.join('\n')}\n`);
        const pcl = parsePcLog(r.stderr);
        const res = r.result || {};
        const run = { i, connect: res.connect_ms ?? null, ...pcl };
        runs.push(run);
        check(!r.timedOut, `echo-client killed after 20 s`);
        check(r.code === 0 && res.ok === true, `echo-client exit ${r.code ?? r.signal}: ${res.error ?? r.stdout.join(' ')}`);
        check(pcl.role === 'server', `weft was DTLS ${pcl.role ?? '(never connected)'}, not server: the answerer must be the DTLS client`);
        // No flight lost, in every build: weft never resent a flight, and
        // the handshake ended before the peer's first retransmission
        // (OpenSSL: 1 s) could have been needed.
        check(pcl.resent === 0, `weft's DTLS resent a flight ${pcl.resent} time(s): a flight was lost`);
        check(pcl.ice !== null && pcl.dtls !== null && pcl.dtls - pcl.ice < o.handshakeBoundMs,
              `DTLS done ${f1(pcl.dtls - pcl.ice)} ms after ICE connected, bound ${o.handshakeBoundMs} ms`);
        check(typeof run.connect === 'number', `the channel never opened`);
        return `connect ${f1(run.connect)} ms (ICE ${f1(pcl.ice)}, DTLS ${f1(pcl.dtls)}, SCTP ${f1(pcl.sctp)})` +
          (pcl.fed ? `, ${pcl.fed} early DTLS record(s) fed` : ', no early DTLS record');
      });
    }
  } finally {
    const errs = ans.events.filter((e) => e.ev === 'error');
    await runCase('early-flight/answerer', async (check) => {
      check(!errs.length, `answerer errors:\n${errs.map((e) => JSON.stringify(e)).join('\n')}`);
      check(ans.running(), `answerer exited early; stderr tail:\n${ans.tail()}`);
      return `${ans.events.filter((e) => e.ev === 'session').length} sessions`;
    });
    await ans.stop();
    // The answerer's view (what it received, in order), next to each run's.
    fs.writeFileSync(path.join(o.outDir, 'answerer.jsonl'),
      `${ans.events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  }
  await runCase('early-flight/summary', async (check) => {
    const t = runs.map((r) => r.connect).filter((x) => typeof x === 'number').sort((a, b) => a - b);
    const hs = runs.filter((r) => r.ice !== null && r.dtls !== null).map((r) => r.dtls - r.ice).sort((a, b) => a - b);
    const early = runs.filter((r) => r.fed > 0).length;
    check(t.length === o.runs, `${o.runs - t.length} of ${o.runs} runs never opened their channel`);
    // How fast, where the build's speed allows it (0 = not asserted): the
    // median, which one run's wait for a busy CPU cannot move (a lost flight
    // is caught in every run above).
    const slow = runs.filter((r) => typeof r.connect === 'number' && r.connect >= o.boundMs);
    check(!Number(o.boundMs) || (t.length > 0 && pct(t, 50) < o.boundMs),
          `channel open p50 ${f1(pct(t, 50))} ms, bound ${o.boundMs} ms; runs at or over it: ` +
          slow.map((r) => `run ${r.i} ${f1(r.connect)} ms (ICE ${f1(r.ice)}, DTLS ${f1(r.dtls)}, SCTP ${f1(r.sctp)})`).join(', '));
    check(early > 0,
          `no run's first DTLS flight arrived before weft's ICE was connected ("feeding N DTLS records" ` +
          `never logged): the test did not exercise the early path`);
    const line = t.length
      ? `connect_ms p50 ${f1(pct(t, 50))} max ${f1(t[t.length - 1])} over ${t.length} runs; ` +
        `DTLS done after ICE connected: p50 ${f1(pct(hs, 50))} max ${f1(hs[hs.length - 1])} ms; ` +
        `early path (ClientHello held, then fed) in ${early} of ${runs.length} runs; ` +
        `${t.filter((x) => x < 100).length} of ${t.length} opened in under 100 ms`
      : 'no run connected';
    console.log(`     ${line}`);
    return '';
  });
}

// ---- rsa: a peer with an RSA certificate, both roles (issue 13 §1) ----------

// A self-signed RSA-2048 certificate and its key (PEM, not encrypted) in dir,
// made by the openssl CLI. Returns {cert, key, fingerprint} (sha-256, as in
// SDP: upper-case hex pairs and colons).
function makeRsaCertificate(dir) {
  const cert = path.join(dir, 'rsa-cert.pem');
  const key = path.join(dir, 'rsa-key.pem');
  const openssl = (args) => {
    try {
      return execFileSync('openssl', args, { encoding: 'utf8', timeout: 30000, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      fail(`openssl ${args.join(' ')}: ${e.code === 'ENOENT' ? 'openssl not found (Debian: apt-get install openssl)' : e.message}`);
    }
  };
  fs.rmSync(cert, { force: true });
  fs.rmSync(key, { force: true });
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=ndc-rsa']);
  const text = openssl(['x509', '-in', cert, '-noout', '-text']);
  if (!/Public Key Algorithm: rsaEncryption/.test(text) || !/Public-Key: \(2048 bit\)/.test(text))
    fail(`${cert} is not an RSA-2048 certificate:\n${text.slice(0, 600)}`);
  const fp = /Fingerprint=([0-9A-F:]+)/i.exec(openssl(['x509', '-in', cert, '-noout', '-fingerprint', '-sha256']));
  if (!fp) fail(`no sha-256 fingerprint for ${cert}`);
  return { cert, key, fingerprint: fp[1].toUpperCase() };
}

// p50/max of the numbers in xs, for the summary.
function spread(xs) {
  const t = xs.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  return t.length ? `p50 ${f1(pct(t, 50))} max ${f1(t[t.length - 1])}` : 'none';
}

// weft-offers echoes on a negotiated channel: answerer.mjs has its message
// callback in place before anything arrives. On a channel weft opens with
// DCEP, libdatachannel queues the first messages until JavaScript installs
// its callback, and that flush races with its receive thread: once in a
// while one of the first messages reaches the answerer after later ones
// (answerer.mjs --negotiated), which says nothing about RSA.
const NEGOTIATED_ID = 42;

async function rsa(o) {
  if (!Number.isInteger(o.runs) || o.runs < 1) throw new Error(`--runs ${o.runs}: a positive integer`);
  fs.mkdirSync(o.outDir, { recursive: true });
  const hsBound = Number(o.handshakeBoundMs);
  let cert = null;
  await runCase('rsa/certificate', async () => {
    cert = makeRsaCertificate(o.outDir);
    return `RSA-2048, sha-256 ${cert.fingerprint}`;
  });
  if (!cert) return;
  const roles = { 'ndc-offers': [], 'weft-offers': [] };
  const handshake = (pcl) => (pcl.ice !== null && pcl.dtls !== null ? pcl.dtls - pcl.ice : null);

  // (a) libdatachannel offers, weft (echo-server) answers active: weft is the
  // DTLS client, libdatachannel the server signing with its RSA key.
  const srv = await startListener(o.echoServer, ['--lifetime', String(o.timeout + 10)], {
    name: 'echo-server',
    env: { WEFT_DEBUG: 'pc:debug,dtls:debug' },
    logFile: path.join(o.outDir, 'echo-server.stderr'),
  });
  const offerUrl = `http://127.0.0.1:${srv.port}/offer`;
  try {
    for (let i = 1; i <= o.runs; i++) {
      await runCase(`rsa/ndc-offers/run-${i}`, async (check) => {
        const from = srv.stderr.length;
        const off = startChild(
          process.execPath,
          [path.join(HERE, 'offerer.mjs'), '--url', offerUrl, '--cert', cert.cert, '--key', cert.key, '--timeout', '15'],
          { name: 'offerer', logFile: path.join(o.outDir, `ndc-offers-${i}.offerer.stderr`) },
        );
        const ex = await off.wait(20000);
        const res = off.events[off.events.length - 1] || {};
        fs.writeFileSync(path.join(o.outDir, `ndc-offers-${i}.offerer.json`), `${JSON.stringify(res)}\n`);
        // echo-server's side of this session (pc i): the channel's closed
        // line with its count, and the SCTP shutdown; bounded wait.
        const closed = await srv
          .waitFor((e) => e.pc === i && e.ev === 'closed', 3000, `pc ${i} channel closed`)
          .catch(() => null);
        for (let t = 0; t < 30 && parsePcLog(srv.stderr.slice(from)).sctpEnd === null; t++) await sleep(100);
        const mine = srv.stderr.slice(from);
        fs.writeFileSync(path.join(o.outDir, `ndc-offers-${i}.echo-server.stderr`), `${mine.join('\n')}\n`);
        const pcl = parsePcLog(mine);
        const run = { i, connect: res.connect_ms ?? null, handshake: handshake(pcl), ...pcl };
        roles['ndc-offers'].push(run);
        check(!ex.timedOut, 'offerer.mjs killed after 20 s');
        // weft's own account of a failure (say "DTLS: fatal alert 40 from
        // the remote": no suite in common with an RSA certificate).
        const weftErr = srv.events.filter((e) => e.pc === i && e.ev === 'error').map((e) => e.message);
        check(ex.code === 0 && res.ok === true,
              `offerer.mjs exit ${ex.code ?? ex.signal}: ${res.error ?? off.tail(5)}` +
              (weftErr.length ? `; echo-server: ${weftErr.join('; ')}` : ''));
        check(res.offer_fingerprint === cert.fingerprint,
              `libdatachannel's offer has fingerprint ${res.offer_fingerprint}, not the RSA certificate's ${cert.fingerprint}`);
        check(res.answer_setup === 'active' && pcl.role === 'client',
              `weft answered a=setup:${res.answer_setup} and was DTLS ${pcl.role ?? '(never connected)'}: must be active, the DTLS client`);
        check(typeof pcl.suite === 'string' && /^TLS-ECDHE-RSA-WITH-/.test(pcl.suite),
              `negotiated ${pcl.suite ?? '(no "client: connected" line)'}: an ECDHE-RSA suite expected with an RSA server certificate`);
        check(!hsBound || (run.handshake !== null && run.handshake < hsBound),
              `DTLS done ${f1(run.handshake)} ms after ICE connected, bound ${hsBound} ms`);
        check(pcl.resent === 0, `weft's DTLS resent a flight ${pcl.resent} time(s): a flight was lost`);
        check(closed && closed.messages === res.sent && res.sent > 0,
              `echo-server's closed line for pc ${i}: ${JSON.stringify(closed)}, offerer sent ${res.sent}`);
        // libdatachannel's close() shuts the association down and destroys
        // it at once: weft sees a SHUTDOWN, or an ABORT (cause 12, user
        // initiated) when the destruction wins; either is libdatachannel's.
        check(pcl.sctpEnd !== null, `echo-server never logged the end of pc ${i}'s SCTP association`);
        return `connect ${f1(run.connect)} ms (DTLS ${f1(run.handshake)} ms after ICE), ${pcl.suite}, ` +
          `${res.echoed}/${res.sent} echoes, SCTP ${/shut down/.test(pcl.sctpEnd) ? 'shut down' : 'aborted'} by libdatachannel` +
          (pcl.resent ? `, ${pcl.resent} flight(s) resent` : '');
      });
    }
  } finally {
    const errs = srv.events.filter((e) => e.ev === 'error');
    await runCase('rsa/ndc-offers/echo-server', async (check) => {
      check(!errs.length, `echo-server errors:\n${errs.map((e) => JSON.stringify(e)).join('\n')}`);
      check(srv.running(), `echo-server exited early; stderr tail:\n${srv.tail()}`);
      // It stops cleanly on SIGTERM: exit 0, and nothing from a sanitizer.
      const ex = await srv.stop();
      const san = srv.stderr.filter((l) => /ERROR: (Address|Leak)Sanitizer|runtime error:/.test(l));
      check(ex.code === 0 && !ex.hung, `echo-server stopped with ${ex.code ?? ex.signal}${ex.hung ? ' (hung)' : ''}`);
      check(!san.length, `echo-server sanitizer report:\n${san.slice(0, 5).join('\n')}`);
      return `${srv.events.filter((e) => e.ev === 'session').length} sessions`;
    });
    await srv.stop();
    fs.writeFileSync(path.join(o.outDir, 'echo-server.jsonl'), `${srv.events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  }

  // (b) weft (echo-client) offers actpass, libdatachannel answers active: weft
  // is the DTLS server (ECDSA), libdatachannel the client with its RSA
  // certificate.
  const ans = startChild(
    process.execPath,
    [path.join(HERE, 'answerer.mjs'), '--lifetime', String(o.timeout + 10), '--cert', cert.cert, '--key', cert.key,
     '--negotiated', String(NEGOTIATED_ID)],
    { name: 'answerer', logFile: path.join(o.outDir, 'answerer.stderr') },
  );
  const port = (await ans.waitFor((e) => e.ev === 'listening', 10000, '"listening" line')).port;
  const url = `http://127.0.0.1:${port}/offer`;
  try {
    for (let i = 1; i <= o.runs; i++) {
      await runCase(`rsa/weft-offers/run-${i}`, async (check) => {
        const r = await runEchoClient(
          o.echoClient,
          ['--url', url, '--negotiated', String(NEGOTIATED_ID), '--count', '1', '--timeout', '10'],
          { env: { WEFT_DEBUG: 'pc:debug,dtls:debug' }, timeoutMs: 20000 },
        );
        fs.writeFileSync(path.join(o.outDir, `weft-offers-${i}.stderr`), `${r.stderr.join('\n')}\n`);
        const pcl = parsePcLog(r.stderr);
        const res = r.result || {};
        const run = { i, connect: res.connect_ms ?? null, handshake: handshake(pcl), ...pcl };
        roles['weft-offers'].push(run);
        const answered = ans.events.find((e) => e.ev === 'answer' && e.pc === i);
        check(!r.timedOut, 'echo-client killed after 20 s');
        check(r.code === 0 && res.ok === true, `echo-client exit ${r.code ?? r.signal}: ${res.error ?? r.stdout.join(' ')}`);
        check(answered && answered.fingerprint === cert.fingerprint,
              `libdatachannel's answer has fingerprint ${answered?.fingerprint}, not the RSA certificate's ${cert.fingerprint}`);
        check(pcl.role === 'server', `weft was DTLS ${pcl.role ?? '(never connected)'}, not server`);
        check(typeof pcl.suite === 'string' && /^TLS-ECDHE-ECDSA-WITH-/.test(pcl.suite),
              `negotiated ${pcl.suite ?? '(no "server: connected" line)'}: weft's ECDSA certificate signs, ECDHE-ECDSA expected`);
        check(!hsBound || (run.handshake !== null && run.handshake < hsBound),
              `DTLS done ${f1(run.handshake)} ms after ICE connected, bound ${hsBound} ms` +
              (pcl.dropped ? ` (${pcl.dropped} epoch-1 record(s) dropped as malformed)` : ''));
        // weft took libdatachannel's Finished, split in two records: no
        // record dropped, no flight resent (the old ~1 s stall).
        check(pcl.dropped === 0, `weft dropped ${pcl.dropped} epoch-1 record(s) as malformed`);
        check(pcl.resent === 0, `weft's DTLS resent a flight ${pcl.resent} time(s): a flight was lost`);
        return `connect ${f1(run.connect)} ms (DTLS ${f1(run.handshake)} ms after ICE), ${pcl.suite}, ` +
          `${res.echoed}/${res.sent} echoes` +
          (pcl.resent ? `, ${pcl.resent} flight(s) resent` : '') +
          (pcl.dropped ? `, ${pcl.dropped} record(s) dropped as malformed` : '');
      });
    }
  } finally {
    const errs = ans.events.filter((e) => e.ev === 'error');
    await runCase('rsa/weft-offers/answerer', async (check) => {
      check(!errs.length, `answerer errors:\n${errs.map((e) => JSON.stringify(e)).join('\n')}`);
      check(ans.running(), `answerer exited early; stderr tail:\n${ans.tail()}`);
      return `${ans.events.filter((e) => e.ev === 'session').length} sessions`;
    });
    await ans.stop();
    fs.writeFileSync(path.join(o.outDir, 'answerer.jsonl'), `${ans.events.map((e) => JSON.stringify(e)).join('\n')}\n`);
  }

  await runCase('rsa/summary', async (check) => {
    fs.writeFileSync(path.join(o.outDir, 'summary.json'), `${JSON.stringify({ certificate: cert.fingerprint, ...roles })}\n`);
    for (const [role, runs] of Object.entries(roles)) {
      const ok = runs.filter((r) => typeof r.connect === 'number').length;
      check(ok === o.runs, `${role}: ${o.runs - ok} of ${o.runs} runs never opened their channel`);
      const suites = [...new Set(runs.map((r) => r.suite).filter(Boolean))].join(', ') || 'none';
      const resent = runs.filter((r) => r.resent > 0).length;
      console.log(
        `     ${role}: connect_ms ${spread(runs.map((r) => r.connect))}; DTLS done after ICE connected: ` +
          `${spread(runs.map((r) => r.handshake))} ms; ${suites}; a DTLS flight resent in ${resent} of ${runs.length} runs`,
      );
    }
    return '';
  });
}

const o = parseArgs(process.argv.slice(2));
if (!o) process.exit(2);
if (o.mode === 'rsa' && (!o.echoClient || !o.echoServer)) {
  console.error('FAIL: rsa needs --echo-client PATH and --echo-server PATH');
  process.exit(2);
}
process.exit(await driverMain(o, () => (o.mode === 'rsa' ? rsa(o) : earlyFlight(o)), async () => {}));
