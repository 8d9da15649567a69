/* media/: Opus, VP8 and H264 packetizers and depacketizers, the frame
 * assembler (reorder, loss, limits), malformed payloads, and a mutated-input
 * robustness run with a fixed seed. */
#include <string.h>

#include <glib.h>

#include "core/core.h"
#include "media/media.h"

enum { MTU = 1200, HEADROOM = 12 };

/* ---- Collecting packetizer output --------------------------------------- */

typedef struct pkt {
  uint8_t *data;
  size_t len;
  bool marker;
} pkt;

typedef struct collector {
  GArray *pkts;   /* of pkt */
  uint8_t *buf;   /* the sink's buffer, to check payloads are written in place */
  int fail_after; /* emit returns an error after this many (-1: never) */
} collector;

static int collect(void *ctx, uint8_t *payload, size_t len, bool marker) {
  collector *c = ctx;
  /* Payloads are written after the headroom of the caller's buffer. */
  g_assert_true(payload == c->buf + HEADROOM);
  if (c->fail_after >= 0 && (int)c->pkts->len >= c->fail_after)
    return WEFT_ERR_AGAIN;
  pkt p = {g_memdup2(payload, len), len, marker};
  g_array_append_val(c->pkts, p);
  /* emit() may rewrite the payload (SRTP in place, media.h): the next one
   * must not depend on these bytes. */
  memset(payload, 0xa5, len);
  return 0;
}

static void collector_clear(collector *c) {
  for (guint i = 0; i < c->pkts->len; i++)
    g_free(g_array_index(c->pkts, pkt, i).data);
  g_array_set_size(c->pkts, 0);
}

static weft__media_sink make_sink(collector *c, size_t mtu) {
  c->pkts = g_array_new(FALSE, TRUE, sizeof(pkt));
  c->buf = g_malloc(HEADROOM + mtu);
  c->fail_after = -1;
  weft__media_sink s = {c->buf, HEADROOM, mtu, collect, c};
  return s;
}

static void collector_free(collector *c) {
  collector_clear(c);
  g_array_free(c->pkts, TRUE);
  g_free(c->buf);
}

/* ---- Collecting assembler output ----------------------------------------- */

typedef struct frame {
  GBytes *data;
  uint32_t ts;
  bool keyframe;
  uint16_t first_seq, last_seq;
} frame;

typedef struct sink_out {
  GArray *frames; /* of frame */
  GArray *drops;  /* of weft__media_drop_reason */
  GArray *drop_ts;
} sink_out;

static int on_frame(void *ctx, const weft__media_frame *f) {
  sink_out *o = ctx;
  frame fr = {g_bytes_new(f->data, f->len), f->timestamp, f->keyframe, f->first_seq, f->last_seq};
  g_array_append_val(o->frames, fr);
  return 0;
}

static void on_drop(void *ctx, uint32_t ts, weft__media_drop_reason why) {
  sink_out *o = ctx;
  int w = why;
  g_array_append_val(o->drops, w);
  g_array_append_val(o->drop_ts, ts);
}

static weft__media_assembler *make_asm(sink_out *o, weft__media_codec codec, unsigned reorder,
                                       size_t max_frame) {
  o->frames = g_array_new(FALSE, TRUE, sizeof(frame));
  o->drops = g_array_new(FALSE, TRUE, sizeof(int));
  o->drop_ts = g_array_new(FALSE, TRUE, sizeof(uint32_t));
  weft__media_assembler_config cfg = {codec, max_frame, reorder, on_frame, on_drop, o};
  weft__media_assembler *a = weft__media_assembler_new(&cfg);
  g_assert_nonnull(a);
  return a;
}

static void out_clear(sink_out *o) {
  for (guint i = 0; i < o->frames->len; i++)
    g_bytes_unref(g_array_index(o->frames, frame, i).data);
  g_array_set_size(o->frames, 0);
  g_array_set_size(o->drops, 0);
  g_array_set_size(o->drop_ts, 0);
}

static void out_free(sink_out *o) {
  out_clear(o);
  g_array_free(o->frames, TRUE);
  g_array_free(o->drops, TRUE);
  g_array_free(o->drop_ts, TRUE);
}

/* Feeds collected payloads into the assembler as seq base.., timestamp ts,
 * skipping index @skip (-1: none). */
static void feed(weft__media_assembler *a, collector *c, uint16_t *seq, uint32_t ts, int skip) {
  for (guint i = 0; i < c->pkts->len; i++) {
    pkt *p = &g_array_index(c->pkts, pkt, i);
    uint16_t s = (*seq)++;
    if ((int)i == skip)
      continue;
    g_assert_cmpint(weft__media_assembler_push(a, s, ts, p->marker, p->data, p->len), ==, 0);
  }
}

static uint8_t *random_bytes(GRand *r, size_t n, bool nonzero) {
  uint8_t *b = g_malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++)
    b[i] = nonzero ? (uint8_t)g_rand_int_range(r, 1, 256) : (uint8_t)g_rand_int(r);
  return b;
}

static const size_t frame_sizes[] = {1, 100, MTU - 1, MTU, MTU + 1, 10 * 1024, 500 * 1024};

/* ---- Opus ----------------------------------------------------------------- */

static void test_opus(void) {
  collector c;
  weft__media_sink s = make_sink(&c, MTU);
  sink_out o;
  weft__media_assembler *a = make_asm(&o, WEFT__CODEC_OPUS, 0, 0);
  /* A 20 ms CELT frame (config 31, code 0) and a DTX-like 1-byte packet. */
  uint8_t f1[80];
  memset(f1, 0x5a, sizeof f1);
  f1[0] = 31 << 3;
  uint8_t f2[1] = {0xf8};
  g_assert_cmpint(weft__opus_packetize(&s, f1, sizeof f1), ==, 0);
  g_assert_cmpint(weft__opus_packetize(&s, f2, sizeof f2), ==, 0);
  g_assert_cmpuint(c.pkts->len, ==, 2);
  uint16_t seq = 100;
  feed(a, &c, &seq, 960, -1);
  g_assert_cmpuint(o.frames->len, ==, 2);
  frame *fr = &g_array_index(o.frames, frame, 0);
  g_assert_cmpmem(g_bytes_get_data(fr->data, NULL), g_bytes_get_size(fr->data), f1, sizeof f1);
  g_assert_true(fr->keyframe);

  /* Size checks and RFC 6716 §3.4 framing rules. */
  g_assert_cmpint(weft__opus_packetize(&s, f1, 0), ==, WEFT_ERR_SYNTAX);
  uint8_t big[1300];
  memset(big, 0, sizeof big);
  big[0] = 31 << 3 | 1; /* code 1: two frames of 649 bytes + 1 TOC... odd body */
  g_assert_cmpint(weft__opus_validate(big, 1300), ==, WEFT_ERR_SYNTAX); /* 1299 odd: R3 */
  g_assert_cmpint(weft__opus_validate(big, 1299), ==, 0);
  weft__media_sink small = s;
  small.max_payload = 1000;
  g_assert_cmpint(weft__opus_packetize(&small, big, 1299), ==, WEFT_ERR_TOO_BIG);
  big[0] = 31 << 3; /* code 0: a single frame over 1275 bytes (R2) */
  g_assert_cmpint(weft__opus_validate(big, 1277), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft__opus_validate(big, 1276), ==, 0);
  const struct {
    uint8_t b[6];
    size_t len;
    int rc;
  } cases[] = {
      {{0xfa}, 1, WEFT_ERR_SYNTAX},                   /* code 2 without a length */
      {{0xfa, 10, 1, 2}, 4, WEFT_ERR_SYNTAX},         /* code 2 first frame past the end */
      {{0xfa, 2, 1, 2}, 4, 0},                        /* code 2: 2 + 0 bytes */
      {{0xfa, 253}, 2, WEFT_ERR_SYNTAX},              /* 2-byte length truncated */
      {{0xfb}, 1, WEFT_ERR_SYNTAX},                   /* code 3 without count */
      {{0xfb, 0x00}, 2, WEFT_ERR_SYNTAX},             /* zero frames */
      {{0xfb, 0x07, 1, 2, 3, 4}, 6, WEFT_ERR_SYNTAX}, /* 7 x 20 ms > 120 ms */
      {{0xfb, 0x02, 1, 2, 3, 4}, 6, 0},               /* CBR 2 x 2 bytes */
      {{0xfb, 0x03, 1, 2, 3, 4}, 6, WEFT_ERR_SYNTAX}, /* CBR 4 bytes / 3 */
      {{0xfb, 0x42, 200, 1, 2}, 5, WEFT_ERR_SYNTAX},  /* padding past the end */
      {{0xfb, 0x42, 1, 1, 2, 0}, 6, 0},               /* 1 byte of padding, 2 x 1 */
      {{0xfb, 0x82, 9, 1, 2}, 5, WEFT_ERR_SYNTAX},    /* VBR first length past the end */
      {{0xfb, 0x82, 1, 1, 2}, 5, 0},                  /* VBR 1 + 1 */
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    int rc = weft__opus_validate(cases[i].b, cases[i].len);
    if (rc != cases[i].rc)
      g_error("opus case %zu: %d, expected %d (%s)", i, rc, cases[i].rc, weft__error_message());
  }
  /* A malformed payload reaches the owner as a malformed drop. */
  uint8_t bad[1] = {0xfb};
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 1920, false, bad, 1), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpuint(o.drops->len, ==, 1);
  g_assert_cmpint(g_array_index(o.drops, int, 0), ==, WEFT__DROP_MALFORMED);

  weft__media_assembler_free(a);
  out_free(&o);
  collector_free(&c);
}

