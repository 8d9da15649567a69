/*
 * Hostile RTCP and SRTP against a real weft_pc with a negotiated VP8
 * section, protected with the keys of the hostile peer's own DTLS
 * association (so every packet authenticates). The victim sends 30 fps of
 * video throughout (a NACK history to answer from).
 *
 *   pli_fir_flood  1000 PLIs and 500 FIRs with one sequence number in 2 s:
 *                  on_keyframe_request at most once per 200 ms
 *                  (WEFT__KEYFRAME_MIN_INTERVAL_US, doc/media.md).
 *   nack_flood     200 NACKs in 2 s, each naming the last 1020 packets sent:
 *                  retransmissions stay within the per-window budget
 *                  (WEFT__RTX_BUDGET_FLOOR + packets sent, windows of at
 *                  least 50 ms), at most 256 numbers looked at per packet.
 *   ssrc_flood     10,000 SRTP packets with random SSRCs (half with the
 *                  section's mid) and 1000 SRTCP packets from random SSRCs:
 *                  libsrtp keeps at most the announced SSRC + 16 learnt + 16
 *                  RTCP-only streams; the video keeps flowing.
 */
#include <string.h>

#include "hostile_peer.h"

typedef struct media {
  hv_frame f;
  weft_track *vt; /* the victim's track */
  GThread *sender;
  atomic_int stop;
  atomic_int frames;
  atomic_int last_seq; /* of the victim's video, as the hostile saw it */
  atomic_llong rx_video;
} media;

static void on_rtp(hostile *h, bool rtcp, const uint8_t *pkt, size_t len) {
  media *m = h->user;
  if (rtcp || len < 12)
    return;
  if (weft__rd32(pkt + 8) != h->peer_ssrc)
    return;
  atomic_store(&m->last_seq, weft__rd16(pkt + 2));
  atomic_fetch_add(&m->rx_video, 1);
}

static gpointer video_sender(gpointer p) {
  media *m = p;
  uint8_t *f = g_malloc(5000);
  uint32_t idx = 0;
  while (!atomic_load(&m->stop)) {
    size_t n = 1500 + (idx * 7919) % 3000;
    f[0] = idx % 30 == 0 ? 0x10 : 0x11;
    for (size_t i = 1; i < n; i++)
      f[i] = (uint8_t)(i * 31 + idx);
    weft_frame_info info = WEFT_FRAME_INFO_INIT;
    info.has_rtp_timestamp = 1;
    info.rtp_timestamp = 1000 + idx * 3000;
    if (weft_track_send_frame(m->vt, f, n, &info) == WEFT_OK)
      atomic_fetch_add(&m->frames, 1);
    idx++;
    g_usleep(33000);
  }
  g_free(f);
  return NULL;
}

static void set_hook(hostile *h, void *data) {
  h->user = data;
  h->on_rtp = on_rtp;
}

static void clear_hook(hostile *h, void *data) {
  (void)data;
  h->on_rtp = NULL;
  h->user = NULL;
}

static void media_up(media *m) {
  memset(m, 0, sizeof *m);
  hostile_opts o = HOSTILE_OPTS_INIT;
  o.video = true;
  o.data = false;
  o.run_sctp = false;
  hv_frame_up(&m->f, &o, NULL, true);
  g_assert_true(hv_wait_int_ge(&m->f.v->n_tracks, 1, 5000));
  g_assert_true(hv_wait_int_ge(&m->f.h->srtp_ready, 1, 5000));
  g_assert_cmpuint(m->f.h->peer_ssrc, !=, 0);
  g_mutex_lock(&m->f.v->lock);
  m->vt = weft_track_ref(m->f.v->tracks->pdata[0]);
  g_mutex_unlock(&m->f.v->lock);
  hostile_call(m->f.h, set_hook, m);
  m->sender = g_thread_new("video", video_sender, m);
  /* Video flows before the attack. */
  int64_t end = hv_now_us() + 5 * G_USEC_PER_SEC;
  while (atomic_load(&m->rx_video) < 20 && hv_now_us() < end)
    g_usleep(10000);
  g_assert_cmpint(atomic_load(&m->rx_video), >=, 20);
}

static void media_down(media *m) {
  atomic_store(&m->stop, 1);
  g_thread_join(m->sender);
  hostile_call(m->f.h, clear_hook, NULL);
  weft_track_unref(m->vt);
  hv_frame_down(&m->f);
}

typedef struct track_count {
  weft_track *t;
  uint64_t rtx_dropped, kf_throttled;
} track_count;

static void read_counters(track_count *c) {
  c->rtx_dropped = atomic_load(&c->t->n.rtx_dropped);
  c->kf_throttled = atomic_load(&c->t->n.keyframe_requests_throttled);
}

/* ---- Paced floods on the hostile thread --------------------------------------------- */

