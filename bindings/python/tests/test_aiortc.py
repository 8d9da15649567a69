"""Python weft <-> aiortc (Debian's python3-aiortc) in the same asyncio loop:
a data channel with messages both ways, weft offering and aiortc offering.
aiortc gathers only on 127.0.0.1 here (aioice pinned), weft with loopback on.
"""

from __future__ import annotations

import asyncio
import os

import aioice.ice
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from conftest import loopback_config, run

import weft
import weft.aio


@pytest.fixture(autouse=True)
def loopback_only_aioice(monkeypatch):
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


async def wait_aiortc_channel_open(ch) -> None:
    if ch.readyState == "open":
        return
    opened = asyncio.get_running_loop().create_future()
    ch.on("open", lambda: opened.done() or opened.set_result(None))
    await asyncio.wait_for(opened, 20)


def test_weft_offers_aiortc_answers() -> None:
    async def main() -> None:
        pc = weft.aio.PeerConnection(configuration=loopback_config())
        remote = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        inbox: asyncio.Queue = asyncio.Queue()
        try:
            ch = pc.create_data_channel("weft-to-aiortc")
            await pc.set_local_description(await pc.create_offer())
            offer = await pc.wait_gathering_complete()

            @remote.on("datachannel")
            def on_datachannel(channel):
                channel.on("message", lambda m: (inbox.put_nowait(m), channel.send(m)))

            await remote.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
            await remote.setLocalDescription(await remote.createAnswer())
            await pc.set_remote_description(
                weft.SessionDescription("answer", remote.localDescription.sdp)
            )
            await ch.wait_open(timeout=20)
            await pc.wait_connected(timeout=10)
            blob = os.urandom(10000)
            ch.send("hello aiortc")
            ch.send(blob)
            assert await asyncio.wait_for(inbox.get(), 10) == "hello aiortc"
            assert await asyncio.wait_for(inbox.get(), 10) == blob
            # aiortc echoes each message back.
            assert await ch.recv(timeout=10) == "hello aiortc"
            assert await ch.recv(timeout=10) == blob
        finally:
            pc.close()
            await remote.close()

    run(main(), timeout=90)


def test_aiortc_offers_weft_answers() -> None:
    async def main() -> None:
        pc = weft.aio.PeerConnection(configuration=loopback_config())
        remote = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        inbox: asyncio.Queue = asyncio.Queue()
        try:
            rch = remote.createDataChannel("aiortc-to-weft")
            rch.on("message", inbox.put_nowait)
            await remote.setLocalDescription(await remote.createOffer())
            await pc.set_remote_description(
                weft.SessionDescription("offer", remote.localDescription.sdp)
            )
            await pc.set_local_description(await pc.create_answer())
            answer = await pc.wait_gathering_complete()
            await remote.setRemoteDescription(RTCSessionDescription(answer.sdp, "answer"))
            ch = await pc.next_data_channel(timeout=20)
            assert ch.label == "aiortc-to-weft"
            await ch.wait_open(timeout=20)
            await wait_aiortc_channel_open(rch)
            rch.send("from aiortc")
            rch.send(b"\x00binary\xff")
            assert await ch.recv(timeout=10) == "from aiortc"
            assert await ch.recv(timeout=10) == b"\x00binary\xff"
            ch.send("from weft")
            ch.send(b"\x01\x02")
            assert await asyncio.wait_for(inbox.get(), 10) == "from weft"
            assert await asyncio.wait_for(inbox.get(), 10) == b"\x01\x02"
            # aiortc closing ends the session for weft (DTLS close_notify).
            await remote.close()
            await pc.wait_closed(timeout=20)
            assert pc.connection_state == weft.PeerConnectionState.CLOSED
        finally:
            pc.close()
            await remote.close()

    run(main(), timeout=90)
