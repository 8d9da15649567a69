/*
 * sctp/ over an in-memory lossy link (raw SCTP packets, no DTLS): association
 * setup, reliable and partially reliable delivery, back-pressure, stream
 * resets, garbage input, two contexts on two threads, free during traffic and
 * the usrsctp init/finish lifecycle.
 */
#include <stdio.h>
#include <string.h>

#include <glib.h>

#include "core/core.h"
#include "lossy_link.h"
#include "sctp/sctp.h"
#include "test_util.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* ---- Payload pattern: 4-byte sequence number, then bytes derived from it -- */

static uint8_t *make_msg(uint32_t seq, size_t len) {
  uint8_t *p = g_malloc(len ? len : 1);
  for (size_t i = 0; i < len; i++)
    p[i] = (uint8_t)(seq * 31u + i * 7u);
  if (len >= 4) {
    p[0] = (uint8_t)(seq >> 24);
    p[1] = (uint8_t)(seq >> 16);
    p[2] = (uint8_t)(seq >> 8);
    p[3] = (uint8_t)seq;
  }
  return p;
}

static bool check_msg(const uint8_t *p, size_t len, uint32_t *seq_out) {
  if (len < 4)
    return true;
  uint32_t seq = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
  for (size_t i = 4; i < len; i++)
    if (p[i] != (uint8_t)(seq * 31u + i * 7u))
      return false;
  *seq_out = seq;
  return true;
}

/* ---- One endpoint ------------------------------------------------------- */

typedef struct rx_rec {
  uint16_t stream;
  uint32_t ppid;
  size_t len;
  uint32_t seq;
  bool intact;
  uint8_t first; /* first byte (for 1-byte messages) */
} rx_rec;

struct wire;

typedef struct peer {
  const char *name;
  weft__sctp *s;
  volatile int connected, closed;
  int close_cause;
  GArray *rx; /* rx_rec */
  size_t rx_bytes;
  guint reset_in, reset_out;
  int last_reset_in, last_reset_out;
  guint low_calls;
  guint callbacks;
  bool freed;
  volatile int flag; /* test-specific wait flag */
  size_t want_rx;    /* flag is raised when rx->len reaches this */
  gint64 last_rx_us;
  struct wire *wire;      /* inflight tests: SACKs this peer receives are parsed */
  guint low_by_stream[8]; /* on_low calls for streams 0..7 */
  size_t last_low[8];     /* the amount the last of them reported */
} peer;

static void wire_sample(peer *p, uint16_t stream, size_t amount);

static void on_connected(void *ud) {
  peer *p = ud;
  g_assert_false(p->freed);
  p->callbacks++;
  g_assert_false(p->connected);
  p->connected = 1;
}

static void on_message(void *ud, uint16_t stream, uint32_t ppid, const uint8_t *data, size_t len) {
  peer *p = ud;
  g_assert_false(p->freed);
  p->callbacks++;
  rx_rec r = {stream, ppid, len, 0, true, len ? data[0] : 0};
  r.intact = check_msg(data, len, &r.seq);
  g_array_append_val(p->rx, r);
  p->rx_bytes += len;
  p->last_rx_us = g_get_monotonic_time();
  if (p->want_rx && p->rx->len >= p->want_rx)
    p->flag = 1;
}

static void on_stream_reset(void *ud, uint16_t stream, bool incoming) {
  peer *p = ud;
  g_assert_false(p->freed);
  p->callbacks++;
  if (incoming) {
    p->reset_in++;
    p->last_reset_in = stream;
  } else {
    p->reset_out++;
    p->last_reset_out = stream;
  }
}

static void on_low(void *ud, uint16_t stream, size_t amount) {
  peer *p = ud;
  g_assert_false(p->freed);
  p->callbacks++;
  p->low_calls++;
  if (stream < G_N_ELEMENTS(p->low_by_stream)) {
    p->low_by_stream[stream]++;
    p->last_low[stream] = amount;
  }
  if (p->wire)
    wire_sample(p, stream, amount);
}

static void on_closed(void *ud, int cause, const char *message) {
  peer *p = ud;
  g_assert_false(p->freed);
  p->callbacks++;
  g_assert_false(p->closed); /* at most once */
  g_assert_nonnull(message);
  p->closed = 1;
  p->close_cause = cause;
}

/* ---- A pair over a lossy link ------------------------------------------- */

typedef struct pair {
  GMainContext *ctx;
  lossy_link *link;
  peer a, b;
  guint bad_crc, too_big, packets;
  /* A paused link holds every datagram (per sending side) instead of
   * delivering it; pair_resume() delivers them in order. Nothing is lost, so
   * no retransmission is needed to recover. */
  bool paused;
  GPtrArray *held[2];      /* GByteArray */
  struct wire *wire;       /* inflight tests: DATA chunks A sends are recorded */
  struct window_watch *ww; /* window test: how far past B's cumulative ack A sends */
} pair;

static gboolean window_filter(struct window_watch *ww, lossy_side from, GByteArray *dg);

static void wire_data(struct wire *w, const GByteArray *dg);
static void wire_sack(struct wire *w, const uint8_t *d, size_t n);

/* Table-driven CRC32c (Castagnoli), independent of usrsctp's. */
static uint32_t crc_table[256];
static uint32_t crc32c_sw(const uint8_t *p, size_t n) {
  if (!crc_table[1]) {
    for (uint32_t i = 0; i < 256; i++) {
      uint32_t c = i;
      for (int k = 0; k < 8; k++)
        c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
      crc_table[i] = c;
    }
  }
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; i++)
    crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

/* Every packet on the wire: at most 1200 bytes, valid CRC32c (RFC 4960
 * Appendix B, stored least significant byte first). */
static gboolean check_filter(void *user, lossy_side from, GByteArray *dg) {
  pair *p = user;
  p->packets++;
  if (dg->len > 1200) {
    if (!p->too_big)
      g_test_message("first oversized packet: %u bytes", dg->len);
    p->too_big++;
  }
  if (dg->len >= 12) {
    uint8_t tmp[4];
    memcpy(tmp, dg->data + 8, 4);
    memset(dg->data + 8, 0, 4);
    uint32_t crc = crc32c_sw(dg->data, dg->len);
    memcpy(dg->data + 8, tmp, 4);
    uint32_t got = (uint32_t)tmp[0] | ((uint32_t)tmp[1] << 8) | ((uint32_t)tmp[2] << 16) |
                   ((uint32_t)tmp[3] << 24);
    if (crc != got)
      p->bad_crc++;
  }
  if (p->wire && from == LOSSY_A)
    wire_data(p->wire, dg);
  if (p->ww && !window_filter(p->ww, from, dg))
    return FALSE;
  if (p->paused) {
    if (!p->held[from])
      p->held[from] = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
    g_ptr_array_add(p->held[from], g_byte_array_ref(dg));
    return FALSE;
  }
  return TRUE;
}

static void recv_a(void *user, const uint8_t *d, size_t n) {
  peer *p = user;
  if (p->wire)
    wire_sack(p->wire, d, n);
  if (p->s)
    weft__sctp_input(p->s, d, n);
}

