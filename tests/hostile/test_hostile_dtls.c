/*
 * Hostile DTLS handshakes against a real weft_pc, as raw datagrams on the
 * ICE-selected pair (the hostile peer runs no DTLS of its own here). The
 * ClientHellos are a real weft__dtls client's, captured and rewritten:
 *
 *   weft_offers_aead_only  weft as DTLS client: its ClientHello lists AEAD
 *                          suites only (no CBC, RFC 9325 §4.2).
 *   dtls10_refused         weft as server, a ClientHello with client_version
 *                          DTLS 1.0 (FE FF): no ServerHello; refused with an
 *                          alert and/or a DTLS failure on the pc.
 *   cbc_only_refused       weft as server, a ClientHello offering only
 *                          ECDHE-ECDSA CBC suites: refused likewise.
 *   trickle                weft as server, a ClientHello sent one byte per
 *                          record, one record per 200 ms: the handshake
 *                          deadline (20 s, lib/dtls) is armed at the first
 *                          byte, so the pc fails within 20 s (+ slack) of it,
 *                          and a new pc pair on the same context connects
 *                          meanwhile.
 */
#include <string.h>

#include "hostile_peer.h"

enum { REC_HDR = 13, HS_HDR = 12, DTLS_TOTAL_MS = 20000 };

/* ---- ClientHello surgery ---------------------------------------------------------- */

typedef struct ch {
  uint8_t *body; /* the handshake body (client_version onwards) */
  size_t len;
} ch;

static ch ch_from_record(const uint8_t *rec, size_t len) {
  g_assert_cmpuint(len, >, REC_HDR + HS_HDR);
  g_assert_cmpint(rec[0], ==, 22);
  g_assert_cmpint(rec[REC_HDR], ==, 1);
  size_t blen = weft__rd24(rec + REC_HDR + 1);
  g_assert_cmpuint(weft__rd24(rec + REC_HDR + 9), ==, blen); /* one fragment */
  g_assert_cmpuint(REC_HDR + HS_HDR + blen, <=, len);
  ch c = {g_memdup2(rec + REC_HDR + HS_HDR, blen), blen};
  return c;
}

/* Offsets in a ClientHello body. */
typedef struct ch_off {
  size_t suites; /* the 2-byte length of the suite list */
  size_t comp;
  size_t ext; /* the 2-byte length of the extensions, or len if none */
} ch_off;

static ch_off ch_parse(const ch *c) {
  ch_off o;
  size_t p = 2 + 32;
  p += 1 + c->body[p]; /* session id */
  p += 1 + c->body[p]; /* cookie */
  o.suites = p;
  p += 2 + weft__rd16(c->body + p);
  o.comp = p;
  p += 1 + c->body[p];
  o.ext = p;
  g_assert_cmpuint(p, <=, c->len);
  return o;
}

static GArray *ch_suites(const ch *c) {
  ch_off o = ch_parse(c);
  GArray *a = g_array_new(FALSE, FALSE, sizeof(uint16_t));
  size_t n = weft__rd16(c->body + o.suites);
  for (size_t i = 0; i < n; i += 2) {
    uint16_t s = weft__rd16(c->body + o.suites + 2 + i);
    g_array_append_val(a, s);
  }
  return a;
}

/* Replaces the suite list by @suites. */
static void ch_set_suites(ch *c, const uint16_t *suites, size_t n) {
  ch_off o = ch_parse(c);
  size_t old = 2 + weft__rd16(c->body + o.suites);
  size_t nl = c->len - old + 2 + 2 * n;
  uint8_t *b = g_malloc(nl);
  memcpy(b, c->body, o.suites);
  weft__wr16(b + o.suites, (uint16_t)(2 * n));
  for (size_t i = 0; i < n; i++)
    weft__wr16(b + o.suites + 2 + 2 * i, suites[i]);
  memcpy(b + o.suites + 2 + 2 * n, c->body + o.suites + old, c->len - o.suites - old);
  g_free(c->body);
  c->body = b;
  c->len = nl;
}

/* Appends a padding extension (RFC 7685) of @n zero bytes. */
static void ch_pad(ch *c, size_t n) {
  ch_off o = ch_parse(c);
  g_assert_cmpuint(o.ext, <, c->len); /* mbedTLS always sends extensions */
  size_t nl = c->len + 4 + n;
  uint8_t *b = g_malloc0(nl);
  memcpy(b, c->body, c->len);
  weft__wr16(b + o.ext, (uint16_t)(weft__rd16(b + o.ext) + 4 + n));
  weft__wr16(b + c->len, 21);
  weft__wr16(b + c->len + 2, (uint16_t)n);
  g_free(c->body);
  c->body = b;
  c->len = nl;
}

