#!/usr/bin/env node
// Room end-to-end tests (issue 5, doc/rooms.md): the signaling server, the
// room page (examples/web) in headless Chromium and the weft apps, together.
//
//   node run.mjs MODE --server PATH [--chat PATH] [--file-transfer PATH]
//                [--video-call PATH] [--web-root DIR] [--timeout S]
//                [--out-dir DIR] [--verbose] [--screenshot-copy FILE]
//
// MODE:
//   room           two room pages and one weft `chat` join a room; chat
//                  messages from each arrive exactly once at every other; one
//                  page leaves, then chat: the others see peer-left
//   room-browsers  the same with three pages (no weft)
//   file           64 MiB of random bytes weft -> page and page -> weft
//                  (file-transfer), SHA-256 checked on both sides, and weft ->
//                  page again with the connection cut half way (--cut-after):
//                  the transfer resumes where the page's acks were and completes
//   video          video-call <-> the page (camera on) for 10 s: the page
//                  decodes >= 100 frames of weft's video, video-call >= 100 of
//                  the page's; a screenshot of the page showing weft's test
//                  pattern goes to --out-dir (and to --screenshot-copy)
//   video-renegotiate  the page first without camera, video-call joins, then
//                  the page starts its camera (fails today: see RENEGOTIATE_CASES)
//
// Must run in a network namespace with only lo (tests/interop/netns-run), as
// the Chromium interop tests do. Exits 0 only if every check passed; never
// skips: a missing binary, Chromium or playwright-core is a failure.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { driverMain, failures, log, parseDriverArgs, runCase, sleep, startChild, tempDir, withTimeout } from '../interop/chromium/lib.mjs';
import { startBrowser, startServer } from './lib.mjs';

const MODES = ['room', 'room-browsers', 'file', 'video', 'video-renegotiate'];
const ROOM = 'e2e';
const FILE_SIZE = 64 * 1024 * 1024;
const VIDEO_SECONDS = 10;
const MIN_FRAMES = 100;

const parseArgs = (argv) =>
  parseDriverArgs(argv, {
    modes: MODES,
    usage: '--server PATH [--chat PATH] ...',
    outPrefix: 'e2e',
    defaults: { server: null, chat: null, fileTransfer: null, videoCall: null, webRoot: null, timeout: 240, screenshotCopy: null },
    options: {
      '--server': 'server',
      '--chat': 'chat',
      '--file-transfer': 'fileTransfer',
      '--video-call': 'videoCall',
      '--web-root': 'webRoot',
      '--screenshot-copy': 'screenshotCopy',
    },
  });

const appArgs = (srv, peer, name) => ['--url', srv.wsUrl, '--room', ROOM, '--peer', peer, '--name', name];

// The server must stop on SIGTERM with exit 0 and a "stopped" line, and have
// logged no error for the whole test.
async function stopServer(srv) {
  await runCase('signaling-server/stops-cleanly', async (check) => {
    const ex = await srv.stop();
    check(ex.code === 0, `signaling-server exit: ${JSON.stringify(ex)}; stderr tail:\n${srv.tail()}`);
    check(srv.events.some((e) => e.ev === 'stopped'), 'signaling-server printed no "stopped" line');
    check(!srv.badLines.length, `signaling-server stdout lines that are not JSON:\n${srv.badLines.slice(0, 5).join('\n')}`);
    const errs = srv.events.filter((e) => e.ev === 'error');
    check(!errs.length, `signaling-server "error" lines:\n${errs.slice(0, 10).map((e) => JSON.stringify(e)).join('\n')}`);
    return `${srv.events.filter((e) => e.ev === 'join').length} joins, ${srv.events.filter((e) => e.ev === 'relay').length} relays`;
  });
}

// Page errors (room.errors) other than the expected ones.
function pageErrors(snap, allow = []) {
  return snap.errors.filter((e) => !allow.some((re) => re.test(e)));
}

// ---- room: life cycle and chat ---------------------------------------------

