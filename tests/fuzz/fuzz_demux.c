/*
 * Fuzz target: the datagram demultiplexer (lib/demux; RFC 7983 §7, RFC 5761
 * §4). Cheap, but it decides which parser every received byte reaches.
 *
 * Invariants: the class depends on the first byte only (and on emptiness),
 * exactly as the RFC 7983 ranges say; is_rtcp implies the RTP/RTCP class
 * and agrees with the rtp/ layer's narrower test.
 */
#include "demux/demux.h"
#include "fuzz_common.h"
#include "rtp/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  weft__demux_kind k = weft__demux_classify(data, size);
  if (size == 0) {
    FUZZ_CHECK(k == WEFT__DEMUX_DROP);
    FUZZ_CHECK(!weft__demux_is_rtcp(data, size));
    return 0;
  }
  uint8_t b = data[0];
  weft__demux_kind want = b <= 3                 ? WEFT__DEMUX_STUN
                          : b >= 16 && b <= 19   ? WEFT__DEMUX_ZRTP
                          : b >= 20 && b <= 63   ? WEFT__DEMUX_DTLS
                          : b >= 64 && b <= 79   ? WEFT__DEMUX_TURN_CHANNEL
                          : b >= 128 && b <= 191 ? WEFT__DEMUX_RTP
                                                 : WEFT__DEMUX_DROP;
  FUZZ_CHECK(k == want);
  FUZZ_CHECK(weft__demux_classify(data, 1) == k);
  bool rtcp = weft__demux_is_rtcp(data, size);
  if (rtcp) {
    FUZZ_CHECK(k == WEFT__DEMUX_RTP && size >= 2);
    unsigned pt = data[1] & 0x7f;
    FUZZ_CHECK(pt >= 64 && pt <= 95);
  } else if (k == WEFT__DEMUX_RTP && size >= 2) {
    unsigned pt = data[1] & 0x7f;
    FUZZ_CHECK(pt < 64 || pt > 95);
  }
  if (weft__rtp_is_rtcp(data, size))
    FUZZ_CHECK(rtcp);
  return 0;
}
