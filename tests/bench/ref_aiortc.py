#!/usr/bin/python3
"""Reference: aiortc (Debian python3-aiortc), measured the way weft-bench
measures weft. Prints the same JSON lines with "impl":"aiortc".

    /usr/bin/python3 ref_aiortc.py [--quick] [--only setup,goodput,rtt,rss,max]
                                   [--max-pairs N] [--max-pairs-seconds S]
                                   [--plausible-mb-s N]

Both peers of a pair live in this process, on one asyncio loop (aiortc is
single-threaded). aiortc has no trickle ICE: candidates travel inside the
descriptions, and "gathering" is the time until setLocalDescription() of the
offer returns (it gathers before returning).
"""
import argparse
import asyncio
import json
import math
import resource
import sys
import time

import aioice.ice
from aiortc import RTCPeerConnection

# aiortc never gathers 127.0.0.1 by itself; the benchmark runs on a
# loopback-only network.
aioice.ice.get_host_addresses = lambda use_ipv4=True, use_ipv6=True: ["127.0.0.1"]

IMPL = "aiortc"
HIGH = 4 << 20
LOW = 1 << 20
BATCH = 10
STEP_TIMEOUT = 20.0
# RSS during a goodput transfer, as weft-bench: sampled by a task every 5 ms
# (when the loop gets to it), by the receiver every 1 MiB received, and once
# at the end; the max is kept.
RSS_SAMPLE_S = 0.005
RSS_SAMPLE_BYTES = 1 << 20
# Set when a goodput figure was rejected as implausible: exit status 1.
IMPLAUSIBLE = []


def now_ms():
    return time.monotonic() * 1e3


def emit(**o):
    sys.stdout.write(json.dumps({"impl": IMPL, **o}) + "\n")
    sys.stdout.flush()


def pct(sorted_v, p):
    if not sorted_v:
        return 0
    k = min(len(sorted_v) - 1, max(0, math.ceil(p / 100 * len(sorted_v)) - 1))
    return sorted_v[k]


def cpu_seconds():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


class Pair:
    def __init__(self):
        self.t0 = now_ms()
        self.t = {}
        self.a = self.b = self.dc_a = self.dc_b = None
        self.on_a = self.on_b = None
        self.opened = asyncio.get_running_loop().create_future()

    def since(self):
        return now_ms() - self.t0

    def _check(self):
        if "open_a" in self.t and "open_b" in self.t and not self.opened.done():
            self.opened.set_result(True)

    def _fail(self, why):
        if not self.opened.done():
            self.opened.set_exception(RuntimeError(why))

    async def connect(self):
        self.a = RTCPeerConnection()
        self.b = RTCPeerConnection()

        @self.a.on("iceconnectionstatechange")
        def _ice():
            s = self.a.iceConnectionState
            if s in ("connected", "completed") and "ice" not in self.t:
                self.t["ice"] = self.since()
            if s == "failed":
                self._fail("ICE failed")

        @self.a.on("connectionstatechange")
        def _state():
            s = self.a.connectionState
            if s == "connected" and "conn" not in self.t:
                self.t["conn"] = self.since()
            if s == "failed":
                self._fail("connection failed")

        @self.b.on("datachannel")
        def _dc(channel):
            self.dc_b = channel
            self.t["open_b"] = self.since()

            @channel.on("message")
            def _m(m):
                if self.on_b:
                    self.on_b(m)

            self._check()

        self.dc_a = self.a.createDataChannel("bench")

        @self.dc_a.on("open")
        def _open():
            self.t["open_a"] = self.since()
            self._check()

        @self.dc_a.on("message")
        def _ma(m):
            if self.on_a:
                self.on_a(m)

        await self.a.setLocalDescription(await self.a.createOffer())
        self.t["gather"] = self.since()
        await self.b.setRemoteDescription(self.a.localDescription)
        await self.b.setLocalDescription(await self.b.createAnswer())
        await self.a.setRemoteDescription(self.b.localDescription)
        await asyncio.wait_for(asyncio.shield(self.opened), STEP_TIMEOUT)
        return self

    async def close(self):
        for pc in (self.a, self.b):
            if pc:
                try:
                    await pc.close()
                except Exception:
                    pass


async def connect_pair():
    p = Pair()
    try:
        await p.connect()
    except BaseException:
        await p.close()
        raise
    return p


def err_text(e):
    return str(e) or type(e).__name__


