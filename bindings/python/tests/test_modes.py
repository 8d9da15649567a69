"""The other two context modes: THREAD (callbacks on weft's thread, the GIL
taken by ctypes) and GLib (callbacks where a GMainContext is iterated)."""

from __future__ import annotations

import ctypes
import logging
import threading
import time

import pytest
from conftest import loopback_config

import weft


def connect_sync(a: weft.PeerConnection, b: weft.PeerConnection, pump) -> None:
    """Non-trickle negotiation; @pump(cond, timeout) lets events happen."""
    a.set_local_description(a.create_offer())
    pump(lambda: a.ice_gathering_state == weft.IceGatheringState.COMPLETE, 10)
    b.set_remote_description(a.local_description)
    b.set_local_description(b.create_answer())
    pump(lambda: b.ice_gathering_state == weft.IceGatheringState.COMPLETE, 10)
    a.set_remote_description(b.local_description)


def sleep_pump(cond, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_thread_mode_callbacks_on_weft_thread(caplog) -> None:
    ctx = weft.Context(weft.ContextMode.THREAD, thread_name="weft-py")
    a = weft.PeerConnection(ctx, loopback_config())
    b = weft.PeerConnection(ctx, loopback_config())
    main = threading.get_ident()
    seen_threads: set = set()
    got: list = []
    echo = threading.Event()
    opened = threading.Event()

    def on_dc(ch: weft.DataChannel) -> None:
        seen_threads.add(threading.current_thread().name)
        # Calling weft from inside a THREAD-mode callback is allowed.
        ch.on_message = lambda m: ch.send(m.upper() if isinstance(m, str) else m)

    b.on_data_channel = on_dc
    ch = a.create_data_channel("t")

    def on_open() -> None:
        seen_threads.add(threading.current_thread().name)
        assert ctx.is_current()
        opened.set()

    ch.on_open = on_open
    ch.on_message = lambda m: (got.append(m), echo.set())
    connect_sync(a, b, sleep_pump)
    assert opened.wait(20)
    assert not ctx.is_current()
    ch.send("shout")
    assert echo.wait(10)
    assert got == ["SHOUT"]
    assert threading.main_thread().ident == main
    assert "MainThread" not in seen_threads and seen_threads

    # An exception in a THREAD-mode callback is logged, not propagated.
    def bad(m):
        raise RuntimeError("thread-mode boom")

    ch.on_message = bad
    with caplog.at_level(logging.ERROR, logger="weft"):
        ch.send("x")
        deadline = time.monotonic() + 10
        while "thread-mode boom" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "thread-mode boom" in caplog.text
    a.close()
    b.close()
    ctx.close()


class GLib:
    """Just enough of GLib through ctypes to own and iterate a GMainContext."""

    def __init__(self) -> None:
        self.lib = ctypes.CDLL("libglib-2.0.so.0")
        self.lib.g_main_context_new.restype = ctypes.c_void_p
        self.lib.g_main_context_new.argtypes = []
        self.lib.g_main_context_unref.restype = None
        self.lib.g_main_context_unref.argtypes = [ctypes.c_void_p]
        self.lib.g_main_context_iteration.restype = ctypes.c_int
        self.lib.g_main_context_iteration.argtypes = [ctypes.c_void_p, ctypes.c_int]
        self.lib.g_main_context_pending.restype = ctypes.c_int
        self.lib.g_main_context_pending.argtypes = [ctypes.c_void_p]


def test_glib_mode() -> None:
    glib = GLib()
    mc = glib.lib.g_main_context_new()
    try:
        ctx = weft.Context.for_main_context(mc)
        assert ctx.mode is None
        with pytest.raises(weft.InvalidStateError):
            ctx.dispatch()

        def pump(cond, timeout: float) -> None:
            deadline = time.monotonic() + timeout
            while not cond():
                assert time.monotonic() < deadline, "timed out"
                glib.lib.g_main_context_iteration(mc, 0)
                time.sleep(0.001)

        a = weft.PeerConnection(ctx, loopback_config())
        b = weft.PeerConnection(ctx, loopback_config())
        threads: set = set()
        inbox: list = []
        b.on_data_channel = lambda c: setattr(c, "on_message", inbox.append)
        ch = a.create_data_channel("glib")
        ch.on_open = lambda: threads.add(threading.get_ident())
        connect_sync(a, b, pump)
        pump(lambda ch=ch: ch.ready_state == weft.DataChannelState.OPEN and threads, 20)
        assert threads == {threading.get_ident()}, "GLib-mode callbacks run where we iterate"
        ch.send("over glib")
        pump(lambda: inbox, 10)
        assert inbox == ["over glib"]
        a.close()
        b.close()
        ctx.close()
        del a, b, ch, ctx
        # Release everything, letting weft remove its sources, before the
        # GMainContext goes.
        import gc

        deadline = time.monotonic() + 10
        while weft.debug_live_objects() and time.monotonic() < deadline:
            gc.collect()
            glib.lib.g_main_context_iteration(mc, 0)
            time.sleep(0.005)
        assert weft.debug_live_objects() == 0
    finally:
        glib.lib.g_main_context_unref(mc)

