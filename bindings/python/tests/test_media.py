"""Media tracks: two weft peers in one process on 127.0.0.1 (real ICE,
DTLS-SRTP, RTP/RTCP), through the asyncio, blocking and THREAD layers.

Frames are shaped like the codecs' (weft checks Opus framing, and reads the
VP8 keyframe bit): an Opus packet is a TOC byte 0x78 (config 15, code 0)
followed by any bytes; a VP8 frame starts with 0x10 (keyframe) or 0x11.
Each frame carries its index so that order, content and timestamps can be
checked one by one.
"""

from __future__ import annotations

import asyncio
import struct
import threading
import time
from typing import List, Tuple

import pytest
from conftest import connect, loopback_config, run

import weft
import weft.aio
import weft.blocking

AUDIO_TS0, AUDIO_STEP = 5000, 960  # 20 ms at 48 kHz
VIDEO_TS0, VIDEO_STEP = 1000, 3000  # 30 fps at 90 kHz


def opus_packet(i: int) -> bytes:
    body = struct.pack(">I", i) + bytes((i * 7 + k) & 0xFF for k in range(40 + i % 50))
    return b"\x78" + body


def vp8_frame(i: int, key: bool) -> bytes:
    # Several packets for the big ones (weft splits at ~1200 bytes).
    size = 9000 + i * 37 if key else 300 + (i * 211) % 3000
    body = struct.pack(">I", i) + bytes((i * 31 + k * 13) & 0xFF for k in range(size))
    return (b"\x10" if key else b"\x11") + body


async def av_call() -> Tuple[weft.aio.PeerConnection, weft.aio.PeerConnection,
                             weft.aio.Track, weft.aio.Track]:
    """A offers audio + video, B answers; both connected."""
    a = weft.aio.PeerConnection(None, loopback_config())
    b = weft.aio.PeerConnection(None, loopback_config())
    audio = a.add_track("audio")
    video = a.add_track(weft.MediaKind.VIDEO, codecs=["VP8"])
    assert audio.mid is None and audio.send_codec is None
    assert audio.current_direction == weft.Direction.INACTIVE
    await connect(a, b)
    await a.wait_connected()
    await b.wait_connected()
    return a, b, audio, video


