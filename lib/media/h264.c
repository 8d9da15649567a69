/* RFC 6184 H264 RTP payload, packetization-mode 1 (non-interleaved): NAL unit
 * iteration over Annex-B / AVCC access units, the packetizer, and the
 * stateless payload check the depacketizer runs first. */
#include <string.h>

#include "media/media.h"

/* Offset of the next 00 00 01 at or after @from, or @len. */
static size_t find_start_code(const uint8_t *p, size_t len, size_t from) {
  for (size_t i = from; i + 2 < len;) {
    if (p[i + 2] > 1) {
      i += 3; /* no start code can end at i+2: skip ahead */
    } else if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) {
      return i;
    } else {
      i++;
    }
  }
  return len;
}

/* True when the whole buffer walks as AVCC: 4-byte lengths that end
 * exactly at its end, each before a plausible NAL header (F=0, type 1..23). */
static bool walks_as_avcc(const uint8_t *p, size_t len) {
  size_t pos = 0;
  while (pos < len) {
    if (len - pos < 5)
      return false;
    size_t n = weft__rd32(p + pos);
    unsigned t = p[pos + 4] & 0x1f;
    if (n == 0 || n > len - pos - 4 || (p[pos + 4] & 0x80) || t == 0 || t >= 24)
      return false;
    pos += 4 + n;
  }
  return true;
}

/* AUTO: Annex-B when the frame opens with zero bytes and a start code
 * (leading_zero_8bits allowed), unless the whole frame also walks as AVCC:
 * an AVCC frame whose first unit is 256..511 bytes long (00 00 01 xx) or
 * 1 byte long (00 00 00 01) would otherwise be taken for Annex-B, while a
 * real Annex-B frame practically never lines up as AVCC to its last byte. */
static bool looks_annexb(const uint8_t *p, size_t len) {
  size_t i = 0;
  while (i < len && p[i] == 0)
    i++;
  if (i < 2 || i >= len || p[i] != 1)
    return false;
  return !walks_as_avcc(p, len);
}

void weft__h264_nal_iter_init(weft__h264_nal_iter *it, const uint8_t *frame, size_t len,
                              weft__h264_format format) {
  it->p = frame;
  it->len = frame ? len : 0;
  it->pos = 0;
  if (format == WEFT__H264_AUTO)
    format = looks_annexb(it->p, it->len) ? WEFT__H264_ANNEXB : WEFT__H264_AVCC;
  it->format = format;
  if (format == WEFT__H264_ANNEXB) {
    /* H.264 Annex B.2: leading_zero_8bits, then the first start code. Any
     * other byte before it is not a byte stream; SIZE_MAX marks that for
     * _next to report. */
    size_t i = 0;
    while (i < it->len && it->p[i] == 0)
      i++;
    it->pos = (i >= 2 && i < it->len && it->p[i] == 1) ? i + 1 : (it->len ? SIZE_MAX : 0);
  }
}

int weft__h264_nal_next(weft__h264_nal_iter *it, const uint8_t **nal, size_t *nal_len) {
  if (it->pos == SIZE_MAX)
    return weft__error(WEFT_ERR_SYNTAX, "H264: Annex-B frame does not begin with a start code");
  if (it->format == WEFT__H264_AVCC) {
    if (it->pos >= it->len)
      return 0;
    if (it->len - it->pos < 4)
      return weft__error(WEFT_ERR_SYNTAX, "H264: AVCC length prefix truncated at byte %zu",
                         it->pos);
    const uint8_t *q = it->p + it->pos;
    size_t n = weft__rd32(q);
    if (n == 0)
      return weft__error(WEFT_ERR_SYNTAX, "H264: empty AVCC NAL unit at byte %zu", it->pos);
    if (n > it->len - it->pos - 4)
      return weft__error(WEFT_ERR_SYNTAX, "H264: AVCC NAL length %zu past the end at byte %zu", n,
                         it->pos);
    *nal = q + 4;
    *nal_len = n;
    it->pos += 4 + n;
    return 1;
  }
  while (it->pos < it->len) {
    size_t start = it->pos;
    size_t sc = find_start_code(it->p, it->len, start);
    size_t end = sc;
    /* Trailing zero bytes belong to the byte stream (trailing_zero_8bits or
     * the first byte of a 4-byte start code), not to the NAL unit: a NAL
     * unit ends with its rbsp_stop_one_bit (H.264 §7.4.1). */
    while (end > start && it->p[end - 1] == 0)
      end--;
    it->pos = sc < it->len ? sc + 3 : it->len;
    if (end > start) {
      *nal = it->p + start;
      *nal_len = end - start;
      return 1;
    }
  }
  return 0;
}

/* ---- Packetizer ---------------------------------------------------------- */