/* ---- VP8 ------------------------------------------------------------------ */

static void test_vp8_descriptor(void) {
  const weft__vp8_desc ds[] = {
      {.s = true},
      {.n = true, .pid = 7},
      {.s = true, .has_picture_id = true, .picture_id = 0x55},
      {.has_picture_id = true, .long_picture_id = true, .picture_id = 0x7abc},
      {.has_picture_id = true,
       .picture_id = 3,
       .has_tl0picidx = true,
       .tl0picidx = 200,
       .has_tid = true,
       .tid = 2,
       .y = true},
      {.has_keyidx = true, .keyidx = 17},
      {.s = true,
       .pid = 1,
       .has_picture_id = true,
       .long_picture_id = true,
       .picture_id = 1,
       .has_tl0picidx = true,
       .tl0picidx = 9,
       .has_tid = true,
       .tid = 3,
       .has_keyidx = true,
       .keyidx = 31},
  };
  const size_t lens[] = {1, 1, 3, 4, 5, 3, 6};
  for (size_t i = 0; i < G_N_ELEMENTS(ds); i++) {
    uint8_t buf[16];
    size_t n = weft__vp8_desc_write(&ds[i], buf);
    g_assert_cmpuint(n, ==, lens[i]);
    g_assert_cmpuint(weft__vp8_desc_len(&ds[i]), ==, n);
    buf[n] = 0x10; /* one byte of VP8 data */
    weft__vp8_desc d;
    size_t h;
    g_assert_cmpint(weft__vp8_desc_parse(buf, n + 1, &d, &h), ==, 0);
    g_assert_cmpuint(h, ==, n);
    g_assert_cmpmem(&d, sizeof d, &ds[i], sizeof d);
    /* Every truncation of the descriptor (and the data) is refused. */
    for (size_t k = 0; k <= n; k++)
      g_assert_cmpint(weft__vp8_desc_parse(buf, k, &d, &h), ==, WEFT_ERR_SYNTAX);
  }
  /* RFC 7741 §4.2 example bytes: X, I with M=1 15-bit id 0x1234. */
  const uint8_t ex[] = {0x90, 0x80, 0x92, 0x34, 0x00};
  weft__vp8_desc d;
  size_t h;
  g_assert_cmpint(weft__vp8_desc_parse(ex, sizeof ex, &d, &h), ==, 0);
  g_assert_true(d.s && d.has_picture_id && d.long_picture_id);
  g_assert_cmpuint(d.picture_id, ==, 0x1234);
  g_assert_cmpuint(h, ==, 4);
}

static void vp8_roundtrip(int pic_mode) {
  GRand *r = g_rand_new_with_seed(7);
  collector c;
  weft__media_sink s = make_sink(&c, MTU);
  sink_out o;
  weft__media_assembler *a = make_asm(&o, WEFT__CODEC_VP8, 0, 0);
  weft__vp8_packetizer pz = {.picture_id = pic_mode > 0,
                             .long_picture_id = pic_mode == 2,
                             .next_picture_id = pic_mode == 2 ? 0x7ffe : 0x7e};
  uint16_t seq = 65530; /* wraps during the run */
  uint32_t ts = 0xfffff000u;
  for (size_t i = 0; i < G_N_ELEMENTS(frame_sizes); i++) {
    size_t n = frame_sizes[i];
    uint8_t *f = random_bytes(r, n, false);
    bool key = i % 2 == 0;
    f[0] = (uint8_t)((f[0] & ~1u) | (key ? 0 : 1)); /* P bit: 0 on keyframes */
    uint16_t pid = pz.next_picture_id;
    g_assert_cmpint(weft__vp8_packetize(&pz, &s, f, n, true), ==, 0);
    size_t total = 0;
    for (guint k = 0; k < c.pkts->len; k++) {
      pkt *p = &g_array_index(c.pkts, pkt, k);
      g_assert_cmpuint(p->len, <=, MTU);
      g_assert_true(p->marker == (k + 1 == c.pkts->len));
      weft__vp8_desc d;
      size_t h;
      g_assert_cmpint(weft__vp8_desc_parse(p->data, p->len, &d, &h), ==, 0);
      g_assert_true(d.s == (k == 0));
      g_assert_cmpuint(d.pid, ==, 0);
      g_assert_true(d.n == !key); /* N only on non-reference non-keyframes */
      g_assert_true(d.has_picture_id == (pic_mode > 0));
      if (pic_mode)
        g_assert_cmpuint(d.picture_id, ==, pid);
      g_assert_true(d.long_picture_id == (pic_mode == 2));
      total += p->len - h;
    }
    g_assert_cmpuint(total, ==, n);
    size_t desc = pic_mode == 0 ? 1 : pic_mode == 1 ? 3 : 4;
    g_assert_cmpuint(c.pkts->len, ==, (n + (MTU - desc) - 1) / (MTU - desc));
    feed(a, &c, &seq, ts, -1);
    collector_clear(&c);
    g_assert_cmpuint(o.frames->len, ==, 1);
    frame *fr = &g_array_index(o.frames, frame, 0);
    g_assert_cmpmem(g_bytes_get_data(fr->data, NULL), g_bytes_get_size(fr->data), f, n);
    g_assert_true(fr->keyframe == key);
    g_assert_cmpuint(fr->ts, ==, ts);
    g_assert_cmpuint(o.drops->len, ==, 0);
    out_clear(&o);
    ts += 3000;
    g_free(f);
  }
  /* PictureID wrapped at 7 / 15 bits. */
  if (pic_mode == 1)
    g_assert_cmpuint(pz.next_picture_id, ==, (0x7e + 7) & 0x7f);
  if (pic_mode == 2)
    g_assert_cmpuint(pz.next_picture_id, ==, (0x7ffe + 7) & 0x7fff);
  weft__media_assembler_free(a);
  out_free(&o);
  collector_free(&c);
  g_rand_free(r);
}

static void test_vp8_roundtrip_nopid(void) { vp8_roundtrip(0); }
static void test_vp8_roundtrip_pid7(void) { vp8_roundtrip(1); }
static void test_vp8_roundtrip_pid15(void) { vp8_roundtrip(2); }

static void test_vp8_loss(void) {
  collector c;
  weft__media_sink s = make_sink(&c, MTU);
  sink_out o;
  weft__media_assembler *a = make_asm(&o, WEFT__CODEC_VP8, 0, 0);
  weft__vp8_packetizer pz = {.picture_id = true};
  uint8_t f[5000];
  memset(f, 0xab, sizeof f);
  f[0] = 0x10; /* keyframe */
  uint16_t seq = 1;
  /* Frame 1 loses a middle packet: dropped and reported. */
  g_assert_cmpint(weft__vp8_packetize(&pz, &s, f, sizeof f, false), ==, 0);
  g_assert_cmpuint(c.pkts->len, ==, 5);
  feed(a, &c, &seq, 1000, 2);
  collector_clear(&c);
  g_assert_cmpuint(o.frames->len, ==, 0);
  g_assert_cmpuint(o.drops->len, ==, 1);
  g_assert_cmpint(g_array_index(o.drops, int, 0), ==, WEFT__DROP_LOSS);
  g_assert_cmpuint(g_array_index(o.drop_ts, uint32_t, 0), ==, 1000);
  /* Frame 2 is whole and delivered. */
  f[0] = 0x11;
  g_assert_cmpint(weft__vp8_packetize(&pz, &s, f, sizeof f, false), ==, 0);
  feed(a, &c, &seq, 4000, -1);
  collector_clear(&c);
  g_assert_cmpuint(o.frames->len, ==, 1);
  g_assert_false(g_array_index(o.frames, frame, 0).keyframe);
  /* Frame 3 loses its last packet: reported when frame 4 starts (new
   * timestamp); frame 4, whose start is known from S=1, is delivered. */
  g_assert_cmpint(weft__vp8_packetize(&pz, &s, f, sizeof f, false), ==, 0);
  feed(a, &c, &seq, 7000, 4);
  collector_clear(&c);
  g_assert_cmpint(weft__vp8_packetize(&pz, &s, f, sizeof f, false), ==, 0);
  feed(a, &c, &seq, 10000, -1);
  collector_clear(&c);
  g_assert_cmpuint(o.drops->len, ==, 2);
  g_assert_cmpint(g_array_index(o.drops, int, 1), ==, WEFT__DROP_LOSS);
  g_assert_cmpuint(g_array_index(o.drop_ts, uint32_t, 1), ==, 7000);
  g_assert_cmpuint(o.frames->len, ==, 2);
  g_assert_cmpuint(g_array_index(o.frames, frame, 1).ts, ==, 10000);
  /* Frame 5 loses its first packet: no S=1, dropped at its marker. */
  g_assert_cmpint(weft__vp8_packetize(&pz, &s, f, sizeof f, false), ==, 0);
  feed(a, &c, &seq, 13000, 0);
  collector_clear(&c);
  g_assert_cmpuint(o.drops->len, ==, 3);
  g_assert_cmpuint(o.frames->len, ==, 2);
  weft__media_assembler_stats st;
  weft__media_assembler_get_stats(a, &st);
  g_assert_cmpuint(st.lost_packets, ==, 3);
  g_assert_cmpuint(st.frames, ==, 2);
  g_assert_cmpuint(st.dropped, ==, 3);
  /* Errors of the packetizer: empty frame, MTU too small, emit failure. */
  g_assert_cmpint(weft__vp8_packetize(&pz, &s, f, 0, false), ==, WEFT_ERR_INVALID_ARG);
  weft__media_sink tiny = s;
  tiny.max_payload = 3; /* 3-byte descriptor leaves nothing */
  g_assert_cmpint(weft__vp8_packetize(&pz, &tiny, f, 10, false), ==, WEFT_ERR_INVALID_ARG);
  c.fail_after = 2;
  g_assert_cmpint(weft__vp8_packetize(&pz, &s, f, sizeof f, false), ==, WEFT_ERR_AGAIN);
  g_assert_cmpuint(c.pkts->len, ==, 2);
  weft__media_assembler_free(a);
  out_free(&o);
  collector_free(&c);
}