def test_frames_both_kinds_with_timestamps() -> None:
    async def main() -> None:
        a, b, audio, video = await av_call()
        assert "m=audio" in a.local_description.sdp and "m=video" in a.local_description.sdp
        # Both remote tracks surface on B, in m-line order.
        ra = await b.next_track(timeout=10)
        rv = await b.next_track(timeout=10)
        assert (ra.kind, rv.kind) == (weft.MediaKind.AUDIO, weft.MediaKind.VIDEO)
        assert str(ra.kind) == "audio" and ra.peer_connection is b
        assert (ra.mid, rv.mid) == (audio.mid, video.mid) == ("0", "1")
        assert b.tracks == [ra, rv] and a.tracks == [audio, video]
        for t in (audio, video, ra, rv):
            assert t.current_direction == weft.Direction.SENDRECV
            assert str(t.direction) == "sendrecv"
        sc = video.send_codec
        assert sc is not None and sc.codec == weft.Codec.VP8 and sc.clock_rate == 90000
        assert str(sc.codec) == "VP8"
        sc = audio.send_codec
        assert sc is not None and sc.codec == weft.Codec.OPUS and sc.clock_rate == 48000
        assert sc.channels == 2 and str(sc.codec) == "opus"

        got: dict = {"audio": [], "video": []}
        done = asyncio.Event()
        n_audio, n_video = 50, 30

        def collector(kind: str, want: int):
            def on_frame(f: weft.Frame) -> None:
                got[kind].append(f)
                if len(got["audio"]) >= n_audio and len(got["video"]) >= n_video:
                    done.set()
            return on_frame

        ra.on_frame = collector("audio", n_audio)
        rv.on_frame = collector("video", n_video)
        for i in range(max(n_audio, n_video)):
            if i < n_audio:
                audio.send_frame(opus_packet(i), rtp_timestamp=AUDIO_TS0 + i * AUDIO_STEP)
            if i < n_video:
                video.send_frame(vp8_frame(i, i % 10 == 0),
                                 rtp_timestamp=VIDEO_TS0 + i * VIDEO_STEP)
            await asyncio.sleep(0.005)
        await asyncio.wait_for(done.wait(), 15)

        assert [f.data for f in got["audio"]] == [opus_packet(i) for i in range(n_audio)]
        assert [f.rtp_timestamp for f in got["audio"]] == [
            AUDIO_TS0 + i * AUDIO_STEP for i in range(n_audio)]
        assert {f.codec for f in got["audio"]} == {weft.Codec.OPUS}
        assert [f.data for f in got["video"]] == [vp8_frame(i, i % 10 == 0)
                                                  for i in range(n_video)]
        assert [f.rtp_timestamp for f in got["video"]] == [
            VIDEO_TS0 + i * VIDEO_STEP for i in range(n_video)]
        assert [f.keyframe for f in got["video"]] == [i % 10 == 0 for i in range(n_video)]
        assert {f.codec for f in got["video"]} == {weft.Codec.VP8}
        pts = [f.pts_us for f in got["video"]]
        assert pts[0] == 0 and pts == sorted(pts)

        # The counters agree on both ends.
        s_tx, s_rx = video.stats(), rv.stats()
        assert isinstance(s_tx, weft.TrackStats)
        assert s_tx.frames_sent == n_video and s_rx.frames_received == n_video
        assert s_rx.frames_dropped == 0 and s_rx.srtp_failures == 0
        assert s_tx.packets_sent >= n_video + 3  # the keyframes span several packets
        assert s_rx.packets_received >= s_tx.packets_sent
        assert audio.stats().frames_sent == n_audio and ra.stats().frames_received == n_audio

        # B sends back on its own (answered sendrecv) track.
        rv.send_frame(vp8_frame(0, True))
        f = await video.recv_frame(timeout=10)
        assert f.data == vp8_frame(0, True) and f.keyframe and f.rtp_timestamp is not None
        a.close()
        b.close()
        # A closed pc leaves inert tracks.
        with pytest.raises(weft.ClosedError):
            audio.send_frame(opus_packet(0))
        assert audio.stopped

    run(main())


def test_rtp_and_rtcp_packets() -> None:
    async def main() -> None:
        a, b, audio, video = await av_call()
        ra = await b.next_track(timeout=10)
        await b.next_track(timeout=10)
        packets: List[bytes] = []
        rtcp: List[bytes] = []
        arrived = asyncio.Event()

        def on_rtp(p: bytes) -> None:
            packets.append(p)
            if len(packets) == 20:
                arrived.set()

        ra.on_rtp = on_rtp
        ra.on_rtcp = rtcp.append
        pt = audio.send_codec.payload_type
        for i in range(20):
            payload = opus_packet(i)
            hdr = struct.pack(">BBHII", 0x80, pt, 100 + i, 48000 + 960 * i, 0x11223344)
            audio.send_rtp(hdr + payload, keep_seq=True, keep_timestamp=True)
        await asyncio.wait_for(arrived.wait(), 10)
        for i, p in enumerate(packets):
            v_p_x_cc, m_pt, seq, ts, ssrc = struct.unpack(">BBHII", p[:12])
            assert v_p_x_cc >> 6 == 2 and (m_pt & 0x7F) == pt
            assert seq == 100 + i and ts == 48000 + 960 * i
            assert ssrc != 0x11223344  # the track's own SSRC
            # weft replaces header extensions with its own: the payload ends
            # the packet.
            assert p.endswith(opus_packet(i))
        # Sender and receiver reports flow every second (weft's RTCP).
        deadline = time.monotonic() + 5
        while not rtcp and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert rtcp and all(p[0] >> 6 == 2 and 200 <= p[1] <= 206 for p in rtcp), rtcp
        # An application RTCP packet (APP, PT 204) is accepted.
        app = struct.pack(">BBHI4s", 0x80, 204, 2, 0x55667788, b"weft")
        audio.send_rtcp(app)
        with pytest.raises(weft.WeftSyntaxError):
            audio.send_rtcp(b"\x00" * 12)
        with pytest.raises(weft.WeftSyntaxError):
            audio.send_rtp(b"\x80\x00\x00")
        ra.on_rtp = None  # clears the C handler: no more packets
        n = len(packets)
        audio.send_frame(opus_packet(99))
        await asyncio.sleep(0.3)
        assert len(packets) == n
        a.close()
        b.close()

    run(main())