static const weft__sctp_callbacks *callbacks_for(peer *p) {
  static _Thread_local weft__sctp_callbacks cb;
  cb =
      (weft__sctp_callbacks){on_connected, on_message, on_stream_reset, on_low, on_closed, NULL, p};
  return &cb;
}

static void peer_init(peer *p, const char *name) {
  memset(p, 0, sizeof *p);
  p->name = name;
  p->rx = g_array_new(FALSE, FALSE, sizeof(rx_rec));
  p->last_reset_in = p->last_reset_out = -1;
}

static void pair_init(pair *p, GMainContext *ctx, guint32 seed, const lossy_params *lp,
                      size_t mms) {
  memset(p, 0, sizeof *p);
  p->ctx = ctx;
  p->link = lossy_link_new(ctx, seed);
  if (lp)
    lossy_link_set_params(p->link, lp);
  lossy_link_set_filter(p->link, check_filter, p);
  peer_init(&p->a, "A");
  peer_init(&p->b, "B");
  lossy_link_set_receiver(p->link, LOSSY_A, recv_a, &p->a);
  lossy_link_set_receiver(p->link, LOSSY_B, recv_a, &p->b);
  p->a.s =
      weft__sctp_new(ctx, lossy_link_sink(p->link, LOSSY_A), 5000, 5000, mms, callbacks_for(&p->a));
  p->b.s =
      weft__sctp_new(ctx, lossy_link_sink(p->link, LOSSY_B), 5000, 5000, mms, callbacks_for(&p->b));
  g_assert_nonnull(p->a.s);
  g_assert_nonnull(p->b.s);
}

static gboolean pair_connect(pair *p, guint timeout_ms) {
  g_assert_cmpint(weft__sctp_connect(p->a.s), ==, 0);
  g_assert_cmpint(weft__sctp_connect(p->b.s), ==, 0);
  gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  while (!(p->a.connected && p->b.connected) && g_get_monotonic_time() < end)
    test_iterate_for(p->ctx, 2);
  return p->a.connected && p->b.connected;
}

static void peer_clear(peer *p) {
  if (p->s) {
    weft__sctp_free(p->s);
    p->s = NULL;
  }
  p->freed = true;
  g_array_unref(p->rx);
  p->rx = NULL;
}

static void pair_free(pair *p) {
  weft__sctp_free(p->a.s);
  p->a.s = NULL;
  p->a.freed = true;
  weft__sctp_free(p->b.s);
  p->b.s = NULL;
  p->b.freed = true;
  peer_clear(&p->a);
  peer_clear(&p->b);
  lossy_link_free(p->link);
  for (int i = 0; i < 2; i++)
    if (p->held[i])
      g_ptr_array_unref(p->held[i]);
  g_assert_cmpuint(p->bad_crc, ==, 0);
  g_assert_cmpuint(p->too_big, ==, 0);
}

static void assert_all_freed(void) {
  g_assert_cmpint(weft__sctp_debug_live_count(), ==, 0);
  g_assert_false(weft__sctp_debug_usrsctp_running());
}

static const weft__sctp_send_opts reliable = {false, -1, -1};

/* Waits until @p has received @n messages. */
static gboolean wait_rx(pair *pr, peer *p, size_t n, guint timeout_ms) {
  p->want_rx = n;
  p->flag = p->rx->len >= n;
  gboolean ok = test_iterate_until(pr->ctx, &p->flag, timeout_ms);
  p->want_rx = 0;
  return ok;
}

/* ---- Tests -------------------------------------------------------------- */

static void exchange(pair *p, guint16 stream, guint count);

static void test_connect(void) {
  GMainContext *ctx = g_main_context_new();
  pair p;
  pair_init(&p, ctx, 1, NULL, 256 * KIB);
  uint8_t one = 1;
  /* Before the association is up. */
  g_assert_false(weft__sctp_is_connected(p.a.s));
  g_assert_cmpint(weft__sctp_send(p.a.s, 1, 53, &one, 1, NULL), ==, WEFT_ERR_INVALID_STATE);
  g_assert_cmpint(weft__sctp_reset_stream(p.a.s, 1), ==, WEFT_ERR_INVALID_STATE);
  g_assert_true(pair_connect(&p, 5000));
  g_assert_true(weft__sctp_is_connected(p.a.s));
  g_assert_true(weft__sctp_is_connected(p.b.s));
  g_assert_cmpint(weft__sctp_connect(p.a.s), ==, WEFT_ERR_INVALID_STATE);
  /* Argument checks. */
  g_assert_cmpint(weft__sctp_send(p.a.s, 1024, 53, &one, 1, NULL), ==, WEFT_ERR_RANGE);
  g_assert_cmpint(weft__sctp_reset_stream(p.a.s, 1024), ==, WEFT_ERR_RANGE);
  g_assert_cmpint(weft__sctp_send(p.a.s, 1, 53, NULL, 0, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft__sctp_send(p.a.s, 1, 53, NULL, 5, NULL), ==, WEFT_ERR_INVALID_ARG);
  uint8_t *big = g_malloc0(256 * KIB + 1);
  g_assert_cmpint(weft__sctp_send(p.a.s, 1, 53, big, 256 * KIB + 1, NULL), ==, WEFT_ERR_TOO_BIG);
  g_assert_cmpint(weft__sctp_send_owned(p.a.s, 1, 53, big, 256 * KIB + 1, NULL), ==,
                  WEFT_ERR_TOO_BIG); /* frees big */
  g_assert_cmpuint(weft__sctp_buffered_amount(p.a.s, 2000), ==, 0);
  g_assert_cmpuint(p.packets, >, 0);
  pair_free(&p);
  g_main_context_unref(ctx);
  assert_all_freed();
}

/* The peer's INIT arrives before our connect (its DTLS finished first): it is
 * held and fed after our own INIT went out. */
static void test_connect_late(void) {
  GMainContext *ctx = g_main_context_new();
  pair p;
  pair_init(&p, ctx, 21, NULL, 0);
  g_assert_cmpint(weft__sctp_connect(p.a.s), ==, 0);
  test_iterate_for(ctx, 50);
  g_assert_false(p.b.connected);
  g_assert_cmpint(weft__sctp_connect(p.b.s), ==, 0);
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (!(p.a.connected && p.b.connected) && g_get_monotonic_time() < end)
    test_iterate_for(ctx, 2);
  g_assert_true(p.a.connected && p.b.connected);
  exchange(&p, 1, 3);
  pair_free(&p);
  g_main_context_unref(ctx);
  assert_all_freed();
}

static void run_sizes(double loss, double reorder, guint32 seed) {
  GMainContext *ctx = g_main_context_new();
  lossy_params lp = {loss, 0, reorder, 0, 0};
  pair p;
  pair_init(&p, ctx, seed, &lp, 256 * KIB);
  g_assert_true(pair_connect(&p, 15000));
  static const size_t sizes[] = {1, KIB, 16 * KIB, 64 * KIB, 256 * KIB};
  uint32_t seq = 0;
  size_t n = 0;
  for (int round = 0; round < 2; round++) {
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
      uint8_t *m = make_msg(seq, sizes[i]);
      /* Alternate copying and owning sends; both directions. */
      if (seq % 2)
        g_assert_cmpint(weft__sctp_send_owned(p.a.s, 1, 53, m, sizes[i], &reliable), ==, 0);
      else {
        g_assert_cmpint(weft__sctp_send(p.a.s, 1, 53, m, sizes[i], NULL), ==, 0);
        g_free(m);
      }
      m = make_msg(seq, sizes[i]);
      g_assert_cmpint(weft__sctp_send(p.b.s, 2, 51, m, sizes[i], NULL), ==, 0);
      g_free(m);
      seq++;
      n++;
    }
  }
  gint64 t0 = g_get_monotonic_time();
  g_assert_true(wait_rx(&p, &p.b, n, 25000));
  g_assert_true(wait_rx(&p, &p.a, n, 25000));
  g_test_message("loss %.0f%%: %zu messages each way in %.0f ms, %u packets, %u dropped",
                 loss * 100, n, (g_get_monotonic_time() - t0) / 1000.0, p.packets,
                 lossy_link_dropped(p.link, LOSSY_A) + lossy_link_dropped(p.link, LOSSY_B));
  for (size_t i = 0; i < n; i++) {
    rx_rec *rb = &g_array_index(p.b.rx, rx_rec, i);
    rx_rec *ra = &g_array_index(p.a.rx, rx_rec, i);
    size_t want = sizes[i % G_N_ELEMENTS(sizes)];
    g_assert_cmpuint(rb->stream, ==, 1);
    g_assert_cmpuint(rb->ppid, ==, 53);
    g_assert_cmpuint(rb->len, ==, want);
    g_assert_true(rb->intact);
    g_assert_cmpuint(ra->stream, ==, 2);
    g_assert_cmpuint(ra->ppid, ==, 51);
    g_assert_cmpuint(ra->len, ==, want);
    g_assert_true(ra->intact);
    if (want >= 4) { /* in order */
      g_assert_cmpuint(rb->seq, ==, i);
      g_assert_cmpuint(ra->seq, ==, i);
    } else {
      g_assert_cmpuint(rb->first, ==, (uint8_t)(i * 31u));
    }
  }
  if (loss > 0)
    g_assert_cmpuint(lossy_link_dropped(p.link, LOSSY_A), >, 0);
  pair_free(&p);
  g_main_context_unref(ctx);
  assert_all_freed();
}

