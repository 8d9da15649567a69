// Machinery of the room end-to-end tests (run.mjs): child processes (the
// signaling server, the weft apps) tracked by PID and killed on every exit
// path, their JSON-lines stdout as events, and headless Chromium driven over
// CDP by playwright-core (from tests/interop/node_modules), launched with the
// flags of the Chromium interop tests. Every wait is bounded.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { CHROMIUM, CHROMIUM_FLAGS, TestFailure, fail, log, sleep, withTimeout } from '../interop/chromium/lib.mjs';
import { MEDIA_SWITCHES } from '../interop/chromium/media.mjs';

export { TestFailure, fail, log, sleep, withTimeout, MEDIA_SWITCHES };

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const INTEROP_DIR = path.resolve(HERE, '../interop');

// Several pages of one Chromium play at once: none may be throttled as a
// background tab.
const E2E_FLAGS = ['--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'];

// ---- children: by PID, killed on every exit path ---------------------------

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
    process.kill(c.group ? -c.pid : c.pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

// Synchronous, so it also runs from process.on('exit').
export function cleanupNow() {
  for (const c of children) hardKill(c);
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
  tempDirs.clear();
}
process.on('exit', cleanupNow);

export function tempDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

export function waitExit(proc, ms) {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    proc.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

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

function checkExecutable(bin, what) {
  if (!bin) fail(`no ${what} binary given`);
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    fail(`${what} binary not found or not executable: ${bin} (is the ${what} example built?)`);
  }
}

// Spawns `bin args`; stdout lines that are JSON become `events`, the rest
// `badLines`; stderr is kept (its tail) and optionally saved to `logFile`.
// Returns a handle with waitFor(pred, ms, what), stop(), kill(), exit.
export function startChild(bin, args, { name, stdin = false, env = {}, logFile = null } = {}) {
  checkExecutable(bin, name);
  log('spawn', bin, args.join(' '));
  const proc = spawn(bin, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  registerChild(proc, name, false);
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

// The signaling server on a free port of 127.0.0.1; resolves once it listens.
export async function startServer(bin, webRoot, { logFile = null, extraArgs = [] } = {}) {
  const args = ['--host', '127.0.0.1', '--port', '0', '--verbose', ...(webRoot ? ['--web-root', webRoot] : []), ...extraArgs];
  const s = startChild(bin, args, { name: 'signaling-server', logFile });
  const l = await s.waitFor((e) => e.ev === 'listening', 10000, '"listening" line');
  s.port = l.port;
  s.origin = `http://127.0.0.1:${l.port}`;
  s.wsUrl = `ws://127.0.0.1:${l.port}/ws`;
  return s;
}

// ---- Chromium ---------------------------------------------------------------

function loadPlaywright() {
  try {
    return createRequire(path.join(INTEROP_DIR, 'package.json'))('playwright-core');
  } catch (e) {
    fail(
      `playwright-core is not installed in tests/interop (${e.message.split('\n')[0]}).\n` +
        `Install it: scripts/deps, or: cd tests/interop && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci`,
    );
  }
}

// Starts Chromium (our own child, so we hold its PID; it leads its process
// group with its helpers), with the fake camera and microphone.
// dropArgs: default flags to leave out (e.g. to see what a person's browser
// does without --allow-loopback-in-peer-connection).
export async function startBrowser({ extraArgs = [], dropArgs = [] } = {}) {
  const { chromium } = loadPlaywright();
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
  } catch {
    fail(`Chromium not found at ${CHROMIUM} (Debian package "chromium"; scripts/deps installs it)`);
  }
  const dir = tempDir('weft-e2e-chromium-');
  const args = [...[...CHROMIUM_FLAGS, ...MEDIA_SWITCHES, ...E2E_FLAGS].filter((f) => !dropArgs.includes(f)), ...extraArgs, `--user-data-dir=${dir}`, '--remote-debugging-port=0', 'about:blank'];
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
  const b = { proc, pid: proc.pid, pages: [], pageErrors: [] };
  b.close = async () => {
    if (b.browser) await withTimeout(b.browser.close(), 3000, 'browser.close').catch(() => {});
    if (!(await waitExit(proc, 5000))) hardKill(child);
    await waitExit(proc, 3000);
    hardKill(child); // helpers left in the group, if any
  };
  try {
    const ws = await withTimeout(
      Promise.race([
        wsUrl,
        new Promise((_, rej) => proc.on('exit', (c, s) => rej(new TestFailure(`Chromium exited (${c ?? s}) at start:\n${stderrTail.join('\n')}`)))),
      ]),
      30000,
      'Chromium DevTools endpoint',
    );
    b.browser = await chromium.connectOverCDP(ws, { timeout: 15000 });
    b.version = b.browser.version();
  } catch (e) {
    await b.close();
    throw e;
  }
  // A room page in a context of its own (its own renderer), camera and
  // microphone granted. `label` names it in failures.
  b.openRoomPage = async (origin, query, label, { grant = true } = {}) => {
    const context = await b.browser.newContext();
    if (grant) await context.grantPermissions(['camera', 'microphone'], { origin });
    const page = await context.newPage();
    const p = { page, context, label, console: [] };
    page.on('pageerror', (e) => b.pageErrors.push(`${label}: ${e.message}`));
    page.on('console', (m) => {
      p.console.push(`${m.type()}: ${m.text()}`);
      if (p.console.length > 500) p.console.shift();
      log(`page ${label} ${m.type()}:`, m.text());
    });
    await page.goto(`${origin}/?${new URLSearchParams(query)}`, { timeout: 15000 });
    await page.waitForFunction(() => !!window.room, null, { timeout: 10000 });
    p.eval = (fn, arg) => page.evaluate(fn, arg);
    // Puts a local file into <input type=file> `selector` (which fires its
    // change event) with CDP's DOM.setFileInputFiles: Chromium reads the file
    // itself. (playwright's setInputFiles refuses files over 50 MB over
    // connectOverCDP, taking the browser for a remote one.)
    p.setInputFile = async (selector, file) => {
      const cdp = await context.newCDPSession(page);
      try {
        const { root } = await cdp.send('DOM.getDocument', { depth: 0 });
        const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
        if (!nodeId) fail(`${label}: no ${selector} in the page`);
        await cdp.send('DOM.setFileInputFiles', { nodeId, files: [file] });
      } finally {
        await cdp.detach().catch(() => {});
      }
    };
    p.snap = () => page.evaluate(() => window.room.snapshot());
    // Polls fn(snapshot) in node until truthy; resolves with its value.
    p.until = async (fn, ms, what) => {
      const deadline = performance.now() + ms;
      let last = null;
      for (;;) {
        last = await p.snap();
        const v = fn(last);
        if (v) return v;
        if (performance.now() > deadline)
          fail(`${label}: timeout after ${ms} ms: ${what}; page state: ${JSON.stringify(summarize(last)).slice(0, 1500)}`);
        await sleep(200);
      }
    };
    b.pages.push(p);
    return p;
  };
  return b;
}

// The parts of a page snapshot worth printing in a failure.
export function summarize(s) {
  if (!s) return s;
  return {
    state: s.state,
    peer: s.peer,
    peers: s.peers,
    messages: s.messages.length,
    transfers: s.transfers.map((t) => ({ dir: t.dir, peer: t.peer, state: t.state, bytes: t.bytes, size: t.size, ok: t.ok, error: t.error, resumedFrom: t.resumedFrom })),
    errors: s.errors.slice(-10),
    events: s.events.slice(-10),
  };
}
