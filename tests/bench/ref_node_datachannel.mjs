// Reference: node-datachannel (libdatachannel's C++ stack: libjuice, usrsctp,
// OpenSSL), measured the way weft-bench measures weft. Prints the same JSON
// lines with "impl":"node-datachannel". See README.md.
//   node ref_node_datachannel.mjs [--quick] [--only setup,goodput,rtt,rss,max]
//                                 [--max-pairs N] [--max-pairs-seconds S]
//                                 [--plausible-mb-s N]
// Both peers of a pair are in this process (A offers and creates the channel,
// B answers and echoes); candidates are trickled through the JS thread.
import ndc from 'node-datachannel';
import fs from 'node:fs';

const IMPL = 'node-datachannel';
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.indexOf('--only') >= 0 ? args[args.indexOf('--only') + 1] : null;
const only = (m) => !onlyArg || onlyArg.split(',').includes(m);
const P = quick
  ? { setupRuns: 5, setupWarmup: 1, goodputBytes: 16 << 20, goodputSeconds: 1, rttCount: 100,
      rttWarmup: 10, rssSmall: 5, rssLarge: 20, maxCap: 30, maxSeconds: 30 }
  : { setupRuns: 50, setupWarmup: 2, goodputBytes: 256 << 20, goodputSeconds: 5, rttCount: 2000,
      rttWarmup: 200, rssSmall: 20, rssLarge: 200, maxCap: 500, maxSeconds: 120 };
const argNum = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : null;
};
if (argNum('--max-pairs')) P.maxCap = argNum('--max-pairs');
if (argNum('--max-pairs-seconds')) P.maxSeconds = argNum('--max-pairs-seconds');
// A goodput figure above this is a bug in the bench (as in weft-bench).
const PLAUSIBLE_MB_S = argNum('--plausible-mb-s') || 2000;
let exitCode = 0;
const BATCH = 10;
const STEP_TIMEOUT_MS = 20000;
const HIGH = 4 << 20;
const LOW = 1 << 20;
// libjuice gathers nothing on a loopback-only network unless bound to it.
const CONFIG = { iceServers: [], bindAddress: '127.0.0.1' };

const now = () => performance.now();
const emit = (o) => process.stdout.write(JSON.stringify({ impl: IMPL, ...o }) + '\n');
const pct = (sorted, p) => {
  if (!sorted.length) return 0;
  const k = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[k];
};
const r2 = (x) => Math.round(x * 100) / 100;
const cpuSeconds = () => {
  const u = process.cpuUsage(); // getrusage(RUSAGE_SELF): every thread of the process
  return (u.user + u.system) / 1e6;
};
const rssKb = () => {
  const f = fs.readFileSync('/proc/self/statm', 'utf8').split(' ');
  return (Number(f[1]) * 4096) / 1024;
};
// RSS during a goodput transfer, as weft-bench: sampled by a timer every
// 5 ms (when the event loop gets to it), by the receiver every 1 MiB
// received, and once at the end; the max is kept.
const RSS_SAMPLE_MS = 5;
const RSS_SAMPLE_BYTES = 1 << 20;

let pairSeq = 0;
const settle = () => { if (global.gc) global.gc(); };

