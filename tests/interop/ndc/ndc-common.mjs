// What the two libdatachannel peers (answerer.mjs, offerer.mjs) share: loading
// npm node-datachannel, their command lines, libdatachannel's log and the
// SDP fingerprint they report.

// node-datachannel, or exit 1 with the way to install it.
export async function loadNdc() {
  try {
    return (await import('node-datachannel')).default;
  } catch (e) {
    console.error(
      `FAIL: node-datachannel is not installed in tests/interop (${e.message.split('\n')[0]}); ` +
        'run scripts/deps (npm ci in tests/interop)',
    );
    process.exit(1);
  }
}

// --some-name VALUE sets opt.someName; a number if its default is a number
// (null defaults take a string). Anything else: prints `usage` and exits 2.
export function parseOptions(argv, defaults, usage) {
  const opt = { ...defaults };
  const key = (a) => a.slice(2).replace(/-([a-z])/g, (_, c) => c.toUpperCase());
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const k = a.startsWith('--') ? key(a) : null;
    if (!k || !Object.hasOwn(defaults, k) || argv[i + 1] === undefined) {
      console.error(`usage: ${usage} (bad: ${a})`);
      process.exit(2);
    }
    const v = argv[++i];
    opt[k] = typeof defaults[k] === 'number' ? Number(v) : v;
  }
  return opt;
}

// libdatachannel's own log on stderr, each line stamped in seconds since t0.
export function ndcLogToStderr(ndc, level, t0) {
  if (level)
    ndc.initLogger(level, (lvl, message) =>
      process.stderr.write(`ndc ${((performance.now() - t0) / 1000).toFixed(3)} ${lvl} ${message}\n`),
    );
}

// The a=fingerprint:sha-256 value of an SDP, or null.
export const sdpFingerprint = (sdp) => /^a=fingerprint:sha-256 (\S+)/m.exec(sdp || '')?.[1] ?? null;
