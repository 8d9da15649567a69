/* RTP header parse/write (RFC 3550 §5.1), header extensions (RFC 8285),
 * sequence-number bookkeeping (RFC 3550 §A.1, §A.3) and RTP/RTCP demux
 * (RFC 5761 §4). */
#include "rtp/rtp.h"

#include <string.h>

static bool is_two_byte(uint16_t profile) {
  return (profile & WEFT__RTP_EXT_TWO_BYTE_MASK) == WEFT__RTP_EXT_TWO_BYTE;
}

/* Walks one RFC 8285 element starting at *pp. Returns 1 with *ext filled,
 * 0 at the end of the block, -1 when the element runs past @end. Shared by the
 * parser (which turns -1 into an error) and the iterator (which runs only on
 * blocks the parser accepted). */
static int ext_step(const uint8_t **pp, const uint8_t *end, bool two_byte, weft__rtp_ext *ext) {
  const uint8_t *p = *pp;
  for (;;) {
    if (p >= end) {
      *pp = end;
      return 0;
    }
    if (p[0] == 0) {
      /* RFC 8285 §4.2 / §4.3: a zero byte is padding between or after elements. */
      p++;
      continue;
    }
    if (!two_byte) {
      uint8_t id = p[0] >> 4;
      size_t l = (size_t)(p[0] & 0x0f) + 1;
      if (id == 15) {
        /* RFC 8285 §4.2: ID 15 is reserved; stop processing the block here and
         * keep only the elements before it. */
        *pp = end;
        return 0;
      }
      if (id == 0) {
        /* RFC 8285 §4.2 reserves ID 0 for padding, which is a whole zero
         * byte. ID 0 with a non-zero length is no valid element and its length
         * cannot be trusted to find the next one: stop here, as for ID 15,
         * keeping the elements before it. */
        *pp = end;
        return 0;
      }
      if ((size_t)(end - p) < 1 + l)
        return -1;
      ext->id = id;
      ext->data = p + 1;
      ext->len = l;
      *pp = p + 1 + l;
      return 1;
    }
    /* RFC 8285 §4.3: ID byte, length byte (0..255), data. */
    if (end - p < 2)
      return -1;
    size_t l = p[1];
    if ((size_t)(end - p) < 2 + l)
      return -1;
    ext->id = p[0];
    ext->data = p + 2;
    ext->len = l;
    *pp = p + 2 + l;
    return 1;
  }
}

int weft__rtp_parse(const uint8_t *data, size_t len, weft__rtp_packet *out) {
  if (!out || (!data && len))
    return weft__error(WEFT_ERR_INVALID_ARG, "RTP: NULL argument");
  if (len < WEFT__RTP_HEADER_LEN)
    return weft__error(WEFT_ERR_SYNTAX, "RTP: %zu bytes, shorter than the 12-byte header", len);
  /* RFC 3550 §5.1: V=2 is the only version in use. */
  if ((data[0] >> 6) != WEFT__RTP_VERSION)
    return weft__error(WEFT_ERR_SYNTAX, "RTP: version %u, expected 2", data[0] >> 6);
  memset(out, 0, sizeof *out);
  out->padding = (data[0] & 0x20) != 0;
  out->extension = (data[0] & 0x10) != 0;
  out->csrc_count = data[0] & 0x0f;
  out->marker = (data[1] & 0x80) != 0;
  out->payload_type = data[1] & 0x7f;
  out->seq = weft__rd16(data + 2);
  out->timestamp = weft__rd32(data + 4);
  out->ssrc = weft__rd32(data + 8);
  size_t off = WEFT__RTP_HEADER_LEN;
  size_t csrc_bytes = (size_t)out->csrc_count * 4;
  if (len - off < csrc_bytes)
    return weft__error(WEFT_ERR_SYNTAX, "RTP: CSRC count %u needs %zu bytes, only %zu left",
                       out->csrc_count, csrc_bytes, len - off);
  out->csrcs = data + off;
  off += csrc_bytes;
  if (out->extension) {
    /* RFC 3550 §5.3.1: 16-bit profile-defined value, 16-bit length in 32-bit
     * words not counting the 4-byte block header. */
    if (len - off < 4)
      return weft__error(WEFT_ERR_SYNTAX, "RTP: extension header truncated (%zu of 4 bytes)",
                         len - off);
    out->ext_profile = weft__rd16(data + off);
    size_t ext_len = (size_t)weft__rd16(data + off + 2) * 4;
    off += 4;
    if (len - off < ext_len)
      return weft__error(WEFT_ERR_SYNTAX,
                         "RTP: extension length %zu bytes runs past the packet (%zu left)", ext_len,
                         len - off);
    out->ext_data = data + off;
    out->ext_len = ext_len;
    off += ext_len;
    if (out->ext_profile == WEFT__RTP_EXT_ONE_BYTE || is_two_byte(out->ext_profile)) {
      const uint8_t *p = out->ext_data, *end = p + ext_len;
      weft__rtp_ext e;
      int r;
      while ((r = ext_step(&p, end, is_two_byte(out->ext_profile), &e)) == 1) {
      }
      if (r < 0)
        return weft__error(WEFT_ERR_SYNTAX,
                           "RTP: RFC 8285 %s-byte extension element at offset %zu runs past its "
                           "%zu-byte block",
                           is_two_byte(out->ext_profile) ? "two" : "one",
                           (size_t)(p - out->ext_data), ext_len);
    }
  }
  out->header_len = off;
  size_t body = len - off;
  if (out->padding) {
    /* RFC 3550 §5.1: the last octet counts the padding octets, itself included. */
    if (body == 0)
      return weft__error(WEFT_ERR_SYNTAX, "RTP: padding bit set but no byte after the header");
    uint8_t pad = data[len - 1];
    if (pad == 0)
      return weft__error(WEFT_ERR_SYNTAX, "RTP: padding count 0 (must count itself)");
    if (pad > body)
      return weft__error(WEFT_ERR_SYNTAX,
                         "RTP: padding count %u larger than the %zu bytes after the header", pad,
                         body);
    out->padding_len = pad;
    body -= pad;
  }
  out->payload = data + off;
  out->payload_len = body;
  return 0;
}