// Creates a pair; resolves when the channel is open on both ends.
function connectPair(role = 'setup') {
  const p = { role, t0: now(), t: {}, a: null, b: null, dcA: null, dcB: null, closed: false };
  const id = ++pairSeq;
  let resolve, reject;
  const done = new Promise((res, rej) => { resolve = res; reject = rej; });
  const timer = setTimeout(() => reject(new Error('timed out waiting for the channel')),
                           STEP_TIMEOUT_MS);
  const check = () => {
    if (p.t.openA && p.t.openB) {
      clearTimeout(timer);
      resolve(p);
    }
  };
  const fail = (why) => { clearTimeout(timer); reject(new Error(why)); };
  try {
    p.a = new ndc.PeerConnection(`a${id}`, CONFIG);
    p.b = new ndc.PeerConnection(`b${id}`, CONFIG);
  } catch (e) {
    fail(`PeerConnection: ${e.message}`);
    p.done = done;
    return p;
  }
  const { a, b } = p;
  const since = () => now() - p.t0;
  // node-datachannel delivers each callback kind through its own queue, so a
  // candidate may overtake the description it belongs to: hold candidates
  // until the remote description is set (what a signaling server would do).
  const relay = (to) => {
    const st = { ready: false, pending: [] };
    const guard = (f) => { try { if (!p.closed) f(); } catch (e) { fail(e.message); } };
    return {
      desc: (sdp, type) => guard(() => {
        to.setRemoteDescription(sdp, type);
        st.ready = true;
        for (const [c, mid] of st.pending) to.addRemoteCandidate(c, mid);
        st.pending = [];
      }),
      cand: (c, mid) => guard(() => {
        if (st.ready) to.addRemoteCandidate(c, mid);
        else st.pending.push([c, mid]);
      }),
    };
  };
  const toB = relay(b), toA = relay(a);
  a.onLocalDescription(toB.desc);
  b.onLocalDescription(toA.desc);
  a.onLocalCandidate(toB.cand);
  b.onLocalCandidate(toA.cand);
  a.onGatheringStateChange((s) => { if (s === 'complete' && !p.t.gather) p.t.gather = since(); });
  a.onIceStateChange((s) => {
    if ((s === 'connected' || s === 'completed') && !p.t.ice) p.t.ice = since();
    if (s === 'failed') fail('ICE failed');
  });
  a.onStateChange((s) => {
    if (s === 'connected' && !p.t.conn) p.t.conn = since();
    if (s === 'failed') fail('connection failed');
  });
  b.onDataChannel((dc) => {
    p.dcB = dc;
    p.t.openB = since();
    dc.onMessage((m) => p.onB && p.onB(m));
    check();
  });
  p.dcA = a.createDataChannel('bench');
  p.dcA.onOpen(() => { p.t.openA = since(); check(); });
  p.dcA.onMessage((m) => p.onA && p.onA(m));
  p.dcA.onError((e) => fail(`channel: ${e}`));
  p.done = done;
  return p;
}

function closePair(p) {
  if (p.closed) return;
  p.closed = true;
  try { p.dcA && p.dcA.close(); } catch {}
  try { p.dcB && p.dcB.close(); } catch {}
  try { p.a && p.a.close(); } catch {}
  try { p.b && p.b.close(); } catch {}
}

async function benchSetup() {
  const tot = [], ph = [[], [], [], []];
  let failed = 0;
  for (let run = 0; tot.length < P.setupRuns; run++) {
    const p = connectPair();
    try {
      await p.done;
    } catch (e) {
      // A failed run is counted, not timed; too many end the metric.
      closePair(p);
      if (++failed > Math.floor(P.setupRuns / 5)) {
        emit({ metric: 'setup_ms', error: `${failed} runs failed, last: ${e.message}` });
        return;
      }
      continue;
    }
    if (run >= P.setupWarmup) {
      // Same phase boundaries as weft-bench: milestones made monotonic.
      const m = [0, p.t.gather, p.t.ice, p.t.conn, p.t.openA];
      for (let k = 1; k < 5; k++) if (!m[k] || m[k] < m[k - 1]) m[k] = m[k - 1];
      for (let k = 0; k < 4; k++) ph[k].push(m[k + 1] - m[k]);
      tot.push(p.t.openA);
    }
    closePair(p);
  }
  const s = (v) => v.slice().sort((x, y) => x - y);
  const t = s(tot);
  const q = ph.map(s);
  emit({ metric: 'setup_ms', min: r2(t[0]), p50: r2(pct(t, 50)), p90: r2(pct(t, 90)), p99: r2(pct(t, 99)),
         n: t.length, failed, split: { gathering: r2(pct(q[0], 50)), ice: r2(pct(q[1], 50)),
                               dtls: r2(pct(q[2], 50)), sctp: r2(pct(q[3], 50)) } });
}