typedef struct flood {
  media *m;
  int kind; /* 0 PLI+FIR, 1 NACK, 2 SSRC */
  int total, sent, errors;
  GRand *rng;
  GSource *tick;
  atomic_int finished;
} flood;

static void send_one(hostile *h, flood *fl) {
  uint8_t pkt[1500];
  int n = 0;
  if (fl->kind == 0) {
    if (fl->sent % 3 == 2) {
      weft__rtcp_fir_entry e = {h->peer_ssrc, 7};
      n = weft__rtcp_write_fir(h->ssrc, &e, 1, pkt, sizeof pkt);
    } else {
      n = weft__rtcp_write_pli(h->ssrc, h->peer_ssrc, pkt, sizeof pkt);
    }
  } else if (fl->kind == 1) {
    /* The 120 packets sent last (in the history), then 900 more numbers
     * behind them: weft looks at the first 256 of a packet. */
    uint16_t seqs[1020];
    uint16_t last = (uint16_t)atomic_load(&fl->m->last_seq);
    for (int i = 0; i < 120; i++)
      seqs[i] = (uint16_t)(last - 119 + i);
    for (int i = 120; i < 1020; i++)
      seqs[i] = (uint16_t)(last - 1019 + (i - 120));
    n = weft__rtcp_write_nack(h->ssrc, h->peer_ssrc, seqs, G_N_ELEMENTS(seqs), pkt, sizeof pkt);
  } else {
    if (fl->sent % 11 == 10) { /* SRTCP from a random sender */
      n = weft__rtcp_write_rr(g_rand_int(fl->rng), NULL, 0, pkt, sizeof pkt);
    } else {
      uint8_t payload[200];
      for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)g_rand_int(fl->rng);
      payload[0] = 0x10;
      weft__rtp_ext mid = {h->mid_ext_id, (const uint8_t *)"v", 1};
      weft__rtp_build b = {0};
      b.payload_type = h->video_pt;
      b.seq = (uint16_t)g_rand_int(fl->rng);
      b.timestamp = g_rand_int(fl->rng);
      b.ssrc = g_rand_int(fl->rng);
      if (fl->sent % 2) {
        b.exts = &mid;
        b.ext_count = 1;
      }
      b.payload = payload;
      b.payload_len = sizeof payload;
      if (hostile_send_rtp(h, &b) < 0)
        fl->errors++;
      return;
    }
  }
  g_assert_cmpint(n, >, 0);
  if (hostile_send_rtcp(h, pkt, (size_t)n) < 0)
    fl->errors++;
}

