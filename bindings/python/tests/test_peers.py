"""Two weft peers in one process, through the asyncio layer."""

from __future__ import annotations

import asyncio
import os

import pytest
from conftest import connect as conftest_connect
from conftest import loopback_config, pair, run

import weft
import weft.aio


def test_text_and_binary_both_ways() -> None:
    async def main() -> None:
        a, b, (ch,) = await pair()
        assert a.connection_state == weft.PeerConnectionState.CONNECTED
        assert str(a.connection_state) == "connected"
        assert a.signaling_state == weft.SignalingState.STABLE
        rch = await b.next_data_channel()
        assert rch.label == "chat" and rch.id == ch.id and rch.ordered
        await rch.wait_open()
        big = os.urandom(200_000)
        sent = ["hello", "ünïcødé ✓", "", b"\x00\x01\x02", b"", big]
        for m in sent:
            ch.send(m)
        got = [await rch.recv(timeout=10) for _ in sent]
        assert got == sent
        assert [type(x) for x in got] == [type(x) for x in sent]
        rch.send(bytearray(b"back"))
        rch.send(memoryview(b"view"))
        rch.send("text back")
        assert await ch.recv() == b"back"
        assert await ch.recv() == b"view"
        assert await ch.recv() == "text back"
        assert a.max_message_size == 262144
        local, remote = a.selected_candidate_pair or ("", "")
        assert "127.0.0.1" in local and "127.0.0.1" in remote
        assert a.local_fingerprint.startswith("sha-256 ")
        a.close()
        b.close()

    run(main())


def test_rsa_certificate_against_default() -> None:
    """A peer with an RSA-2048 certificate (it offers, so it is the DTLS
    server) against a default ECDSA one, and back."""

    async def main() -> None:
        cfg = weft.Configuration(enable_loopback=True,
                                 certificate_type=weft.CertificateType.RSA_2048)
        assert cfg.certificate_type is weft.CertificateType.RSA_2048
        with pytest.raises(weft.InvalidArgumentError):
            cfg.certificate_type = 7
        assert cfg.certificate_type is weft.CertificateType.RSA_2048
        a = weft.aio.PeerConnection(None, cfg)
        b = weft.aio.PeerConnection(None, loopback_config())
        ch = a.create_data_channel("rsa")
        await conftest_connect(a, b)
        await ch.wait_open(timeout=20)
        rch = await b.next_data_channel()
        await rch.wait_open()
        ch.send("over RSA")
        assert await rch.recv(timeout=10) == "over RSA"
        rch.send(b"back")
        assert await ch.recv(timeout=10) == b"back"
        assert a.local_fingerprint != b.local_fingerprint
        a.close()
        b.close()

    run(main())


def test_on_message_handler_gets_held_messages_first() -> None:
    async def main() -> None:
        a, b, (ch,) = await pair()
        rch = await b.next_data_channel()
        for i in range(5):
            ch.send(f"m{i}")
        await asyncio.sleep(0.3)  # the messages wait (in weft) for a handler
        got: list = []
        done = asyncio.Event()

        def on_message(m: weft.Message) -> None:
            got.append(m)
            if len(got) == 6:
                done.set()

        rch.on_message = on_message
        ch.send("m5")
        await asyncio.wait_for(done.wait(), 10)
        assert got == [f"m{i}" for i in range(6)]
        a.close()
        b.close()

    run(main())


def test_several_channels() -> None:
    async def main() -> None:
        labels = ("one", "two", "three", "four")
        a, b, chans = await pair(labels=labels)
        received = {}
        for _ in labels:
            rch = await b.next_data_channel()
            received[rch.label] = rch
        assert sorted(received) == sorted(labels)
        assert len({ch.id for ch in chans}) == len(labels)
        # A channel the answerer opens once SCTP is up (no renegotiation).
        late = b.create_data_channel("late", protocol="proto-x", ordered=False, max_retransmits=0)
        assert late.max_retransmits == 0 and not late.ordered
        rlate = await a.next_data_channel()
        assert rlate.label == "late" and rlate.protocol == "proto-x"
        await late.wait_open()
        await rlate.wait_open()
        # A negotiated channel on both sides with the same id.
        na = a.create_data_channel("neg", negotiated=True, id=300)
        nb = b.create_data_channel("neg", negotiated=True, id=300)
        assert na.negotiated and na.id == 300
        await na.wait_open()
        await nb.wait_open()
        for ch in chans:
            await received[ch.label].wait_open()
            ch.send(f"to {ch.label}")
        late.send(b"late msg")
        na.send("negotiated msg")
        for lbl in labels:
            assert await received[lbl].recv() == f"to {lbl}"
        assert await rlate.recv() == b"late msg"
        assert await nb.recv() == "negotiated msg"
        assert len(a.data_channels) == len(labels) + 2
        a.close()
        b.close()

    run(main())