async def bench_setup(P):
    tot, ph = [], [[], [], [], []]
    failed = 0
    run = -1
    while len(tot) < P["setup_runs"]:
        run += 1
        try:
            p = await connect_pair()
        except Exception as e:
            # A failed run is counted, not timed; too many end the metric.
            failed += 1
            if failed > P["setup_runs"] // 5:
                emit(metric="setup_ms", error=f"{failed} runs failed, last: {err_text(e)}")
                return
            continue
        if run >= P["setup_warmup"]:
            m = [0, p.t.get("gather", 0), p.t.get("ice", 0), p.t.get("conn", 0), p.t["open_a"]]
            for k in range(1, 5):
                if not m[k] or m[k] < m[k - 1]:
                    m[k] = m[k - 1]
            for k in range(4):
                ph[k].append(m[k + 1] - m[k])
            tot.append(p.t["open_a"])
        await p.close()
    tot.sort()
    for v in ph:
        v.sort()
    r = lambda x: round(x, 2)
    emit(metric="setup_ms", min=r(tot[0]), p50=r(pct(tot, 50)), p90=r(pct(tot, 90)), p99=r(pct(tot, 99)),
         n=len(tot), failed=failed, split={"gathering": r(pct(ph[0], 50)), "ice": r(pct(ph[1], 50)),
                            "dtls": r(pct(ph[2], 50)), "sctp": r(pct(ph[3], 50))})


async def bench_goodput(P, size, metric):
    try:
        p = await connect_pair()
    except Exception as e:
        emit(metric=metric, error=err_text(e))
        return
    payload = bytes((i * 13) & 0xFF for i in range(size))
    state = {"stop": False, "first": 0.0, "cpu0": 0.0, "bytes": 0, "rss_at": 0}
    done = asyncio.get_running_loop().create_future()

    def fill():
        while not state["stop"] and p.dc_a.bufferedAmount <= HIGH:
            if not state["first"]:
                # The clock starts when the first byte is handed to send.
                state["cpu0"], state["first"] = cpu_seconds(), now_ms()
            p.dc_a.send(payload)

    p.dc_a.bufferedAmountLowThreshold = LOW
    p.dc_a.on("bufferedamountlow", fill)
    p.on_a = lambda m: fill() if m == "go" else None

    # RSS baseline: the connected pair, before anything is sent.
    rss_base = rss_kb()
    rss = {"peak": rss_base}

    def rss_note():
        rss["peak"] = max(rss["peak"], rss_kb())

    async def sampler():
        while True:
            rss_note()
            await asyncio.sleep(RSS_SAMPLE_S)

    def on_b(m):
        t = now_ms()
        if done.done():
            return
        if not state["first"]:
            done.set_exception(RuntimeError("B received bytes before A sent any"))
            return
        state["bytes"] += len(m)
        if state["bytes"] - state["rss_at"] >= RSS_SAMPLE_BYTES:
            rss_note()
            state["rss_at"] = state["bytes"]
        if state["bytes"] >= P["goodput_bytes"] or t - state["first"] >= P["goodput_seconds"] * 1e3:
            rss_note()
            state["stop"] = True
            done.set_result((state["bytes"], max(t - state["first"], 1e-6) / 1e3,
                             cpu_seconds() - state["cpu0"]))

    p.on_b = on_b
    sampling = asyncio.ensure_future(sampler())
    p.dc_b.send("go")
    try:
        nbytes, secs, cpu = await asyncio.wait_for(done, P["goodput_seconds"] + 20)
        rss_note()
        peak = rss["peak"] - rss_base
        mbps = nbytes / 1e6 / secs
        if mbps > P["plausible_mb_s"]:
            # Beyond what this machine's loopback can carry: the bench measured
            # something else (e.g. dispatch of data already received).
            IMPLAUSIBLE.append(metric)
            emit(metric=metric,
                 error=f"implausible: {mbps:.2f} MB/s ({nbytes} bytes in {secs:.6f} s) "
                       f"is above the {P['plausible_mb_s']:g} MB/s bound",
                 rejected_mb_per_s=round(mbps, 2), bytes=nbytes, seconds=round(secs, 6),
                 rss_peak_kb=peak, msg_size=size)
        else:
            emit(metric=metric, mb_per_s=round(mbps, 2),
                 cpu_s_per_gb=round(cpu / (nbytes / 1e9), 3), bytes=nbytes, seconds=round(secs, 3),
                 msg_size=size, rss_peak_kb=peak, rss_base_kb=rss_base)
    except asyncio.TimeoutError:
        emit(metric=metric, error=f"timed out after {state['bytes']} bytes")
    except RuntimeError as e:
        emit(metric=metric, error=err_text(e))
    sampling.cancel()
    state["stop"] = True
    await p.close()