void weft__rtp_ext_iter_init(weft__rtp_ext_iter *it, const weft__rtp_packet *pkt) {
  it->p = it->end = NULL;
  it->two_byte = false;
  if (!pkt->extension || !pkt->ext_data)
    return;
  if (pkt->ext_profile != WEFT__RTP_EXT_ONE_BYTE && !is_two_byte(pkt->ext_profile))
    return;
  it->p = pkt->ext_data;
  it->end = pkt->ext_data + pkt->ext_len;
  it->two_byte = is_two_byte(pkt->ext_profile);
}

bool weft__rtp_ext_next(weft__rtp_ext_iter *it, weft__rtp_ext *ext) {
  if (!it->p)
    return false;
  /* The parser validated the block, so -1 cannot happen; stop anyway. */
  if (ext_step(&it->p, it->end, it->two_byte, ext) == 1)
    return true;
  it->p = it->end;
  return false;
}

bool weft__rtp_ext_find(const weft__rtp_packet *pkt, uint8_t id, weft__rtp_ext *ext) {
  weft__rtp_ext_iter it;
  weft__rtp_ext e;
  weft__rtp_ext_iter_init(&it, pkt);
  while (weft__rtp_ext_next(&it, &e)) {
    if (e.id == id) {
      *ext = e;
      return true;
    }
  }
  return false;
}

/* RFC 8285 §4.2: the one-byte form carries ids 1..14 (15 is reserved) and
 * 1..16 data bytes; anything else needs the two-byte form (§4.3). */
static bool needs_two_byte(const weft__rtp_ext *exts, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (exts[i].id > 14 || exts[i].len == 0 || exts[i].len > 16)
      return true;
  return false;
}

size_t weft__rtp_ext_block_size(const weft__rtp_ext *exts, size_t n, bool two_byte) {
  if (n == 0)
    return 0;
  bool two = two_byte || needs_two_byte(exts, n);
  size_t body = 0;
  for (size_t i = 0; i < n; i++)
    body += (two ? 2 : 1) + exts[i].len;
  return 4 + ((body + 3) & ~(size_t)3);
}

int weft__rtp_ext_block_write(const weft__rtp_ext *exts, size_t n, bool two_byte, uint8_t *out,
                              size_t cap) {
  if (n == 0)
    return 0;
  if (!exts || !out)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTP: NULL extension argument");
  bool two = two_byte || needs_two_byte(exts, n);
  for (size_t i = 0; i < n; i++) {
    if (exts[i].id == 0)
      return weft__error(WEFT_ERR_INVALID_ARG, "RTP: extension id 0 is reserved (RFC 8285)");
    if (exts[i].len > 255)
      return weft__error(WEFT_ERR_INVALID_ARG, "RTP: extension element of %zu bytes (max 255)",
                         exts[i].len);
    if (exts[i].len && !exts[i].data)
      return weft__error(WEFT_ERR_INVALID_ARG, "RTP: NULL extension data");
  }
  size_t size = weft__rtp_ext_block_size(exts, n, two);
  if (size - 4 > 0xffff * 4)
    return weft__error(WEFT_ERR_TOO_BIG, "RTP: extension block of %zu bytes", size);
  if (cap < size)
    return weft__error(WEFT_ERR_TOO_BIG, "RTP: extension block needs %zu bytes, buffer %zu", size,
                       cap);
  weft__wr16(out, two ? WEFT__RTP_EXT_TWO_BYTE : WEFT__RTP_EXT_ONE_BYTE);
  weft__wr16(out + 2, (uint16_t)((size - 4) / 4));
  uint8_t *p = out + 4;
  for (size_t i = 0; i < n; i++) {
    if (two) {
      *p++ = exts[i].id;
      *p++ = (uint8_t)exts[i].len;
    } else {
      *p++ = (uint8_t)((exts[i].id << 4) | (exts[i].len - 1));
    }
    if (exts[i].len)
      memcpy(p, exts[i].data, exts[i].len);
    p += exts[i].len;
  }
  /* Zero padding to the 32-bit boundary (RFC 8285 §4.1). */
  memset(p, 0, (size_t)(out + size - p));
  return (int)size;
}

