"""The blocking layer: no event loop, bounded waits pumping a QUEUED context."""

from __future__ import annotations

import threading

import pytest
from conftest import loopback_config

import weft
import weft.blocking


def test_two_peers_blocking() -> None:
    ctx = weft.blocking.Context()
    a = weft.blocking.PeerConnection(ctx, loopback_config())
    b = weft.blocking.PeerConnection(ctx, loopback_config())
    main_thread = threading.get_ident()
    threads: set = set()
    a.on_connection_state_change = lambda s: threads.add(threading.get_ident())
    ch = a.create_data_channel("script")
    a.set_local_description(a.create_offer())
    b.set_remote_description(a.wait_gathering_complete(timeout=10))
    b.set_local_description()
    a.set_remote_description(b.wait_gathering_complete(timeout=10))
    ch.wait_open(timeout=20)
    a.wait_connected(timeout=10)
    rch = b.next_data_channel(timeout=10)
    ch.send("ping")
    assert rch.recv(timeout=10) == "ping"
    rch.send(b"pong")
    assert ch.recv(timeout=10) == b"pong"
    assert threads == {main_thread}, "QUEUED callbacks run on the dispatching thread"
    with pytest.raises(weft.WeftTimeoutError) as ei:
        ch.recv(timeout=0.2)
    assert "timed out" in str(ei.value)
    a.close()
    b.wait_closed(timeout=15)
    with pytest.raises(weft.ClosedError):
        rch.recv(timeout=5)
    b.close()
    ctx.close()


def test_blocking_callback_exception_propagates() -> None:
    ctx = weft.blocking.Context()
    a = weft.blocking.PeerConnection(ctx, loopback_config())

    def bad(s: weft.IceGatheringState) -> None:
        raise ValueError("from the handler")

    a.on_ice_gathering_state_change = bad
    a.create_data_channel("x")
    a.set_local_description()
    with pytest.raises(ValueError, match="from the handler"):
        a.wait_gathering_complete(timeout=10)
    a.close()
    ctx.close()
