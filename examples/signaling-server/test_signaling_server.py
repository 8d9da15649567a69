#!/usr/bin/python3
"""End-to-end tests of examples/signaling-server (doc/rooms.md), from the
outside: the protocol, every error code, the limits, shutdown, and the abuse
test of issue 5 (200 clients joining and leaving in a loop, malformed JSON, a
10 MB message, a client that never reads: the server stays up, its memory
stays bounded and a normal client's ping/pong latency stays low), and the
limits of issue 12, each driven past its bound while well-behaved clients
keep being served: JSON nesting (--max-depth), request bodies (413),
connections that never upgrade (--max-pending, --handshake-timeout), the
per-address cap (--max-per-address) and the relay rate limit (--relay-rate,
--relay-burst).

usage: test_signaling_server.py path/to/signaling-server
Every server runs on 127.0.0.1 port 0 and is killed by PID on every path.
"""

import base64
import json
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wsclient import WS, Closed  # noqa: E402

SERVER = sys.argv[1] if len(sys.argv) > 1 else "signaling-server"
failures = 0


def check(cond, what):
    global failures
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures += 1


class Server:
    """One signaling-server process; its stdout events are collected by a
    thread (so the pipe never fills up)."""

    def __init__(self, *args):
        env = dict(os.environ)
        # Under ASan, freed memory sits in a 256 MiB quarantine by default,
        # which would read as growth in the RSS checks: keep it small. (No
        # effect on a normal build.)
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":quarantine_size_mb=4:thread_local_quarantine_size_kb=64").lstrip(":")
        self.proc = subprocess.Popen([SERVER, "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.events = []
        first = self.proc.stdout.readline()
        ev = json.loads(first)
        assert ev["ev"] == "listening", first
        self.port = ev["port"]
        self.host = ev["host"]
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.stderr = []
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"ev": "BAD LINE", "line": line}
            with self.lock:
                self.events.append(ev)

    def ws(self, **kw):
        return WS("127.0.0.1", self.port, **kw)

    def join(self, room, peer, name=None):
        c = self.ws()
        c.send({"type": "join", "room": room, "peer": peer, "name": name or peer.upper()})
        j = c.expect("joined")
        return c, j

    def status_kib(self, key):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return -1

    def rss_kib(self):
        return self.status_kib("VmRSS")

    def sanitized(self):
        with open(f"/proc/{self.proc.pid}/maps") as f:
            return "libasan" in f.read()

    def http(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, r.headers.get("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read()

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            rc = f"killed after {timeout}s"
        self.reader.join(2)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def expect_error(c, code, timeout=5):
    m = c.expect("error", timeout)
    return m.get("code") == code, m


def closed_with(c, timeout=5):
    """Reads until the close frame; returns its code (None if the socket just
    dropped, "timeout" if nothing came)."""
    try:
        while True:
            c.recv(timeout)
    except Closed as e:
        return e.code
    except TimeoutError:
        return "timeout"
    except OSError:
        return None


# ---- Tests ----------------------------------------------------------------------

def test_http(srv, web):
    st, ctype, body = srv.http("/health")
    check(st == 200 and body.strip() == b"ok", "GET /health -> 200 ok")
    st, ctype, body = srv.http("/")
    check(st == 200 and ctype.startswith("text/html") and body == b"<p>room</p>\n",
          f"GET / serves index.html from --web-root ({st} {ctype})")
    st, ctype, body = srv.http("/js/app.js")
    check(st == 200 and ctype.startswith("text/javascript"), f"GET /js/app.js ({st} {ctype})")
    for path in ["/secret.txt", "/../etc/passwd", "/%2e%2e/etc/passwd", "/.hidden.js",
                 "/js/", "/nope.html", "/js"]:
        st, _, _ = srv.http(path)
        check(st == 404, f"GET {path} -> 404 ({st})")
    # Raw request with a literal "..": urllib would normalize it away.
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    s.sendall(b"GET /js/../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n")
    status = s.recv(4096).split(b"\r\n")[0].decode(errors="replace")
    s.close()
    check(" 404 " in status or " 400 " in status, f"GET /js/../../etc/passwd refused ({status})")


def test_rooms(srv):
    a, ja = srv.join("r1", "alice", "Alice")
    check(ja == {"type": "joined", "room": "r1", "peer": "alice", "peers": []},
          f"alice joins an empty room: {ja}")
    b, jb = srv.join("r1", "bob", "Bob")
    check(jb["peers"] == [{"peer": "alice", "name": "Alice"}], f"bob sees alice: {jb}")
    m = a.expect("peer-joined")
    check(m == {"type": "peer-joined", "peer": "bob", "name": "Bob"}, f"alice hears bob: {m}")
    c, jc = srv.join("r1", "carol", "Carol")
    check([p["peer"] for p in jc["peers"]] == ["alice", "bob"], "carol sees alice, bob in join order")
    a.expect("peer-joined"), b.expect("peer-joined")
    # Another room is separate.
    d, jd = srv.join("r2", "alice", "Other Alice")
    check(jd["peers"] == [], "same peer id in another room is fine; rooms are separate")
    check(a.nothing(0.2) and b.nothing(0.01), "r1 hears nothing of r2")

    # Relays, with "from" added and "to" kept.
    sends = [
        {"type": "offer", "to": "bob", "sdp": "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\n"},
        {"type": "candidate", "to": "bob", "candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host",
         "sdpMid": "0", "sdpMLineIndex": 0},
        {"type": "candidate", "to": "bob", "candidate": None, "sdpMid": "0"},
        {"type": "bye", "to": "bob"},
    ]
    for s in sends:
        a.send(s)
        got = b.recv()
        check(got == {**s, "from": "alice"}, f"relay {s['type']} alice->bob: {got}")
    b.send({"type": "answer", "to": "alice", "sdp": "v=0\r\n", "extra": [1, 2]})
    got = a.recv()
    check(got == {"type": "answer", "to": "alice", "sdp": "v=0\r\n", "extra": [1, 2],
                  "from": "bob"}, f"relay answer keeps unknown members: {got}")
    a.send({"type": "offer", "to": "bob", "sdp": "v=0", "from": "carol"})
    got = b.recv()
    check(got.get("from") == "alice", f"a forged \"from\" is overwritten: {got}")
    check(c.nothing(0.2), "carol gets none of the alice<->bob relays")

    # ping works joined or not.
    d.send({"type": "ping"})
    check(d.recv() == {"type": "pong"}, "ping -> pong")

    # leave: others hear peer-left; the connection may join again.
    b.send({"type": "leave"})
    check(a.expect("peer-left") == {"type": "peer-left", "peer": "bob"} and
          c.expect("peer-left")["peer"] == "bob", "leave -> peer-left to the others")
    b.send({"type": "join", "room": "r1", "peer": "bob2", "name": "Bob"})
    jb2 = b.expect("joined")
    check([p["peer"] for p in jb2["peers"]] == ["alice", "carol"], "rejoin after leave works")
    a.expect("peer-joined"), c.expect("peer-joined")
    # disconnect without leave: peer-left too.
    c.sock.close()
    check(a.expect("peer-left")["peer"] == "carol" and b.expect("peer-left")["peer"] == "carol",
          "disconnect -> peer-left")
    # a closed room's id can be reused after everyone left
    for x in (a, b, d):
        x.close()
    time.sleep(0.2)
    e, je = srv.join("r1", "alice")
    check(je["peers"] == [], "after everyone left, r1 is empty again")
    e.close()


def test_errors(srv):
    c = srv.ws()
    # not-joined
    c.send({"type": "offer", "to": "x", "sdp": "v=0"})
    ok, m = expect_error(c, "not-joined")
    check(ok, f"offer before join -> not-joined: {m}")
    c.send({"type": "leave"})
    ok, m = expect_error(c, "not-joined")
    check(ok, f"leave before join -> not-joined: {m}")
    # bad-json: garbage, arrays, strings, binary frames, invalid UTF-8 escapes
    for bad in ["{", "garbage", "[1,2]", "\"str\"", "42", "", "{\"type\":\"ping\"} x"]:
        c.send_text(bad)
        ok, m = expect_error(c, "bad-json")
        check(ok, f"{bad!r} -> bad-json")
    c.frame(2, b"\x00\x01binary")
    ok, m = expect_error(c, "bad-json")
    check(ok, "binary frame -> bad-json")
    # bad-message
    for bad in [{}, {"type": 3}, {"type": "dance"}, {"type": "join"},
                {"type": "join", "room": "", "peer": "p"},
                {"type": "join", "room": "a b", "peer": "p"},
                {"type": "join", "room": "r", "peer": "x" * 65},
                {"type": "join", "room": "r", "peer": "p/1"},
                {"type": "join", "room": "r", "peer": "p", "name": "n" * 65},
                {"type": "join", "room": "r", "peer": "p", "name": 5}]:
        c.send(bad)
        ok, m = expect_error(c, "bad-message")
        check(ok, f"{json.dumps(bad)[:60]} -> bad-message")
    c.send({"type": "ping"})
    check(c.recv() == {"type": "pong"}, "after 20 malformed messages the connection still works")

    c.send({"type": "join", "room": "e", "peer": "p1", "name": "ünïcødé ✓"})
    j = c.expect("joined")
    check(j["peer"] == "p1", "a UTF-8 name of <= 64 bytes is fine")
    c.send({"type": "join", "room": "e", "peer": "p1b"})
    ok, m = expect_error(c, "already-joined")
    check(ok, f"second join -> already-joined: {m}")
    for bad in [{"type": "offer", "to": "p2"}, {"type": "offer", "to": "p2", "sdp": 1},
                {"type": "answer", "sdp": "v=0"}, {"type": "candidate", "to": "p2"},
                {"type": "candidate", "to": "p2", "candidate": 5},
                {"type": "candidate", "to": "p2", "candidate": "c", "sdpMLineIndex": "0"},
                {"type": "bye", "to": ""}, {"type": "bye", "to": 7}]:
        c.send(bad)
        ok, m = expect_error(c, "bad-message")
        check(ok, f"{json.dumps(bad)} -> bad-message")
    c.send({"type": "offer", "to": "nobody", "sdp": "v=0"})
    ok, m = expect_error(c, "unknown-peer")
    check(ok, f"offer to a peer not in the room -> unknown-peer: {m}")

    d = srv.ws()
    d.send({"type": "join", "room": "e", "peer": "p1"})
    ok, m = expect_error(d, "peer-taken")
    check(ok, f"join with a taken peer id -> peer-taken: {m}")
    d.send({"type": "join", "room": "e", "peer": "p2"})
    check(d.expect("joined")["peers"][0]["peer"] == "p1", "then joining under a free id works")
    c.expect("peer-joined")
    # room-full: this server runs with --max-peers-per-room 3
    e = srv.ws()
    e.send({"type": "join", "room": "e", "peer": "p3"})
    e.expect("joined")
    f = srv.ws()
    f.send({"type": "join", "room": "e", "peer": "p4"})
    ok, m = expect_error(f, "room-full")
    check(ok, f"4th peer with --max-peers-per-room 3 -> room-full: {m}")
    # unknown-peer for a peer in ANOTHER room
    f.send({"type": "join", "room": "other", "peer": "p4"})
    f.expect("joined")
    f.send({"type": "offer", "to": "p1", "sdp": "v=0"})
    ok, m = expect_error(f, "unknown-peer")
    check(ok, "relay to a peer of another room -> unknown-peer")

    # too-big: one frame over --max-message (4096 here): error, then close 1009
    big = json.dumps({"type": "offer", "to": "p2", "sdp": "x" * 5000})
    c.send_text(big)
    ok, m = expect_error(c, "too-big")
    check(ok, f"message over --max-message -> too-big: {m}")
    code = closed_with(c)
    check(code == 1009, f"... then close 1009 ({code})")
    check(d.expect("peer-left")["peer"] == "p1", "the others see the too-big sender leave")
    e.expect("peer-left")
    # the same limit on a message split into small fragments
    g = srv.ws()
    try:
        g.frame(1, b'{"type":"ping","pad":"', fin=False)
        for _ in range(3):
            g.frame(0, b"y" * 2000, fin=False)
        g.frame(0, b'"}', fin=True)
    except OSError:
        pass  # the server may cut us off before the last fragment
    ok, m = expect_error(g, "too-big")
    code = closed_with(g)
    check(ok and code == 1009, f"fragmented message over the limit -> too-big, close 1009 ({code})")
    # exactly at the limit is fine
    h = srv.ws()
    msg = '{"type":"ping","pad":"'
    msg += "z" * (4096 - len(msg) - 2) + '"}'
    h.send_text(msg)
    check(h.recv() == {"type": "pong"}, "a message of exactly --max-message bytes is accepted")
    # ... also in fragments, with a WebSocket ping between them
    raw = msg.encode()
    h.frame(1, raw[:1000], fin=False)
    h.frame(9, b"hi")
    h.frame(0, raw[1000:3000], fin=False)
    h.frame(0, raw[3000:], fin=True)
    check(h.recv() == {"type": "pong"},
          "exactly --max-message bytes in 3 fragments with a ping between them is accepted")

    # more than 100 invalid messages -> 1008
    k = srv.ws()
    for i in range(100):
        k.send_text("{oops")
    errors = 0
    for i in range(100):
        ok, _ = expect_error(k, "bad-json")
        errors += ok
    k.send({"type": "ping"})
    check(errors == 100 and k.recv() == {"type": "pong"},
          "100 invalid messages are answered and tolerated")
    k.send_text("{oops")
    ok, _ = expect_error(k, "bad-json")
    code = closed_with(k)
    check(ok and code == 1008, f"the 101st invalid message -> close 1008 ({code})")
    for x in (d, e, f, h):
        x.close()


def test_max_clients():
    srv = Server("--max-clients", "2")
    try:
        a, b = srv.ws(), srv.ws()
        try:
            srv.ws()
            refused = False
        except ConnectionError as e:
            refused = "503" in str(e)
        check(refused, "--max-clients 2: the 3rd WebSocket gets HTTP 503")
        a.close()
        deadline = time.monotonic() + 5
        ok = False
        while time.monotonic() < deadline and not ok:
            try:
                srv.ws().close()
                ok = True
            except ConnectionError:
                time.sleep(0.05)
        check(ok, "a slot frees up when a client leaves")
        b.close()
    finally:
        rc = srv.stop()
        check(rc == 0, f"SIGTERM -> exit 0 ({rc})")


def test_shutdown():
    srv = Server("--lifetime", "1.5")
    a, _ = srv.join("s", "a")
    t0 = time.monotonic()
    code = closed_with(a, timeout=10)
    rc = srv.proc.wait(10)
    dt = time.monotonic() - t0
    srv.reader.join(2)
    evs = [e["ev"] for e in srv.events]
    check(code == 1001 and rc == 0 and 0.5 < dt < 5,
          f"--lifetime 1.5: clients get 1001, exit 0 after {dt:.1f}s ({code}, {rc})")
    check("stopping" in evs and evs[-1] == "stopped", f"stopping ... stopped lines: {evs}")
    srv = Server()
    a, _ = srv.join("s", "a")
    rc = srv.stop(signal.SIGINT)
    check(rc == 0, f"SIGINT with a client connected -> exit 0 ({rc})")


# ---- Facing the network (issue 12): each limit driven past its bound ------------

def raw_exchange(port, data, timeout=5.0):
    """Sends @data on a fresh connection and reads until the server closes it.
    Returns (status line, everything read, closed by the server in time)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    closed = False
    deadline = time.monotonic() + timeout
    try:
        s.sendall(data)
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            out += chunk
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    except socket.timeout:
        pass
    finally:
        s.close()
    return out.split(b"\r\n", 1)[0].decode(errors="replace"), out, closed


def wait_closed(s, timeout):
    """Seconds until the server closes @s (EOF or reset), or None."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    try:
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            if not s.recv(4096):
                return time.monotonic() - t0
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - t0
    except socket.timeout:
        pass
    return None


def relay_works(a, b, peer_b, what):
    """@a relays an offer to @b (peer id @peer_b); checks b gets it."""
    a.send({"type": "offer", "to": peer_b, "sdp": "v=0"})
    try:
        got = b.expect("offer", 5)
    except (TimeoutError, OSError, Closed) as e:
        got = repr(e)
    check(isinstance(got, dict) and got.get("sdp") == "v=0", f"{what}: a relay still arrives ({got})")


def stopped_counts(srv, what):
    """Stops @srv (SIGTERM, exit 0 checked) and returns its refusal counts."""
    rc = srv.stop()
    check(rc == 0, f"{what}: SIGTERM -> exit 0 ({rc})")
    last = srv.events[-1] if srv.events else {}
    return last.get("refused", {}) if last.get("ev") == "stopped" else {}


def refused_events(srv, reason, want=1, timeout=3.0):
    """The "refused" lines for @reason, once there are @want (the reader
    thread may lag the server a little) or after @timeout."""
    deadline = time.monotonic() + timeout
    while True:
        with srv.lock:
            evs = [e for e in srv.events if e.get("ev") == "refused" and e.get("reason") == reason]
        if len(evs) >= want or time.monotonic() > deadline:
            return evs
        time.sleep(0.02)


def test_json_depth():
    """JSON nesting is checked by a linear scan before json-glib parses (json-glib
    1.6.6 overflows its stack at ~75,000 nested '['; --max-message above ~72 KiB
    lets such a message through)."""
    srv = Server("--max-message", str(1024 * 1024), "--max-depth", "32")
    try:
        a, _ = srv.join("deep", "a")
        b, _ = srv.join("deep", "b")
        a.expect("peer-joined")

        def answer(text):
            a.send_text(text)
            m = a.recv(10)
            return m

        m = answer("[" * 200000)
        check(m.get("code") == "bad-json" and "deeper than 32" in m.get("message", ""),
              f"200,000 nested '[' (200 KB, --max-message 1 MiB) -> bad-json, too deep: {m}")
        check(srv.proc.poll() is None, "... and the server is still up")
        a.send({"type": "ping"})
        check(a.recv() == {"type": "pong"}, "... and the sender's connection still works")
        # The bound exactly: the message object is level 1.
        ok31 = '{"type":"ping","x":' + "[" * 31 + "]" * 31 + "}"
        check(answer(ok31) == {"type": "pong"}, "nesting of exactly --max-depth 32 is accepted")
        m = answer('{"type":"ping","x":' + "[" * 32 + "]" * 32 + "}")
        check(m.get("code") == "bad-json" and "deeper" in m.get("message", ""),
              f"nesting of 33 -> bad-json: {m}")
        # Brackets inside strings do not count, escaped quotes included.
        pad = "[" * 100000 + '"\\{' + "{" * 1000
        check(answer(json.dumps({"type": "ping", "pad": pad, "k[": "]"})) == {"type": "pong"},
              "100,000 '[' inside a string (with escaped quotes) do not count")
        # An escaped backslash before the closing quote ends the string: what
        # follows is structure and counts.
        m = answer('{"type":"ping","s":"a\\\\","t":' + "[" * 40 + "]" * 40 + "}")
        check(m.get("code") == "bad-json" and "deeper" in m.get("message", ""),
              f"'\"a\\\\\\\\\"' then 40 levels -> too deep (the string ended at its quote): {m}")
        # What json-glib's scanner reads differently from JSON (single-quoted
        # strings, comments, a lone surrogate that swallows the next quote):
        # refused. A scan that only knew JSON strings would see a string
        # opening at the '"' and let the 100,000 levels through to json-glib,
        # which crashes on each of the first four (checked against 1.6.6).
        deep = "[" * 100000
        for what, text in [("a single-quoted string", '{"type":"ping","a":\'"\',\'b\':' + deep),
                           ("a comment", '{"type":"ping",/*"*/"x":' + deep),
                           ("a '/' comment", '{"type":"ping",/"/"x":' + deep),
                           ("a lone surrogate", '{"\\ud800" ":' + deep),
                           ("a '.' not before a digit", '{"type":"ping","x":[1 ."' + deep)]:
            m = answer(text)
            check(m.get("code") == "bad-json", f"{what} before 100,000 '[' -> bad-json: {m}")
        check(srv.proc.poll() is None, "the server survived every deep message")
        relay_works(a, b, "b", "after the deep messages")
        c = srv.ws()
        c.send({"type": "ping"})
        check(c.recv() == {"type": "pong"}, "a new client is served")
        c.close()
        a.close()
        b.close()
    finally:
        counts = stopped_counts(srv, "--max-depth")
        srv.kill()
    check(counts.get("too-deep") == 3, f"the stopped line counts 3 too-deep messages: {counts}")


def test_request_body():
    """A request that announces a body is refused (413), never upgraded: libsoup
    would read the body before the handshake and the frame guard would take it
    for frames. And the guard finds the end of a request as libsoup does."""
    srv = Server("--max-message", "4096")
    try:
        a, _ = srv.join("body", "a")
        b, _ = srv.join("body", "b")
        a.expect("peer-joined")
        key = base64.b64encode(os.urandom(16)).decode()
        up = ("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        # The body is a frame header announcing 2^62 bytes: a guard that took
        # it for a frame would skip every later frame.
        fake = bytes([0x81, 0xFF]) + (1 << 62).to_bytes(8, "big") + b"MASK"
        for what, req in [("Content-Length", up.encode() + b"Content-Length: %d\r\n\r\n" % len(fake)
                           + fake),
                          ("chunked", up.encode() + b"Transfer-Encoding: chunked\r\n\r\n"
                           + b"%x\r\n" % len(fake) + fake + b"\r\n0\r\n\r\n")]:
            status, _, closed = raw_exchange(srv.port, req)
            check(" 413 " in status and closed,
                  f"an upgrade request with a body ({what}) -> 413, connection closed ({status!r})")
        # A large body elsewhere is read and dropped, not buffered.
        rss0 = srv.status_kib("VmHWM")
        big = 32 * 1024 * 1024
        status, _, closed = raw_exchange(srv.port, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: "
                                         b"%d\r\n\r\n" % big + b"B" * big, timeout=10)
        grew = srv.status_kib("VmHWM") - rss0
        check(" 413 " in status and grew < 16 * 1024,
              f"a 32 MiB POST body -> 413 ({status!r}), peak RSS grew {grew} KiB (bound 16 MiB)")
        check(len(refused_events(srv, "request-body", 3)) == 3, "each is logged as refused request-body")
        # Bare "\n" line ends and leading blank lines: libsoup upgrades such a
        # request, and the guard must still find where the frames start (a
        # fragmented message over --max-message 4096 is refused).
        for what, kw in [("bare LF", {"eol": "\n"}), ("leading blank lines", {"lead": "\n\r\n"})]:
            g = srv.ws(**kw)
            try:
                g.frame(1, b'{"type":"ping","pad":"', fin=False)
                for _ in range(3):
                    g.frame(0, b"y" * 2000, fin=False)
                g.frame(0, b'"}', fin=True)
            except OSError:
                pass
            ok, m = expect_error(g, "too-big")
            code = closed_with(g)
            check(ok and code == 1009, f"{what} request: fragmented message over the limit -> "
                  f"too-big, close 1009 ({m}, {code})")
            g.sock.close()
        relay_works(a, b, "b", "after the refused bodies")
        c = srv.ws()
        c.send({"type": "ping"})
        check(c.recv() == {"type": "pong"}, "a new client is served")
        for x in (a, b, c):
            x.close()
    finally:
        counts = stopped_counts(srv, "request bodies")
        srv.kill()
    check(counts.get("request-body") == 3, f"the stopped line counts 3 request bodies: {counts}")


def test_pending():
    """Connections that never upgrade: at most --max-pending at once, each shut
    down --handshake-timeout after its accept (a trickling client too)."""
    srv = Server("--max-pending", "4", "--handshake-timeout", "1.5")
    idle = []
    try:
        a, _ = srv.join("pend", "a")
        b, _ = srv.join("pend", "b")
        a.expect("peer-joined")
        t_open = []
        for i in range(4):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            idle.append(s)
            t_open.append(time.monotonic())
        idle[0].sendall(b"GET /ws HTTP/1.1\r\n")  # then a header byte now and then
        time.sleep(0.2)  # the server has accepted all four
        extra = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        dt = wait_closed(extra, 1.0)
        extra.close()
        check(dt is not None and dt < 1.0,
              f"the 5th connection over --max-pending 4 is closed at once ({dt})")
        check(len(refused_events(srv, "too-many-pending")) == 1, "... logged as too-many-pending")
        # WebSockets do not count: the room keeps working meanwhile.
        relay_works(a, b, "b", "with 4 idle connections pending")
        # The trickler keeps sending; every pending one is cut at ~1.5 s.
        closed_at = [None] * 4
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and None in closed_at:
            r, _, _ = select.select([s for i, s in enumerate(idle) if closed_at[i] is None], [], [],
                                    0.2)
            for s in r:
                i = idle.index(s)
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    closed_at[i] = time.monotonic() - t_open[i]
            if closed_at[0] is None:
                try:
                    idle[0].sendall(b"X")
                except OSError:
                    closed_at[0] = time.monotonic() - t_open[0]
        ok = all(t is not None and 1.3 < t < 3.5 for t in closed_at)
        check(ok, "--handshake-timeout 1.5: every idle connection is shut down after 1.3-3.5 s, "
              f"the trickling one too ({['%.2f' % t if t else t for t in closed_at]})")
        check(len(refused_events(srv, "handshake-timeout", 4)) == 4, "... logged as handshake-timeout")
        # The slots are free again: new clients connect and join.
        c, _ = srv.join("pend", "c")
        relay_works(c, a, "a", "a client that connected after the timeouts")
        st = srv.http("/health")[0]
        check(st == 200, f"plain HTTP is served again ({st})")
        for x in (a, b, c):
            x.close()
    finally:
        for s in idle:
            s.close()
        counts = stopped_counts(srv, "--max-pending")
        srv.kill()
    check(counts.get("too-many-pending") == 1 and counts.get("handshake-timeout") == 4,
          f"the stopped line counts them: {counts}")


def test_per_address():
    """At most --max-per-address connections (pending or WebSocket) from one
    IP address; other addresses are not affected."""
    srv = Server("--max-per-address", "3")
    try:
        a, _ = srv.join("addr", "a")
        b, _ = srv.join("addr", "b")
        a.expect("peer-joined")
        pend = socket.create_connection(("127.0.0.1", srv.port), timeout=5)  # the 3rd
        time.sleep(0.2)
        try:
            srv.ws()
            refused = "accepted"
        except (ConnectionError, OSError) as e:
            refused = repr(e)
        check(refused != "accepted", f"a 4th connection from 127.0.0.1 is closed ({refused})")
        check(len(refused_events(srv, "too-many-from-address")) == 1,
              "... logged as too-many-from-address")
        relay_works(a, b, "b", "the capped address's WebSockets")
        # Another address (127.0.0.2 is loopback too) is served.
        try:
            o = WS("127.0.0.1", srv.port, source=("127.0.0.2", 0))
            o.send({"type": "join", "room": "addr", "peer": "o"})
            jo = o.expect("joined")
            check([p["peer"] for p in jo["peers"]] == ["a", "b"], "a client from 127.0.0.2 joins")
            relay_works(o, a, "a", "the client from 127.0.0.2")
            o.close()
        except (ConnectionError, OSError, TimeoutError) as e:
            check(False, f"a client from 127.0.0.2 is served ({e!r})")
        # A slot frees up when a connection from there ends.
        pend.close()
        ok = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not ok:
            try:
                c, _ = srv.join("addr", "c")
                ok = True
            except (ConnectionError, OSError):
                time.sleep(0.05)
        check(ok, "after one closes, 127.0.0.1 may connect again")
        if ok:
            relay_works(c, a, "a", "the new client")
            c.close()
        a.close()
        b.close()
    finally:
        counts = stopped_counts(srv, "--max-per-address")
        srv.kill()
    check(counts.get("too-many-from-address", 0) >= 1, f"the stopped line counts them: {counts}")


def rate_flood(srv, n, size):
    """In a room of a slow receiver (reads nothing during the flood; default
    buffers: a tiny receive window would make loopback TCP itself deliver in
    zero-window probes), a flooder and an honest peer: the flooder sends @n
    offers of @size bytes to the receiver as fast as it can. Returns the
    receiver, the flooder, the honest peer, the flooder's rate-limited count
    and the flood's duration."""
    slow = srv.ws()
    slow.send({"type": "join", "room": "rate", "peer": "slow"})
    slow.expect("joined")
    flood, _ = srv.join("rate", "flood")
    honest, _ = srv.join("rate", "honest")
    blob = "f" * size
    limited = 0
    t0 = time.monotonic()
    for i in range(n):
        try:
            flood.send({"type": "offer", "to": "slow", "sdp": blob, "n": i})
        except OSError:
            break
        while True:  # its answers, without waiting
            try:
                m = flood.recv(0.0001)
            except (TimeoutError, socket.timeout):
                break
            except (OSError, Closed):
                break
            limited += m.get("code") == "rate-limited"
    return slow, flood, honest, limited, time.monotonic() - t0


def drain(c, quiet=1.0, timeout=20):
    """Every message until @quiet seconds pass without one; (list, how it ended)."""
    got = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            got.append(c.recv(quiet))
    except (TimeoutError, socket.timeout):
        return got, "quiet"
    except Closed as e:
        return got, f"closed {e.code}"
    except OSError as e:
        return got, repr(e)
    return got, "timeout"


def test_rate_limit():
    """A flooding sender is throttled (its relays over --relay-rate/--relay-burst
    dropped, with a rate-limited error back to it), so the slow receiver it
    floods is not cut off; the same flood without the limit does cut it."""
    n, size = 3000, 8000
    rate, burst = 20000, 40000
    srv = Server("--relay-rate", str(rate), "--relay-burst", str(burst))
    try:
        slow, flood, honest, limited, dt = rate_flood(srv, n, size)
        time.sleep(0.5)
        got, how = drain(slow)
        relays = [m for m in got if m.get("type") == "offer" and m.get("from") == "flood"]
        peers_left = [m for m in got if m.get("type") == "peer-left"]
        # Each relay costs its bytes + 256 against burst + rate * time.
        cost = size + 300
        bound = (burst + rate * (dt + 0.5)) / cost + 2
        check(how == "quiet" and not peers_left,
              f"the slow receiver is still connected after a {n} x {size} B flood ({how})")
        check(0 < len(relays) <= bound,
              f"it got {len(relays)} relays of the flood in {dt:.1f}s (bound {bound:.0f})")
        extra, _ = drain(flood, quiet=0.5)
        limited += sum(m.get("code") == "rate-limited" for m in extra)
        check(limited == n - len(relays),
              f"the flooder got rate-limited for each dropped relay ({limited} + {len(relays)} "
              f"relayed = {n})")
        flood.send({"type": "ping"})
        check(flood.expect("pong") == {"type": "pong"},
              "the flooder is throttled, not disconnected (rate-limited does not count as invalid)")
        relay_works(honest, slow, "slow", "another sender of the room, to the flooded receiver")
        with srv.lock:
            logs = [e for e in srv.events if e.get("code") == "rate-limited"]
            cut = [e for e in srv.events if e.get("code") == "disconnect"]
        # A run of drops ends with a relay that passes: at most one line more
        # than there were relays, for thousands of drops.
        check(logs and logs[0].get("peer") == "flood" and len(logs) <= len(relays) + 1,
              f"the throttling is logged once per run of drops ({len(logs)} lines, "
              f"{len(relays)} relays)")
        check(not cut, f"nobody was disconnected: {cut}")
        for x in (slow, flood, honest):
            x.close()
    finally:
        counts = stopped_counts(srv, "--relay-rate")
        srv.kill()
    check(counts.get("rate-limited") == limited, f"the stopped line counts the drops: {counts}")

    # The control: without the limit the same flood cuts the slow receiver
    # (its queue passes 1 MiB), so the test above does measure the limit.
    srv = Server("--relay-rate", "0")
    try:
        slow, flood, honest, _, _ = rate_flood(srv, n, size)
        left = None
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and left is None:
                m = honest.recv(max(0.01, deadline - time.monotonic()))
                if m.get("type") == "peer-left":
                    left = m.get("peer")
        except (TimeoutError, OSError, Closed):
            pass
        check(left == "slow", f"control, --relay-rate 0: the same flood cuts the receiver ({left})")
        for x in (slow, flood, honest):
            x.sock.close()
    finally:
        srv.stop()
        srv.kill()


def test_abuse():
    # Without the relay rate limit (the slow reader below is fed as fast as
    # possible) and the per-address cap (200 clients from 127.0.0.1).
    srv = Server("--relay-rate", "0", "--max-per-address", "0")
    pinger = None
    try:
        # Warm up (allocator arenas, first rooms) before the baseline.
        for i in range(20):
            c, _ = srv.join("warm", f"w{i}")
            c.close()
        time.sleep(0.3)
        rss0 = srv.rss_kib()

        # A normal room that must not notice anything.
        # The calm client pings from its own process: measured in this one,
        # the latency would mostly be this process's GIL (masking 10 MB).
        pinger = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--pinger",
                                   str(srv.port)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        ready = pinger.stdout.readline()
        check(ready.strip() == "ready", "the calm pinger joined")

        # 1. a client that never reads: a small receive buffer, then another
        # client relays 60 KB offers to it until the server cuts it off.
        slow = srv.ws(rcvbuf=4096)
        slow.send({"type": "join", "room": "abuse", "peer": "slow"})
        feeder, _ = srv.join("abuse", "feeder")
        blob = "x" * 60000
        cut = False
        sent = 0
        t0 = time.monotonic()
        while time.monotonic() - t0 < 30:
            feeder.send({"type": "offer", "to": "slow", "sdp": blob})
            sent += 1
            try:
                m = feeder.recv(0.001)
            except TimeoutError:
                continue
            if m.get("type") == "peer-left" and m.get("peer") == "slow":
                cut = True
                break
            if m.get("type") == "error" and m.get("code") == "unknown-peer":
                cut = True  # already gone
                break
        check(cut, f"a client that never reads is disconnected (after {sent} x 60 KB relays)")
        rss_slow = srv.rss_kib()
        slow.sock.close()
        feeder.close()

        # 2. 200 clients joining and leaving in a loop (200 sockets open at
        # once, 5 rounds), half of them also sending malformed JSON.
        t0 = time.monotonic()
        for rnd in range(10):
            clients = []
            for i in range(200):
                c = srv.ws()
                c.send({"type": "join", "room": f"churn{i % 10}", "peer": f"c{i}"})
                if i % 2:
                    c.send_text("{not json" * 10)
                    c.send_text("[]")
                clients.append(c)
            for i, c in enumerate(clients):
                c.expect("joined", 10)
                if i % 3 == 0:
                    c.send({"type": "leave"})
                    c.close()
                elif i % 3 == 1:
                    c.close()
                else:
                    c.sock.close()  # no close frame at all
        check(True, f"10 rounds x 200 clients joined and left in {time.monotonic() - t0:.1f}s")

        # 3. 10 MB messages: as one frame, and as 64 KiB fragments.
        for how in ("one frame", "fragments"):
            c = srv.ws()
            c.send({"type": "join", "room": "abuse", "peer": "big"})
            c.expect("joined")
            payload = b'{"type":"ping","x":"' + b"A" * (10 * 1024 * 1024) + b'"}'
            try:
                if how == "one frame":
                    c.frame(1, payload)
                else:
                    step = 65536
                    for off in range(0, len(payload), step):
                        c.frame(1 if off == 0 else 0, payload[off:off + step],
                                fin=off + step >= len(payload))
                sent_all = True
            except OSError:
                sent_all = False  # the server closed while we were still sending
            got_error = False
            code = None
            try:
                ok, _ = expect_error(c, "too-big")
                got_error = ok
                code = closed_with(c)
            except (OSError, Closed) as e:
                code = getattr(e, "code", None)
            check(got_error or not sent_all,
                  f"10 MB message ({how}) refused: too-big={got_error}, close={code}")
            c.sock.close()

        # 4. malformed JSON flood from one client: answered, then 1008.
        c = srv.ws()
        for i in range(150):
            try:
                c.send_text("\x00\x01 not json")
            except OSError:
                break
        code = closed_with(c, 5)
        check(code == 1008, f"malformed-JSON flood -> 1008 ({code})")

        try:
            out, _ = pinger.communicate("", timeout=15)
        except subprocess.TimeoutExpired:
            pinger.kill()
            out, _ = pinger.communicate()
        stats = json.loads(out.strip().splitlines()[-1]) if out.strip() else {}
        latencies = sorted(stats.get("latencies", []))
        errors = stats.get("errors", ["no report from the pinger"])
        time.sleep(0.5)
        rss1 = srv.rss_kib()
        check(srv.proc.poll() is None, "the server is still up")
        check(not errors, f"the calm room kept working: {errors}")
        lat = sorted(latencies)
        p99 = lat[int(len(lat) * 0.99)] if lat else 99
        check(len(lat) > 20 and lat[-1] < 1.0 and p99 < 0.25,
              f"calm client's ping/pong: {len(lat)} pings, median "
              f"{lat[len(lat) // 2] * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, max "
              f"{lat[-1] * 1000:.1f} ms")
        check(rss1 - rss0 < 48 * 1024 and rss_slow - rss0 < 48 * 1024,
              f"RSS bounded: {rss0} KiB before, {rss_slow} KiB with the slow reader, "
              f"{rss1} KiB after (growth {rss1 - rss0} KiB, bound 48 MiB)")
        # The peak too: no 10 MB message was ever buffered whole (one frame:
        # refused from its header; fragments: refused by the guard stream).
        hwm = srv.status_kib("VmHWM")
        check(hwm - rss0 < 48 * 1024, f"peak RSS (VmHWM) {hwm} KiB: {hwm - rss0} KiB over the "
              "baseline (bound 48 MiB)")
        # still fully functional
        x, jx = srv.join("calm2", "n3")
        y, jy = srv.join("calm2", "n4")
        check(jy["peers"] == [{"peer": "n3", "name": "N3"}], "new joins still work")
        y.close()
        x.close()
        dis = [e for e in srv.events if e.get("ev") == "error" and e.get("code") == "disconnect"]
        check(any("1 MiB" in e.get("message", "") for e in dis),
              "the slow reader's disconnect is logged")
    finally:
        if pinger and pinger.poll() is None:
            pinger.kill()
            pinger.wait()
        rc = srv.stop()
        check(rc == 0, f"server exits 0 after the abuse ({rc})")
        if failures:
            sys.stderr.write("".join(srv.stderr[-20:]))


def pinger_main(port):
    """The calm room of the abuse test: ping, and relay n1 -> n2, every
    20 ms until stdin closes; prints the latencies as JSON."""
    n1 = WS("127.0.0.1", port)
    n1.send({"type": "join", "room": "calm", "peer": "n1"})
    n1.expect("joined")
    n2 = WS("127.0.0.1", port)
    n2.send({"type": "join", "room": "calm", "peer": "n2"})
    n2.expect("joined")
    n1.expect("peer-joined")
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    print("ready", flush=True)
    latencies, errors = [], []
    try:
        while not stop.is_set():
            t = time.monotonic()
            n1.send({"type": "ping"})
            n1.expect("pong", timeout=5)
            latencies.append(time.monotonic() - t)
            n1.send({"type": "offer", "to": "n2", "sdp": "v=0"})
            if n2.recv(5).get("from") != "n1":
                errors.append("n2 got a wrong relay")
            time.sleep(0.02)
    except Exception as e:  # reported to the parent
        errors.append(repr(e))
    print(json.dumps({"latencies": latencies, "errors": errors}), flush=True)
    return 0


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--pinger":
        return pinger_main(int(sys.argv[2]))
    web = tempfile.mkdtemp(prefix="sigsrv-web-")
    os.makedirs(os.path.join(web, "js"))
    with open(os.path.join(web, "index.html"), "w") as f:
        f.write("<p>room</p>\n")
    with open(os.path.join(web, "js", "app.js"), "w") as f:
        f.write("console.log(1)\n")
    with open(os.path.join(web, "secret.txt"), "w") as f:
        f.write("no\n")
    with open(os.path.join(web, ".hidden.js"), "w") as f:
        f.write("no\n")
    srv = Server("--web-root", web, "--max-message", "4096", "--max-peers-per-room", "3")
    try:
        test_http(srv, web)
        test_rooms(srv)
        test_errors(srv)
        rc = srv.stop()
        check(rc == 0, f"SIGTERM -> exit 0 ({rc})")
        kinds = {e["ev"] for e in srv.events}
        check({"join", "leave", "relay", "error", "stopping", "stopped"} <= kinds,
              f"JSON event lines seen: {sorted(kinds)}")
        check(all(e.get("ev") != "BAD LINE" for e in srv.events), "every stdout line is JSON")
    finally:
        srv.kill()
        for root, dirs, files in os.walk(web, topdown=False):
            for n in files:
                os.unlink(os.path.join(root, n))
            for n in dirs:
                os.rmdir(os.path.join(root, n))
        os.rmdir(web)
    # The default web root (the source tree's examples/web): a page or a
    # clean 404, never a crash.
    srv = Server()
    try:
        st, _, _ = srv.http("/")
        check(st in (200, 404), f"default --web-root: GET / -> {st}")
        check(srv.http("/health")[0] == 200, "still healthy")
    finally:
        srv.stop()
    test_max_clients()
    test_shutdown()
    test_json_depth()
    test_request_body()
    test_pending()
    test_per_address()
    test_rate_limit()
    test_abuse()
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
