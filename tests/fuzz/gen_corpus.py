#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into corpus/<target>/.

Seeds are small real inputs: the SDP files of tests/data/sdp, the RTP/RTCP
packets of tests/data/rtp/aiortc.hex, and DCEP messages and H264/VP8/Opus
payload streams built here by hand. Re-run after changing this script; the
output is committed so the tests do not need Python.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data")
OUT = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- SDP / JSEP: every sample description, valid and malformed.
for fn in sorted(os.listdir(os.path.join(DATA, "sdp"))):
    if fn.endswith(".sdp"):
        text = open(os.path.join(DATA, "sdp", fn), "rb").read()
        put("sdp", fn, text)
        put("jsep", fn, text)
# Trickled candidates for the jsep target's "#cand " path.
for i, c in enumerate([
        "candidate:842163049 1 udp 1677729535 198.51.100.7 61665 typ srflx raddr 10.0.0.2 "
        "rport 61665 generation 0 ufrag abcd network-cost 999",
        "a=candidate:1 1 UDP 2122260223 2001:db8::1 50000 typ host",
        "candidate:2 1 tcp 1518280447 192.0.2.3 9 typ host tcptype active",
        "candidate:3 1 udp 2122194687 4e2d6a3c-1111-2222-3333-444455556666.local 53211 typ host",
        "candidate:4 1 udp 41885439 203.0.113.9 3478 typ relay raddr 0.0.0.0 rport 0",
]):
    put("jsep", "cand-%d.txt" % i, "#cand " + c + "\r\n")

# --- ICE candidates and server URLs (fuzz_candidate reads both).
for i, c in enumerate([
        "candidate:842163049 1 udp 1677729535 198.51.100.7 61665 typ srflx raddr 10.0.0.2 "
        "rport 61665 generation 0 ufrag abcd network-cost 999",
        "a=candidate:1 1 UDP 2122260223 2001:db8::1 50000 typ host\r\n",
        "candidate:2 1 tcp 1518280447 192.0.2.3 9 typ host tcptype active",
        "candidate:3 2 udp 2122194687 192.0.2.4 53211 typ host",
        "candidate:4 1 udp 41885439 203.0.113.9 3478 typ relay raddr 0.0.0.0 rport 0 ufrag zzzz",
        "stun:stun.example.org:19302",
        "turn:[2001:db8::3]:3478?transport=tcp",
        "turns:turn.example.net",
]):
    put("candidate", "cand-%d.txt" % i, c)

# --- RTP/RTCP: the aiortc captures.
for line in open(os.path.join(DATA, "rtp", "aiortc.hex")):
    parts = line.split()
    if len(parts) == 2:
        put("rtp", parts[0] + ".bin", bytes.fromhex(parts[1]))
# Feedback packets: NACK, PLI, FIR, REMB (reduced-size, lone).
nack = struct.pack("!BBHII", 0x81, 205, 3, 0x11111111, 0x22222222) + struct.pack("!HH", 100, 0x8001)
pli = struct.pack("!BBHII", 0x81, 206, 2, 0x11111111, 0x22222222)
fir = struct.pack("!BBHII", 0x84, 206, 4, 0x11111111, 0) + struct.pack("!IB3x", 0x33333333, 7)
remb = (struct.pack("!BBHII", 0x8f, 206, 5, 0x11111111, 0) + b"REMB" +
        bytes([1, (3 << 2) | 0x01, 0x23, 0x45]) + struct.pack("!I", 0x22222222))
put("rtp", "nack.bin", nack)
put("rtp", "pli.bin", pli)
put("rtp", "fir.bin", fir)
put("rtp", "remb.bin", remb)
rr = struct.pack("!BBHI", 0x80, 201, 1, 0x44444444)
put("rtp", "rr_nack_pli.bin", rr + nack + pli)

# --- DCEP.
def dcep_open(ctype, prio, rel, label, proto):
    return struct.pack("!BBHIHH", 3, ctype, prio, rel, len(label), len(proto)) + label + proto
put("dcep", "open-reliable.bin", dcep_open(0x00, 256, 0, b"chat", b""))
put("dcep", "open-rexmit-unordered.bin", dcep_open(0x81, 512, 3, b"game", b"proto/1"))
put("dcep", "open-timed.bin", dcep_open(0x02, 128, 1500, b"", b"x"))
put("dcep", "ack.bin", b"\x02")

# --- Media: [codec|reorder<<2|small<<7][mtu] then [flags][len][payload]...
def stream(codec, reorder, mtu_byte, payloads):
    out = bytes([codec | (reorder << 2), mtu_byte])
    for flags, p in payloads:
        out += bytes([flags, len(p)]) + p
    return out
# Opus: 20 ms SILK/CELT TOC bytes, each payload a frame (marker unused).
put("media", "opus.bin", stream(0, 0, 40, [(0x10, bytes([0x78]) + b"\x11" * 30),
                                          (0x10, bytes([0xfc, 0x01, 0x22])),
                                          (0x12, bytes([0x7b, 0x83, 0x05]) + b"\x33" * 9)]))
# VP8: keyframe in three payloads (S=1 first), then a delta frame.
vp8_key = b"\x10\x02\x00\x9d\x01\x2a" + bytes(range(40))
put("media", "vp8.bin", stream(1, 4, 10, [
    (0x00, b"\x90\x80\x05" + vp8_key[:20]),
    (0x00, b"\x80\x80\x05" + vp8_key[20:35]),
    (0x01, b"\x80\x80\x05" + vp8_key[35:]),
    (0x11, b"\x90\x80\x06" + b"\x01\x02\x03\x04"),
    (0x05, b"\x90\x80\x07" + b"\x01\x05"),  # gap, next frame
]))
# H264: SPS+PPS in a STAP-A, an IDR in FU-A fragments, then a single P slice.
sps = b"\x67\x42\xc0\x1f\xda\x01\x40\x16\xe8"
pps = b"\x68\xce\x3c\x80"
idr = b"\x65\x88\x84" + bytes(range(1, 60))
stap = b"\x18" + struct.pack("!H", len(sps)) + sps + struct.pack("!H", len(pps)) + pps
fu = [b"\x7c\x85" + idr[1:20], b"\x7c\x05" + idr[20:40], b"\x7c\x45" + idr[40:]]
put("media", "h264.bin", stream(2, 2, 8, [(0x00, stap), (0x00, fu[0]), (0x00, fu[1]), (0x01, fu[2]),
                                         (0x11, b"\x41\x9a\x22\x33\x44"),
                                         (0x17, b"\x41\x9a\x55\x66")]))
put("media", "h264-reorder.bin", stream(3, 8, 4, [(0x00, stap), (0x04, fu[1]), (0x06, fu[0]),
                                                 (0x04, fu[2] ), (0x01, b"\x09\xf0")]))

# --- demux: one datagram of each class.
for name, b in [("stun", b"\x00\x01\x00\x00\x21\x12\xa4\x42"), ("dtls", b"\x16\xfe\xfd\x00"),
                ("rtp", b"\x80\x60\x00\x01"), ("rtcp", b"\x80\xc8\x00\x06"), ("turn", b"\x40\x00"),
                ("zrtp", b"\x10\x00")]:
    put("demux", name + ".bin", b)
