// Shared machinery of the Chromium interop driver (run.mjs) and the Chromium
// benchmark (tests/bench/bench_chromium.mjs): headless Chromium driven over
// CDP by playwright-core, the page server (which is also a WHIP-shaped
// endpoint answering with Chromium), the echo examples as child processes,
// and the HTTP offer/answer client. Every child is killed by its PID on every
// exit path; every wait is bounded.
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

// ---- cleanup: children by PID, temp dirs --------------------------------

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

function candidateType(c) {
  const m = / typ (\S+)/.exec(c);
  return m ? m[1] : null;
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

export function isHostLocal(c) {
  return candidateType(c) === 'host' && c.split(' ')[4].endsWith('.local');
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

function checkExecutable(bin, what) {
  if (!bin) fail(`no ${what} binary given`);
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    fail(`${what} binary not found or not executable: ${bin} (is the ${what} example built?)`);
  }
}

// echo-server --port 0; resolves once its `listening` line came.
export async function startEchoServer(bin, extraArgs = [], { env = {}, name = 'echo-server' } = {}) {
  checkExecutable(bin, 'echo-server');
  const args = ['--host', '127.0.0.1', '--port', '0', ...extraArgs];
  log('spawn', bin, args.join(' '));
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  registerChild(proc, name, false);
  const s = {
    proc,
    events: [],
    badLines: [],
    stderr: [],
    port: null,
    url: null,
    exit: new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal }))),
  };
  let onEvent = () => {};
  lines(proc.stdout, (l) => {
    if (!l.trim()) return;
    try {
      const ev = JSON.parse(l);
      s.events.push(ev);
      onEvent(ev);
    } catch {
      s.badLines.push(l);
    }
  });
  lines(proc.stderr, (l) => {
    s.stderr.push(l);
    if (s.stderr.length > 4000) s.stderr.splice(0, 1000);
  });
  const listening = await withTimeout(
    new Promise((resolve, reject) => {
      onEvent = (ev) => ev.ev === 'listening' && resolve(ev);
      proc.on('error', (e) => reject(new TestFailure(`cannot start echo-server: ${e.message}`)));
      // 'close', not 'exit': by then its stderr has been read to the end.
      proc.on('close', (code, sig) =>
        reject(new TestFailure(`echo-server exited (${code ?? sig}) before listening; stderr:\n${s.stderr.slice(-30).join('\n')}`)),
      );
    }),
    10000,
    'echo-server "listening" line',
  );
  s.port = listening.port;
  s.url = `http://127.0.0.1:${listening.port}`;
  s.forPc = (pc) => s.events.filter((e) => e.pc === pc);
  // SIGTERM, then it must close everything and exit 0 with a `stopped` line.
  s.stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return s.exit;
    proc.kill('SIGTERM');
    if (!(await waitExit(proc, 8000))) {
      proc.kill('SIGKILL');
      await waitExit(proc, 2000);
      return { code: null, signal: 'SIGKILL', hung: true };
    }
    return s.exit;
  };
  return s;
}