/* One record holding one fragment [off, off+flen) of the ClientHello. */
static size_t ch_record(const ch *c, uint8_t minor, uint64_t seq, size_t off, size_t flen,
                        uint8_t *out) {
  out[0] = 22;
  out[1] = 0xFE;
  out[2] = minor;
  out[3] = out[4] = 0;
  for (int i = 0; i < 6; i++)
    out[5 + i] = (uint8_t)(seq >> (8 * (5 - i)));
  weft__wr16(out + 11, (uint16_t)(HS_HDR + flen));
  uint8_t *hs = out + REC_HDR;
  hs[0] = 1;
  weft__wr24(hs + 1, (uint32_t)c->len);
  weft__wr16(hs + 4, 0);
  weft__wr24(hs + 6, (uint32_t)off);
  weft__wr24(hs + 9, (uint32_t)flen);
  memcpy(hs + HS_HDR, c->body + off, flen);
  return REC_HDR + HS_HDR + flen;
}

static ch make_ch(hostile *h) {
  size_t n = 0;
  uint8_t *rec = hostile_make_client_hello(h, &n);
  ch c = ch_from_record(rec, n);
  g_free(rec);
  return c;
}

/* ---- What came back ---------------------------------------------------------------------- */

typedef struct reply {
  int server_hello, alerts, last_alert, records;
  uint16_t suite; /* the ServerHello's choice */
} reply;

static reply scan_replies(hostile *h) {
  reply r = {0, 0, -1, 0, 0};
  GPtrArray *a = hostile_raw_dtls(h);
  for (guint i = 0; i < a->len; i++) {
    gsize n;
    const uint8_t *p = g_bytes_get_data(a->pdata[i], &n);
    size_t off = 0;
    while (off + REC_HDR <= n) {
      const uint8_t *rec = p + off;
      size_t rl = weft__rd16(rec + 11);
      if (off + REC_HDR + rl > n)
        break;
      r.records++;
      bool epoch0 = rec[3] == 0 && rec[4] == 0;
      if (rec[0] == 22 && epoch0 && rl >= HS_HDR && rec[REC_HDR] == 2) {
        r.server_hello++;
        const uint8_t *b = rec + REC_HDR + HS_HDR;
        size_t bl = rl - HS_HDR;
        if (bl > 35 && bl >= (size_t)35 + b[34] + 2)
          r.suite = weft__rd16(b + 35 + b[34]);
      }
      if (rec[0] == 21 && epoch0 && rl >= 2) {
        r.alerts++;
        r.last_alert = rec[REC_HDR + 1];
      }
      off += REC_HDR + rl;
    }
  }
  g_ptr_array_unref(a);
  return r;
}

/* ---- Sending raw ------------------------------------------------------------------------- */

typedef struct raw_job {
  const uint8_t *data;
  size_t len;
  int rc;
} raw_job;

static void raw_send(hostile *h, void *data) {
  raw_job *j = data;
  j->rc = hostile_raw_send(h, j->data, j->len);
}

static void send_whole(hostile *h, const ch *c, uint8_t minor) {
  uint8_t buf[4096];
  size_t n = ch_record(c, minor, 0, 0, c->len, buf);
  raw_job j = {buf, n, 0};
  hostile_call(h, raw_send, &j);
  g_assert_cmpint(j.rc, ==, 0);
}

static hostile_opts raw_opts(bool weft_is_server) {
  hostile_opts o = HOSTILE_OPTS_INIT;
  o.run_dtls = false;
  o.run_sctp = false;
  o.weft_is_server = weft_is_server;
  return o;
}

/* AEAD suites mbedTLS knows for ECDHE-ECDSA (GCM, CCM, ChaCha20-Poly1305,
 * ARIA-GCM, Camellia-GCM) and for ECDHE-RSA (GCM, ChaCha20-Poly1305, ARIA-GCM,
 * Camellia-GCM), and the renegotiation SCSV. */
static bool suite_is_aead(uint16_t s) {
  static const uint16_t ok[] = {0xC02B, 0xC02C, 0xCCA9, 0xC0AC, 0xC0AD, 0xC0AE, 0xC0AF,
                                0xC05C, 0xC05D, 0xC086, 0xC087, 0xC02F, 0xC030, 0xCCA8,
                                0xC060, 0xC061, 0xC08A, 0xC08B, 0x00FF};
  for (size_t i = 0; i < G_N_ELEMENTS(ok); i++)
    if (s == ok[i])
      return true;
  return false;
}

/* ---- Cases ------------------------------------------------------------------------------- */

