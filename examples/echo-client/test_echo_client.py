#!/usr/bin/python3
"""echo-client against echo-server, weft to weft over HTTP on 127.0.0.1.

usage: test_echo_client.py ECHO_CLIENT ECHO_SERVER

Starts `echo-server --port 0 --negotiated 42`, runs echo-client in several
configurations and checks the result line of each (doc/interop.md), then the
failure cases (nothing listening, a 404, bad command lines). Every process is
started here and killed by its PID on every exit path; every wait is bounded.
"""
import http.server
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time

CLIENT_TIMEOUT = 60  # seconds for one echo-client run, far above its own --timeout


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def kill(proc):
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


class Server:
    """echo-server with its stdout log read by a thread (so it never blocks)."""

    def __init__(self, binary):
        self.proc = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", "0", "--negotiated", "42"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.log = []
        self.err = []
        threading.Thread(target=self._read, args=(self.proc.stdout, True), daemon=True).start()
        threading.Thread(target=self._read, args=(self.proc.stderr, False), daemon=True).start()
        self.port = None
        deadline = time.monotonic() + 15
        while self.port is None:
            left = deadline - time.monotonic()
            check(left > 0 and self.proc.poll() is None,
                  "echo-server did not print its listening line (exit %s)" % self.proc.poll())
            try:
                line = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            ev = json.loads(line)
            if ev.get("ev") == "listening":
                self.port = int(ev["port"])
        check(0 < self.port < 65536, "bad port in the listening line")

    def _read(self, stream, is_log):
        for line in stream:
            line = line.rstrip("\n")
            if is_log:
                self.log.append(line)
                self.lines.put(line)
            else:
                self.err.append(line)

    def events(self, name):
        out = []
        for line in list(self.log):
            try:
                ev = json.loads(line)
            except ValueError:
                raise Failure("echo-server printed a line that is not JSON: %r" % line)
            if ev.get("ev") == name:
                out.append(ev)
        return out


