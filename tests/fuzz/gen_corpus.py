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


# --- SRTP: [profile] then [op][len16][bytes]: round trips, forged, flipped, forget.
def op(o, b):
    return bytes([o]) + struct.pack("!H", len(b)) + b
rtp_hdr = struct.pack("!BBHII", 0x80, 111, 1000, 160000, 0x11111111)
rtp_ext = (struct.pack("!BBHII", 0x90, 96, 7, 3000, 0x22222222) +
           struct.pack("!HH", 0xBEDE, 1) + bytes([0x40, 0x31, 0, 0]))
rtcp_rr = struct.pack("!BBHI", 0x80, 201, 1, 0x11111111)
put("srtp", "roundtrip-80.bin", bytes([0]) + op(0, rtp_hdr + b"\x11" * 40) +
    op(0, rtp_hdr[:2] + b"\x03\xe9" + rtp_hdr[4:] + b"\x22" * 20) + op(1, rtcp_rr + nack) +
    op(0, rtp_hdr + b"\x11" * 40))  # the last one is a replay
put("srtp", "roundtrip-32.bin", bytes([1]) + op(0, rtp_ext + b"\x33" * 100) + op(1, rr + pli))
put("srtp", "forged.bin", bytes([0]) + op(2, rtp_hdr + b"\x44" * 30) + op(3, rtcp_rr + b"\x80" +
    b"\x00" * 3 + b"\x55" * 10) + op(2, b"\x80\x60") + op(3, rtcp_rr))
put("srtp", "flip-forget.bin", bytes([0]) + op(4, rtp_hdr + b"\x66" * 20) +
    op(12, rtcp_rr + pli) + op(5, b"\x11\x11\x11\x11") + op(0, rtp_hdr + b"\x11" * 40))

# --- RTP media model (lib/jsep/media.c): the audio/video descriptions.
for fn in sorted(os.listdir(os.path.join(DATA, "sdp"))):
    if fn.endswith(".sdp") and not fn.startswith("malformed"):
        text = open(os.path.join(DATA, "sdp", fn), "rb").read()
        if b"m=audio" in text or b"m=video" in text:
            put("sdpmedia", fn, text)
put("sdpmedia", "edge-attrs.sdp",
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 0 35\r\nc=IN IP4 0.0.0.0\r\na=mid:v\r\n"
    "a=rtcp-mux\r\na=rtcp-rsize\r\na=recvonly\r\n"
    "a=extmap:4/sendonly urn:ietf:params:rtp-hdrext:sdes:mid\r\na=extmap:255 urn:x ext-attr\r\n"
    "a=msid:stream track\r\na=rtpmap:96 VP8/90000\r\na=rtpmap:97 rtx/90000\r\n"
    "a=fmtp:97 apt=96\r\na=rtpmap:98 H264/90000\r\n"
    "a=fmtp:98 packetization-mode=1;profile-level-id=640c1f\r\na=rtcp-fb:* nack\r\n"
    "a=rtcp-fb:96  nack   pli\r\na=rtcp-fb:98 ccm fir\r\na=rtcp-fb:98 transport-cc\r\n"
    "a=ssrc-group:FID 1 2\r\na=ssrc:1 cname:c 1\r\na=ssrc:1 msid:stream track\r\n"
    "a=ssrc:2 cname:c\r\na=ssrc:3 label:x\r\n"
    "m=audio 0 UDP/TLS/RTP/SAVPF 111 8\r\nc=IN IP4 0.0.0.0\r\na=bundle-only\r\na=mid:a\r\n"
    "a=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n"
    "m=audio 9 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\na=sendrecv\r\n")

# --- DTLS: [role] then [len16][datagram]... A DTLS 1.2 ClientHello as
# browsers send it (suites, groups, signature algorithms, use_srtp, EMS).
def ext(t, body):
    return struct.pack("!HH", t, len(body)) + body
ch_body = (b"\xfe\xfd" + bytes(range(32)) + b"\x00" + b"\x00" +
           struct.pack("!H", 6) + struct.pack("!HHH", 0xc02b, 0xc02c, 0xcca9) + b"\x01\x00")
exts = (ext(0x000a, struct.pack("!H", 4) + struct.pack("!HH", 0x001d, 0x0017)) +
        ext(0x000b, b"\x01\x00") +
        ext(0x000d, struct.pack("!H", 4) + struct.pack("!HH", 0x0403, 0x0804)) +
        ext(0x000e, struct.pack("!H", 4) + struct.pack("!HH", 0x0001, 0x0002) + b"\x00") +
        ext(0x0017, b"") + ext(0xff01, b"\x00"))
ch_body += struct.pack("!H", len(exts)) + exts
def hs(msg_type, seq, body, off=0, flen=None):
    flen = len(body) - off if flen is None else flen
    return (bytes([msg_type]) + struct.pack("!I", len(body))[1:] + struct.pack("!H", seq) +
            struct.pack("!I", off)[1:] + struct.pack("!I", flen)[1:] + body[off:off + flen])
