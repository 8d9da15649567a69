/*
 * datachannel/dcep — the Data Channel Establishment Protocol codec (RFC 8832).
 *
 * Pure functions: no I/O, no state, no allocation except weft__dcep_build_open.
 * Safe to call from any thread.
 */
#ifndef WEFT_DATACHANNEL_DCEP_H
#define WEFT_DATACHANNEL_DCEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* SCTP payload protocol identifiers of RFC 8831 §8 (52/54 are deprecated
 * partial PPIDs: accepted on receive, never sent). */
enum {
  WEFT__PPID_DCEP = 50,
  WEFT__PPID_STRING = 51,
  WEFT__PPID_BINARY_PARTIAL = 52,
  WEFT__PPID_BINARY = 53,
  WEFT__PPID_STRING_PARTIAL = 54,
  WEFT__PPID_STRING_EMPTY = 56,
  WEFT__PPID_BINARY_EMPTY = 57
};

/* RFC 8832 §8.2.1 message types. */
enum { WEFT__DCEP_ACK = 0x02, WEFT__DCEP_OPEN = 0x03 };

/* RFC 8832 §5.1 channel types (bit 0x80 = unordered). */
enum {
  WEFT__DCEP_RELIABLE = 0x00,
  WEFT__DCEP_RELIABLE_UNORDERED = 0x80,
  WEFT__DCEP_REXMIT = 0x01,
  WEFT__DCEP_REXMIT_UNORDERED = 0x81,
  WEFT__DCEP_TIMED = 0x02,
  WEFT__DCEP_TIMED_UNORDERED = 0x82
};

/* Fixed part of DATA_CHANNEL_OPEN before label and protocol (RFC 8832 §5.1). */
enum { WEFT__DCEP_OPEN_HEADER_LEN = 12 };

typedef struct weft__dcep_open {
  uint8_t channel_type; /* RFC 8832 §5.1: 0x00 reliable, 0x80 reliable unordered, 0x01/0x81 rexmit,
                           0x02/0x82 timed */
  uint16_t priority;
  uint32_t reliability; /* rexmits or ms */
  const char *label;    /* point into the parsed buffer (not NUL-terminated) */
  uint16_t label_len;
  const char *protocol;
  uint16_t protocol_len;
} weft__dcep_open;

/* Parses a DCEP message (PPID 50). Returns 0 and *type; fills *open for OPEN
 * (label/protocol point into @data, which must outlive *open). @open may be
 * NULL when the caller only wants the type. Bytes after the protocol field are
 * ignored. Errors: WEFT_ERR_SYNTAX for an empty message, a truncated header,
 * label/protocol lengths beyond the message, an unknown channel type or an
 * unknown message type; WEFT_ERR_INVALID_ARG for NULL @data/@type. */
int weft__dcep_parse(const uint8_t *data, size_t len, uint8_t *type, weft__dcep_open *open);

/* Builds DATA_CHANNEL_OPEN into a new g_malloc'd buffer (*out, free with
 * g_free). label/protocol may be NULL when their length is 0. The length
 * fields are uint16_t, so the 65535-byte limit is in the type; INVALID_ARG for
 * NULL pointers with a non-zero length or an unknown channel type. */
int weft__dcep_build_open(const weft__dcep_open *o, uint8_t **out, size_t *out_len);

/* Builds the 1-byte DATA_CHANNEL_ACK (RFC 8832 §5.2) into @out[0]. */
static inline void weft__dcep_build_ack(uint8_t out[1]) { out[0] = WEFT__DCEP_ACK; }

/* Mapping between W3C RTCDataChannelInit fields and channel_type/reliability
 * (-1 = unset). If both limits are set, max_retransmits wins (the W3C API
 * rejects that combination before it gets here). */
void weft__dcep_type_from_init(bool ordered, int32_t max_retransmits, int32_t max_packet_life_time,
                               uint8_t *channel_type, uint32_t *reliability);
/* Reverse mapping; reliability values above INT32_MAX are clamped. */
void weft__dcep_init_from_type(uint8_t channel_type, uint32_t reliability, bool *ordered,
                               int32_t *max_retransmits, int32_t *max_packet_life_time);

/* W3C priority (weft_priority) <-> RFC 8832 §5.1 / RFC 8831 §6.4 priority
 * values (very-low 128, low 256, medium 512, high 1024). Unknown weft values
 * map to low (the W3C default); any 16-bit value maps to the nearest class at
 * or above it. */
uint16_t weft__dcep_priority_value(int weft_priority);
int weft__dcep_priority_from_value(uint16_t value);

#endif
