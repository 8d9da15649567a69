"""Shared pieces of the room app tests (chat, file-transfer, video-call):
the real signaling-server, app processes whose stdout JSON lines are read by
a thread, and a tiny WebSocket client that misbehaves on purpose.

Every process is started here and killed by its PID on every exit path
(Procs.close); every wait is bounded.
"""
import base64
import json
import os
import queue
import signal
import socket
import struct
import subprocess
import threading
import time


# Every wait is multiplied by this (e.g. 5 when the apps run under valgrind).
SCALE = float(os.environ.get("ROOMTEST_TIMEOUT_SCALE", "1"))


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Proc:
    """A child process; stdout JSON lines go to a queue, stderr is kept."""

    def __init__(self, name, argv, stdin=False):
        self.name = name
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     encoding="utf-8")
        self.events = []
        self.err = []
        self.q = queue.Queue()
        self.threads = [threading.Thread(target=self._read_out, daemon=True),
                        threading.Thread(target=self._read_err, daemon=True)]
        for t in self.threads:
            t.start()

    def _read_out(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            try:
                ev = json.loads(line)
            except ValueError:
                ev = {"ev": "not-json", "line": line}
            self.events.append(ev)
            self.q.put(ev)
        self.q.put(None)

    def _read_err(self):
        for line in self.proc.stderr:
            self.err.append(line.rstrip("\n"))

    def wait_event(self, pred, timeout, what):
        """The first event (from now on, in order) matching pred."""
        deadline = time.monotonic() + timeout * SCALE
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure(f"{self.name}: timed out waiting for {what}")
            try:
                ev = self.q.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if ev is None:
                self.q.put(None)
                raise Failure(f"{self.name}: exited ({self.proc.poll()}) before {what}")
            if pred(ev):
                return ev

    def send_line(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def close_stdin(self):
        self.proc.stdin.close()

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout * SCALE)
        except subprocess.TimeoutExpired:
            raise Failure(f"{self.name}: still running after {timeout} s")

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass

    def dump(self):
        out = [f"--- {self.name}: {' '.join(self.argv)} (exit {self.proc.poll()})"]
        out += [json.dumps(e) for e in self.events[-40:]]
        out += ["  " + line for line in self.err[-40:]]
        return "\n".join(out)


class Procs:
    """Every process of a test; close() kills the ones still running."""

    def __init__(self):
        self.all = []

    def start(self, name, argv, stdin=False):
        p = Proc(name, argv, stdin)
        self.all.append(p)
        return p

    def server(self, binary, lifetime=300):
        p = self.start("signaling-server", [binary, "--host", "127.0.0.1", "--port", "0",
                                            "--lifetime", str(lifetime)])
        ev = p.wait_event(lambda e: e.get("ev") == "listening", 15, "the listening line")
        p.port = int(ev["port"])
        p.url = f"ws://127.0.0.1:{p.port}/ws"
        return p

    def close(self):
        for p in reversed(self.all):
            p.kill()

    def sanitizer_reports(self):
        """Lines where a sanitizer (ASan/LSan/UBSan builds) complained."""
        bad = []
        for p in self.all:
            for t in p.threads:
                t.join(timeout=2)
            bad += [f"{p.name}: {line}" for line in p.err
                    if "Sanitizer" in line or "runtime error:" in line]
        return bad

    def dump(self):
        return "\n".join(p.dump() for p in self.all)


class WS:
    """A minimal RFC 6455 client: text frames out (masked), frames in."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           ).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            check(chunk, "WebSocket handshake: connection closed")
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        check(b" 101 " in head.split(b"\r\n")[0], f"WebSocket handshake refused: {head[:80]!r}")

    def send(self, obj):
        data = obj if isinstance(obj, (bytes, str)) else json.dumps(obj)
        if isinstance(data, str):
            data = data.encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            hdr = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            check(chunk, "WebSocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv(self):
        """The next text message as a dict (control frames skipped)."""
        while True:
            b0, b1 = self._need(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._need(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._need(8))[0]
            payload = self._need(n)
            if b0 & 0x0F == 1:
                return json.loads(payload)
            check(b0 & 0x0F != 8, "WebSocket closed by the server")

    def recv_until(self, pred, timeout=10):
        deadline = time.monotonic() + timeout * SCALE
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure("WebSocket: timed out")
            self.sock.settimeout(left)
            try:
                m = self.recv()
            except (TimeoutError, socket.timeout):
                raise Failure("WebSocket: timed out")
            if pred(m):
                return m

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def run(main):
    """Runs main(procs) and prints the outcome; exit code 0 on success."""
    procs = Procs()
    try:
        main(procs)
        procs.close()
        bad = procs.sanitizer_reports()
        check(not bad, "sanitizer reports:\n" + "\n".join(bad[:20]))
    except Failure as e:
        print(f"FAIL: {e}")
        print(procs.dump())
        return 1
    finally:
        procs.close()
    print("PASS")
    return 0
