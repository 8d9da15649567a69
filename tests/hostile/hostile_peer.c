/*
 * The hostile-peer harness (hostile_peer.h, README.md).
 */
#include "hostile_peer.h"

#include <stdio.h>
#include <string.h>

/* ASan keeps freed memory in a quarantine (256 MB by default) before reusing
 * it, which would show as RSS growth no weft bound can explain. A small one
 * still catches use-after-free of recent frees. ASAN_OPTIONS overrides. */
#if defined(__SANITIZE_ADDRESS__)
__attribute__((visibility("default"), used)) const char *__asan_default_options(void);
const char *__asan_default_options(void) {
  return "quarantine_size_mb=4:thread_local_quarantine_size_kb=256";
}
#endif

/* ---- Utilities ---------------------------------------------------------------- */

int64_t hv_now_us(void) { return g_get_monotonic_time(); }

void hv_test_init(int *argc, char ***argv) {
  g_test_init(argc, argv, NULL);
  if (g_getenv("HOSTILE_NONFATAL"))
    g_test_set_nonfatal_assertions();
  weft_set_log_spec(g_getenv("WEFT_DEBUG") ? g_getenv("WEFT_DEBUG") : "*:error");
}

long hv_rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f)
    return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
      break;
  fclose(f);
  return kb;
}

struct hv_rss {
  GThread *th;
  atomic_int stop;
  long base, peak;
};

static gpointer rss_main(gpointer p) {
  hv_rss *r = p;
  while (!atomic_load(&r->stop)) {
    long v = hv_rss_kb();
    if (v > r->peak)
      r->peak = v;
    g_usleep(5000);
  }
  return NULL;
}

hv_rss *hv_rss_begin(void) {
  hv_rss *r = g_new0(hv_rss, 1);
  r->base = r->peak = hv_rss_kb();
  r->th = g_thread_new("rss", rss_main, r);
  return r;
}

long hv_rss_end(hv_rss *r) {
  atomic_store(&r->stop, 1);
  g_thread_join(r->th);
  long v = hv_rss_kb();
  if (v > r->peak)
    r->peak = v;
  long grown = r->peak - r->base;
  g_free(r);
  return grown;
}

bool hv_wait(bool (*pred)(void *arg), void *arg, int timeout_ms) {
  int64_t end = hv_now_us() + (int64_t)timeout_ms * 1000;
  while (!pred(arg)) {
    if (hv_now_us() > end)
      return pred(arg);
    g_usleep(2000);
  }
  return true;
}

typedef struct {
  atomic_int *i;
  atomic_llong *ll;
  long long min;
} at_least;

static bool reached(void *arg) {
  const at_least *a = arg;
  return (a->i ? (long long)atomic_load(a->i) : (long long)atomic_load(a->ll)) >= a->min;
}

bool hv_wait_int_ge(atomic_int *v, int min, int timeout_ms) {
  at_least a = {v, NULL, min};
  return hv_wait(reached, &a, timeout_ms);
}

bool hv_wait_llong_ge(atomic_llong *v, long long min, int timeout_ms) {
  at_least a = {NULL, v, min};
  return hv_wait(reached, &a, timeout_ms);
}

void hv_on_engine(weft_context *ctx, void (*fn)(void *data), void *data) {
  g_assert_cmpint(weft__context_invoke_sync(ctx, fn, data), ==, WEFT_OK);
}

