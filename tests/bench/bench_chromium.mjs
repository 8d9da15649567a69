#!/usr/bin/env node
// Echo goodput, weft <-> Chromium next to Chromium <-> Chromium, in one run
// with the same method (echo-client's --throughput): one reliable ordered
// channel, 64 KiB binary messages for S seconds, the sender keeps at most
// 1 MiB buffered, the other side echoes every message, and goodput is the
// echoed bytes over the time from the first send to the last echo.
//
//   node tests/bench/bench_chromium.mjs --echo-client build/examples/echo-client [--seconds 10]
//
// (a) weft-chromium: echo-client offers to the interop driver's endpoint,
//     where headless Chromium answers and echoes (weft sends).
// (b) chromium-chromium: a second page of the same Chromium (origin
//     localhost, so its own renderer process) offers through the same
//     endpoint to the same echoing page (Chromium sends). --one-page instead
//     runs both peer connections in one page, candidates handed over directly:
//     there one renderer main thread carries both ends, and under load the
//     echoer's queue overflows Chromium's 16 MiB limit (the echoer has no
//     back-pressure), so two pages is the default.
// Prints one JSON line per result and a final ratio line. Everything runs on
// 127.0.0.1; the machinery (Chromium, page, endpoint, children) is
// tests/interop/chromium/lib.mjs.
import {
  TestFailure,
  cleanupNow,
  offerToEndpoint,
  runEchoClient,
  setVerbose,
  startBrowser,
  withTimeout,
} from '../interop/chromium/lib.mjs';

function parseArgs(argv) {
  const o = { echoClient: null, seconds: 10, msgSize: 65536, verbose: false, onePage: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--echo-client') o.echoClient = argv[++i];
    else if (a === '--seconds') o.seconds = Number(argv[++i]);
    else if (a === '--msg-size') o.msgSize = Number(argv[++i]);
    else if (a === '--verbose') o.verbose = true;
    else if (a === '--one-page') o.onePage = true;
    else throw new TestFailure(`unknown argument ${a}`);
  }
  if (!o.echoClient || !(o.seconds > 0) || !(o.msgSize > 0))
    throw new TestFailure('usage: bench_chromium.mjs --echo-client PATH [--seconds S] [--msg-size BYTES] [--one-page]');
  return o;
}

const round = (x, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function weftChromium(o, b) {
  // The checks reduced to one empty text and one empty binary message, so
  // the run is the throughput phase.
  const r = await runEchoClient(
    o.echoClient,
    ['--url', `${b.origin}/offer`, '--channels', '1', '--sizes', '0', '--count', '1',
      '--throughput', String(o.seconds), '--msg-size', String(o.msgSize), '--timeout', '20'],
    { timeoutMs: (o.seconds + 40) * 1000 },
  );
  const res = r.result;
  if (r.code !== 0 || !res || !res.ok || !res.throughput) {
    const why = res ? res.error : `exit ${r.code ?? r.signal}; ${r.stderr.slice(-10).join('\n')}`;
    return { impl: 'weft-chromium', metric: 'echo_goodput_64k', error: String(why) };
  }
  const t = res.throughput;
  return {
    impl: 'weft-chromium',
    metric: 'echo_goodput_64k',
    mb_per_s: round(t.mb_per_s),
    seconds: round(t.seconds, 3),
    bytes: t.bytes,
    connect_ms: round(res.connect_ms, 1),
    msg_size: t.msg_size ?? o.msgSize,
  };
}

async function chromiumChromium(o, b) {
  const fail = (error) => ({ impl: 'chromium-chromium', metric: 'echo_goodput_64k', error });
  try {
    let t;
    if (o.onePage) {
      t = await b.eval((a) => window.weft.throughputLocal(a), { seconds: o.seconds, msgSize: o.msgSize });
    } else {
      const sender = await b.openPage('localhost');
      const off = await offerToEndpoint(sender, b.origin, { channels: [{ label: 'throughput' }] });
      const open = await sender.eval(([id]) => window.weft.waitOpen(id, 15000), [off.id]);
      t = await sender.eval(([id, a]) => window.weft.throughput(id, 'throughput', a), [
        off.id,
        { seconds: o.seconds, msgSize: o.msgSize },
      ]);
      t.connect_ms = open.connect_ms;
      const echoer = b.sessions[b.sessions.length - 1];
      const info = await b.eval(([id]) => window.weft.info(id), [echoer.pcId]);
      if (!t.error && info.errors.length) t.error = `echoer: ${info.errors.join('; ')}`;
      await sender.eval(([id]) => window.weft.closePc(id), [off.id]);
      await sender.page.close();
    }
    if (t.error) return fail(t.error);
    return {
      impl: 'chromium-chromium',
      metric: 'echo_goodput_64k',
      mb_per_s: round(t.mb_per_s),
      seconds: round(t.seconds, 3),
      bytes: t.bytes,
      connect_ms: round(t.connect_ms, 1),
      msg_size: t.msg_size,
    };
  } catch (e) {
    return fail(e.message);
  }
}

async function main() {
  let o;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(e.message);
    return 2;
  }
  setVerbose(o.verbose);
  const bound = setTimeout(() => {
    console.log(JSON.stringify({ metric: 'echo_goodput_64k', error: 'time bound exceeded' }));
    cleanupNow();
    process.exit(1);
  }, (5 * o.seconds + 120) * 1000);
  let b = null;
  let ok = true;
  try {
    b = await startBrowser();
    const a = await weftChromium(o, b).catch((e) => ({ impl: 'weft-chromium', metric: 'echo_goodput_64k', error: e.message }));
    console.log(JSON.stringify(a));
    const c = await chromiumChromium(o, b);
    console.log(JSON.stringify(c));
    ok = !a.error && !c.error;
    if (ok) console.log(JSON.stringify({ metric: 'ratio', weft_over_chromium: round(a.mb_per_s / c.mb_per_s, 3) }));
  } catch (e) {
    console.log(JSON.stringify({ metric: 'echo_goodput_64k', error: e.message }));
    ok = false;
  } finally {
    if (b) await withTimeout(b.close(), 15000, 'closing Chromium').catch(() => {});
    clearTimeout(bound);
    cleanupNow();
  }
  return ok ? 0 : 1;
}

process.exitCode = await main();