async function benchGoodput(size, metric) {
  const p = connectPair('goodput');
  try {
    await p.done;
  } catch (e) {
    closePair(p);
    emit({ metric, error: e.message });
    return;
  }
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = (i * 13) & 0xff;
  let stop = false;
  // The clock starts when the first byte is handed to send.
  let first = 0, cpu0 = 0;
  const fill = () => {
    // sendMessageBinary() returns false when the message was queued rather
    // than sent at once; bufferedAmount is the back-pressure signal.
    while (!stop && p.dcA.bufferedAmount() <= HIGH) {
      if (!first) { cpu0 = cpuSeconds(); first = now(); }
      p.dcA.sendMessageBinary(payload);
    }
  };
  p.dcA.setBufferedAmountLowThreshold(LOW);
  p.dcA.onBufferedAmountLow(fill);
  p.onA = (m) => { if (m === 'go') fill(); };
  // RSS baseline: the connected pair, before anything is sent.
  settle();
  const rssBase = rssKb();
  let rssPeak = rssBase;
  const rssNote = () => { rssPeak = Math.max(rssPeak, rssKb()); };
  const sampler = setInterval(rssNote, RSS_SAMPLE_MS);
  const result = await new Promise((resolve) => {
    let bytes = 0, rssAt = 0;
    const timer = setTimeout(() => resolve({ error: `timed out after ${bytes} bytes` }),
                             (P.goodputSeconds + 20) * 1000);
    p.onB = (m) => {
      const t = now();
      if (!first) {
        clearTimeout(timer);
        p.onB = null;
        resolve({ error: 'B received bytes before A sent any' });
        return;
      }
      bytes += m.length;
      if (bytes - rssAt >= RSS_SAMPLE_BYTES) { rssNote(); rssAt = bytes; }
      if (bytes >= P.goodputBytes || t - first >= P.goodputSeconds * 1000) {
        rssNote();
        stop = true;
        p.onB = null;
        clearTimeout(timer);
        resolve({ bytes, secs: Math.max(t - first, 1e-6) / 1000, cpu: cpuSeconds() - cpu0 });
      }
    };
    p.dcB.sendMessage('go');
  });
  clearInterval(sampler);
  rssNote();
  const rssPeakKb = Math.round(rssPeak - rssBase);
  if (result.error) {
    emit({ metric, error: result.error });
  } else {
    const mbps = result.bytes / 1e6 / result.secs;
    if (mbps > PLAUSIBLE_MB_S) {
      // Beyond what this machine's loopback can carry: the bench measured
      // something else (e.g. dispatch of data already received).
      exitCode = 1;
      emit({ metric, error: `implausible: ${r2(mbps)} MB/s (${result.bytes} bytes in ` +
                            `${result.secs.toFixed(6)} s) is above the ${PLAUSIBLE_MB_S} MB/s bound`,
             rejected_mb_per_s: r2(mbps), bytes: result.bytes,
             seconds: Math.round(result.secs * 1e6) / 1e6, rss_peak_kb: rssPeakKb, msg_size: size });
    } else {
      emit({ metric, mb_per_s: r2(mbps),
             cpu_s_per_gb: Math.round((result.cpu / (result.bytes / 1e9)) * 1000) / 1000,
             bytes: result.bytes, seconds: Math.round(result.secs * 1000) / 1000, msg_size: size,
             rss_peak_kb: rssPeakKb, rss_base_kb: Math.round(rssBase) });
    }
  }
  closePair(p);
}