uint32_t hv_crc32c(const uint8_t *data, size_t len) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; i++) {
    crc ^= data[i];
    for (int k = 0; k < 8; k++)
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

void hv_assert_echo(const echo_result *r) {
  g_assert_cmpint(r->sent, >=, 10);
  g_assert_cmpint(r->answered, ==, r->sent);
  if (r->p99_ms >= HV_P99_LIMIT_MS)
    g_printerr("bystander p99 %.1f ms >= %.0f ms (%d/%d answered, max %.1f ms)\n", r->p99_ms,
               HV_P99_LIMIT_MS, r->answered, r->sent, r->max_ms);
#if defined(__SANITIZE_THREAD__)
    /* The TSan stage looks for data races; ThreadSanitizer slows every memory
     * access 5-15x, so latency is measured (printed above) but asserted only
     * by the release and ASan runs of these same tests. */
#else
  g_assert_cmpfloat(r->p99_ms, <, HV_P99_LIMIT_MS);
#endif
}

void hv_assert_rss(const char *what, long grown_kb, long bound_kb) {
  g_print("# %s: RSS grew %ld KiB (bound %ld KiB)\n", what, grown_kb, bound_kb);
  g_assert_cmpint(grown_kb, <=, bound_kb);
}

/* ---- Hostile peer: thread and calls ------------------------------------------ */

static gpointer hostile_main(gpointer p) {
  hostile *h = p;
  g_main_context_push_thread_default(h->ctx);
  g_main_loop_run(h->loop);
  g_main_context_pop_thread_default(h->ctx);
  return NULL;
}

typedef struct call {
  hostile *h;
  void (*fn)(hostile *h, void *data);
  void *data;
  GMutex m;
  GCond c;
  bool done;
} call;

static gboolean call_idle(gpointer p) {
  call *c = p;
  /* The caller holds the lock from before it attached us until it waits:
   * this orders its writes before ours for ThreadSanitizer too (GLib's own
   * locking in g_source_attach is invisible to it). */
  g_mutex_lock(&c->m);
  g_mutex_unlock(&c->m);
  c->fn(c->h, c->data);
  g_mutex_lock(&c->m);
  c->done = true;
  g_cond_signal(&c->c);
  g_mutex_unlock(&c->m);
  return G_SOURCE_REMOVE;
}

void hostile_call(hostile *h, void (*fn)(hostile *h, void *data), void *data) {
  if (g_main_context_is_owner(h->ctx)) {
    fn(h, data);
    return;
  }
  call c = {h, fn, data, {0}, {0}, false};
  g_mutex_init(&c.m);
  g_cond_init(&c.c);
  g_mutex_lock(&c.m);
  GSource *s = g_idle_source_new();
  g_source_set_priority(s, G_PRIORITY_HIGH);
  g_source_set_callback(s, call_idle, &c, NULL);
  g_source_attach(s, h->ctx);
  g_source_unref(s);
  while (!c.done)
    g_cond_wait(&c.c, &c.m);
  g_mutex_unlock(&c.m);
  g_mutex_clear(&c.m);
  g_cond_clear(&c.c);
}

/* ---- Hostile peer: SCTP ---------------------------------------------------------- */

static int sctp_out(void *ctx, const uint8_t *data, size_t len) {
  hostile *h = ctx;
  /* RFC 9260 §8.5: every packet we send carries the tag the victim chose;
   * INIT (chunk type 1) carries 0. */
  if (len >= 16 && data[12] != 1) {
    h->peer_vtag = weft__rd32(data + 4);
    h->have_vtag = true;
  }
  if (len >= 12 && len <= 2048 && atomic_load(&h->crc_checked) < 64) {
    uint8_t copy[2048];
    memcpy(copy, data, len);
    memset(copy + 8, 0, 4);
    uint32_t crc = hv_crc32c(copy, len);
    uint32_t stored = (uint32_t)data[8] | (uint32_t)data[9] << 8 | (uint32_t)data[10] << 16 |
                      (uint32_t)data[11] << 24;
    atomic_fetch_add(&h->crc_checked, 1);
    if (crc == stored)
      atomic_fetch_add(&h->crc_match, 1);
  }
  return h->dtls ? weft__dtls_send(h->dtls, data, len) : WEFT_ERR_CLOSED;
}

static void sctp_on_connected(void *ud) { atomic_store(&((hostile *)ud)->sctp_up, 1); }

static void sctp_on_message(void *ud, uint16_t stream, uint32_t ppid, const uint8_t *data,
                            size_t len) {
  hostile *h = ud;
  atomic_fetch_add(&h->rx_msgs, 1);
  atomic_fetch_add(&h->rx_msg_bytes, (long long)len);
  if (h->on_msg)
    h->on_msg(h, stream, ppid, data, len);
}

static void sctp_on_reset(void *ud, uint16_t stream, bool incoming) {
  hostile *h = ud;
  atomic_fetch_add(incoming ? &h->resets_in : &h->resets_out, 1);
  if (h->on_reset)
    h->on_reset(h, stream, incoming);
}

static void sctp_on_low(void *ud, uint16_t stream, size_t amount) {
  hostile *h = ud;
  if (h->on_low)
    h->on_low(h, stream, amount);
}

static void sctp_on_closed(void *ud, int cause, const char *message) {
  hostile *h = ud;
  g_print("# hostile: SCTP closed (cause %d): %s\n", cause, message ? message : "");
  atomic_store(&h->sctp_closed, 1);
}

static void sctp_on_oversize(void *ud, uint16_t stream, size_t cap) {
  (void)stream;
  (void)cap;
  atomic_fetch_add(&((hostile *)ud)->oversize, 1);
}

static void start_sctp(hostile *h) {
  weft__sctp_callbacks cb = {sctp_on_connected,
                             sctp_on_message,
                             sctp_on_reset,
                             sctp_on_low,
                             sctp_on_closed,
                             sctp_on_oversize,
                             h};
  weft__dgram_sink out = {sctp_out, h};
  size_t mms = h->remote_mms == 0 ? 0 : (size_t)MIN(h->remote_mms, (uint64_t)(64u << 20));
  h->sctp = weft__sctp_new(h->ctx, out, 5000, 5000, mms, &cb);
  g_assert_nonnull(h->sctp);
  weft__sctp_set_max_receive_size(h->sctp, 64u << 20);
  g_assert_cmpint(weft__sctp_connect(h->sctp), ==, 0);
}

static gboolean budget_resume(gpointer p) {
  hostile *h = p;
  if (h->sctp)
    weft__sctp_resume_receive(h->sctp);
  return G_SOURCE_REMOVE;
}

static void budget_wake(void *ud) {
  hostile *h = ud;
  GSource *s = g_idle_source_new();
  g_source_set_callback(s, budget_resume, h, NULL);
  g_source_attach(s, h->ctx);
  g_source_unref(s);
}

void hostile_stop_reading(hostile *h) {
  g_assert_true(g_main_context_is_owner(h->ctx));
  g_assert_nonnull(h->sctp);
  weft__rx_budget_init(&h->budget, 65536, budget_wake, h);
  /* Spent for good: admit() refuses from now on and no release ever wakes it. */
  weft__rx_budget_add(&h->budget, (size_t)1 << 40);
  weft__sctp_set_receive_budget(h->sctp, &h->budget);
}

/* ---- Hostile peer: DTLS -------------------------------------------------------------- */

static int dtls_out(void *ctx, const uint8_t *data, size_t len) {
  hostile *h = ctx;
  return h->ice ? weft__ice_send(h->ice, data, len) : WEFT_ERR_CLOSED;
}

static void dtls_on_connected(void *ud, const weft__srtp_keys *keys) {
  hostile *h = ud;
  if (keys && keys->profile != WEFT__SRTP_NONE) {
    g_assert_cmpint(weft__srtp_new(keys, &h->srtp), ==, 0);
    atomic_store(&h->srtp_ready, 1);
  }
  atomic_store(&h->dtls_state, 1);
  if (h->o.run_sctp)
    start_sctp(h);
}

static void dtls_on_data(void *ud, const uint8_t *data, size_t len) {
  hostile *h = ud;
  if (h->sctp)
    weft__sctp_input(h->sctp, data, len);
}

static void dtls_on_failed(void *ud, weft_error_detail detail, int alert, const char *message) {
  hostile *h = ud;
  g_snprintf(h->dtls_fail_msg, sizeof h->dtls_fail_msg, "detail %d alert %d: %s", (int)detail,
             alert, message ? message : "");
  g_print("# hostile: DTLS failed: %s\n", h->dtls_fail_msg);
  atomic_store(&h->dtls_state, -1);
}

static void dtls_on_closed(void *ud) { atomic_store(&((hostile *)ud)->dtls_state, -1); }

static void start_dtls(hostile *h) {
  if (h->dtls || !h->o.run_dtls || !h->remote_fp)
    return;
  weft__dtls_callbacks cb = {dtls_on_connected, dtls_on_data, dtls_on_failed, dtls_on_closed, h};
  weft__dgram_sink out = {dtls_out, h};
  h->dtls = weft__dtls_new(h->ctx, h->cert, h->role, out, &cb);
  g_assert_nonnull(h->dtls);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(h->dtls, h->remote_fp_alg, h->remote_fp), ==,
                  0);
  g_assert_cmpint(weft__dtls_start(h->dtls), ==, 0);
}