size_t weft__rtp_header_size(const weft__rtp_build *b) {
  return WEFT__RTP_HEADER_LEN + (size_t)b->csrc_count * 4 +
         weft__rtp_ext_block_size(b->exts, b->ext_count, b->ext_two_byte);
}

static int write_header(const weft__rtp_build *b, bool padding, uint8_t *out, size_t cap) {
  if (!b || !out)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTP: NULL argument");
  if (b->payload_type > 127)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTP: payload type %u > 127", b->payload_type);
  if (b->csrc_count > WEFT__RTP_MAX_CSRC || (b->csrc_count && !b->csrcs))
    return weft__error(WEFT_ERR_INVALID_ARG, "RTP: bad CSRC list (%u entries)", b->csrc_count);
  size_t fixed = WEFT__RTP_HEADER_LEN + (size_t)b->csrc_count * 4;
  if (cap < fixed)
    return weft__error(WEFT_ERR_TOO_BIG, "RTP: header needs %zu bytes, buffer %zu", fixed, cap);
  int ext =
      weft__rtp_ext_block_write(b->exts, b->ext_count, b->ext_two_byte, out + fixed, cap - fixed);
  if (ext < 0)
    return ext;
  out[0] = (uint8_t)((WEFT__RTP_VERSION << 6) | (padding ? 0x20 : 0) | (ext > 0 ? 0x10 : 0) |
                     b->csrc_count);
  out[1] = (uint8_t)((b->marker ? 0x80 : 0) | b->payload_type);
  weft__wr16(out + 2, b->seq);
  weft__wr32(out + 4, b->timestamp);
  weft__wr32(out + 8, b->ssrc);
  for (size_t i = 0; i < b->csrc_count; i++)
    weft__wr32(out + WEFT__RTP_HEADER_LEN + 4 * i, b->csrcs[i]);
  return (int)(fixed + (size_t)ext);
}

int weft__rtp_write_header(const weft__rtp_build *b, uint8_t *out, size_t cap) {
  return write_header(b, b && b->padding_len > 0, out, cap);
}

int weft__rtp_write(const weft__rtp_build *b, uint8_t *out, size_t cap) {
  if (b && b->payload_len && !b->payload)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTP: NULL payload");
  int h = weft__rtp_write_header(b, out, cap);
  if (h < 0)
    return h;
  size_t total = (size_t)h + b->payload_len + b->padding_len;
  if (total > INT32_MAX)
    return weft__error(WEFT_ERR_TOO_BIG, "RTP: packet of %zu bytes", total);
  if (cap < total)
    return weft__error(WEFT_ERR_TOO_BIG, "RTP: packet needs %zu bytes, buffer %zu", total, cap);
  if (b->payload_len)
    memmove(out + h, b->payload, b->payload_len);
  if (b->padding_len) {
    /* RFC 3550 §5.1: zero padding, last byte = padding count. */
    uint8_t *pad = out + h + b->payload_len;
    memset(pad, 0, b->padding_len);
    pad[b->padding_len - 1] = b->padding_len;
  }
  return (int)total;
}

/* ---- Sequence numbers ---------------------------------------------------- */

int64_t weft__rtp_seq_unwrap(weft__rtp_seq_unwrapper *u, uint16_t seq) {
  if (!u->started) {
    u->started = true;
    u->highest = seq;
    return seq;
  }
  /* Nearest value to the highest so far: at most 32767 ahead or 32768 behind. */
  int64_t v = u->highest + weft__rtp_seq_diff(seq, (uint16_t)u->highest);
  if (v > u->highest)
    u->highest = v;
  return v;
}

void weft__rtp_source_init(weft__rtp_source *s, uint16_t seq) {
  /* RFC 3550 §A.1 init_seq(), plus the probation the first packet starts. */
  memset(s, 0, sizeof *s);
  s->base_seq = seq;
  s->max_seq = seq;
  s->bad_seq = 65536 + 1; /* so seq == bad_seq is false */
  /* A.1 starts with max_seq = seq - 1 and runs update_seq() on this first
   * packet too; counting it here is the same: one more in-order packet ends
   * the probation. */
  s->probation = WEFT__RTP_MIN_SEQUENTIAL - 1;
}

