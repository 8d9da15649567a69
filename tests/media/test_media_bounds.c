/*
 * Media-side bounds (issue 12 §2): two weft peers over real UDP on 127.0.0.1
 * (DTLS-SRTP, RTP/RTCP), one of them driven past each bound by packets a
 * remote could send.
 *
 *   nack_flood   one 1.2 KB compound RTCP packet of 16 NACKs naming the last
 *                1020 packets 4 times over (4080 retransmissions before
 *                issue 12): WEFT__RTX_BUDGET_FLOOR answered; twice more at
 *                once: the packets already answered are duplicates; a NACK
 *                of 3 lost packets is still answered, once per round trip
 *   pli_flood    1000 PLIs, then 500 FIRs with one sequence number: at most
 *                one on_keyframe_request per 200 ms; a new FIR still passes
 *   ssrc_spray   10,000 SRTP packets with random SSRCs (half carrying the
 *                track's mid) and 1000 SRTCP packets with random sender
 *                SSRCs: the receiver's libsrtp streams and SSRC table stay
 *                bounded and the real video keeps arriving intact
 *
 * White-box: the attacker side protects and sends raw packets with its own
 * SRTP session (pc->srtp, pc->ice), and the counters are read on the engine.
 */
#include <string.h>

#include <weft/weft.h>

#include "pc/pc.h"

typedef struct side {
  weft_pc *pc;
  GMutex lock;
  GPtrArray *tracks; /* weft_track* (ref) surfaced by on_track */
  GArray *frames;    /* uint32 index of each intact video frame received */
  gint conn_state;
  gint gathered;
  gint keyframe_requests;
  gboolean want_frames;
} side;

static side S[2];
static weft_context *CTX;

/* ---- Frames (VP8-shaped: byte 0 = P bit, bytes 1..4 = index, a pattern) --- */

static uint8_t *make_video(uint32_t idx, bool key, size_t *len) {
  size_t n = key ? 12000 : 1500 + (idx * 7919) % 3000;
  uint8_t *f = g_malloc(n);
  f[0] = key ? 0x10 : 0x11;
  f[1] = (uint8_t)(idx >> 24);
  f[2] = (uint8_t)(idx >> 16);
  f[3] = (uint8_t)(idx >> 8);
  f[4] = (uint8_t)idx;
  for (size_t i = 5; i < n; i++)
    f[i] = (uint8_t)(i * 31 + idx * 17);
  *len = n;
  return f;
}

static void on_frame(weft_track *t, const uint8_t *frame, size_t size, const weft_frame_info *info,
                     void *ud) {
  (void)t;
  (void)info;
  side *s = ud;
  if (size < 5)
    return;
  uint32_t idx = ((uint32_t)frame[1] << 24) | ((uint32_t)frame[2] << 16) |
                 ((uint32_t)frame[3] << 8) | frame[4];
  size_t want;
  uint8_t *ref = make_video(idx, (frame[0] & 1) == 0, &want);
  gboolean ok = want == size && memcmp(ref, frame, size) == 0;
  g_free(ref);
  if (!ok)
    return;
  g_mutex_lock(&s->lock);
  g_array_append_val(s->frames, idx);
  g_mutex_unlock(&s->lock);
}

static gboolean has_frame(side *s, uint32_t idx) {
  gboolean found = FALSE;
  g_mutex_lock(&s->lock);
  for (guint i = 0; i < s->frames->len && !found; i++)
    found = g_array_index(s->frames, uint32_t, i) == idx;
  g_mutex_unlock(&s->lock);
  return found;
}

static void send_video(weft_track *t, uint32_t idx) {
  size_t n;
  uint8_t *f = make_video(idx, idx % 30 == 0, &n);
  weft_frame_info info = WEFT_FRAME_INFO_INIT;
  info.has_rtp_timestamp = 1;
  info.rtp_timestamp = 1000 + idx * 3000;
  g_assert_cmpint(weft_track_send_frame(t, f, n, &info), ==, WEFT_OK);
  g_free(f);
}