typedef struct stap {
  const weft__media_sink *sink;
  uint8_t *out;
  const uint8_t *first; /* the only NAL unit while count == 1 (not yet copied) */
  size_t first_len;
  size_t count, len; /* len: bytes of the STAP-A if all pending units were aggregated */
  uint8_t hdr;       /* F | max NRI */
} stap;

static void put_unit(uint8_t *at, const uint8_t *nal, size_t n) {
  at[0] = (uint8_t)(n >> 8);
  at[1] = (uint8_t)n;
  memcpy(at + 2, nal, n);
}

static void stap_add(stap *s, const uint8_t *nal, size_t n) {
  /* RFC 6184 §5.7.1: the STAP-A's F is the OR of the aggregated F bits and
   * its NRI the maximum of their NRIs. */
  uint8_t f = (uint8_t)((s->hdr | nal[0]) & 0x80);
  uint8_t nri = (uint8_t)((s->hdr & 0x60) > (nal[0] & 0x60) ? s->hdr & 0x60 : nal[0] & 0x60);
  s->hdr = (uint8_t)(f | nri);
  if (s->count == 0) {
    s->first = nal;
    s->first_len = n;
    s->len = 1 + 2 + n;
  } else {
    if (s->count == 1)
      put_unit(s->out + 1, s->first, s->first_len);
    put_unit(s->out + s->len, nal, n);
    s->len += 2 + n;
  }
  s->count++;
}

static int stap_flush(stap *s, bool marker) {
  int rc = 0;
  if (s->count == 1) {
    /* RFC 6184 §5.6: a lone unit goes as a single NAL unit packet. */
    memcpy(s->out, s->first, s->first_len);
    rc = s->sink->emit(s->sink->ctx, s->out, s->first_len, marker);
  } else if (s->count > 1) {
    s->out[0] = (uint8_t)(s->hdr | WEFT__H264_STAP_A);
    rc = s->sink->emit(s->sink->ctx, s->out, s->len, marker);
  }
  s->count = 0;
  s->len = 0;
  s->hdr = 0;
  return rc;
}

/* RFC 6184 §5.8: FU indicator keeps F and NRI with type 28; the FU header
 * carries S, E, R=0 and the original type. Since the unit is longer than
 * max_payload (>= 3), at least two fragments are sent, so S and E are never
 * set together. */
static int fragment(const weft__media_sink *sink, uint8_t *out, const uint8_t *nal, size_t n,
                    bool last_nal) {
  size_t chunk = sink->max_payload - 2;
  const uint8_t *data = nal + 1;
  size_t rem = n - 1;
  bool first = true;
  while (rem) {
    size_t k = rem < chunk ? rem : chunk;
    bool end = k == rem;
    /* Written for every fragment: emit() may have changed the buffer. */
    out[0] = (uint8_t)((nal[0] & 0xe0) | WEFT__H264_FU_A);
    out[1] = (uint8_t)((first ? 0x80 : 0) | (end ? 0x40 : 0) | (nal[0] & 0x1f));
    memcpy(out + 2, data, k);
    int rc = sink->emit(sink->ctx, out, k + 2, end && last_nal);
    if (rc)
      return rc;
    data += k;
    rem -= k;
    first = false;
  }
  return 0;
}

static int check_input_nal(const uint8_t *nal, size_t n) {
  (void)n;
  if (nal[0] & 0x80)
    return weft__error(WEFT_ERR_SYNTAX, "H264: input NAL unit has forbidden_zero_bit set");
  unsigned t = nal[0] & 0x1f;
  /* Types 0 and 24..31 are unspecified in H.264 and are RFC 6184's
   * packetization types: sent as they are, a receiver would misparse them. */
  if (t == 0 || t >= 24)
    return weft__error(WEFT_ERR_SYNTAX, "H264: input NAL unit type %u cannot be sent", t);
  return 0;
}

