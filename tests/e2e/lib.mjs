// Machinery of the room end-to-end tests (run.mjs) on top of the Chromium
// interop driver's (tests/interop/chromium/lib.mjs: children by PID,
// Chromium, case bookkeeping): the signaling server, and room pages in
// headless Chromium launched with the flags of the Chromium interop tests.
// Every wait is bounded.
import { CHROMIUM_FLAGS, fail, launchChromium, log, sleep, startListener, withTimeout } from '../interop/chromium/lib.mjs';
import { MEDIA_SWITCHES } from '../interop/chromium/media.mjs';

// Several pages of one Chromium play at once: none may be throttled as a
// background tab.
const E2E_FLAGS = ['--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows'];

// The signaling server on a free port of 127.0.0.1; resolves once it listens.
export async function startServer(bin, webRoot, { logFile = null } = {}) {
  const s = await startListener(bin, ['--verbose', ...(webRoot ? ['--web-root', webRoot] : [])], { name: 'signaling-server', logFile });
  s.origin = `http://127.0.0.1:${s.port}`;
  s.wsUrl = `ws://127.0.0.1:${s.port}/ws`;
  return s;
}

// Chromium (launchChromium) with the fake camera and microphone.
export async function startBrowser() {
  const c = await launchChromium([...CHROMIUM_FLAGS, ...MEDIA_SWITCHES, ...E2E_FLAGS], 'weft-e2e-chromium-');
  const b = { pid: c.pid, browser: c.browser, version: c.version, pages: [], pageErrors: [] };
  b.close = async () => {
    await withTimeout(b.browser.close(), 3000, 'browser.close').catch(() => {});
    await c.reap();
  };
  // A room page in a context of its own (its own renderer), camera and
  // microphone granted. `label` names it in failures.
  b.openRoomPage = async (origin, query, label) => {
    const context = await b.browser.newContext();
    await context.grantPermissions(['camera', 'microphone'], { origin });
    const page = await context.newPage();
    const p = { page, context, label };
    page.on('pageerror', (e) => b.pageErrors.push(`${label}: ${e.message}`));
    page.on('console', (m) => log(`page ${label} ${m.type()}:`, m.text()));
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
function summarize(s) {
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
