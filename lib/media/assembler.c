/* Frame assembly: RTP payloads in sequence order (through a small bounded
 * reorder window) become whole Opus packets, VP8 frames or Annex-B H264
 * access units. */
#include <string.h>

#include <glib.h>

#include "media/media.h"

/* A stream that jumps back this far is taken as restarted, not as late. */
enum { LATE_LIMIT = 1000 };

typedef struct slot {
  uint8_t *data;
  size_t cap, len;
  uint32_t ts;
  uint16_t seq;
  bool used, marker, bad;
} slot;

struct weft__media_assembler {
  weft__media_assembler_config cfg;
  size_t max_frame;
  /* nslots (a power of two >= cfg.reorder, so that seq & mask stays
   * distinct for the window across the 16-bit wrap) */
  slot *slots;
  unsigned nslots;
  bool started;
  uint16_t expected;
  unsigned held;
  /* The frame being assembled. */
  uint8_t *buf;
  size_t cap, len;
  bool active, broken;
  weft__media_drop_reason why;
  uint32_t ts;
  uint16_t first_seq, last_seq;
  bool keyframe;
  bool fu_active; /* H264: inside a fragmented NAL unit */
  uint8_t fu_type;
  weft__media_assembler_stats st;
  int cb_rc; /* first non-zero on_frame return, handed back by push */
};

static int validate(weft__media_codec c, const uint8_t *p, size_t len) {
  switch (c) {
  case WEFT__CODEC_OPUS:
    return weft__opus_validate(p, len);
  case WEFT__CODEC_VP8: {
    weft__vp8_desc d;
    size_t h;
    return weft__vp8_desc_parse(p, len, &d, &h);
  }
  default:
    return weft__h264_validate(p, len);
  }
}

weft__media_assembler *weft__media_assembler_new(const weft__media_assembler_config *cfg) {
  if (!cfg || !cfg->on_frame || cfg->reorder > WEFT__MEDIA_MAX_REORDER ||
      (cfg->codec != WEFT__CODEC_OPUS && cfg->codec != WEFT__CODEC_VP8 &&
       cfg->codec != WEFT__CODEC_H264)) {
    weft__error(WEFT_ERR_INVALID_ARG, "media assembler: bad configuration");
    return NULL;
  }
  if (cfg->max_frame > WEFT__MEDIA_MAX_FRAME_LIMIT) {
    weft__error(WEFT_ERR_INVALID_ARG, "media assembler: max_frame %zu over %u", cfg->max_frame,
                WEFT__MEDIA_MAX_FRAME_LIMIT);
    return NULL;
  }
  weft__media_assembler *a = g_new0(weft__media_assembler, 1);
  a->cfg = *cfg;
  a->max_frame = cfg->max_frame ? cfg->max_frame : WEFT__MEDIA_MAX_FRAME_DEFAULT;
  if (cfg->reorder) {
    a->nslots = 1;
    while (a->nslots < cfg->reorder)
      a->nslots *= 2;
    a->slots = g_new0(slot, a->nslots);
  }

  return a;
}

void weft__media_assembler_free(weft__media_assembler *a) {
  if (!a)
    return;
  for (unsigned i = 0; i < a->nslots; i++)
    g_free(a->slots[i].data);
  g_free(a->slots);
  g_free(a->buf);
  g_free(a);
}

void weft__media_assembler_reset(weft__media_assembler *a) {
  for (unsigned i = 0; i < a->nslots; i++)
    a->slots[i].used = false;
  a->held = 0;
  a->started = false;
  a->active = false;
  a->len = 0;
  a->fu_active = false;
}

void weft__media_assembler_get_stats(const weft__media_assembler *a,
                                     weft__media_assembler_stats *out) {
  *out = a->st;
}

/* ---- The frame under assembly ------------------------------------------- */

static void drop_frame(weft__media_assembler *a, weft__media_drop_reason why) {
  a->st.dropped++;
  if (a->cfg.on_drop)
    a->cfg.on_drop(a->cfg.ctx, a->ts, why);
  a->active = false;
  a->len = 0;
  a->fu_active = false;
}

static void deliver(weft__media_assembler *a, const uint8_t *data, size_t len) {
  weft__media_frame f = {data, len, a->ts, a->first_seq, a->last_seq, a->keyframe};
  a->st.frames++;
  int rc = a->cfg.on_frame(a->cfg.ctx, &f);
  if (rc && !a->cb_rc)
    a->cb_rc = rc;
}

