/* RFC 7741 VP8 RTP payload: descriptor codec and packetizer. */
#include <string.h>

#include "media/media.h"

/* RFC 7741 §4.2 first octet: |X|R|N|S|R| PID | */
enum { VP8_X = 0x80, VP8_N = 0x20, VP8_S = 0x10, VP8_PID = 0x07 };
/* Extension octet: |I|L|T|K| RSV | */
enum { VP8_I = 0x80, VP8_L = 0x40, VP8_T = 0x20, VP8_K = 0x10 };

int weft__vp8_desc_parse(const uint8_t *p, size_t len, weft__vp8_desc *d, size_t *hdr_len) {
  if (!d || !hdr_len || (!p && len))
    return weft__error(WEFT_ERR_INVALID_ARG, "VP8: NULL argument");
  memset(d, 0, sizeof *d);
  if (len < 1)
    return weft__error(WEFT_ERR_SYNTAX, "VP8: empty payload");
  size_t pos = 1;
  uint8_t b0 = p[0];
  d->n = b0 & VP8_N;
  d->s = b0 & VP8_S;
  d->pid = b0 & VP8_PID;
  if (b0 & VP8_X) {
    if (pos >= len)
      return weft__error(WEFT_ERR_SYNTAX, "VP8: descriptor truncated before the X octet");
    uint8_t x = p[pos++];
    if (x & VP8_I) {
      if (pos >= len)
        return weft__error(WEFT_ERR_SYNTAX, "VP8: descriptor truncated in PictureID");
      d->has_picture_id = true;
      uint8_t i0 = p[pos++];
      /* RFC 7741 §4.2: M=1 means a 15-bit PictureID in two octets. */
      if (i0 & 0x80) {
        if (pos >= len)
          return weft__error(WEFT_ERR_SYNTAX, "VP8: descriptor truncated in 15-bit PictureID");
        d->long_picture_id = true;
        d->picture_id = (uint16_t)(((i0 & 0x7f) << 8) | p[pos++]);
      } else {
        d->picture_id = i0 & 0x7f;
      }
    }
    if (x & VP8_L) {
      if (pos >= len)
        return weft__error(WEFT_ERR_SYNTAX, "VP8: descriptor truncated in TL0PICIDX");
      d->has_tl0picidx = true;
      d->tl0picidx = p[pos++];
    }
    /* One octet carries TID|Y|KEYIDX when either T or K is set. */
    if (x & (VP8_T | VP8_K)) {
      if (pos >= len)
        return weft__error(WEFT_ERR_SYNTAX, "VP8: descriptor truncated in TID/KEYIDX");
      uint8_t t = p[pos++];
      if (x & VP8_T) {
        d->has_tid = true;
        d->tid = t >> 6;
        d->y = t & 0x20;
      }
      if (x & VP8_K) {
        d->has_keyidx = true;
        d->keyidx = t & 0x1f;
      }
    }
  }
  if (pos >= len)
    return weft__error(WEFT_ERR_SYNTAX, "VP8: no payload data after the %zu-byte descriptor", pos);
  *hdr_len = pos;
  return 0;
}

size_t weft__vp8_desc_len(const weft__vp8_desc *d) {
  size_t n = 1;
  if (d->has_picture_id || d->has_tl0picidx || d->has_tid || d->has_keyidx) {
    n++;
    if (d->has_picture_id)
      n += d->long_picture_id ? 2 : 1;
    if (d->has_tl0picidx)
      n++;
    if (d->has_tid || d->has_keyidx)
      n++;
  }
  return n;
}

size_t weft__vp8_desc_write(const weft__vp8_desc *d, uint8_t *out) {
  size_t n = 1;
  bool ext = d->has_picture_id || d->has_tl0picidx || d->has_tid || d->has_keyidx;
  out[0] =
      (uint8_t)((ext ? VP8_X : 0) | (d->n ? VP8_N : 0) | (d->s ? VP8_S : 0) | (d->pid & VP8_PID));
  if (!ext)
    return n;
  uint8_t *x = &out[n++];
  *x = 0;
  if (d->has_picture_id) {
    *x |= VP8_I;
    if (d->long_picture_id) {
      out[n++] = (uint8_t)(0x80 | ((d->picture_id >> 8) & 0x7f));
      out[n++] = (uint8_t)d->picture_id;
    } else {
      out[n++] = (uint8_t)(d->picture_id & 0x7f);
    }
  }
  if (d->has_tl0picidx) {
    *x |= VP8_L;
    out[n++] = d->tl0picidx;
  }
  if (d->has_tid || d->has_keyidx) {
    uint8_t t = 0;
    if (d->has_tid) {
      *x |= VP8_T;
      t |= (uint8_t)((d->tid & 3) << 6) | (d->y ? 0x20 : 0);
    }
    if (d->has_keyidx) {
      *x |= VP8_K;
      t |= d->keyidx & 0x1f;
    }
    out[n++] = t;
  }
  return n;
}

int weft__vp8_packetize(weft__vp8_packetizer *pz, const weft__media_sink *sink,
                        const uint8_t *frame, size_t len, bool non_reference) {
  if (!pz || !sink || !sink->buf || !sink->emit || !frame)
    return weft__error(WEFT_ERR_INVALID_ARG, "VP8: NULL argument");
  if (len == 0)
    return weft__error(WEFT_ERR_INVALID_ARG, "VP8: empty frame");
  weft__vp8_desc d = {0};
  d.has_picture_id = pz->picture_id;
  d.long_picture_id = pz->long_picture_id;
  d.picture_id = (uint16_t)(pz->next_picture_id & (pz->long_picture_id ? 0x7fff : 0x7f));
  d.has_tl0picidx = pz->tl0picidx_present;
  d.tl0picidx = pz->tl0picidx;
  /* A TL0PICIDX without TID would be meaningless to a receiver (RFC 7741
   * §4.2 defines it relative to the temporal layer 0 pictures). */
  d.has_tid = pz->tid_present || pz->tl0picidx_present;
  d.tid = pz->tid;
  d.y = pz->y;
  /* RFC 7741 §4.2: N may be set only on frames nothing references; a
   * keyframe always is referenced. */
  d.n = non_reference && !weft__vp8_is_keyframe(frame, len);
  size_t dlen = weft__vp8_desc_len(&d);
  if (sink->max_payload <= dlen)
    return weft__error(WEFT_ERR_INVALID_ARG,
                       "VP8: max_payload %zu leaves no room after a %zu-byte descriptor",
                       sink->max_payload, dlen);
  size_t room = sink->max_payload - dlen;
  uint8_t *out = sink->buf + sink->headroom;
  size_t off = 0;
  /* RFC 7741 §4.4: S=1 with PID=0 on the first packet of the frame only. */
  d.s = true;
  while (off < len) {
    size_t n = len - off < room ? len - off : room;
    weft__vp8_desc_write(&d, out);
    memcpy(out + dlen, frame + off, n);
    off += n;
    int rc = sink->emit(sink->ctx, out, dlen + n, off == len);
    if (rc)
      return rc;
    d.s = false;
  }
  /* RFC 7741 §4.2: PictureID wraps at 7 or 15 bits. */
  pz->next_picture_id =
      (uint16_t)((pz->next_picture_id + 1) & (pz->long_picture_id ? 0x7fff : 0x7f));
  return 0;
}