async function modeRoom(o, b, srv, withWeft) {
  const pages = [];
  const chatters = []; // {peer, name, kind: 'page'|'weft', page?, app?}
  let app = null;
  await runCase(`${o.mode}/join`, async (check) => {
    for (const [peer, name] of [['alice', 'Alice'], ['bob', 'Bob 🐝']]) {
      const p = await b.openRoomPage(srv.origin, { room: ROOM, name, peer }, peer);
      await p.until((s) => s.state === 'joined', 10000, 'joined');
      pages.push(p);
      chatters.push({ peer, name, kind: 'page', page: p });
    }
    if (withWeft) {
      app = startChild(o.chat, appArgs(srv, 'weft', 'Weft'), { name: 'chat', stdin: true, logFile: path.join(o.outDir, 'chat.stderr') });
      chatters.push({ peer: 'weft', name: 'Weft', kind: 'weft', app });
    } else {
      const p = await b.openRoomPage(srv.origin, { room: ROOM, name: 'Carol', peer: 'carol' }, 'carol');
      pages.push(p);
      chatters.push({ peer: 'carol', name: 'Carol', kind: 'page', page: p });
    }
    // Everyone's chat channel to everyone else open.
    const ids = chatters.map((c) => c.peer);
    for (const c of chatters) {
      const others = ids.filter((x) => x !== c.peer);
      if (c.kind === 'page') {
        await c.page.until((s) => others.every((x) => s.peers[x] && s.peers[x].chatOpen), 20000, `chat open with ${others.join(', ')}`);
      } else {
        for (const x of others) await c.app.waitFor((e) => e.ev === 'open' && e.peer === x, 20000, `"open" for ${x}`);
      }
    }
    // Who offered to whom: the later joiner, every time (doc/rooms.md).
    const a = await pages[0].snap();
    check(a.peers.bob && a.peers.bob.offerer === false, `alice offered to bob (bob joined later, so bob offers): ${JSON.stringify(a.peers.bob)}`);
    const bb = await pages[1].snap();
    check(bb.peers.alice && bb.peers.alice.offerer === true, `bob did not offer to alice: ${JSON.stringify(bb.peers.alice)}`);
    return `${chatters.map((c) => `${c.peer} (${c.kind})`).join(', ')} all connected`;
  });
  if (failures.length) return;

  const PER = 5;
  const expected = []; // {from, name, text}
  await runCase(`${o.mode}/chat-exactly-once`, async (check) => {
    // Interleaved: each sends one, then the next, PER rounds.
    for (let i = 1; i <= PER; i++) {
      for (const c of chatters) {
        const text = `${c.peer} #${i}: héllo ✓ "quoted" \\ ${crypto.randomBytes(3).toString('hex')}`;
        expected.push({ from: c.peer, name: c.name, text });
        if (c.kind === 'page') {
          const n = await c.page.eval((t) => window.room.sendChat(t), text);
          check(n === chatters.length - 1, `${c.peer}: sendChat reached ${n} peers, expected ${chatters.length - 1}`);
        } else {
          c.app.write(`${text}\n`);
        }
      }
    }
    // Each must get every message of the others, then nothing more.
    const want = (c) => expected.filter((m) => m.from !== c.peer);
    const got = async (c) => {
      if (c.kind === 'page') return (await c.page.snap()).messages.filter((m) => !m.self).map((m) => ({ from: m.from, name: m.name, text: m.text }));
      return c.app.events.filter((e) => e.ev === 'chat').map((e) => ({ from: e.from, name: e.name, text: e.text }));
    };
    const deadline = performance.now() + 15000;
    for (const c of chatters) {
      for (;;) {
        const g = await got(c);
        if (g.length >= want(c).length || performance.now() > deadline) break;
        await sleep(200);
      }
    }
    await sleep(1000); // duplicates would come now
    let total = 0;
    for (const c of chatters) {
      const g = await got(c);
      total += g.length;
      const w = want(c);
      for (const m of w) {
        const n = g.filter((x) => x.text === m.text).length;
        check(n === 1, `${c.peer} got ${JSON.stringify(m.text)} from ${m.from} ${n} times`);
        const x = g.find((y) => y.text === m.text);
        if (x) {
          check(x.from === m.from, `${c.peer}: ${JSON.stringify(m.text)} attributed to ${x.from}, sent by ${m.from}`);
          check(x.name === m.name, `${c.peer}: ${JSON.stringify(m.text)} with name ${JSON.stringify(x.name)}, expected ${JSON.stringify(m.name)}`);
        }
      }
      const extra = g.filter((x) => !w.some((m) => m.text === x.text));
      check(!extra.length, `${c.peer} got unexpected messages: ${JSON.stringify(extra.slice(0, 5))}`);
      // Per sender, in the order sent (ordered channel).
      for (const s of chatters) {
        if (s === c) continue;
        const order = g.filter((x) => x.from === s.peer).map((x) => x.text);
        const sent = w.filter((m) => m.from === s.peer).map((m) => m.text);
        check(JSON.stringify(order) === JSON.stringify(sent), `${c.peer}: messages of ${s.peer} out of order`);
      }
    }
    return `${expected.length} messages sent, ${total} received (${chatters.length} × ${(chatters.length - 1) * PER} expected)`;
  });

  await runCase(`${o.mode}/leave`, async (check) => {
    // bob leaves (the page's Leave); alice and the third see peer-left.
    await pages[1].eval(() => window.room.leave());
    await pages[0].until((s) => s.events.some((e) => e.type === 'peer-left' && e.peer === 'bob') && !s.peers.bob, 10000, 'peer-left bob');
    const third = chatters[2];
    if (third.kind === 'weft') await third.app.waitFor((e) => e.ev === 'peer-left' && e.peer === 'bob', 10000, 'peer-left bob');
    else await third.page.until((s) => s.events.some((e) => e.type === 'peer-left' && e.peer === 'bob'), 10000, 'peer-left bob');
    // The room still works without bob.
    const text = `after bob left ${crypto.randomBytes(3).toString('hex')}`;
    const n = await pages[0].eval((t) => window.room.sendChat(t), text);
    check(n === 1, `alice's message reached ${n} peers after bob left, expected 1`);
    if (third.kind === 'weft') await third.app.waitFor((e) => e.ev === 'chat' && e.text === text, 10000, 'the message after bob left');
    else await third.page.until((s) => s.messages.some((m) => m.text === text), 10000, 'the message after bob left');
    const bob = await pages[1].snap();
    check(!bob.messages.some((m) => m.text === text), 'bob got a message after he left');
    return 'bob left: alice and the third saw peer-left; the room goes on without him';
  });

  // bob comes back on the same WebSocket: now he joins after the third, so
  // the page offers to it too (for weft chat: an offer with the page's
  // receive-only audio and video sections besides the data channel).
  await runCase(`${o.mode}/rejoin`, async (check) => {
    const third = chatters[2];
    await pages[1].eval(() => window.room.join('e2e', 'Bob 🐝', 'bob'));
    await pages[1].until((s) => s.state === 'joined' && ['alice', third.peer].every((x) => s.peers[x] && s.peers[x].chatOpen), 20000, 'bob: chat open with alice and the third again');
    const b2 = await pages[1].snap();
    check(b2.peers.alice.offerer && b2.peers[third.peer].offerer, `bob (the joiner) did not offer to both: ${JSON.stringify(b2.peers)}`);
    if (third.kind === 'weft') await third.app.waitFor((e) => e.ev === 'open' && e.peer === 'bob' && third.app.events.indexOf(e) > third.app.events.findIndex((x) => x.ev === 'peer-left' && x.peer === 'bob'), 20000, '"open" for bob again');
    const text = `bob is back ${crypto.randomBytes(3).toString('hex')}`;
    const n = await pages[1].eval((t) => window.room.sendChat(t), text);
    check(n === 2, `bob's message reached ${n} peers, expected 2`);
    const reply = `welcome back ${crypto.randomBytes(3).toString('hex')}`;
    if (third.kind === 'weft') {
      await third.app.waitFor((e) => e.ev === 'chat' && e.text === text, 10000, 'bob\'s message');
      third.app.write(`${reply}\n`);
    } else {
      await third.page.until((s) => s.messages.some((m) => m.text === text), 10000, 'bob\'s message');
      await third.page.eval((t) => window.room.sendChat(t), reply);
    }
    await pages[0].until((s) => s.messages.some((m) => m.text === text), 10000, 'bob\'s message');
    await pages[1].until((s) => s.messages.some((m) => m.text === reply && m.from === third.peer), 10000, `${third.peer}'s reply`);
    await sleep(500);
    const a = await pages[0].snap();
    check(a.messages.filter((m) => m.text === text).length === 1, 'alice: bob\'s message not exactly once');
    const bb = await pages[1].snap();
    check(bb.messages.filter((m) => m.text === reply).length === 1, 'bob: the reply not exactly once');
    if (third.kind === 'weft') check(third.app.events.filter((e) => e.ev === 'chat' && e.text === text).length === 1, 'weft: bob\'s message not exactly once');
    return `bob rejoined and offered to alice and ${third.peer}; messages both ways exactly once`;
  });

  await runCase(`${o.mode}/last-leaves`, async (check) => {
    const third = chatters[2];
    // The third leaves: weft chat on EOF (exit 0), a page with Leave.
    if (third.kind === 'weft') {
      third.app.endInput();
      const ex = await third.app.wait(10000);
      check(ex.code === 0, `chat exit on EOF: ${JSON.stringify(ex)}; stderr tail:\n${third.app.tail()}`);
      check(!third.app.badLines.length, `chat stdout lines that are not JSON: ${third.app.badLines.slice(0, 3).join(' | ')}`);
    } else {
      await third.page.eval(() => window.room.leave());
    }
    for (const p of pages.filter((x) => x !== third.page)) await p.until((s) => !s.peers[third.peer] && s.events.some((e) => e.type === 'peer-left' && e.peer === third.peer), 10000, `peer-left ${third.peer}`);
    for (const p of pages) {
      const s = await p.snap();
      const errs = pageErrors(s);
      check(!errs.length, `${p.label}: page errors: ${errs.join('; ')}`);
    }
    return `${third.peer} left: alice and bob saw peer-left`;
  });
}