static void breaks(weft__media_assembler *a, weft__media_drop_reason why) {
  if (!a->broken) {
    a->broken = true;
    a->why = why;
  }
}

/* Appends to the frame, growing the buffer by doubling up to max_frame. */
static bool append(weft__media_assembler *a, const uint8_t *p, size_t n) {
  if (a->broken)
    return false;
  if (n > a->max_frame - a->len) {
    breaks(a, WEFT__DROP_TOO_BIG);
    return false;
  }
  if (a->len + n > a->cap) {
    size_t cap = a->cap ? a->cap : 16384;
    while (cap < a->len + n)
      cap *= 2;
    if (cap > a->max_frame)
      cap = a->max_frame;
    uint8_t *nb = g_try_realloc(a->buf, cap);
    if (!nb) {
      breaks(a, WEFT__DROP_TOO_BIG);
      return false;
    }
    a->buf = nb;
    a->cap = cap;
  }
  memcpy(a->buf + a->len, p, n);
  a->len += n;
  return true;
}

static const uint8_t start_code[4] = {0, 0, 0, 1};

static void h264_unit(weft__media_assembler *a, const uint8_t *nal, size_t n) {
  unsigned t = nal[0] & 0x1f;
  /* A frame with an IDR slice, or with a sequence parameter set (which
   * encoders send only before IDR / recovery points), starts decoding. */
  if (t == WEFT__H264_NAL_IDR || t == WEFT__H264_NAL_SPS)
    a->keyframe = true;
  if (append(a, start_code, 4))
    append(a, nal, n);
}

/* The payload passed weft__h264_validate already. */
static void h264_payload(weft__media_assembler *a, const uint8_t *p, size_t len) {
  unsigned t = p[0] & 0x1f;
  if (t != WEFT__H264_FU_A && a->fu_active) {
    /* RFC 6184 §5.8: fragments of one unit are consecutive; its end is lost. */
    breaks(a, WEFT__DROP_INCOMPLETE);
    return;
  }
  if (t <= 23) {
    h264_unit(a, p, len);
  } else if (t == WEFT__H264_STAP_A) {
    for (size_t pos = 1; pos < len;) {
      size_t n = weft__rd16(p + pos);
      h264_unit(a, p + pos + 2, n);
      pos += 2 + n;
    }
  } else { /* FU-A */
    uint8_t h = p[1];
    unsigned ft = h & 0x1f;
    if (h & 0x80) {
      if (a->fu_active) {
        breaks(a, WEFT__DROP_INCOMPLETE);
        return;
      }
      /* Rebuild the NAL header: F and NRI from the indicator, the type from
       * the FU header (RFC 6184 §5.8). */
      uint8_t hdr = (uint8_t)((p[0] & 0xe0) | ft);
      if (ft == WEFT__H264_NAL_IDR || ft == WEFT__H264_NAL_SPS)
        a->keyframe = true;
      a->fu_active = true;
      a->fu_type = (uint8_t)ft;
      if (append(a, start_code, 4) && append(a, &hdr, 1))
        append(a, p + 2, len - 2);
    } else {
      if (!a->fu_active) {
        /* A middle or end fragment without its start: the unit is lost. */
        breaks(a, WEFT__DROP_INCOMPLETE);
        return;
      }
      if (ft != a->fu_type) {
        breaks(a, WEFT__DROP_MALFORMED);
        return;
      }
      append(a, p + 2, len - 2);
    }
    if (h & 0x40)
      a->fu_active = false;
  }
}

static bool vp8_frame_start(const uint8_t *p, size_t len, weft__vp8_desc *d, size_t *h) {
  return weft__vp8_desc_parse(p, len, d, h) == 0 && d->s && d->pid == 0;
}

/* One packet in sequence order. @lost: how many sequence numbers were
 * skipped right before it. */
