/*
 * Fuzz target: RTP payload formats (lib/media; RFC 6184 H264, RFC 7741 VP8,
 * RFC 7587 Opus) and the frame assembler.
 *
 * Input layout: byte 0 picks the codec (low 2 bits) and the reorder window
 * (high bits); byte 1 the payload MTU used to re-packetize; the rest is a
 * list of payloads, each [flags][length][length bytes]: flags bit 0 is the
 * marker, bits 1-3 move the sequence number (duplicate, gap, step back,
 * next), bit 4 starts a new timestamp. Each payload is also run through the
 * codec's stateless checks.
 *
 * Invariants:
 * - stateless checks: SYNTAX (or NOT_SUPPORTED for H264 interleaved types)
 *   with a message; a VP8 descriptor written back parses to the same fields;
 *   NAL iteration stays inside the input and terminates;
 * - the assembler: push returns 0 or the payload's validation error; each
 *   frame is non-empty, within max_frame, and passes the codec's rules;
 *   stats add up (frames <= packets, malformed counted);
 * - round trip: every frame the assembler delivers, packetized again with the
 *   weft packetizer and fed to a fresh assembler, comes out as one identical
 *   frame (for H264, when the frame's NAL units survive Annex-B framing, i.e.
 *   none holds a start-code-like sequence or ends in a zero byte).
 */
#include "fuzz_common.h"
#include "media/media.h"

static const weft__media_codec codecs[] = {WEFT__CODEC_OPUS, WEFT__CODEC_VP8, WEFT__CODEC_H264,
                                           WEFT__CODEC_H264};

typedef struct frames {
  weft__media_codec codec;
  size_t max_frame;
  size_t mtu;
  unsigned count;
  /* The round trip's output. */
  uint8_t *copy;
  size_t copy_len;
  bool collect;
} frames;

static void check_vp8_desc(const uint8_t *p, size_t len) {
  weft__vp8_desc d, d2;
  size_t h = 0, h2 = 0;
  int rc = weft__vp8_desc_parse(p, len, &d, &h);
  FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
  if (rc < 0) {
    FUZZ_CHECK_ERROR_MESSAGE();
    return;
  }
  FUZZ_CHECK(h >= 1 && h < len && h <= 6);
  uint8_t buf[8];
  size_t w = weft__vp8_desc_write(&d, buf);
  FUZZ_CHECK(w == weft__vp8_desc_len(&d) && w >= 1 && w <= 6 && w <= h);
  buf[w] = 0x00; /* one byte of frame so the descriptor is not "empty" */
  FUZZ_CHECK(weft__vp8_desc_parse(buf, w + 1, &d2, &h2) == 0);
  FUZZ_CHECK(h2 == w);
  FUZZ_CHECK(d.n == d2.n && d.s == d2.s && d.pid == d2.pid);
  FUZZ_CHECK(d.has_picture_id == d2.has_picture_id);
  if (d.has_picture_id)
    FUZZ_CHECK(d.picture_id == d2.picture_id && d.long_picture_id == d2.long_picture_id);
  FUZZ_CHECK(d.has_tl0picidx == d2.has_tl0picidx);
  if (d.has_tl0picidx)
    FUZZ_CHECK(d.tl0picidx == d2.tl0picidx);
  FUZZ_CHECK(d.has_tid == d2.has_tid && d.has_keyidx == d2.has_keyidx);
  if (d.has_tid)
    FUZZ_CHECK(d.tid == d2.tid && d.y == d2.y);
  if (d.has_keyidx)
    FUZZ_CHECK(d.keyidx == d2.keyidx);
}

/* NAL units of @p in @format: each inside the input and non-empty. */
static int walk_nals(const uint8_t *p, size_t len, weft__h264_format format) {
  weft__h264_nal_iter it;
  weft__h264_nal_iter_init(&it, p, len, format);
  const uint8_t *nal;
  size_t n;
  int rc, count = 0;
  while ((rc = weft__h264_nal_next(&it, &nal, &n)) == 1) {
    FUZZ_CHECK(n > 0 && fuzz_inside(nal, n, p, len));
    FUZZ_CHECK((size_t)++count <= len);
  }
  FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
  return rc < 0 ? rc : count;
}