static void test_reliable_lossless(void) { run_sizes(0, 0, 2); }
static void test_reliable_lossy(void) { run_sizes(0.10, 0.05, 3); }

static double bulk(pair *p, size_t msg_size, size_t total, guint16 stream) {
  size_t count = total / msg_size;
  size_t base = p->b.rx->len;
  guint low0 = p->a.low_calls;
  gint64 t0 = g_get_monotonic_time();
  size_t max_buffered = 0;
  for (size_t i = 0; i < count; i++) {
    uint8_t *m = make_msg((uint32_t)i, msg_size);
    g_assert_cmpint(weft__sctp_send_owned(p->a.s, stream, 53, m, msg_size, NULL), ==, 0);
    max_buffered = MAX(max_buffered, weft__sctp_buffered_amount(p->a.s, stream));
  }
  /* usrsctp takes ~1 MiB, the rest waits in weft's FIFO. */
  g_assert_cmpuint(max_buffered, >, 0);
  g_assert_true(wait_rx(p, &p->b, base + count, 60000));
  double secs = (g_get_monotonic_time() - t0) / 1e6;
  for (size_t i = 0; i < count; i++) {
    rx_rec *r = &g_array_index(p->b.rx, rx_rec, base + i);
    g_assert_cmpuint(r->len, ==, msg_size);
    g_assert_true(r->intact);
    g_assert_cmpuint(r->seq, ==, i);
  }
  g_assert_cmpuint(p->a.low_calls, >, low0);
  /* The buffered amount counts bytes until the peer acknowledged them: it
   * reaches 0 once the last SACK is in (delayed SACK: 20 ms). */
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (weft__sctp_buffered_amount(p->a.s, stream) != 0 && g_get_monotonic_time() < end) {
    if (!g_main_context_iteration(p->ctx, FALSE))
      g_usleep(1000);
  }
  g_assert_cmpuint(weft__sctp_buffered_amount(p->a.s, stream), ==, 0);
  g_assert_cmpuint(weft__sctp_inflight_total(p->a.s), ==, 0);
  double mbps = total / secs / 1e6;
  g_test_message("bulk: %zu x %zu KiB (%.1f MiB) in %.3f s = %.1f MB/s, max buffered %zu KiB",
                 count, msg_size / KIB, total / (double)MIB, secs, mbps, max_buffered / KIB);
  printf("# goodput %zu KiB messages: %.1f MB/s (%.1f MiB in %.3f s)\n", msg_size / KIB, mbps,
         total / (double)MIB, secs);
  return mbps;
}

static void test_burst(void) {
  GMainContext *ctx = g_main_context_new();
  pair p;
  pair_init(&p, ctx, 4, NULL, 256 * KIB);
  g_assert_true(pair_connect(&p, 5000));
  bulk(&p, 64 * KIB, 16 * MIB, 1);
  bulk(&p, 16 * KIB, 16 * MIB, 3);
  bulk(&p, 256 * KIB, 8 * MIB, 5);
  pair_free(&p);
  g_main_context_unref(ctx);
  assert_all_freed();
}

static void run_partial(const weft__sctp_send_opts *o, guint delay_ms, const char *what) {
  GMainContext *ctx = g_main_context_new();
  lossy_params lp = {0.20, 0, 0, delay_ms, 0};
  pair p;
  pair_init(&p, ctx, 5, &lp, 256 * KIB);
  g_assert_true(pair_connect(&p, 20000));
  const guint n = 300;
  for (guint i = 0; i < n; i++) {
    uint8_t *m = make_msg(i, 1000);
    g_assert_cmpint(weft__sctp_send_owned(p.a.s, 7, 53, m, 1000, o), ==, 0);
  }
  /* A reliable marker on another stream, then let retransmissions settle. */
  uint8_t *m = make_msg(999999, 100);
  g_assert_cmpint(weft__sctp_send_owned(p.a.s, 9, 53, m, 100, NULL), ==, 0);
  gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
  bool marker = false;
  while (!marker && g_get_monotonic_time() < end) {
    test_iterate_for(ctx, 5);
    for (guint i = 0; i < p.b.rx->len; i++)
      if (g_array_index(p.b.rx, rx_rec, i).stream == 9)
        marker = true;
  }
  g_assert_true(marker);
  test_iterate_for(ctx, 1000);
  guint got = 0;
  for (guint i = 0; i < p.b.rx->len; i++) {
    rx_rec *r = &g_array_index(p.b.rx, rx_rec, i);
    if (r->stream != 7)
      continue;
    g_assert_true(r->intact);
    g_assert_cmpuint(r->len, ==, 1000);
    g_assert_cmpuint(r->seq, <, n);
    got++;
  }
  g_test_message("%s at 20%% loss: %u of %u delivered, %u lost", what, got, n, n - got);
  printf("# %s at 20%% loss: %u of %u delivered, %u lost\n", what, got, n, n - got);
  /* At 5 % loss about 5 % are lost; at 20 % usrsctp abandons more than the
   * lost packets' share (whole flights after T3 expiries), ~50 % here. */
  g_assert_cmpuint(got, <, n);
  g_assert_cmpuint(got, >, n / 4);
  /* The association survived: a reliable exchange still works. */
  size_t before = p.a.rx->len;
  m = make_msg(5, 2000);
  g_assert_cmpint(weft__sctp_send_owned(p.b.s, 9, 53, m, 2000, NULL), ==, 0);
  g_assert_true(wait_rx(&p, &p.a, before + 1, 20000));
  pair_free(&p);
  g_main_context_unref(ctx);
  assert_all_freed();
}