static void process(weft__media_assembler *a, uint16_t seq, uint32_t ts, bool marker,
                    const uint8_t *p, size_t len, bool bad, unsigned lost) {
  if (a->cfg.codec == WEFT__CODEC_OPUS) {
    /* RFC 7587 §4.2: every payload is one whole Opus packet; the marker only
     * flags a talkspurt start. Delivered straight from the payload. */
    a->ts = ts;
    a->first_seq = a->last_seq = seq;
    if (bad) {
      a->st.dropped++;
      if (a->cfg.on_drop)
        a->cfg.on_drop(a->cfg.ctx, ts, WEFT__DROP_MALFORMED);
      return;
    }
    a->keyframe = true;
    deliver(a, p, len);
    return;
  }

  bool prev_open = a->active;
  if (a->active && ts != a->ts) {
    /* RFC 3550 §5.1: all packets of a frame share its timestamp, and the
     * marker closes it: this one never got its last packet. */
    drop_frame(a, a->broken ? a->why : (lost ? WEFT__DROP_LOSS : WEFT__DROP_INCOMPLETE));
  }
  if (a->active && lost)
    breaks(a, WEFT__DROP_LOSS);

  weft__vp8_desc d;
  size_t dh = 0;
  bool vp8_start = false;
  if (a->cfg.codec == WEFT__CODEC_VP8 && !bad)
    vp8_start = vp8_frame_start(p, len, &d, &dh);

  if (!a->active) {
    a->active = true;
    a->broken = false;
    a->ts = ts;
    a->first_seq = seq;
    a->len = 0;
    a->keyframe = false;
    a->fu_active = false;
    if (a->cfg.codec == WEFT__CODEC_VP8) {
      /* RFC 7741 §4.4: a frame starts with S=1, PID=0; anything else means
       * its first packets are missing. */
      if (!bad && !vp8_start)
        breaks(a, lost ? WEFT__DROP_LOSS : WEFT__DROP_INCOMPLETE);
    } else if (lost && !(lost == 1 && prev_open)) {
      /* H264 has no frame-start flag: the lost packets may have been this
       * access unit's first ones (its parameter sets, say). Only a single
       * loss right after an unterminated frame is known to be that frame's
       * marker packet. */
      breaks(a, WEFT__DROP_LOSS);
    }
  }
  a->last_seq = seq;
  if (bad)
    breaks(a, WEFT__DROP_MALFORMED);
  if (!a->broken) {
    if (a->cfg.codec == WEFT__CODEC_VP8) {
      if (!bad && dh < len) {
        if (vp8_start && a->len == 0)
          a->keyframe = weft__vp8_is_keyframe(p + dh, len - dh);
        append(a, p + dh, len - dh);
      }
    } else {
      h264_payload(a, p, len);
    }
  }
  if (marker) {
    if (a->broken)
      drop_frame(a, a->why);
    else if (a->fu_active)
      drop_frame(a, WEFT__DROP_INCOMPLETE);
    else {
      deliver(a, a->buf, a->len);
      a->active = false;
      a->len = 0;
    }
  }
}

/* ---- Reorder window ------------------------------------------------------ */

static void process_slot(weft__media_assembler *a, slot *s, unsigned lost) {
  process(a, s->seq, s->ts, s->marker, s->data, s->len, s->bad, lost);
  s->used = false;
  a->held--;
}

/* Processes everything held, in sequence order, counting the holes as lost;
 * afterwards `expected` follows the last packet processed. */
static void flush_held(weft__media_assembler *a) {
  unsigned lost = 0;
  uint16_t seq = a->expected;
  for (unsigned i = 0; a->held && i <= a->cfg.reorder; i++, seq++) {
    slot *s = &a->slots[seq & (a->nslots - 1)];
    if (s->used && s->seq == seq) {
      process_slot(a, s, lost);
      lost = 0;
      a->expected = (uint16_t)(seq + 1);
    } else {
      lost++;
      a->st.lost_packets++;
    }
  }
}

static void drain(weft__media_assembler *a) {
  while (a->held) {
    slot *s = &a->slots[a->expected & (a->nslots - 1)];
    if (!s->used || s->seq != a->expected)
      break;
    process_slot(a, s, 0);
    a->expected++;
  }
}