def test_keyframe_request_round_trip() -> None:
    async def main() -> None:
        a, b, audio, video = await av_call()
        await b.next_track(timeout=10)
        rv = await b.next_track(timeout=10)
        requests: List[int] = []
        video.on_keyframe_request = lambda: requests.append(1)
        # Nothing received yet: no SSRC to address a PLI to.
        with pytest.raises(weft.InvalidStateError) as ei:
            rv.request_keyframe()
        assert ei.value.name == "WEFT_ERR_INVALID_STATE"
        for i in range(3):
            video.send_frame(vp8_frame(i, i == 0), rtp_timestamp=VIDEO_TS0 + i * VIDEO_STEP)
        assert (await rv.recv_frame(timeout=10)).keyframe
        rv.request_keyframe()
        await video.wait_keyframe_request(1, timeout=10)
        assert requests == [1]
        deadline = time.monotonic() + 5
        while rv.stats().plis_sent < 1 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert rv.stats().plis_sent == 1 and video.stats().plis_received == 1
        a.close()
        b.close()

    run(main())


def test_errors_map_to_exceptions() -> None:
    async def main() -> None:
        a = weft.aio.PeerConnection(None, loopback_config())
        b = weft.aio.PeerConnection(None, loopback_config())
        with pytest.raises(weft.InvalidArgumentError):
            a.add_track("audio", codecs=["VP8"])  # a video codec
        with pytest.raises(weft.InvalidArgumentError):
            a.add_track("audio", codecs=["opus", weft.Codec.OPUS])  # twice
        with pytest.raises(ValueError):
            a.add_track("subtitles")
        with pytest.raises(ValueError):
            a.add_track("video", codecs=["AV2"])
        with pytest.raises(weft.InvalidArgumentError):
            a.add_track("audio", direction=weft.Direction.STOPPED)
        audio = a.add_track("audio", codecs=["PCMU"], direction="sendonly")
        assert audio.direction == weft.Direction.SENDONLY
        # Before negotiation: nothing to send with.
        with pytest.raises(weft.InvalidStateError) as ei:
            audio.send_frame(b"\xd5" * 160)
        assert ei.value.code == -2 and "not negotiated" in ei.value.message
        with pytest.raises(weft.InvalidArgumentError):
            audio.send_frame(b"")
        with pytest.raises(weft.InvalidArgumentError):
            audio.direction = weft.Direction.STOPPED
        with pytest.raises(ValueError):
            audio.direction = "sideways"
        await connect(a, b)
        await a.wait_connected()
        assert " UDP/TLS/RTP/SAVPF 0\r\n" in a.local_description.sdp  # PCMU only
        sc = audio.send_codec
        assert sc.codec == weft.Codec.PCMU and sc.payload_type == 0 and sc.clock_rate == 8000
        assert audio.current_direction == weft.Direction.SENDONLY
        rt = await b.next_track(timeout=10)
        assert rt.current_direction == weft.Direction.RECVONLY
        # The receive-only side cannot send.
        with pytest.raises(weft.InvalidStateError):
            rt.send_frame(b"\xd5" * 160)
        audio.send_frame(b"\xd5" * 160)
        assert (await rt.recv_frame(timeout=10)).data == b"\xd5" * 160
        # An Opus track added to the connected call (renegotiation): weft
        # checks Opus framing.
        opus = a.add_track("audio", codecs=["opus"])
        await connect(a, b)
        await b.next_track(timeout=10)
        with pytest.raises(weft.WeftSyntaxError):
            opus.send_frame(b"\x7b")  # code 3 without its frame-count byte
        opus.send_frame(opus_packet(1))
        # Stopped: refused, idempotent, no callback afterwards.
        audio.stop()
        audio.stop()
        assert audio.current_direction == weft.Direction.STOPPED and audio.stopped
        with pytest.raises(weft.InvalidStateError):
            audio.send_frame(b"\xd5" * 160)
        with pytest.raises(weft.InvalidStateError):
            audio.direction = "sendrecv"
        await connect(a, b)
        assert "m=audio 0 " in a.local_description.sdp
        a.close()
        b.close()
        with pytest.raises(weft.ClosedError):
            a.add_track("video")

    run(main())