static gboolean flood_tick(gpointer p) {
  flood *fl = p;
  hostile *h = fl->m->f.h;
  int per_tick = fl->kind == 2 ? 20 : 1;
  for (int i = 0; i < per_tick && fl->sent < fl->total; i++, fl->sent++)
    send_one(h, fl);
  if (fl->sent >= fl->total) {
    atomic_store(&fl->finished, 1);
    fl->tick = NULL;
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static void flood_start(hostile *h, void *data) {
  flood *fl = data;
  /* 1500 RTCP packets in 2 s (PLI/FIR), 200 NACKs in 2 s, 11,000 packets in
   * about 2 s (SSRC spray). */
  guint period = fl->kind == 0 ? 1 : fl->kind == 1 ? 10 : 4;
  fl->tick = g_timeout_source_new(period);
  g_source_set_callback(fl->tick, flood_tick, fl, NULL);
  g_source_attach(fl->tick, h->ctx);
  g_source_unref(fl->tick);
}

static void flood_run(media *m, flood *fl) {
  fl->m = m;
  fl->rng = g_rand_new_with_seed(77);
  hostile_call(m->f.h, flood_start, fl);
  int64_t end = hv_now_us() + 30 * G_USEC_PER_SEC;
  while (!atomic_load(&fl->finished) && hv_now_us() < end)
    g_usleep(10000);
  g_assert_cmpint(atomic_load(&fl->finished), ==, 1);
  g_rand_free(fl->rng);
}

/* ---- Cases ---------------------------------------------------------------------------- */

static void test_pli_fir_flood(void) {
  media m;
  media_up(&m);
  track_count c0 = {m.vt, 0, 0}, c1 = {m.vt, 0, 0};
  read_counters(&c0);
  int kf0 = atomic_load(&m.f.v->n_keyframe_requests);
  hv_attack_begin(&m.f);
  int64_t t0 = hv_now_us();
  flood fl = {0};
  fl.kind = 0;
  fl.total = 1500;
  flood_run(&m, &fl);
  double secs = (double)(hv_now_us() - t0) / 1e6;
  g_usleep(300000);
  read_counters(&c1);
  int kf = atomic_load(&m.f.v->n_keyframe_requests) - kf0;
  weft_track_stats st = WEFT_TRACK_STATS_INIT;
  weft_track_get_stats(m.vt, &st);
  int bound = (int)(secs / 0.2) + 2;
  g_print("# pli_fir_flood: %d PLI/FIR in %.2f s (%d send errors): %d on_keyframe_request "
          "(bound %d), %" G_GUINT64_FORMAT " throttled, plis_received %" G_GUINT64_FORMAT "\n",
          fl.sent, secs, fl.errors, kf, bound, c1.kf_throttled - c0.kf_throttled, st.plis_received);
  hv_attack_end(&m.f, "pli_fir_flood", HOSTILE_RSS_SLACK_KB * HOSTILE_RSS_FACTOR);
  g_assert_cmpint(fl.errors, ==, 0);
  g_assert_cmpint(kf, >=, 1);
  g_assert_cmpint(kf, <=, bound);
  media_down(&m);
}

static void test_nack_flood(void) {
  media m;
  media_up(&m);
  /* A history of at least 120 packets to answer from. */
  int64_t end = hv_now_us() + 10 * G_USEC_PER_SEC;
  while (atomic_load(&m.rx_video) < 150 && hv_now_us() < end)
    g_usleep(10000);
  weft_track_stats s0 = WEFT_TRACK_STATS_INIT, s1 = WEFT_TRACK_STATS_INIT;
  weft_track_get_stats(m.vt, &s0);
  hv_attack_begin(&m.f);
  int64_t t0 = hv_now_us();
  flood fl = {0};
  fl.kind = 1;
  fl.total = 200;
  flood_run(&m, &fl);
  double secs = (double)(hv_now_us() - t0) / 1e6;
  g_usleep(300000);
  weft_track_get_stats(m.vt, &s1);
  uint64_t rtx = s1.retransmitted - s0.retransmitted;
  uint64_t sent = s1.packets_sent - s0.packets_sent;
  uint64_t windows = (uint64_t)(secs / 0.05) + 3;
  uint64_t bound = windows * WEFT__RTX_BUDGET_FLOOR + 2 * sent;
  g_print("# nack_flood: %d NACKs of 1020 numbers in %.2f s: %" G_GUINT64_FORMAT
          " retransmissions (bound %" G_GUINT64_FORMAT "; %" G_GUINT64_FORMAT
          " packets sent meanwhile, %" G_GUINT64_FORMAT
          " NACKs counted), rtx_dropped %" G_GUINT64_FORMAT "\n",
          fl.sent, secs, rtx, bound, sent, s1.nacks_received - s0.nacks_received,
          (uint64_t)atomic_load(&m.vt->n.rtx_dropped));
  hv_attack_end(&m.f, "nack_flood", HOSTILE_RSS_SLACK_KB * HOSTILE_RSS_FACTOR);
  g_assert_cmpint(fl.errors, ==, 0);
  g_assert_cmpuint(rtx, >, 0);
  g_assert_cmpuint(rtx, <=, bound);
  media_down(&m);
}

typedef struct srtp_count {
  weft_pc *pc;
  size_t streams;
} srtp_count;

static void count_streams(void *p) {
  srtp_count *c = p;
  c->streams = weft__srtp_rx_streams(c->pc->srtp);
}

static void test_ssrc_flood(void) {
  media m;
  media_up(&m);
  hv_attack_begin(&m.f);
  int64_t t0 = hv_now_us();
  flood fl = {0};
  fl.kind = 2;
  fl.total = 11000;
  flood_run(&m, &fl);
  double secs = (double)(hv_now_us() - t0) / 1e6;
  g_usleep(300000);
  srtp_count c = {m.f.v->pc, 0};
  hv_on_engine(m.f.ctx, count_streams, &c);
  long long before = atomic_load(&m.rx_video);
  g_usleep(500000);
  long long after = atomic_load(&m.rx_video);
  g_print("# ssrc_flood: %d packets in %.2f s (%d send errors): victim libsrtp holds %zu inbound "
          "streams; video packets still arriving: %lld in 0.5 s\n",
          fl.sent, secs, fl.errors, c.streams, after - before);
  hv_attack_end(&m.f, "ssrc_flood", HOSTILE_RSS_SLACK_KB * HOSTILE_RSS_FACTOR);
  g_assert_cmpint(fl.errors, ==, 0);
  g_assert_cmpuint(c.streams, <=, 1 + 2 * WEFT__SSRC_LEARNT_PER_OWNER);
  g_assert_cmpint(after - before, >, 10);
  media_down(&m);
}

int main(int argc, char **argv) {
  hv_test_init(&argc, &argv);
  g_test_add_func("/hostile/media/pli_fir_flood", test_pli_fir_flood);
  g_test_add_func("/hostile/media/nack_flood", test_nack_flood);
  g_test_add_func("/hostile/media/ssrc_flood", test_ssrc_flood);
  return g_test_run();
}