static void source_reset(weft__rtp_source *s, uint16_t seq) {
  s->base_seq = seq;
  s->max_seq = seq;
  s->bad_seq = 65536 + 1;
  s->cycles = 0;
  s->received = 0;
  s->received_prior = 0;
  s->expected_prior = 0;
}

bool weft__rtp_source_update(weft__rtp_source *s, uint16_t seq) {
  /* RFC 3550 §A.1 update_seq(). */
  uint16_t udelta = (uint16_t)(seq - s->max_seq);
  if (s->probation) {
    /* A source is valid only after MIN_SEQUENTIAL packets in a row. */
    if (seq == (uint16_t)(s->max_seq + 1)) {
      s->probation--;
      s->max_seq = seq;
      if (s->probation == 0) {
        source_reset(s, seq);
        s->received++;
        return true;
      }
    } else {
      s->probation = WEFT__RTP_MIN_SEQUENTIAL - 1;
      s->max_seq = seq;
    }
    return false;
  }
  if (udelta < WEFT__RTP_MAX_DROPOUT) {
    /* In order, with a permissible gap; a smaller number means a wrap. */
    if (seq < s->max_seq)
      s->cycles += 65536;
    s->max_seq = seq;
  } else if (udelta <= 65536 - WEFT__RTP_MAX_MISORDER) {
    /* A very large jump: the sender may have restarted. Accept it only when
     * the next packet follows it, then resync (no probation). */
    if (seq == s->bad_seq) {
      source_reset(s, seq);
    } else {
      s->bad_seq = (uint32_t)((seq + 1) & 0xffff);
      return false;
    }
  }
  /* else: duplicate or reordered packet, counted but not moving max_seq. */
  s->received++;
  return true;
}

void weft__rtp_source_jitter_update(weft__rtp_source *s, uint32_t arrival, uint32_t rtp_ts) {
  /* RFC 3550 §A.8: J += (|D| - J) / 16, kept scaled by 16 in integers. The
   * transit difference is taken modulo 2^32 and read as signed, so wraps of
   * either clock cancel out. */
  uint32_t transit = arrival - rtp_ts;
  if (!s->have_transit) {
    s->have_transit = true;
    s->transit = transit;
    return;
  }
  int32_t d = (int32_t)(transit - s->transit);
  s->transit = transit;
  uint32_t ad = d < 0 ? (uint32_t)0 - (uint32_t)d : (uint32_t)d;
  /* Integer form of A.8: jitter += |D| - ((jitter + 8) >> 4). */
  int64_t j = (int64_t)s->jitter + ad - ((s->jitter + 8) >> 4);
  s->jitter = j < 0 ? 0 : j > UINT32_MAX ? UINT32_MAX : (uint32_t)j;
}

void weft__rtp_source_loss(weft__rtp_source *s, int32_t *cumulative_lost, uint8_t *fraction_lost) {
  /* RFC 3550 §A.3. */
  uint32_t extended_max = s->cycles + s->max_seq;
  int64_t expected = (int64_t)extended_max - s->base_seq + 1;
  int64_t lost = expected - s->received;
  /* The field is 24-bit signed: clamp (duplicates can make it negative). */
  if (lost > 0x7fffff)
    lost = 0x7fffff;
  else if (lost < -0x800000)
    lost = -0x800000;
  uint32_t expected_interval = (uint32_t)expected - s->expected_prior;
  s->expected_prior = (uint32_t)expected;
  uint32_t received_interval = s->received - s->received_prior;
  s->received_prior = s->received;
  int64_t lost_interval = (int64_t)expected_interval - received_interval;
  uint8_t fraction = 0;
  if (expected_interval != 0 && lost_interval > 0)
    fraction = (uint8_t)(((uint64_t)lost_interval << 8) / expected_interval > 255
                             ? 255
                             : ((uint64_t)lost_interval << 8) / expected_interval);
  if (cumulative_lost)
    *cumulative_lost = (int32_t)lost;
  if (fraction_lost)
    *fraction_lost = fraction;
}

/* ---- Demux --------------------------------------------------------------- */

bool weft__rtp_is_rtcp(const uint8_t *data, size_t len) {
  if (!data || len < 2 || (data[0] >> 6) != WEFT__RTP_VERSION)
    return false;
  /* RFC 5761 §4: RTCP packet types 192..223 (SR 200, RR 201, ... FIR 192)
   * occupy what would be RTP marker=1 + payload types 64..95, which is why
   * those payload types must not be used with rtcp-mux. */
  return data[1] >= 192 && data[1] <= 223;
}