class FakeEndpoint:
    """A stdlib HTTP server on 127.0.0.1 playing a broken endpoint: POST /garbage
    answers 201 with an SDP weft must refuse; POST /hang never answers."""

    def __init__(self):
        self.release = threading.Event()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(n)
                if self.path == "/hang":
                    outer.release.wait(30)
                    return
                body = b"v=0\r\nthis is not an answer\r\n"
                self.send_response(201)
                self.send_header("Content-Type", "application/sdp")
                self.send_header("Location", "/session/1")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_DELETE(self):
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def free_port():
    """A port nothing listens on (bound, then released)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_client(binary, args, timeout=CLIENT_TIMEOUT):
    proc = subprocess.Popen([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(proc)
        raise Failure("echo-client %s did not exit within %d s" % (" ".join(args), timeout))
    finally:
        kill(proc)
    return proc.returncode, out, err


def parse_result(args, rc, out, err):
    lines = [l for l in out.split("\n") if l.strip()]
    check(len(lines) == 1, "echo-client %s: expected exactly one stdout line, got %r\nstderr:\n%s"
          % (" ".join(args), out, err[-4000:]))
    res = json.loads(lines[0])
    for line in err.split("\n"):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            continue  # libsoup/GLib may print their own warnings
        check("ev" in ev, "stderr event without ev: %r" % line)
        if ev["ev"] != "awaiting-remote-close":
            check(isinstance(ev.get("t"), (int, float)), "stderr event without t: %r" % line)
    return res


def stderr_events(err, name):
    out = []
    for line in err.split("\n"):
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if isinstance(ev, dict) and ev.get("ev") == name:
            out.append(ev)
    return out


def expect_ok(client, url, args, channels, reliable=True, per_channel=None):
    full = ["--url", url] + args
    t = time.monotonic()
    rc, out, err = run_client(client, full)
    res = parse_result(full, rc, out, err)
    what = "echo-client %s" % " ".join(args)
    check(res.get("ok") is True and rc == 0,
          "%s: not ok (exit %d): %s\nstderr tail:\n%s" % (what, rc, res.get("error"), err[-3000:]))
    check(res["error"] is None, what + ": error is not null")
    check(res["url"] == url, what + ": url")
    check(res["channels"] == channels, what + ": channels %r" % res["channels"])
    check(len(res["open_ms"]) == channels and all(isinstance(v, (int, float)) and v > 0
                                                  for v in res["open_ms"]),
          what + ": open_ms %r" % res["open_ms"])
    check(0 < res["connect_ms"] < 20000 and res["connect_ms"] == max(res["open_ms"]),
          what + ": connect_ms %r" % res["connect_ms"])
    pair = res["selected_pair"]
    check(isinstance(pair, dict) and pair["local"].startswith("candidate:")
          and pair["remote"].startswith("candidate:") and "127.0.0.1" in pair["local"],
          what + ": selected_pair %r" % pair)
    check(res["max_message_size"] == 262144, what + ": max_message_size %r"
          % res["max_message_size"])
    if per_channel is not None:
        check(res["sent"] == per_channel * channels,
              what + ": sent %d, expected %d" % (res["sent"], per_channel * channels))
    check(res["sent"] > 0, what + ": nothing sent")
    if reliable:
        check(res["echoed"] == res["sent"] and res["lost"] == 0,
              what + ": sent %d echoed %d lost %d" % (res["sent"], res["echoed"], res["lost"]))
    else:
        check(1 <= res["echoed"] <= res["sent"] and res["echoed"] + res["lost"] == res["sent"],
              what + ": sent %d echoed %d lost %d" % (res["sent"], res["echoed"], res["lost"]))
    check(res["bytes"] >= 0, what + ": bytes")
    opens = [e for e in stderr_events(err, "open") if e.get("label") != "throughput"]
    check(len(opens) == channels, what + ": %d open events" % len(opens))
    print("ok   %-45s connect_ms=%.1f sent=%d echoed=%d lost=%d bytes=%d (%.1f s)"
          % (" ".join(args) or "(default)", res["connect_ms"], res["sent"], res["echoed"],
             res["lost"], res["bytes"], time.monotonic() - t), flush=True)
    return res, err


def expect_media(client, url, server, args, seconds):
    """--media against echo-server: the VP8 pattern and the Opus tone come back
    (the server echoes RTP untouched) and decode; both tracks negotiated
    sendrecv; the server logged the two tracks."""
    full = ["--url", url, "--media", "--media-seconds", str(seconds)] + args
    what = "echo-client %s" % " ".join(full[2:])
    t = time.monotonic()
    sessions_before = len(server.events("session"))
    rc, out, err = run_client(client, full)
    res = parse_result(full, rc, out, err)
    check(res.get("ok") is True and rc == 0,
          "%s: not ok (exit %d): %s\nstderr tail:\n%s" % (what, rc, res.get("error"), err[-3000:]))
    media = res.get("media")
    check(isinstance(media, dict) and set(media) == {"stats_wall_ms", "video", "audio"},
          what + ": media %r" % media)
    # When the counters were read: now-ish, Unix ms (doc/interop.md).
    check(abs(media["stats_wall_ms"] / 1000 - time.time()) < 120, what + ": stats_wall_ms %r" % media)
    v, a = media["video"], media["audio"]
    check(v["codec"] == "VP8" and a["codec"] == "opus", what + ": codecs %r %r"
          % (v["codec"], a["codec"]))
    # Paced in real time: every frame of the schedule goes out.
    check(v["frames_sent"] == seconds * 30 and a["frames_sent"] == seconds * 50,
          what + ": sent %d video / %d audio frames" % (v["frames_sent"], a["frames_sent"]))
    for k, m in (("video", v), ("audio", a)):
        check(m["decode_errors"] == 0, what + ": %s decode errors %r" % (k, m))
        # On loopback nothing should be missing; a few may be lost while the
        # data channels flood the socket (audio has no NACK).
        check(m["frames_decoded"] >= m["frames_sent"] * 0.95
              and m["frames_decoded"] <= m["frames_received"] <= m["frames_sent"],
              what + ": %s %r" % (k, m))
        check(m["packets_sent"] >= m["frames_sent"] and m["packets_received"] > 0,
              what + ": %s packets %r" % (k, m))
    # 500 kbit/s VP8 is more than one packet a frame.
    check(v["packets_sent"] > v["frames_sent"], what + ": video packets %r" % v)
    tracks = [e for e in stderr_events(err, "track")]
    check(sorted(e.get("kind") for e in tracks) == ["audio", "video"]
          and all(e.get("direction") == "sendrecv" for e in tracks), what + ": tracks %r" % tracks)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        pcs = [e["pc"] for e in server.events("session")][sessions_before:]
        srv_tracks = [e for e in server.events("track") if e.get("pc") in pcs]
        if len(srv_tracks) >= 2:
            break
        time.sleep(0.1)
    check(sorted(e.get("kind") for e in srv_tracks) == ["audio", "video"],
          what + ": echo-server logged tracks %r" % srv_tracks)
    print("ok   %-45s video %d/%d decoded, audio %d/%d decoded (%.1f s)"
          % (" ".join(full[2:]), v["frames_decoded"], v["frames_sent"], a["frames_decoded"],
             a["frames_sent"], time.monotonic() - t), flush=True)
    return res


def expect_fail(client, args, mention):
    rc, out, err = run_client(client, args)
    res = parse_result(args, rc, out, err)
    what = "echo-client %s" % " ".join(args)
    check(rc == 1 and res.get("ok") is False, what + ": expected exit 1 and ok:false, got %d %r"
          % (rc, res))
    check(isinstance(res.get("error"), str) and mention.lower() in res["error"].lower(),
          what + ": error %r does not mention %r" % (res.get("error"), mention))
    print("ok   failure %s: %r" % (args[1], res["error"]), flush=True)


def expect_interrupt(client, url):
    """SIGINT while waiting for the answer: ok:false "interrupted", exit 1."""
    args = ["--url", url, "--timeout", "30"]
    proc = subprocess.Popen([client] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in proc.stderr], daemon=True).start()
        deadline = time.monotonic() + 15
        seen = False
        while not seen and time.monotonic() < deadline:
            try:
                seen = '"ev":"offer"' in lines.get(timeout=0.5)
            except queue.Empty:
                pass
        check(seen, "echo-client never posted its offer")
        os.kill(proc.pid, signal.SIGINT)
        out = proc.stdout.read()
        proc.wait(timeout=15)
    finally:
        kill(proc)
    res = parse_result(args, proc.returncode, out, "")
    check(proc.returncode == 1 and res["ok"] is False and res["error"] == "interrupted",
          "SIGINT: exit %s, result %r" % (proc.returncode, res))
    print("ok   failure SIGINT: %r" % res["error"], flush=True)


def expect_usage(client, args):
    rc, out, err = run_client(client, args, timeout=15)
    check(rc == 2, "echo-client %r: expected exit 2 (usage), got %d" % (args, rc))
    check("usage" in err.lower(), "echo-client %r: no usage text on stderr" % (args,))
    print("ok   usage %r" % (args,), flush=True)


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    client, server_bin = sys.argv[1], sys.argv[2]
    server = None
    fake = None
    try:
        server = Server(server_bin)
        url = "http://127.0.0.1:%d/offer" % server.port
        # auto sizes against weft (max-message-size 262144): 0, 1, 2, ... 65536, 262144
        auto = 3 * 2 * 19

        expect_ok(client, url, [], 1, per_channel=auto)
        expect_ok(client, url, ["--trickle"], 1, per_channel=auto)
        expect_ok(client, url, ["--channels", "8"], 8, per_channel=auto)
        expect_ok(client, url, ["--unordered", "--max-retransmits", "0"], 1, reliable=False,
                  per_channel=auto)
        res, _ = expect_ok(client, url, ["--negotiated", "42"], 1, per_channel=auto)
        res, _ = expect_ok(client, url, ["--throughput", "1"], 1, per_channel=auto)
        tp = res.get("throughput")
        check(isinstance(tp, dict) and tp["bytes"] > 0 and tp["mb_per_s"] > 0
              and tp["msg_size"] == 65536 and tp["seconds"] >= 0.5,
              "--throughput 1: throughput %r" % tp)
        print("     throughput %.1f MB/s (%d bytes in %.2f s)"
              % (tp["mb_per_s"], tp["bytes"], tp["seconds"]), flush=True)
        res, _ = expect_ok(client, url, ["--sizes", "0,1,65536", "--count", "5"], 1,
                           per_channel=5 * 3 * 2)
        check(res["bytes"] == 5 * 2 * (0 + 1 + 65536), "--sizes 0,1,65536: bytes %d" % res["bytes"])
        expect_ok(client, url, ["--text-only", "--sizes", "0,3,7,1000"], 1, per_channel=3 * 4)
        # Media: alone (no data section), then next to a channel.
        expect_media(client, url, server, ["--channels", "0"], 4)
        res = expect_media(client, url, server, ["--sizes", "0,1,1000,65536"], 4)
        check(res["channels"] == 1 and res["sent"] == 3 * 2 * 4 and res["echoed"] == res["sent"],
              "--media with a channel: sent %d echoed %d" % (res["sent"], res["echoed"]))

        # Failure cases.
        expect_fail(client, ["--url", "http://127.0.0.1:%d/offer" % free_port(), "--timeout", "10"],
                    "connect")
        expect_fail(client, ["--url", "http://127.0.0.1:%d/no-such-path" % server.port,
                             "--timeout", "10"], "404")
        fake = FakeEndpoint()
        expect_fail(client, ["--url", "http://127.0.0.1:%d/garbage" % fake.port, "--timeout", "10"],
                    "the answer was refused")
        expect_fail(client, ["--url", "http://127.0.0.1:%d/hang" % fake.port, "--timeout", "2"],
                    "timed out after")
        expect_interrupt(client, "http://127.0.0.1:%d/hang" % fake.port)
        expect_usage(client, [])
        expect_usage(client, ["--url", url, "--channels", "zero"])
        expect_usage(client, ["--url", url, "--channels", "0"])  # nothing to test without --media
        expect_usage(client, ["--url", url, "--media", "--media-seconds", "0"])
        expect_usage(client, ["--url", url, "--bogus"])
        expect_usage(client, ["--url", url, "--text-only", "--binary-only"])

        # The server served every session and ended each one (bye/DELETE or the
        # DTLS close), and is still running.
        check(server.proc.poll() is None, "echo-server exited (%s)" % server.proc.poll())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if len(server.events("session-end")) >= len(server.events("session")):
                break
            time.sleep(0.2)
        sessions, ended = len(server.events("session")), len(server.events("session-end"))
        check(sessions == 10, "echo-server saw %d sessions, expected 10" % sessions)
        check(ended == sessions, "echo-server ended %d of %d sessions" % (ended, sessions))
        print("PASS", flush=True)
        return 0
    except Failure as e:
        print("FAIL: %s" % e, file=sys.stderr, flush=True)
        if server is not None:
            print("echo-server log tail:\n" + "\n".join(server.log[-40:] + server.err[-20:]),
                  file=sys.stderr)
        return 1
    finally:
        if server is not None:
            kill(server.proc)
        if fake is not None:
            fake.close()


if __name__ == "__main__":
    sys.exit(main())
