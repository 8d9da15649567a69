#!/usr/bin/python3
"""aiortc half of the interop matrix (doc/interop.md).

Modes:
  weft-answers [--trickle] [--audio]
      start echo-server, aiortc offers through POST /offer and checks the
      echoes from its side, then closes a channel and the connection and
      checks echo-server's log for what weft saw.
  media-answers [--seconds S]
      start echo-server, aiortc offers audio + video (a tone and a test
      pattern, Opus and VP8), echo-server sends the RTP back, aiortc decodes
      and counts the echoes; echo-server's track lines are checked.
  weft-offers [-- ECHO-CLIENT ARGS...]
      run a WHIP-shaped endpoint backed by aiortc (answerer, echoes on every
      channel, sends back every media track it receives, re-encoded) and run
      echo-client against it; with --await-remote-close the endpoint closes
      channel echo-0 and then the connection on cue; with --media the decoded
      counts on both sides are checked.
  throughput [--seconds S]
      echo-client --throughput against the aiortc endpoint (a measurement,
      not a test).

Every wait is bounded; every child process is killed by its PID on every exit
path. Exit status 0 only when every check passed; a failure prints one
precise FAIL line (and the children's logs).
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import time
import traceback

try:
    import fractions
    import aioice.ice
    import aiortc
    import av
    import numpy
    from aiortc import (MediaStreamTrack, RTCConfiguration, RTCPeerConnection,
                        RTCSessionDescription)
    from aiortc.mediastreams import MediaStreamError, VideoStreamTrack
    from aiortc.sdp import candidate_from_sdp
except ImportError as e:  # a missing peer is a failure, never a skip
    print(f"FAIL: aiortc is not importable by {sys.executable}: {e} "
          "(install Debian's python3-aiortc)", file=sys.stderr)
    sys.exit(1)

# aioice never gathers 127.0.0.1 on its own, and everything here must stay on
# loopback: pin its host address list (same signature as aioice 0.8's).
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]

# Give aioice's sockets the 4 MiB receive buffer weft gives its own (lib/ice:
# enlarge_receive_buffer). With Linux's default 208 KiB, a Python peer starved
# of CPU by a loaded machine overflowed it under weft's 1 MB bursts (672
# kernel drops, weft's SACKs among them), and SCTP's backed-off retransmission
# timer outlasted the unordered burst's 3 s quiet window. As root,
# SO_RCVBUFFORCE passes net.core.rmem_max. Python's socket module has no
# name for it (Linux's value is 33): without one, only SO_RCVBUF was set,
# which rmem_max silently caps at 416 KiB, and a loaded run still saw 1979
# drops. The size that took is checked, so this cannot silently regress.
SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)
RCVBUF_WANTED = 4 * 1024 * 1024
_stun_connection_made = aioice.ice.StunProtocol.connection_made


def _connection_made_with_buffer(self, transport):
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF_WANTED)
        got = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        if got < RCVBUF_WANTED:  # Linux reports twice what was set
            raise RuntimeError(f"aioice socket receive buffer is {got} bytes, wanted {RCVBUF_WANTED}")
    _stun_connection_made(self, transport)


aioice.ice.StunProtocol.connection_made = _connection_made_with_buffer

# aiortc 1.4's SCTP receiver strands a complete message: after delivering one
# message, InboundStream.pop_messages keeps the finished message's start and
# expects the next message to continue on the very next TSN, so when the next
# message of that stream (already complete, its fragments arrived earlier
# because the previous one needed a retransmission) sits after other streams'
# TSNs, it stays in the buffer until another chunk arrives on that stream,
# forever if none does. Seen here with 8 busy channels: the last 64 KiB echo,
# all its 56 fragments SACKed, never delivered. (werift, a port of aiortc, has
# the same report: shinyoshiaki/werift-webrtc#706.) This reassembler keeps
# aiortc's rules (an ordered message starts with a B fragment carrying the
# next SSN, then strictly consecutive TSNs up to an E fragment, RFC 4960 6.9)
# and only scans on after each delivery, so it cannot hide a peer that breaks
# them.
def _pop_messages(self):
    flags_u, flags_b, flags_e = _sctp.SCTP_DATA_UNORDERED, _sctp.SCTP_DATA_FIRST_FRAG, \
        _sctp.SCTP_DATA_LAST_FRAG
    pos, start_pos, expected_tsn, ordered = 0, None, None, True
    while pos < len(self.reassembly):
        chunk = self.reassembly[pos]
        if start_pos is None:
            ordered = not (chunk.flags & flags_u)
            if not (chunk.flags & flags_b):
                if ordered:
                    break
                pos += 1
                continue
            if ordered and _sctp.uint16_gt(chunk.stream_seq, self.sequence_number):
                break
            expected_tsn = chunk.tsn
            start_pos = pos
        elif chunk.tsn != expected_tsn:
            if ordered:
                break
            start_pos = None  # re-examine this chunk as the start of another message
            continue
        if chunk.flags & flags_e:
            user_data = b"".join(c.user_data for c in self.reassembly[start_pos:pos + 1])
            self.reassembly = self.reassembly[:start_pos] + self.reassembly[pos + 1:]
            if ordered and chunk.stream_seq == self.sequence_number:
                self.sequence_number = _sctp.uint16_add(self.sequence_number, 1)
            pos, start_pos = start_pos, None
            yield (chunk.stream_id, chunk.protocol, user_data)
            continue
        pos += 1
        expected_tsn = _sctp.tsn_plus_one(expected_tsn)


import aiortc.rtcsctptransport as _sctp  # noqa: E402

if not (hasattr(_sctp, "InboundStream") and hasattr(_sctp.InboundStream, "pop_messages")):
    print("FAIL: this aiortc has no rtcsctptransport.InboundStream.pop_messages to fix "
          f"(aiortc {getattr(aiortc, '__version__', '?')}; the driver was written for 1.4.0)",
          file=sys.stderr)
    sys.exit(1)
_sctp.InboundStream.pop_messages = _pop_messages

# aiortc's default configuration uses a public STUN server: never.
NO_ICE_SERVERS = RTCConfiguration(iceServers=[])

# aiortc advertises a=max-message-size:65536. A message larger than that
# could reach weft but weft must not echo it back (it must honour aiortc's
# limit), so a round trip can carry at most this much.
AIORTC_MAX_MESSAGE = 65536

T0 = time.monotonic()


def now():
    return time.monotonic() - T0


def log(msg):
    print(f"[{now():7.3f}] {msg}", file=sys.stderr, flush=True)


class Failure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failure(msg)


# ---------------------------------------------------------------- children


def _die_with_parent():
    # Should this driver itself be killed (CTest's timeout sends SIGKILL to it
    # only), the kernel kills the child too.
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Child:
    """A child process whose stdout/stderr lines are collected as they come."""

    def __init__(self, name):
        self.name = name
        self.proc = None
        self.out = []  # stdout lines
        self.err = []  # stderr lines
        self.out_cond = asyncio.Condition()
        self.err_cond = asyncio.Condition()
        self.tasks = []

    async def start(self, argv, env=None):
        log(f"{self.name}: {' '.join(argv)}")
        self.proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, env=env, preexec_fn=_die_with_parent,
            limit=1 << 20)
        self.tasks = [asyncio.ensure_future(self._pump(self.proc.stdout, self.out, self.out_cond)),
                      asyncio.ensure_future(self._pump(self.proc.stderr, self.err, self.err_cond))]

    async def _pump(self, stream, lines, cond):
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line over the stream limit: keep what we can
                line = b"<overlong line>\n"
            if not line:
                break
            async with cond:
                lines.append(line.decode("utf-8", "replace").rstrip("\n"))
                cond.notify_all()
        async with cond:
            cond.notify_all()

    async def wait_line(self, pred, timeout, stderr=False, what="line"):
        """First line (stdout, or stderr) satisfying pred, waiting up to timeout."""
        lines, cond = (self.err, self.err_cond) if stderr else (self.out, self.out_cond)
        seen = 0
        deadline = time.monotonic() + timeout
        async with cond:
            while True:
                while seen < len(lines):
                    r = pred(lines[seen])
                    seen += 1
                    if r:
                        return r
                if self.proc.returncode is not None and all(t.done() for t in self.tasks):
                    raise Failure(f"{self.name} exited ({self.proc.returncode}) before {what}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Failure(f"{self.name}: no {what} within {timeout} s")
                try:
                    await asyncio.wait_for(cond.wait(), min(left, 0.5))
                except asyncio.TimeoutError:
                    pass

    async def wait_exit(self, timeout):
        try:
            rc = await asyncio.wait_for(self.proc.wait(), timeout)
        except asyncio.TimeoutError:
            return None
        await asyncio.wait(self.tasks, timeout=2)
        return rc

    def kill(self):
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def dump(self, tail=200):
        for label, lines in (("stdout", self.out), ("stderr", self.err)):
            print(f"---- {self.name} {label} (last {tail} of {len(lines)} lines)", file=sys.stderr)
            for line in lines[-tail:]:
                print(line, file=sys.stderr)
        sys.stderr.flush()


def json_lines(lines):
    out = []
    for line in lines:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def json_event(line, ev):
    """The JSON object on `line` if it is an `ev` event, else None."""
    try:
        o = json.loads(line)
    except ValueError:
        return None
    return o if isinstance(o, dict) and o.get("ev") == ev else None


def first_event(evs, ev, **fields):
    """Index of the first `ev` event in evs with these fields, or None."""
    return next((i for i, o in enumerate(evs)
                 if o.get("ev") == ev and all(o.get(k) == v for k, v in fields.items())), None)


def child_env(debug):
    env = dict(os.environ)
    if debug:
        env["WEFT_DEBUG"] = debug
    return env


# ---------------------------------------------------------------- HTTP client


async def http_request(host, port, method, path, body=b"", ctype=None, timeout=15):
    """One HTTP/1.1 request on its own connection; returns (status, headers, body)."""
    async def go():
        reader, writer = await asyncio.open_connection(host, port)
        try:
            head = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close",
                    f"Content-Length: {len(body)}"]
            if ctype:
                head.append(f"Content-Type: {ctype}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
            await writer.drain()
            data = await reader.read()  # Connection: close: the reply ends at EOF
        finally:
            writer.close()
        sep = data.find(b"\r\n\r\n")
        check(sep >= 0, f"{method} {path}: malformed HTTP reply {data[:200]!r}")
        lines = data[:sep].decode("iso-8859-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3})", lines[0])
        check(m, f"{method} {path}: malformed status line {lines[0]!r}")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        rest = data[sep + 4:]
        if "content-length" in headers:
            rest = rest[:int(headers["content-length"])]
        return int(m.group(1)), headers, rest
    try:
        return await asyncio.wait_for(go(), timeout)
    except asyncio.TimeoutError:
        raise Failure(f"{method} {path}: no reply within {timeout} s")
    except OSError as e:
        raise Failure(f"{method} {path}: {e}")


# ---------------------------------------------------------------- SDP helpers


def sdp_sections(sdp):
    """[(session lines)] + [m-section lines], CRLF or LF tolerated."""
    sections = [[]]
    for line in sdp.replace("\r\n", "\n").split("\n"):
        if not line:
            continue
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    return sections


def sdp_attr(lines, name):
    pre = f"a={name}:"
    return [line[len(pre):] for line in lines if line.startswith(pre)]


def max_message_size(sdp):
    """The data m-line's a=max-message-size (RFC 8841 default 64 KiB if absent)."""
    for sec in sdp_sections(sdp)[1:]:
        if sec[0].startswith("m=application"):
            v = sdp_attr(sec, "max-message-size")
            return int(v[0]) if v else 65536
    return None