/* A sender that splits the frame by partitions (RFC 7741 §4.4: S=1 at the
 * start of each partition, PID its index): the frame is the concatenation,
 * and only S=1 with PID=0 starts a frame. */
static void test_vp8_partitions(void) {
  sink_out o;
  weft__media_assembler *a = make_asm(&o, WEFT__CODEC_VP8, 0, 0);
  const uint8_t p0[] = {0x90, 0x80, 0x07, 0x50, 0x01, 0x02}; /* X, S, PID 0, PictureID 7 */
  const uint8_t p1[] = {0x80, 0x80, 0x07, 0x03, 0x04};       /* continuation of partition 0 */
  const uint8_t p2[] = {0x91, 0x80, 0x07, 0x05};             /* S, PID 1 */
  const uint8_t p3[] = {0x92, 0x80, 0x07, 0x06, 0x07};       /* S, PID 2 */
  uint16_t seq = 0;
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 9, false, p0, sizeof p0), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 9, false, p1, sizeof p1), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 9, false, p2, sizeof p2), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 9, true, p3, sizeof p3), ==, 0);
  g_assert_cmpuint(o.frames->len, ==, 1);
  const uint8_t want[] = {0x50, 1, 2, 3, 4, 5, 6, 7};
  frame *fr = &g_array_index(o.frames, frame, 0);
  g_assert_cmpmem(g_bytes_get_data(fr->data, NULL), g_bytes_get_size(fr->data), want, sizeof want);
  g_assert_true(fr->keyframe); /* 0x50: P bit 0 */
  g_assert_cmpuint(fr->first_seq, ==, 0);
  g_assert_cmpuint(fr->last_seq, ==, 3);
  /* The first packet lost: partition 1's S=1 does not pass for a start. */
  seq++;
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 10, false, p1, sizeof p1), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 10, false, p2, sizeof p2), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 10, true, p3, sizeof p3), ==, 0);
  g_assert_cmpuint(o.frames->len, ==, 1);
  g_assert_cmpuint(o.drops->len, ==, 1);
  g_assert_cmpint(g_array_index(o.drops, int, 0), ==, WEFT__DROP_LOSS);
  /* A stream joined mid-frame (no loss seen): incomplete. */
  weft__media_assembler_reset(a);
  g_assert_cmpint(weft__media_assembler_push(a, 500, 11, true, p3, sizeof p3), ==, 0);
  g_assert_cmpuint(o.drops->len, ==, 2);
  g_assert_cmpint(g_array_index(o.drops, int, 1), ==, WEFT__DROP_INCOMPLETE);
  weft__media_assembler_free(a);
  out_free(&o);
}

/* ---- H264 ----------------------------------------------------------------- */

/* An access unit from a list of NAL units in one of three byte formats. */
typedef enum { AB3, AB4, AVCC } fmt;

static GByteArray *make_au(fmt f, uint8_t **nals, size_t *lens, size_t count) {
  GByteArray *b = g_byte_array_new();
  for (size_t i = 0; i < count; i++) {
    if (f == AB3) {
      g_byte_array_append(b, (const guint8 *)"\0\0\1", 3);
    } else if (f == AB4) {
      g_byte_array_append(b, (const guint8 *)"\0\0\0\1", 4);
    } else {
      uint8_t l[4] = {(uint8_t)(lens[i] >> 24), (uint8_t)(lens[i] >> 16), (uint8_t)(lens[i] >> 8),
                      (uint8_t)lens[i]};
      g_byte_array_append(b, l, 4);
    }
    g_byte_array_append(b, nals[i], (guint)lens[i]);
  }
  return b;
}

/* A NAL unit of @n bytes: header (NRI 3, @type), then bytes that never form
 * a start code (H.264 emulation prevention guarantees that). */
static uint8_t *make_nal(GRand *r, unsigned type, size_t n) {
  uint8_t *b = random_bytes(r, n, true);
  b[0] = (uint8_t)(0x60 | type);
  return b;
}

/* Checks each payload against RFC 6184 and the sender's promises. */
static void check_h264_payloads(collector *c, size_t mtu) {
  for (guint k = 0; k < c->pkts->len; k++) {
    pkt *p = &g_array_index(c->pkts, pkt, k);
    g_assert_cmpuint(p->len, <=, mtu);
    g_assert_true(p->marker == (k + 1 == c->pkts->len));
    g_assert_cmpint(weft__h264_validate(p->data, p->len), ==, 0);
    if ((p->data[0] & 0x1f) == WEFT__H264_FU_A)
      g_assert_cmpuint(p->data[1] & 0xc0, !=, 0xc0); /* never S and E together */
  }
}

static void h264_roundtrip_one(GRand *r, fmt f, uint8_t **nals, size_t *lens, size_t count,
                               bool expect_key) {
  collector c;
  weft__media_sink s = make_sink(&c, MTU);
  sink_out o;
  weft__media_assembler *a = make_asm(&o, WEFT__CODEC_H264, 4, 0);
  weft__h264_packetizer pz = {.format = f == AVCC ? WEFT__H264_AVCC : WEFT__H264_ANNEXB};
  GByteArray *au = make_au(f, nals, lens, count);
  GByteArray *want = make_au(AB4, nals, lens, count);
  /* Explicit format and auto-detection produce the same packets. */
  for (int pass = 0; pass < 2; pass++) {
    if (pass == 1)
      pz.format = WEFT__H264_AUTO;
    g_assert_cmpint(weft__h264_packetize(&pz, &s, au->data, au->len), ==, 0);
    check_h264_payloads(&c, MTU);
    uint16_t seq = (uint16_t)g_rand_int(r);
    feed(a, &c, &seq, 90000 * (uint32_t)(pass + 1), -1);
    collector_clear(&c);
    g_assert_cmpuint(o.frames->len, ==, 1);
    g_assert_cmpuint(o.drops->len, ==, 0);
    frame *fr = &g_array_index(o.frames, frame, 0);
    g_assert_cmpmem(g_bytes_get_data(fr->data, NULL), g_bytes_get_size(fr->data), want->data,
                    want->len);
    g_assert_true(fr->keyframe == expect_key);
    out_clear(&o);
    weft__media_assembler_reset(a);
  }
  g_byte_array_unref(au);
  g_byte_array_unref(want);
  weft__media_assembler_free(a);
  out_free(&o);
  collector_free(&c);
}

static void test_h264_roundtrip(void) {
  GRand *r = g_rand_new_with_seed(42);
  for (int f = AB3; f <= AVCC; f++) {
    for (size_t i = 0; i < G_N_ELEMENTS(frame_sizes); i++) {
      size_t n = frame_sizes[i];
      /* One slice NAL unit of the size. */
      uint8_t *nal = make_nal(r, WEFT__H264_NAL_SLICE, n);
      size_t len = n;
      h264_roundtrip_one(r, f, &nal, &len, 1, false);
      g_free(nal);
      /* SPS + PPS + IDR of that size: a keyframe, with aggregation. */
      uint8_t *three[3] = {make_nal(r, WEFT__H264_NAL_SPS, 12), make_nal(r, WEFT__H264_NAL_PPS, 4),
                           make_nal(r, WEFT__H264_NAL_IDR, n)};
      size_t lens[3] = {12, 4, n};
      h264_roundtrip_one(r, f, three, lens, 3, true);
      for (int k = 0; k < 3; k++)
        g_free(three[k]);
    }
  }
  g_rand_free(r);
}

/* Packetizes one NAL unit of @n bytes and returns the packets in @c. */
static void packetize_nal(collector *c, const weft__media_sink *s, const uint8_t *nal, size_t n) {
  uint8_t *au = g_malloc(n + 4);
  au[0] = (uint8_t)(n >> 24);
  au[1] = (uint8_t)(n >> 16);
  au[2] = (uint8_t)(n >> 8);
  au[3] = (uint8_t)n;
  memcpy(au + 4, nal, n);
  weft__h264_packetizer pz = {.format = WEFT__H264_AVCC};
  collector_clear(c);
  g_assert_cmpint(weft__h264_packetize(&pz, s, au, n + 4), ==, 0);
  g_free(au);
}