static void test_partial_rexmit(void) {
  weft__sctp_send_opts o = {true, 0, -1};
  run_partial(&o, 0, "unordered, max_retransmits 0");
}

static void test_partial_lifetime(void) {
  /* 10 ms one-way delay: any retransmission comes after the 15 ms lifetime. */
  weft__sctp_send_opts o = {true, -1, 15};
  run_partial(&o, 10, "unordered, max_packet_life_time 15 ms");
}

static void test_empty(void) {
  GMainContext *ctx = g_main_context_new();
  pair p;
  pair_init(&p, ctx, 6, NULL, 0);
  g_assert_true(pair_connect(&p, 5000));
  g_assert_cmpint(weft__sctp_send(p.a.s, 4, 56, NULL, 0, NULL), ==, 0);
  g_assert_cmpint(weft__sctp_send(p.a.s, 4, 57, (const uint8_t *)"", 0, NULL), ==, 0);
  g_assert_cmpint(weft__sctp_send_owned(p.a.s, 4, 57, NULL, 0, NULL), ==, 0);
  g_assert_cmpint(weft__sctp_send(p.a.s, 4, 51, (const uint8_t *)"", 0, NULL), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_true(wait_rx(&p, &p.b, 3, 5000));
  static const uint32_t ppids[] = {56, 57, 57};
  for (guint i = 0; i < 3; i++) {
    rx_rec *r = &g_array_index(p.b.rx, rx_rec, i);
    g_assert_cmpuint(r->len, ==, 0);
    g_assert_cmpuint(r->ppid, ==, ppids[i]);
    g_assert_cmpuint(r->stream, ==, 4);
  }
  /* max_message_size 0: the send buffer is the limit. */
  uint8_t *big = g_malloc0(MIB + 1);
  g_assert_cmpint(weft__sctp_send_owned(p.a.s, 1, 53, big, MIB + 1, NULL), ==, WEFT_ERR_TOO_BIG);
  pair_free(&p);
  g_main_context_unref(ctx);
  assert_all_freed();
}

static void exchange(pair *p, guint16 stream, guint count) {
  size_t a0 = p->a.rx->len, b0 = p->b.rx->len;
  for (guint i = 0; i < count; i++) {
    uint8_t *m = make_msg(i, 500);
    g_assert_cmpint(weft__sctp_send_owned(p->a.s, stream, 53, m, 500, NULL), ==, 0);
    m = make_msg(i, 500);
    g_assert_cmpint(weft__sctp_send_owned(p->b.s, stream, 53, m, 500, NULL), ==, 0);
  }
  g_assert_true(wait_rx(p, &p->b, b0 + count, 10000));
  g_assert_true(wait_rx(p, &p->a, a0 + count, 10000));
  for (guint i = 0; i < count; i++) {
    rx_rec *r = &g_array_index(p->b.rx, rx_rec, b0 + i);
    g_assert_true(r->intact && r->stream == stream && r->seq == i);
    r = &g_array_index(p->a.rx, rx_rec, a0 + i);
    g_assert_true(r->intact && r->stream == stream && r->seq == i);
  }
}

static void test_reset(void) {
  GMainContext *ctx = g_main_context_new();
  pair p;
  pair_init(&p, ctx, 7, NULL, 0);
  g_assert_true(pair_connect(&p, 5000));
  exchange(&p, 3, 5);
  exchange(&p, 5, 5);
  /* Data queued before the reset goes out first. */
  uint8_t *m = make_msg(77, 1000);
  g_assert_cmpint(weft__sctp_send_owned(p.a.s, 3, 53, m, 1000, NULL), ==, 0);
  g_assert_cmpint(weft__sctp_reset_stream(p.a.s, 3), ==, 0);
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while ((!p.b.reset_in || !p.a.reset_out) && g_get_monotonic_time() < end)
    test_iterate_for(ctx, 2);
  g_assert_cmpuint(p.b.reset_in, ==, 1);
  g_assert_cmpint(p.b.last_reset_in, ==, 3);
  g_assert_cmpuint(p.a.reset_out, ==, 1);
  g_assert_cmpint(p.a.last_reset_out, ==, 3);
  rx_rec *last = &g_array_index(p.b.rx, rx_rec, p.b.rx->len - 1);
  g_assert_cmpuint(last->seq, ==, 77);
  /* B answers with its own reset (what datachannel/ does, RFC 8831 §6.7). */
  g_assert_cmpint(weft__sctp_reset_stream(p.b.s, 3), ==, 0);
  end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while ((!p.a.reset_in || !p.b.reset_out) && g_get_monotonic_time() < end)
    test_iterate_for(ctx, 2);
  g_assert_cmpint(p.a.last_reset_in, ==, 3);
  g_assert_cmpint(p.b.last_reset_out, ==, 3);
  /* Other streams keep working, and the reset stream can be reused. */
  exchange(&p, 5, 10);
  exchange(&p, 3, 3);
  g_assert_false(p.a.closed || p.b.closed);
  pair_free(&p);
  g_main_context_unref(ctx);
  assert_all_freed();
}

static void test_garbage(void) {
  GMainContext *ctx = g_main_context_new();
  pair p;
  pair_init(&p, ctx, 8, NULL, 0);
  g_assert_true(pair_connect(&p, 5000));
  exchange(&p, 1, 3);
  GRand *r = g_rand_new_with_seed(99);
  uint8_t buf[1500];
  for (int i = 0; i < 3000; i++) {
    size_t len = (size_t)g_rand_int_range(r, 0, (gint32)sizeof buf);
    for (size_t k = 0; k < len; k++)
      buf[k] = (uint8_t)g_rand_int(r);
    switch (i % 4) {
    case 0: /* pure noise */
      break;
    case 1: /* right ports, random verification tag and chunks */
      if (len >= 4) {
        buf[0] = 0x13;
        buf[1] = 0x88;
        buf[2] = 0x13;
        buf[3] = 0x88;
      }
      break;
    case 2: /* right ports, a DATA/SACK/HEARTBEAT-looking chunk with bogus lengths */
      if (len >= 16) {
        buf[0] = 0x13;
        buf[1] = 0x88;
        buf[2] = 0x13;
        buf[3] = 0x88;
        static const uint8_t types[] = {0, 3, 4, 6, 192};
        buf[12] = types[g_rand_int_range(r, 0, G_N_ELEMENTS(types))];
      }
      break;
    default: /* tiny */
      len = len % 16;
      break;
    }
    weft__sctp_input(i % 2 ? p.a.s : p.b.s, len ? buf : NULL, len);
    weft__sctp_input(i % 2 ? p.a.s : p.b.s, buf, len);
  }
  g_rand_free(r);
  test_iterate_for(ctx, 50);
  g_assert_false(p.a.closed || p.b.closed);
  exchange(&p, 1, 20);
  exchange(&p, 2, 5);
  pair_free(&p);
  g_main_context_unref(ctx);
  assert_all_freed();
}

/* Two pairs in two contexts, each iterated by its own thread. One context's
 * tick runs the other's timers, so packets and upcalls cross threads. */
static gpointer thread_main(gpointer data) {
  guint32 seed = GPOINTER_TO_UINT(data);
  GMainContext *ctx = g_main_context_new();
  lossy_params lp = {0.02, 0, 0.02, 0, 0};
  pair p;
  pair_init(&p, ctx, seed, &lp, 0);
  g_assert_true(pair_connect(&p, 10000));
  for (int round = 0; round < 4; round++) {
    exchange(&p, (guint16)(round + 1), 100);
    bulk(&p, 16 * KIB, 2 * MIB, 10);
  }
  pair_free(&p);
  g_main_context_unref(ctx);
  return GINT_TO_POINTER(1);
}

static void test_two_threads(void) {
  GThread *t1 = g_thread_new("sctp-a", thread_main, GUINT_TO_POINTER(11));
  GThread *t2 = g_thread_new("sctp-b", thread_main, GUINT_TO_POINTER(12));
  g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(t1)), ==, 1);
  g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(t2)), ==, 1);
  assert_all_freed();
}