def test_blocking_layer() -> None:
    ctx = weft.blocking.Context()
    a = weft.blocking.PeerConnection(ctx, loopback_config())
    b = weft.blocking.PeerConnection(ctx, loopback_config())
    video = a.add_track("video", direction="sendonly")
    a.set_local_description()
    b.set_remote_description(a.wait_gathering_complete())
    b.set_local_description()
    a.set_remote_description(b.wait_gathering_complete())
    a.wait_connected()
    rv = b.next_track()
    assert isinstance(rv, weft.blocking.Track) and rv.kind == weft.MediaKind.VIDEO
    for i in range(5):
        video.send_frame(vp8_frame(i, i == 0), rtp_timestamp=VIDEO_TS0 + i * VIDEO_STEP)
    frames = [rv.recv_frame(timeout=10) for _ in range(5)]
    assert [f.data for f in frames] == [vp8_frame(i, i == 0) for i in range(5)]
    assert [f.rtp_timestamp for f in frames] == [VIDEO_TS0 + i * VIDEO_STEP for i in range(5)]
    rv.request_keyframe()
    video.wait_keyframe_request(timeout=10)
    a.close()
    b.close()
    ctx.close()


@pytest.mark.parametrize("pts0", [0, 5_000_000])
def test_pts_us_gives_the_timestamps(pts0: int) -> None:
    """send_frame(pts_us=...) without rtp_timestamp: weft derives the RTP
    timestamps from the presentation times (on a random base); the receiver
    sees them as pts_us since its first frame. A stream's first pts is
    commonly 0."""

    async def main() -> None:
        a, b, audio, video = await av_call()
        try:
            await b.next_track(timeout=10)
            rv = await b.next_track(timeout=10)
            for i in range(5):
                video.send_frame(vp8_frame(i, i == 0), pts_us=pts0 + i * 100_000)
            frames = [await rv.recv_frame(timeout=10) for _ in range(5)]
            assert [f.data for f in frames] == [vp8_frame(i, i == 0) for i in range(5)]
            ts = [f.rtp_timestamp for f in frames]
            assert [(t - ts[0]) % (1 << 32) for t in ts] == [i * 9000 for i in range(5)], ts
            assert [f.pts_us for f in frames] == [i * 100_000 for i in range(5)]
        finally:
            a.close()
            b.close()

    run(main())


def test_thread_mode_on_track_and_frames() -> None:
    """Callbacks on weft's own thread (THREAD context): on_track sets the
    track's handlers before any frame can be lost."""
    ctx = weft.Context(weft.ContextMode.THREAD)
    a = weft.PeerConnection(ctx, loopback_config())
    b = weft.PeerConnection(ctx, loopback_config())
    lock = threading.Lock()
    frames: List[weft.Frame] = []
    tracks: List[weft.Track] = []
    enough = threading.Event()
    gathered = [threading.Event(), threading.Event()]
    connected = threading.Event()

    def on_frame(f: weft.Frame) -> None:
        with lock:
            frames.append(f)
            if len(frames) == 20:
                enough.set()

    def on_track(t: weft.Track) -> None:
        assert ctx.is_current()  # on weft's thread
        tracks.append(t)
        t.on_frame = on_frame

    b.on_track = on_track
    for pc, ev in ((a, gathered[0]), (b, gathered[1])):
        pc.on_ice_gathering_state_change = (
            lambda s, ev=ev: ev.set() if s == weft.IceGatheringState.COMPLETE else None)
    a.on_connection_state_change = (
        lambda s: connected.set() if s == weft.PeerConnectionState.CONNECTED else None)
    audio = a.add_track("audio", codecs=["opus"])
    a.set_local_description()
    assert gathered[0].wait(10)
    b.set_remote_description(a.local_description)
    b.set_local_description()
    assert gathered[1].wait(10)
    a.set_remote_description(b.local_description)
    assert connected.wait(10)
    for i in range(20):
        audio.send_frame(opus_packet(i), rtp_timestamp=AUDIO_TS0 + i * AUDIO_STEP)
    assert enough.wait(10)
    assert len(tracks) == 1 and tracks[0].kind == weft.MediaKind.AUDIO
    assert [f.data for f in frames] == [opus_packet(i) for i in range(20)]
    assert [f.rtp_timestamp for f in frames] == [AUDIO_TS0 + i * AUDIO_STEP for i in range(20)]
    a.close()
    b.close()
    ctx.close()