int weft__h264_packetize(const weft__h264_packetizer *p, const weft__media_sink *sink,
                         const uint8_t *frame, size_t len) {
  if (!p || !sink || !sink->buf || !sink->emit || !frame)
    return weft__error(WEFT_ERR_INVALID_ARG, "H264: NULL argument");
  if (sink->max_payload < 3)
    return weft__error(WEFT_ERR_INVALID_ARG, "H264: max_payload %zu below the 3-byte minimum",
                       sink->max_payload);
  weft__h264_nal_iter it;
  weft__h264_nal_iter_init(&it, frame, len, p->format);
  /* Validate the whole access unit first, so a bad frame sends nothing. */
  const uint8_t *nal;
  size_t n;
  int rc;
  size_t count = 0;
  while ((rc = weft__h264_nal_next(&it, &nal, &n)) == 1) {
    if ((rc = check_input_nal(nal, n)))
      return rc;
    count++;
  }
  if (rc < 0)
    return rc;
  if (count == 0)
    return weft__error(WEFT_ERR_INVALID_ARG, "H264: frame holds no NAL unit");

  size_t mtu = sink->max_payload;
  stap s = {.sink = sink, .out = sink->buf + sink->headroom};
  weft__h264_nal_iter_init(&it, frame, len, p->format);
  for (size_t i = 0; i < count; i++) {
    weft__h264_nal_next(&it, &nal, &n);
    bool last = i + 1 == count;
    if (n > mtu) {
      if ((rc = stap_flush(&s, false)) || (rc = fragment(sink, s.out, nal, n, last)))
        return rc;
      continue;
    }
    /* RFC 6184 §5.7.1: aggregate while the STAP-A stays within the MTU;
     * a unit's 16-bit size field bounds it at 65535 too. */
    bool fits = s.count > 0 && !p->no_stap_a && s.len + 2 + n <= mtu && n <= 0xffff &&
                (s.count > 1 || s.first_len <= 0xffff);
    if (!fits && (rc = stap_flush(&s, false)))
      return rc;
    stap_add(&s, nal, n);
    if (last && (rc = stap_flush(&s, true)))
      return rc;
  }
  return 0;
}

/* ---- Stateless payload check (RFC 6184 §5.2-5.8) ------------------------- */

int weft__h264_validate(const uint8_t *p, size_t len) {
  if (!p && len)
    return weft__error(WEFT_ERR_INVALID_ARG, "H264: NULL payload");
  if (len < 1)
    return weft__error(WEFT_ERR_SYNTAX, "H264: empty payload");
  /* RFC 6184 §5.3: F=1 is a syntax violation (or a unit a middlebox marked
   * as damaged): either way not something to hand to a decoder. */
  if (p[0] & 0x80)
    return weft__error(WEFT_ERR_SYNTAX, "H264: forbidden_zero_bit set in the NAL header");
  unsigned t = p[0] & 0x1f;
  if (t >= 1 && t <= 23)
    return 0; /* §5.6 single NAL unit packet */
  switch (t) {
  case WEFT__H264_STAP_A: { /* §5.7.1 */
    size_t pos = 1, units = 0;
    while (pos < len) {
      if (len - pos < 2)
        return weft__error(WEFT_ERR_SYNTAX, "H264: STAP-A ends inside a NAL unit size (byte %zu)",
                           pos);
      size_t n = weft__rd16(p + pos);
      pos += 2;
      if (n == 0)
        return weft__error(WEFT_ERR_SYNTAX, "H264: STAP-A unit %zu has size 0", units);
      if (n > len - pos)
        return weft__error(WEFT_ERR_SYNTAX,
                           "H264: STAP-A unit %zu of %zu bytes runs past the %zu-byte payload",
                           units, n, len);
      if (p[pos] & 0x80)
        return weft__error(WEFT_ERR_SYNTAX, "H264: STAP-A unit %zu has forbidden_zero_bit set",
                           units);
      unsigned ut = p[pos] & 0x1f;
      if (ut == 0 || ut >= 24)
        return weft__error(WEFT_ERR_SYNTAX, "H264: STAP-A unit %zu has type %u (not 1..23)", units,
                           ut);
      pos += n;
      units++;
    }
    if (units == 0)
      return weft__error(WEFT_ERR_SYNTAX, "H264: STAP-A without NAL units");
    return 0;
  }
  case WEFT__H264_FU_A: { /* §5.8 */
    if (len < 3)
      return weft__error(WEFT_ERR_SYNTAX, "H264: FU-A of %zu bytes (no fragment data)", len);
    uint8_t h = p[1];
    if ((h & 0xc0) == 0xc0)
      return weft__error(WEFT_ERR_SYNTAX, "H264: FU-A with both Start and End set");
    unsigned ft = h & 0x1f;
    if (ft == 0 || ft >= 24)
      return weft__error(WEFT_ERR_SYNTAX, "H264: FU-A fragments a NAL unit of type %u", ft);
    return 0; /* R is ignored by receivers (§5.8) */
  }
  case WEFT__H264_STAP_B:
  case WEFT__H264_MTAP16:
  case WEFT__H264_MTAP24:
  case WEFT__H264_FU_B:
    /* §6.2: not allowed in packetization-mode 1 (interleaved mode only). */
    return weft__error(WEFT_ERR_NOT_SUPPORTED,
                       "H264: packet type %u needs the interleaved packetization-mode 2", t);
  default:
    return weft__error(WEFT_ERR_SYNTAX, "H264: reserved NAL unit type %u", t);
  }
}
