"""Shared fixtures: every test must leave no live weft object behind and no
callback may reach a closed object."""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import time
from typing import Any, Awaitable, Optional, Tuple

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import weft  # noqa: E402
import weft.aio  # noqa: E402
from weft import _core  # noqa: E402


def wait_no_live_objects(timeout: float = 10.0) -> int:
    """Collects garbage until libweft reports no live object (a released pc
    is freed once its engine is done with it, a moment later)."""
    deadline = time.monotonic() + timeout
    while True:
        gc.collect()
        n = weft.debug_live_objects()
        if n == 0 or time.monotonic() > deadline:
            return n
        time.sleep(0.02)


@pytest.fixture(autouse=True)
def no_leaks() -> Any:
    _core.stats["late_callbacks"] = 0
    yield
    assert wait_no_live_objects() == 0, "weft objects still alive after the test"
    assert _core.stats["late_callbacks"] == 0, "a callback reached a closed object"


def run(coro: Awaitable[Any], timeout: float = 60.0) -> Any:
    """Runs @coro in a fresh event loop with an overall bound; fails the test
    on any exception the loop's exception handler saw (callback errors)."""
    errors: list = []

    async def main() -> Any:
        asyncio.get_running_loop().set_exception_handler(lambda loop, c: errors.append(c))
        return await asyncio.wait_for(coro, timeout)

    result = asyncio.run(main())
    assert not errors, f"errors reported to the event loop: {errors}"
    return result


def loopback_config() -> weft.Configuration:
    return weft.Configuration(enable_loopback=True)


async def connect(a: weft.aio.PeerConnection, b: weft.aio.PeerConnection) -> None:
    """Non-trickle offer/answer between two in-process peers."""
    await a.set_local_description(await a.create_offer())
    offer = await a.wait_gathering_complete()
    await b.set_remote_description(offer)
    await b.set_local_description(await b.create_answer())
    await a.set_remote_description(await b.wait_gathering_complete())


async def pair(
    ctx: Optional[weft.aio.Context] = None, labels: Tuple[str, ...] = ("chat",)
) -> Tuple[weft.aio.PeerConnection, weft.aio.PeerConnection, list]:
    """Two connected peers with @labels channels created by the first, open."""
    a = weft.aio.PeerConnection(ctx, loopback_config())
    b = weft.aio.PeerConnection(ctx, loopback_config())
    chans = [a.create_data_channel(lbl) for lbl in labels]
    await connect(a, b)
    for ch in chans:
        await ch.wait_open(timeout=20)
    return a, b, chans