static void test_free_mid_traffic(void) {
  GMainContext *ctx = g_main_context_new();
  pair p;
  pair_init(&p, ctx, 9, NULL, 0);
  g_assert_true(pair_connect(&p, 5000));
  for (guint i = 0; i < 64; i++) {
    uint8_t *m = make_msg(i, 64 * KIB);
    g_assert_cmpint(weft__sctp_send_owned(p.a.s, 1, 53, m, 64 * KIB, NULL), ==, 0);
    m = make_msg(i, 64 * KIB);
    g_assert_cmpint(weft__sctp_send_owned(p.b.s, 1, 53, m, 64 * KIB, NULL), ==, 0);
  }
  g_assert_true(wait_rx(&p, &p.b, 2, 5000));
  g_assert_cmpuint(p.b.rx->len, <, 64);
  guint a_calls = p.a.callbacks;
  weft__sctp_free(p.a.s);
  p.a.s = NULL;
  p.a.freed = true; /* any further callback on A asserts */
  test_iterate_for(ctx, 300);
  g_assert_cmpuint(p.a.callbacks, ==, a_calls);
  /* B saw the ABORT. */
  g_assert_true(p.b.closed);
  g_test_message("B closed with cause %d", p.b.close_cause);
  g_assert_cmpint(weft__sctp_send(p.b.s, 1, 53, (const uint8_t *)"x", 1, NULL), ==,
                  WEFT_ERR_INVALID_STATE);
  guint b_calls = p.b.callbacks;
  weft__sctp_free(p.b.s);
  p.b.s = NULL;
  p.b.freed = true;
  test_iterate_for(ctx, 100);
  g_assert_cmpuint(p.b.callbacks, ==, b_calls);
  pair_free(&p);
  g_main_context_unref(ctx);
  assert_all_freed();
}

static void test_cycles(void) {
  unsigned finishes = weft__sctp_debug_finish_count();
  GMainContext *ctx = g_main_context_new();
  for (int i = 0; i < 50; i++) {
    pair p;
    pair_init(&p, ctx, 100 + (guint32)i, NULL, 0);
    g_assert_cmpint(weft__sctp_debug_live_count(), ==, 2);
    g_assert_true(weft__sctp_debug_usrsctp_running());
    g_assert_true(pair_connect(&p, 5000));
    exchange(&p, (guint16)(i % 8), 1);
    pair_free(&p);
    assert_all_freed();
  }
  /* A pair created and freed without ever connecting. */
  pair p;
  pair_init(&p, ctx, 1000, NULL, 0);
  pair_free(&p);
  weft__sctp_free(NULL);
  g_main_context_unref(ctx);
  assert_all_freed();
  g_assert_cmpuint(weft__sctp_debug_finish_count(), >=, finishes + 51);
}

/* ---- Inflight attribution (buffered_amount per stream) ------------------ */

/* usrsctp only reports the association's total held bytes; weft splits it
 * across streams in handing order. These tests watch the wire to know the
 * truth: every DATA chunk A sends (TSN, stream, payload bytes) and every
 * cumulative TSN ack A receives. Without loss, a stream's unacknowledged
 * bytes are what it handed minus its chunks at or below that ack. (usrsctp's
 * own total is a little above: it books 16 more bytes, the DATA chunk
 * header, for each chunk it has built and not yet freed.) */

enum { WIRE_STREAMS = 8 };

typedef struct wire_chunk {
  uint32_t tsn;
  uint16_t sid;
  uint32_t len;
} wire_chunk;

typedef struct wire_sample_rec {
  uint16_t stream;
  size_t amount, b[WIRE_STREAMS], total, truth[WIRE_STREAMS];
  guint outstanding; /* DATA chunks sent and not acknowledged */
} wire_sample_rec;

typedef struct wire {
  GArray *chunks;   /* wire_chunk, first transmissions in sending order */
  GHashTable *seen; /* TSNs already recorded */
  bool have_ack;
  uint32_t cum_ack;
  size_t handed[WIRE_STREAMS];
  GArray *samples; /* wire_sample_rec, one per on_low on A */
  weft__sctp *s;   /* A */
} wire;

static bool tsn_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }

static uint32_t rd32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Calls @fn for each chunk of an SCTP packet (the chunk with its header, its length). */
static void each_chunk(const uint8_t *d, size_t n, void (*fn)(wire *, const uint8_t *, size_t),
                       wire *w) {
  size_t off = 12;
  while (off + 4 <= n) {
    size_t clen = ((size_t)d[off + 2] << 8) | d[off + 3];
    if (clen < 4 || off + clen > n)
      break;
    fn(w, d + off, clen);
    off += (clen + 3) & ~(size_t)3;
  }
}

static void on_data_chunk(wire *w, const uint8_t *c, size_t clen) {
  if (c[0] == 64) /* I-DATA: weft does not negotiate it, the split below would be wrong */
    g_error("unexpected I-DATA chunk");
  if (c[0] != 0 || clen < 16)
    return;
  uint32_t tsn = rd32(c + 4);
  if (g_hash_table_contains(w->seen, GUINT_TO_POINTER(tsn)))
    return; /* a retransmission */
  g_hash_table_add(w->seen, GUINT_TO_POINTER(tsn));
  wire_chunk k = {tsn, (uint16_t)((c[8] << 8) | c[9]), (uint32_t)(clen - 16)};
  g_array_append_val(w->chunks, k);
}

static void on_sack_chunk(wire *w, const uint8_t *c, size_t clen) {
  if ((c[0] != 3 && c[0] != 16) || clen < 8) /* SACK, NR-SACK */
    return;
  uint32_t cum = rd32(c + 4);
  if (!w->have_ack || !tsn_le(cum, w->cum_ack))
    w->cum_ack = cum;
  w->have_ack = true;
}