static void check_payload(const uint8_t *p, size_t len) {
  int rc = weft__h264_validate(p, len);
  FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX || rc == WEFT_ERR_NOT_SUPPORTED);
  if (rc < 0)
    FUZZ_CHECK_ERROR_MESSAGE();
  if (rc == 0)
    FUZZ_CHECK(len >= 1 && !(p[0] & 0x80));
  rc = weft__opus_validate(p, len);
  FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
  if (rc < 0)
    FUZZ_CHECK_ERROR_MESSAGE();
  check_vp8_desc(p, len);
  walk_nals(p, len, WEFT__H264_AUTO);
  walk_nals(p, len, WEFT__H264_ANNEXB);
  walk_nals(p, len, WEFT__H264_AVCC);
  for (int c = 0; c < 3; c++)
    (void)weft__media_payload_starts_keyframe(codecs[c], p, len);
}

/* Whether an assembled H264 access unit is exactly its own NAL units behind
 * 4-byte start codes again when re-read, so that a round trip must be exact. */
static bool h264_frame_stable(const uint8_t *f, size_t len) {
  weft__h264_nal_iter it;
  weft__h264_nal_iter_init(&it, f, len, WEFT__H264_ANNEXB);
  const uint8_t *nal;
  size_t n, pos = 0;
  while (weft__h264_nal_next(&it, &nal, &n) == 1) {
    if (pos + 4 > len || memcmp(f + pos, "\0\0\0\1", 4) != 0 || nal != f + pos + 4)
      return false;
    unsigned t = nal[0] & 0x1f;
    if (nal[n - 1] == 0 || (nal[0] & 0x80) || t == 0 || t >= 24)
      return false;
    pos += 4 + n;
  }
  return pos == len;
}

typedef struct repack {
  weft__media_assembler *a;
  uint16_t seq;
  uint32_t ts;
  int pushed;
} repack;

static int repack_emit(void *ctx, uint8_t *payload, size_t len, bool marker) {
  repack *r = ctx;
  int rc = weft__media_assembler_push(r->a, r->seq++, r->ts, marker, payload, len);
  FUZZ_CHECK(rc == 0);
  r->pushed++;
  return 0;
}

static int on_copy(void *ctx, const weft__media_frame *f) {
  frames *fr = ctx;
  FUZZ_CHECK(fr->copy == NULL); /* exactly one frame */
  fr->copy = malloc(f->len ? f->len : 1);
  memcpy(fr->copy, f->data, f->len);
  fr->copy_len = f->len;
  return 0;
}

static void on_copy_drop(void *ctx, uint32_t ts, weft__media_drop_reason why) {
  fprintf(stderr, "round trip dropped the frame (reason %d)\n", (int)why);
  FUZZ_CHECK(!"round trip drop");
}

static void round_trip(frames *fr, const weft__media_frame *f) {
  frames out = {.codec = fr->codec};
  weft__media_assembler_config cfg = {.codec = fr->codec,
                                      .max_frame = fr->max_frame,
                                      .on_frame = on_copy,
                                      .on_drop = on_copy_drop,
                                      .ctx = &out};
  repack r = {.a = weft__media_assembler_new(&cfg), .seq = 65530, .ts = f->timestamp};
  FUZZ_CHECK(r.a);
  static uint8_t buf[16 + 70000];
  weft__media_sink sink = {
      .buf = buf, .headroom = 12, .max_payload = fr->mtu, .emit = repack_emit, .ctx = &r};
  int rc;
  switch (fr->codec) {
  case WEFT__CODEC_OPUS:
    rc = weft__opus_packetize(&sink, f->data, f->len);
    FUZZ_CHECK(rc == 0 || (rc == WEFT_ERR_TOO_BIG && f->len > fr->mtu));
    break;
  case WEFT__CODEC_VP8: {
    weft__vp8_packetizer vp = {.picture_id = true, .next_picture_id = 77};
    rc = weft__vp8_packetize(&vp, &sink, f->data, f->len, false);
    FUZZ_CHECK(rc == 0);
    break;
  }
  default: {
    if (!h264_frame_stable(f->data, f->len)) {
      weft__media_assembler_free(r.a);
      return;
    }
    weft__h264_packetizer hp = {.format = WEFT__H264_ANNEXB};
    rc = weft__h264_packetize(&hp, &sink, f->data, f->len);
    FUZZ_CHECK(rc == 0);
    break;
  }
  }
  if (rc == 0) {
    FUZZ_CHECK(r.pushed >= 1);
    FUZZ_CHECK(out.copy != NULL);
    FUZZ_CHECK(out.copy_len == f->len && memcmp(out.copy, f->data, f->len) == 0);
  }
  free(out.copy);
  weft__media_assembler_free(r.a);
}

