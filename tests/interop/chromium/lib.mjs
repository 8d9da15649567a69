// Shared machinery of the Chromium interop driver (run.mjs), the room
// end-to-end tests (tests/e2e) and the Chromium benchmark
// (tests/bench/bench_chromium.mjs): child processes, headless Chromium driven
// over CDP by playwright-core, a driver's case bookkeeping and main(); for the
// interop driver also the page server (which is also a WHIP-shaped endpoint
// answering with Chromium), the echo examples and the HTTP offer/answer
// client. Every child is killed by its PID on every exit path; every wait is
// bounded.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CHROMIUM = process.env.WEFT_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
];

// Debian's firefox-esr, driven by puppeteer-core over WebDriver BiDi. Prefs:
// no permission prompt, host addresses in the clear (the mdns mode turns
// obfuscation on), autoplay of the echoed media.
export const FIREFOX = process.env.WEFT_FIREFOX || '/usr/bin/firefox-esr';
export const FIREFOX_PREFS = {
  'media.navigator.permission.disabled': true,
  'media.peerconnection.ice.obfuscate_host_addresses': false,
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  'browser.shell.checkDefaultBrowser': false,
  'app.update.enabled': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
};

// The foreign browser of this run (startBrowser sets it): its name, for
// messages, and what weft's examples need to reach it. Firefox gathers nothing
// on loopback (tests/interop/netns-run --veth gives it 198.51.100.7 and a
// default route) and pairs no candidate of its own with a remote 127.0.0.1,
// so with Firefox the examples gather on that address (--no-loopback).
export const PEER = { name: 'Chromium', weftArgs: [] };