def test_channel_close_reaches_remote() -> None:
    async def main() -> None:
        a, b, (ch,) = await pair()
        rch = await b.next_data_channel()
        await rch.wait_open()
        local_events: list = []
        remote_events: list = []
        ch.on_close = lambda: local_events.append("close")
        ch.on_closing = lambda: local_events.append("closing")
        rch.on_closing = lambda: remote_events.append("closing")
        rch.on_close = lambda: remote_events.append("close")
        ch.close()
        assert ch.ready_state in (weft.DataChannelState.CLOSING, weft.DataChannelState.CLOSED)
        await rch.wait_closed(timeout=10)
        assert remote_events[-1] == "close"
        assert rch.ready_state == weft.DataChannelState.CLOSED
        with pytest.raises((weft.InvalidStateError, weft.ClosedError)) as ei:
            ch.send("after close")
        assert ei.value.name in ("WEFT_ERR_INVALID_STATE", "WEFT_ERR_CLOSED")
        await asyncio.sleep(0.3)
        assert local_events == [], "a closed channel's handlers must not be called"
        # The pc stays usable: a new channel still opens.
        ch2 = a.create_data_channel("again")
        await ch2.wait_open()
        a.close()
        b.close()

    run(main())


def test_no_callback_after_pc_close() -> None:
    async def main() -> None:
        a, b, (ch,) = await pair()
        rch = await b.next_data_channel()
        await rch.wait_open()
        events: list = []
        for name in (
            "on_connection_state_change",
            "on_ice_connection_state_change",
            "on_ice_gathering_state_change",
            "on_signaling_state_change",
            "on_negotiation_needed",
            "on_ice_candidate",
            "on_data_channel",
            "on_error",
        ):
            setattr(a, name, lambda *args, n=name: events.append(n))
        for name in ("on_open", "on_message", "on_closing", "on_close", "on_error",
                     "on_buffered_amount_low"):
            setattr(ch, name, lambda *args, n=name: events.append("dc." + n))
        await asyncio.sleep(0.2)
        events.clear()  # replays of the current states
        remote_states: list = []
        b.on_connection_state_change = remote_states.append
        rch_events: list = []
        rch.on_close = lambda: rch_events.append("close")
        # Traffic in flight while closing.
        for i in range(50):
            rch.send(f"x{i}")
        a.close()
        assert a.closed
        assert a.connection_state == weft.PeerConnectionState.CLOSED
        assert a.signaling_state == weft.SignalingState.CLOSED
        assert ch.ready_state == weft.DataChannelState.CLOSED
        with pytest.raises(weft.ClosedError) as ei:
            ch.send("x")
        assert ei.value.name == "WEFT_ERR_CLOSED"
        with pytest.raises(weft.ClosedError):
            a.create_data_channel("nope")
        # The remote sees the session end (DTLS close_notify).
        await b.wait_closed(timeout=15)
        assert b.connection_state == weft.PeerConnectionState.CLOSED
        assert rch_events == ["close"]
        assert remote_states[-1] == weft.PeerConnectionState.CLOSED
        await asyncio.sleep(0.5)
        assert events == [], f"callbacks after close: {events}"
        a.close()  # idempotent
        b.close()

    run(main())