// Runs echo-client to completion. onStderr(line, json|null) sees every
// stderr line as it comes. Resolves {code, signal, result, stdout, stderr}.
export async function runEchoClient(bin, args, { env = {}, timeoutMs = 60000, onStderr = () => {} } = {}) {
  checkExecutable(bin, 'echo-client');
  log('spawn', bin, args.join(' '));
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  registerChild(proc, 'echo-client', false);
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

function readBody(req, limit = 256 * 1024) {
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

// Starts Chromium (our own process, so we hold its PID), attaches
// playwright-core over CDP, loads the peer page from the page server and
// grants camera/microphone to its origin (without it Chromium gathers only on
// the default-route interface). extraArgs: e.g. feature switches.
export async function startBrowser({ extraArgs = [] } = {}) {
  const { chromium } = await loadPlaywright();
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
  } catch {
    fail(`Chromium not found at ${CHROMIUM} (Debian package "chromium"; scripts/deps installs it)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-chromium-'));
  tempDirs.add(dir);
  const args = [...CHROMIUM_FLAGS, ...extraArgs, `--user-data-dir=${dir}`, '--remote-debugging-port=0', 'about:blank'];
  log('spawn', CHROMIUM, args.join(' '));
  const t0 = performance.now();
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
  const b = {
    proc,
    pid: proc.pid,
    dir,
    sessions: [],
    endpointErrors: [],
    pageErrors: [],
    rewriteAnswer: null,
    answerOptions: null, // passed to window.weft.answer() (e.g. {media: 'echo'})
    onSession: () => {},
    stderrTail,
    listeners: new Set(),
  };
  const closeAll = async () => {
    if (b.cdp) await withTimeout(b.cdp.send('Browser.close'), 3000, 'Browser.close').catch(() => {});
    if (b.browser) await withTimeout(b.browser.close(), 3000, 'browser.close').catch(() => {});
    if (b.server) {
      // close() alone waits for the page's keep-alive connections.
      b.server.closeAllConnections();
      await withTimeout(new Promise((r) => b.server.close(r)), 3000, 'page server close').catch(() => {});
    }
    if (!(await waitExit(proc, 5000))) {
      log('chromium did not exit: SIGKILL to its process group', proc.pid);
      hardKill(child);
      await waitExit(proc, 3000);
    }
    hardKill(child); // helpers left in the group, if any
    fs.rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  };
  b.close = closeAll;
  try {
    const ws = await withTimeout(
      Promise.race([
        wsUrl,
        new Promise((_, rej) =>
          proc.on('exit', (c, s) => rej(new TestFailure(`Chromium exited (${c ?? s}) at start:\n${stderrTail.join('\n')}`))),
        ),
      ]),
      30000,
      'Chromium DevTools endpoint',
    );
    b.browser = await chromium.connectOverCDP(ws, { timeout: 15000 });
    b.cdp = await b.browser.newBrowserCDPSession();
    const context = b.browser.contexts()[0];
    b.server = await startPageServer(b);
    b.origin = `http://127.0.0.1:${b.server.address().port}`;
    await context.grantPermissions(['camera', 'microphone'], { origin: b.origin });
    const page = context.pages()[0] || (await context.newPage());
    b.page = page;
    page.on('pageerror', (e) => b.pageErrors.push(e.message));
    page.on('console', (m) => {
      if (verbose || m.type() === 'error') log(`page ${m.type()}:`, m.text());
    });
    await page.exposeFunction('__weftEvent', (json) => {
      const ev = JSON.parse(json);
      for (const fn of b.listeners) fn(ev);
    });
    await page.goto(`${b.origin}/peer.html`, { timeout: 15000 });
    await page.waitForFunction(() => !!window.weft, null, { timeout: 10000 });
    b.version = b.browser.version();
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
  // a different site than the main page's 127.0.0.1, so Chromium puts it in
  // its own renderer process). Has the eval/on of `b`, so offerToEndpoint()
  // takes it; its offers reach the main page through the endpoint.
  b.openPage = async (host = 'localhost') => {
    const origin = `http://${host}:${b.server.address().port}`;
    const context = b.browser.contexts()[0];
    await context.grantPermissions(['camera', 'microphone'], { origin });
    const page = await context.newPage();
    const listeners = new Set();
    page.on('pageerror', (e) => b.pageErrors.push(`${origin}: ${e.message}`));
    await page.exposeFunction('__weftEvent', (json) => {
      const ev = JSON.parse(json);
      for (const fn of listeners) fn(ev);
    });
    await page.goto(`${origin}/peer.html`, { timeout: 15000 });
    await page.waitForFunction(() => !!window.weft, null, { timeout: 10000 });
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
          if (p.status !== 204 && p.status !== 200)
            fail(`PATCH ${location} (${frag.trim().replace(/\r\n/g, ' | ')}): HTTP ${p.status}: ${p.body}`);
          if (ev.ev === 'end-of-candidates') return done();
        }
        if (performance.now() > deadline) fail('trickle: Chromium never signalled end-of-candidates');
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
        signalMs: performance.now() - t0,
        mdnsNames: names,
      };
    }
  } finally {
    off();
  }
}