async function benchRtt() {
  const p = connectPair('rtt');
  try {
    await p.done;
  } catch (e) {
    closePair(p);
    emit({ metric: 'rtt_100b_us', error: e.message });
    return;
  }
  const msg = Buffer.alloc(100, 0x5a);
  const rtts = [];
  p.onB = (m) => { if (m !== 'go') p.dcB.sendMessageBinary(m); };
  const res = await new Promise((resolve) => {
    let i = 0, sent = 0;
    const timer = setTimeout(() => resolve('timed out'), 60000);
    const ping = () => { sent = now(); p.dcA.sendMessageBinary(msg); };
    p.onA = (m) => {
      if (m === 'go') { ping(); return; }
      const rtt = (now() - sent) * 1000;
      if (i >= P.rttWarmup) rtts.push(rtt);
      i++;
      if (i < P.rttWarmup + P.rttCount) ping();
      else { clearTimeout(timer); resolve(null); }
    };
    p.dcB.sendMessage('go');
  });
  if (res) emit({ metric: 'rtt_100b_us', error: res });
  else {
    rtts.sort((x, y) => x - y);
    emit({ metric: 'rtt_100b_us', p50: Math.round(pct(rtts, 50) * 10) / 10,
           p99: Math.round(pct(rtts, 99) * 10) / 10, n: rtts.length });
  }
  closePair(p);
}

// Opens pairs in batches until `want` are held. Failed pairs are closed and
// counted in st.failures; returns why it stopped early (failures above
// `tolerate`, or the time bound), or null.
async function openPairs(held, want, deadline, tolerate, st) {
  while (held.length < want) {
    if (now() > deadline) return 'time bound';
    const n = Math.min(BATCH, want - held.length);
    const batch = [];
    for (let i = 0; i < n; i++) batch.push(connectPair('hold'));
    const results = await Promise.allSettled(batch.map((p) => p.done));
    let why = null;
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') held.push(batch[i]);
      else { why = why || r.reason.message; st.failures++; closePair(batch[i]); }
    });
    if (why && st.failures > tolerate) return why;
  }
  return null;
}

async function benchRssAndMax(doRss, doMax) {
  const held = [];
  // One pair opened and closed first, so one-time initialisation (threads,
  // certificate, library state) is not counted as per-pair memory.
  const warm = connectPair('hold');
  try { await warm.done; } catch {}
  closePair(warm);
  await new Promise((r) => setTimeout(r, 200));
  const t0 = now();
  settle();
  const base = rssKb();
  let why = null;
  const st = { failures: 0 };
  if (doRss) {
    // Tolerate a few failed pairs (closed and replaced): the metric is memory.
    const tolerate = Math.floor(P.rssLarge / 20);
    why = await openPairs(held, P.rssSmall, t0 + 600000, tolerate, st);
    settle();
    const atSmall = rssKb();
    if (!why) why = await openPairs(held, P.rssLarge, t0 + 600000, tolerate, st);
    settle();
    const atLarge = rssKb();
    if (why) emit({ metric: 'rss_per_pair_kb', error: `only ${held.length} pairs (${st.failures} failed): ${why}` });
    else emit({ metric: 'rss_per_pair_kb', [`at_${P.rssSmall}`]: r2((atSmall - base) / P.rssSmall),
                [`at_${P.rssLarge}`]: r2((atLarge - base) / P.rssLarge), base_kb: Math.round(base),
                failed: st.failures });
  }
  if (doMax && !why) {
    // Until the first failure (or the cap, or the time bound).
    why = await openPairs(held, P.maxCap, t0 + P.maxSeconds * 1000, 0, { failures: 0 });
    emit({ metric: 'max_pairs', held: held.length, cap: P.maxCap,
           seconds: Math.round((now() - t0) / 100) / 10, stopped: why || 'cap',
           rss_kb: Math.round(rssKb()) });
  } else if (doMax) {
    emit({ metric: 'max_pairs', error: `not run: ${why}` });
  }
  held.forEach(closePair);
}

if (only('setup')) await benchSetup();
if (only('goodput')) {
  await benchGoodput(64 * 1024, 'goodput_64k');
  await benchGoodput(16 * 1024, 'goodput_16k');
}
if (only('rtt')) await benchRtt();
if (only('rss') || only('max')) await benchRssAndMax(only('rss'), only('max'));
// No ndc.cleanup(): in 0.33.4 it segfaults once peer connections have been
// closed earlier in the process (seen here after the setup runs), and
// process.exit() needs it not.
process.exit(exitCode);