static void wire_data(wire *w, const GByteArray *dg) {
  each_chunk(dg->data, dg->len, on_data_chunk, w);
}

static void wire_sack(wire *w, const uint8_t *d, size_t n) { each_chunk(d, n, on_sack_chunk, w); }

/* Bytes of @stream A handed and the peer has not acknowledged yet. */
static size_t wire_unacked(const wire *w, uint16_t stream) {
  size_t acked = 0;
  for (guint i = 0; w->have_ack && i < w->chunks->len; i++) {
    wire_chunk *k = &g_array_index(w->chunks, wire_chunk, i);
    if (k->sid == stream && tsn_le(k->tsn, w->cum_ack))
      acked += k->len;
  }
  g_assert_cmpuint(acked, <=, w->handed[stream]);
  return w->handed[stream] - acked;
}

static void wire_sample(peer *p, uint16_t stream, size_t amount) {
  wire *w = p->wire;
  if (stream >= WIRE_STREAMS)
    return;
  wire_sample_rec r = {stream, amount, {0}, weft__sctp_inflight_total(w->s), {0}, 0};
  for (uint16_t i = 0; i < WIRE_STREAMS; i++) {
    r.b[i] = weft__sctp_buffered_amount(w->s, i);
    r.truth[i] = wire_unacked(w, i);
  }
  for (guint i = 0; i < w->chunks->len; i++)
    if (!w->have_ack || !tsn_le(g_array_index(w->chunks, wire_chunk, i).tsn, w->cum_ack))
      r.outstanding++;
  g_array_append_val(w->samples, r);
}

static void wire_init(wire *w, pair *p) {
  memset(w, 0, sizeof *w);
  w->chunks = g_array_new(FALSE, FALSE, sizeof(wire_chunk));
  w->seen = g_hash_table_new(g_direct_hash, g_direct_equal);
  w->samples = g_array_new(FALSE, FALSE, sizeof(wire_sample_rec));
  w->s = p->a.s;
  p->wire = w;
  p->a.wire = w;
}

static void wire_clear(wire *w, pair *p) {
  p->wire = NULL;
  p->a.wire = NULL;
  g_array_unref(w->chunks);
  g_hash_table_unref(w->seen);
  g_array_unref(w->samples);
}

/* The order in which streams' first transmissions went out, as runs
 * ("1x10 2x3 1x3 ..."); returns how many runs. */
static guint wire_runs(const wire *w, GString *out) {
  guint runs = 0;
  for (guint i = 0; i < w->chunks->len;) {
    uint16_t sid = g_array_index(w->chunks, wire_chunk, i).sid;
    guint j = i;
    while (j < w->chunks->len && g_array_index(w->chunks, wire_chunk, j).sid == sid)
      j++;
    g_string_append_printf(out, "%s%ux%u", runs ? " " : "", sid, j - i);
    runs++;
    i = j;
  }
  return runs;
}

static void pair_pause(pair *p) { p->paused = true; }

/* Delivers what the paused link held, in order, then lets the link flow. */
static void pair_resume(pair *p) {
  p->paused = false;
  for (int side = 0; side < 2; side++) {
    GPtrArray *h = p->held[side];
    peer *to = side == LOSSY_A ? &p->b : &p->a;
    for (guint i = 0; h && i < h->len; i++) {
      GByteArray *dg = g_ptr_array_index(h, i);
      recv_a(to, dg->data, dg->len);
    }
    if (h)
      g_ptr_array_set_size(h, 0);
  }
}

static guint held_count(const pair *p, lossy_side from) {
  return p->held[from] ? p->held[from]->len : 0;
}

/* Hands @count messages of @size bytes on @stream from A; returns the bytes. */
static size_t hand(pair *p, wire *w, uint16_t stream, guint count, size_t size, uint32_t seq0) {
  for (guint i = 0; i < count; i++) {
    uint8_t *m = make_msg(seq0 + i, size);
    g_assert_cmpint(weft__sctp_send_owned(p->a.s, stream, 53, m, size, NULL), ==, 0);
  }
  w->handed[stream] += count * size;
  return count * size;
}

/* Iterates until A holds nothing any more (bounded). */
static gboolean wait_drained(pair *p, guint timeout_ms) {
  gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  while (g_get_monotonic_time() < end) {
    if (weft__sctp_inflight_total(p->a.s) == 0 && weft__sctp_buffered_amount(p->a.s, 1) == 0 &&
        weft__sctp_buffered_amount(p->a.s, 2) == 0)
      return TRUE;
    if (!g_main_context_iteration(p->ctx, FALSE))
      g_usleep(500);
  }
  return FALSE;
}

static gboolean wait_rx_stream_bytes(pair *p, size_t bytes, guint timeout_ms) {
  gint64 end = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
  while (p->b.rx_bytes < bytes && g_get_monotonic_time() < end) {
    if (!g_main_context_iteration(p->ctx, FALSE))
      g_usleep(500);
  }
  return p->b.rx_bytes >= bytes;
}

/* Every on_low sample: the streams' amounts add up to what usrsctp holds
 * (weft's FIFO is empty: everything fits in the send buffer); no stream above
 * what it handed. usrsctp's total is the unacknowledged payload plus 16 bytes
 * (a DATA chunk header) for each chunk it has built and not freed yet: it is
 * never below the truth and at most that overhead above it. Returns the
 * largest per-stream difference from the wire truth. */
static size_t check_samples(const wire *w, guint from) {
  size_t worst = 0;
  for (guint i = from; i < w->samples->len; i++) {
    const wire_sample_rec *r = &g_array_index(w->samples, wire_sample_rec, i);
    size_t sum = 0, truth = 0;
    for (int k = 0; k < WIRE_STREAMS; k++) {
      sum += r->b[k];
      truth += r->truth[k];
      g_assert_cmpuint(r->b[k], <=, w->handed[k]);
      size_t d = r->b[k] > r->truth[k] ? r->b[k] - r->truth[k] : r->truth[k] - r->b[k];
      worst = MAX(worst, d);
    }
    g_assert_cmpuint(r->amount, ==, r->b[r->stream]);
    g_assert_cmpuint(sum, ==, r->total);
    g_assert_cmpuint(r->total, >=, truth);
    g_assert_cmpuint(r->total - truth, <=, 16 * (r->outstanding + 32));
  }
  return worst;
}

/* Streams 1 then 2 hand data while the link is paused (nothing can be
 * acknowledged), then the link flows again. */
