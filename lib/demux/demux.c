/* RFC 7983 first-byte demultiplexing and the RFC 5761 RTP/RTCP split. */
#include "demux/demux.h"

/*
 * RFC 7983 §7 (updating RFC 5764 §5.1.2):
 *
 *                  +----------------+
 *                  |        [0..3] -+--> forward to STUN
 *                  |                |
 *                  |      [16..19] -+--> forward to ZRTP
 *                  |                |
 *      packet -->  |      [20..63] -+--> forward to DTLS
 *                  |                |
 *                  |      [64..79] -+--> forward to TURN Channel
 *                  |                |
 *                  |    [128..191] -+--> forward to RTP/RTCP
 *                  +----------------+
 *
 * Every other first byte is unassigned and the packet is dropped (§7: "if
 * the value ... does not match any of the ranges, the packet MUST be
 * dropped").
 */
weft__demux_kind weft__demux_classify(const uint8_t *data, size_t len) {
  if (len == 0 || data == NULL)
    return WEFT__DEMUX_DROP;
  uint8_t b = data[0];
  if (b <= 3)
    return WEFT__DEMUX_STUN;
  if (b >= 16 && b <= 19)
    return WEFT__DEMUX_ZRTP;
  if (b >= 20 && b <= 63)
    return WEFT__DEMUX_DTLS;
  if (b >= 64 && b <= 79)
    return WEFT__DEMUX_TURN_CHANNEL;
  if (b >= 128 && b <= 191)
    return WEFT__DEMUX_RTP;
  return WEFT__DEMUX_DROP;
}

bool weft__demux_is_rtcp(const uint8_t *data, size_t len) {
  if (len < 2 || weft__demux_classify(data, len) != WEFT__DEMUX_RTP)
    return false;
  /* RFC 5761 §4: RTCP packet types 192-223 read, through the RTP header's
   * marker bit, as payload types 64-95; RTP must not use those (§4 also
   * forbids dynamic RTP payload types in that range when multiplexing). */
  uint8_t pt = data[1] & 0x7f;
  return pt >= 64 && pt <= 95;
}
