#!/usr/bin/python3
"""Regenerates aiortc.hex: RTP/RTCP packets serialized by aiortc 1.4 (Debian
python3-aiortc), an independent implementation, for tests/unit/test_rtp.c.
Run: /usr/bin/python3 tests/data/rtp/gen_aiortc.py > tests/data/rtp/aiortc.hex
Each line: name, a space, the packet in hex. test_rtp.c hardcodes the values
used here; keep the two in step."""
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc import rtp as r

out = []


def emit(name, data):
    out.append(f"{name} {bytes(data).hex()}")


# Chromium's extmap ids: audio-level 1, abs-send-time 2, transport-cc 3, mid 4.
m = r.HeaderExtensionsMap()
m.configure(RTCRtpParameters(headerExtensions=[
    RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
    RTCRtpHeaderExtensionParameters(
        id=2, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"),
    RTCRtpHeaderExtensionParameters(
        id=3, uri="http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"),
    RTCRtpHeaderExtensionParameters(id=4, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
]))
p = r.RtpPacket(payload_type=111, marker=1, sequence_number=65535, timestamp=0xdeadbeef,
                ssrc=0x01020304, payload=b"opus-frame")
p.csrc = [7, 8]
p.extensions.mid = "0"
p.extensions.audio_level = (True, 42)
p.extensions.abs_send_time = 0x123456
p.extensions.transport_sequence_number = 0x0102
emit("rtp_one_byte", p.serialize(m))

# A mid longer than 16 bytes forces the two-byte form (RFC 8285 §4.3).
p = r.RtpPacket(payload_type=96, sequence_number=1, timestamp=90000, ssrc=0xcafe, payload=b"vp8")
p.extensions.mid = "a-rather-long-mid-value"
emit("rtp_two_byte", p.serialize(m))

p = r.RtpPacket(payload_type=96, sequence_number=2, timestamp=3, ssrc=4, payload=b"\x01\x02")
p.padding_size = 8
emit("rtp_padding", p.serialize())

sr = r.RtcpSrPacket(ssrc=0x11111111, sender_info=r.RtcpSenderInfo(
    ntp_timestamp=0xe8a1b2c3d4e5f607, rtp_timestamp=123456, packet_count=500, octet_count=60000),
    reports=[r.RtcpReceiverInfo(ssrc=0x22222222, fraction_lost=25, packets_lost=-3,
                                highest_sequence=0x1ffff, jitter=40, lsr=0x12345678, dlsr=0x10000),
             r.RtcpReceiverInfo(ssrc=0x33333333, fraction_lost=0, packets_lost=70000,
                                highest_sequence=7, jitter=0, lsr=0, dlsr=0)])
sdes = r.RtcpSdesPacket(chunks=[r.RtcpSourceInfo(ssrc=0x11111111, items=[(1, b"{aiortc-cname}")])])
bye = r.RtcpByePacket(sources=[0x11111111])
emit("sr_sdes_bye", bytes(sr) + bytes(sdes) + bytes(bye))

rr = r.RtcpRrPacket(ssrc=0x44444444, reports=[r.RtcpReceiverInfo(
    ssrc=0x55555555, fraction_lost=255, packets_lost=0, highest_sequence=65536 * 3 + 9,
    jitter=1234, lsr=0xabcdef01, dlsr=0x00020000)])
emit("rr", bytes(rr))

emit("nack", bytes(r.RtcpRtpfbPacket(fmt=r.RTCP_RTPFB_NACK, ssrc=1, media_ssrc=2,
                                     lost=[100, 101, 103, 116, 117, 200])))
# (aiortc 1.4 cannot pack a NACK list that wraps 65535 -> 0: "negative shift
# count"; weft's own wraparound test covers that case.)
emit("pli", bytes(r.RtcpPsfbPacket(fmt=r.RTCP_PSFB_PLI, ssrc=7, media_ssrc=8)))
emit("remb", bytes(r.RtcpPsfbPacket(fmt=r.RTCP_PSFB_APP, ssrc=7, media_ssrc=0,
                                    fci=r.pack_remb_fci(2000000, [0xdeadbeef]))))
print("\n".join(out))