static void test_inflight_interleaved(void) {
  GMainContext *ctx = g_main_context_new();
  pair p;
  pair_init(&p, ctx, 31, NULL, 0);
  g_assert_true(pair_connect(&p, 5000));
  exchange(&p, 3, 2); /* warm up: RTT measured, nothing outstanding */
  g_assert_true(wait_drained(&p, 5000));
  wire w;
  wire_init(&w, &p);

  pair_pause(&p);
  gint64 t0 = g_get_monotonic_time();
  const size_t n = hand(&p, &w, 1, 24, 4 * KIB, 0);    /* 96 KiB */
  const size_t m = hand(&p, &w, 2, 20, 3 * KIB, 1000); /* 60 KiB */
  test_iterate_for(ctx, 100); /* whatever A does meanwhile, nothing comes back */
  size_t b1 = weft__sctp_buffered_amount(p.a.s, 1), b2 = weft__sctp_buffered_amount(p.a.s, 2);
  size_t total = weft__sctp_inflight_total(p.a.s);
  g_test_message("paused: stream 1 handed %zu, stream 2 handed %zu; buffered %zu + %zu, "
                 "inflight total %zu, %u packets held",
                 n, m, b1, b2, total, held_count(&p, LOSSY_A));
  g_assert_false(p.a.closed || p.b.closed);
  g_assert_false(w.have_ack); /* the peer acknowledged nothing */
  g_assert_cmpuint(held_count(&p, LOSSY_A), >, 0);
  g_assert_cmpuint(b1 + b2, ==, n + m); /* all unacknowledged */
  g_assert_cmpuint(total, ==, n + m);   /* all inside usrsctp: FIFO empty */
  g_assert_cmpuint(b1, <=, n);
  g_assert_cmpuint(b2, <=, m);
  g_assert_cmpuint(b1, >, 0);
  g_assert_cmpuint(b2, >, 0);
  g_assert_cmpuint(b1, ==, wire_unacked(&w, 1));
  g_assert_cmpuint(b2, ==, wire_unacked(&w, 2));

  guint s0 = w.samples->len;
  guint low1 = p.a.low_by_stream[1], low2 = p.a.low_by_stream[2];
  pair_resume(&p);
  gint64 t1 = g_get_monotonic_time();
  g_assert_true(wait_rx_stream_bytes(&p, n + m + 2 * 500, 10000));
  g_assert_true(wait_drained(&p, 10000));
  /* The last decrease each stream reported is to 0; it may come in the
   * deliver after the getters read 0, so wait for it (bounded). */
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while ((p.a.low_by_stream[1] == low1 || p.a.low_by_stream[2] == low2 || p.a.last_low[1] ||
          p.a.last_low[2]) &&
         g_get_monotonic_time() < end)
    test_iterate_for(ctx, 2);
  gint64 t2 = g_get_monotonic_time();
  g_assert_cmpuint(weft__sctp_buffered_amount(p.a.s, 1), ==, 0);
  g_assert_cmpuint(weft__sctp_buffered_amount(p.a.s, 2), ==, 0);
  g_assert_cmpuint(weft__sctp_inflight_total(p.a.s), ==, 0);
  g_assert_cmpuint(p.a.low_by_stream[1], >, low1);
  g_assert_cmpuint(p.a.low_by_stream[2], >, low2);
  g_assert_cmpuint(p.a.last_low[1], ==, 0);
  g_assert_cmpuint(p.a.last_low[2], ==, 0);
  g_assert_cmpuint(wire_unacked(&w, 1), ==, 0);
  g_assert_cmpuint(wire_unacked(&w, 2), ==, 0);

  /* Everything arrived intact, in order per stream. */
  guint got1 = 0, got2 = 0;
  for (guint i = 0; i < p.b.rx->len; i++) {
    rx_rec *r = &g_array_index(p.b.rx, rx_rec, i);
    g_assert_true(r->intact);
    if (r->stream == 1)
      g_assert_cmpuint(r->seq, ==, got1++);
    else if (r->stream == 2)
      g_assert_cmpuint(r->seq, ==, 1000 + got2++);
  }
  g_assert_cmpuint(got1, ==, 24);
  g_assert_cmpuint(got2, ==, 20);

  size_t worst = check_samples(&w, s0);
  GString *runs = g_string_new(NULL);
  guint nruns = wire_runs(&w, runs);
  /* How far the handing-order split strayed from the truth, and where. */
  size_t worst1 = 0, at_b1 = 0, at_t1 = 0, at_b2 = 0, at_t2 = 0;
  for (guint i = s0; i < w.samples->len; i++) {
    wire_sample_rec *r = &g_array_index(w.samples, wire_sample_rec, i);
    size_t d = r->b[1] > r->truth[1] ? r->b[1] - r->truth[1] : r->truth[1] - r->b[1];
    if (d > worst1) {
      worst1 = d;
      at_b1 = r->b[1], at_t1 = r->truth[1], at_b2 = r->b[2], at_t2 = r->truth[2];
    }
  }
  g_test_message("drain: %u on_low samples; all acknowledged and reported %.1f ms after the link "
                 "resumed (%.1f ms after the first send, 100 ms of it paused); wire order "
                 "of first transmissions (%u DATA chunks, %u runs): %s",
                 w.samples->len - s0, (t2 - t1) / 1000.0, (t2 - t0) / 1000.0, w.chunks->len, nruns,
                 runs->str);
  g_test_message("handing-order split vs wire truth: worst per-stream error %zu bytes "
                 "(stream 1 %zu vs %zu true, stream 2 %zu vs %zu true)",
                 worst, at_b1, at_t1, at_b2, at_t2);
  g_string_free(runs, TRUE);
  wire_clear(&w, &p);
  pair_free(&p);
  g_main_context_unref(ctx);
  assert_all_freed();
}

/* Stream 1 hands its data and is fully acknowledged; only then does stream 2
 * hand its own: the split is exact at every point. */
/* ---- The receive window against usrsctp's TSN map (issue 13) ------------ */

/* What A sends against what B acknowledges: the largest distance of a DATA
 * chunk past B's last cumulative ack, B's largest advertised window, and a
 * burst of A's DATA packets dropped once (a hole near the cumulative ack). */
typedef struct window_watch {
  bool have_cum;
  uint32_t cum;
  uint32_t max_past;
  uint32_t max_a_rwnd;
  guint data_packets, drop_at, drop_n, dropped;
} window_watch;

static gboolean window_filter(window_watch *ww, lossy_side from, GByteArray *dg) {
  const uint8_t *d = dg->data;
  bool data = false;
  for (size_t off = 12; off + 4 <= dg->len;) {
    size_t clen = ((size_t)d[off + 2] << 8) | d[off + 3];
    if (clen < 4 || off + clen > dg->len)
      break;
    const uint8_t *c = d + off;
    if (from == LOSSY_B && c[0] == 3 && clen >= 12) {
      uint32_t cum = rd32(c + 4);
      if (!ww->have_cum || !tsn_le(cum, ww->cum))
        ww->cum = cum;
      ww->have_cum = true;
      ww->max_a_rwnd = MAX(ww->max_a_rwnd, rd32(c + 8));
    } else if (from == LOSSY_A && c[0] == 0 && clen >= 16) {
      data = true;
      uint32_t tsn = rd32(c + 4);
      if (ww->have_cum && !tsn_le(tsn, ww->cum))
        ww->max_past = MAX(ww->max_past, tsn - ww->cum);
    }
    off += (clen + 3) & ~(size_t)3;
  }
  if (!data)
    return TRUE;
  guint n = ww->data_packets++;
  if (n >= ww->drop_at && n < ww->drop_at + ww->drop_n) {
    ww->dropped++;
    return FALSE;
  }
  return TRUE;
}