export class TestFailure extends Error {}
export function fail(msg) {
  throw new TestFailure(msg);
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function withTimeout(promise, ms, what) {
  let t;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      t = setTimeout(() => reject(new TestFailure(`timeout after ${ms} ms: ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

let verbose = !!process.env.WEFT_INTEROP_VERBOSE;
export function setVerbose(v) {
  verbose = v;
}
export function log(...a) {
  if (verbose) console.error('[driver]', ...a);
}

// ---- children by PID, temp dirs: cleaned up on every exit path -----------

const children = new Set(); // {pid, group, name, exited}
const tempDirs = new Set();

function registerChild(proc, name, group) {
  const c = { pid: proc.pid, group, name, exited: false };
  children.add(c);
  proc.on('exit', () => {
    c.exited = true;
    children.delete(c);
  });
  return c;
}

function hardKill(c) {
  if (c.exited) return;
  try {
    // A detached child leads its own process group (Chromium's helpers are in it).
    process.kill(c.group ? -c.pid : c.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

// Synchronous, so it also runs from process.on('exit').
export function cleanupNow() {
  for (const c of children) hardKill(c);
  for (const d of tempDirs) {
    try {
      fs.rmSync(d, { recursive: true, force: true });
    } catch {
      /* best effort; reported nowhere on purpose: exit path */
    }
  }
  tempDirs.clear();
}
process.on('exit', cleanupNow);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    console.error(`FAIL: killed by ${sig}`);
    cleanupNow();
    process.exit(1);
  });
}

// A fresh temporary directory, removed at exit at the latest.
export function tempDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

function waitExit(proc, ms) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

// Calls onLine for each complete line of a stream.
function lines(stream, onLine) {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i).replace(/\r$/, '');
      buf = buf.slice(i + 1);
      onLine(l);
    }
  });
  stream.on('end', () => {
    if (buf) onLine(buf);
    buf = '';
  });
}

// Spawns `bin args` (stdout and stderr piped) as a child killed on every
// exit path; a missing binary is a failure.
function spawnChild(bin, args, name, { stdin = false, env = {} } = {}) {
  if (!bin) fail(`no ${name} binary given`);
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    fail(`${name} binary not found or not executable: ${bin} (is the ${name} example built?)`);
  }
  log('spawn', bin, args.join(' '));
  const proc = spawn(bin, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  registerChild(proc, name, false);
  return proc;
}

// A long-running child (a server, a weft app): stdout lines that are JSON
// become `events`, the rest `badLines`; stderr is kept (its tail) and
// optionally saved to `logFile`. Returns a handle with waitFor(pred, ms,
// what), stop(), wait(), write(), endInput(), tail().
export function startChild(bin, args, { name, stdin = false, env = {}, logFile = null } = {}) {
  const proc = spawnChild(bin, args, name, { stdin, env });
  const logStream = logFile ? fs.createWriteStream(logFile) : null;
  const h = {
    name,
    proc,
    pid: proc.pid,
    events: [],
    badLines: [],
    stderr: [],
    waiters: new Set(),
    closed: new Promise((r) => proc.on('close', (code, signal) => r({ code, signal }))),
  };
  proc.on('error', (e) => h.stderr.push(`spawn error: ${e.message}`));
  const wake = () => {
    for (const w of h.waiters) w();
  };
  lines(proc.stdout, (l) => {
    if (!l.trim()) return;
    try {
      h.events.push(JSON.parse(l));
    } catch {
      h.badLines.push(l);
    }
    log(`${name} >`, l);
    wake();
  });
  lines(proc.stderr, (l) => {
    h.stderr.push(l);
    if (h.stderr.length > 4000) h.stderr.splice(0, 1000);
    if (logStream) logStream.write(`${l}\n`);
  });
  proc.on('close', () => {
    if (logStream) logStream.end();
    wake();
  });
  h.running = () => proc.exitCode === null && proc.signalCode === null;
  h.tail = (n = 25) => h.stderr.slice(-n).join('\n');
  // Resolves with the first event matching pred (looking at past ones too).
  h.waitFor = (pred, ms, what) =>
    withTimeout(
      new Promise((resolve, reject) => {
        const check = () => {
          const ev = h.events.find(pred);
          if (ev) {
            h.waiters.delete(check);
            resolve(ev);
          } else if (!h.running() && proc.stdout.readableEnded) {
            h.waiters.delete(check);
            reject(new TestFailure(`${name} exited (${proc.exitCode ?? proc.signalCode}) before ${what}; stderr tail:\n${h.tail()}`));
          }
        };
        h.waiters.add(check);
        check();
      }),
      ms,
      `${name}: ${what}`,
    );
  h.write = (text) => proc.stdin.write(text);
  h.endInput = () => proc.stdin.end();
  // SIGTERM, then SIGKILL after `ms`. Resolves {code, signal, hung}.
  h.stop = async (ms = 8000) => {
    if (h.running()) {
      proc.kill('SIGTERM');
      if (!(await waitExit(proc, ms))) {
        proc.kill('SIGKILL');
        await waitExit(proc, 2000);
        return { ...(await h.closed), hung: true };
      }
    }
    return h.closed;
  };
  // Waits (bounded) for it to exit by itself.
  h.wait = async (ms) => {
    if (!(await waitExit(proc, ms))) {
      proc.kill('SIGKILL');
      await waitExit(proc, 2000);
      return { ...(await h.closed), timedOut: true };
    }
    return withTimeout(h.closed, 5000, `${name} output closed`);
  };
  return h;
}

// A server child (startChild) on a free port of 127.0.0.1 (`--host 127.0.0.1
// --port 0 args`); resolves once its "listening" line came, with .port set.
export async function startListener(bin, args, opts) {
  const s = startChild(bin, ['--host', '127.0.0.1', '--port', '0', ...args], opts);
  s.port = (await s.waitFor((e) => e.ev === 'listening', 10000, '"listening" line')).port;
  return s;
}

// ---- a driver's cases, arguments and main ------------------------------------

export const failures = []; // {name, problems}
let cases = 0;

// Runs one named case: fn(check) resolves with a note; a failed check or a
// throw is recorded, and the next case still runs.
export async function runCase(name, fn) {
  const t0 = performance.now();
  const problems = [];
  const check = (cond, msg) => {
    if (!cond) problems.push(msg);
    return !!cond;
  };
  let note = '';
  try {
    note = (await fn(check)) || '';
  } catch (e) {
    problems.push(e instanceof TestFailure ? e.message : `${e.name}: ${e.message}\n${e.stack}`);
  }
  const ms = Math.round(performance.now() - t0);
  if (problems.length) {
    failures.push({ name, problems });
    console.log(`FAIL ${name} (${ms} ms)`);
    for (const p of problems) console.log(`     - ${p.replace(/\n/g, '\n       ')}`);
  } else {
    console.log(`ok   ${name} (${ms} ms) ${note}`);
  }
  cases++;
}

// MODE and options. `options` maps an option to the key of `defaults` it
// sets: a key whose default is false is a flag, one whose default is a number
// takes a number, any other a string. --timeout S (overall bound), --verbose
// and --out-dir DIR (default ./<outPrefix>-MODE, made absolute) are common.
// On a bad command line: prints why and returns null (exit status 2).
export function parseDriverArgs(argv, spec) {
  try {
    return parseArgv(argv, spec);
  } catch (e) {
    console.error(`FAIL: ${e.message}`);
    return null;
  }
}

function parseArgv(argv, { modes, usage, outPrefix, defaults, options }) {
  const o = { mode: null, verbose: false, outDir: null, ...defaults };
  const keys = { '--timeout': 'timeout', '--verbose': 'verbose', '--out-dir': 'outDir', ...options };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!Object.hasOwn(keys, a)) {
      if (!a.startsWith('-') && !o.mode) o.mode = a;
      else throw new TestFailure(`unknown argument ${a}`);
      continue;
    }
    const key = keys[a];
    const kind = typeof o[key]; // (a flag stays boolean once set)
    if (kind === 'boolean') {
      o[key] = true;
      continue;
    }
    if (i + 1 >= argv.length) throw new TestFailure(`${a} needs a value`);
    o[key] = kind === 'number' ? Number(argv[++i]) : argv[++i];
  }
  if (!modes.includes(o.mode)) throw new TestFailure(`usage: run.mjs {${modes.join('|')}} ${usage}`);
  o.outDir = path.resolve(o.outDir || `${outPrefix}-${o.mode}`);
  return o;
}

// The frame of a driver's main(): body() under the overall bound of
// o.timeout s (past it: FAIL and exit 1), a throw recorded as a failure of the
// mode, teardown() and the cleanup always; then the verdict. Returns the exit
// status.
export async function driverMain(o, body, teardown) {
  setVerbose(o.verbose);
  const t0 = performance.now();
  const overall = setTimeout(() => {
    console.log(`FAIL ${o.mode}: overall time bound of ${o.timeout} s exceeded`);
    for (const f of failures) console.log(`  earlier failure: ${f.name}`);
    cleanupNow();
    process.exit(1);
  }, o.timeout * 1000);
  try {
    await body();
  } catch (e) {
    const msg = e instanceof TestFailure ? e.message : `${e.stack}`;
    console.log(`FAIL ${o.mode}: ${msg}`);
    failures.push({ name: o.mode, problems: [msg] });
  } finally {
    await teardown();
    clearTimeout(overall);
    cleanupNow();
  }
  const s = ((performance.now() - t0) / 1000).toFixed(1);
  if (failures.length) {
    console.log(`\nFAILED ${o.mode} after ${s} s: ${failures.length} failure(s):`);
    for (const f of failures) console.log(`  ${f.name}: ${f.problems[0].split('\n')[0]}`);
    return 1;
  }
  console.log(`\nPASSED ${o.mode}: ${cases} cases in ${s} s`);
  return 0;
}

// ---- SDP helpers ---------------------------------------------------------

export function maxMessageSize(sdp) {
  const m = /^a=max-message-size:(\d+)/m.exec(sdp || '');
  return m ? Number(m[1]) : null;
}

// echo-client's "auto": 0, 1, 2, 4, ... 65536, plus the remote's
// max-message-size when larger than 64 KiB.
export function autoSizes(remoteMax) {
  const s = [0];
  for (let n = 1; n <= 65536; n *= 2) s.push(n);
  if (remoteMax && remoteMax > 65536) s.push(remoteMax);
  return s;
}

// Rewrites the address of every host candidate (a full SDP or one
// "candidate:..." string) to a <uuid>.local name, one fresh name per address,
// as a browser hiding its addresses with mDNS does. `names` (a Map) keeps the
// mapping across calls of one peer connection.
export function mdnsRewrite(text, names = new Map()) {
  const one = (cand) => {
    const f = cand.split(' ');
    if (f.length < 8 || f[6] !== 'typ' || f[7] !== 'host' || f[4].endsWith('.local')) return cand;
    if (!names.has(f[4])) names.set(f[4], `${randomUUID()}.local`);
    f[4] = names.get(f[4]);
    return f.join(' ');
  };
  if (!text.includes('\n')) return one(text);
  const out = text.split('\r\n').map((l) => {
    if (l.startsWith('a=candidate:')) return 'a=' + one(l.slice(2));
    return l;
  });
  // The default address must not leak the real one either.
  return out.map((l) => (/^c=IN IP4 /.test(l) && names.size ? 'c=IN IP4 0.0.0.0' : l)).join('\r\n');
}

// ---- HTTP offer/answer client (towards echo-server) -----------------------

// One request on a fresh connection ("Connection: close"). Reusing a
// keep-alive connection races with echo-server, which closes the connection
// right after a 204 without saying so: the next request on it then fails
// ("other side closed"). That is reported separately; here each request
// gets its own connection. Resolves {status, headers (a Headers), body}.
export function httpRequest(url, { method = 'GET', headers = {}, body = null, timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        method,
        agent: false,
        headers: { ...headers, Connection: 'close', ...(body !== null ? { 'Content-Length': Buffer.byteLength(body) } : {}) },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers)) h.set(k, Array.isArray(v) ? v.join(', ') : String(v));
          resolve({ status: res.statusCode, headers: h, body: Buffer.concat(chunks).toString('utf8') });
        });
        res.on('error', (e) => reject(new TestFailure(`${method} ${url}: ${e.message}`)));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(new TestFailure(`${method} ${url}: ${e.message}`)));
    req.end(body ?? undefined);
  });
}