/* ---- Hostile peer: ICE ----------------------------------------------------------------- */

static void ice_on_candidate(void *ud, const char *cand) {
  hostile *h = ud;
  g_mutex_lock(&h->lock);
  g_ptr_array_add(h->cands, g_strdup(cand));
  g_mutex_unlock(&h->lock);
}

static void ice_on_gathering_done(void *ud) { atomic_store(&((hostile *)ud)->gathered, 1); }

static void ice_on_state(void *ud, weft_ice_connection_state st) {
  hostile *h = ud;
  atomic_store(&h->ice_state, (int)st);
  if (st == WEFT_ICE_CONNECTED && h->role == WEFT__DTLS_CLIENT)
    start_dtls(h);
}

static void ice_on_recv(void *ud, const uint8_t *data, size_t len) {
  hostile *h = ud;
  atomic_fetch_add(&h->rx_dgrams, 1);
  switch (weft__demux_classify(data, len)) {
  case WEFT__DEMUX_DTLS:
    atomic_fetch_add(&h->rx_dtls_dgrams, 1);
    if (!h->o.run_dtls) {
      g_mutex_lock(&h->lock);
      if (h->raw_dtls->len < 256)
        g_ptr_array_add(h->raw_dtls, g_bytes_new(data, len));
      g_mutex_unlock(&h->lock);
    } else if (h->dtls) {
      weft__dtls_input(h->dtls, data, len);
    }
    break;
  case WEFT__DEMUX_RTP: {
    if (!h->srtp || len > sizeof h->rtpbuf - 256)
      break;
    bool rtcp = weft__demux_is_rtcp(data, len);
    memcpy(h->rtpbuf, data, len);
    size_t out = 0;
    weft__srtp_fail f;
    int rc = rtcp ? weft__srtp_unprotect_rtcp(h->srtp, h->rtpbuf, len, &out, &f)
                  : weft__srtp_unprotect_rtp(h->srtp, h->rtpbuf, len, &out, &f);
    if (rc < 0) {
      atomic_fetch_add(&h->rx_srtp_fail, 1);
      break;
    }
    atomic_fetch_add(rtcp ? &h->rx_rtcp : &h->rx_rtp, 1);
    if (h->on_rtp)
      h->on_rtp(h, rtcp, h->rtpbuf, out);
    break;
  }
  default:
    break;
  }
}

/* ---- Hostile peer: lifetime ------------------------------------------------------------- */

static void setup_on_thread(hostile *h, void *data) {
  (void)data;
  h->cert = weft__dtls_cert_new();
  g_assert_nonnull(h->cert);
  weft__ice_config ic = {.enable_loopback = true};
  weft__ice_callbacks cb = {ice_on_candidate, ice_on_gathering_done, ice_on_state, ice_on_recv, h};
  h->ice = weft__ice_new(h->ctx, &ic, true, &cb);
  g_assert_nonnull(h->ice);
  g_assert_cmpint(weft__ice_gather(h->ice), ==, 0);
}

hostile *hostile_new(const hostile_opts *o) {
  hostile_opts def = HOSTILE_OPTS_INIT;
  hostile *h = g_new0(hostile, 1);
  h->o = o ? *o : def;
  if (!h->o.run_dtls)
    h->o.run_sctp = false;
  g_mutex_init(&h->lock);
  h->cands = g_ptr_array_new_with_free_func(g_free);
  h->raw_dtls = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  h->ssrc = weft__random_u32() | 1;
  h->mid_ext_id = 4;
  atomic_store(&h->ice_state, -1);
  h->ctx = g_main_context_new();
  h->loop = g_main_loop_new(h->ctx, FALSE);
  h->thread = g_thread_new("hostile", hostile_main, h);
  hostile_call(h, setup_on_thread, NULL);
  return h;
}

static gboolean quit_idle(gpointer p) {
  g_main_loop_quit(p);
  return G_SOURCE_REMOVE;
}

