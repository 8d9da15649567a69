"""Process exit with live objects and callbacks in flight, and the log
handler."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

from conftest import loopback_config

import weft

HERE = os.path.dirname(os.path.abspath(__file__))

THREAD_SCRIPT = """
import threading, weft
ctx = weft.Context(weft.ContextMode.THREAD)
cfg = weft.Configuration(enable_loopback=True)
a = weft.PeerConnection(ctx, cfg)
b = weft.PeerConnection(ctx, cfg)
n = [0]
ready = threading.Event()
def on_dc(ch):
    ch.on_message = lambda m: ch.send(m)          # echo forever
b.on_data_channel = on_dc
ch = a.create_data_channel("ping")
def pong(m):
    n[0] += 1
    if n[0] == 20:
        ready.set()
    ch.send(m)
ch.on_message = pong
ch.on_open = lambda: ch.send("ping")
done = {a: threading.Event(), b: threading.Event()}
for pc in (a, b):
    pc.on_ice_gathering_state_change = (
        lambda s, e=done[pc]: e.set() if s == weft.IceGatheringState.COMPLETE else None)
a.set_local_description(); assert done[a].wait(10)
b.set_remote_description(a.local_description); b.set_local_description(); assert done[b].wait(10)
a.set_remote_description(b.local_description)
assert ready.wait(20)
print("exiting with traffic in flight", flush=True)
"""

AIO_SCRIPT = """
import asyncio, weft, weft.aio
async def main():
    cfg = weft.Configuration(enable_loopback=True)
    global a, b
    a = weft.aio.PeerConnection(configuration=cfg)
    b = weft.aio.PeerConnection(configuration=cfg)
    ch = a.create_data_channel("x")
    await a.set_local_description(await a.create_offer())
    await b.set_remote_description(await a.wait_gathering_complete())
    await b.set_local_description(await b.create_answer())
    await a.set_remote_description(await b.wait_gathering_complete())
    await ch.wait_open()
    ch.on_message = lambda m: ch.send(m)
    rch = await b.next_data_channel()
    rch.on_message = lambda m: rch.send(m)
    ch.send("loop")
    await asyncio.sleep(0.2)
    print("exiting with traffic in flight", flush=True)
asyncio.run(main())
"""


def run_script(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(HERE)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=60)


def test_exit_with_thread_mode_traffic() -> None:
    for _ in range(3):
        p = run_script(THREAD_SCRIPT)
        assert p.returncode == 0, p.stderr
        assert "exiting with traffic in flight" in p.stdout
        assert "Fatal" not in p.stderr and "Traceback" not in p.stderr, p.stderr


def test_exit_with_live_aio_objects() -> None:
    p = run_script(AIO_SCRIPT)
    assert p.returncode == 0, p.stderr
    assert "exiting with traffic in flight" in p.stdout
    assert "Traceback" not in p.stderr, p.stderr


def test_log_handler() -> None:
    records: list = []
    lock = threading.Lock()

    def handler(level: weft.LogLevel, component: str, message: str) -> None:
        with lock:
            records.append((level, component, message))

    weft.set_log_handler(handler)
    weft.set_log_spec("*:none,dtls:debug,ice:info")
    try:
        ctx = weft.Context(weft.ContextMode.QUEUED)
        pc = weft.PeerConnection(ctx, loopback_config())
        pc.create_data_channel("x")
        pc.set_local_description()
        for _ in range(50):
            if ctx.wait(0.1):
                ctx.dispatch()
            if pc.ice_gathering_state == weft.IceGatheringState.COMPLETE:
                break
        pc.close()
        ctx.close()
    finally:
        weft.set_log_handler(None)
        weft.set_log_level(weft.LogLevel.WARNING)
    with lock:
        got = list(records)
    # The new certificate is logged at debug by dtls.
    assert any(c == "dtls" and "certificate" in m for _, c, m in got), got
    assert all(isinstance(lv, weft.LogLevel) and m for lv, _, m in got)
    assert all(c in ("dtls", "ice") for _, c, _ in got), got
    assert all(lv <= weft.LogLevel.INFO for lv, c, _ in got if c == "ice"), got
