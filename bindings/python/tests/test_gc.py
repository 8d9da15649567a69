"""Garbage collection in any order: finalizers drop each C reference exactly
once, no order crashes, nothing leaks (the autouse fixture checks
weft_debug_live_objects() == 0 after every test)."""

from __future__ import annotations

import asyncio
import gc
import itertools
import random

import pytest
from conftest import pair, run, wait_no_live_objects

import weft
import weft.aio


@pytest.fixture(autouse=True)
def gc_stress():
    old = gc.get_threshold()
    gc.set_threshold(1, 1, 1)  # a collection on nearly every allocation
    try:
        yield
    finally:
        gc.set_threshold(*old)


ORDERS = list(itertools.permutations(["ctx", "a", "b", "ch", "rch"]))


@pytest.mark.parametrize("order", random.Random(6).sample(ORDERS, 12), ids=str)
def test_drop_connected_objects_in_any_order(order) -> None:
    async def main() -> None:
        objs = {}
        objs["ctx"] = weft.aio.Context()
        objs["a"], objs["b"], (objs["ch"],) = await pair(objs["ctx"])
        objs["rch"] = await objs["b"].next_data_channel()
        await objs["rch"].wait_open()
        objs["ch"].send("before drop")
        assert await objs["rch"].recv() == "before drop"
        for name in order:
            del objs[name]
            gc.collect()
            await asyncio.sleep(0.01)  # let queued events run into (collected) wrappers
            for ch_name in ("ch", "rch"):
                if ch_name in objs:
                    ch = objs[ch_name]
                    pc = ch.peer_connection
                    if pc is None:
                        # The pc was collected: the channel is closed and inert.
                        assert ch.ready_state == weft.DataChannelState.CLOSED
                        with pytest.raises(weft.ClosedError):
                            ch.send("x")
                        assert ch.label == "chat"  # getters still work

    run(main())


def test_pc_collected_before_channel_is_inert() -> None:
    async def main() -> None:
        a, b, (ch,) = await pair()
        rch = await b.next_data_channel()
        await rch.wait_open()
        got: list = []
        rch.on_close = lambda: got.append("close")
        del a
        gc.collect()
        # The collected pc was closed: the remote channel closes too.
        await rch.wait_closed(timeout=15)
        assert got == ["close"]
        with pytest.raises(weft.ClosedError):
            ch.send("x")
        assert ch.peer_connection is None
        b.close()

    run(main())


def test_unconnected_objects_collected_in_bulk() -> None:
    async def main() -> None:
        ctx = weft.aio.Context()
        pcs = [weft.aio.PeerConnection(ctx, weft.Configuration(enable_loopback=True))
               for _ in range(20)]
        chans = [pc.create_data_channel(f"c{i}") for i, pc in enumerate(pcs)]
        for pc in pcs[::2]:
            await pc.set_local_description()
        random.Random(1).shuffle(chans)
        del ctx
        for i in range(0, 20, 3):
            del pcs[0:2]
            gc.collect()
            del chans[0:3]
            await asyncio.sleep(0)
        pcs.clear()
        chans.clear()

    run(main())


def test_cycles_through_handlers_are_collected() -> None:
    """Handlers closing over their own pc/channel form reference cycles that
    only the cycle collector can free; the finalizers still run once."""

    async def main() -> None:
        a, b, (ch,) = await pair()
        rch = await b.next_data_channel()
        a.on_connection_state_change = lambda s: (a, ch)
        ch.on_message = lambda m: ch.send(m)
        rch.on_message = lambda m: (rch, b)
        b.on_data_channel = lambda c: (b, c)
        ch.send("x")
        await asyncio.sleep(0.1)

    run(main())
    assert wait_no_live_objects() == 0


def test_garbage_while_thread_mode_callbacks_run() -> None:
    """THREAD mode: callbacks run on weft's thread while the main thread
    drops objects and collects."""
    import threading

    ctx = weft.Context(weft.ContextMode.THREAD)
    cfg = weft.Configuration(enable_loopback=True)
    for _ in range(5):
        a = weft.PeerConnection(ctx, cfg)
        b = weft.PeerConnection(ctx, cfg)
        opened = threading.Event()
        got = threading.Event()
        box: list = []

        def on_dc(c, box=box, got=got):
            box.append(c)
            c.on_message = lambda m: got.set()

        b.on_data_channel = on_dc
        ch = a.create_data_channel("t")
        ch.on_open = opened.set
        gathered = {id(a): threading.Event(), id(b): threading.Event()}
        for pc in (a, b):
            pc.on_ice_gathering_state_change = (
                lambda s, e=gathered[id(pc)]: e.set() if s == weft.IceGatheringState.COMPLETE
                else None
            )
        a.set_local_description()
        assert gathered[id(a)].wait(10)
        b.set_remote_description(a.local_description)
        b.set_local_description()
        assert gathered[id(b)].wait(10)
        a.set_remote_description(b.local_description)
        assert opened.wait(20)
        ch.send("m")
        assert got.wait(10)
        del a, b, ch, box, on_dc, pc, gathered
        gc.collect()
    del ctx, cfg
