"""A minimal WebSocket client (RFC 6455) on the standard library, for the
signaling-server tests: Debian has no python3-websockets here, and the tests
need to misbehave on purpose (oversized frames, fragments, never reading),
which a full client library would not let them do anyway."""

import base64
import json
import os
import socket
import struct
import time


class Closed(Exception):
    def __init__(self, code, reason):
        super().__init__(f"closed {code} {reason!r}")
        self.code = code
        self.reason = reason


class WS:
    def __init__(self, host, port, path="/ws", timeout=5.0, rcvbuf=None, source=None, eol="\r\n",
                 lead=""):
        """@source: the local address to connect from; @eol: the request's
        line end ("\n" is what some clients send); @lead: bytes before the
        request line (blank lines)."""
        self.timeout = timeout
        self.sock = socket.create_connection((host, port), timeout=timeout,
                                             source_address=source)
        # Without this, a ping right after a relay waits for the delayed ACK
        # of the relay (Nagle): ~25 ms of latency that is not the server's.
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").replace("\r\n", eol)
        self.sock.sendall((lead + req).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:  # the server's answer is always CRLF
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            self.buf += chunk
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        self.status = int(head.split(b" ", 2)[1])
        if self.status != 101:
            raise ConnectionError(f"handshake refused: {head.decode(errors='replace')}")
        self.closed = None

    # ---- sending
    def frame(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([(0x80 if fin else 0) | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i & 3] for i, b in enumerate(payload)) if n < 4096 else \
            _xor_big(payload, mask)
        # recv() leaves its own (maybe tiny) timeout on the socket.
        self.sock.settimeout(self.timeout)
        self.sock.sendall(head + mask + masked)

    def send_text(self, text):
        self.frame(1, text.encode())

    def send(self, obj):
        self.send_text(json.dumps(obj))

    def close(self, code=1000):
        try:
            self.frame(8, struct.pack("!H", code))
        except OSError:
            pass
        self.sock.close()

    # ---- receiving
    def _read(self, n, deadline):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no frame in time")
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed without a close frame")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        b0, b1 = self._read(2, deadline)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read(2, deadline))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read(8, deadline))[0]
        payload = self._read(n, deadline)
        return b0 & 0x0F, payload

    def recv(self, timeout=5.0):
        """The next JSON message; raises Closed on a close frame."""
        while True:
            op, payload = self.recv_frame(timeout)
            if op == 1:
                return json.loads(payload)
            if op == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.closed = (code, payload[2:].decode(errors="replace"))
                raise Closed(*self.closed)
            if op == 9:
                self.frame(10, payload)

    def expect(self, type_, timeout=5.0):
        """Skips messages until one of @type_ (raises on timeout/close)."""
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.01, deadline - time.monotonic()))
            if m.get("type") == type_:
                return m

    def nothing(self, timeout=0.3):
        """True if no message arrives within @timeout."""
        try:
            m = self.recv(timeout)
        except TimeoutError:
            return True
        raise AssertionError(f"unexpected message {m}")


def _xor_big(payload, mask):
    n = len(payload)
    m = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(m, "little")).to_bytes(n, "little")
