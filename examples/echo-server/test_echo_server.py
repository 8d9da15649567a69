#!/usr/bin/python3
"""End-to-end test of examples/echo-server (the contract is doc/interop.md).

usage: test_echo_server.py ECHO_SERVER [ECHO_CLIENT]

HTTP-level checks (status codes, reasons, CORS, limits) run against the
server alone; with ECHO_CLIENT, four weft clients connect at once and every
echo is verified by the client, and the server's log must show each session
from start to end. Every process is killed by PID on every exit path and every
wait is bounded.
"""
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

SERVER = sys.argv[1]
CLIENT = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2] else None

PROCS = []  # every child, killed in main()'s finally
FAILURES = []

# An offer weft accepts (credentials, fingerprint, SCTP) from a peer that
# does not exist: enough to get a 201 and a session to PATCH and DELETE.
FAKE_OFFER = "\r\n".join([
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0",
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 0.0.0.0",
    "a=ice-ufrag:t3st",
    "a=ice-pwd:abcdefghijklmnopqrstuvwx",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
    "a=setup:actpass",
    "a=mid:0",
    "a=sctp-port:5000",
    "a=max-message-size:262144",
    "",
])
FRAGMENT = ("a=ice-ufrag:t3st\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
            "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n"
            "a=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\n")
SDP = "application/sdp"
FRAG = "application/trickle-ice-sdpfrag"


def check(cond, what):
    if cond:
        print("ok   " + what, flush=True)
    else:
        print("FAIL " + what, flush=True)
        FAILURES.append(what)
    return cond


