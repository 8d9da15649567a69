#!/usr/bin/python3
"""aiortc peer for tests/nat (scenario aiortc_relay): answers weft's offer
with a relay-only ICE policy through coturn and echoes every data-channel
message as "echo:<message>".

usage: aiortc_turn.py --turn turn:HOST:PORT --user U --password P

Same line protocol as nat_peer (see nat_peer.c): stdin "sdp offer <base64>"
and "quit"; stdout JSON lines ("ev": sdp, open, recv, pc, fatal, exit).
Runs inside the fixture's network namespace; every wait is bounded by the
fixture, which kills this process by its PID on every exit path.
"""

import argparse
import asyncio
import base64
import json
import sys
import time

try:
    import aioice.ice
    from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
except ImportError as e:  # a missing peer is a failure, never a skip
    print(json.dumps({"ev": "fatal", "message": f"aiortc not importable by {sys.executable}: {e}"}),
          flush=True)
    sys.exit(1)

# aiortc 1.4 has no iceTransportPolicy: aioice 0.8's Connection has one.
# Force "relay" on every connection aiortc creates.
_orig_init = aioice.ice.Connection.__init__


def _relay_only_init(self, *args, **kwargs):
    kwargs["transport_policy"] = aioice.ice.TransportPolicy.RELAY
    _orig_init(self, *args, **kwargs)


aioice.ice.Connection.__init__ = _relay_only_init

T0 = time.monotonic()


def emit(ev, **kv):
    now = time.monotonic()
    print(json.dumps({"ev": ev, "t": now * 1000, "since_start": (now - T0) * 1000, **kv}),
          flush=True)


async def main(args):
    cfg = RTCConfiguration(iceServers=[RTCIceServer(urls=[args.turn], username=args.user,
                                                    credential=args.password)])
    pc = RTCPeerConnection(cfg)

    @pc.on("connectionstatechange")
    def on_state():
        emit("pc", state=pc.connectionState)

    @pc.on("datachannel")
    def on_dc(dc):
        emit("open", label=dc.label, since_remote="-1")

        @dc.on("message")
        def on_message(m):
            text = m if isinstance(m, str) else m.decode(errors="replace")
            emit("recv", data=text)
            dc.send("echo:" + text)

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    emit("started", role="answer")
    while True:
        line = (await reader.readline()).decode().strip()
        if not line or line == "quit":
            break
        words = line.split(" ", 2)
        if words[0] == "sdp" and len(words) == 3 and words[1] == "offer":
            sdp = base64.b64decode(words[2]).decode()
            await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            types = sorted({c.split()[7] for c in pc.localDescription.sdp.splitlines()
                            if c.startswith("a=candidate:")})
            emit("sdp", type="answer", sdp=pc.localDescription.sdp, candidate_types=types)
        else:
            emit("fatal", message=f"unknown command: {line[:80]}")
    await pc.close()
    emit("exit", received="-1", close_ms="-1")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--turn", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    try:
        asyncio.run(main(ap.parse_args()))
    except Exception as e:  # reported to the fixture, which fails the test
        emit("fatal", message=f"{type(e).__name__}: {e}")
        sys.exit(1)