async def bench_rtt(P):
    try:
        p = await connect_pair()
    except Exception as e:
        emit(metric="rtt_100b_us", error=err_text(e))
        return
    msg = b"\x5a" * 100
    rtts = []
    st = {"i": 0, "sent": 0.0}
    done = asyncio.get_running_loop().create_future()

    def ping():
        st["sent"] = now_ms()
        p.dc_a.send(msg)

    def on_a(m):
        if m == "go":
            ping()
            return
        rtt = (now_ms() - st["sent"]) * 1e3
        if st["i"] >= P["rtt_warmup"]:
            rtts.append(rtt)
        st["i"] += 1
        if st["i"] < P["rtt_warmup"] + P["rtt_count"]:
            ping()
        elif not done.done():
            done.set_result(True)

    p.on_a = on_a
    p.on_b = lambda m: p.dc_b.send(m) if m != "go" else None
    p.dc_b.send("go")
    try:
        await asyncio.wait_for(done, 120)
        rtts.sort()
        emit(metric="rtt_100b_us", p50=round(pct(rtts, 50), 1), p99=round(pct(rtts, 99), 1),
             n=len(rtts))
    except asyncio.TimeoutError:
        emit(metric="rtt_100b_us", error=f"timed out after {st['i']} round trips")
    await p.close()


async def open_pairs(held, want, deadline, tolerate, st):
    """Opens pairs in batches until `want` are held. Failed pairs are closed and
    counted in st["failures"]; returns why it stopped early (failures above
    `tolerate`, or the time bound), or None."""
    while len(held) < want:
        if now_ms() > deadline:
            return "time bound"
        n = min(BATCH, want - len(held))
        results = await asyncio.gather(*(connect_pair() for _ in range(n)), return_exceptions=True)
        why = None
        for r in results:
            if isinstance(r, BaseException):
                why = why or err_text(r)
                st["failures"] += 1
            else:
                held.append(r)
        if why and st["failures"] > tolerate:
            return why
    return None


async def bench_rss_and_max(P, do_rss, do_max):
    held = []
    try:  # one-time initialisation is not per-pair memory
        await (await connect_pair()).close()
    except Exception:
        pass
    t0 = now_ms()
    base = rss_kb()
    why = None
    st = {"failures": 0}
    if do_rss:
        # Tolerate a few failed pairs (closed and replaced): the metric is memory.
        tolerate = P["rss_large"] // 20
        why = await open_pairs(held, P["rss_small"], t0 + 600e3, tolerate, st)
        at_small = rss_kb()
        if not why:
            why = await open_pairs(held, P["rss_large"], t0 + 600e3, tolerate, st)
        at_large = rss_kb()
        if why:
            emit(metric="rss_per_pair_kb",
                 error=f"only {len(held)} pairs ({st['failures']} failed): {why}")
        else:
            emit(metric="rss_per_pair_kb",
                 **{f"at_{P['rss_small']}": round((at_small - base) / P["rss_small"], 1),
                    f"at_{P['rss_large']}": round((at_large - base) / P["rss_large"], 1)},
                 base_kb=base, failed=st["failures"])
    if do_max and not why:
        # Until the first failure (or the cap, or the time bound).
        why = await open_pairs(held, P["max_cap"], t0 + P["max_seconds"] * 1e3, 0,
                               {"failures": 0})
        emit(metric="max_pairs", held=len(held), cap=P["max_cap"],
             seconds=round((now_ms() - t0) / 1e3, 1), stopped=why or "cap", rss_kb=rss_kb())
    elif do_max:
        emit(metric="max_pairs", error=f"not run: {why}")
    await asyncio.gather(*(p.close() for p in held), return_exceptions=True)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=None)
    ap.add_argument("--max-pairs", type=int, default=250)
    ap.add_argument("--max-pairs-seconds", type=float, default=120)
    ap.add_argument("--plausible-mb-s", type=float, default=2000)
    args = ap.parse_args()
    only = lambda m: args.only is None or m in args.only.split(",")
    if args.quick:
        P = dict(setup_runs=5, setup_warmup=1, goodput_bytes=16 << 20, goodput_seconds=1,
                 rtt_count=100, rtt_warmup=10, rss_small=5, rss_large=20, max_cap=30,
                 max_seconds=30)
        if "--max-pairs" in sys.argv:
            P["max_cap"] = args.max_pairs
        if "--max-pairs-seconds" in sys.argv:
            P["max_seconds"] = args.max_pairs_seconds
    else:
        # Lower max-pairs cap than weft's 500: aiortc is slow to set up.
        P = dict(setup_runs=50, setup_warmup=2, goodput_bytes=256 << 20, goodput_seconds=5,
                 rtt_count=2000, rtt_warmup=200, rss_small=20, rss_large=200,
                 max_cap=args.max_pairs, max_seconds=args.max_pairs_seconds)
    P["plausible_mb_s"] = args.plausible_mb_s
    if only("setup"):
        await bench_setup(P)
    if only("goodput"):
        await bench_goodput(P, 64 * 1024, "goodput_64k")
        await bench_goodput(P, 16 * 1024, "goodput_16k")
    if only("rtt"):
        await bench_rtt(P)
    if only("rss") or only("max"):
        await bench_rss_and_max(P, only("rss"), only("max"))
    return 1 if IMPLAUSIBLE else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