static void teardown_on_thread(hostile *h, void *data) {
  (void)data;
  weft__sctp_free(h->sctp);
  h->sctp = NULL;
  if (h->dtls)
    weft__dtls_close(h->dtls);
  weft__dtls_free(h->dtls);
  h->dtls = NULL;
  weft__srtp_free(h->srtp);
  h->srtp = NULL;
  weft__ice_free(h->ice);
  h->ice = NULL;
  int64_t end = hv_now_us() + 2000000;
  while (weft__ice_pending_closes(h->ctx) > 0 && hv_now_us() < end)
    g_main_context_iteration(h->ctx, FALSE);
  weft__dtls_cert_unref(h->cert);
  h->cert = NULL;
}

void hostile_free(hostile *h) {
  if (!h)
    return;
  hostile_call(h, teardown_on_thread, NULL);
  GSource *s = g_idle_source_new();
  g_source_set_callback(s, quit_idle, h->loop, NULL);
  g_source_attach(s, h->ctx);
  g_source_unref(s);
  g_thread_join(h->thread);
  /* Sources still attached (timers of freed objects are removed by them). */
  while (g_main_context_iteration(h->ctx, FALSE))
    ;
  g_main_loop_unref(h->loop);
  g_main_context_unref(h->ctx);
  g_ptr_array_unref(h->cands);
  g_ptr_array_unref(h->raw_dtls);
  g_free(h->remote_fp_alg);
  g_free(h->remote_fp);
  g_mutex_clear(&h->lock);
  g_free(h);
}

/* ---- Offer / answer ------------------------------------------------------------------------ */

typedef struct offer_job {
  char *sdp;
} offer_job;

static void offer_on_thread(hostile *h, void *data) {
  offer_job *j = data;
  const char *fp = weft__dtls_cert_fingerprint(h->cert);
  weft__jsep_local l = {0};
  l.session_id = weft__random_u32();
  l.session_version = 1;
  l.ice_ufrag = weft__ice_local_ufrag(h->ice);
  l.ice_pwd = weft__ice_local_pwd(h->ice);
  l.fingerprint = fp;
  l.setup = h->o.weft_is_server ? WEFT__SETUP_ACTIVE : WEFT__SETUP_ACTPASS;
  l.sctp_port = 5000;
  l.max_message_size = h->o.max_message_size;
  l.include_data = h->o.data;
  l.data_mid = "d";
  weft__jsep_msection secs[2];
  size_t n = 0;
  weft__media_desc *md = NULL;
  if (h->o.video) {
    weft__media_local ml = {0};
    ml.kind = WEFT__KIND_VIDEO;
    ml.mid = "v";
    ml.direction = WEFT__DIR_SENDRECV;
    ml.mid_ext_id = h->mid_ext_id;
    ml.ssrc = h->ssrc;
    ml.cname = "hostile";
    ml.msid_stream = "hostile-stream";
    ml.msid_track = "hostile-track";
    g_assert_cmpint(weft__media_offer(&ml, &md), ==, 0);
    g_assert_cmpuint(md->codecs->len, >, 0);
    h->video_pt = ((weft__rtp_codec *)md->codecs->pdata[0])->pt;
    secs[n].is_data = false;
    secs[n++].media = md;
    if (h->o.data) {
      secs[n].is_data = true;
      secs[n++].media = NULL;
    }
    l.sections = secs;
    l.n_sections = n;
  }
  char *offer = weft__jsep_create_offer(&l);
  g_assert_nonnull(offer);
  weft__media_desc_free(md);
  g_mutex_lock(&h->lock);
  j->sdp = weft__jsep_add_candidates(offer, NULL, (const char *const *)h->cands->pdata,
                                     h->cands->len, true);
  g_mutex_unlock(&h->lock);
  g_assert_nonnull(j->sdp);
  g_free(offer);
}

char *hostile_offer(hostile *h) {
  g_assert_true(hv_wait_int_ge(&h->gathered, 1, 10000));
  offer_job j = {NULL};
  hostile_call(h, offer_on_thread, &j);
  return j.sdp;
}

typedef struct answer_job {
  weft__jsep_desc *d;
} answer_job;

static void answer_on_thread(hostile *h, void *data) {
  answer_job *j = data;
  const weft__jsep_section *t = weft__jsep_transport_section(j->d);
  g_assert_nonnull(t);
  g_assert_cmpint(weft__ice_set_remote_credentials(h->ice, t->ice_ufrag, t->ice_pwd), ==, 0);
  for (guint i = 0; i < t->candidates->len; i++)
    g_assert_cmpint(weft__ice_add_remote_candidate(h->ice, t->candidates->pdata[i]), >=, 0);
  g_assert_cmpint(weft__ice_remote_gathering_done(h->ice), ==, 0);
  h->remote_fp_alg = g_strdup(t->fingerprint_alg);
  h->remote_fp = g_strdup(t->fingerprint);
  /* RFC 8842: the answerer's active makes us the server. */
  h->role = t->setup == WEFT__SETUP_PASSIVE ? WEFT__DTLS_CLIENT : WEFT__DTLS_SERVER;
  g_assert_true(h->o.weft_is_server == (h->role == WEFT__DTLS_CLIENT));
  const weft__jsep_section *ds = weft__jsep_data_section(j->d);
  h->remote_mms = ds && ds->has_max_message_size ? ds->max_message_size : 65536;
  for (guint i = 0; i < j->d->sections->len; i++) {
    const weft__jsep_section *s = j->d->sections->pdata[i];
    if (s->kind != WEFT__KIND_VIDEO || s->rejected)
      continue;
    weft__media_desc *md = NULL;
    g_assert_cmpint(weft__media_parse(j->d->sdp->media->pdata[s->index], &md), ==, 0);
    if (md->ssrcs->len)
      h->peer_ssrc = ((weft__rtp_ssrc *)md->ssrcs->pdata[0])->ssrc;
    weft__media_desc_free(md);
  }
  if (h->role == WEFT__DTLS_SERVER || atomic_load(&h->ice_state) == WEFT_ICE_CONNECTED)
    start_dtls(h);
}