def test_callback_exception_goes_to_loop_and_coroutine_callbacks() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        seen: list = []
        loop.set_exception_handler(lambda lp, c: seen.append(c.get("exception")))
        a, b, (ch,) = await pair()
        rch = await b.next_data_channel()
        got = asyncio.Queue()  # type: asyncio.Queue

        def bad(m: weft.Message) -> None:
            raise RuntimeError(f"boom {m}")

        rch.on_message = bad
        ch.send("1")
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
        assert len(seen) == 1 and isinstance(seen[0], RuntimeError)
        assert str(seen[0]) == "boom 1"

        async def good(m: weft.Message) -> None:
            await asyncio.sleep(0)
            await got.put(m)

        rch.on_message = good
        ch.send("2")
        assert await asyncio.wait_for(got.get(), 10) == "2"
        a.close()
        b.close()

    # This test installs its own exception handler, so not run() here.
    asyncio.run(asyncio.wait_for(main(), 60))


def test_trickle_candidates() -> None:
    async def main() -> None:
        a = weft.aio.PeerConnection(configuration=loopback_config())
        b = weft.aio.PeerConnection(configuration=loopback_config())
        for src, dst in ((a, b), (b, a)):
            src.on_ice_candidate = (
                lambda c, dst=dst: dst.add_ice_candidate(c)  # a coroutine: run as a task
            )
        ch = a.create_data_channel("t")
        await a.set_local_description()
        await b.set_remote_description(weft.SessionDescription("offer", a.local_description.sdp))
        await b.set_local_description()
        await a.set_remote_description(b.local_description)
        await ch.wait_open(20)
        await a.wait_connected()
        rch = await b.next_data_channel()
        ch.send("trickled")
        assert await rch.recv() == "trickled"
        a.close()
        b.close()

    run(main())


def test_queued_dispatch_reraises_callback_exception() -> None:
    ctx = weft.Context(weft.ContextMode.QUEUED)
    pc = weft.PeerConnection(ctx, loopback_config())

    def bad(state: weft.IceGatheringState) -> None:
        raise KeyError("from callback")

    pc.on_ice_gathering_state_change = bad
    pc.create_data_channel("x")
    pc.set_local_description()
    with pytest.raises(KeyError):
        for _ in range(100):
            if ctx.wait(0.1):
                ctx.dispatch()
    pc.close()
    ctx.close()


def test_context_close_closes_its_peer_connections() -> None:
    async def main() -> None:
        ctx = weft.aio.Context()
        a, b, (ch,) = await pair(ctx)
        ctx.close()
        assert a.closed and b.closed
        with pytest.raises(weft.ClosedError):
            ch.send("x")

    run(main())


def test_close_from_inside_own_callbacks() -> None:
    """Closing (and so releasing) a pc from inside its own channel's
    callback: the callback finishes normally, nothing else is called."""

    async def main() -> None:
        a, b, (ch,) = await pair()
        rch = await b.next_data_channel()
        calls: list = []

        def on_message(m: weft.Message) -> None:
            calls.append(m)
            b.close()
            calls.append("after close")

        rch.on_message = on_message
        ch.send("1")
        ch.send("2")
        await a.wait_closed(timeout=15)
        assert calls == ["1", "after close"]
        a.close()

    run(main())


def test_close_from_thread_mode_callback() -> None:
    import threading

    ctx = weft.Context(weft.ContextMode.THREAD)
    a = weft.PeerConnection(ctx, loopback_config())
    b = weft.PeerConnection(ctx, loopback_config())
    closed = threading.Event()
    remote_closed = threading.Event()
    a.on_connection_state_change = (
        lambda s: remote_closed.set() if s == weft.PeerConnectionState.CLOSED else None
    )

    def on_dc(c: weft.DataChannel) -> None:
        def on_message(m: weft.Message) -> None:
            b.close()  # on weft's thread, inside b's own callback
            closed.set()

        c.on_message = on_message

    b.on_data_channel = on_dc
    ch = a.create_data_channel("t")
    ch.on_open = lambda: ch.send("close please")
    gathered = threading.Event()
    a.on_ice_gathering_state_change = (
        lambda s: gathered.set() if s == weft.IceGatheringState.COMPLETE else None
    )
    a.set_local_description()
    assert gathered.wait(10)
    b.set_remote_description(a.local_description)
    b.set_local_description()
    import time

    deadline = time.monotonic() + 10
    while b.ice_gathering_state != weft.IceGatheringState.COMPLETE:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    a.set_remote_description(b.local_description)
    assert closed.wait(20)
    assert remote_closed.wait(15)
    assert b.closed
    a.close()
    ctx.close()
