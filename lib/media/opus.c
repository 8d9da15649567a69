/* RFC 7587 Opus RTP payload: one Opus packet per payload, framing checked
 * against RFC 6716 §3.4. */
#include <string.h>

#include "media/media.h"

/* RFC 6716 §3.2.1: a frame is at most 1275 bytes. */
enum { OPUS_MAX_FRAME = 1275 };

/* Frame duration of a TOC configuration, in tenths of a millisecond
 * (RFC 6716 §3.1, Table 2). */
static unsigned frame_tenths_ms(uint8_t toc) {
  unsigned config = toc >> 3;
  if (config < 12) {
    static const unsigned silk[4] = {100, 200, 400, 600};
    return silk[config & 3];
  }
  if (config < 16)
    return (config & 1) ? 200 : 100;
  static const unsigned celt[4] = {25, 50, 100, 200};
  return celt[config & 3];
}

/* Reads a 1- or 2-byte frame length (RFC 6716 §3.2.1) at p[*pos]. */
static int read_len(const uint8_t *p, size_t len, size_t *pos, size_t *out) {
  if (*pos >= len)
    return weft__error(WEFT_ERR_SYNTAX, "Opus: frame length byte missing");
  uint8_t b0 = p[(*pos)++];
  if (b0 < 252) {
    *out = b0;
    return 0;
  }
  if (*pos >= len)
    return weft__error(WEFT_ERR_SYNTAX, "Opus: second frame length byte missing");
  *out = (size_t)p[(*pos)++] * 4 + b0;
  return 0;
}

int weft__opus_validate(const uint8_t *p, size_t len) {
  if (!p && len)
    return weft__error(WEFT_ERR_INVALID_ARG, "Opus: NULL payload");
  /* R1: at least one byte (the TOC). */
  if (len < 1)
    return weft__error(WEFT_ERR_SYNTAX, "Opus: empty payload (RFC 6716 R1)");
  uint8_t toc = p[0];
  size_t body = len - 1;
  switch (toc & 3) {
  case 0: /* one frame */
    if (body > OPUS_MAX_FRAME)
      return weft__error(WEFT_ERR_SYNTAX, "Opus: code 0 frame of %zu bytes (R2)", body);
    return 0;
  case 1: /* two frames of equal size: R3 */
    if (body % 2)
      return weft__error(WEFT_ERR_SYNTAX, "Opus: code 1 with an odd %zu-byte body (R3)", body);
    if (body / 2 > OPUS_MAX_FRAME)
      return weft__error(WEFT_ERR_SYNTAX, "Opus: code 1 frames of %zu bytes (R2)", body / 2);
    return 0;
  case 2: { /* two frames, the first length coded: R4 */
    size_t pos = 1, n1;
    if (len < 2)
      return weft__error(WEFT_ERR_SYNTAX, "Opus: code 2 packet without a length (R4)");
    int rc = read_len(p, len, &pos, &n1);
    if (rc)
      return rc;
    if (n1 > len - pos)
      return weft__error(WEFT_ERR_SYNTAX, "Opus: code 2 first frame of %zu bytes past the end", n1);
    if (n1 > OPUS_MAX_FRAME || len - pos - n1 > OPUS_MAX_FRAME)
      return weft__error(WEFT_ERR_SYNTAX, "Opus: code 2 frame over 1275 bytes (R2)");
    return 0;
  }
  default: /* code 3: arbitrary number of frames, R5-R7 */
    break;
  }
  if (len < 2)
    return weft__error(WEFT_ERR_SYNTAX, "Opus: code 3 packet without a frame count (R6)");
  uint8_t fc = p[1];
  bool vbr = fc & 0x80, padded = fc & 0x40;
  unsigned m = fc & 0x3f;
  if (m == 0)
    return weft__error(WEFT_ERR_SYNTAX, "Opus: code 3 with zero frames (R5)");
  if (m * frame_tenths_ms(toc) > 1200)
    return weft__error(WEFT_ERR_SYNTAX, "Opus: %u frames exceed 120 ms (R5)", m);
  size_t pos = 2, padding = 0;
  if (padded) {
    /* §3.2.5: each 255 adds 254 bytes and continues; the total padding must
     * fit in the packet. */
    for (;;) {
      if (pos >= len)
        return weft__error(WEFT_ERR_SYNTAX, "Opus: code 3 padding length truncated (R7)");
      uint8_t b = p[pos++];
      padding += b == 255 ? 254 : b;
      if (b != 255)
        break;
    }
  }
  if (padding > len - pos)
    return weft__error(WEFT_ERR_SYNTAX, "Opus: code 3 padding of %zu bytes past the end (R7)",
                       padding);
  size_t end = len - padding;
  if (!vbr) {
    size_t data = end - pos;
    if (data % m)
      return weft__error(WEFT_ERR_SYNTAX, "Opus: CBR code 3 body of %zu not a multiple of %u (R6)",
                         data, m);
    if (data / m > OPUS_MAX_FRAME)
      return weft__error(WEFT_ERR_SYNTAX, "Opus: code 3 frame over 1275 bytes (R2)");
    return 0;
  }
  size_t sum = 0;
  for (unsigned i = 0; i + 1 < m; i++) {
    size_t n;
    int rc = read_len(p, end, &pos, &n);
    if (rc)
      return rc;
    if (n > OPUS_MAX_FRAME)
      return weft__error(WEFT_ERR_SYNTAX, "Opus: code 3 frame over 1275 bytes (R2)");
    sum += n;
  }
  if (pos > end || sum > end - pos)
    return weft__error(WEFT_ERR_SYNTAX, "Opus: VBR code 3 frame lengths past the end (R7)");
  if (end - pos - sum > OPUS_MAX_FRAME)
    return weft__error(WEFT_ERR_SYNTAX, "Opus: code 3 last frame over 1275 bytes (R2)");
  return 0;
}

int weft__opus_packetize(const weft__media_sink *sink, const uint8_t *frame, size_t len) {
  if (!sink || !sink->buf || !sink->emit || (!frame && len))
    return weft__error(WEFT_ERR_INVALID_ARG, "Opus: NULL argument");
  int rc = weft__opus_validate(frame, len);
  if (rc)
    return rc;
  /* RFC 7587 §4.2: one Opus packet per RTP payload, never split. */
  if (len > sink->max_payload)
    return weft__error(WEFT_ERR_TOO_BIG, "Opus: %zu-byte packet over the %zu-byte payload limit",
                       len, sink->max_payload);
  uint8_t *out = sink->buf + sink->headroom;
  memcpy(out, frame, len);
  return sink->emit(sink->ctx, out, len, false);
}
