#!/usr/bin/python3
"""Two weft video-call peers in one room of the real signaling-server
(doc/rooms.md): each decodes at least MIN_FRAMES VP8 frames and some Opus
audio from the other within SECONDS, and --ivf / --wav write well-formed
files (an IVF of VP8 frames starting with a keyframe, a WAV holding the
440 Hz tone).

usage: test_video_call.py VIDEO_CALL SIGNALING_SERVER [SECONDS] [MIN_FRAMES]
"""
import array
import math
import os
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chat"))
from roomtest import check, run  # noqa: E402

VC, SERVER = sys.argv[1], sys.argv[2]
SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 10
MIN_FRAMES = int(sys.argv[4]) if len(sys.argv) > 4 else 100


def check_ivf(path):
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) >= 32 and data[:4] == b"DKIF" and data[8:12] == b"VP80", "IVF header")
    w, h, rate, scale, count = struct.unpack("<HHIII", data[12:28])
    check((w, h) == (320, 240) and rate == 1000 and scale == 1, f"IVF geometry {w}x{h} {rate}/{scale}")
    pos, frames, last_pts = 32, 0, -1
    while pos < len(data):
        check(pos + 12 <= len(data), "truncated IVF frame header")
        size, pts = struct.unpack("<IQ", data[pos:pos + 12])
        frame = data[pos + 12:pos + 12 + size]
        check(len(frame) == size and size > 0, "truncated IVF frame")
        if frames == 0:
            # VP8 keyframe: bit 0 of the first byte clear, start code 9d 01 2a.
            check(frame[0] & 1 == 0 and frame[3:6] == b"\x9d\x01\x2a", "IVF starts without a keyframe")
        check(pts >= last_pts, "IVF timestamps go back")
        last_pts = pts
        frames += 1
        pos += 12 + size
    check(frames == count and frames >= MIN_FRAMES, f"IVF: {frames} frames, header says {count}")
    return frames


def check_wav(path):
    with open(path, "rb") as f:
        data = f.read()
    check(data[:4] == b"RIFF" and data[8:16] == b"WAVEfmt ", "WAV header")
    fmt, ch, rate, _, _, bits = struct.unpack("<HHIIHH", data[20:36])
    check((fmt, ch, rate, bits) == (1, 2, 48000, 16), f"WAV format {fmt} {ch} {rate} {bits}")
    check(data[36:40] == b"data", "WAV data chunk")
    n = struct.unpack("<I", data[40:44])[0]
    check(n == len(data) - 44 and n > 0, "WAV data size")
    pcm = array.array("h", data[44:44 + n])
    if sys.byteorder == "big":
        pcm.byteswap()
    left = pcm[0::2]
    # Skip the codec's start-up, then: the level of the tone and its pitch
    # from the zero crossings (a 440 Hz sine crosses zero 880 times a second).
    tail = left[48000 // 2:]
    check(len(tail) >= 48000, f"WAV: only {len(left) / 48000:.2f} s of audio")
    rms = math.sqrt(sum(x * x for x in tail) / len(tail)) / 32768
    crossings = sum(1 for a, b in zip(tail, tail[1:]) if (a < 0) != (b < 0))
    hz = crossings / 2 / (len(tail) / 48000)
    check(rms > 0.02, f"WAV: too quiet (rms {rms:.3f})")
    check(abs(hz - 440) < 20, f"WAV: {hz:.1f} Hz, want 440")
    return len(left) / 48000, rms, hz


def main(procs):
    srv = procs.server(SERVER)
    with tempfile.TemporaryDirectory(prefix="weft-vc-") as tmp:
        ivf, wav = os.path.join(tmp, "a.ivf"), os.path.join(tmp, "a.wav")
        common = ["--url", srv.url, "--room", "call", "--seconds", str(SECONDS),
                  "--min-frames", str(MIN_FRAMES)]
        a = procs.start("video-call-a", [VC, "--peer", "a", "--ivf", ivf, "--wav", wav] + common)
        a.wait_event(lambda e: e.get("ev") == "joined", 10, "joined")
        b = procs.start("video-call-b", [VC, "--peer", "b"] + common)
        results = {}
        for p, other in ((a, "b"), (b, "a")):
            ev = p.wait_event(lambda e: e.get("ev") == "done", SECONDS + 30, "the done line")
            check(ev["ok"] is True, f"{p.name}: not ok: {ev}")
            peers = {q["peer"]: q for q in ev["peers"]}
            check(other in peers, f"{p.name}: no stats for {other}: {ev}")
            st = peers[other]
            check(st["video_frames_decoded"] >= MIN_FRAMES, f"{p.name}: {st}")
            check(st["audio_frames_decoded"] >= MIN_FRAMES, f"{p.name}: {st}")
            check(st["video_frames_received"] >= st["video_frames_decoded"], f"{p.name}: {st}")
            results[p.name] = st
        check(a.wait_exit(15) == 0 and b.wait_exit(15) == 0, "exit codes")
        frames = check_ivf(ivf)
        secs, rms, hz = check_wav(wav)
        for name, st in results.items():
            print(f"{name}: {st['video_frames_decoded']} video frames decoded, "
                  f"{st['audio_frames_decoded']} audio frames in {SECONDS} s")
        print(f"a.ivf: {frames} frames; a.wav: {secs:.2f} s, rms {rms:.3f}, {hz:.1f} Hz")


if __name__ == "__main__":
    sys.exit(run(main))