// ---- file transfer ----------------------------------------------------------

function sha256File(file) {
  const h = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  try {
    let n;
    while ((n = fs.readSync(fd, buf, 0, buf.length, null)) > 0) h.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return h.digest('hex');
}

function randomFile(file, size) {
  const fd = fs.openSync(file, 'w');
  try {
    for (let off = 0; off < size; off += 1 << 20) fs.writeSync(fd, crypto.randomBytes(Math.min(1 << 20, size - off)));
  } finally {
    fs.closeSync(fd);
  }
}

const mbps = (bytes, s) => ((bytes * 8) / 1e6 / s).toFixed(1);

// file-transfer send -> the page. cutAfter: bytes, or null.
async function weftToPage(o, srv, page, src, hash, check, { cutAfter = null, tag }) {
  const args = ['send', src, '--to', 'web', ...appArgs(srv, `wsend${tag}`, 'Weft sender')];
  if (cutAfter !== null) args.push('--cut-after', String(cutAfter));
  const t0 = performance.now();
  const app = startChild(o.fileTransfer, args, { name: 'file-transfer send', logFile: path.join(o.outDir, `send${tag}.stderr`) });
  const before = (await page.snap()).transfers.length;
  try {
    const ex = await app.wait(120000);
    const done = app.events.find((e) => e.ev === 'done');
    check(ex.code === 0, `file-transfer send exit ${JSON.stringify(ex)}; stdout: ${JSON.stringify(app.events.slice(-3))}; stderr tail:\n${app.tail()}`);
    if (!check(done, 'file-transfer send printed no "done" line')) return null;
    check(done.ok === true, `sender: not ok: ${JSON.stringify(done)}`);
    check(done.sha256 === hash, `sender: sha256 ${done.sha256}, the file's is ${hash}`);
    check(done.size === FILE_SIZE, `sender: size ${done.size}`);
    const t = await page.until((s) => {
      const x = s.transfers.slice(before).find((y) => y.dir === 'recv');
      return x && x.final ? x : null;
    }, 10000, 'the page\'s transfer record final');
    check(t.ok === true, `page: transfer not ok: ${JSON.stringify(t)}`);
    check(t.receivedSha256 === hash, `page: received sha256 ${t.receivedSha256}, sent ${hash}`);
    check(t.size === FILE_SIZE && t.bytes === FILE_SIZE, `page: ${t.bytes}/${t.size} bytes`);
    check(/^blob:/.test(t.url || ''), `page: no download link (${t.url})`);
    // The link really holds the file: hash what it points to.
    const linkHash = await page.eval(async (url) => {
      const buf = await (await fetch(url)).arrayBuffer();
      return [...new Uint8Array(await crypto.subtle.digest('SHA-256', buf))].map((x) => x.toString(16).padStart(2, '0')).join('');
    }, t.url);
    check(linkHash === hash, `page: the download link's content hashes to ${linkHash}`);
    const secs = (performance.now() - t0) / 1000;
    if (cutAfter !== null) {
      check(done.resumed_from > 0 && done.resumed_from <= cutAfter, `sender resumed_from ${done.resumed_from}, expected in (0, ${cutAfter}]`);
      check(t.attempts >= 2 && t.resumedFrom === done.resumed_from, `page: ${t.attempts} attempts, resumed at ${t.resumedFrom}, sender says ${done.resumed_from}`);
    } else {
      check(done.resumed_from === 0, `sender resumed_from ${done.resumed_from} on an uncut run`);
    }
    return { done, t, secs };
  } finally {
    await app.stop(3000);
  }
}

// The page's file picker -> file-transfer receive. cut: the page closes its
// channel once half way (room.cutAfter) and starts again.
async function pageToWeft(o, srv, page, src, hash, dir, check, { cut = false, tag }) {
  const out = path.join(dir, `received${tag}`);
  fs.mkdirSync(out);
  const t0 = performance.now();
  const peer = `wrecv${tag}`;
  const app = startChild(o.fileTransfer, ['receive', out, ...appArgs(srv, peer, 'Weft receiver')], { name: 'file-transfer receive', logFile: path.join(o.outDir, `receive${tag}.stderr`) });
  try {
    await page.until((s) => s.peers[peer] && s.peers[peer].chatOpen, 20000, `chat channel with ${peer} open`);
    const before = (await page.snap()).transfers.length;
    if (cut) await page.eval((n) => (window.room.cutAfter = n), FILE_SIZE / 2);
    // Through the page's own picker, as a person would.
    await page.page.selectOption('#file-peer', peer);
    await page.setInputFile('#file-input', src);
    const done = await app.waitFor((e) => e.ev === 'done', 120000, '"done" line');
    const t = await page.until((s) => {
      const x = s.transfers.slice(before).find((y) => y.dir === 'send');
      return x && x.final ? x : null;
    }, 10000, 'the page\'s transfer record final');
    const secs = (performance.now() - t0) / 1000;
    check(done.ok === true, `receiver: not ok: ${JSON.stringify(done)}`);
    check(done.sha256 === hash, `receiver: sha256 ${done.sha256}, sent ${hash}`);
    check(t.ok === true, `page: sender record not ok: ${JSON.stringify(t)}`);
    check(t.sha256 === hash, `page: announced sha256 ${t.sha256}, the file's is ${hash}`);
    const got = path.join(out, 'random-64MiB.bin');
    if (check(fs.existsSync(got), `no ${got}; ${out} holds ${fs.readdirSync(out).join(', ')}`)) {
      check(fs.statSync(got).size === FILE_SIZE, `received size ${fs.statSync(got).size}`);
      check(sha256File(got) === hash, 'the received file hashes differently');
    }
    const left = fs.readdirSync(out).filter((f) => f.endsWith('.part'));
    check(!left.length, `partial files left: ${left.join(', ')}`);
    if (cut) {
      check(t.attempts === 2, `page: ${t.attempts} attempts, expected 2 (one cut)`);
      check(t.resumedFrom > 0 && t.resumedFrom <= FILE_SIZE / 2, `page: resumed at ${t.resumedFrom}, expected in (0, ${FILE_SIZE / 2}]`);
      check(done.resumed_from === t.resumedFrom, `receiver says resumed_from ${done.resumed_from}, the page resumed at ${t.resumedFrom}`);
    } else {
      check(t.attempts === 1 && done.resumed_from === 0, `uncut run: ${t.attempts} attempts, resumed_from ${done.resumed_from}`);
    }
    const ex = await app.wait(10000);
    check(ex.code === 0, `file-transfer receive exit ${JSON.stringify(ex)}; stderr tail:\n${app.tail()}`);
    return { done, t, secs };
  } finally {
    await app.stop(3000);
  }
}

async function modeFile(o, b, srv) {
  const dir = tempDir('weft-e2e-file-');
  const src = path.join(dir, 'random-64MiB.bin');
  randomFile(src, FILE_SIZE);
  const hash = sha256File(src);
  const page = await b.openRoomPage(srv.origin, { room: ROOM, name: 'Browser', peer: 'web' }, 'web');
  await page.until((s) => s.state === 'joined', 10000, 'joined');

  await runCase('file/weft-to-browser', async (check) => {
    const r = await weftToPage(o, srv, page, src, hash, check, { tag: '' });
    if (!r) return '';
    return `64 MiB in ${r.done.seconds?.toFixed?.(1)} s (sender: ${r.done.mb_per_s} MB/s; run ${r.secs.toFixed(1)} s), sha256 ok both sides`;
  });

  await runCase('file/browser-to-weft', async (check) => {
    const r = await pageToWeft(o, srv, page, src, hash, dir, check, { tag: '' });
    return `64 MiB in ${r.done.seconds?.toFixed?.(1)} s (receiver: ${r.done.mb_per_s} MB/s; run ${r.secs.toFixed(1)} s), sha256 ok both sides`;
  });

  await runCase('file/weft-to-browser-cut-and-resume', async (check) => {
    const cut = FILE_SIZE / 2;
    const r = await weftToPage(o, srv, page, src, hash, check, { cutAfter: cut, tag: '-cut' });
    if (!r) return '';
    const ev = (await page.snap()).events.filter((e) => e.peer === 'wsend-cut').map((e) => e.type);
    return `cut after ${cut} B, resumed at ${r.done.resumed_from} B, ${r.t.attempts} attempts, total ${r.secs.toFixed(1)} s, sha256 ok; ` +
      `the page saw the sender: ${ev.join(', ')}`;
  });

  await runCase('file/browser-to-weft-cut-and-resume', async (check) => {
    const r = await pageToWeft(o, srv, page, src, hash, dir, check, { cut: true, tag: '-cut' });
    return `the page closed its channel after ${FILE_SIZE / 2} B; the receiver answered resume at ${r.t.resumedFrom} B; ` +
      `total ${r.secs.toFixed(1)} s, sha256 ok`;
  });

  const s = await page.snap();
  const errs = pageErrors(s);
  if (errs.length) failures.push({ name: 'file/page-errors', problems: [errs.join('; ')] });
}

// ---- video call ---------------------------------------------------------------

// Three orders:
//   camera-first   the page joins with its camera on; video-call joins after
//                  and offers audio + video; the page answers with its camera.
//                  The screenshot comes from this one.
//   weft-first     video-call is there first; the page joins without camera
//                  (offering receive-only audio + video, so weft's pattern
//                  shows at once), then a click on "Start video": the page
//                  renegotiates (weft answered first, weft answers again).
//   page-first     (mode video-renegotiate) the page is there first without
//                  camera, video-call joins and offers, then "Start video":
//                  the page re-offers to the pc where weft made the first
//                  offer. Fails today: weft's second answer says
//                  a=setup:active although weft is the DTLS server of that
//                  association (lib/pc/pc.c create_answer ignores the current
//                  role), and Chromium refuses it ("Failed to set SSL role").
const VIDEO_CASES = [
  { name: 'camera-first', room: 'video1', seconds: VIDEO_SECONDS, order: 'page', camera: true, screenshot: true },
  { name: 'weft-first-then-start-video', room: 'video2', seconds: VIDEO_SECONDS + 4, order: 'weft', camera: false },
];
const RENEGOTIATE_CASES = [{ name: 'page-first-then-start-video', room: 'video3', seconds: VIDEO_SECONDS + 4, order: 'page', camera: false }];

async function videoCase(o, b, srv, c, check) {
  const args = ['--url', srv.wsUrl, '--room', c.room, '--peer', 'weft', '--name', 'Weft video', '--seconds', String(c.seconds)];
  if (c.screenshot) args.push('--ivf', path.join(o.outDir, 'received-from-browser.ivf'));
  let page = null;
  let app = null;
  const samples = [];
  let best = null;
  let shot = null;
  let picture = null;
  try {
    if (c.order === 'page') {
      page = await b.openRoomPage(srv.origin, { room: c.room, name: 'Browser', peer: 'web', ...(c.camera ? { video: '1' } : {}) }, `web-${c.name}`);
      await page.until((s) => s.state === 'joined' && s.video === c.camera, 15000, `joined${c.camera ? ' with the camera on' : ''}`);
      app = startChild(o.videoCall, args, { name: 'video-call', logFile: path.join(o.outDir, `video-call-${c.name}.stderr`) });
    } else {
      app = startChild(o.videoCall, args, { name: 'video-call', logFile: path.join(o.outDir, `video-call-${c.name}.stderr`) });
      await app.waitFor((e) => e.ev === 'joined', 10000, '"joined" line').catch(() => sleep(0));
      page = await b.openRoomPage(srv.origin, { room: c.room, name: 'Browser', peer: 'web' }, `web-${c.name}`);
    }
    await page.until((s) => s.peers.weft && s.peers.weft.pcState === 'connected', 20000, 'connected to weft');
    if (!c.camera) {
      // weft's video must flow before our camera is on.
      const t0 = performance.now();
      let st = null;
      while (performance.now() - t0 < 8000) {
        st = await page.eval((p) => window.room.getStats(p), 'weft');
        if (st && st.inbound.video && st.inbound.video.framesDecoded > 0) break;
        await sleep(250);
      }
      check(st && st.inbound.video && st.inbound.video.framesDecoded > 0, `camera off: the page decoded none of weft's video: ${JSON.stringify(st)}`);
      await page.page.click('#video-start');
      await page.until((s) => s.video, 10000, 'camera on');
    }
    const deadline = performance.now() + (c.seconds + 10) * 1000;
    while (app.running() && performance.now() < deadline) {
      const st = await page.eval((p) => window.room.getStats(p), 'weft');
      const v = st && st.inbound.video;
      if (v) {
        samples.push(v.framesDecoded || 0);
        if (!best || (v.framesDecoded || 0) >= (best.inbound.video.framesDecoded || 0)) best = st;
        if (c.screenshot && !shot && (v.framesDecoded || 0) >= 90) {
          picture = await page.eval((p) => window.room.videoPicture(p), 'weft');
          shot = path.join(o.outDir, 'video-call.png');
          await page.page.screenshot({ path: shot, fullPage: true, timeout: 5000 });
        }
      }
      await sleep(500);
    }
    const ex = await app.wait(15000);
    const done = app.events.find((e) => e.ev === 'done');
    check(ex.code === 0, `video-call exit ${JSON.stringify(ex)}; stderr tail:\n${app.tail()}`);
    const dec = best ? best.inbound.video.framesDecoded || 0 : 0;
    check(dec >= MIN_FRAMES, `the page decoded ${dec} frames of weft's video (samples every 0.5 s: ${samples.join(' ')})`);
    let peerLine = null;
    if (check(done, 'video-call printed no "done" line')) {
      check(done.ok === true, `video-call not ok: ${JSON.stringify(done)}`);
      peerLine = (done.peers || []).find((p) => p.peer === 'web');
      if (check(peerLine, `video-call's done line has no peer "web": ${JSON.stringify(done)}`)) {
        check(peerLine.video_frames_decoded >= MIN_FRAMES, `video-call decoded ${peerLine.video_frames_decoded} frames of the browser's video`);
        check(peerLine.audio_frames_decoded > 0, `video-call decoded ${peerLine.audio_frames_decoded} audio frames of the browser's`);
      }
    }
    const aud = best && best.inbound.audio;
    check(aud && aud.packetsReceived > 0, `the page received no audio from weft: ${JSON.stringify(aud)}`);
    if (c.screenshot && check(shot, 'no screenshot: the page never decoded 90 frames')) {
      check(picture && !picture.error, `remote tile: ${JSON.stringify(picture)}`);
      if (picture && !picture.error) check(picture.colours >= 16 && picture.lumaStd >= 20, `the tile does not show a test pattern: ${JSON.stringify(picture)}`);
      if (o.screenshotCopy) fs.copyFileSync(shot, o.screenshotCopy);
    }
    const errs = pageErrors(await page.snap());
    check(!errs.length, `page errors: ${errs.join('; ')}`);
    check(best && best.signalingState === 'stable', `the page's pc with weft ended in signaling state ${best && best.signalingState}`);
    const bv = best ? best.inbound.video : {};
    return `page decoded ${dec} frames of weft's ${bv.codec} ${bv.frameWidth}x${bv.frameHeight}; video-call decoded ` +
      `${peerLine ? peerLine.video_frames_decoded : '-'} video / ${peerLine ? peerLine.audio_frames_decoded : '-'} audio frames of the browser's` +
      (shot ? `; screenshot ${shot}` : '');
  } finally {
    if (app) await app.stop(3000);
    if (page) await page.context.close().catch(() => {});
  }
}

async function modeVideo(o, b, srv, cases) {
  for (const c of cases) await runCase(`${o.mode}/${c.name}`, (check) => videoCase(o, b, srv, c, check));
}

// ---- main ---------------------------------------------------------------------

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!o) return 2;
  fs.mkdirSync(o.outDir, { recursive: true });
  let b = null;
  let srv = null;
  return driverMain(
    o,
    async () => {
      srv = await startServer(o.server, o.webRoot, { logFile: path.join(o.outDir, 'signaling-server.stderr') });
      b = await startBrowser();
      console.log(`Chromium ${b.version} (pid ${b.pid}); signaling-server on ${srv.origin} (pid ${srv.pid})`);
      if (o.mode === 'room') await modeRoom(o, b, srv, true);
      else if (o.mode === 'room-browsers') await modeRoom(o, b, srv, false);
      else if (o.mode === 'file') await modeFile(o, b, srv);
      else if (o.mode === 'video') await modeVideo(o, b, srv, VIDEO_CASES);
      else if (o.mode === 'video-renegotiate') await modeVideo(o, b, srv, RENEGOTIATE_CASES);
      if (b.pageErrors.length) failures.push({ name: 'page exceptions', problems: b.pageErrors });
    },
    async () => {
      if (b) await withTimeout(b.close(), 15000, 'closing Chromium').catch((e) => log(e.message));
      if (srv) await stopServer(srv);
    },
  );
}

process.exitCode = await main();