static bool store(weft__media_assembler *a, uint16_t seq, uint32_t ts, bool marker,
                  const uint8_t *p, size_t len, bool bad) {
  slot *s = &a->slots[seq & (a->nslots - 1)];
  if (s->used) {
    a->st.duplicates++;
    return true;
  }
  if (!bad && len > s->cap) {
    /* Grows once to the largest payload seen: no allocation per packet in
     * a steady stream. */
    uint8_t *nb = g_try_realloc(s->data, len);
    if (!nb)
      return false;
    s->data = nb;
    s->cap = len;
  }
  if (!bad)
    memcpy(s->data, p, len);
  s->len = bad ? 0 : len;
  s->seq = seq;
  s->ts = ts;
  s->marker = marker;
  s->bad = bad;
  s->used = true;
  a->held++;
  return true;
}

int weft__media_assembler_push(weft__media_assembler *a, uint16_t seq, uint32_t timestamp,
                               bool marker, const uint8_t *payload, size_t len) {
  if (!a || (!payload && len))
    return weft__error(WEFT_ERR_INVALID_ARG, "media assembler: NULL argument");
  a->st.packets++;
  a->cb_rc = 0;
  int vrc = len > WEFT__MEDIA_MAX_PAYLOAD
                ? weft__error(WEFT_ERR_TOO_BIG, "media assembler: %zu-byte payload", len)
                : validate(a->cfg.codec, payload, len);
  bool bad = vrc != 0;
  if (bad)
    a->st.malformed++;
  /* A refused payload still takes its place in the sequence: the frame it
   * belongs to is dropped as malformed instead of waiting for it. */
  if (!a->started) {
    a->started = true;
    a->expected = seq;
  }
  int diff = (int16_t)(uint16_t)(seq - a->expected);
  unsigned r = a->cfg.reorder;
  if (diff < 0 && diff >= -LATE_LIMIT) {
    a->st.late++;
    return vrc;
  }
  if (diff < 0 || (unsigned)diff > r) {
    /* Too far ahead to wait for the gap (or the stream restarted): give up
     * on the missing packets. */
    if (a->held)
      flush_held(a);
    diff = (int16_t)(uint16_t)(seq - a->expected);
    unsigned lost = diff > 0 ? (unsigned)diff : (diff < 0 ? 1u : 0u);
    a->st.lost_packets += lost;
    process(a, seq, timestamp, marker, payload, len, bad, lost);
    a->expected = (uint16_t)(seq + 1);
  } else if (diff == 0) {
    process(a, seq, timestamp, marker, payload, len, bad, 0);
    a->expected++;
    drain(a);
  } else if (!store(a, seq, timestamp, marker, payload, len, bad)) {
    return weft__error(WEFT_ERR_NO_MEMORY, "media assembler: no memory for the reorder window");
  }
  return vrc ? vrc : a->cb_rc;
}

int weft__media_assembler_flush(weft__media_assembler *a) {
  if (!a)
    return weft__error(WEFT_ERR_INVALID_ARG, "media assembler: NULL argument");
  a->cb_rc = 0;
  if (a->held)
    flush_held(a);
  return a->cb_rc;
}

bool weft__media_payload_starts_keyframe(weft__media_codec codec, const uint8_t *p, size_t len) {
  switch (codec) {
  case WEFT__CODEC_OPUS:
    return p && weft__opus_validate(p, len) == 0;
  case WEFT__CODEC_VP8: {
    weft__vp8_desc d;
    size_t h;
    /* RFC 7741 §4.3: the first packet of a frame carries its P bit. */
    return vp8_frame_start(p, len, &d, &h) && weft__vp8_is_keyframe(p + h, len - h);
  }
  case WEFT__CODEC_H264:
    break;
  default:
    return false;
  }
  if (!p || weft__h264_validate(p, len) != 0)
    return false;
  unsigned t = p[0] & 0x1f;
  if (t == WEFT__H264_FU_A)
    return (p[1] & 0x80) &&
           ((p[1] & 0x1f) == WEFT__H264_NAL_IDR || (p[1] & 0x1f) == WEFT__H264_NAL_SPS);
  if (t == WEFT__H264_STAP_A) {
    for (size_t pos = 1; pos < len;) {
      size_t n = weft__rd16(p + pos);
      unsigned ut = p[pos + 2] & 0x1f;
      if (ut == WEFT__H264_NAL_IDR || ut == WEFT__H264_NAL_SPS)
        return true;
      pos += 2 + n;
    }
    return false;
  }
  return t == WEFT__H264_NAL_IDR || t == WEFT__H264_NAL_SPS;
}