void hostile_set_answer(hostile *h, const char *sdp) {
  answer_job j = {NULL};
  int rc = weft__jsep_parse(sdp, WEFT_SDP_ANSWER, &j.d);
  if (rc < 0)
    g_printerr("answer: %s\n%s\n", weft_last_error_message(), sdp);
  g_assert_cmpint(rc, ==, 0);
  hostile_call(h, answer_on_thread, &j);
  weft__jsep_desc_free(j.d);
}

/* ---- Sending ------------------------------------------------------------------------------ */

int hostile_raw_send(hostile *h, const uint8_t *data, size_t len) {
  return weft__ice_send(h->ice, data, len);
}

int hostile_dtls_send(hostile *h, const uint8_t *data, size_t len) {
  return h->dtls ? weft__dtls_send(h->dtls, data, len) : WEFT_ERR_INVALID_STATE;
}

int hostile_send_rtp(hostile *h, const weft__rtp_build *b) {
  uint8_t buf[1500 + WEFT__SRTP_RTP_HEADROOM];
  int n = weft__rtp_write(b, buf, 1500);
  if (n < 0)
    return n;
  size_t out = 0;
  int rc = weft__srtp_protect_rtp(h->srtp, buf, (size_t)n, sizeof buf, &out);
  if (rc < 0)
    return rc;
  return weft__ice_send(h->ice, buf, out);
}

int hostile_send_rtcp(hostile *h, const uint8_t *pkt, size_t len) {
  uint8_t buf[1500 + WEFT__SRTP_RTCP_HEADROOM];
  if (len > 1500)
    return WEFT_ERR_TOO_BIG;
  memcpy(buf, pkt, len);
  size_t out = 0;
  int rc = weft__srtp_protect_rtcp(h->srtp, buf, len, sizeof buf, &out);
  if (rc < 0)
    return rc;
  return weft__ice_send(h->ice, buf, out);
}

typedef struct capture {
  GBytes *first;
} capture;

static int capture_send(void *ctx, const uint8_t *data, size_t len) {
  capture *c = ctx;
  if (!c->first)
    c->first = g_bytes_new(data, len);
  return 0;
}

static void nop_connected(void *ud, const weft__srtp_keys *k) {
  (void)ud;
  (void)k;
}
static void nop_data(void *ud, const uint8_t *d, size_t n) {
  (void)ud;
  (void)d;
  (void)n;
}
static void nop_failed(void *ud, weft_error_detail d, int a, const char *m) {
  (void)ud;
  (void)d;
  (void)a;
  (void)m;
}
static void nop_closed(void *ud) { (void)ud; }

typedef struct ch_job {
  uint8_t *buf;
  size_t len;
} ch_job;

static void client_hello_on_thread(hostile *h, void *data) {
  ch_job *j = data;
  capture c = {NULL};
  weft__dtls_callbacks cb = {nop_connected, nop_data, nop_failed, nop_closed, NULL};
  weft__dgram_sink out = {capture_send, &c};
  weft__dtls *d = weft__dtls_new(h->ctx, h->cert, WEFT__DTLS_CLIENT, out, &cb);
  g_assert_nonnull(d);
  const char *fp = weft__dtls_cert_fingerprint(h->cert); /* "sha-256 AB:..." */
  const char *sp = strchr(fp, ' ');
  char *alg = g_strndup(fp, (gsize)(sp - fp));
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, alg, sp + 1), ==, 0);
  g_free(alg);
  g_assert_cmpint(weft__dtls_start(d), ==, 0);
  weft__dtls_free(d);
  g_assert_nonnull(c.first);
  gsize n;
  const uint8_t *p = g_bytes_get_data(c.first, &n);
  j->buf = g_memdup2(p, n);
  j->len = n;
  g_bytes_unref(c.first);
}

uint8_t *hostile_make_client_hello(hostile *h, size_t *len) {
  ch_job j = {NULL, 0};
  hostile_call(h, client_hello_on_thread, &j);
  *len = j.len;
  return j.buf;
}

GPtrArray *hostile_raw_dtls(hostile *h) {
  GPtrArray *a = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
  g_mutex_lock(&h->lock);
  for (guint i = 0; i < h->raw_dtls->len; i++)
    g_ptr_array_add(a, g_bytes_ref(h->raw_dtls->pdata[i]));
  g_mutex_unlock(&h->lock);
  return a;
}

/* ---- The victim --------------------------------------------------------------------------- */

static void v_dc_open(weft_dc *dc, void *ud) {
  (void)dc;
  atomic_fetch_add(&((victim *)ud)->n_open, 1);
}
static void v_dc_closing(weft_dc *dc, void *ud) {
  (void)dc;
  atomic_fetch_add(&((victim *)ud)->n_closing, 1);
}
static void v_dc_close(weft_dc *dc, void *ud) {
  (void)dc;
  atomic_fetch_add(&((victim *)ud)->n_close, 1);
}
static void v_dc_error(weft_dc *dc, const weft_error_info *e, void *ud) {
  (void)dc;
  victim *v = ud;
  atomic_fetch_add(&v->n_dc_errors, 1);
  if (e->code == WEFT_ERR_TOO_BIG)
    atomic_fetch_add(&v->n_dc_too_big, 1);
}
static void v_dc_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size, void *ud) {
  victim *v = ud;
  atomic_fetch_add(&v->n_msgs, 1);
  atomic_fetch_add(&v->msg_bytes, (long long)size);
  if (type == WEFT_MSG_TEXT &&
      (((const char *)data)[size] != '\0' || !g_utf8_validate(data, (gssize)size, NULL)))
    atomic_fetch_add(&v->n_bad_text, 1);
  if (atomic_load(&v->echo))
    (void)(type == WEFT_MSG_TEXT ? weft_dc_send_text(dc, data, size)
                                 : weft_dc_send(dc, data, size));
  victim_msg_fn hook = atomic_load(&v->on_msg);
  if (hook)
    hook(v, dc, type, data, size);
}