# ---------------------------------------------------------------- payloads


def text_of_size(size, seed):
    """Valid UTF-8 text of exactly `size` bytes with 1-, 2-, 3- and 4-byte characters."""
    chars = ["a", "é", "€", "😀", "b", "ß", "中", "z"]
    out, n, i = [], 0, seed
    while n < size:
        c = chars[i % len(chars)]
        i += 1
        b = len(c.encode())
        if n + b > size:
            c, b = "x", 1
        out.append(c)
        n += b
    s = "".join(out)
    assert len(s.encode()) == size
    return s


_BASE = bytes(range(256)) * 260  # > 64 KiB + 255


def binary_of_size(size, ch, rnd):
    off = (ch * 7 + rnd * 13 + size) & 0xFF
    return _BASE[off:off + size] if size <= len(_BASE) - 256 else (_BASE * (size // len(_BASE) + 2))[off:off + size]


def sizes_upto(limit):
    s, v = [0], 1
    while v <= min(limit, 65536):
        s.append(v)
        v *= 2
    if limit > 65536:
        s.append(limit)
    return s


def describe(msg):
    kind = "text" if isinstance(msg, str) else "binary"
    n = len(msg.encode()) if isinstance(msg, str) else len(msg)
    return f"{kind} {n} B"


# ---------------------------------------------------------------- channels (aiortc side)


def channel_events(ch):
    """Futures for open/close and a queue of received messages."""
    st = {"open": asyncio.get_event_loop().create_future(),
          "closed": asyncio.get_event_loop().create_future(),
          "q": asyncio.Queue(), "states": []}

    def on_open():
        st["states"].append("open")
        if not st["open"].done():
            st["open"].set_result(now())

    def on_close():
        st["states"].append("closed")
        if not st["closed"].done():
            st["closed"].set_result(now())

    ch.on("open", on_open)
    ch.on("close", on_close)
    ch.on("message", lambda m: st["q"].put_nowait(m))
    if ch.readyState == "open":
        on_open()
    return st


async def run_ordered(ch, st, idx, sizes, rounds, timeout):
    sent = []
    for rnd in range(rounds):
        for size in sizes:
            sent.append(text_of_size(size, idx + rnd))
            sent.append(binary_of_size(size, idx, rnd))
    for m in sent:
        ch.send(m)
    for i, want in enumerate(sent):
        try:
            got = await asyncio.wait_for(st["q"].get(), timeout)
        except asyncio.TimeoutError:
            raise Failure(f"channel {ch.label}: echo #{i} ({describe(want)}) missing after "
                          f"{timeout} s ({i}/{len(sent)} echoed; aiortc's bufferedAmount "
                          f"{ch.bufferedAmount}; aiortc SCTP {sctp_snapshot(ch.transport)})")
        if type(got) is not type(want):
            raise Failure(f"channel {ch.label}: echo #{i} sent as {describe(want)} came back as "
                          f"{describe(got)} (type changed)")
        if got != want:
            raise Failure(f"channel {ch.label}: echo #{i} ({describe(want)}) differs: got "
                          f"{describe(got)} (out of order or corrupted)")
    check(st["q"].empty(), f"channel {ch.label}: extra echoes after the {len(sent)} expected")
    return len(sent), sum(len(m.encode()) if isinstance(m, str) else len(m) for m in sent)


def udp_drops():
    """Datagrams the kernel dropped on full receive buffers, per local UDP port,
    for every socket of this network namespace (the test runs in its own):
    /proc/net/udp's last column. Diagnostics only."""
    out = {}
    for f in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(f) as fh:
                for line in list(fh)[1:]:
                    cols = line.split()
                    port = int(cols[1].rsplit(":", 1)[1], 16)
                    if int(cols[-1]):
                        out[port] = out.get(port, 0) + int(cols[-1])
        except (OSError, ValueError, IndexError):
            pass
    return out


def sctp_snapshot(sctp):
    """aiortc's SCTP association state (private fields; diagnostics only): tells
    whether a stall is aiortc not sending (queued, cwnd/rwnd) or weft not
    delivering (aiortc sent and got SACKs, nothing came back)."""
    try:
        return {
            "state": str(sctp._association_state), "outbound_queue": len(sctp._outbound_queue),
            "sent_queue": len(sctp._sent_queue), "flight_size": sctp._flight_size,
            "cwnd": sctp._cwnd,
            "local_tsn": sctp._local_tsn, "last_sacked_tsn": sctp._last_sacked_tsn,
            "last_received_tsn": sctp._last_received_tsn,
            "advertised_rwnd": sctp._advertised_rwnd,
            "reassembly": {k: reassembly_info(v) for k, v in sctp._inbound_streams.items()
                           if v.reassembly},
            "t3_running": sctp._t3_handle is not None, "rto": sctp._rto,
        }
    except Exception as e:  # a different aiortc: say so, do not mask the failure
        return f"<unavailable: {e}>"


def reassembly_info(stream):
    """What an aiortc inbound stream is holding back, and why it cannot deliver
    it (it needs each message's fragments on consecutive TSNs, RFC 4960 6.9)."""
    r = stream.reassembly
    gaps = [(a.tsn, b.tsn) for a, b in zip(r, r[1:]) if (b.tsn - a.tsn) & 0xFFFFFFFF != 1]
    return {"chunks": len(r), "bytes": sum(len(c.user_data) for c in r),
            "expected_ssn": stream.sequence_number, "ssns": sorted({c.stream_seq for c in r}),
            "first": (r[0].tsn, r[0].flags), "last": (r[-1].tsn, r[-1].flags),
            "tsn_gaps": gaps[:8], "n_tsn_gaps": len(gaps)}


async def run_unordered(ch, st, count, quiet):
    sent = {}
    for i in range(count):
        head = f"u{i:05d}:"
        if i % 2:
            m = (head + text_of_size(200, i)).encode()
        else:
            m = head + text_of_size(300, i)
        sent[head] = m
        ch.send(m)
    got = {}
    while len(got) < count:
        try:
            m = await asyncio.wait_for(st["q"].get(), quiet)
        except asyncio.TimeoutError:
            break
        head = (m.decode("utf-8", "replace") if isinstance(m, bytes) else m)[:7]
        check(head in sent, f"channel {ch.label}: echo matches nothing sent: {describe(m)} {head!r}")
        check(head not in got, f"channel {ch.label}: duplicate echo of message {head!r}")
        check(sent[head] == m, f"channel {ch.label}: echo of {head!r} corrupted or type changed "
                               f"(sent {describe(sent[head])}, got {describe(m)})")
        got[head] = True
    check(len(got) >= 1, f"channel {ch.label}: none of {count} unordered maxRetransmits=0 "
                         f"messages came back within {quiet} s of silence (bufferedAmount "
                         f"{ch.bufferedAmount}; aiortc SCTP {sctp_snapshot(ch.transport)}; "
                         f"UDP receive-buffer drops by port {udp_drops()})")
    return count, len(got)


# ---------------------------------------------------------------- media (aiortc side)

MEDIA_W, MEDIA_H, BOX = 320, 240, 48
# 75 % colour bars, BGR.
BARS = [(180, 180, 180), (16, 180, 180), (180, 180, 16), (16, 180, 16),
        (180, 16, 180), (16, 16, 180), (180, 16, 16), (16, 16, 16)]
# The box stays in the top half; the bottom strip shows the bars alone, which
# is what a decoded picture is compared with.
STRIP = (MEDIA_H - 24, MEDIA_H - 8)


def _bars():
    img = numpy.zeros((MEDIA_H, MEDIA_W, 3), numpy.uint8)
    w = MEDIA_W // len(BARS)
    for i, c in enumerate(BARS):
        img[:, i * w:(i + 1) * w] = c
    return img


class PatternTrack(VideoStreamTrack):
    """aiortc's own source: colour bars and a moving white box, 320x240 at
    aiortc's 30 fps pacing (VideoStreamTrack.next_timestamp)."""

    def __init__(self):
        super().__init__()
        self.base = _bars()
        self.index = 0

    async def recv(self):
        pts, time_base = await self.next_timestamp()
        img = self.base.copy()
        x = (self.index * 4) % (MEDIA_W - BOX)
        y = (self.index * 3) % (MEDIA_H // 2 - BOX)
        img[y:y + BOX, x:x + BOX] = 255
        self.index += 1
        frame = av.VideoFrame.from_ndarray(img, format="bgr24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneTrack(MediaStreamTrack):
    """A 440 Hz tone at 0.2 of full scale, 48 kHz mono, 20 ms frames, paced
    in real time (as aiortc's AudioStreamTrack paces its silence)."""

    kind = "audio"
    RATE, SAMPLES = 48000, 960

    async def recv(self):
        if self.readyState != "live":
            raise MediaStreamError
        if hasattr(self, "_ts"):
            self._ts += self.SAMPLES
            await asyncio.sleep(self._start + self._ts / self.RATE - time.time())
        else:
            self._start, self._ts = time.time(), 0
        n = numpy.arange(self._ts, self._ts + self.SAMPLES) % self.RATE
        pcm = (0.2 * 32767 * numpy.sin(2 * numpy.pi * 440 * n / self.RATE)).astype(numpy.int16)
        frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.pts, frame.sample_rate = self._ts, self.RATE
        frame.time_base = fractions.Fraction(1, self.RATE)
        return frame


def looks_like_bars(frame):
    """Does a decoded picture show our bars in its bottom strip (mean colour of
    each bar within 40 of what was drawn)? A wrong or garbled decode does not."""
    if (frame.width, frame.height) != (MEDIA_W, MEDIA_H):
        return False
    img = frame.to_ndarray(format="bgr24")
    w = MEDIA_W // len(BARS)
    for i, c in enumerate(BARS):
        cell = img[STRIP[0]:STRIP[1], i * w + 8:(i + 1) * w - 8].reshape(-1, 3).mean(axis=0)
        if max(abs(float(cell[j]) - c[j]) for j in range(3)) > 40:
            return False
    return True


class FrameCounter:
    """Reads a received track (aiortc decodes on recv()) until it ends and
    counts what it decoded."""

    def __init__(self, track, check_pattern=False):
        self.kind = track.kind
        self.frames = 0
        self.sizes = set()
        self.pattern_ok = 0
        self.rms = []
        self.first_t = self.last_t = None
        self.check_pattern = check_pattern
        self.task = asyncio.ensure_future(self._run(track))

    async def _run(self, track):
        try:
            while True:
                f = await track.recv()
                self.frames += 1
                self.last_t = now()
                if self.first_t is None:
                    self.first_t = self.last_t
                if self.kind == "video":
                    self.sizes.add((f.width, f.height))
                    # Decoding to RGB costs: sample one picture in ten.
                    if self.check_pattern and self.frames % 10 == 1:
                        self.pattern_ok += looks_like_bars(f)
                elif self.frames % 10 == 1:
                    pcm = f.to_ndarray().astype(numpy.float64) / 32768.0
                    self.rms.append(float(numpy.sqrt(numpy.mean(pcm * pcm))))
        except MediaStreamError:
            pass

    def summary(self):
        d = {"frames": self.frames,
             "seconds": round(self.last_t - self.first_t, 2) if self.first_t else 0}
        if self.kind == "video":
            d["sizes"] = sorted(self.sizes)
            if self.check_pattern:
                d["pattern_ok_sampled"] = f"{self.pattern_ok}/{(self.frames + 9) // 10}"
        elif self.rms:
            d["rms"] = round(sum(self.rms) / len(self.rms), 3)
        return d


class CountingRelay(MediaStreamTrack):
    """Hands the frames of a received track to an aiortc sender (which
    re-encodes them) and counts them: aiortc's echo of weft's media."""

    def __init__(self, source):
        super().__init__()
        self.kind = source.kind
        self.source = source
        self.frames = 0
        self.sizes = set()

    async def recv(self):
        f = await self.source.recv()
        self.frames += 1
        if self.kind == "video":
            self.sizes.add((f.width, f.height))
        return f


def section_info(sec):
    """(kind, port, direction, first codec name) of an m-section."""
    parts = sec[0][2:].split()
    kind, port, fmts = parts[0], int(parts[1]), parts[3:]
    direction = next((line[2:] for line in sec if line[2:] in
                      ("sendrecv", "sendonly", "recvonly", "inactive")), None)
    codec = None
    if fmts:
        for line in sec:
            if line.startswith(f"a=rtpmap:{fmts[0]} "):
                codec = line.split(" ", 1)[1]
    return kind, port, direction, codec


def track_events(srv, pcid):
    evs = [o for o in json_lines(srv.out) if o.get("pc") == pcid]
    return ([o for o in evs if o.get("ev") == "track"],
            [o for o in evs if o.get("ev") == "track-stats"])


async def send_pli(pc, summary, key):
    """aiortc's video receiver asks the remote sender for a keyframe (an RTCP
    PLI). aiortc has no public call for it (it sends one only after a decode
    failure): its receiver's own _send_rtcp_pli, to the SSRC it receives."""
    for t in pc.getTransceivers():
        if t.kind != "video":
            continue
        ssrcs = [x.source for x in t.receiver.getSynchronizationSources()]
        check(ssrcs, "aiortc's video receiver has no source to send a PLI for yet")
        await t.receiver._send_rtcp_pli(ssrcs[0])
        summary[key] = summary.get(key, 0) + 1
        log(f"aiortc sent a PLI for SSRC {ssrcs[0]}")
        return
    raise Failure("aiortc has no video transceiver to send a PLI from")


def check_track_stats(stats, kinds):
    """echo-server's track-stats at session end: each track received and
    echoed, and nothing failed to decrypt."""
    by_kind = {o.get("kind"): o for o in stats}
    check(sorted(by_kind) == sorted(kinds) and len(stats) == len(kinds),
          f"echo-server track-stats {stats} (want one per {kinds})")
    for k, o in by_kind.items():
        check(o.get("packets_received", 0) > 0 and o.get("packets_sent", 0) > 0,
              f"echo-server {k} track received/echoed nothing: {o}")
        check(o.get("srtp_failures") == 0, f"echo-server {k} track: SRTP failures: {o}")
        # Every packet is echoed once (retransmissions are counted apart).
        check(o["packets_sent"] <= o["packets_received"],
              f"echo-server {k} track sent more than it received: {o}")


# ---------------------------------------------------------------- weft answers


def server_argv(args):
    return [args.echo_server, "--host", "127.0.0.1", "--port", "0", "--negotiated", "42"]


async def start_echo_server(args, srv):
    await srv.start(server_argv(args), env=child_env(args.debug))
    ev = await srv.wait_line(lambda line: json_event(line, "listening"), 10,
                             what="'listening' line")
    check(isinstance(ev.get("port"), int) and ev["port"] > 0,
          f"echo-server: bad listening line {ev}")
    log(f"echo-server listening on {ev.get('host')}:{ev['port']}")
    return ev["port"]


async def stop_echo_server(srv, summary):
    srv.proc.send_signal(signal.SIGTERM)
    rc = await srv.wait_exit(10)
    check(rc is not None, "echo-server did not exit within 10 s of SIGTERM")
    check(rc == 0, f"echo-server exited {rc} after SIGTERM (want 0)")
    evs = [o.get("ev") for o in json_lines(srv.out)]
    check("stopping" in evs and evs[-1] == "stopped",
          f"echo-server: log does not end with stopping ... stopped (last: {evs[-3:]})")
    summary["server_exit"] = rc


def strip_candidates(sdp):
    """aiortc's offer without candidates, and one RFC 8840 fragment per candidate
    (in m-line order) plus a final end-of-candidates fragment, in the shape
    WHIP (RFC 9725 section 4.3) sends: the section's ICE credentials, its m=
    line and a=mid, then the candidate."""
    secs = sdp_sections(sdp)
    frags, heads = [], []
    for sec in secs[1:]:
        mid = sdp_attr(sec, "mid")
        ufrag = sdp_attr(sec, "ice-ufrag") or sdp_attr(secs[0], "ice-ufrag")
        pwd = sdp_attr(sec, "ice-pwd") or sdp_attr(secs[0], "ice-pwd")
        head = (f"a=ice-ufrag:{ufrag[0]}\r\n" if ufrag else "") + \
            (f"a=ice-pwd:{pwd[0]}\r\n" if pwd else "") + \
            f"{sec[0]}\r\n" + (f"a=mid:{mid[0]}\r\n" if mid else "")
        heads.append(head)
        frags += [head + line + "\r\n" for line in sec if line.startswith("a=candidate:")]
    if heads:
        frags.append(heads[0] + "a=end-of-candidates\r\n")
    out = [line for sec in secs for line in sec
           if not line.startswith("a=candidate:") and not line.startswith("a=end-of-candidates")]
    return "\r\n".join(out) + "\r\n", frags


@contextlib.asynccontextmanager
async def offer_to_echo_server(args):
    """Starts echo-server and makes aiortc's peer connection (the offerer).
    Yields (srv, port, pc, pc_states, receivers); `receivers` takes the
    FrameCounters of what aiortc gets back. On a failure echo-server's output
    is printed; on every exit the pc is closed (bounded), the receivers are
    cancelled and echo-server is killed; with --debug, its log is printed."""
    srv = Child("echo-server")
    pc = None
    receivers = []
    try:
        port = await start_echo_server(args, srv)
        pc = RTCPeerConnection(NO_ICE_SERVERS)
        pc_states = []
        pc.on("connectionstatechange", lambda: pc_states.append(pc.connectionState))
        yield srv, port, pc, pc_states, receivers
    except BaseException:
        srv.dump()
        raise
    finally:
        if pc is not None:
            try:
                await asyncio.wait_for(pc.close(), 5)
            except Exception:
                pass
        for c in receivers:
            c.task.cancel()
        srv.kill()
    if args.debug:
        srv.dump(tail=400)


def only_session(srv):
    """The pc number of the one session echo-server logged."""
    pcs = {o.get("pc") for o in json_lines(srv.out) if o.get("ev") == "session"}
    check(len(pcs) == 1, f"echo-server logged sessions {pcs} (want exactly one)")
    return pcs.pop()


async def close_channel_then_pc(ch, closed, pc, summary):
    """aiortc closes channel `ch`, waits until it is closed (the future
    `closed`), then closes the pc."""
    t = now()
    ch.close()
    try:
        await asyncio.wait_for(asyncio.shield(closed), 10)
    except asyncio.TimeoutError:
        raise Failure(f"aiortc's {ch.label} not closed 10 s after close() (weft did not answer "
                      "the outgoing stream reset)")
    summary["channel_close_ms"] = round((now() - t) * 1000, 1)
    await asyncio.wait_for(pc.close(), 10)


async def weft_answers(args, summary):
    async with offer_to_echo_server(args) as (srv, port, pc, pc_states, audio_rx):
        summary["port"] = port
        chans = [pc.createDataChannel(f"echo-{i}") for i in range(8)]
        unordered = pc.createDataChannel("unordered", ordered=False, maxRetransmits=0)
        neg = pc.createDataChannel("negotiated", negotiated=True, id=42)
        every = chans + [unordered, neg]
        st = {c.label: channel_events(c) for c in every}
        if args.audio:
            # aiortc's own 2-section BUNDLE offer: audio first (the BUNDLE tag,
            # a different ufrag, pwd and port per section), then data. weft
            # answers the audio sendrecv and echoes aiortc's tone.
            pc.addTrack(ToneTrack())
            pc.on("track", lambda t: audio_rx.append(FrameCounter(t)))

        t_start = now()
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
        n_m = len(sdp_sections(offer)) - 1
        check(n_m == (2 if args.audio else 1), f"aiortc's offer has {n_m} m-lines")
        if args.audio:
            summary["offer_ufrags"] = [sdp_attr(s, "ice-ufrag") for s in sdp_sections(offer)[1:]]
        if args.trickle:
            body, cands = strip_candidates(offer)
            check(len(cands) >= 2, "aiortc's offer has no candidate to trickle")
        else:
            body, cands = offer, []

        status, headers, ans = await http_request("127.0.0.1", port, "POST", "/offer",
                                                  body.encode(), "application/sdp")
        check(status == 201, f"POST /offer: status {status} (want 201): {ans[:300]!r}")
        loc = headers.get("location")
        check(loc and loc.startswith("/session/"), f"POST /offer: Location {loc!r}")
        answer = ans.decode()
        summary["answer_ms"] = round((now() - t_start) * 1000, 1)

        if args.trickle:
            for frag in cands:
                s, _, b = await http_request("127.0.0.1", port, "PATCH", loc, frag.encode(),
                                             "application/trickle-ice-sdpfrag")
                check(s == 204, f"PATCH {loc} {frag!r}: status {s} (want 204): {b[:200]!r}")
            summary["trickled"] = len(cands) - 1

        # What weft answered.
        asecs = sdp_sections(answer)
        check(len(asecs) - 1 == n_m, f"answer has {len(asecs) - 1} m-lines, offer {n_m}")
        for sec in asecs[1:]:
            if sec[0].startswith("m=audio"):
                kind, aport, direction, codec = section_info(sec)
                summary["answer_audio"] = [sec[0], direction, codec]
                check(aport != 0 and direction == "sendrecv" and codec
                      and codec.lower().startswith("opus/48000"),
                      f"weft's answer to aiortc's audio: {sec[0]!r} {direction} {codec} (want it "
                      "accepted sendrecv with opus)")
            else:
                check(sec[0].startswith("m=application") and sec[0].split()[1] != "0",
                      f"weft's answer rejects the data m-line: {sec[0]!r}")
        if args.audio:
            bundle = [line for line in asecs[0] if line.startswith("a=group:BUNDLE")]
            summary["answer_bundle"] = bundle
            mids = [sdp_attr(sec, "mid")[0] for sec in asecs[1:]]
            check(len(bundle) == 1 and bundle[0].split()[1:] == mids,
                  f"weft's answer's BUNDLE group {bundle} (want both sections, {mids})")
        setup = [v for sec in asecs[1:] for v in sdp_attr(sec, "setup")]
        summary["answer_setup"] = setup
        remote_max = max_message_size(answer)
        check(remote_max and remote_max > 0, "answer's data m-line has no usable max-message-size")
        limit = min(remote_max, AIORTC_MAX_MESSAGE)
        summary["weft_max_message_size"] = remote_max
        summary["max_size_sent"] = limit

        try:
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        except Exception as e:
            raise Failure(f"aiortc rejected weft's answer: {type(e).__name__}: {e}\n{answer}")

        deadline = time.monotonic() + 20
        while not all(st[c.label]["open"].done() for c in every):
            late = [c.label for c in every if not st[c.label]["open"].done()]
            check(pc.connectionState not in ("failed", "closed"),
                  f"aiortc's connection {pc.connectionState} before channels {late} opened "
                  f"(pc states {pc_states}, ice {pc.iceConnectionState})")
            check(time.monotonic() < deadline,
                  f"channels {late} not open 20 s after the answer "
                  f"(pc states {pc_states}, ice {pc.iceConnectionState})")
            await asyncio.sleep(0.05)
        summary["connect_ms"] = round((max(st[c.label]["open"].result() for c in every) - t_start)
                                      * 1000, 1)
        log(f"all {len(every)} channels open")

        # Ordered reliable echoes on 8 channels at once, the unordered burst and
        # the negotiated channel, all concurrently.
        sizes = sizes_upto(limit)
        t_echo = now()
        jobs = [run_ordered(c, st[c.label], i, sizes, 2, 20) for i, c in enumerate(chans)]
        jobs.append(run_ordered(neg, st["negotiated"], 42, sizes_upto(min(limit, 4096)), 3, 20))
        jobs.append(run_unordered(unordered, st["unordered"], 200, 3))
        res = await asyncio.gather(*jobs)
        summary["echo_s"] = round(now() - t_echo, 2)
        summary["ordered_msgs"] = sum(r[0] for r in res[:8])
        summary["ordered_bytes"] = sum(r[1] for r in res[:8])
        summary["negotiated_msgs"] = res[8][0]
        summary["unordered"] = {"sent": res[9][0], "echoed": res[9][1],
                                "lost": res[9][0] - res[9][1]}
        log(f"echoes ok: {summary['ordered_msgs']} ordered, sizes {sizes[0]}..{sizes[-1]}")

        # What weft logged for the channels.
        pcid = only_session(srv)
        mine = [o for o in json_lines(srv.out) if o.get("pc") == pcid]
        chev = {o.get("label"): o for o in mine if o.get("ev") == "channel"}
        for c in every:
            check(c.label in chev, f"echo-server logged no 'channel' for {c.label}")
            check(chev[c.label].get("dc") == c.id,
                  f"{c.label}: weft's stream id {chev[c.label].get('dc')} != aiortc's {c.id}")
        u = chev["unordered"]
        check(u.get("ordered") is False and u.get("max_retransmits") == 0,
              f"weft saw the unordered channel as {u}")
        n = chev["negotiated"]
        check(n.get("negotiated") is True and n.get("dc") == 42, f"weft saw the negotiated channel as {n}")

        if args.audio:
            # The tone went to weft and came back while the channels worked:
            # at least 2 s of it, decoded by aiortc at the right level.
            t_conn = now() - summary["connect_ms"] / 1000
            await asyncio.sleep(max(0.0, t_conn + 2.5 - now()))
            check(len(audio_rx) == 1, f"aiortc got {len(audio_rx)} audio tracks back (want 1)")
            summary["audio_echo"] = audio_rx[0].summary()
            check(audio_rx[0].frames >= 80, f"aiortc decoded {audio_rx[0].frames} echoed audio "
                                            "frames in 2.5 s (want >= 80 of 125)")
            rms = audio_rx[0].summary().get("rms", 0)
            check(0.07 < rms < 0.25, f"echoed audio level {rms} (the tone is ~0.14)")

        # Remote close: aiortc closes echo-0, waits until closed, then closes the pc.
        await close_channel_then_pc(chans[0], st["echo-0"]["closed"], pc, summary)
        await asyncio.sleep(1.5)

        mine = [o for o in json_lines(srv.out) if o.get("pc") == pcid]
        evs = [(o.get("ev"), o.get("label"), o.get("state")) for o in mine]
        summary["server_close_events"] = [
            e for e in evs if e[0] in ("closing", "closed", "pc-state", "session-end", "error")]
        i_closing = first_event(mine, "closing", label="echo-0")
        i_closed = first_event(mine, "closed", label="echo-0")
        i_pcclosed = first_event(mine, "pc-state", state="closed")
        check(i_closing is not None, "echo-server: no 'closing' for echo-0 after aiortc closed it")
        check(i_closed is not None, "echo-server: no 'closed' for echo-0 after aiortc closed it")
        check(i_closing < i_closed, "echo-server: 'closed' before 'closing' for echo-0")
        check(i_pcclosed is not None,
              f"echo-server: no pc-state 'closed' 1.5 s after aiortc closed the connection "
              f"(states seen: {[o.get('state') for o in mine if o.get('ev') == 'pc-state']})")
        check(i_closed < i_pcclosed, "echo-server: echo-0 'closed' after pc-state 'closed'")
        # (a track's counters are logged when the session ends)
        after = [o for o in mine[i_pcclosed + 1:] if o.get("ev") not in ("session-end",
                                                                          "track-stats")]
        check(not after, f"echo-server: events for pc {pcid} after pc-state closed: {after}")
        opened = {o.get("label") for o in mine[:i_pcclosed] if o.get("ev") == "open"}
        closed = {o.get("label") for o in mine[:i_pcclosed] if o.get("ev") == "closed"}
        check(opened <= closed, f"echo-server: channels open but never closed before pc-state "
                                f"closed: {sorted(opened - closed)}")
        errors = [o for o in json_lines(srv.out) if o.get("ev") == "error"]
        check(not errors, f"echo-server logged errors: {errors}")
        # weft's own count of what it echoed must match what aiortc sent and got back.
        closed_ev = {o.get("label"): o for o in mine[:i_pcclosed] if o.get("ev") == "closed"}
        for label, (n_msgs, n_bytes) in list(zip([c.label for c in chans], res[:8])) + \
                [("negotiated", res[8])]:
            ev = closed_ev.get(label, {})
            check(ev.get("messages") == n_msgs and ev.get("bytes") == n_bytes,
                  f"echo-server's 'closed' for {label} counts {ev.get('messages')} messages / "
                  f"{ev.get('bytes')} bytes; aiortc sent and got back {n_msgs} / {n_bytes}")
        ev = closed_ev.get("unordered", {})
        check(isinstance(ev.get("messages"), int) and res[9][1] <= ev["messages"] <= res[9][0],
              f"echo-server's 'closed' for unordered counts {ev.get('messages')} messages; aiortc "
              f"sent {res[9][0]} and got {res[9][1]} back")
        summary["session_end"] = any(o.get("ev") == "session-end" for o in mine)
        tracks, stats = track_events(srv, pcid)
        if args.audio:
            check([o.get("kind") for o in tracks] == ["audio"], f"echo-server 'track' {tracks}")
            if summary["session_end"]:
                check_track_stats(stats, ["audio"])
                summary["server_track_stats"] = stats
        else:
            check(not tracks and not stats, f"echo-server logged tracks {tracks} {stats}")
        summary["pc_closed_ms"] = round((mine[i_pcclosed]["t"] - mine[i_closed]["t"]) * 1000, 1) \
            if isinstance(mine[i_pcclosed].get("t"), (int, float)) else None

        await stop_echo_server(srv, summary)


async def media_answers(args, summary):
    """aiortc offers audio + video (its own sources: the tone and the pattern,
    Opus and VP8) to echo-server, which sends every RTP packet back; aiortc
    decodes what comes back. Two m-lines, no data section: this test is about
    media (and aiortc 1.4 as offerer puts the data section last, the layout of
    its known three-m-line problem)."""
    counters = {}
    async with offer_to_echo_server(args) as (srv, port, pc, pc_states, receivers):
        pc.addTrack(ToneTrack())
        pc.addTrack(PatternTrack())

        def on_track(track):
            log(f"aiortc: remote {track.kind} track")
            check(track.kind not in counters, f"a second {track.kind} track")
            counters[track.kind] = FrameCounter(track, check_pattern=True)
            receivers.append(counters[track.kind])
        pc.on("track", on_track)

        t_start = now()
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp
        kinds = [section_info(sec)[0] for sec in sdp_sections(offer)[1:]]
        check(kinds == ["audio", "video"], f"aiortc's offer has m-lines {kinds}")
        status, headers, ans = await http_request("127.0.0.1", port, "POST", "/offer",
                                                  offer.encode(), "application/sdp")
        check(status == 201, f"POST /offer: status {status} (want 201): {ans[:300]!r}")
        answer = ans.decode()
        secs = [section_info(sec) for sec in sdp_sections(answer)[1:]]
        summary["answer_sections"] = secs
        check([x[0] for x in secs] == ["audio", "video"], f"weft's answer has m-lines {secs}")
        for kind, port_, direction, codec in secs:
            check(port_ != 0, f"weft's answer rejects {kind}: {secs}")
            check(direction == "sendrecv", f"weft answers {kind} {direction} (want sendrecv)")
        check(secs[0][3].lower().startswith("opus/48000") and secs[1][3].startswith("VP8/90000"),
              f"weft's answer codecs {[x[3] for x in secs]} (want opus and VP8, aiortc's first)")
        try:
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        except Exception as e:
            raise Failure(f"aiortc rejected weft's answer: {type(e).__name__}: {e}\n{answer}")

        deadline = time.monotonic() + 20
        while pc.connectionState != "connected":
            check(pc.connectionState not in ("failed", "closed"),
                  f"aiortc's connection {pc.connectionState} (states {pc_states})")
            check(time.monotonic() < deadline, f"not connected 20 s after the answer "
                                               f"(states {pc_states}, ice {pc.iceConnectionState})")
            await asyncio.sleep(0.05)
        summary["connect_ms"] = round((now() - t_start) * 1000, 1)
        log(f"connected; receiving the echoes for {args.seconds} s")
        # Halfway, aiortc asks for a keyframe on the echoed video: echo-server
        # must pass the request on to aiortc's own sender.
        await asyncio.sleep(args.seconds / 2)
        await send_pli(pc, summary, "plis_sent_by_aiortc")
        await asyncio.sleep(args.seconds / 2)

        check(sorted(counters) == ["audio", "video"],
              f"aiortc got tracks {sorted(counters)} back (want audio and video)")
        v, a = counters["video"], counters["audio"]
        summary["aiortc_received"] = {"video": v.summary(), "audio": a.summary()}
        log(f"aiortc decoded {v.frames} video and {a.frames} audio frames")
        want_v, want_a = int(args.seconds * 30 * 0.4), int(args.seconds * 50 * 0.5)
        check(v.frames >= max(100, want_v), f"aiortc decoded {v.frames} echoed video frames in "
                                            f"{args.seconds} s (want >= {max(100, want_v)})")
        check(a.frames >= max(200, want_a), f"aiortc decoded {a.frames} echoed audio frames in "
                                            f"{args.seconds} s (want >= {max(200, want_a)})")
        check(v.sizes == {(MEDIA_W, MEDIA_H)}, f"echoed video sizes {v.sizes}")
        sampled = (v.frames + 9) // 10
        check(v.pattern_ok >= 0.9 * sampled, f"only {v.pattern_ok} of {sampled} sampled echoed "
                                             "pictures show the bars that were sent")
        rms = a.summary().get("rms", 0)
        check(0.07 < rms < 0.25, f"echoed audio level {rms} (the tone is ~0.14)")

        # What weft saw: both tracks, then at the end their counters.
        pcid = only_session(srv)
        tracks, _ = track_events(srv, pcid)
        check(sorted(o.get("kind") for o in tracks) == ["audio", "video"],
              f"echo-server 'track' lines {tracks}")
        await asyncio.wait_for(pc.close(), 10)
        deadline = time.monotonic() + 10
        while not any(o.get("ev") == "session-end" and o.get("pc") == pcid
                      for o in json_lines(srv.out)):
            check(time.monotonic() < deadline, "echo-server: no session-end 10 s after aiortc "
                                               "closed the connection")
            await asyncio.sleep(0.1)
        _, stats = track_events(srv, pcid)
        summary["server_track_stats"] = stats
        check_track_stats(stats, ["audio", "video"])
        sv = next(o for o in stats if o.get("kind") == "video")
        check(sv.get("plis_received", 0) >= 1 and sv.get("plis_sent", 0) >= 1,
              f"echo-server did not pass aiortc's PLI on: video track-stats {sv}")
        errors = [o for o in json_lines(srv.out) if o.get("ev") == "error"]
        check(not errors, f"echo-server logged errors: {errors}")
        await stop_echo_server(srv, summary)


# ---------------------------------------------------------------- aiortc endpoint


class Endpoint:
    """A WHIP-shaped offer/answer endpoint whose peer connections are aiortc answerers."""

    MAX_HEAD = 16 * 1024
    MAX_BODY = 256 * 1024

    def __init__(self):
        self.sessions = {}  # id -> dict(pc, channels, ...), until DELETE
        self.history = []  # every session ever answered, for the checks
        self.next_id = 1
        self.server = None
        self.port = None
        self.requests = []  # (method, path, status)
        self.errors = []

    async def start(self):
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        log(f"aiortc endpoint on 127.0.0.1:{self.port}")

    async def stop(self):
        if self.server:
            self.server.close()
            await self.server.wait_closed()
        for s in list(self.sessions.values()):
            try:
                await asyncio.wait_for(s["pc"].close(), 5)
            except Exception:
                pass

    async def handle(self, reader, writer):
        try:
            while True:
                req = await self.read_request(reader)
                if req is None:
                    break
                method, path, headers, body = req
                try:
                    status, rh, rb = await self.route(method, path, headers, body)
                except Exception as e:
                    self.errors.append(f"{method} {path}: {type(e).__name__}: {e}")
                    traceback.print_exc()
                    status, rh, rb = 500, {"Content-Type": "text/plain"}, f"{e}\n".encode()
                self.requests.append((method, path, status))
                close = headers.get("connection", "").lower() == "close"
                self.write_response(writer, status, rh, rb, close)
                await writer.drain()
                if close:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except _BadRequest as e:
            self.write_response(writer, e.status, {"Content-Type": "text/plain"},
                                f"{e}\n".encode(), True)
        finally:
            writer.close()

    async def read_request(self, reader):
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = await reader.readline()
            if not line:
                if head:
                    raise _BadRequest(400, "truncated request head")
                return None
            if not head and line in (b"\r\n", b"\n"):
                continue  # tolerate blank lines between requests (RFC 9112 2.2)
            head += line
            if len(head) > self.MAX_HEAD:
                raise _BadRequest(431, "request head too large")
            if line == b"\n" and head.endswith(b"\n\n"):
                break
        lines = head.decode("iso-8859-1").replace("\r\n", "\n").split("\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(400, f"bad request line {lines[0]!r}")
        method, path = parts[0], parts[1]
        headers = {}
        for line in lines[1:]:
            if not line:
                continue
            k, sep, v = line.partition(":")
            if not sep or not k or k != k.strip():
                raise _BadRequest(400, f"bad header line {line!r}")
            headers[k.lower()] = v.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size_line = await reader.readline()
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _BadRequest(400, "bad chunk size")
                if size == 0:
                    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                if len(body) + size > self.MAX_BODY:
                    raise _BadRequest(413, "body too large")
                body += await reader.readexactly(size)
                await reader.readline()
        else:
            try:
                n = int(headers.get("content-length", "0"))
            except ValueError:
                raise _BadRequest(400, "bad Content-Length")
            if n < 0:
                raise _BadRequest(400, "bad Content-Length")
            if n > self.MAX_BODY:
                raise _BadRequest(413, "body too large")
            body = await reader.readexactly(n) if n else b""
        return method, path, headers, body

    @staticmethod
    def write_response(writer, status, headers, body, close):
        reasons = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request",
                   404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
                   415: "Unsupported Media Type", 431: "Request Header Fields Too Large",
                   500: "Internal Server Error"}
        h = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "Location"}
        h.update(headers)
        if status != 204:
            h["Content-Length"] = str(len(body))
        else:
            body = b""
        if close:
            h["Connection"] = "close"
        out = [f"HTTP/1.1 {status} {reasons.get(status, 'Status')}"]
        out += [f"{k}: {v}" for k, v in h.items()]
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("iso-8859-1") + body)

    async def route(self, method, path, headers, body):
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if path == "/health":
            if method != "GET":
                return 405, {}, b""
            return 200, {"Content-Type": "text/plain"}, b"ok"
        if method == "OPTIONS":
            return 204, {"Access-Control-Allow-Methods": "POST, PATCH, DELETE, GET, OPTIONS",
                         "Access-Control-Allow-Headers": "Content-Type"}, b""
        if path == "/offer":
            if method != "POST":
                return 405, {}, b""
            if ctype != "application/sdp":
                return 415, {"Content-Type": "text/plain"}, b"want application/sdp\n"
            return await self.offer(body.decode("utf-8", "replace"))
        m = re.fullmatch(r"/session/(\d+)", path)
        if not m:
            return 404, {}, b""
        sid = int(m.group(1))
        s = self.sessions.get(sid)
        if s is None:
            return 404, {}, b""
        if method == "PATCH":
            if ctype != "application/trickle-ice-sdpfrag":
                return 415, {"Content-Type": "text/plain"}, b"want application/trickle-ice-sdpfrag\n"
            return await self.patch(s, body.decode("utf-8", "replace"))
        if method == "DELETE":
            s["deleted"] = True
            del self.sessions[sid]
            await asyncio.wait_for(s["pc"].close(), 10)
            return 200, {}, b""
        return 405, {}, b""

    def echo(self, s, ch):
        info = {"label": ch.label, "id": ch.id, "ordered": ch.ordered,
                "max_retransmits": ch.maxRetransmits, "negotiated": ch.negotiated,
                "messages": 0, "bytes": 0, "events": channel_events_simple(ch)}
        s["channels"].append((ch, info))

        def on_message(m):
            info["messages"] += 1
            info["bytes"] += len(m)
            if ch.readyState == "open":
                ch.send(m)
        ch.on("message", on_message)

    async def offer(self, sdp):
        if "v=0" not in sdp[:8]:
            return 400, {"Content-Type": "text/plain"}, b"not an SDP offer\n"
        sid = self.next_id
        self.next_id += 1
        pc = RTCPeerConnection(NO_ICE_SERVERS)
        s = {"id": sid, "pc": pc, "channels": [], "offer": sdp, "patches": 0, "candidates": 0,
             "end_of_candidates": False, "states": [], "relays": []}
        pc.on("connectionstatechange", lambda: s["states"].append(pc.connectionState))
        pc.on("datachannel", lambda ch: self.echo(s, ch))

        def on_track(track):
            # The echo of a media track: aiortc decodes what it receives and
            # sends it back re-encoded (a new VP8/Opus stream). The track
            # event fires inside setRemoteDescription, so the sender is
            # there before the answer, which is then sendrecv.
            relay = CountingRelay(track)
            s["relays"].append(relay)
            pc.addTrack(relay)
        pc.on("track", on_track)
        kinds = [section_info(sec)[0] for sec in sdp_sections(sdp)[1:]]
        if "application" in kinds:
            # (Only with a data section: aiortc would otherwise start an SCTP
            # transport the answer never mentions.)
            self.echo(s, pc.createDataChannel("negotiated", negotiated=True, id=42))
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            await pc.setLocalDescription(await pc.createAnswer())
        except Exception as e:
            await pc.close()
            self.errors.append(f"aiortc refused the offer: {type(e).__name__}: {e}")
            return 400, {"Content-Type": "text/plain"}, f"aiortc: {e}\n".encode()
        self.sessions[sid] = s
        self.history.append(s)
        s["answer"] = pc.localDescription.sdp
        mids = [sdp_attr(sec, "mid") for sec in sdp_sections(sdp)[1:]]
        s["mids"] = [m[0] if m else None for m in mids]
        return 201, {"Content-Type": "application/sdp", "Location": f"/session/{sid}"}, \
            pc.localDescription.sdp.encode()

    async def patch(self, s, frag):
        """An RFC 8840 fragment: optional session-level ICE credentials, then
        m= sections (a=mid, a=candidate, a=end-of-candidates); a candidate
        before any m= line belongs to the first section."""
        s["patches"] += 1
        section, mid = -1, None
        todo = []
        for line in frag.replace("\r\n", "\n").split("\n"):
            if not line:
                continue
            if not re.match(r"[a-z]=", line):
                return 400, {"Content-Type": "text/plain"}, f"not an SDP line {line!r}\n".encode()
            if line.startswith("m="):
                section += 1
                mid = s["mids"][section] if section < len(s["mids"]) else None
            elif line.startswith("a=mid:"):
                mid = line[6:]
            elif line.startswith("a=candidate:"):
                try:
                    c = candidate_from_sdp(line[12:])
                except Exception:
                    return 400, {"Content-Type": "text/plain"}, f"bad candidate {line!r}\n".encode()
                c.sdpMid = mid if mid is not None else s["mids"][0]
                c.sdpMLineIndex = max(section, 0)
                todo.append(c)
            elif line == "a=end-of-candidates":
                todo.append(None)
        for c in todo:
            if c is None:
                # RTCPeerConnection.addIceCandidate cannot take "end of candidates"
                # in aiortc 1.4: tell the (bundled) ICE transport directly.
                sctp = s["pc"].sctp
                if sctp is not None:
                    await sctp.transport.transport.addRemoteCandidate(None)
                s["end_of_candidates"] = True
            else:
                await s["pc"].addIceCandidate(c)
                s["candidates"] += 1
        return 204, {}, b""


class _BadRequest(Exception):
    def __init__(self, status, msg):
        super().__init__(msg)
        self.status = status


def channel_events_simple(ch):
    ev = []
    ch.on("open", lambda: ev.append(("open", now())))
    ch.on("close", lambda: ev.append(("closed", now())))
    if ch.readyState == "open":
        ev.append(("open", now()))
    return ev


async def remote_close(ep, summary):
    """aiortc closes channel echo-0, waits until it is closed, then closes the pc."""
    check(len(ep.sessions) == 1, f"endpoint has {len(ep.sessions)} sessions (want 1)")
    s = next(iter(ep.sessions.values()))
    chs = [c for c, _ in s["channels"] if c.label == "echo-0"]
    check(chs, "the endpoint has no channel echo-0 to close")
    done = asyncio.get_event_loop().create_future()
    chs[0].on("close", lambda: done.done() or done.set_result(True))
    await close_channel_then_pc(chs[0], done, s["pc"], summary)
    log("aiortc closed echo-0, then the connection")


def check_client_media(r, s, extra, summary, events):
    """echo-client --media against aiortc: weft's VP8 and Opus reached aiortc,
    which decoded them and sent them back re-encoded; echo-client decoded
    aiortc's streams."""
    media = r.get("media")
    check(isinstance(media, dict), f"echo-client result has no media: {r}")
    v, a = media.get("video") or {}, media.get("audio") or {}
    summary["client_media"] = media
    summary["client_media_events"] = [e for e in events if e.get("ev") in ("track", "media")]
    secs = float(extra[extra.index("--media-seconds") + 1]) if "--media-seconds" in extra else 10
    check(v.get("codec") == "VP8" and a.get("codec") == "opus",
          f"negotiated codecs {v.get('codec')} / {a.get('codec')}")
    check(v.get("frames_sent") == round(secs * 30) and a.get("frames_sent") == round(secs * 50),
          f"echo-client sent {v.get('frames_sent')} video / {a.get('frames_sent')} audio frames "
          f"in {secs} s")
    for k, m, floor in (("video", v, 100), ("audio", a, 200)):
        check(m.get("decode_errors") == 0, f"echo-client {k} decode errors: {m}")
        check(m.get("frames_decoded", 0) >= floor,
              f"echo-client decoded {m.get('frames_decoded')} {k} frames from aiortc "
              f"(want >= {floor}): {m}")
    evs = {e.get("kind"): e for e in events if e.get("ev") == "media"}
    check(sorted(evs) == ["audio", "video"], f"echo-client media events {list(evs)}")
    for k, e in evs.items():
        check(e.get("srtp_failures") == 0, f"echo-client {k}: SRTP failures {e}")
    # aiortc decoded weft's pattern and encoded it again: echo-client still
    # reads the frame counter in what comes back.
    pv = evs["video"]
    check(pv.get("pattern_read", 0) >= 0.9 * v["frames_decoded"],
          f"echo-client read the frame counter in {pv.get('pattern_read')} of "
          f"{v['frames_decoded']} pictures from aiortc")
    # aiortc asked for a keyframe once (pli_when_flowing): weft surfaced it
    # and echo-client encoded one on top of the first.
    check(summary.get("plis_sent_by_aiortc") == 1,
          f"aiortc's PLI was not sent: {summary.get('pli_error')}")
    check(v.get("keyframes_requested_by_remote", 0) >= 1 and pv.get("keyframes_sent", 0) >= 2,
          f"echo-client after aiortc's PLI: {v.get('keyframes_requested_by_remote')} requests, "
          f"{pv.get('keyframes_sent')} keyframes sent")
    # What aiortc decoded of weft's streams (the frames its relays passed on).
    got = {x.kind: x.frames for x in s["relays"]}
    summary["aiortc_decoded"] = got
    summary["aiortc_video_sizes"] = [sorted(x.sizes) for x in s["relays"] if x.kind == "video"]
    check(sorted(got) == ["audio", "video"], f"aiortc relayed tracks {sorted(got)}")
    check(got["video"] >= 0.8 * v["frames_sent"] and got["audio"] >= 0.8 * a["frames_sent"],
          f"aiortc decoded {got} of the {v['frames_sent']} video / {a['frames_sent']} audio "
          "frames weft sent")
    check(summary["aiortc_video_sizes"] == [[(320, 240)]],
          f"aiortc decoded weft's video as {summary['aiortc_video_sizes']} (sent 320x240)")
    ans = [section_info(sec) for sec in sdp_sections(s["answer"])[1:]]
    summary["aiortc_answer_sections"] = ans
    check(all(x[2] == "sendrecv" for x in ans if x[0] in ("audio", "video")),
          f"aiortc's answer directions {ans}")


def client_args(rest):
    return rest[1:] if rest and rest[0] == "--" else rest


async def pli_when_flowing(ep, summary):
    """Once weft's video has flowed to aiortc for 2 s, aiortc asks weft for a
    keyframe: echo-client must encode one (on_keyframe_request)."""
    deadline = time.monotonic() + 30
    while True:
        s = ep.history[0] if ep.history else None
        relays = [r for r in (s["relays"] if s else []) if r.kind == "video"]
        if relays and relays[0].frames >= 60:
            break
        if time.monotonic() > deadline:
            summary["pli_error"] = "weft's video never reached 60 frames at aiortc"
            return
        await asyncio.sleep(0.1)
    try:
        await send_pli(s["pc"], summary, "plis_sent_by_aiortc")
    except Failure as e:
        summary["pli_error"] = str(e)


async def weft_offers(args, summary, extra, throughput=None):
    ep = Endpoint()
    cli = None
    pli_task = None
    try:
        await ep.start()
        s, _, b = await http_request("127.0.0.1", ep.port, "GET", "/health")
        check(s == 200 and b == b"ok", f"own endpoint /health: {s} {b!r}")
        argv = [args.echo_client, "--url", f"http://127.0.0.1:{ep.port}/offer", "--timeout", "30"]
        argv += extra
        if throughput:
            argv += ["--throughput", str(throughput)]
        cli = Child("echo-client")
        await cli.start(argv, env=child_env(args.debug))
        if "--media" in extra:
            pli_task = asyncio.ensure_future(pli_when_flowing(ep, summary))
        awaiting = "--await-remote-close" in extra
        if awaiting:
            await cli.wait_line(lambda line: json_event(line, "awaiting-remote-close"), 60,
                                stderr=True, what='{"ev":"awaiting-remote-close"}')
            await remote_close(ep, summary)
        budget = 60 + (throughput or 0)
        rc = await cli.wait_exit(budget)
        check(rc is not None, f"echo-client still running after {budget} s")
        results = json_lines(cli.out)
        check(len(results) == 1 and len([x for x in cli.out if x.strip()]) == 1,
              f"echo-client stdout is not exactly one JSON line: {cli.out[-5:]}")
        r = results[0]
        summary["client"] = r
        check(r.get("ok") is True, f"echo-client reported failure: {r.get('error')!r}")
        check(rc == 0, f"echo-client exited {rc} with ok:true")
        check(r.get("error") is None, f"echo-client ok:true with error {r.get('error')!r}")
        n = None
        if "--channels" in extra:
            n = int(extra[extra.index("--channels") + 1])
        want_mms = 0 if n == 0 else AIORTC_MAX_MESSAGE  # 0: no data section
        check(r.get("max_message_size") == want_mms,
              f"echo-client saw max_message_size {r.get('max_message_size')} (want {want_mms})")
        check(not ep.errors, f"endpoint errors: {ep.errors}")

        # Cross-check with what aiortc saw.
        posts = [q for q in ep.requests if q[1] == "/offer"]
        check(len(posts) == 1 and posts[0][2] == 201 and len(ep.history) == 1,
              f"POST /offer requests: {posts} (want exactly one, answered 201)")
        s = ep.history[0]
        patches = [q for q in ep.requests if q[0] == "PATCH"]
        # (echo-client's closing DELETE is fire and forget: listed, not required)
        summary["requests"] = [f"{m} {p} {st}" for m, p, st in ep.requests]
        if "--trickle" in extra:
            offer_cands = [line for line in s["offer"].split("\n") if line.startswith("a=candidate")]
            check(not offer_cands, f"--trickle offer carried {len(offer_cands)} candidates")
            check(s["candidates"] >= 1, "--trickle: no candidate PATCHed")
            check(s["end_of_candidates"], "--trickle: no end-of-candidates PATCHed")
            summary["trickled"] = s["candidates"]
        check(all(q[2] == 204 for q in patches), f"PATCH replies: {patches}")
        labels = sorted(info["label"] for _, info in s["channels"])
        summary["aiortc_channels"] = labels
        if "--negotiated" in extra:
            neg = [info for _, info in s["channels"] if info["label"] == "negotiated"]
            check(neg and neg[0]["messages"] > 0,
                  "negotiated channel 42: aiortc received nothing on it")
        elif not throughput:
            want = [f"echo-{i}" for i in range(1 if n is None else n)]
            got = sorted(x for x in labels if x.startswith("echo-"))
            check(got == sorted(want), f"aiortc saw channels {got} (want {sorted(want)})")
        if "--unordered" in extra:
            u = [info for _, info in s["channels"] if info["label"].startswith("echo-")]
            check(all(not i["ordered"] for i in u), "aiortc saw an ordered channel")
            if "--max-retransmits" in extra:
                mr = int(extra[extra.index("--max-retransmits") + 1])
                check(all(i["max_retransmits"] == mr for i in u),
                      f"aiortc saw maxRetransmits {[i['max_retransmits'] for i in u]}")
        summary["aiortc_echoed"] = {info["label"]: info["messages"] for _, info in s["channels"]}
        summary["aiortc_states"] = s["states"]
        if awaiting:
            rcl = r.get("remote_close") or {}
            check(rcl.get("pc_closed") is True, f"echo-client remote_close {rcl}")
            check(rcl.get("late_callbacks") == 0, f"echo-client remote_close {rcl}")
            check(rcl.get("channels_closed", 0) >= 1, f"echo-client remote_close {rcl}")
            # weft's own events, in order: echo-0 closing then closed (aiortc
            # closed it alone first), then the connection closed.
            evs = json_lines(cli.err)
            i_closing = first_event(evs, "closing", label="echo-0")
            i_closed = first_event(evs, "closed", label="echo-0")
            i_pc = first_event(evs, "pc-state", state="closed")
            check(None not in (i_closing, i_closed, i_pc) and i_closing < i_closed < i_pc,
                  f"echo-client events out of order: closing {i_closing}, closed {i_closed}, "
                  f"pc closed {i_pc}")
        if throughput:
            check(isinstance(r.get("throughput"), dict), f"no throughput in {r}")
        if "--media" in extra:
            check_client_media(r, s, extra, summary, json_lines(cli.err))
    except BaseException:
        if cli is not None:
            cli.dump()
        raise
    finally:
        if pli_task is not None:
            pli_task.cancel()
        if cli is not None:
            cli.kill()
        await ep.stop()
    if args.debug and cli is not None:
        cli.dump(tail=400)


# ---------------------------------------------------------------- main


async def main(args, rest, summary):
    if args.mode == "weft-answers":
        await weft_answers(args, summary)
    elif args.mode == "weft-offers":
        await weft_offers(args, summary, client_args(rest))
    elif args.mode == "media-answers":
        await media_answers(args, summary)
    elif args.mode == "throughput":
        await weft_offers(args, summary, client_args(rest), throughput=args.seconds)
        t = summary["client"]["throughput"]
        print(f"THROUGHPUT echo-client -> aiortc: {t}", flush=True)


def parse():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--echo-server", default="echo-server")
    p.add_argument("--echo-client", default="echo-client")
    p.add_argument("--timeout", type=float, default=90, help="overall bound in seconds")
    p.add_argument("--debug", default=os.environ.get("INTEROP_WEFT_DEBUG"),
                   help="WEFT_DEBUG for the weft side; its logs are printed at the end")
    p.add_argument("--name", default=None, help="test name for the summary line")
    sub = p.add_subparsers(dest="mode", required=True)
    a = sub.add_parser("weft-answers")
    a.add_argument("--trickle", action="store_true")
    a.add_argument("--audio", action="store_true")
    m = sub.add_parser("media-answers")
    m.add_argument("--seconds", type=float, default=8)
    sub.add_parser("weft-offers")
    t = sub.add_parser("throughput")
    t.add_argument("--seconds", type=float, default=5)
    args, rest = p.parse_known_args()
    if args.mode in ("weft-answers", "media-answers") and rest:
        p.error(f"unexpected arguments {rest}")
    return args, rest


def cli_main():
    args, rest = parse()
    name = args.name or " ".join([args.mode] + client_args(rest))
    summary = {}
    t = time.monotonic()
    try:
        asyncio.run(asyncio.wait_for(main(args, rest, summary), args.timeout))
    except Failure as e:
        print(f"FAIL [{name}]: {e}", flush=True)
        print(json.dumps({"ok": False, "test": name, "error": str(e), **summary}, default=str))
        return 1
    except asyncio.TimeoutError:
        print(f"FAIL [{name}]: not finished within the overall bound of {args.timeout} s", flush=True)
        print(json.dumps({"ok": False, "test": name, "error": "timeout", **summary}, default=str))
        return 1
    except Exception as e:
        traceback.print_exc()
        print(f"FAIL [{name}]: driver error {type(e).__name__}: {e}", flush=True)
        return 1
    summary["seconds"] = round(time.monotonic() - t, 2)
    print(json.dumps({"ok": True, "test": name, **summary}, default=str), flush=True)
    print(f"PASS [{name}] in {summary['seconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(cli_main())