static int on_frame(void *ctx, const weft__media_frame *f) {
  frames *fr = ctx;
  fr->count++;
  FUZZ_CHECK(f->data && f->len > 0 && f->len <= fr->max_frame);
  switch (fr->codec) {
  case WEFT__CODEC_OPUS:
    FUZZ_CHECK(weft__opus_validate(f->data, f->len) == 0);
    FUZZ_CHECK(f->first_seq == f->last_seq);
    break;
  case WEFT__CODEC_VP8:
    break;
  default:
    FUZZ_CHECK(f->len >= 5 && memcmp(f->data, "\0\0\0\1", 4) == 0);
    FUZZ_CHECK(walk_nals(f->data, f->len, WEFT__H264_ANNEXB) >= 1);
    break;
  }
  round_trip(fr, f);
  return 0;
}

static void on_drop(void *ctx, uint32_t ts, weft__media_drop_reason why) {
  FUZZ_CHECK(why >= WEFT__DROP_LOSS && why <= WEFT__DROP_TOO_BIG);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  if (size < 2)
    return 0;
  frames fr = {.codec = codecs[data[0] & 3],
               .max_frame = (data[0] & 0x80) ? 4096 : 0,
               .mtu = 8 + data[1] * 4u};
  unsigned reorder = (data[0] >> 2) & 0x1f;
  weft__media_assembler_config cfg = {.codec = fr.codec,
                                      .max_frame = fr.max_frame,
                                      .reorder = reorder,
                                      .on_frame = on_frame,
                                      .on_drop = on_drop,
                                      .ctx = &fr};
  if (!fr.max_frame)
    fr.max_frame = WEFT__MEDIA_MAX_FRAME_DEFAULT;
  weft__media_assembler *a = weft__media_assembler_new(&cfg);
  FUZZ_CHECK(a);
  uint16_t seq = (uint16_t)(data[1] * 257u);
  uint32_t ts = 90000;
  size_t pos = 2;
  uint64_t pushes = 0, refused = 0;
  while (pos + 2 <= size) {
    uint8_t flags = data[pos];
    size_t len = data[pos + 1];
    pos += 2;
    if (len > size - pos)
      len = size - pos;
    const uint8_t *p = data + pos;
    pos += len;
    check_payload(p, len);
    switch ((flags >> 1) & 7) {
    case 1: /* duplicate */
      break;
    case 2: /* gap */
      seq += 2;
      break;
    case 3: /* reordered */
      seq -= 1;
      break;
    default:
      seq += 1;
      break;
    }
    if (flags & 0x10)
      ts += 3000;
    int rc = weft__media_assembler_push(a, seq, ts, flags & 1, p, len);
    FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX || rc == WEFT_ERR_NOT_SUPPORTED ||
               rc == WEFT_ERR_TOO_BIG);
    if (rc < 0)
      refused++;
    pushes++;
  }
  FUZZ_CHECK(weft__media_assembler_flush(a) == 0);
  weft__media_assembler_stats st;
  weft__media_assembler_get_stats(a, &st);
  FUZZ_CHECK(st.frames == fr.count);
  FUZZ_CHECK(st.packets <= pushes);
  FUZZ_CHECK(st.malformed >= refused);
  FUZZ_CHECK(st.frames <= st.packets);
  weft__media_assembler_reset(a);
  weft__media_assembler_free(a);
  return 0;
}