static void test_h264_fu_edges(void) {
  GRand *r = g_rand_new_with_seed(3);
  collector c;
  weft__media_sink s = make_sink(&c, MTU);
  uint8_t *nal = make_nal(r, WEFT__H264_NAL_IDR, 3 * MTU);
  nal[0] = 0x45; /* NRI 2 */
  /* Exactly the MTU: one single NAL unit packet, byte for byte. */
  packetize_nal(&c, &s, nal, MTU);
  g_assert_cmpuint(c.pkts->len, ==, 1);
  g_assert_cmpmem(g_array_index(c.pkts, pkt, 0).data, MTU, nal, MTU);
  /* One byte more: two FU-As, MTU and 3 bytes (2 header + 1 data). */
  packetize_nal(&c, &s, nal, MTU + 1);
  g_assert_cmpuint(c.pkts->len, ==, 2);
  check_h264_payloads(&c, MTU);
  pkt *p0 = &g_array_index(c.pkts, pkt, 0), *p1 = &g_array_index(c.pkts, pkt, 1);
  g_assert_cmpuint(p0->len, ==, MTU);
  g_assert_cmpuint(p1->len, ==, 4);
  /* FU indicator: F=0, NRI of the unit, type 28; header S / E, type 5. */
  g_assert_cmphex(p0->data[0], ==, 0x40 | 28);
  g_assert_cmphex(p0->data[1], ==, 0x80 | 5);
  g_assert_cmphex(p1->data[0], ==, 0x40 | 28);
  g_assert_cmphex(p1->data[1], ==, 0x40 | 5);
  /* A unit whose last fragment carries 1 byte: n - 1 = 2 (MTU - 2) + 1. */
  size_t n = 2 * (MTU - 2) + 2;
  packetize_nal(&c, &s, nal, n);
  g_assert_cmpuint(c.pkts->len, ==, 3);
  check_h264_payloads(&c, MTU);
  g_assert_cmpuint(g_array_index(c.pkts, pkt, 2).len, ==, 3);
  g_assert_cmphex(g_array_index(c.pkts, pkt, 1).data[1], ==, 5); /* middle: no S, no E */
  /* And it reassembles. */
  sink_out o;
  weft__media_assembler *a = make_asm(&o, WEFT__CODEC_H264, 0, 0);
  uint16_t seq = 0;
  feed(a, &c, &seq, 1, -1);
  g_assert_cmpuint(o.frames->len, ==, 1);
  frame *fr = &g_array_index(o.frames, frame, 0);
  g_assert_cmpuint(g_bytes_get_size(fr->data), ==, n + 4);
  g_assert_cmpmem((const uint8_t *)g_bytes_get_data(fr->data, NULL) + 4, n, nal, n);
  g_assert_true(fr->keyframe);
  /* The smallest MTU (3): one data byte per FU-A. */
  collector c3;
  weft__media_sink s3 = make_sink(&c3, 3);
  packetize_nal(&c3, &s3, nal, 10);
  g_assert_cmpuint(c3.pkts->len, ==, 9);
  check_h264_payloads(&c3, 3);
  out_clear(&o);
  feed(a, &c3, &seq, 2, -1);
  g_assert_cmpuint(o.frames->len, ==, 1);
  s3.max_payload = 2;
  g_assert_cmpint(weft__h264_packetize(&(weft__h264_packetizer){0}, &s3, nal, 10), ==,
                  WEFT_ERR_INVALID_ARG);
  collector_free(&c3);
  weft__media_assembler_free(a);
  out_free(&o);
  g_free(nal);
  collector_free(&c);
  g_rand_free(r);
}

static void test_h264_stap_a(void) {
  GRand *r = g_rand_new_with_seed(5);
  collector c;
  weft__media_sink s = make_sink(&c, MTU);
  uint8_t *sps = make_nal(r, WEFT__H264_NAL_SPS, 15);
  uint8_t *pps = make_nal(r, WEFT__H264_NAL_PPS, 4);
  uint8_t *idr = make_nal(r, WEFT__H264_NAL_IDR, 300);
  sps[0] = 0x67;
  pps[0] = 0x28; /* NRI 1 */
  idr[0] = 0x45; /* NRI 2 */
  uint8_t *nals[3] = {sps, pps, idr};
  size_t lens[3] = {15, 4, 300};
  GByteArray *au = make_au(AB4, nals, lens, 3);
  weft__h264_packetizer pz = {.format = WEFT__H264_ANNEXB};
  g_assert_cmpint(weft__h264_packetize(&pz, &s, au->data, au->len), ==, 0);
  g_assert_cmpuint(c.pkts->len, ==, 1);
  pkt *p = &g_array_index(c.pkts, pkt, 0);
  g_assert_cmpuint(p->len, ==, 1 + 2 + 15 + 2 + 4 + 2 + 300);
  g_assert_cmphex(p->data[0], ==, 0x60 | 24); /* max NRI of the three: 3 */
  g_assert_cmpuint(p->data[1] << 8 | p->data[2], ==, 15);
  g_assert_cmpmem(p->data + 3, 15, sps, 15);
  g_assert_cmpuint(p->data[18] << 8 | p->data[19], ==, 4);
  g_assert_cmpuint(p->data[24] << 8 | p->data[25], ==, 300);
  g_assert_true(p->marker);
  sink_out o;
  weft__media_assembler *a = make_asm(&o, WEFT__CODEC_H264, 0, 0);
  uint16_t seq = 9;
  feed(a, &c, &seq, 1, -1);
  g_assert_cmpuint(o.frames->len, ==, 1);
  g_assert_true(g_array_index(o.frames, frame, 0).keyframe);
  /* Without aggregation: three single NAL unit packets. */
  pz.no_stap_a = true;
  collector_clear(&c);
  g_assert_cmpint(weft__h264_packetize(&pz, &s, au->data, au->len), ==, 0);
  g_assert_cmpuint(c.pkts->len, ==, 3);
  check_h264_payloads(&c, MTU);
  /* Aggregation stops at the MTU: SPS + PPS together, the big IDR as FU-A. */
  pz.no_stap_a = false;
  g_free(idr);
  idr = make_nal(r, WEFT__H264_NAL_IDR, MTU - 10);
  nals[2] = idr;
  lens[2] = MTU - 10;
  g_byte_array_unref(au);
  au = make_au(AB3, nals, lens, 3);
  collector_clear(&c);
  g_assert_cmpint(weft__h264_packetize(&pz, &s, au->data, au->len), ==, 0);
  g_assert_cmpuint(c.pkts->len, ==, 2);
  check_h264_payloads(&c, MTU);
  g_assert_cmpuint(g_array_index(c.pkts, pkt, 0).data[0] & 0x1f, ==, 24);
  g_assert_cmpuint(g_array_index(c.pkts, pkt, 1).len, ==, MTU - 10);
  out_clear(&o);
  feed(a, &c, &seq, 2, -1);
  g_assert_cmpuint(o.frames->len, ==, 1);
  GByteArray *want = make_au(AB4, nals, lens, 3);
  frame *fr = &g_array_index(o.frames, frame, 0);
  g_assert_cmpmem(g_bytes_get_data(fr->data, NULL), g_bytes_get_size(fr->data), want->data,
                  want->len);
  g_byte_array_unref(want);
  g_byte_array_unref(au);
  weft__media_assembler_free(a);
  out_free(&o);
  g_free(sps);
  g_free(pps);
  g_free(idr);
  collector_free(&c);
  g_rand_free(r);
}

static void test_h264_keyframe(void) {
  sink_out o;
  weft__media_assembler *a = make_asm(&o, WEFT__CODEC_H264, 0, 0);
  const uint8_t p_slice[] = {0x41, 0x9a, 0x02};
  const uint8_t idr[] = {0x65, 0x88, 0x84};
  const uint8_t sps[] = {0x67, 0x42, 0xc0, 0x1f};
  const uint8_t fu_idr_start[] = {0x7c, 0x85, 0x11}, fu_idr_end[] = {0x7c, 0x45, 0x22};
  g_assert_cmpint(weft__media_assembler_push(a, 1, 10, true, p_slice, 3), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, 2, 20, true, idr, 3), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, 3, 30, false, sps, 4), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, 4, 30, true, p_slice, 3), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, 5, 40, false, fu_idr_start, 3), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, 6, 40, true, fu_idr_end, 3), ==, 0);
  g_assert_cmpuint(o.frames->len, ==, 4);
  g_assert_false(g_array_index(o.frames, frame, 0).keyframe);
  g_assert_true(g_array_index(o.frames, frame, 1).keyframe);
  g_assert_true(g_array_index(o.frames, frame, 2).keyframe);
  g_assert_true(g_array_index(o.frames, frame, 3).keyframe);
  /* The FU-A rebuilt header: F/NRI of the indicator (0x60) with type 5. */
  frame *fr = &g_array_index(o.frames, frame, 3);
  const uint8_t want[] = {0, 0, 0, 1, 0x65, 0x11, 0x22};
  g_assert_cmpmem(g_bytes_get_data(fr->data, NULL), g_bytes_get_size(fr->data), want, sizeof want);
  weft__media_assembler_free(a);
  out_free(&o);
}