/* ---- Callbacks and harness ------------------------------------------------ */

static void on_keyframe_request(weft_track *t, void *ud) {
  (void)t;
  g_atomic_int_inc(&((side *)ud)->keyframe_requests);
}

static void on_track(weft_pc *pc, weft_track *t, void *ud) {
  (void)pc;
  side *s = ud;
  weft_track_set_user_data(t, s, NULL);
  if (s->want_frames)
    weft_track_set_on_frame(t, on_frame);
  g_mutex_lock(&s->lock);
  g_ptr_array_add(s->tracks, weft_track_ref(t));
  g_mutex_unlock(&s->lock);
}

static void on_conn(weft_pc *pc, weft_pc_state st, void *ud) {
  (void)pc;
  g_atomic_int_set(&((side *)ud)->conn_state, (int)st);
}

static void on_gather(weft_pc *pc, weft_ice_gathering_state st, void *ud) {
  (void)pc;
  if (st == WEFT_GATHERING_COMPLETE)
    g_atomic_int_set(&((side *)ud)->gathered, 1);
}

static gboolean wait_int(volatile gint *v, int min, int timeout_ms) {
  gint64 end = g_get_monotonic_time() + timeout_ms * 1000;
  while (g_atomic_int_get(v) < min) {
    if (g_get_monotonic_time() > end)
      return FALSE;
    g_usleep(2000);
  }
  return TRUE;
}

static void sides_new(gboolean want_frames) {
  CTX = weft_context_new(NULL);
  for (int i = 0; i < 2; i++) {
    side *s = &S[i];
    memset(s, 0, sizeof *s);
    g_mutex_init(&s->lock);
    s->want_frames = want_frames;
    s->tracks = g_ptr_array_new_with_free_func((GDestroyNotify)weft_track_unref);
    s->frames = g_array_new(FALSE, FALSE, sizeof(uint32_t));
    weft_config *cfg = weft_config_new();
    weft_config_set_enable_loopback(cfg, 1);
    s->pc = weft_pc_new(CTX, cfg);
    weft_config_free(cfg);
    g_assert_nonnull(s->pc);
    weft_pc_set_user_data(s->pc, s, NULL);
    weft_pc_set_on_track(s->pc, on_track);
    weft_pc_set_on_connection_state_change(s->pc, on_conn);
    weft_pc_set_on_ice_gathering_state_change(s->pc, on_gather);
  }
}

static void sides_free(void) {
  for (int i = 0; i < 2; i++) {
    side *s = &S[i];
    weft_pc_close(s->pc);
    weft_pc_unref(s->pc);
    g_ptr_array_unref(s->tracks);
    g_array_unref(s->frames);
    g_mutex_clear(&s->lock);
  }
  weft_context_unref(CTX);
  gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  while (weft_debug_live_objects() > 0 && g_get_monotonic_time() < end)
    g_usleep(10000);
  g_assert_cmpint(weft_debug_live_objects(), ==, 0);
}

/* Offer from A, answer from B (non-trickle), then both connected; returns
 * B's remote video track. */
