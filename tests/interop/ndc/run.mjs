#!/usr/bin/env node
// weft <-> libdatachannel (node-datachannel) interop driver: the first DTLS
// flight is never lost (issue 12 §3; doc/interop.md, "node-datachannel").
//
//   node run.mjs early-flight --echo-client PATH [--runs 20] [--bound-ms 100]
//               [--timeout S] [--verbose] [--out-dir DIR]
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
// echo checked), be DTLS server, and open its channel (connect_ms, from the
// creation of the peer connection to the channel open) in under --bound-ms.
// At least one run must show weft's "feeding N DTLS records that arrived
// before ICE was connected" line, or the test did not exercise the case it
// is about. Prints one line per run, then p50/max of connect_ms and the
// number of runs that took the early path. Each run's stderr is saved in
// --out-dir (default ./ndc-early-flight).
//
// Exits 0 only if every check passed. Never skips: a missing node-datachannel
// or echo-client is a failure. Every child is killed by PID on every exit path.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { driverMain, parseDriverArgs, runCase, runEchoClient, startChild } from '../chromium/lib.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

const parseArgs = (argv) =>
  parseDriverArgs(argv, {
    modes: ['early-flight'],
    usage: '--echo-client PATH [--runs N] [--bound-ms MS] [--handshake-bound-ms MS]',
    outPrefix: 'ndc',
    defaults: { echoClient: null, runs: 20, boundMs: 100, handshakeBoundMs: 100, timeout: 90 },
    options: {
      '--echo-client': 'echoClient', '--runs': 'runs', '--bound-ms': 'boundMs',
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
  const r = { ice: null, dtls: null, sctp: null, role: null, fed: 0, resent: 0 };
  for (const l of lines) {
    // weft's DTLS retransmission timer fired (WEFT_DEBUG dtls:debug).
    if (/ dtls +\S+: no answer within \d+ ms: resending the last flight/.test(l)) r.resent++;
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
        // The whole open, where the build's speed allows it (0 = not asserted).
        check(!Number(o.boundMs) || (typeof run.connect === 'number' && run.connect < o.boundMs),
              `channel open after ${f1(run.connect)} ms, bound ${o.boundMs} ms ` +
              `(ICE connected ${f1(pcl.ice)} ms, DTLS connected ${f1(pcl.dtls)} ms, SCTP up ${f1(pcl.sctp)} ms)`);
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
    check(early > 0,
          `no run's first DTLS flight arrived before weft's ICE was connected ("feeding N DTLS records" ` +
          `never logged): the test did not exercise the early path`);
    const line = t.length
      ? `connect_ms p50 ${f1(pct(t, 50))} max ${f1(t[t.length - 1])} over ${t.length} runs; ` +
        `DTLS done after ICE connected: p50 ${f1(pct(hs, 50))} max ${f1(hs[hs.length - 1])} ms; ` +
        `early path (ClientHello held, then fed) in ${early} of ${runs.length} runs`
      : 'no run connected';
    console.log(`     ${line}`);
    return '';
  });
}

const o = parseArgs(process.argv.slice(2));
if (!o) process.exit(2);
process.exit(await driverMain(o, () => earlyFlight(o), async () => {}));