/* A peer that allows 1 GiB messages (Firefox) used to get a 16 MiB window
 * from weft (its receive buffer was sized like the send buffer). After a
 * lost burst, the sender may fill the window past the hole, and usrsctp
 * tosses every chunk more than 4096 TSNs past the cumulative ack: the
 * sender resends them, times out, and recovers at a crawl (Firefox, 8
 * channels of 256 KiB echoes: > 30 s). Here A sends 12 MiB in 256 KiB
 * messages on 8 streams to B, 40 of A's DATA packets lost midway (the 5000th
 * on, when A's window is wide): no chunk
 * may go beyond usrsctp's map, B's window stays at 1 MiB, and all arrives
 * within 5 s. */
static void test_window_hole(void) {
  GMainContext *ctx = g_main_context_new();
  pair p;
  pair_init(&p, ctx, 13, NULL, 1024 * MIB);
  window_watch ww = {.drop_at = 5000, .drop_n = 40};
  p.ww = &ww;
  g_assert_true(pair_connect(&p, 5000));
  const guint n = 48;
  gint64 t0 = g_get_monotonic_time();
  for (guint i = 0; i < n; i++) {
    uint8_t *m = make_msg(i, 256 * KIB);
    g_assert_cmpint(weft__sctp_send_owned(p.a.s, (uint16_t)(i % 8), 53, m, 256 * KIB, NULL), ==, 0);
  }
  gboolean ok = wait_rx(&p, &p.b, n, 20000);
  double secs = (double)(g_get_monotonic_time() - t0) / 1e6;
  printf("# window: 12 MiB, %u DATA packets dropped: all in %.2f s, a chunk at most %u TSNs past "
         "the cumulative ack, window at most %u bytes\n",
         ww.dropped, secs, ww.max_past, ww.max_a_rwnd);
  g_assert_true(ok);
  g_assert_cmpuint(ww.dropped, ==, ww.drop_n);
  g_assert_cmpuint(ww.max_past, <=, 4096);
  g_assert_cmpuint(ww.max_a_rwnd, <=, MIB);
  g_assert_cmpfloat(secs, <, 5.0);
  for (guint i = 0; i < n; i++)
    g_assert_true(g_array_index(p.b.rx, rx_rec, i).intact);
  p.ww = NULL;
  pair_free(&p);
  g_main_context_unref(ctx);
  assert_all_freed();
}

static void test_inflight_sequential(void) {
  GMainContext *ctx = g_main_context_new();
  pair p;
  pair_init(&p, ctx, 32, NULL, 0);
  g_assert_true(pair_connect(&p, 5000));
  exchange(&p, 3, 2);
  g_assert_true(wait_drained(&p, 5000));
  wire w;
  wire_init(&w, &p);

  pair_pause(&p);
  const size_t n = hand(&p, &w, 1, 16, 4 * KIB, 0); /* 64 KiB */
  test_iterate_for(ctx, 50);
  g_assert_cmpuint(weft__sctp_buffered_amount(p.a.s, 1), ==, n);
  g_assert_cmpuint(weft__sctp_buffered_amount(p.a.s, 2), ==, 0);
  g_assert_cmpuint(weft__sctp_inflight_total(p.a.s), ==, n);
  guint low1 = p.a.low_by_stream[1];
  pair_resume(&p);
  g_assert_true(wait_rx_stream_bytes(&p, n + 2 * 500, 10000));
  g_assert_true(wait_drained(&p, 10000));
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while ((p.a.low_by_stream[1] == low1 || p.a.last_low[1]) && g_get_monotonic_time() < end)
    test_iterate_for(ctx, 2);
  g_assert_cmpuint(p.a.last_low[1], ==, 0);
  g_assert_cmpuint(weft__sctp_buffered_amount(p.a.s, 1), ==, 0);
  g_assert_cmpuint(wire_unacked(&w, 1), ==, 0);

  pair_pause(&p);
  guint s1 = w.samples->len;
  const size_t m = hand(&p, &w, 2, 20, 3 * KIB, 1000); /* 60 KiB */
  test_iterate_for(ctx, 50);
  size_t b1 = weft__sctp_buffered_amount(p.a.s, 1), b2 = weft__sctp_buffered_amount(p.a.s, 2);
  g_test_message("sequential, stream 2 unacknowledged: buffered %zu / %zu, total %zu", b1, b2,
                 weft__sctp_inflight_total(p.a.s));
  g_assert_cmpuint(b1, ==, 0);
  g_assert_cmpuint(b2, ==, m);
  g_assert_cmpuint(weft__sctp_inflight_total(p.a.s), ==, m);
  guint low2 = p.a.low_by_stream[2];
  pair_resume(&p);
  g_assert_true(wait_rx_stream_bytes(&p, n + m + 2 * 500, 10000));
  g_assert_true(wait_drained(&p, 10000));
  end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while ((p.a.low_by_stream[2] == low2 || p.a.last_low[2]) && g_get_monotonic_time() < end)
    test_iterate_for(ctx, 2);
  g_assert_cmpuint(p.a.last_low[2], ==, 0);
  g_assert_cmpuint(weft__sctp_buffered_amount(p.a.s, 2), ==, 0);
  g_assert_cmpuint(weft__sctp_inflight_total(p.a.s), ==, 0);

  /* Exact throughout: all of usrsctp's total is on the one stream that has
   * data in it, the other stays 0 (so the split differs from the wire only
   * by usrsctp's 16-byte chunk headers). */
  size_t worst = check_samples(&w, 0);
  for (guint i = 0; i < w.samples->len; i++) {
    wire_sample_rec *r = &g_array_index(w.samples, wire_sample_rec, i);
    uint16_t on = i < s1 ? 1 : 2, off = i < s1 ? 2 : 1;
    g_assert_cmpuint(r->b[off], ==, 0);
    g_assert_cmpuint(r->b[on], ==, r->total);
  }
  g_test_message("sequential: %u on_low samples (%u while stream 2 drained), all on the "
                 "right stream; worst difference from the wire %zu bytes (chunk headers)",
                 w.samples->len, w.samples->len - s1, worst);
  wire_clear(&w, &p);
  pair_free(&p);
  g_main_context_unref(ctx);
  assert_all_freed();
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/sctp/connect", test_connect);
  g_test_add_func("/sctp/connect-late", test_connect_late);
  g_test_add_func("/sctp/reliable/lossless", test_reliable_lossless);
  g_test_add_func("/sctp/reliable/lossy", test_reliable_lossy);
  g_test_add_func("/sctp/burst", test_burst);
  g_test_add_func("/sctp/partial/rexmit", test_partial_rexmit);
  g_test_add_func("/sctp/partial/lifetime", test_partial_lifetime);
  g_test_add_func("/sctp/empty", test_empty);
  g_test_add_func("/sctp/reset", test_reset);
  g_test_add_func("/sctp/garbage", test_garbage);
  g_test_add_func("/sctp/two-threads", test_two_threads);
  g_test_add_func("/sctp/free-mid-traffic", test_free_mid_traffic);
  g_test_add_func("/sctp/cycles", test_cycles);
  g_test_add_func("/sctp/inflight/interleaved", test_inflight_interleaved);
  g_test_add_func("/sctp/inflight/sequential", test_inflight_sequential);
  g_test_add_func("/sctp/window/hole", test_window_hole);
  return g_test_run();
}