def record(ctype, payload, epoch=0, seq=0, version=b"\xfe\xfd"):
    return (bytes([ctype]) + version + struct.pack("!H", epoch) + struct.pack("!Q", seq)[2:] +
            struct.pack("!H", len(payload)) + payload)
def dgrams(role, *ds):
    return bytes([role]) + b"".join(struct.pack("!H", len(d)) + d for d in ds)
whole = record(22, hs(1, 0, ch_body), version=b"\xfe\xff")
put("dtls", "server-clienthello.bin", dgrams(0, whole))
third = len(ch_body) // 3
frags = [record(22, hs(1, 0, ch_body, 0, third), seq=0),
         record(22, hs(1, 0, ch_body, third, third), seq=1),
         record(22, hs(1, 0, ch_body, 2 * third), seq=2)]
put("dtls", "server-fragmented.bin", dgrams(0, frags[2], frags[0], frags[1]))
put("dtls", "server-one-datagram.bin", dgrams(0, frags[0] + frags[1] + frags[2]))
put("dtls", "server-overlap.bin",
    dgrams(0, record(22, hs(1, 0, ch_body, 0, 50) + hs(1, 0, ch_body, 40, 60)),
           record(22, hs(1, 0, ch_body, 90)), record(22, hs(1, 0, ch_body, 0, 10), seq=9)))
put("dtls", "server-garbage.bin",
    dgrams(0, record(23, b"\x00" * 20), record(21, b"\x02\x28"), record(20, b"\x01"),
           record(22, hs(11, 0, b"\x00" * 20)), record(22, hs(1, 0, ch_body), epoch=1),
           whole[:40], b"\x16\xfe\xfd"))
sh_body = (b"\xfe\xfd" + bytes(range(32, 64)) + b"\x00" + struct.pack("!H", 0xc02b) + b"\x00")
sh_exts = ext(0x000e, struct.pack("!H", 2) + struct.pack("!H", 1) + b"\x00") + ext(0x0017, b"")
sh_body += struct.pack("!H", len(sh_exts)) + sh_exts
put("dtls", "client-serverhello.bin",
    dgrams(1, record(22, hs(2, 0, sh_body)) + record(22, hs(14, 1, b""), seq=1)))
put("dtls", "client-garbage.bin",
    dgrams(1, record(23, b"\x00" * 20), record(22, hs(20, 5, b"\x00" * 12), epoch=1),
           record(21, b"\x01\x00"), record(22, hs(1, 0, ch_body))))

# --- SCTP notifications: [len16 BE][struct in host (little-endian) order].
def note(b):
    return struct.pack("!H", len(b)) + b
def assoc_change(state, error=0):
    return struct.pack("<HHIHHHHI", 0x0001, 0, 20, state, error, 1024, 1024, 1)
def stream_reset(flags, ids, length=None):
    body = struct.pack("<HHII", 0x0009, flags, 12 + 2 * len(ids) if length is None else length, 1)
    return body + b"".join(struct.pack("<H", i) for i in ids)
put("sctp", "up-reset-lost.bin", note(assoc_change(1)) + note(stream_reset(1, [1, 3, 5])) +
    note(stream_reset(2, [2, 4000])) + note(assoc_change(2, 12)))
put("sctp", "denied-shutdown.bin", note(stream_reset(4, [7])) + note(stream_reset(8, [9, 10])) +
    note(stream_reset(0, [11])) + note(assoc_change(4)) + note(assoc_change(1)))
put("sctp", "restart-cant.bin", note(assoc_change(3)) + note(assoc_change(5, 3)) +
    note(struct.pack("<HHI", 0x000a, 0, 12) + b"\x00" * 4) + note(struct.pack("<HHI", 0x0002, 0, 8)))
put("sctp", "short-length.bin", note(stream_reset(1, [1, 2, 3], length=14)) +
    note(stream_reset(1, [1, 2], length=100)))