static weft_track *connect_video(void) {
  side *a = &S[0], *b = &S[1];
  g_assert_cmpint(weft_pc_set_local_description(a->pc, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  g_assert_true(wait_int(&a->gathered, 1, 5000));
  char *offer = NULL, *answer = NULL;
  g_assert_cmpint(weft_pc_get_description(a->pc, WEFT_DESC_LOCAL, NULL, &offer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_remote_description(b->pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_local_description(b->pc, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  g_assert_true(wait_int(&b->gathered, 1, 5000));
  g_assert_cmpint(weft_pc_get_description(b->pc, WEFT_DESC_LOCAL, NULL, &answer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_remote_description(a->pc, WEFT_SDP_ANSWER, answer), ==, WEFT_OK);
  weft_free(offer);
  weft_free(answer);
  g_assert_true(wait_int(&a->conn_state, WEFT_PC_CONNECTED, 10000));
  g_assert_true(wait_int(&b->conn_state, WEFT_PC_CONNECTED, 10000));
  gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  weft_track *rv = NULL;
  while (!rv && g_get_monotonic_time() < end) {
    g_mutex_lock(&b->lock);
    if (b->tracks->len)
      rv = b->tracks->pdata[0];
    g_mutex_unlock(&b->lock);
    if (!rv)
      g_usleep(5000);
  }
  g_assert_nonnull(rv);
  /* CONNECTED may be seen a moment before the engine took the SRTP keys. */
  weft_track *mine = g_ptr_array_index(a->pc->tracks, 0); /* tracks: engine-only, but stable here */
  while (!atomic_load(&mine->can_send) && g_get_monotonic_time() < end + 3 * G_USEC_PER_SEC)
    g_usleep(2000);
  g_assert_true(atomic_load(&mine->can_send));
  return rv;
}

static weft_track_stats stats(weft_track *t) {
  weft_track_stats st = WEFT_TRACK_STATS_INIT;
  g_assert_cmpint(weft_track_get_stats(t, &st), ==, WEFT_OK);
  return st;
}

/* Waits until @field of @t's stats has not moved for 200 ms (or 5 s). */
#define SETTLE(t, field)                                                                           \
  do {                                                                                             \
    uint64_t last_ = stats(t).field;                                                               \
    gint64 still_ = g_get_monotonic_time(), end_ = still_ + 5 * G_USEC_PER_SEC;                    \
    while (g_get_monotonic_time() - still_ < 200000 && g_get_monotonic_time() < end_) {            \
      g_usleep(10000);                                                                             \
      uint64_t now_ = stats(t).field;                                                              \
      if (now_ != last_) {                                                                         \
        last_ = now_;                                                                              \
        still_ = g_get_monotonic_time();                                                           \
      }                                                                                            \
    }                                                                                              \
  } while (0)

/* Engine-side reads. */
typedef struct probe {
  weft_pc *pc;
  weft_track *t;
  uint16_t next_seq;
  uint32_t ssrc;
  uint64_t rtx_dup, rtx_over, rtx_over_cap, kf_throttled, kf_fir_repeats;
  uint64_t n_rtx_dropped, n_kf_throttled; /* the track's atomic counters */
  size_t rx_streams, learnt, announced;
  uint64_t ssrc_refused, ssrc_unrouted;
} probe;

static void probe_cb(void *p) {
  probe *pr = p;
  if (pr->t) {
    pr->next_seq = pr->t->seq;
    pr->ssrc = pr->t->ssrc;
    pr->rtx_dup = pr->t->rtx.duplicates;
    pr->rtx_over = pr->t->rtx.over_budget;
    pr->rtx_over_cap = pr->t->rtx.over_cap;
    pr->kf_throttled = pr->t->kf.throttled;
    pr->kf_fir_repeats = pr->t->kf.fir_repeats;
    pr->n_rtx_dropped = atomic_load(&pr->t->n.rtx_dropped);
    pr->n_kf_throttled = atomic_load(&pr->t->n.keyframe_requests_throttled);
  }
  if (pr->pc) {
    pr->rx_streams = weft__srtp_rx_streams(pr->pc->srtp);
    pr->learnt = pr->pc->ssrc_learnt.n;
    pr->ssrc_refused = pr->pc->ssrc_learnt.refused;
    pr->ssrc_unrouted = pr->pc->ssrc_learnt.unrouted;
    pr->announced = 0;
    GHashTableIter it;
    gpointer k;
    g_hash_table_iter_init(&it, pr->pc->ssrc_tracks);
    while (g_hash_table_iter_next(&it, &k, NULL))
      pr->announced += !weft__ssrc_table_owner(&pr->pc->ssrc_learnt, GPOINTER_TO_UINT(k));
  }
}

static probe read_probe(weft_pc *pc, weft_track *t) {
  probe pr = {0};
  pr.pc = pc;
  pr.t = t;
  weft__context_invoke_sync(CTX, probe_cb, &pr);
  return pr;
}

/* ---- nack_flood ---------------------------------------------------------------- */

/* One RTPFB NACK (RFC 4585 §6.2.1) with @n items from @pid on, 17 apart,
 * each with an all-ones BLP: 17 * n sequence numbers. */
static size_t write_nack_items(uint8_t *p, uint32_t sender, uint32_t media, uint16_t pid,
                               size_t n) {
  size_t len = 12 + 4 * n;
  p[0] = 0x80 | WEFT__RTCP_FMT_NACK;
  p[1] = WEFT__RTCP_RTPFB;
  weft__wr16(p + 2, (uint16_t)(len / 4 - 1));
  weft__wr32(p + 4, sender);
  weft__wr32(p + 8, media);
  for (size_t i = 0; i < n; i++) {
    weft__wr16(p + 12 + 4 * i, (uint16_t)(pid + 17 * i));
    weft__wr16(p + 14 + 4 * i, 0xffff);
  }
  return len;
}

static void test_nack_flood(void) {
  sides_new(FALSE);
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, NULL);
  weft_track *rv = connect_video();
  /* Fill A's 1024-packet history: 1100 small packets, paced so loopback
   * loses none (B's own NACKs would blur the count). */
  uint8_t pkt[300];
  memset(pkt, 0, sizeof pkt);
  for (int i = 0; i < 1100; i++) {
    pkt[0] = 0x80;
    pkt[1] = 96;
    weft__wr16(pkt + 2, (uint16_t)i);
    weft__wr32(pkt + 4, (uint32_t)i * 90);
    weft__wr32(pkt + 8, 0x1234);
    pkt[12] = 0x10; /* VP8 descriptor: start of partition */
    int rc = weft_track_send_rtp(video, pkt, sizeof pkt, 0);
    if (rc < 0)
      g_printerr("send_rtp %d: %s\n", i, weft_last_error_message());
    g_assert_cmpint(rc, ==, WEFT_OK);
    if (i % 20 == 19)
      g_usleep(5000);
  }
  SETTLE(rv, packets_received);
  g_usleep(300000);
  probe a = read_probe(S[0].pc, video);
  uint64_t rtx0 = stats(video).retransmitted;
  uint64_t nacked0 = stats(video).nacks_received;

  /* The crafted packet: 16 NACKs of 15 items each (1152 bytes), covering the
   * last 1020 packets in 4 ranges of 255, each range named 4 times. */
  uint8_t rtcp[1500];
  size_t len = 0;
  uint32_t me = 0x51515151;
  uint16_t base = (uint16_t)(a.next_seq - 1020);
  for (int k = 0; k < 16; k++)
    len += write_nack_items(rtcp + len, me, a.ssrc, (uint16_t)(base + (k % 4) * 255), 15);
  g_assert_cmpuint(len, ==, 1152);
  g_assert_cmpint(weft_track_send_rtcp(rv, rtcp, len), ==, WEFT_OK);
  SETTLE(video, nacks_received);
  uint64_t rtx1 = stats(video).retransmitted, nacked1 = stats(video).nacks_received;
  probe b = read_probe(S[0].pc, video);
  /* Twice back to back (one window): the second adds nothing. */
  g_assert_cmpint(weft_track_send_rtcp(rv, rtcp, len), ==, WEFT_OK);
  g_assert_cmpint(weft_track_send_rtcp(rv, rtcp, len), ==, WEFT_OK);
  SETTLE(video, nacks_received);
  uint64_t rtx2 = stats(video).retransmitted;
  probe c = read_probe(S[0].pc, video);
  g_print("nack_flood: %zu-byte RTCP naming %d sequence numbers: %" G_GUINT64_FORMAT
          " retransmitted (%" G_GUINT64_FORMAT " looked at; refused: %" G_GUINT64_FORMAT
          " over budget, %" G_GUINT64_FORMAT " past the per-packet cap); the same twice at once: "
          "%" G_GUINT64_FORMAT " retransmitted (%" G_GUINT64_FORMAT " duplicates)\n",
          len, 16 * 255, rtx1 - rtx0, nacked1 - nacked0, b.rtx_over - a.rtx_over,
          b.rtx_over_cap - a.rtx_over_cap, rtx2 - rtx1, c.rtx_dup - b.rtx_dup);
  /* Nothing was sent meanwhile: the floor is the whole budget. */
  g_assert_cmpuint(rtx1 - rtx0, ==, WEFT__RTX_BUDGET_FLOOR);
  g_assert_cmpuint(rtx2 - rtx1, <=, WEFT__RTX_BUDGET_FLOOR);
  g_assert_cmpuint(stats(video).nacks_received - nacked0, ==, 3 * WEFT__NACK_MAX_SEQS_PER_RTCP);
  g_assert_cmpuint(c.rtx_over_cap - a.rtx_over_cap, ==,
                   3 * (16 * 255 - WEFT__NACK_MAX_SEQS_PER_RTCP));
  g_assert_cmpuint(c.rtx_dup + c.rtx_over - a.rtx_dup - a.rtx_over, ==,
                   3 * WEFT__NACK_MAX_SEQS_PER_RTCP - (rtx2 - rtx0));
  g_assert_cmpuint(c.n_rtx_dropped, ==, c.rtx_dup + c.rtx_over + c.rtx_over_cap);

  /* A window later, a legitimate NACK of 3 lost packets (never resent yet)
   * is answered; asked twice at once, answered once. */
  g_usleep(WEFT__RTX_WINDOW_MAX_US + 100000);
  uint64_t rtx2b = stats(video).retransmitted;
  uint16_t lost[3] = {(uint16_t)(a.next_seq - 3), (uint16_t)(a.next_seq - 2),
                      (uint16_t)(a.next_seq - 1)};
  int m = weft__rtcp_write_nack(me, a.ssrc, lost, 3, rtcp, sizeof rtcp);
  g_assert_cmpint(m, >, 0);
  g_assert_cmpint(weft_track_send_rtcp(rv, rtcp, (size_t)m), ==, WEFT_OK);
  g_assert_cmpint(weft_track_send_rtcp(rv, rtcp, (size_t)m), ==, WEFT_OK);
  SETTLE(video, nacks_received);
  uint64_t rtx3 = stats(video).retransmitted;
  g_print("nack_flood: a NACK of 3 lost packets, sent twice: %" G_GUINT64_FORMAT " retransmitted\n",
          rtx3 - rtx2b);
  g_assert_cmpuint(rtx3 - rtx2b, ==, 3);
  weft_track_unref(video);
  sides_free();
}

/* ---- pli_flood ------------------------------------------------------------------- */

static void test_pli_flood(void) {
  sides_new(FALSE);
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, NULL);
  weft_track_set_user_data(video, &S[0], NULL);
  weft_track_set_on_keyframe_request(video, on_keyframe_request);
  weft_track *rv = connect_video();
  probe a = read_probe(NULL, video);
  uint8_t buf[64];
  gint64 t0 = g_get_monotonic_time();
  for (int i = 0; i < 1000; i++) {
    int n = weft__rtcp_write_pli(0x51515151, a.ssrc, buf, sizeof buf);
    g_assert_cmpint(weft_track_send_rtcp(rv, buf, (size_t)n), ==, WEFT_OK);
    if (i % 10 == 9)
      g_usleep(5000);
  }
  SETTLE(video, plis_received);
  gint64 dur = g_get_monotonic_time() - t0;
  int events = g_atomic_int_get(&S[0].keyframe_requests);
  probe b = read_probe(NULL, video);
  g_print("pli_flood: %" G_GUINT64_FORMAT " PLIs received in %" G_GINT64_FORMAT
          " ms: %d on_keyframe_request, %" G_GUINT64_FORMAT " throttled\n",
          stats(video).plis_received, dur / 1000, events, b.kf_throttled);
  g_assert_cmpuint(stats(video).plis_received, >=, 990);
  g_assert_cmpint(events, >=, 1);
  g_assert_cmpint(events, <=, dur / WEFT__KEYFRAME_MIN_INTERVAL_US + 1);
  g_assert_cmpuint(b.n_kf_throttled, ==, b.kf_throttled + b.kf_fir_repeats);

  /* 500 FIRs with one sequence number: one request. */
  g_usleep(WEFT__KEYFRAME_MIN_INTERVAL_US + 50000);
  int before = g_atomic_int_get(&S[0].keyframe_requests);
  weft__rtcp_fir_entry e = {a.ssrc, 5};
  for (int i = 0; i < 500; i++) {
    int n = weft__rtcp_write_fir(0x51515151, &e, 1, buf, sizeof buf);
    g_assert_cmpint(weft_track_send_rtcp(rv, buf, (size_t)n), ==, WEFT_OK);
    if (i % 10 == 9)
      g_usleep(2000);
  }
  SETTLE(video, plis_received);
  int fir_events = g_atomic_int_get(&S[0].keyframe_requests) - before;
  probe c = read_probe(NULL, video);
  g_print("pli_flood: 500 FIRs with seq nr 5: %d on_keyframe_request, %" G_GUINT64_FORMAT
          " repeats dropped\n",
          fir_events, c.kf_fir_repeats);
  g_assert_cmpint(fir_events, ==, 1);
  g_assert_cmpuint(c.kf_fir_repeats, >=, 490);
  /* A new request (seq nr 6) after the interval passes. */
  g_usleep(WEFT__KEYFRAME_MIN_INTERVAL_US + 50000);
  e.seq_nr = 6;
  int n = weft__rtcp_write_fir(0x51515151, &e, 1, buf, sizeof buf);
  g_assert_cmpint(weft_track_send_rtcp(rv, buf, (size_t)n), ==, WEFT_OK);
  g_assert_true(wait_int(&S[0].keyframe_requests, before + 2, 3000));
  weft_track_unref(video);
  sides_free();
}

/* ---- ssrc_spray ----------------------------------------------------------------- */

typedef struct spray {
  weft_pc *pc;   /* the attacker: A */
  weft_track *t; /* A's video track: its mid and payload type */
  guint32 seed;
  int count; /* packets per call */
  gboolean rtcp;
  int sent;
} spray;

static uint32_t next_rand(guint32 *s) {
  *s = *s * 1664525u + 1013904223u;
  return *s ^ (*s >> 15);
}

static void spray_cb(void *p) {
  spray *sp = p;
  weft_pc *pc = sp->pc;
  uint8_t buf[200 + WEFT__SRTP_RTCP_HEADROOM];
  for (int i = 0; i < sp->count; i++) {
    uint32_t ssrc = next_rand(&sp->seed);
    size_t len;
    if (sp->rtcp) {
      int n = weft__rtcp_write_rr(ssrc, NULL, 0, buf, sizeof buf);
      g_assert_cmpint(n, >, 0);
      len = (size_t)n;
    } else {
      weft__rtp_ext ext = {sp->t->mid_ext_id, (const uint8_t *)sp->t->mid, strlen(sp->t->mid)};
      uint8_t payload[20] = {0x10};
      weft__rtp_build b = {0};
      b.payload_type = sp->t->send_params.payload_type;
      b.seq = (uint16_t)next_rand(&sp->seed);
      b.timestamp = next_rand(&sp->seed);
      b.ssrc = ssrc;
      if (i % 2 == 0 && sp->t->mid_ext_id) {
        b.exts = &ext;
        b.ext_count = 1;
      }
      b.payload = payload;
      b.payload_len = sizeof payload;
      int n = weft__rtp_write(&b, buf, sizeof buf);
      g_assert_cmpint(n, >, 0);
      len = (size_t)n;
    }
    size_t out;
    int rc = sp->rtcp ? weft__srtp_protect_rtcp(pc->srtp, buf, len, sizeof buf, &out)
                      : weft__srtp_protect_rtp(pc->srtp, buf, len, sizeof buf, &out);
    g_assert_cmpint(rc, ==, 0);
    if (weft__ice_send(pc->ice, buf, out) >= 0)
      sp->sent++;
    /* Keep the attacker's own send session small. */
    weft__srtp_remove_ssrc(pc->srtp, ssrc, true);
  }
}

static void test_ssrc_spray(void) {
  sides_new(TRUE);
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, NULL);
  connect_video();
  uint32_t idx = 0;
  for (; idx < 15; idx++) {
    send_video(video, idx);
    g_usleep(20000);
  }
  g_assert_true(has_frame(&S[1], 0));
  probe b0 = read_probe(S[1].pc, NULL);

  /* 10,000 RTP packets with random SSRCs and 1000 SRTCP with random sender
   * SSRCs, in slices the loopback socket takes; real video in between. */
  spray sp = {S[0].pc, video, 0xC0FFEE, 100, FALSE, 0};
  gint64 t0 = g_get_monotonic_time();
  for (int k = 0; k < 110; k++) {
    sp.rtcp = k >= 100;
    weft__context_invoke_sync(CTX, spray_cb, &sp);
    g_usleep(8000);
    if (k % 4 == 0)
      send_video(video, idx++);
  }
  gint64 spray_ms = (g_get_monotonic_time() - t0) / 1000;
  g_usleep(200000);
  probe b1 = read_probe(S[1].pc, NULL);
  g_print("ssrc_spray: %d packets with random SSRCs in %" G_GINT64_FORMAT
          " ms: receiver libsrtp streams %zu -> %zu, learnt SSRCs %zu, announced %zu, refused "
          "%" G_GUINT64_FORMAT ", matching no track %" G_GUINT64_FORMAT "\n",
          sp.sent, spray_ms, b0.rx_streams, b1.rx_streams, b1.learnt, b1.announced, b1.ssrc_refused,
          b1.ssrc_unrouted);
  g_assert_cmpint(sp.sent, ==, 11000);
  g_assert_cmpuint(b1.learnt, <=, WEFT__SSRC_LEARNT_MAX);
  g_assert_cmpuint(b1.rx_streams, <=, b1.announced + b1.learnt);
  g_assert_cmpuint(b1.announced, ==, 1);
  g_assert_cmpuint(b1.ssrc_refused + b1.ssrc_unrouted, >=, 11000 - WEFT__SSRC_LEARNT_MAX);

  /* The real stream still flows: a keyframe and what follows arrive intact. */
  while (idx % 30)
    idx++;
  uint32_t first = idx;
  for (int i = 0; i < 30; i++, idx++) {
    send_video(video, idx);
    g_usleep(20000);
  }
  gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  while (!has_frame(&S[1], idx - 1) && g_get_monotonic_time() < end)
    g_usleep(10000);
  guint got = 0;
  for (uint32_t i = first; i < idx; i++)
    got += has_frame(&S[1], i);
  g_print("ssrc_spray: after the spray %u of 30 frames arrived intact\n", got);
  g_assert_cmpuint(got, ==, 30);
  weft_track_unref(video);
  sides_free();
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/media-bounds/nack_flood", test_nack_flood);
  g_test_add_func("/media-bounds/pli_flood", test_pli_flood);
  g_test_add_func("/media-bounds/ssrc_spray", test_ssrc_spray);
  return g_test_run();
}
