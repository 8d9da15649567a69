/*
 * demux/ — sorts the datagrams arriving on the one bundled ICE component
 * into the protocol that must read them (RFC 7983), and RTP from RTCP
 * (RFC 5761). Pure functions: no state, no allocation, any thread.
 */
#ifndef WEFT_DEMUX_H
#define WEFT_DEMUX_H

#include "core/core.h"

typedef enum weft__demux_kind {
  WEFT__DEMUX_DROP = 0,
  WEFT__DEMUX_STUN,
  WEFT__DEMUX_ZRTP,
  WEFT__DEMUX_DTLS,
  WEFT__DEMUX_TURN_CHANNEL,
  WEFT__DEMUX_RTP
} weft__demux_kind;

/* Classifies a datagram by its first byte (RFC 7983 §7): 0-3 STUN, 16-19
 * ZRTP, 20-63 DTLS, 64-79 TURN channel, 128-191 RTP/RTCP; any other value and
 * an empty datagram give WEFT__DEMUX_DROP. @data may be NULL when @len is 0. */
weft__demux_kind weft__demux_classify(const uint8_t *data, size_t len);

/* True if an RTP/RTCP datagram is RTCP: RFC 5761 §4, the second byte with
 * the marker bit masked off is 64-95 (RTCP packet types 192-223). False for
 * anything that is not RTP/RTCP (first byte outside 128-191) or shorter than
 * two bytes. */
bool weft__demux_is_rtcp(const uint8_t *data, size_t len);

#endif