static void test_h264_malformed(void) {
  const struct {
    uint8_t b[12];
    size_t len;
    int rc;
  } cases[] = {
      {{0}, 0, WEFT_ERR_SYNTAX},                               /* empty */
      {{0x00, 1}, 2, WEFT_ERR_SYNTAX},                         /* type 0 */
      {{0x1e, 1}, 2, WEFT_ERR_SYNTAX},                         /* reserved 30 */
      {{0x1f, 1}, 2, WEFT_ERR_SYNTAX},                         /* reserved 31 */
      {{0xc1, 1}, 2, WEFT_ERR_SYNTAX},                         /* forbidden bit */
      {{0x19, 0, 1, 0x41}, 4, WEFT_ERR_NOT_SUPPORTED},         /* STAP-B */
      {{0x1a, 0}, 2, WEFT_ERR_NOT_SUPPORTED},                  /* MTAP16 */
      {{0x1b, 0}, 2, WEFT_ERR_NOT_SUPPORTED},                  /* MTAP24 */
      {{0x1d, 0x85, 1}, 3, WEFT_ERR_NOT_SUPPORTED},            /* FU-B */
      {{0x18}, 1, WEFT_ERR_SYNTAX},                            /* STAP-A, no unit */
      {{0x18, 0}, 2, WEFT_ERR_SYNTAX},                         /* size cut */
      {{0x18, 0, 0}, 3, WEFT_ERR_SYNTAX},                      /* size 0 */
      {{0x18, 0, 5, 0x67, 1, 2}, 6, WEFT_ERR_SYNTAX},          /* size past the end */
      {{0x18, 0, 2, 0x67, 1, 0, 9, 0x68}, 8, WEFT_ERR_SYNTAX}, /* 2nd past the end */
      {{0x18, 0, 2, 0x67, 1, 0}, 6, WEFT_ERR_SYNTAX},          /* trailing byte */
      {{0x18, 0, 2, 0x78, 1}, 5, WEFT_ERR_SYNTAX},             /* nested STAP-A */
      {{0x18, 0, 2, 0x80, 1}, 5, WEFT_ERR_SYNTAX},             /* unit with F, type 0 */
      {{0x18, 0, 2, 0x67, 1, 0, 1, 0x68}, 8, 0},               /* SPS + PPS */
      {{0x1c, 0x85}, 2, WEFT_ERR_SYNTAX},                      /* FU-A without data */
      {{0x1c, 0xc5, 1}, 3, WEFT_ERR_SYNTAX},                   /* S and E */
      {{0x1c, 0x80, 1}, 3, WEFT_ERR_SYNTAX},                   /* fragment of type 0 */
      {{0x1c, 0x98, 1}, 3, WEFT_ERR_SYNTAX},                   /* fragment of a STAP-A */
      {{0x1c, 0x9c, 1}, 3, WEFT_ERR_SYNTAX},                   /* fragment of an FU-A */
      {{0x1c, 0x9f, 1}, 3, WEFT_ERR_SYNTAX},                   /* fragment of type 31 */
      {{0x1c, 0xa5, 1}, 3, 0},                                 /* R set: ignored */
      {{0x7c, 0x05, 1}, 3, 0},                                 /* middle */
  };
  for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
    int rc = weft__h264_validate(cases[i].b, cases[i].len);
    if (rc != cases[i].rc)
      g_error("h264 case %zu: %d, expected %d (%s)", i, rc, cases[i].rc, weft__error_message());
    if (rc)
      g_assert_true(strncmp(weft__error_message(), "H264: ", 6) == 0);
  }

  /* Stateful errors in the assembler. */
  sink_out o;
  weft__media_assembler *a = make_asm(&o, WEFT__CODEC_H264, 0, 0);
  const uint8_t fu_s[] = {0x7c, 0x85, 1}, fu_m[] = {0x7c, 0x05, 2}, fu_e[] = {0x7c, 0x45, 3};
  const uint8_t fu_m1[] = {0x7c, 0x01, 2}, single[] = {0x41, 7};
  uint16_t seq = 0;
  /* Middle and end without a start: dropped (no sequence gap at all). */
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 1, false, fu_m, 3), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 1, true, fu_e, 3), ==, 0);
  /* Type changes inside one fragmented unit. */
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 2, false, fu_s, 3), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 2, true, fu_m1, 3), ==, 0);
  /* A single NAL unit interrupts an unfinished FU-A. */
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 3, false, fu_s, 3), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 3, true, single, 2), ==, 0);
  /* The marker arrives while an FU-A is open. */
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 4, false, fu_s, 3), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 4, true, fu_m, 3), ==, 0);
  /* A malformed payload inside a frame drops that frame as malformed. */
  const uint8_t stap_bad[] = {0x18, 0, 9, 0x67};
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 5, false, single, 2), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 5, true, stap_bad, 4), ==, WEFT_ERR_SYNTAX);
  /* And the stream goes on: a good frame. */
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 6, false, fu_s, 3), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 6, false, fu_m, 3), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, seq++, 6, true, fu_e, 3), ==, 0);
  g_assert_cmpuint(o.frames->len, ==, 1);
  const int want[] = {WEFT__DROP_INCOMPLETE, WEFT__DROP_MALFORMED, WEFT__DROP_INCOMPLETE,
                      WEFT__DROP_INCOMPLETE, WEFT__DROP_MALFORMED};
  g_assert_cmpuint(o.drops->len, ==, G_N_ELEMENTS(want));
  for (size_t i = 0; i < G_N_ELEMENTS(want); i++)
    g_assert_cmpint(g_array_index(o.drops, int, i), ==, want[i]);
  weft__media_assembler_free(a);
  out_free(&o);
}

