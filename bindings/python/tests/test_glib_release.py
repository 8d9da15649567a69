"""GLib mode: releasing a context leaves the application's GMainContext as it
was found (weft-glib.h), with no weft work waiting on it."""

from __future__ import annotations

import gc
import time

from conftest import loopback_config
from test_modes import GLib

import weft


def test_glib_mode_release_leaves_no_pending_work() -> None:
    """weft-glib.h: once the last pc and the context are released, weft's
    sources are gone and the GMainContext is left as it was found. So no weft
    work may still be waiting for the application to iterate it: releasing
    any other context afterwards must not wait for it (weft bounds that wait
    at 2 s), and nothing of weft may be left to dispatch there."""
    glib = GLib()
    mc = glib.lib.g_main_context_new()
    try:
        ctx = weft.Context.for_main_context(mc)
        a = weft.PeerConnection(ctx, loopback_config())
        a.create_data_channel("x")
        a.set_local_description()
        deadline = time.monotonic() + 10
        while a.ice_gathering_state != weft.IceGatheringState.COMPLETE:
            assert time.monotonic() < deadline
            glib.lib.g_main_context_iteration(mc, 0)
            time.sleep(0.001)
        a.close()
        ctx.close()
        del a, ctx
        gc.collect()
        assert weft.debug_live_objects() == 0
        other = weft.Context(weft.ContextMode.QUEUED)
        t0 = time.monotonic()
        other.close()
        took = time.monotonic() - t0
        leftover = glib.lib.g_main_context_pending(mc)
        assert took < 0.5 and not leftover, (
            f"after the GLib-mode context was released, releasing another context took "
            f"{took:.2f} s and the GMainContext still had work pending: {bool(leftover)} "
            f"(libnice's asynchronous agent close waits on the application's main context)"
        )
    finally:
        # Drain, so that a failure here does not slow down later tests.
        for _ in range(100):
            glib.lib.g_main_context_iteration(mc, 0)
        glib.lib.g_main_context_unref(mc)