// ---- child processes: the echo examples -----------------------------------

// echo-server (startListener); resolves once its `listening` line came.
export async function startEchoServer(bin, extraArgs = [], { env = {}, logFile = null } = {}) {
  const s = await startListener(bin, [...extraArgs, ...PEER.weftArgs], { name: 'echo-server', env, logFile });
  s.url = `http://127.0.0.1:${s.port}`;
  s.forPc = (pc) => s.events.filter((e) => e.pc === pc);
  return s;
}

// Runs echo-client to completion. onStderr(line, json|null) sees every
// stderr line as it comes. Resolves {code, signal, result, stdout, stderr}.
export async function runEchoClient(bin, args, { env = {}, timeoutMs = 60000, onStderr = () => {} } = {}) {
  const proc = spawnChild(bin, [...args, ...PEER.weftArgs], 'echo-client', { env });
  const out = [];
  const err = [];
  lines(proc.stdout, (l) => out.push(l));
  lines(proc.stderr, (l) => {
    err.push(l);
    let j = null;
    if (l.startsWith('{')) {
      try {
        j = JSON.parse(l);
      } catch {
        /* a library debug line */
      }
    }
    try {
      onStderr(l, j);
    } catch (e) {
      log('onStderr handler:', e.message);
    }
  });
  const t0 = performance.now();
  const exited = new Promise((r) => proc.on('close', (code, signal) => r({ code, signal })));
  const spawnErr = new Promise((r) => proc.on('error', (e) => r({ code: null, signal: null, spawnError: e.message })));
  let timedOut = false;
  const t = setTimeout(() => {
    timedOut = true;
    proc.kill('SIGKILL');
  }, timeoutMs);
  const ex = await Promise.race([exited, spawnErr]);
  clearTimeout(t);
  let result = null;
  const jsonOut = out.filter((l) => l.trim());
  if (jsonOut.length >= 1) {
    try {
      result = JSON.parse(jsonOut[jsonOut.length - 1]);
    } catch {
      result = null;
    }
  }
  return { ...ex, timedOut, ms: performance.now() - t0, result, stdout: out, stderr: err };
}