static void test_h264_input_errors(void) {
  collector c;
  weft__media_sink s = make_sink(&c, MTU);
  weft__h264_packetizer ab = {.format = WEFT__H264_ANNEXB}, avcc = {.format = WEFT__H264_AVCC},
                        aut = {.format = WEFT__H264_AUTO};
  const uint8_t garbage_first[] = {0x12, 0, 0, 1, 0x41, 1};
  g_assert_cmpint(weft__h264_packetize(&ab, &s, garbage_first, 6), ==, WEFT_ERR_SYNTAX);
  const uint8_t only_sc[] = {0, 0, 0, 1};
  g_assert_cmpint(weft__h264_packetize(&ab, &s, only_sc, 4), ==, WEFT_ERR_INVALID_ARG);
  const uint8_t avcc_past[] = {0, 0, 0, 9, 0x41, 1};
  g_assert_cmpint(weft__h264_packetize(&avcc, &s, avcc_past, 6), ==, WEFT_ERR_SYNTAX);
  const uint8_t avcc_cut[] = {0, 0, 0, 1, 0x41, 0, 0};
  g_assert_cmpint(weft__h264_packetize(&avcc, &s, avcc_cut, 7), ==, WEFT_ERR_SYNTAX);
  const uint8_t avcc_zero[] = {0, 0, 0, 0};
  g_assert_cmpint(weft__h264_packetize(&avcc, &s, avcc_zero, 4), ==, WEFT_ERR_SYNTAX);
  const uint8_t forbidden[] = {0, 0, 1, 0xc1, 1};
  g_assert_cmpint(weft__h264_packetize(&ab, &s, forbidden, 5), ==, WEFT_ERR_SYNTAX);
  const uint8_t stap_in[] = {0, 0, 1, 0x78, 1};
  g_assert_cmpint(weft__h264_packetize(&ab, &s, stap_in, 5), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft__h264_packetize(&aut, &s, stap_in, 0), ==, WEFT_ERR_INVALID_ARG);
  /* A bad unit anywhere in the frame sends nothing at all. */
  const uint8_t late_bad[] = {0, 0, 1, 0x41, 1, 0, 0, 1, 0x00, 1};
  g_assert_cmpint(weft__h264_packetize(&ab, &s, late_bad, sizeof late_bad), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpuint(c.pkts->len, ==, 0);
  /* Annex-B details: empty units between start codes and trailing zeros
   * are skipped; mixed 3- and 4-byte start codes. */
  const uint8_t messy[] = {0, 0,    0, 0, 1, 0x67, 5, 0, 0,    1, 0, 0,
                           1, 0x68, 6, 0, 0, 0,    0, 1, 0x65, 7, 0, 0};
  weft__h264_nal_iter it;
  weft__h264_nal_iter_init(&it, messy, sizeof messy, WEFT__H264_AUTO);
  const uint8_t *nal;
  size_t n;
  const uint8_t first[] = {0x67, 0x68, 0x65};
  for (int i = 0; i < 3; i++) {
    g_assert_cmpint(weft__h264_nal_next(&it, &nal, &n), ==, 1);
    g_assert_cmpuint(n, ==, 2);
    g_assert_cmphex(nal[0], ==, first[i]);
  }
  g_assert_cmpint(weft__h264_nal_next(&it, &nal, &n), ==, 0);
  /* AUTO on AVCC frames that open like a start code: a 300-byte first unit
   * (00 00 01 2c) and a 1-byte one (00 00 00 01). */
  {
    GRand *r = g_rand_new_with_seed(1);
    uint8_t *u300 = make_nal(r, WEFT__H264_NAL_IDR, 300), *u1 = make_nal(r, 10, 1);
    uint8_t *nals[2] = {u300, u1};
    size_t lens[2] = {300, 1};
    GByteArray *au = make_au(AVCC, nals, lens, 2);
    weft__h264_nal_iter_init(&it, au->data, au->len, WEFT__H264_AUTO);
    g_assert_cmpint(it.format, ==, WEFT__H264_AVCC);
    g_byte_array_unref(au);
    uint8_t *rev[2] = {u1, u300};
    size_t rlens[2] = {1, 300};
    au = make_au(AVCC, rev, rlens, 2);
    weft__h264_nal_iter_init(&it, au->data, au->len, WEFT__H264_AUTO);
    g_assert_cmpint(it.format, ==, WEFT__H264_AVCC);
    g_byte_array_unref(au);
    au = make_au(AB3, nals, lens, 2);
    weft__h264_nal_iter_init(&it, au->data, au->len, WEFT__H264_AUTO);
    g_assert_cmpint(it.format, ==, WEFT__H264_ANNEXB);
    g_byte_array_unref(au);
    g_free(u300);
    g_free(u1);
    g_rand_free(r);
  }
  /* emit() errors stop packetization and come back. */
  c.fail_after = 0;
  const uint8_t ok[] = {0, 0, 1, 0x41, 1};
  g_assert_cmpint(weft__h264_packetize(&ab, &s, ok, 5), ==, WEFT_ERR_AGAIN);
  collector_free(&c);
}

/* ---- Assembler ------------------------------------------------------------ */

/* Builds 20 VP8 frames' payloads, shuffles them within a window, and checks
 * what comes out with and without a reorder window. */
static void test_reorder(void) {
  GRand *r = g_rand_new_with_seed(11);
  collector c;
  weft__media_sink s = make_sink(&c, 300);
  weft__vp8_packetizer pz = {.picture_id = true};
  GArray *all = g_array_new(FALSE, TRUE, sizeof(pkt));
  GArray *tss = g_array_new(FALSE, TRUE, sizeof(uint32_t));
  GPtrArray *frames = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  for (int f = 0; f < 20; f++) {
    size_t n = (size_t)g_rand_int_range(r, 1, 2000);
    uint8_t *d = random_bytes(r, n, false);
    g_assert_cmpint(weft__vp8_packetize(&pz, &s, d, n, false), ==, 0);
    g_ptr_array_add(frames, g_bytes_new_take(d, n));
    for (guint k = 0; k < c.pkts->len; k++) {
      g_array_append_val(all, g_array_index(c.pkts, pkt, k));
      uint32_t ts = (uint32_t)f * 3000;
      g_array_append_val(tss, ts);
    }
    g_array_set_size(c.pkts, 0); /* ownership moved to all */
  }
  guint np = all->len;
  /* Order: swap neighbours at distance up to 3. */
  guint *order = g_new(guint, np);
  for (guint i = 0; i < np; i++)
    order[i] = i;
  /* The first packet sets the sequence origin (anything before it is late),
   * so the shuffling starts after it. */
  for (guint i = 1; i + 3 < np; i += 4) {
    guint t = order[i];
    order[i] = order[i + 3];
    order[i + 3] = t;
  }
  for (unsigned reorder = 0; reorder <= 8; reorder += 4) {
    sink_out o;
    weft__media_assembler *a = make_asm(&o, WEFT__CODEC_VP8, reorder, 0);
    for (guint i = 0; i < np; i++) {
      pkt *p = &g_array_index(all, pkt, order[i]);
      uint16_t seq = (uint16_t)(65500 + order[i]);
      weft__media_assembler_push(a, seq, g_array_index(tss, uint32_t, order[i]), p->marker, p->data,
                                 p->len);
      if (i == 6) { /* a duplicate of a packet held (or, without a window, used) */
        weft__media_assembler_push(a, seq, g_array_index(tss, uint32_t, order[i]), p->marker,
                                   p->data, p->len);
      }
    }
    weft__media_assembler_flush(a);
    weft__media_assembler_stats st;
    weft__media_assembler_get_stats(a, &st);
    if (reorder >= 4) {
      /* Every frame, in order, intact. */
      g_assert_cmpuint(o.frames->len, ==, 20);
      g_assert_cmpuint(o.drops->len, ==, 0);
      for (guint f = 0; f < 20; f++) {
        frame *fr = &g_array_index(o.frames, frame, f);
        g_assert_true(g_bytes_equal(fr->data, frames->pdata[f]));
        g_assert_cmpuint(fr->ts, ==, f * 3000);
      }
      g_assert_cmpuint(st.lost_packets, ==, 0);
      g_assert_cmpuint(st.late + st.duplicates, ==, 1);
    } else {
      /* No window: late packets are lost, their frames dropped. */
      g_assert_cmpuint(o.frames->len + o.drops->len, <=, 20);
      g_assert_cmpuint(o.drops->len, >, 0);
      g_assert_cmpuint(st.late, >, 0);
      for (guint f = 0; f < o.frames->len; f++) {
        frame *fr = &g_array_index(o.frames, frame, f);
        g_assert_true(g_bytes_equal(fr->data, frames->pdata[fr->ts / 3000]));
      }
    }
    weft__media_assembler_free(a);
    out_free(&o);
  }
  /* A real gap inside the window: held packets come out after flush(). */
  {
    sink_out o;
    weft__media_assembler *a = make_asm(&o, WEFT__CODEC_VP8, 8, 0);
    /* Frame 0 whole; frame 1 misses its first packet, frame 2 is whole but
     * waits behind the gap until flush. */
    uint16_t seq = 0;
    guint idx = 0;
    int frame_of_idx = 0;
    for (idx = 0; idx < np; idx++) {
      frame_of_idx = (int)(g_array_index(tss, uint32_t, idx) / 3000);
      if (frame_of_idx > 2)
        break;
      pkt *p = &g_array_index(all, pkt, idx);
      seq = (uint16_t)idx;
      bool first_of_1 =
          frame_of_idx == 1 && (idx == 0 || g_array_index(tss, uint32_t, idx - 1) == 0);
      if (first_of_1)
        continue;
      weft__media_assembler_push(a, seq, g_array_index(tss, uint32_t, idx), p->marker, p->data,
                                 p->len);
    }
    g_assert_cmpuint(o.frames->len, ==, 1);
    g_assert_cmpint(weft__media_assembler_flush(a), ==, 0);
    g_assert_cmpuint(o.frames->len, ==, 2);
    g_assert_cmpuint(g_array_index(o.frames, frame, 1).ts, ==, 6000);
    g_assert_cmpuint(o.drops->len, ==, 1);
    g_assert_cmpuint(g_array_index(o.drop_ts, uint32_t, 0), ==, 3000);
    weft__media_assembler_free(a);
    out_free(&o);
  }
  for (guint i = 0; i < np; i++)
    g_free(g_array_index(all, pkt, i).data);
  g_array_free(all, TRUE);
  g_array_free(tss, TRUE);
  g_ptr_array_unref(frames);
  g_free(order);
  collector_free(&c);
  g_rand_free(r);
}

static void test_limits(void) {
  /* A frame past max_frame is dropped as too big; the next one passes. */
  collector c;
  weft__media_sink s = make_sink(&c, MTU);
  sink_out o;
  weft__media_assembler *a = make_asm(&o, WEFT__CODEC_VP8, 0, 10000);
  weft__vp8_packetizer pz = {0};
  uint8_t *f = g_malloc0(20000);
  uint16_t seq = 0;
  g_assert_cmpint(weft__vp8_packetize(&pz, &s, f, 10001, false), ==, 0);
  feed(a, &c, &seq, 0, -1);
  collector_clear(&c);
  g_assert_cmpint(weft__vp8_packetize(&pz, &s, f, 10000, false), ==, 0);
  feed(a, &c, &seq, 1, -1);
  collector_clear(&c);
  g_assert_cmpuint(o.drops->len, ==, 1);
  g_assert_cmpint(g_array_index(o.drops, int, 0), ==, WEFT__DROP_TOO_BIG);
  g_assert_cmpuint(o.frames->len, ==, 1);
  g_assert_cmpuint(g_bytes_get_size(g_array_index(o.frames, frame, 0).data), ==, 10000);
  weft__media_assembler_free(a);
  out_free(&o);
  /* Bad configurations. */
  weft__media_assembler_config bad = {WEFT__CODEC_VP8, 0,    WEFT__MEDIA_MAX_REORDER + 1,
                                      on_frame,        NULL, NULL};
  g_assert_null(weft__media_assembler_new(&bad));
  bad.reorder = 0;
  bad.codec = 9;
  g_assert_null(weft__media_assembler_new(&bad));
  bad.codec = WEFT__CODEC_H264;
  bad.on_frame = NULL;
  g_assert_null(weft__media_assembler_new(&bad));
  /* A restart far back in sequence space is followed, not taken as late. */
  a = make_asm(&o, WEFT__CODEC_OPUS, 4, 0);
  const uint8_t op[] = {0xf8, 1};
  g_assert_cmpint(weft__media_assembler_push(a, 40000, 0, false, op, 2), ==, 0);
  g_assert_cmpint(weft__media_assembler_push(a, 39999, 0, false, op, 2), ==, 0); /* late */
  g_assert_cmpint(weft__media_assembler_push(a, 100, 960, false, op, 2), ==, 0); /* restart */
  g_assert_cmpint(weft__media_assembler_push(a, 101, 1920, false, op, 2), ==, 0);
  g_assert_cmpuint(o.frames->len, ==, 3);
  weft__media_assembler_free(a);
  out_free(&o);
  g_free(f);
  collector_free(&c);
}

/* H264 losses: a lost FU-A middle drops its frame; a single lost packet
 * right after an unterminated frame is that frame's marker packet, so the
 * next frame is whole; a larger gap makes the next frame suspect. */
static void test_h264_loss(void) {
  GRand *r = g_rand_new_with_seed(9);
  collector c;
  weft__media_sink s = make_sink(&c, MTU);
  sink_out o;
  weft__media_assembler *a = make_asm(&o, WEFT__CODEC_H264, 0, 0);
  uint8_t *nal = make_nal(r, WEFT__H264_NAL_SLICE, 5000);
  uint16_t seq = 65000;
  packetize_nal(&c, &s, nal, 5000);
  g_assert_cmpuint(c.pkts->len, ==, 5);
  feed(a, &c, &seq, 100, 2); /* middle fragment lost */
  feed(a, &c, &seq, 200, -1);
  g_assert_cmpuint(o.frames->len, ==, 1);
  g_assert_cmpuint(g_array_index(o.frames, frame, 0).ts, ==, 200);
  g_assert_cmpuint(o.drops->len, ==, 1);
  g_assert_cmpint(g_array_index(o.drops, int, 0), ==, WEFT__DROP_LOSS);
  g_assert_cmpuint(g_array_index(o.drop_ts, uint32_t, 0), ==, 100);
  out_clear(&o);
  feed(a, &c, &seq, 300, 4); /* the marker packet lost */
  feed(a, &c, &seq, 400, -1);
  g_assert_cmpuint(o.frames->len, ==, 1);
  g_assert_cmpuint(g_array_index(o.frames, frame, 0).ts, ==, 400);
  g_assert_cmpuint(o.drops->len, ==, 1);
  g_assert_cmpuint(g_array_index(o.drop_ts, uint32_t, 0), ==, 300);
  out_clear(&o);
  feed(a, &c, &seq, 500, -1);
  seq += 2; /* two packets gone between whole frames: frame 600 is not trusted */
  feed(a, &c, &seq, 600, -1);
  feed(a, &c, &seq, 700, -1);
  g_assert_cmpuint(o.frames->len, ==, 2);
  g_assert_cmpuint(g_array_index(o.frames, frame, 1).ts, ==, 700);
  g_assert_cmpuint(o.drops->len, ==, 1);
  g_assert_cmpuint(g_array_index(o.drop_ts, uint32_t, 0), ==, 600);
  weft__media_assembler_free(a);
  out_free(&o);
  g_free(nal);
  collector_free(&c);
  g_rand_free(r);
}

/* Reordering across the 16-bit sequence wrap with a window that is not a
 * power of two. */
static void test_reorder_wrap(void) {
  sink_out o;
  weft__media_assembler *a = make_asm(&o, WEFT__CODEC_OPUS, 3, 0);
  const uint8_t op[] = {0xf8, 0};
  /* 65533, then 65536+{1,0,-1,...} in groups: each group of 3 reversed. */
  uint16_t base = 65533;
  g_assert_cmpint(weft__media_assembler_push(a, base, 0, false, op, 2), ==, 0);
  for (unsigned g = 0; g < 4; g++)
    for (int k = 2; k >= 0; k--) {
      uint16_t seq = (uint16_t)(base + 1 + g * 3 + (unsigned)k);
      g_assert_cmpint(weft__media_assembler_push(a, seq, (uint32_t)seq * 960, false, op, 2), ==, 0);
    }
  g_assert_cmpuint(o.frames->len, ==, 13);
  for (guint i = 0; i < o.frames->len; i++)
    g_assert_cmpuint(g_array_index(o.frames, frame, i).first_seq, ==, (uint16_t)(base + i));
  weft__media_assembler_stats st;
  weft__media_assembler_get_stats(a, &st);
  g_assert_cmpuint(st.lost_packets + st.late + st.duplicates, ==, 0);
  /* A payload over the RTP limit is refused. */
  static uint8_t huge[WEFT__MEDIA_MAX_PAYLOAD + 1];
  huge[0] = 0xf8;
  g_assert_cmpint(weft__media_assembler_push(a, 11, 0, false, huge, sizeof huge), ==,
                  WEFT_ERR_TOO_BIG);
  weft__media_assembler_free(a);
  out_free(&o);
}

static void test_payload_keyframe(void) {
  const uint8_t vp8_key[] = {0x10, 0x50}, vp8_delta[] = {0x10, 0x51}, vp8_cont[] = {0x00, 0x50};
  const uint8_t vp8_pid_key[] = {0x90, 0x80, 0x05, 0x00};
  g_assert_true(weft__media_payload_starts_keyframe(WEFT__CODEC_VP8, vp8_key, 2));
  g_assert_true(weft__media_payload_starts_keyframe(WEFT__CODEC_VP8, vp8_pid_key, 4));
  g_assert_false(weft__media_payload_starts_keyframe(WEFT__CODEC_VP8, vp8_delta, 2));
  g_assert_false(weft__media_payload_starts_keyframe(WEFT__CODEC_VP8, vp8_cont, 2));
  g_assert_false(weft__media_payload_starts_keyframe(WEFT__CODEC_VP8, vp8_key, 1));
  const uint8_t idr[] = {0x65, 1}, slice[] = {0x41, 1}, stap[] = {0x78, 0, 1, 0x68, 0, 1, 0x67};
  const uint8_t fu_s[] = {0x7c, 0x85, 1}, fu_m[] = {0x7c, 0x05, 1}, bad[] = {0x18, 0, 9};
  g_assert_true(weft__media_payload_starts_keyframe(WEFT__CODEC_H264, idr, 2));
  g_assert_false(weft__media_payload_starts_keyframe(WEFT__CODEC_H264, slice, 2));
  g_assert_true(weft__media_payload_starts_keyframe(WEFT__CODEC_H264, stap, sizeof stap));
  g_assert_true(weft__media_payload_starts_keyframe(WEFT__CODEC_H264, fu_s, 3));
  g_assert_false(weft__media_payload_starts_keyframe(WEFT__CODEC_H264, fu_m, 3));
  g_assert_false(weft__media_payload_starts_keyframe(WEFT__CODEC_H264, bad, 3));
  const uint8_t opus[] = {0xf8, 1}, opus_bad[] = {0xf9, 1};
  g_assert_true(weft__media_payload_starts_keyframe(WEFT__CODEC_OPUS, opus, 2));
  g_assert_false(weft__media_payload_starts_keyframe(WEFT__CODEC_OPUS, opus_bad, 2));
  g_assert_false(weft__media_payload_starts_keyframe(WEFT__CODEC_OPUS, opus, 0));
}

/* ---- Robustness ----------------------------------------------------------- */

typedef struct fuzz_out {
  size_t frames, bytes, max_frame;
} fuzz_out;

static int fuzz_frame(void *ctx, const weft__media_frame *f) {
  fuzz_out *o = ctx;
  g_assert_cmpuint(f->len, <=, o->max_frame);
  o->frames++;
  o->bytes += f->len;
  /* Every H264 frame that comes out is a well-formed Annex-B stream. */
  return 0;
}

static int fuzz_h264_frame(void *ctx, const weft__media_frame *f) {
  fuzz_frame(ctx, f);
  weft__h264_nal_iter it;
  weft__h264_nal_iter_init(&it, f->data, f->len, WEFT__H264_ANNEXB);
  const uint8_t *nal;
  size_t n;
  int rc, count = 0;
  while ((rc = weft__h264_nal_next(&it, &nal, &n)) == 1)
    count++;
  g_assert_cmpint(rc, ==, 0);
  return 0;
}

static void check_err(int rc) {
  if (rc == 0)
    return;
  g_assert_true(rc == WEFT_ERR_SYNTAX || rc == WEFT_ERR_NOT_SUPPORTED);
  const char *m = weft__error_message();
  g_assert_nonnull(m);
  g_assert_cmpuint(strlen(m), >, 6);
}

static void mutate(GRand *r, uint8_t *b, size_t *len, size_t cap) {
  int k = g_rand_int_range(r, 0, 6);
  switch (k) {
  case 0: /* flip bits */
    for (int i = g_rand_int_range(r, 1, 4); i > 0 && *len; i--)
      b[g_rand_int_range(r, 0, (gint32)*len)] ^= (uint8_t)(1u << g_rand_int_range(r, 0, 8));
    break;
  case 1: /* truncate */
    *len = (size_t)g_rand_int_range(r, 0, (gint32)*len + 1);
    break;
  case 2: /* random header bytes */
    for (size_t i = 0; i < 4 && i < *len; i++)
      b[i] = (uint8_t)g_rand_int(r);
    break;
  case 3: /* grow with junk */
    while (*len < cap && g_rand_int_range(r, 0, 8))
      b[(*len)++] = (uint8_t)g_rand_int(r);
    break;
  case 4: /* interesting values in a random place */
    if (*len) {
      static const uint8_t v[] = {0, 0xff, 0x80, 0x7f, 0x18, 0x1c, 0x1d, 0xc0, 0x40, 1};
      b[g_rand_int_range(r, 0, (gint32)*len)] = v[g_rand_int_range(r, 0, G_N_ELEMENTS(v))];
    }
    break;
  default: /* entirely random */
    *len = (size_t)g_rand_int_range(r, 0, (gint32)cap);
    for (size_t i = 0; i < *len; i++)
      b[i] = (uint8_t)g_rand_int(r);
  }
}

static int validate_any(int codec, const uint8_t *b, size_t len) {
  if (codec == WEFT__CODEC_OPUS)
    return weft__opus_validate(b, len);
  if (codec == WEFT__CODEC_VP8) {
    weft__vp8_desc d;
    size_t h;
    return weft__vp8_desc_parse(b, len, &d, &h);
  }
  return weft__h264_validate(b, len);
}

static void test_fuzz(void) {
  GRand *r = g_rand_new_with_seed(20261121);
  enum { ITER = 20000, CAP = 1600 };
  for (int codec = WEFT__CODEC_OPUS; codec <= WEFT__CODEC_H264; codec++) {
    /* Seeds: real payloads of that codec. */
    collector c;
    weft__media_sink s = make_sink(&c, 500);
    uint8_t *f = random_bytes(r, 3000, true);
    if (codec == WEFT__CODEC_OPUS) {
      f[0] = 0xfb;
      f[1] = 0x83; /* VBR, 3 frames */
      f[2] = 100;
      f[3] = 100;
      g_assert_cmpint(weft__opus_packetize(&s, f, 400), ==, 0);
    } else if (codec == WEFT__CODEC_VP8) {
      weft__vp8_packetizer pz = {
          .picture_id = true, .long_picture_id = true, .tl0picidx_present = true};
      g_assert_cmpint(weft__vp8_packetize(&pz, &s, f, 3000, false), ==, 0);
    } else {
      uint8_t *nals[4] = {f, f + 20, f + 30, f + 50};
      size_t lens[4] = {20, 10, 20, 2900};
      f[0] = 0x67;
      f[20] = 0x68;
      f[30] = 0x06;
      f[50] = 0x65;
      GByteArray *au = make_au(AVCC, nals, lens, 4);
      weft__h264_packetizer pz = {.format = WEFT__H264_AVCC};
      g_assert_cmpint(weft__h264_packetize(&pz, &s, au->data, au->len), ==, 0);
      g_byte_array_unref(au);
    }
    guint nseed = c.pkts->len;
    g_assert_cmpuint(nseed, >=, 1);
    fuzz_out fo = {0, 0, 50000};
    weft__media_assembler_config cfg = {codec,
                                        50000,
                                        (unsigned)g_rand_int_range(r, 0, 9),
                                        codec == WEFT__CODEC_H264 ? fuzz_h264_frame : fuzz_frame,
                                        NULL,
                                        &fo};
    weft__media_assembler *a = weft__media_assembler_new(&cfg);
    uint8_t buf[CAP];
    uint16_t seq = 60000; /* wraps during the run */
    uint32_t ts = 0;
    size_t refused = 0;
    for (int i = 0; i < ITER; i++) {
      pkt *p = &g_array_index(c.pkts, pkt, (guint)g_rand_int_range(r, 0, (gint32)nseed));
      size_t len = p->len;
      memcpy(buf, p->data, len);
      int muts = g_rand_int_range(r, 0, 3);
      for (int m = 0; m < muts; m++)
        mutate(r, buf, &len, CAP);
      /* Consistent: the stateless check says the same thing twice, and the
       * assembler refuses exactly what the check refuses. */
      int v1 = validate_any(codec, buf, len);
      int v2 = validate_any(codec, buf, len);
      g_assert_cmpint(v1, ==, v2);
      check_err(v1);
      /* Sequence: mostly in order, sometimes a jump or a step back. */
      int step = g_rand_int_range(r, 0, 10) == 0 ? g_rand_int_range(r, -5, 40) : 1;
      seq = (uint16_t)(seq + step);
      if (g_rand_int_range(r, 0, 4) == 0)
        ts += 3000;
      int rc = weft__media_assembler_push(a, seq, ts, g_rand_boolean(r), buf, len);
      g_assert_cmpint(rc, ==, v1);
      if (rc)
        refused++;
      if (g_rand_int_range(r, 0, 50) == 0)
        weft__media_assembler_flush(a);
    }
    weft__media_assembler_stats st;
    weft__media_assembler_get_stats(a, &st);
    g_assert_cmpuint(st.malformed, ==, refused);
    g_assert_cmpuint(st.frames, ==, fo.frames);
    g_test_message("codec %d: %zu refused, %zu frames, %" G_GUINT64_FORMAT " dropped", codec,
                   refused, fo.frames, st.dropped);
    /* The packetizers also take random input without harm. */
    for (int i = 0; i < 2000; i++) {
      size_t len = (size_t)g_rand_int_range(r, 0, CAP);
      for (size_t k = 0; k < len; k++)
        buf[k] =
            g_rand_int_range(r, 0, 4) ? (uint8_t)g_rand_int(r) : (uint8_t)g_rand_int_range(r, 0, 2);
      collector_clear(&c);
      weft__h264_packetizer hp = {.format = (weft__h264_format)g_rand_int_range(r, 0, 3)};
      int rc = weft__h264_packetize(&hp, &s, buf, len);
      if (rc == 0)
        check_h264_payloads(&c, 500);
      else
        g_assert_true(rc == WEFT_ERR_SYNTAX || rc == WEFT_ERR_INVALID_ARG);
    }
    weft__media_assembler_free(a);
    g_free(f);
    collector_free(&c);
  }
  g_rand_free(r);
}

/* Throughput of packetize + reassemble (run with -m perf). Payloads go
 * straight from the sink into the assembler, as a loopback would. */
typedef struct loop_ctx {
  weft__media_assembler *a;
  uint16_t seq;
  uint32_t ts;
  size_t packets;
} loop_ctx;

static int loop_emit(void *ctx, uint8_t *payload, size_t len, bool marker) {
  loop_ctx *l = ctx;
  l->packets++;
  return weft__media_assembler_push(l->a, l->seq++, l->ts, marker, payload, len);
}

static int count_frame(void *ctx, const weft__media_frame *f) {
  (void)f;
  (*(size_t *)ctx)++;
  return 0;
}

static void test_perf(void) {
  GRand *r = g_rand_new_with_seed(1);
  const size_t fsize = 20000;
  const int nframes = 5000;
  uint8_t *nal = make_nal(r, WEFT__H264_NAL_SLICE, fsize);
  uint8_t *buf = g_malloc(HEADROOM + MTU);
  for (int codec = WEFT__CODEC_VP8; codec <= WEFT__CODEC_H264; codec++) {
    size_t frames = 0;
    weft__media_assembler_config cfg = {codec, 0, 8, count_frame, NULL, &frames};
    loop_ctx l = {weft__media_assembler_new(&cfg), 0, 0, 0};
    weft__media_sink s = {buf, HEADROOM, MTU, loop_emit, &l};
    weft__vp8_packetizer vp = {.picture_id = true};
    weft__h264_packetizer hp = {.format = WEFT__H264_AVCC};
    uint8_t *au = g_malloc(fsize + 4);
    au[0] = 0;
    au[1] = (uint8_t)(fsize >> 16);
    au[2] = (uint8_t)(fsize >> 8);
    au[3] = (uint8_t)fsize;
    memcpy(au + 4, nal, fsize);
    gint64 t0 = g_get_monotonic_time();
    for (int i = 0; i < nframes; i++, l.ts += 3000) {
      int rc = codec == WEFT__CODEC_VP8 ? weft__vp8_packetize(&vp, &s, nal, fsize, false)
                                        : weft__h264_packetize(&hp, &s, au, fsize + 4);
      g_assert_cmpint(rc, ==, 0);
    }
    double sec = (double)(g_get_monotonic_time() - t0) / 1e6;
    g_assert_cmpuint(frames, ==, (size_t)nframes);
    g_test_minimized_result(sec, "%s: %.0f packets/s, %.0f MB/s (packetize + reassemble)",
                            codec == WEFT__CODEC_VP8 ? "VP8" : "H264", (double)l.packets / sec,
                            (double)nframes * (double)fsize / sec / 1e6);
    g_test_message("%s: %.0f packets/s, %.0f MB/s (packetize + reassemble, %zu-byte frames)",
                   codec == WEFT__CODEC_VP8 ? "VP8" : "H264", (double)l.packets / sec,
                   (double)nframes * (double)fsize / sec / 1e6, fsize);
    weft__media_assembler_free(l.a);
    g_free(au);
  }
  g_free(buf);
  g_free(nal);
  g_rand_free(r);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/media/opus", test_opus);
  g_test_add_func("/media/vp8/descriptor", test_vp8_descriptor);
  g_test_add_func("/media/vp8/roundtrip-no-picture-id", test_vp8_roundtrip_nopid);
  g_test_add_func("/media/vp8/roundtrip-picture-id-7", test_vp8_roundtrip_pid7);
  g_test_add_func("/media/vp8/roundtrip-picture-id-15", test_vp8_roundtrip_pid15);
  g_test_add_func("/media/vp8/loss", test_vp8_loss);
  g_test_add_func("/media/vp8/partitions", test_vp8_partitions);
  g_test_add_func("/media/h264/roundtrip", test_h264_roundtrip);
  g_test_add_func("/media/h264/fu-a-edges", test_h264_fu_edges);
  g_test_add_func("/media/h264/stap-a", test_h264_stap_a);
  g_test_add_func("/media/h264/keyframe", test_h264_keyframe);
  g_test_add_func("/media/h264/malformed", test_h264_malformed);
  g_test_add_func("/media/h264/input-errors", test_h264_input_errors);
  g_test_add_func("/media/assembler/reorder", test_reorder);
  g_test_add_func("/media/assembler/limits", test_limits);
  g_test_add_func("/media/assembler/reorder-wrap", test_reorder_wrap);
  g_test_add_func("/media/h264/loss", test_h264_loss);
  g_test_add_func("/media/payload-keyframe", test_payload_keyframe);
  g_test_add_func("/media/fuzz", test_fuzz);
  if (g_test_perf())
    g_test_add_func("/media/perf", test_perf);
  return g_test_run();
}