static void test_weft_offers_aead_only(void) {
  hostile_opts o = raw_opts(false);
  hv_frame f;
  hv_frame_up(&f, &o, NULL, true);
  hv_attack_begin(&f);
  int64_t end = hv_now_us() + 5 * G_USEC_PER_SEC;
  GPtrArray *a = NULL;
  while (hv_now_us() < end) {
    a = hostile_raw_dtls(f.h);
    if (a->len)
      break;
    g_ptr_array_unref(a);
    a = NULL;
    g_usleep(5000);
  }
  g_assert_nonnull(a);
  gsize n;
  const uint8_t *p = g_bytes_get_data(a->pdata[0], &n);
  ch c = ch_from_record(p, n);
  GArray *s = ch_suites(&c);
  GString *list = g_string_new(NULL);
  int non_aead = 0;
  for (guint i = 0; i < s->len; i++) {
    uint16_t v = g_array_index(s, uint16_t, i);
    g_string_append_printf(list, " %04X", v);
    non_aead += !suite_is_aead(v);
  }
  g_print("# weft_offers_aead_only: weft's ClientHello offers%s (%d not AEAD)\n", list->str,
          non_aead);
  hv_attack_end(&f, "weft_offers_aead_only", HOSTILE_RSS_SLACK_KB * HOSTILE_RSS_FACTOR);
  g_assert_cmpint(non_aead, ==, 0);
  g_string_free(list, TRUE);
  g_array_unref(s);
  g_free(c.body);
  g_ptr_array_unref(a);
  hv_frame_down(&f);
}

static bool refused(void *arg) {
  hv_frame *f = arg;
  return atomic_load(&f->v->n_pc_dtls_errors) > 0 || scan_replies(f->h).alerts > 0;
}

static void run_refusal(const char *what, uint8_t record_minor, bool dtls10, bool cbc_only) {
  hostile_opts o = raw_opts(true);
  hv_frame f;
  hv_frame_up(&f, &o, NULL, true);
  ch c = make_ch(f.h);
  if (dtls10) {
    c.body[0] = 0xFE;
    c.body[1] = 0xFF;
  }
  if (cbc_only) {
    static const uint16_t cbc[] = {0xC009, 0xC00A, 0xC023, 0xC024, 0x00FF};
    ch_set_suites(&c, cbc, G_N_ELEMENTS(cbc));
  }
  hv_attack_begin(&f);
  send_whole(f.h, &c, record_minor);
  bool got = hv_wait(refused, &f, 5000);
  g_usleep(300000);
  reply r = scan_replies(f.h);
  g_print("# %s: %d records back, %d ServerHello (suite %04X), %d alerts (last %d); victim: %d "
          "DTLS errors, state %s\n",
          what, r.records, r.server_hello, r.suite, r.alerts, r.last_alert,
          atomic_load(&f.v->n_pc_dtls_errors),
          weft_pc_state_to_string((weft_pc_state)atomic_load(&f.v->conn_state)));
  hv_attack_end(&f, what, HOSTILE_RSS_SLACK_KB * HOSTILE_RSS_FACTOR);
  g_assert_cmpint(r.server_hello, ==, 0);
  g_assert_true(got);
  g_free(c.body);
  hv_frame_down(&f);
}

static void test_dtls10_refused(void) { run_refusal("dtls10_refused", 0xFF, true, false); }
static void test_cbc_only_refused(void) { run_refusal("cbc_only_refused", 0xFD, false, true); }

/* ---- trickle ------------------------------------------------------------------------------ */

typedef struct trickle {
  ch c;
  size_t next;
  GSource *tick;
  int64_t first_us;
  atomic_int sent;
} trickle;

static gboolean trickle_tick(gpointer p) {
  hostile *h = p;
  trickle *t = h->user;
  if (t->next >= t->c.len) {
    t->tick = NULL;
    return G_SOURCE_REMOVE;
  }
  uint8_t buf[64];
  size_t n = ch_record(&t->c, 0xFD, t->next, t->next, 1, buf);
  if (t->next == 0)
    t->first_us = hv_now_us();
  hostile_raw_send(h, buf, n);
  t->next++;
  atomic_store(&t->sent, (int)t->next);
  return G_SOURCE_CONTINUE;
}

static void trickle_start(hostile *h, void *data) {
  trickle *t = data;
  h->user = t;
  trickle_tick(h);
  t->tick = g_timeout_source_new(200);
  g_source_set_callback(t->tick, trickle_tick, h, NULL);
  g_source_attach(t->tick, h->ctx);
  g_source_unref(t->tick);
}

static void trickle_stop(hostile *h, void *data) {
  trickle *t = data;
  if (t->tick)
    g_source_destroy(t->tick);
  t->tick = NULL;
  h->user = NULL;
}