class Server:
    """An echo-server child and the JSON lines it printed so far."""

    def __init__(self, *args):
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([SERVER, "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=self.err, text=True)
        PROCS.append(self.proc)
        self.lines = []
        self.bad = []  # stdout lines that are not a JSON object with t and ev
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        listening = self.wait(lambda l: l["ev"] == "listening", 10)
        if not listening:
            raise RuntimeError("no listening line: " + self.stderr())
        self.port = listening["port"]

    def _read(self):
        for raw in self.proc.stdout:
            try:
                obj = json.loads(raw)
                if not isinstance(obj, dict) or not isinstance(obj.get("t"), float) \
                        or "ev" not in obj:
                    raise ValueError
            except ValueError:
                self.bad.append(raw)
                continue
            with self.cond:
                self.lines.append(obj)
                self.cond.notify_all()

    def wait(self, pred, timeout):
        """The first line matching pred, waiting up to timeout s (None if none)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if pred(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def events(self, ev, pc=None):
        with self.cond:
            return [l for l in self.lines if l["ev"] == ev and (pc is None or l.get("pc") == pc)]

    def stderr(self):
        self.err.seek(0)
        return self.err.read().decode(errors="replace")[-4000:]

    def request(self, method, path, body=None, ctype=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            h = dict(headers or {})
            if ctype:
                h["Content-Type"] = ctype
            if isinstance(body, str):
                body = body.encode()
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode(
                errors="replace")
        finally:
            conn.close()

    def stop(self, sig=signal.SIGTERM, timeout=5):
        """Sends sig; returns (exit code or None, seconds it took)."""
        t = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            rc = None
        took = time.monotonic() - t
        if rc is not None:
            # The process is gone, but its last lines may still be in the pipe:
            # let the reader reach EOF before anyone looks at them.
            self.reader.join(5)
        return rc, took


def http_checks():
    srv = Server()
    check(srv.port > 0, "--port 0 picked a port, the listening line says %d" % srv.port)
    st, h, body = srv.request("GET", "/health")
    check(st == 200 and body.strip() == "ok", "GET /health -> 200 ok (%d %r)" % (st, body))
    check(h.get("access-control-allow-origin") == "*", "CORS header on every reply")

    st, h, body = srv.request("OPTIONS", "/offer", headers={
        "Origin": "http://example.test", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    check(st == 204 and "POST" in h.get("access-control-allow-methods", "")
          and "location" in h.get("access-control-expose-headers", "").lower(),
          "OPTIONS preflight -> 204 with the CORS headers (%d)" % st)
    # libsoup 3.2 drops connections accepted through accept_iostream after each
    # reply: every reply must say so, or a client reusing one races the close.
    check(h.get("connection", "").lower() == "close",
          "204 says Connection: close (%r)" % h.get("connection"))
    st, h, _ = srv.request("GET", "/health")
    check(h.get("connection", "").lower() == "close",
          "200 says Connection: close (%r)" % h.get("connection"))

    st, _, body = srv.request("POST", "/offer", FAKE_OFFER, "text/plain")
    check(st == 415 and body.strip(), "wrong Content-Type -> 415 with a reason (%d %r)" % (st, body))
    st, _, body = srv.request("POST", "/offer", "this is not SDP", SDP)
    check(st == 400 and body.strip(), "garbage offer -> 400 with a reason (%d %r)" % (st, body))
    st, _, body = srv.request("POST", "/offer", FAKE_OFFER[:40], SDP)
    check(st == 400 and body.strip(), "truncated offer -> 400 with a reason (%d %r)" % (st, body))
    # Well-formed lines, but no ICE credentials or fingerprint: only weft can
    # tell, so the application turns its refusal into the 400.
    no_ice = "\r\n".join(l for l in FAKE_OFFER.split("\r\n")
                         if not l.startswith(("a=ice-", "a=fingerprint")))
    st, _, body = srv.request("POST", "/offer", no_ice, SDP)
    check(st == 400 and body.strip(), "offer weft refuses -> 400 with weft's reason (%d %r)"
          % (st, body))
    st, _, body = srv.request("POST", "/offer", "v=0\r\n" + "a=x\r\n" * 60000, SDP)
    check(st == 413, "a 300 KiB body -> 413 (%d)" % st)
    st, _, _ = srv.request("GET", "/nothing-here")
    check(st == 404, "unknown path -> 404 (%d)" % st)
    st, h, _ = srv.request("GET", "/offer")
    check(st == 405 and "POST" in h.get("allow", ""), "GET /offer -> 405 with Allow (%d)" % st)
    st, _, _ = srv.request("PATCH", "/session/1-0000000000000000", FRAGMENT, FRAG)
    check(st == 404, "PATCH unknown session -> 404 (%d)" % st)
    st, _, _ = srv.request("DELETE", "/session/1-0000000000000000")
    check(st == 404, "DELETE unknown session -> 404 (%d)" % st)

    # A session with a peer that does not exist: the answer comes once weft
    # gathered, with its candidates.
    t = time.monotonic()
    st, h, answer = srv.request("POST", "/offer", FAKE_OFFER, SDP)
    ms = (time.monotonic() - t) * 1000
    loc = h.get("location", "")
    check(st == 201 and loc.startswith("/session/") and answer.startswith("v=0")
          and "a=candidate:" in answer and h.get("content-type", "").startswith(SDP),
          "POST /offer -> 201, Location %s, SDP answer with candidates (%.1f ms)" % (loc, ms))
    if st == 201:
        st, _, body = srv.request("PATCH", loc, FRAGMENT, "text/plain")
        check(st == 415, "PATCH with the wrong Content-Type -> 415 (%d)" % st)
        st, _, body = srv.request("PATCH", loc, "garbage", FRAG)
        check(st == 400 and body.strip(), "garbage fragment -> 400 with a reason (%d %r)"
              % (st, body))
        st, _, body = srv.request("PATCH", loc, FRAGMENT.replace("typ host", "host"), FRAG)
        check(st == 400 and body.strip(), "malformed candidate -> 400 (%d %r)" % (st, body))
        st, _, _ = srv.request("PATCH", loc, FRAGMENT, FRAG)
        check(st == 204, "PATCH a candidate -> 204 (%d)" % st)
        st, _, _ = srv.request("PATCH", loc, "a=end-of-candidates\r\n", FRAG)
        check(st == 204, "PATCH end-of-candidates -> 204 (%d)" % st)
        got = srv.wait(lambda l: l["ev"] == "remote-candidate" and l["candidate"] == "", 5)
        cands = [l["candidate"] for l in srv.events("remote-candidate")]
        check(got is not None and cands[0].startswith("candidate:1 1 udp"),
              "the log shows the trickled candidate and end-of-candidates: %r" % cands)
        pc = got["pc"] if got else None
        st, _, _ = srv.request("DELETE", loc)
        check(st == 200, "DELETE the session -> 200 (%d)" % st)
        check(srv.wait(lambda l: l["ev"] == "session-end" and l.get("pc") == pc, 5) is not None,
              "DELETE released the peer connection (session-end)")
        st, _, _ = srv.request("PATCH", loc, FRAGMENT, FRAG)
        check(st == 404, "PATCH after DELETE -> 404 (%d)" % st)

    st, _, body = srv.request("GET", "/health")
    check(st == 200, "still serving after all of that")
    rc, took = srv.stop()
    check(rc == 0 and took < 5, "SIGTERM -> exit 0 in %.2f s (rc %s)" % (took, rc))
    stopping, stopped = srv.events("stopping"), srv.events("stopped")
    check(stopping and stopping[0]["reason"] == "signal" and stopped
          and srv.lines[-1]["ev"] == "stopped",
          "stopping (signal) ... stopped is the last line")
    check(stopped and stopped[0]["sessions"] == len(srv.events("session")),
          "stopped counts the sessions served")
    check(not srv.bad, "every stdout line is a JSON object with t and ev: %r" % srv.bad[:3])


def max_sessions_check():
    srv = Server("--max-sessions", "1")
    st1, h, _ = srv.request("POST", "/offer", FAKE_OFFER, SDP)
    st2, _, body = srv.request("POST", "/offer", FAKE_OFFER, SDP)
    check(st1 == 201 and st2 == 503, "--max-sessions 1: second POST -> 503 (%d, %d %r)"
          % (st1, st2, body))
    if st1 == 201:
        srv.request("DELETE", h["location"])
        st3, h3, _ = srv.request("POST", "/offer", FAKE_OFFER, SDP)
        check(st3 == 201, "a DELETE frees the slot (%d)" % st3)
    # Shutdown with a session open: it is released before "stopped".
    rc, took = srv.stop(signal.SIGINT)
    ends = [l for l in srv.lines if l["ev"] in ("session-end", "stopped")]
    check(rc == 0 and ends and ends[-1]["ev"] == "stopped"
          and len(srv.events("session-end")) == len(srv.events("session")),
          "SIGINT with a session open: session-end for each, then stopped, exit 0 (%.2f s, rc %s, "
          "%d sessions, %d session-end, last %r)"
          % (took, rc, len(srv.events("session")), len(srv.events("session-end")),
             ends[-1]["ev"] if ends else None))


def lifetime_check():
    t = time.monotonic()
    srv = Server("--lifetime", "2")
    try:
        rc = srv.proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t
    stopping = srv.events("stopping")
    check(rc == 0 and 1.5 < took < 7 and stopping and stopping[0]["reason"] == "lifetime"
          and srv.lines[-1]["ev"] == "stopped",
          "--lifetime 2 stops by itself (rc %s after %.2f s)" % (rc, took))


def run_clients(srv, argsets, timeout=40):
    """Starts one echo-client per argument list at once; returns their results."""
    url = "http://127.0.0.1:%d/offer" % srv.port
    kids = []
    for args in argsets:
        err = tempfile.TemporaryFile()
        p = subprocess.Popen([CLIENT, "--url", url, *args], stdout=subprocess.PIPE,
                             stderr=err, text=True)
        PROCS.append(p)
        kids.append((p, err, args))
    results = []
    deadline = time.monotonic() + timeout
    for p, err, args in kids:
        try:
            out, _ = p.communicate(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate(timeout=5)
        try:
            res = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            res = {"ok": False, "error": "no result line: %r" % out[-300:]}
        err.seek(0)
        res["_rc"] = p.returncode
        res["_stderr"] = err.read().decode(errors="replace")[-1500:]
        res["_args"] = args
        results.append(res)
    return results


def client_checks():
    srv = Server("--negotiated", "42", "--verbose")
    results = run_clients(srv, [[], [], [], []])
    for i, r in enumerate(results):
        check(r["_rc"] == 0 and r.get("ok") is True and r.get("echoed", 0) > 0
              and r.get("echoed") == r.get("sent"),
              "client %d of 4 at once: ok, %s/%s echoed (rc %s, error %r)"
              % (i, r.get("echoed"), r.get("sent"), r["_rc"], r.get("error")))
        if not r.get("ok"):
            print(r["_stderr"])
    sessions = srv.events("session")
    check(len(sessions) == 4, "the log shows 4 sessions (%d)" % len(sessions))
    for s in sessions:
        pc = s["pc"]
        end = srv.wait(lambda l, pc=pc: l["ev"] == "session-end" and l.get("pc") == pc, 15)
        opened = [l for l in srv.events("open", pc) if l["label"].startswith("echo-")]
        answer = srv.events("answer", pc)
        check(answer and answer[0]["candidates"] >= 1 and opened and end is not None,
              "pc %d: answer with candidates, channel open, session-end" % pc)
        if end is not None:
            later = [l for l in srv.lines if l.get("pc") == pc and l["t"] > end["t"]]
            check(not later, "pc %d: nothing after session-end (%r)" % (pc, later[:2]))

    # Server-side accounting agrees with what the clients saw.
    sent = sum(r.get("sent", 0) for r in results)
    pcs4 = [s["pc"] for s in sessions]
    received = [l for l in srv.lines if l["ev"] == "message" and l.get("pc") in pcs4]
    closed = [l for l in srv.lines if l["ev"] == "closed" and l.get("pc") in pcs4
              and l["label"].startswith("echo-")]
    check(len(received) == sent and any(l["binary"] for l in received)
          and any(not l["binary"] for l in received),
          "--verbose: one message line per message received, text and binary (%d of %d)"
          % (len(received), sent))
    check(len(closed) == 4 and sum(l["messages"] for l in closed) == sent,
          "closed lines count every echo (%s)" % [l["messages"] for l in closed])

    # The same endpoint with the other ways in: trickled candidates (PATCH),
    # several channels, the negotiated channel the server creates.
    for args in (["--trickle"], ["--channels", "3"], ["--negotiated", "42"]):
        r = run_clients(srv, [args])[0]
        check(r["_rc"] == 0 and r.get("ok") is True,
              "echo-client %s: ok (rc %s, error %r)" % (" ".join(args), r["_rc"], r.get("error")))
        if not r.get("ok"):
            print(r["_stderr"])
    pcs = [s["pc"] for s in srv.events("session")]
    trickle_pc = pcs[4] if len(pcs) > 4 else None
    check(trickle_pc is not None and len(srv.events("remote-candidate", trickle_pc)) >= 2,
          "--trickle: the server logged the PATCHed candidates and end-of-candidates")
    neg_pc = pcs[6] if len(pcs) > 6 else None
    neg_open = [l for l in srv.events("open", neg_pc) if l["dc"] == 42 and l["label"] == "negotiated"]
    check(neg_pc is not None and neg_open, "--negotiated 42: channel 42 opened on pc %s"
          % neg_pc)
    rc, took = srv.stop()
    check(rc == 0, "SIGTERM after the clients -> exit 0 (%.2f s)" % took)
    check(not srv.bad, "every stdout line is JSON: %r" % srv.bad[:3])


def backpressure_check():
    """A send buffer far smaller than what the client keeps in flight: echoes
    wait in order for room (on_buffered_amount_low) instead of failing."""
    srv = Server("--send-buffer", "131072")
    r = run_clients(srv, [["--throughput", "1", "--sizes", "65536", "--count", "2"]])[0]
    check(r["_rc"] == 0 and r.get("ok") is True
          and r.get("throughput", {}).get("bytes", 0) > 4 * 131072,
          "--send-buffer 131072 under a 1 s throughput run: ok, %s bytes echoed (error %r)"
          % (r.get("throughput", {}).get("bytes"), r.get("error")))
    if not r.get("ok"):
        print(r["_stderr"])
    errors = srv.events("error")
    check(not errors, "no echo failed or was dropped (%r)" % errors[:2])
    rc, took = srv.stop()
    check(rc == 0, "SIGTERM -> exit 0 (%.2f s)" % took)


def noshow_start():
    """A client that POSTs an offer without candidates and never comes back
    (no PATCH, no DELETE): ICE cannot fail without a remote candidate, so only
    the server's connect deadline (30 s) can free the slot. Started first,
    checked last, so that the wait overlaps the other checks."""
    srv = Server("--max-sessions", "1")
    st, _, _ = srv.request("POST", "/offer", FAKE_OFFER, SDP)
    check(st == 201, "no-show client: POST -> 201 (%d)" % st)
    return srv, time.monotonic()


def noshow_check(srv, started):
    end = srv.wait(lambda l: l["ev"] == "session-end" and l.get("pc") == 1,
                   max(1, 40 - (time.monotonic() - started)))
    took = time.monotonic() - started
    errors = [l for l in srv.events("error", 1) if "not connected" in l["message"]]
    check(end is not None and errors and 25 < took,
          "no-show client: released by the connect deadline after %.1f s (error %r)"
          % (took, errors[0]["message"] if errors else None))
    st, _, _ = srv.request("POST", "/offer", FAKE_OFFER, SDP)
    check(st == 201, "no-show client: its --max-sessions 1 slot is free again (%d)" % st)
    rc, _ = srv.stop()
    check(rc == 0 and not srv.bad, "no-show server: exit 0, every line JSON (rc %s)" % rc)


def main():
    try:
        noshow = noshow_start()
        http_checks()
        max_sessions_check()
        lifetime_check()
        if CLIENT and os.path.exists(CLIENT):
            client_checks()
            backpressure_check()
        else:
            check(False, "echo-client binary %r not found" % CLIENT)
        noshow_check(*noshow)
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.kill()
                try:
                    p.wait(5)
                except subprocess.TimeoutExpired:
                    pass
    if FAILURES:
        print("%d check(s) failed:" % len(FAILURES))
        for f in FAILURES:
            print("  - " + f)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