static void v_on_dc(weft_pc *pc, weft_dc *dc, void *ud) {
  (void)pc;
  victim *v = ud;
  atomic_fetch_add(&v->n_dcs, 1);
  weft_dc_set_user_data(dc, v, NULL);
  weft_dc_set_on_open(dc, v_dc_open);
  weft_dc_set_on_closing(dc, v_dc_closing);
  weft_dc_set_on_close(dc, v_dc_close);
  weft_dc_set_on_error(dc, v_dc_error);
  weft_dc_set_on_message(dc, v_dc_message);
  if (atomic_load(&v->keep_dcs)) {
    g_mutex_lock(&v->lock);
    g_ptr_array_add(v->dcs, weft_dc_ref(dc));
    g_mutex_unlock(&v->lock);
  }
}

static void v_on_kf(weft_track *t, void *ud) {
  (void)t;
  atomic_fetch_add(&((victim *)ud)->n_keyframe_requests, 1);
}

static void v_on_track(weft_pc *pc, weft_track *t, void *ud) {
  (void)pc;
  victim *v = ud;
  weft_track_set_user_data(t, v, NULL);
  weft_track_set_on_keyframe_request(t, v_on_kf);
  g_mutex_lock(&v->lock);
  g_ptr_array_add(v->tracks, weft_track_ref(t));
  g_mutex_unlock(&v->lock);
  atomic_fetch_add(&v->n_tracks, 1);
}

static void v_on_conn(weft_pc *pc, weft_pc_state st, void *ud) {
  (void)pc;
  atomic_store(&((victim *)ud)->conn_state, (int)st);
}
static void v_on_ice(weft_pc *pc, weft_ice_connection_state st, void *ud) {
  (void)pc;
  atomic_store(&((victim *)ud)->ice_state, (int)st);
}
static void v_on_gather(weft_pc *pc, weft_ice_gathering_state st, void *ud) {
  (void)pc;
  if (st == WEFT_GATHERING_COMPLETE)
    atomic_store(&((victim *)ud)->gathered, 1);
}
static void v_on_error(weft_pc *pc, const weft_error_info *e, void *ud) {
  (void)pc;
  victim *v = ud;
  atomic_fetch_add(&v->n_pc_errors, 1);
  atomic_store(&v->last_pc_error_code, e->code);
  atomic_store(&v->last_pc_error_detail, (int)e->detail);
  if (e->detail == WEFT_DETAIL_DTLS_FAILURE)
    atomic_fetch_add(&v->n_pc_dtls_errors, 1);
}

victim *victim_new(weft_context *ctx, const weft_config *cfg, bool with_on_error) {
  victim *v = g_new0(victim, 1);
  v->ctx = weft_context_ref(ctx);
  g_mutex_init(&v->lock);
  v->tracks = g_ptr_array_new_with_free_func((GDestroyNotify)weft_track_unref);
  v->dcs = g_ptr_array_new_with_free_func((GDestroyNotify)weft_dc_unref);
  atomic_store(&v->conn_state, -1);
  atomic_store(&v->ice_state, -1);
  weft_config *c = cfg ? weft_config_copy(cfg) : weft_config_new();
  weft_config_set_enable_loopback(c, 1);
  v->pc = weft_pc_new(ctx, c);
  weft_config_free(c);
  g_assert_nonnull(v->pc);
  weft_pc_set_user_data(v->pc, v, NULL);
  weft_pc_set_on_connection_state_change(v->pc, v_on_conn);
  weft_pc_set_on_ice_connection_state_change(v->pc, v_on_ice);
  weft_pc_set_on_ice_gathering_state_change(v->pc, v_on_gather);
  weft_pc_set_on_data_channel(v->pc, v_on_dc);
  weft_pc_set_on_track(v->pc, v_on_track);
  if (with_on_error)
    victim_set_on_error(v);
  return v;
}

void victim_set_on_error(victim *v) { weft_pc_set_on_error(v->pc, v_on_error); }

void victim_free(victim *v) {
  if (!v)
    return;
  weft_pc_close(v->pc);
  g_ptr_array_unref(v->tracks);
  g_ptr_array_unref(v->dcs);
  weft_pc_unref(v->pc);
  weft_context_unref(v->ctx);
  g_mutex_clear(&v->lock);
  g_free(v);
}

static bool both_ice_up(void *arg) {
  void **a = arg;
  hostile *h = a[0];
  victim *v = a[1];
  int vs = weft_pc_get_ice_connection_state(v->pc);
  return atomic_load(&h->ice_state) == WEFT_ICE_CONNECTED &&
         (vs == WEFT_ICE_CONNECTED || vs == WEFT_ICE_COMPLETED);
}