# --- pc receive path: [op][len16][bytes]; op%3: 0 RTP, 1 RTCP (both protected
# by the harness with the remote's keys), 2 raw. SSRCs: audio 1111, video
# 2222 (+rtx 3333); ours 0x0a0a0a0a / 0x0b0b0b0b; MID extension id 4.
def rtp(pt, seq, ts, ssrc, payload, marker=False, ext_mid=None):
    b0 = 0x80 | (0x10 if ext_mid is not None else 0)
    h = struct.pack("!BBHII", b0, pt | (0x80 if marker else 0), seq, ts, ssrc)
    if ext_mid is not None:
        e = bytes([(4 << 4) | (len(ext_mid) - 1)]) + ext_mid
        e += b"\x00" * (-len(e) % 4)
        h += struct.pack("!HH", 0xBEDE, len(e) // 4) + e
    return h + payload
opus_pkts = b"".join(op(0, rtp(111, 100 + i, 960 * i, 1111, b"\x78" + bytes([i]) * 30, True))
                     for i in range(4))
pcmu = op(0, rtp(0, 7, 160, 1111, b"\xff" * 160, True))
put("pcmedia", "audio.bin", opus_pkts + pcmu)
vp8 = (op(0, rtp(96, 10, 9000, 2222, b"\x90\x80\x05" + vp8_key[:20])) +
       op(0, rtp(96, 11, 9000, 2222, b"\x80\x80\x05" + vp8_key[20:35])) +
       op(0, rtp(96, 12, 9000, 2222, b"\x80\x80\x05" + vp8_key[35:], True)) +
       op(0, rtp(96, 14, 12000, 2222, b"\x90\x80\x06" + b"\x01\x02\x03", True)))
put("pcmedia", "vp8-gap.bin", vp8)
h264 = (op(0, rtp(102, 500, 3000, 2222, stap)) + op(0, rtp(102, 501, 3000, 2222, fu[0])) +
        op(0, rtp(102, 502, 3000, 2222, fu[1])) + op(0, rtp(102, 503, 3000, 2222, fu[2], True)) +
        op(0, rtp(102, 504, 6000, 2222, b"\x41\x9a\x22\x33\x44", True)))
put("pcmedia", "h264.bin", h264)
put("pcmedia", "mid-routed.bin", op(0, rtp(96, 1, 90, 0x77777777, b"\x90\x80\x05" + vp8_key,
                                              True, ext_mid=b"1")) +
    op(0, rtp(97, 2, 90, 3333, b"\x00\x0a" + b"\x90\x80\x05", True)))
sr = struct.pack("!BBHIIIIII", 0x81, 200, 12, 1111, 0xe0000000, 0, 1234, 10, 1000) + \
     struct.pack("!IIIIII", 0x0a0a0a0a, 0, 5, 0, 0x10000, 0x100)
sdes = struct.pack("!BBHI", 0x81, 202, 3, 2222) + b"\x01\x04fuzz\x00\x00"
bye = struct.pack("!BBHI", 0x81, 203, 1, 2222)
nack_v = struct.pack("!BBHII", 0x81, 205, 3, 2222, 0x0b0b0b0b) + struct.pack("!HH", 0, 0xffff)
pli_v = struct.pack("!BBHII", 0x81, 206, 2, 2222, 0x0b0b0b0b)
fir_v = struct.pack("!BBHII", 0x84, 206, 4, 2222, 0) + struct.pack("!IB3x", 0x0b0b0b0b, 1)
rr_a = struct.pack("!BBHI", 0x81, 201, 7, 1111) + struct.pack("!IIIIII", 0x0a0a0a0a, 0, 5, 0, 0, 0)
put("pcmedia", "rtcp.bin", op(1, sr + sdes) + op(1, rr_a + nack_v) + op(1, struct.pack(
    "!BBHI", 0x80, 201, 1, 2222) + pli_v + fir_v) + op(1, rr_a + bye))
put("pcmedia", "forged.bin", op(2, rtp(111, 1, 1, 1111, b"\x00" * 30)) +
    op(2, struct.pack("!BBHI", 0x80, 201, 1, 1111) + b"\x80\x00\x00\x01" + b"\x00" * 10) +
    op(2, b"\x80"))

# --- Signaling: room messages (doc/rooms.md), RFC 8840 fragments, offers.
for name, text in [
        ("join.json", '{"type":"join","room":"lobby","peer":"alice","name":"Alice \\u00e9"}'),
        ("offer.json", '{"type":"offer","to":"bob","sdp":"v=0\\r\\no=- 1 1 IN IP4 0.0.0.0\\r\\n"}'),
        ("candidate.json", '{"type":"candidate","to":"bob","candidate":null,"sdpMid":"0",'
                           '"sdpMLineIndex":0,"extra":[1,2.5,true,{"x":"\\u0001"}]}'),
        ("frag.txt", "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n"
                     "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\n"
                     "a=candidate:1 1 udp 2130706431 127.0.0.1 51234 typ host\r\n"
                     "a=end-of-candidates\r\n"),
        ("frag-index.txt", "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"
                           "a=ice-ufrag:u2\r\na=candidate:2 1 tcp 1 ::1 9 typ host tcptype active\r\n"
                           "a=candidate:3 1 udp 5 192.0.2.1 7 typ srflx raddr 0.0.0.0 rport 0\n"),
]:
    put("signaling", name, text)
put("signaling", "chromium-data-offer.sdp",
    open(os.path.join(DATA, "sdp", "chromium-data-offer.sdp"), "rb").read())
put("signaling", "firefox-data-offer.sdp",
    open(os.path.join(DATA, "sdp", "firefox-data-offer.sdp"), "rb").read())