// ---- the page server (+ WHIP-shaped endpoint answered by Chromium) ----------

const STATIC = {
  '/peer.html': ['text/html; charset=utf-8', path.join(HERE, 'peer.html')],
  '/peer.js': ['text/javascript; charset=utf-8', path.join(HERE, 'peer.js')],
};

// An HTTP request body as text, at most @limit bytes (past it: rejects with
// status 413 and drops the connection).
export function readBody(req, limit = 256 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => {
      n += c.length;
      if (n > limit) {
        reject(Object.assign(new Error('body too large'), { status: 413 }));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

// RFC 8840 fragment -> [{candidate, sdpMid}] (candidate '' = end-of-candidates).
// A fragment may carry m= lines (port 9, one per media section), a=mid,
// a=ice-ufrag/pwd/options, a=group and candidate lines; other attributes are
// ignored, anything that is not an SDP line is an error.
export function parseSdpFrag(body) {
  const out = [];
  let mid = null;
  let section = -1;
  for (const raw of body.split(/\r?\n/)) {
    const l = raw.trim();
    if (!l) continue;
    if (l.startsWith('m=')) {
      section++;
      mid = null;
    } else if (l.startsWith('a=mid:')) mid = l.slice(6);
    else if (l.startsWith('a=candidate:')) out.push({ candidate: l.slice(2), sdpMid: mid, section });
    else if (l === 'a=end-of-candidates') out.push({ candidate: '', sdpMid: mid, section });
    else if (!/^a=[A-Za-z0-9-]+(:|$)/.test(l)) throw Object.assign(new Error(`not an SDP line in sdpfrag: ${l}`), { status: 400 });
  }
  return out;
}

// Starts the page server, where `browser` (once attached) answers offers.
function startPageServer(b) {
  const server = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    const reply = (status, body = '', headers = {}) => {
      res.writeHead(status, { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'Location', ...headers });
      res.end(body);
    };
    try {
      if (req.method === 'GET' && STATIC[u.pathname]) {
        const [type, file] = STATIC[u.pathname];
        return reply(200, fs.readFileSync(file), { 'Content-Type': type, 'Cache-Control': 'no-store' });
      }
      if (u.pathname === '/favicon.ico') return reply(204);
      if (u.pathname === '/health' && req.method === 'GET') return reply(200, 'ok', { 'Content-Type': 'text/plain' });
      if (u.pathname === '/offer' && req.method === 'POST') {
        const ct = (req.headers['content-type'] || '').split(';')[0].trim();
        const body = await readBody(req);
        const sess = { n: b.sessions.length + 1, offer: body, answer: null, pcId: null, patches: [], deleted: false, errors: [] };
        b.sessions.push(sess);
        if (ct !== 'application/sdp') sess.errors.push(`POST /offer with Content-Type "${ct}"`);
        const r = await withTimeout(b.page.evaluate(([sdp, opts]) => window.weft.answer(sdp, opts), [body, b.answerOptions || {}]), 15000, 'page answer');
        sess.pcId = r.id;
        sess.answer = b.rewriteAnswer ? b.rewriteAnswer(r.sdp, sess) : r.sdp;
        sess.chain = Promise.resolve();
        b.onSession(sess);
        return reply(201, sess.answer, { 'Content-Type': 'application/sdp', Location: `/session/${sess.n}` });
      }
      const m = /^\/session\/(\d+)$/.exec(u.pathname);
      if (m) {
        const sess = b.sessions[Number(m[1]) - 1];
        if (!sess || sess.deleted) return reply(404, 'no such session');
        if (req.method === 'PATCH') {
          const ct = (req.headers['content-type'] || '').split(';')[0].trim();
          const body = await readBody(req);
          sess.patches.push(body);
          if (ct !== 'application/trickle-ice-sdpfrag') sess.errors.push(`PATCH with Content-Type "${ct}"`);
          const cands = parseSdpFrag(body);
          // Applied in arrival order, one PATCH after the other.
          const done = (sess.chain = sess.chain.then(async () => {
            for (const c of cands) {
              const cand = { candidate: c.candidate };
              if (c.sdpMid !== null) cand.sdpMid = c.sdpMid;
              else cand.sdpMLineIndex = Math.max(0, c.section);
              await b.page.evaluate(([id, cand]) => window.weft.addCandidate(id, cand), [sess.pcId, cand]);
            }
          }));
          await done;
          return reply(204);
        }
        if (req.method === 'DELETE') {
          sess.deleted = true;
          await b.page.evaluate((id) => window.weft.closePc(id), sess.pcId);
          return reply(200, 'ok');
        }
        return reply(405, 'method not allowed');
      }
      if (req.method === 'OPTIONS') return reply(204, '', { 'Access-Control-Allow-Methods': 'POST, PATCH, DELETE, GET' });
      return reply(404, 'not found');
    } catch (e) {
      log('endpoint error:', e.message);
      b.endpointErrors.push(`${req.method} ${u.pathname}: ${e.message}`);
      return reply(e.status || 500, String(e.message));
    }
  });
  return new Promise((resolve, reject) => {
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

async function loadPlaywright() {
  try {
    return await import('playwright-core');
  } catch (e) {
    fail(
      `playwright-core is not installed in tests/interop (${e.message.split('\n')[0]}).\n` +
        `Install it: scripts/deps, or: cd tests/interop && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci`,
    );
  }
}

// Starts Chromium with `flags` (our own child, so we hold its PID; detached,
// it leads a process group with its helpers) and attaches playwright-core
// over CDP. Returns {proc, pid, browser, version, reap}: reap() waits
// (bounded) for Chromium to exit, SIGKILLs its group, removes its profile.
export async function launchChromium(flags, tmpPrefix) {
  const { chromium } = await loadPlaywright();
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
  } catch {
    fail(`Chromium not found at ${CHROMIUM} (Debian package "chromium"; scripts/deps installs it)`);
  }
  const dir = tempDir(tmpPrefix);
  const args = [...flags, `--user-data-dir=${dir}`, '--remote-debugging-port=0', 'about:blank'];
  log('spawn', CHROMIUM, args.join(' '));
  const proc = spawn(CHROMIUM, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const child = registerChild(proc, 'chromium', true);
  const stderrTail = [];
  let wsResolve;
  const wsUrl = new Promise((r) => (wsResolve = r));
  lines(proc.stderr, (l) => {
    stderrTail.push(l);
    if (stderrTail.length > 200) stderrTail.shift();
    const m = /DevTools listening on (ws:\/\/\S+)/.exec(l);
    if (m) wsResolve(m[1]);
  });
  const c = { proc, pid: proc.pid };
  c.reap = async () => {
    if (!(await waitExit(proc, 5000))) {
      log('chromium did not exit: SIGKILL to its process group', proc.pid);
      hardKill(child);
      await waitExit(proc, 3000);
    }
    hardKill(child); // helpers left in the group, if any
    fs.rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  try {
    const ws = await withTimeout(
      Promise.race([
        wsUrl,
        new Promise((_, rej) =>
          proc.on('exit', (code, sig) => rej(new TestFailure(`Chromium exited (${code ?? sig}) at start:\n${stderrTail.join('\n')}`))),
        ),
      ]),
      30000,
      'Chromium DevTools endpoint',
    );
    c.browser = await chromium.connectOverCDP(ws, { timeout: 15000 });
    c.version = c.browser.version();
  } catch (e) {
    await c.reap();
    throw e;
  }
  return c;
}

async function loadPuppeteer() {
  try {
    return (await import('puppeteer-core')).default;
  } catch (e) {
    fail(
      `puppeteer-core is not installed in tests/interop (${e.message.split('\n')[0]}).\n` +
        'Install it: scripts/deps, or: cd tests/interop && npm ci',
    );
  }
}

// Starts Firefox with `prefs` on top of FIREFOX_PREFS through puppeteer-core
// (WebDriver BiDi; it spawns Firefox detached, so Firefox leads a process
// group with its content processes, and we register its PID). Returns
// {proc, pid, browser, version, reap} like launchChromium.
export async function launchFirefox(prefs, tmpPrefix) {
  const puppeteer = await loadPuppeteer();
  try {
    fs.accessSync(FIREFOX, fs.constants.X_OK);
  } catch {
    fail(`Firefox not found at ${FIREFOX} (Debian package "firefox-esr"; scripts/deps installs it)`);
  }
  const dir = tempDir(tmpPrefix);
  log('launch', FIREFOX, JSON.stringify(prefs));
  let browser;
  try {
    browser = await withTimeout(
      puppeteer.launch({
        browser: 'firefox',
        executablePath: FIREFOX,
        headless: true,
        userDataDir: dir,
        extraPrefsFirefox: { ...FIREFOX_PREFS, ...prefs },
        handleSIGINT: false,
        handleSIGTERM: false,
        handleSIGHUP: false,
        protocolTimeout: 180000, // the driver bounds each wait itself
        timeout: 30000,
      }),
      40000,
      'Firefox start',
    );
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
    throw new TestFailure(`Firefox did not start: ${e.message}`);
  }
  const proc = browser.process();
  const child = registerChild(proc, 'firefox', true);
  const c = { proc, pid: proc.pid, browser, version: await browser.version() };
  c.reap = async () => {
    if (!(await waitExit(proc, 5000))) {
      log('firefox did not exit: SIGKILL to its process group', proc.pid);
      hardKill(child);
      await waitExit(proc, 3000);
    }
    hardKill(child); // content processes left in the group, if any
    fs.rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  return c;
}

// The two drivers' pages side by side: playwright's (Chromium) and
// puppeteer's (Firefox) differ in waitForFunction's arguments.
const waitPageReady = (engine, page) =>
  engine === 'firefox'
    ? page.waitForFunction(() => !!window.weft, { timeout: 10000 })
    : page.waitForFunction(() => !!window.weft, null, { timeout: 10000 });

// A browser with the peer page loaded from the page server: Chromium
// (launchChromium, `extraArgs` its switches; camera and microphone granted to
// the page's origin, without which Chromium gathers only on the default-route
// interface) or, with engine 'firefox', Firefox (launchFirefox, `prefs` on
// top of FIREFOX_PREFS). The handle `b` is the same for both.
export async function startBrowser({ engine = 'chromium', extraArgs = [], prefs = {} } = {}) {
  const t0 = performance.now();
  const firefox = engine === 'firefox';
  PEER.name = firefox ? 'Firefox' : 'Chromium';
  PEER.weftArgs = firefox ? ['--no-loopback'] : [];
  const c = firefox
    ? await launchFirefox(prefs, 'weft-firefox-')
    : await launchChromium([...CHROMIUM_FLAGS, ...extraArgs], 'weft-chromium-');
  const b = {
    engine,
    name: firefox ? 'Firefox' : 'Chromium',
    pid: c.pid,
    browser: c.browser,
    version: c.version,
    sessions: [],
    endpointErrors: [],
    pageErrors: [],
    rewriteAnswer: null,
    answerOptions: null, // passed to window.weft.answer() (e.g. {media: 'echo'})
    onSession: () => {},
    listeners: new Set(),
  };
  const closeAll = async () => {
    if (b.cdp) await withTimeout(b.cdp.send('Browser.close'), 3000, 'Browser.close').catch(() => {});
    await withTimeout(b.browser.close(), firefox ? 8000 : 3000, 'browser.close').catch(() => {});
    if (b.server) {
      // close() alone waits for the page's keep-alive connections.
      b.server.closeAllConnections();
      await withTimeout(new Promise((r) => b.server.close(r)), 3000, 'page server close').catch(() => {});
    }
    await c.reap();
  };
  b.close = closeAll;
  // A page of `origin` with the peer script, its events to `listeners`.
  const loadPeerPage = async (page, origin, listeners, errPrefix) => {
    page.on('pageerror', (e) => b.pageErrors.push(`${errPrefix}${e.message}`));
    page.on('console', (m) => {
      if (verbose || m.type() === 'error') log(`page ${m.type()}:`, m.text());
    });
    await page.exposeFunction('__weftEvent', (json) => {
      const ev = JSON.parse(json);
      for (const fn of listeners) fn(ev);
    });
    await page.goto(`${origin}/peer.html`, { timeout: 15000 });
    await waitPageReady(engine, page);
  };
  try {
    b.server = await startPageServer(b);
    b.origin = `http://127.0.0.1:${b.server.address().port}`;
    let page;
    if (firefox) {
      page = (await b.browser.pages())[0] || (await b.browser.newPage());
    } else {
      b.cdp = await b.browser.newBrowserCDPSession();
      const context = b.browser.contexts()[0];
      await context.grantPermissions(['camera', 'microphone'], { origin: b.origin });
      page = context.pages()[0] || (await context.newPage());
    }
    b.page = page;
    await loadPeerPage(page, b.origin, b.listeners, '');
    b.startMs = performance.now() - t0;
  } catch (e) {
    await closeAll();
    throw e;
  }
  b.eval = (fn, arg) => b.page.evaluate(fn, arg);
  b.on = (fn) => {
    b.listeners.add(fn);
    return () => b.listeners.delete(fn);
  };
  // Another peer page, from origin http://<host>:<port> (default "localhost",
  // a different site than the main page's 127.0.0.1, so the browser puts it
  // in its own content process). Has the eval/on of `b`, so offerToEndpoint()
  // takes it; its offers reach the main page through the endpoint.
  b.openPage = async (host = 'localhost') => {
    const origin = `http://${host}:${b.server.address().port}`;
    let page;
    if (firefox) {
      page = await b.browser.newPage();
    } else {
      const context = b.browser.contexts()[0];
      await context.grantPermissions(['camera', 'microphone'], { origin });
      page = await context.newPage();
    }
    const listeners = new Set();
    await loadPeerPage(page, origin, listeners, `${origin}: `);
    return {
      page,
      origin,
      eval: (fn, arg) => page.evaluate(fn, arg),
      on: (fn) => {
        listeners.add(fn);
        return () => listeners.delete(fn);
      },
    };
  };
  return b;
}

// ---- the page offers to a WHIP-shaped endpoint (echo-server) ----------------

// Creates an offerer pc in the page and signals it to `endpoint` (base URL).
// opts: {channels, negotiated, trickle, mdns, media} (media: see peer.js
// offer()). Trickle: POST the offer at once, then one PATCH per candidate
// (RFC 8840 fragment) and a final end-of-candidates. Returns {id, location, answer, max_message_size,
// trickled, patchStatuses, signalMs}.
// One trickled candidate (or, when cand is null, the end of candidates) as a
// PATCH body: RFC 8840 grammar in the shape WHIP (RFC 9725 section 4.3)
// sends it: the session's ICE credentials, then the candidate's media section
// as an m= line with port 9 and its a=mid.
export function sdpFrag(offerSdp, sdpMid, sdpMLineIndex, cand) {
  const ufrag = /^a=ice-ufrag:(\S+)/m.exec(offerSdp);
  const pwd = /^a=ice-pwd:(\S+)/m.exec(offerSdp);
  const sections = offerSdp.split(/\r\n(?=m=)/).slice(1);
  let sec = sections.find((s) => new RegExp(`^a=mid:${sdpMid}$`, 'm').test(s));
  if (!sec) sec = sections[sdpMLineIndex || 0];
  const mline = sec ? sec.split('\r\n')[0].replace(/^m=(\S+) \d+/, 'm=$1 9') : 'm=application 9 UDP/DTLS/SCTP webrtc-datachannel';
  const mid = sdpMid ?? (sec && /^a=mid:(\S+)/m.exec(sec)?.[1]) ?? '0';
  return (
    (ufrag ? `a=ice-ufrag:${ufrag[1]}\r\n` : '') +
    (pwd ? `a=ice-pwd:${pwd[1]}\r\n` : '') +
    `${mline}\r\na=mid:${mid}\r\n` +
    (cand ? `a=${cand}\r\n` : 'a=end-of-candidates\r\n')
  );
}

export async function offerToEndpoint(b, endpoint, { channels, negotiated = null, trickle = false, mdns = false, media = null } = {}) {
  const names = new Map();
  const queue = []; // events of our pc, in order
  let pcId = null;
  let wake = () => {};
  const early = [];
  const off = b.on((ev) => {
    if (ev.ev !== 'candidate' && ev.ev !== 'end-of-candidates') return;
    if (pcId === null) early.push(ev);
    else if (ev.id === pcId) queue.push(ev);
    wake();
  });
  try {
    const t0 = performance.now();
    const r = await b.eval((o) => window.weft.offer(o), { channels, negotiated, trickle, media });
    pcId = r.id;
    for (const ev of early) if (ev.id === pcId) queue.push(ev);
    const offer = mdns ? mdnsRewrite(r.sdp, names) : r.sdp;
    const post = await httpRequest(`${endpoint}/offer`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp' },
      body: offer,
    });
    if (post.status !== 201) fail(`POST /offer: HTTP ${post.status}: ${post.body}`);
    const location = post.headers.get('location');
    if (!location) fail('POST /offer: 201 without a Location header');
    const sessUrl = new URL(location, endpoint).toString();
    const ans = await b.eval(([id, sdp]) => window.weft.setAnswer(id, sdp), [pcId, post.body]);
    const patchStatuses = [];
    const patches = []; // the PATCH bodies, in order
    let trickled = 0;
    if (trickle) {
      // Everything Chromium gathers, in order, until its end-of-candidates.
      const deadline = performance.now() + 15000;
      let i = 0;
      for (;;) {
        while (i < queue.length) {
          const ev = queue[i++];
          let frag;
          if (ev.ev === 'candidate') {
            const cand = mdns ? mdnsRewrite(ev.candidate, names) : ev.candidate;
            frag = sdpFrag(offer, ev.sdpMid, ev.sdpMLineIndex, cand);
            trickled++;
          } else frag = sdpFrag(offer, null, 0, null);
          const p = await httpRequest(sessUrl, {
            method: 'PATCH',
            headers: { 'Content-Type': 'application/trickle-ice-sdpfrag' },
            body: frag,
          });
          patchStatuses.push(p.status);
          patches.push(frag);
          if (p.status !== 204 && p.status !== 200)
            fail(`PATCH ${location} (${frag.trim().replace(/\r\n/g, ' | ')}): HTTP ${p.status}: ${p.body}`);
          if (ev.ev === 'end-of-candidates') return done();
        }
        if (performance.now() > deadline) fail(`trickle: ${PEER.name} never signalled end-of-candidates`);
        await new Promise((r) => {
          wake = r;
          setTimeout(r, 200);
        });
      }
    }
    return done();
    function done() {
      return {
        id: pcId,
        location,
        sessUrl,
        offer,
        answer: post.body,
        max_message_size: ans.max_message_size,
        trickled,
        patchStatuses,
        patches,
        signalMs: performance.now() - t0,
        mdnsNames: names,
      };
    }
  } finally {
    off();
  }
}