void hv_connect(hostile *h, victim *v) {
  char *offer = hostile_offer(h);
  int rc = weft_pc_set_remote_description(v->pc, WEFT_SDP_OFFER, offer);
  if (rc != WEFT_OK)
    g_printerr("victim refused the offer: %s\n%s\n", weft_last_error_message(), offer);
  g_assert_cmpint(rc, ==, WEFT_OK);
  g_free(offer);
  g_assert_cmpint(weft_pc_set_local_description(v->pc, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  g_assert_true(hv_wait_int_ge(&v->gathered, 1, 10000));
  char *answer = NULL;
  g_assert_cmpint(weft_pc_get_description(v->pc, WEFT_DESC_LOCAL, NULL, &answer), ==, WEFT_OK);
  hostile_set_answer(h, answer);
  weft_free(answer);
  void *a[2] = {h, v};
  g_assert_true(hv_wait(both_ice_up, a, 10000));
  if (h->o.run_dtls) {
    g_assert_true(hv_wait_int_ge(&h->dtls_state, 1, 10000));
    g_assert_true(hv_wait_int_ge(&v->conn_state, WEFT_PC_CONNECTED, 10000));
    g_assert_cmpint(atomic_load(&v->conn_state), ==, WEFT_PC_CONNECTED);
  }
  if (h->o.run_sctp)
    g_assert_true(hv_wait_int_ge(&h->sctp_up, 1, 10000));
}

/* ---- The bystander echo pair ---------------------------------------------------------------- */

enum { ECHO_CAP = 1 << 16, ECHO_MSG = 100, ECHO_PERIOD_US = 10000 };

struct echo_pair {
  weft_context *ctx;
  weft_pc *a, *b;
  weft_dc *da;
  GThread *th;
  atomic_int stop;
  atomic_int next_seq;
  int win_start;
  _Atomic int64_t *sent_us, *rtt_us;
  atomic_int send_failed;
};

static void echo_b_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size,
                           void *ud) {
  (void)type;
  (void)ud;
  weft_dc_send(dc, data, size);
}

static void echo_b_dc(weft_pc *pc, weft_dc *dc, void *ud) {
  (void)pc;
  (void)ud;
  weft_dc_set_on_message(dc, echo_b_message);
}

static void echo_a_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size,
                           void *ud) {
  (void)dc;
  (void)type;
  echo_pair *e = ud;
  if (size != ECHO_MSG)
    return;
  uint32_t seq = weft__rd32(data);
  if (seq >= ECHO_CAP)
    return;
  int64_t sent = atomic_load(&e->sent_us[seq]);
  if (sent > 0 && atomic_load(&e->rtt_us[seq]) < 0)
    atomic_store(&e->rtt_us[seq], hv_now_us() - sent);
}

static gpointer echo_prober(gpointer p) {
  echo_pair *e = p;
  uint8_t msg[ECHO_MSG];
  memset(msg, 0x5a, sizeof msg);
  int64_t next = hv_now_us();
  while (!atomic_load(&e->stop)) {
    int seq = atomic_load(&e->next_seq);
    if (seq >= ECHO_CAP)
      break;
    weft__wr32(msg, (uint32_t)seq);
    atomic_store(&e->sent_us[seq], hv_now_us());
    atomic_store(&e->next_seq, seq + 1);
    if (weft_dc_send(e->da, msg, sizeof msg) < 0)
      atomic_fetch_add(&e->send_failed, 1);
    next += ECHO_PERIOD_US;
    int64_t now = hv_now_us();
    if (next > now)
      g_usleep((gulong)(next - now));
    else
      next = now;
  }
  return NULL;
}

static bool gathered2(void *arg) {
  weft_pc *pc = arg;
  return weft_pc_get_ice_gathering_state(pc) == WEFT_GATHERING_COMPLETE;
}

static bool echo_open(void *arg) {
  echo_pair *e = arg;
  return weft_dc_get_ready_state(e->da) == WEFT_DC_OPEN;
}

static weft_pc *echo_pc(weft_context *ctx) {
  weft_config *c = weft_config_new();
  weft_config_set_enable_loopback(c, 1);
  weft_pc *pc = weft_pc_new(ctx, c);
  weft_config_free(c);
  g_assert_nonnull(pc);
  return pc;
}