static bool pc_connected(void *arg) {
  return weft_pc_get_connection_state(arg) == WEFT_PC_CONNECTED;
}

static bool gathered(void *arg) {
  return weft_pc_get_ice_gathering_state(arg) == WEFT_GATHERING_COMPLETE;
}

static weft_pc *loop_pc(weft_context *ctx) {
  weft_config *c = weft_config_new();
  weft_config_set_enable_loopback(c, 1);
  weft_pc *pc = weft_pc_new(ctx, c);
  weft_config_free(c);
  return pc;
}

/* A full handshake of a fresh pc pair on @ctx; returns ms to connected. */
static double fresh_handshake_ms(weft_context *ctx) {
  int64_t t0 = hv_now_us();
  weft_pc *a = loop_pc(ctx), *b = loop_pc(ctx);
  weft_dc *dc = weft_pc_create_data_channel(a, "x", NULL);
  char *offer = NULL, *answer = NULL;
  g_assert_cmpint(weft_pc_set_local_description(a, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  g_assert_true(hv_wait(gathered, a, 5000));
  weft_pc_get_description(a, WEFT_DESC_LOCAL, NULL, &offer);
  g_assert_cmpint(weft_pc_set_remote_description(b, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_local_description(b, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  g_assert_true(hv_wait(gathered, b, 5000));
  weft_pc_get_description(b, WEFT_DESC_LOCAL, NULL, &answer);
  g_assert_cmpint(weft_pc_set_remote_description(a, WEFT_SDP_ANSWER, answer), ==, WEFT_OK);
  bool ok = hv_wait(pc_connected, a, 10000) && hv_wait(pc_connected, b, 10000);
  double ms = (double)(hv_now_us() - t0) / 1000.0;
  weft_free(offer);
  weft_free(answer);
  weft_dc_unref(dc);
  weft_pc_close(a);
  weft_pc_close(b);
  weft_pc_unref(a);
  weft_pc_unref(b);
  g_assert_true(ok);
  return ms;
}

static void test_trickle(void) {
  hostile_opts o = raw_opts(true);
  hv_frame f;
  hv_frame_up(&f, &o, NULL, true);
  trickle t = {0};
  t.c = make_ch(f.h);
  /* Long enough that trickling it takes well over the deadline. */
  size_t want = (DTLS_TOTAL_MS / 200) * 2;
  if (t.c.len < want)
    ch_pad(&t.c, want - t.c.len);
  hv_attack_begin(&f);
  hostile_call(f.h, trickle_start, &t);
  /* Other handshakes on the context go on meanwhile. */
  g_usleep(1000000);
  double other_ms = fresh_handshake_ms(f.ctx);
  int64_t limit = (int64_t)(DTLS_TOTAL_MS + 3000) * 1000;
  int64_t t0 = hv_now_us();
  while (atomic_load(&f.v->n_pc_dtls_errors) == 0 && hv_now_us() - t0 < limit)
    g_usleep(20000);
  hostile_call(f.h, trickle_stop, &t);
  int64_t failed_us = atomic_load(&f.v->n_pc_dtls_errors) ? hv_now_us() : -1;
  reply r = scan_replies(f.h);
  g_print("# trickle: %zu-byte ClientHello, %d bytes sent one per 200 ms; a fresh pc pair "
          "connected in %.0f ms meanwhile; victim DTLS %s%.1f s after the first byte; %d "
          "ServerHello back\n",
          t.c.len, atomic_load(&t.sent), other_ms, failed_us > 0 ? "failed " : "still waiting ",
          (double)((failed_us > 0 ? failed_us : hv_now_us()) - t.first_us) / 1e6, r.server_hello);
  hv_attack_end(&f, "trickle", HOSTILE_RSS_SLACK_KB * HOSTILE_RSS_FACTOR);
  g_assert_cmpfloat(other_ms, <, 5000.0);
  g_assert_cmpint(failed_us, >, 0);
  g_assert_cmpint(failed_us - t.first_us, <=, (int64_t)(DTLS_TOTAL_MS + 2000) * 1000);
  g_free(t.c.body);
  hv_frame_down(&f);
}

int main(int argc, char **argv) {
  hv_test_init(&argc, &argv);
  g_test_add_func("/hostile/dtls/weft_offers_aead_only", test_weft_offers_aead_only);
  g_test_add_func("/hostile/dtls/dtls10_refused", test_dtls10_refused);
  g_test_add_func("/hostile/dtls/cbc_only_refused", test_cbc_only_refused);
  g_test_add_func("/hostile/dtls/trickle", test_trickle);
  return g_test_run();
}