def test_pc_keeps_its_tracks_and_async_handlers() -> None:
    """Only the pcs are held: the track wrappers (and their handlers) live
    on through them; an ``async def`` on_frame runs as a task; an on_track
    handler gets the remote tracks instead of next_track()."""

    async def main() -> None:
        import gc

        a = weft.aio.PeerConnection(None, loopback_config())
        b = weft.aio.PeerConnection(None, loopback_config())
        got: List[weft.Frame] = []
        seen: List[weft.Track] = []
        done = asyncio.Event()

        async def on_frame(f: weft.Frame) -> None:
            await asyncio.sleep(0)
            got.append(f)
            if len(got) == 10:
                done.set()

        def on_track(t: weft.Track) -> None:
            seen.append(t)
            t.on_frame = on_frame

        b.on_track = on_track
        a.add_track("audio", direction="sendonly").on_keyframe_request = lambda: None
        await connect(a, b)
        await a.wait_connected()
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.05)
        assert len(seen) == 1 and seen[0].current_direction == weft.Direction.RECVONLY
        assert not b._incoming_tracks  # went to the handler
        seen.clear()
        gc.collect()
        (audio,) = a.tracks
        for i in range(10):
            audio.send_frame(opus_packet(i), rtp_timestamp=i * AUDIO_STEP)
        del audio
        await asyncio.wait_for(done.wait(), 10)
        assert [f.data for f in got] == [opus_packet(i) for i in range(10)]
        assert [f.rtp_timestamp for f in got] == [i * AUDIO_STEP for i in range(10)]
        a.close()
        b.close()

    run(main())


def test_dropped_wrappers_release_everything() -> None:
    """Tracks kept only by their pc: dropping the pcs frees every C object
    (the autouse fixture checks weft_debug_live_objects() == 0)."""

    async def main() -> None:
        a, b, audio, video = await av_call()
        rv = None
        await b.next_track(timeout=10)
        rv = await b.next_track(timeout=10)
        rv.on_frame = lambda f: None
        video.send_frame(vp8_frame(0, True))
        await asyncio.sleep(0.2)
        del a, b, audio, video, rv

    run(main())


def test_media_with_libsrtp_already_initialised(tmp_path) -> None:
    """aiortc and weft in one Python process (as in test_aiortc.py): aiortc's
    pylibsrtp calls srtp_init() when imported, before weft's first SRTP
    session. weft's media must still work. In a subprocess: the import must
    come first in a fresh process."""
    import os
    import subprocess
    import sys

    script = tmp_path / "srtp_first.py"
    script.write_text(
        "import asyncio, sys\n"
        "import pylibsrtp  # srtp_init(), as 'import aiortc' does\n"
        "import weft, weft.aio\n"
        "from conftest import connect, loopback_config\n"
        "async def main():\n"
        "    a = weft.aio.PeerConnection(None, loopback_config())\n"
        "    b = weft.aio.PeerConnection(None, loopback_config())\n"
        "    v = a.add_track('video')\n"
        "    await connect(a, b)\n"
        "    await a.wait_connected()\n"
        "    rv = await b.next_track()\n"
        "    try:\n"
        "        v.send_frame(b'\\x10' + bytes(100))\n"
        "        f = await rv.recv_frame(timeout=5)\n"
        "        print('frame', len(f.data))\n"
        "    finally:\n"
        "        a.close()\n"
        "        b.close()\n"
        "asyncio.run(main())\n"
    )
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([here, os.path.dirname(here), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout == "frame 101\n", (proc.stdout, proc.stderr)