echo_pair *echo_start(weft_context *ctx) {
  echo_pair *e = g_new0(echo_pair, 1);
  e->ctx = weft_context_ref(ctx);
  e->sent_us = g_new0(_Atomic int64_t, ECHO_CAP);
  e->rtt_us = g_new0(_Atomic int64_t, ECHO_CAP);
  for (int i = 0; i < ECHO_CAP; i++)
    atomic_store(&e->rtt_us[i], -1);
  e->a = echo_pc(ctx);
  e->b = echo_pc(ctx);
  weft_pc_set_on_data_channel(e->b, echo_b_dc);
  e->da = weft_pc_create_data_channel(e->a, "echo", NULL);
  g_assert_nonnull(e->da);
  weft_dc_set_user_data(e->da, e, NULL);
  weft_dc_set_on_message(e->da, echo_a_message);
  char *offer = NULL, *answer = NULL;
  g_assert_cmpint(weft_pc_set_local_description(e->a, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  g_assert_true(hv_wait(gathered2, e->a, 10000));
  g_assert_cmpint(weft_pc_get_description(e->a, WEFT_DESC_LOCAL, NULL, &offer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_remote_description(e->b, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_local_description(e->b, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  g_assert_true(hv_wait(gathered2, e->b, 10000));
  g_assert_cmpint(weft_pc_get_description(e->b, WEFT_DESC_LOCAL, NULL, &answer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_remote_description(e->a, WEFT_SDP_ANSWER, answer), ==, WEFT_OK);
  weft_free(offer);
  weft_free(answer);
  g_assert_true(hv_wait(echo_open, e, 15000));
  e->th = g_thread_new("echo-prober", echo_prober, e);
  /* Warm up: the first answers come back before any attack starts. */
  echo_window_begin(e);
  g_usleep(200000);
  echo_result r = echo_window_end(e, "warm-up");
  g_assert_cmpint(r.answered, >, 0);
  return e;
}

void echo_window_begin(echo_pair *e) { e->win_start = atomic_load(&e->next_seq); }

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

echo_result echo_window_end(echo_pair *e, const char *what) {
  int end = atomic_load(&e->next_seq);
#if defined(__SANITIZE_THREAD__)
  int64_t deadline = hv_now_us() + 5 * G_USEC_PER_SEC; /* see hv_assert_echo */
#else
  int64_t deadline = hv_now_us() + 500000;
#endif
  for (;;) {
    int pending = 0;
    for (int i = e->win_start; i < end; i++)
      pending += atomic_load(&e->rtt_us[i]) < 0;
    if (!pending || hv_now_us() > deadline)
      break;
    g_usleep(5000);
  }
  echo_result r = {0};
  int n = end - e->win_start;
  int64_t *v = g_new0(int64_t, n > 0 ? n : 1);
  for (int i = 0; i < n; i++) {
    int64_t rtt = atomic_load(&e->rtt_us[e->win_start + i]);
    v[i] = rtt < 0 ? INT64_MAX / 2 : rtt;
    r.answered += rtt >= 0;
  }
  r.sent = n;
  qsort(v, (size_t)n, sizeof *v, cmp_i64);
  if (n > 0) {
    int i99 = (n * 99 + 99) / 100 - 1;
    r.p50_ms = (double)v[n / 2] / 1000.0;
    r.p99_ms = (double)v[i99] / 1000.0;
    r.max_ms = (double)v[n - 1] / 1000.0;
  }
  g_free(v);
  g_print("# %s: bystander echo %d/%d answered, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", what,
          r.answered, r.sent, r.p50_ms, r.p99_ms, r.max_ms);
  return r;
}

void echo_stop(echo_pair *e) {
  if (!e)
    return;
  atomic_store(&e->stop, 1);
  g_thread_join(e->th);
  weft_pc_close(e->a);
  weft_pc_close(e->b);
  weft_dc_unref(e->da);
  weft_pc_unref(e->a);
  weft_pc_unref(e->b);
  weft_context_unref(e->ctx);
  g_free(e->sent_us);
  g_free(e->rtt_us);
  g_free(e);
}

/* ---- QUEUED-mode dispatcher ------------------------------------------------------------------ */

struct dispatcher {
  weft_context *ctx;
  GThread *th;
  atomic_int stop;
};

static gpointer dispatcher_main(gpointer p) {
  dispatcher *d = p;
  while (!atomic_load(&d->stop)) {
    if (weft_context_wait(d->ctx, 5) > 0)
      weft_context_dispatch(d->ctx, 0);
  }
  return NULL;
}

dispatcher *dispatcher_start(weft_context *ctx) {
  dispatcher *d = g_new0(dispatcher, 1);
  d->ctx = weft_context_ref(ctx);
  d->th = g_thread_new("app-dispatch", dispatcher_main, d);
  return d;
}

void dispatcher_stop(dispatcher *d) {
  if (!d)
    return;
  atomic_store(&d->stop, 1);
  g_thread_join(d->th);
  weft_context_dispatch(d->ctx, 0);
  weft_context_unref(d->ctx);
  g_free(d);
}

/* ---- The frame --------------------------------------------------------------------------------
 */

void hv_frame_up_ctx(hv_frame *f, const weft_context_options *ctx_opts, const hostile_opts *ho,
                     const weft_config *cfg, bool with_on_error) {
  memset(f, 0, sizeof *f);
  f->ctx = weft_context_new(ctx_opts);
  g_assert_nonnull(f->ctx);
  if (ctx_opts && ctx_opts->mode == WEFT_CONTEXT_QUEUED)
    f->disp = dispatcher_start(f->ctx);
  f->echo = echo_start(f->ctx);
  f->h = hostile_new(ho);
  f->v = victim_new(f->ctx, cfg, with_on_error);
  hv_connect(f->h, f->v);
}

void hv_frame_up(hv_frame *f, const hostile_opts *ho, const weft_config *cfg, bool with_on_error) {
  hv_frame_up_ctx(f, NULL, ho, cfg, with_on_error);
}

void hv_attack_begin(hv_frame *f) {
  f->rss = hv_rss_begin();
  f->t_begin = hv_now_us();
  echo_window_begin(f->echo);
}

void hv_attack_end(hv_frame *f, const char *what, long rss_bound_kb) {
  /* At least a second of round trips, so p99 is not just the maximum of a
   * handful. */
  int64_t left = f->t_begin + G_USEC_PER_SEC - hv_now_us();
  if (left > 0)
    g_usleep((gulong)left);
  long grown = hv_rss_end(f->rss);
  f->rss = NULL;
  echo_result r = echo_window_end(f->echo, what);
  hv_assert_rss(what, grown, rss_bound_kb);
  hv_assert_echo(&r);
}

void hv_frame_down(hv_frame *f) {
  if (f->rss)
    hv_rss_end(f->rss);
  hostile_free(f->h);
  victim_free(f->v);
  echo_stop(f->echo);
  dispatcher_stop(f->disp);
  weft_context_unref(f->ctx);
  int64_t end = hv_now_us() + 5000000;
  while (weft_debug_live_objects() > 0 && hv_now_us() < end)
    g_usleep(10000);
  g_assert_cmpint(weft_debug_live_objects(), ==, 0);
}
