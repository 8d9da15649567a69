/* RFC 8832 Data Channel Establishment Protocol: parse and build. */
#include "datachannel/dcep.h"

#include <string.h>

#include <glib.h>

static bool channel_type_known(uint8_t t) {
  switch (t) {
  case WEFT__DCEP_RELIABLE:
  case WEFT__DCEP_RELIABLE_UNORDERED:
  case WEFT__DCEP_REXMIT:
  case WEFT__DCEP_REXMIT_UNORDERED:
  case WEFT__DCEP_TIMED:
  case WEFT__DCEP_TIMED_UNORDERED:
    return true;
  default:
    return false;
  }
}

int weft__dcep_parse(const uint8_t *data, size_t len, uint8_t *type, weft__dcep_open *open) {
  if (!type || (!data && len))
    return weft__error(WEFT_ERR_INVALID_ARG, "DCEP: NULL argument");
  if (len < 1)
    return weft__error(WEFT_ERR_SYNTAX, "DCEP: empty message");
  switch (data[0]) {
  case WEFT__DCEP_ACK:
    /* RFC 8832 §5.2: the ACK is the message type alone. */
    *type = WEFT__DCEP_ACK;
    return 0;
  case WEFT__DCEP_OPEN:
    break;
  default:
    return weft__error(WEFT_ERR_SYNTAX, "DCEP: unknown message type 0x%02x", data[0]);
  }
  /* RFC 8832 §5.1: 12-byte fixed header, then label and protocol. */
  if (len < WEFT__DCEP_OPEN_HEADER_LEN)
    return weft__error(WEFT_ERR_SYNTAX,
                       "DCEP: DATA_CHANNEL_OPEN truncated (%zu of 12 header bytes)", len);
  uint8_t ctype = data[1];
  if (!channel_type_known(ctype))
    return weft__error(WEFT_ERR_SYNTAX, "DCEP: unknown channel type 0x%02x", ctype);
  uint16_t label_len = weft__rd16(data + 8);
  uint16_t proto_len = weft__rd16(data + 10);
  size_t need = (size_t)WEFT__DCEP_OPEN_HEADER_LEN + label_len + proto_len;
  if (need > len)
    return weft__error(WEFT_ERR_SYNTAX,
                       "DCEP: label length %u + protocol length %u exceed the %zu-byte message",
                       label_len, proto_len, len);
  /* RFC 8832 §5.1: label and protocol are UTF-8. A NUL or an invalid
   * sequence would reach applications as a truncated or undecodable string. */
  const uint8_t *lab = data + WEFT__DCEP_OPEN_HEADER_LEN, *proto = lab + label_len;
  if (!weft__utf8_valid(lab, label_len) || memchr(lab, 0, label_len))
    return weft__error(WEFT_ERR_SYNTAX, "DCEP: the label is not valid UTF-8 (or holds a NUL)");
  if (!weft__utf8_valid(proto, proto_len) || memchr(proto, 0, proto_len))
    return weft__error(WEFT_ERR_SYNTAX, "DCEP: the protocol is not valid UTF-8 (or holds a NUL)");
  *type = WEFT__DCEP_OPEN;
  if (open) {
    open->channel_type = ctype;
    open->priority = weft__rd16(data + 2);
    open->reliability = weft__rd32(data + 4);
    open->label = (const char *)data + WEFT__DCEP_OPEN_HEADER_LEN;
    open->label_len = label_len;
    open->protocol = open->label + label_len;
    open->protocol_len = proto_len;
  }
  return 0;
}

int weft__dcep_build_open(const weft__dcep_open *o, uint8_t **out, size_t *out_len) {
  if (!o || !out || !out_len)
    return weft__error(WEFT_ERR_INVALID_ARG, "DCEP: NULL argument");
  if ((o->label_len && !o->label) || (o->protocol_len && !o->protocol))
    return weft__error(WEFT_ERR_INVALID_ARG, "DCEP: NULL label or protocol with non-zero length");
  if (!channel_type_known(o->channel_type))
    return weft__error(WEFT_ERR_INVALID_ARG, "DCEP: unknown channel type 0x%02x", o->channel_type);
  size_t n = (size_t)WEFT__DCEP_OPEN_HEADER_LEN + o->label_len + o->protocol_len;
  uint8_t *b = g_malloc(n);
  b[0] = WEFT__DCEP_OPEN;
  b[1] = o->channel_type;
  weft__wr16(b + 2, o->priority);
  /* RFC 8832 §5.1: the reliability parameter is ignored (and SHOULD be 0) for
   * the reliable types. */
  weft__wr32(b + 4, (o->channel_type & 0x7f) == WEFT__DCEP_RELIABLE ? 0 : o->reliability);
  weft__wr16(b + 8, o->label_len);
  weft__wr16(b + 10, o->protocol_len);
  if (o->label_len)
    memcpy(b + WEFT__DCEP_OPEN_HEADER_LEN, o->label, o->label_len);
  if (o->protocol_len)
    memcpy(b + WEFT__DCEP_OPEN_HEADER_LEN + o->label_len, o->protocol, o->protocol_len);
  *out = b;
  *out_len = n;
  return 0;
}

void weft__dcep_type_from_init(bool ordered, int32_t max_retransmits, int32_t max_packet_life_time,
                               uint8_t *channel_type, uint32_t *reliability) {
  uint8_t t = WEFT__DCEP_RELIABLE;
  uint32_t r = 0;
  if (max_retransmits >= 0) {
    t = WEFT__DCEP_REXMIT;
    r = (uint32_t)max_retransmits;
  } else if (max_packet_life_time >= 0) {
    t = WEFT__DCEP_TIMED;
    r = (uint32_t)max_packet_life_time;
  }
  if (!ordered)
    t |= 0x80;
  if (channel_type)
    *channel_type = t;
  if (reliability)
    *reliability = r;
}

void weft__dcep_init_from_type(uint8_t channel_type, uint32_t reliability, bool *ordered,
                               int32_t *max_retransmits, int32_t *max_packet_life_time) {
  int32_t rel = reliability > (uint32_t)INT32_MAX ? INT32_MAX : (int32_t)reliability;
  int32_t rtx = -1, life = -1;
  switch (channel_type & 0x7f) {
  case WEFT__DCEP_REXMIT:
    rtx = rel;
    break;
  case WEFT__DCEP_TIMED:
    life = rel;
    break;
  default: /* reliable, or unknown low bits: the safe reading is reliable */
    break;
  }
  if (ordered)
    *ordered = !(channel_type & 0x80);
  if (max_retransmits)
    *max_retransmits = rtx;
  if (max_packet_life_time)
    *max_packet_life_time = life;
}

uint16_t weft__dcep_priority_value(int prio) {
  switch (prio) {
  case WEFT_PRIORITY_VERY_LOW:
    return 128;
  case WEFT_PRIORITY_MEDIUM:
    return 512;
  case WEFT_PRIORITY_HIGH:
    return 1024;
  case WEFT_PRIORITY_LOW:
  default:
    return 256;
  }
}

int weft__dcep_priority_from_value(uint16_t value) {
  /* RFC 8831 §6.4 only names the four values; anything between them belongs to
   * the class whose value bounds it from above (what Chromium does). */
  if (value <= 128)
    return WEFT_PRIORITY_VERY_LOW;
  if (value <= 256)
    return WEFT_PRIORITY_LOW;
  if (value <= 512)
    return WEFT_PRIORITY_MEDIUM;
  return WEFT_PRIORITY_HIGH;
}
