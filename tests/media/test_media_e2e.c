/*
 * Media end to end: two weft peer connections in one process on 127.0.0.1,
 * real UDP through ICE, DTLS-SRTP, RTP/RTCP and the packetizers, signalled
 * in-process (non-trickle: full descriptions once gathering is complete).
 *
 *   av_data_bundle   audio + video + a data channel in one BUNDLE; 10 s of
 *                    VP8-shaped and Opus frames arrive intact, in order, with
 *                    their timestamps; a data channel message crosses too
 *   nack_recovery    5 % of the sender's RTP dropped: NACK recovers every
 *                    video packet, no frame is lost
 *   pli              request_keyframe on the receiver reaches the sender's
 *                    on_keyframe_request
 *   renegotiate      a video track added to a connected audio-only call by a
 *                    new offer/answer (same ICE credentials)
 *   stop             a stopped track is rejected (port 0) by the next offer
 *   errors           the API's refusals (state, kind, framing)
 *
 * White-box only for the loss hook (weft__pc_test_set_rtp_drop).
 */
#include <string.h>

#include <weft/weft.h>

#include "pc/pc.h"

#define VIDEO_FPS 30
#define AUDIO_FRAME_MS 20

typedef struct rx_frame {
  uint32_t index; /* from the frame's own header */
  uint32_t ts;
  size_t size;
  gboolean key, intact;
} rx_frame;

typedef struct side {
  weft_pc *pc;
  GMutex lock;
  GPtrArray *tracks; /* weft_track* (ref) surfaced by on_track */
  GArray *frames[2]; /* rx_frame per kind: [0] audio, [1] video */
  gint conn_state;
  gint gathered;
  gint negotiation_needed;
  gint keyframe_requests;
  gint dc_msgs;
  weft_dc *remote_dc;
} side;

static side S[2];

/* ---- Frames -------------------------------------------------------------- */

/* A VP8-shaped frame: byte 0 carries the P bit (0 = key, RFC 7741 §4.3),
 * bytes 1..4 the index, then a pattern from the index. */
static uint8_t *make_video(uint32_t idx, bool key, size_t *len) {
  size_t n = key ? 30000 + (idx % 7) * 1000 : 2000 + (idx * 7919) % 6000;
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

/* An Opus packet (RFC 6716 §3.1): TOC config 15 (hybrid 20 ms), code 0. */
static uint8_t *make_audio(uint32_t idx, size_t *len) {
  size_t n = 60 + idx % 61;
  uint8_t *f = g_malloc(n);
  f[0] = 15 << 3;
  f[1] = (uint8_t)(idx >> 24);
  f[2] = (uint8_t)(idx >> 16);
  f[3] = (uint8_t)(idx >> 8);
  f[4] = (uint8_t)idx;
  for (size_t i = 5; i < n; i++)
    f[i] = (uint8_t)(i * 13 + idx * 7);
  *len = n;
  return f;
}

static gboolean frame_intact(const uint8_t *f, size_t n, bool video, uint32_t *idx) {
  if (n < 5)
    return FALSE;
  *idx = ((uint32_t)f[1] << 24) | ((uint32_t)f[2] << 16) | ((uint32_t)f[3] << 8) | f[4];
  size_t want;
  uint8_t *ref = video ? make_video(*idx, (f[0] & 1) == 0, &want) : make_audio(*idx, &want);
  gboolean ok = want == n && memcmp(ref, f, n) == 0;
  g_free(ref);
  return ok;
}

/* ---- Callbacks ------------------------------------------------------------- */

static void on_frame(weft_track *t, const uint8_t *frame, size_t size, const weft_frame_info *info,
                     void *ud) {
  side *s = ud;
  bool video = weft_track_get_kind(t) == WEFT_KIND_VIDEO;
  rx_frame r = {0};
  r.ts = info->rtp_timestamp;
  r.size = size;
  r.key = (info->flags & WEFT_FRAME_KEY) != 0;
  r.intact = frame_intact(frame, size, video, &r.index);
  g_assert_true(info->has_rtp_timestamp);
  g_assert_true(video ? info->codec == WEFT_CODEC_VP8
                      : info->codec == WEFT_CODEC_OPUS || info->codec == WEFT_CODEC_PCMU);
  g_mutex_lock(&s->lock);
  g_array_append_val(s->frames[video], r);
  g_mutex_unlock(&s->lock);
}

static void on_keyframe_request(weft_track *t, void *ud) {
  (void)t;
  side *s = ud;
  g_atomic_int_inc(&s->keyframe_requests);
}

static void on_track(weft_pc *pc, weft_track *t, void *ud) {
  (void)pc;
  side *s = ud;
  weft_track_set_user_data(t, s, NULL);
  weft_track_set_on_frame(t, on_frame);
  weft_track_set_on_keyframe_request(t, on_keyframe_request);
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

static void on_negotiation(weft_pc *pc, void *ud) {
  (void)pc;
  g_atomic_int_inc(&((side *)ud)->negotiation_needed);
}

static void on_dc_msg(weft_dc *dc, weft_msg_type type, const void *data, size_t size, void *ud) {
  (void)dc;
  (void)type;
  (void)data;
  (void)size;
  g_atomic_int_inc(&((side *)ud)->dc_msgs);
}

static void on_dc(weft_pc *pc, weft_dc *dc, void *ud) {
  (void)pc;
  side *s = ud;
  weft_dc_set_user_data(dc, s, NULL);
  weft_dc_set_on_message(dc, on_dc_msg);
  g_mutex_lock(&s->lock);
  if (!s->remote_dc)
    s->remote_dc = weft_dc_ref(dc);
  g_mutex_unlock(&s->lock);
}

/* ---- Harness ---------------------------------------------------------------- */

static gboolean wait_int(volatile gint *v, int min, int timeout_ms) {
  gint64 end = g_get_monotonic_time() + timeout_ms * 1000;
  while (g_atomic_int_get(v) < min) {
    if (g_get_monotonic_time() > end)
      return FALSE;
    g_usleep(2000);
  }
  return TRUE;
}

static weft_context *CTX;

static void sides_new(void) {
  CTX = weft_context_new(NULL);
  for (int i = 0; i < 2; i++) {
    side *s = &S[i];
    memset(s, 0, sizeof *s);
    g_mutex_init(&s->lock);
    s->tracks = g_ptr_array_new_with_free_func((GDestroyNotify)weft_track_unref);
    s->frames[0] = g_array_new(FALSE, FALSE, sizeof(rx_frame));
    s->frames[1] = g_array_new(FALSE, FALSE, sizeof(rx_frame));
    weft_config *cfg = weft_config_new();
    weft_config_set_enable_loopback(cfg, 1);
    s->pc = weft_pc_new(CTX, cfg);
    weft_config_free(cfg);
    g_assert_nonnull(s->pc);
    weft_pc_set_user_data(s->pc, s, NULL);
    weft_pc_set_on_track(s->pc, on_track);
    weft_pc_set_on_connection_state_change(s->pc, on_conn);
    weft_pc_set_on_ice_gathering_state_change(s->pc, on_gather);
    weft_pc_set_on_negotiation_needed(s->pc, on_negotiation);
    weft_pc_set_on_data_channel(s->pc, on_dc);
  }
}

static void sides_free(void) {
  for (int i = 0; i < 2; i++) {
    side *s = &S[i];
    weft_pc_close(s->pc);
    weft_pc_unref(s->pc);
    g_ptr_array_unref(s->tracks);
    g_array_unref(s->frames[0]);
    g_array_unref(s->frames[1]);
    weft_dc_unref(s->remote_dc);
    g_mutex_clear(&s->lock);
  }
  weft_context_unref(CTX);
  gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  while (weft_debug_live_objects() > 0 && g_get_monotonic_time() < end)
    g_usleep(10000);
  g_assert_cmpint(weft_debug_live_objects(), ==, 0);
}

/* One offer/answer round from @from to the other side; returns the offer. */
static char *negotiate(int from) {
  side *a = &S[from], *b = &S[!from];
  g_atomic_int_set(&a->gathered, 0);
  g_atomic_int_set(&b->gathered, 0);
  gboolean first = weft_pc_get_ice_gathering_state(a->pc) == WEFT_GATHERING_NEW;
  g_assert_cmpint(weft_pc_set_local_description(a->pc, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  if (first)
    g_assert_true(wait_int(&a->gathered, 1, 5000));
  char *offer = NULL;
  g_assert_cmpint(weft_pc_get_description(a->pc, WEFT_DESC_LOCAL, NULL, &offer), ==, WEFT_OK);
  int rc = weft_pc_set_remote_description(b->pc, WEFT_SDP_OFFER, offer);
  if (rc < 0)
    g_printerr("set_remote(offer): %s\n%s\n", weft_last_error_message(), offer);
  g_assert_cmpint(rc, ==, WEFT_OK);
  gboolean bfirst = weft_pc_get_ice_gathering_state(b->pc) == WEFT_GATHERING_NEW;
  g_assert_cmpint(weft_pc_set_local_description(b->pc, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  if (bfirst)
    g_assert_true(wait_int(&b->gathered, 1, 5000));
  char *answer = NULL;
  g_assert_cmpint(weft_pc_get_description(b->pc, WEFT_DESC_LOCAL, NULL, &answer), ==, WEFT_OK);
  rc = weft_pc_set_remote_description(a->pc, WEFT_SDP_ANSWER, answer);
  if (rc < 0)
    g_printerr("set_remote(answer): %s\n%s\n", weft_last_error_message(), answer);
  g_assert_cmpint(rc, ==, WEFT_OK);
  weft_free(answer);
  return offer;
}

static void wait_connected(void) {
  g_assert_true(wait_int(&S[0].conn_state, WEFT_PC_CONNECTED, 10000));
  g_assert_true(wait_int(&S[1].conn_state, WEFT_PC_CONNECTED, 10000));
  g_assert_cmpint(g_atomic_int_get(&S[0].conn_state), ==, WEFT_PC_CONNECTED);
}

static weft_track *remote_track(side *s, weft_media_kind kind) {
  weft_track *r = NULL;
  g_mutex_lock(&s->lock);
  for (guint i = 0; i < s->tracks->len && !r; i++)
    if (weft_track_get_kind(s->tracks->pdata[i]) == kind)
      r = s->tracks->pdata[i];
  g_mutex_unlock(&s->lock);
  return r;
}

static guint n_frames(side *s, int video) {
  g_mutex_lock(&s->lock);
  guint n = s->frames[video]->len;
  g_mutex_unlock(&s->lock);
  return n;
}

static gboolean wait_frames(side *s, int video, guint n, int timeout_ms) {
  gint64 end = g_get_monotonic_time() + timeout_ms * 1000;
  while (n_frames(s, video) < n) {
    if (g_get_monotonic_time() > end)
      return FALSE;
    g_usleep(5000);
  }
  return TRUE;
}

static void send_video(weft_track *t, uint32_t idx) {
  size_t n;
  uint8_t *f = make_video(idx, idx % 30 == 0, &n);
  weft_frame_info info = WEFT_FRAME_INFO_INIT;
  info.has_rtp_timestamp = 1;
  info.rtp_timestamp = 1000 + idx * (90000 / VIDEO_FPS);
  int rc = weft_track_send_frame(t, f, n, &info);
  if (rc < 0)
    g_printerr("send video %u: %s\n", idx, weft_last_error_message());
  g_assert_cmpint(rc, ==, WEFT_OK);
  g_free(f);
}

static void send_audio(weft_track *t, uint32_t idx) {
  size_t n;
  uint8_t *f = make_audio(idx, &n);
  weft_frame_info info = WEFT_FRAME_INFO_INIT;
  info.has_rtp_timestamp = 1;
  info.rtp_timestamp = 5000 + idx * 960;
  g_assert_cmpint(weft_track_send_frame(t, f, n, &info), ==, WEFT_OK);
  g_free(f);
}

/* Every frame 0..n-1 of @kind arrived once, intact, in order, with the
 * timestamp it was sent with. */
static void check_frames(side *s, int video, guint n) {
  g_mutex_lock(&s->lock);
  GArray *a = s->frames[video];
  guint seen = 0;
  for (guint i = 0; i < a->len && seen < n; i++) {
    rx_frame *r = &g_array_index(a, rx_frame, i);
    if (r->index != seen || !r->intact)
      g_printerr("%s frame #%u: index %u intact %d size %zu\n", video ? "video" : "audio", i,
                 r->index, r->intact, r->size);
    g_assert_true(r->intact);
    g_assert_cmpuint(r->index, ==, seen);
    uint32_t want_ts = video ? 1000 + seen * (90000 / VIDEO_FPS) : 5000 + seen * 960;
    g_assert_cmpuint(r->ts, ==, want_ts);
    if (video)
      g_assert_cmpint(r->key, ==, seen % 30 == 0);
    seen++;
  }
  g_mutex_unlock(&s->lock);
  g_assert_cmpuint(seen, ==, n);
}

static void print_stats(const char *what, weft_track *t) {
  weft_track_stats st = WEFT_TRACK_STATS_INIT;
  g_assert_cmpint(weft_track_get_stats(t, &st), ==, WEFT_OK);
  g_print(
      "%s: sent %" G_GUINT64_FORMAT " pkts / %" G_GUINT64_FORMAT " frames, recv %" G_GUINT64_FORMAT
      " pkts / %" G_GUINT64_FORMAT " frames, dropped %" G_GUINT64_FORMAT ", lost %" G_GUINT64_FORMAT
      ", nacks sent %" G_GUINT64_FORMAT " recv %" G_GUINT64_FORMAT ", rtx %" G_GUINT64_FORMAT
      ", plis sent %" G_GUINT64_FORMAT " recv %" G_GUINT64_FORMAT ", rtt %" G_GINT64_FORMAT " us\n",
      what, st.packets_sent, st.frames_sent, st.packets_received, st.frames_received,
      st.frames_dropped, st.packets_lost, st.nacks_sent, st.nacks_received, st.retransmitted,
      st.plis_sent, st.plis_received, st.rtt_us);
}

/* ---- Tests -------------------------------------------------------------------- */

static void test_av_data_bundle(void) {
  sides_new();
  weft_track *audio = weft_pc_add_track(S[0].pc, WEFT_KIND_AUDIO, NULL);
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, NULL);
  g_assert_nonnull(audio);
  g_assert_nonnull(video);
  weft_dc *dc = weft_pc_create_data_channel(S[0].pc, "chat", NULL);
  g_assert_nonnull(dc);
  char *offer = negotiate(0);
  /* One transport: a BUNDLE group with all three sections. */
  g_assert_nonnull(strstr(offer, "a=group:BUNDLE 0 1 2"));
  g_assert_nonnull(strstr(offer, "m=audio"));
  g_assert_nonnull(strstr(offer, "m=video"));
  g_assert_nonnull(strstr(offer, "a=rtcp-mux"));
  g_assert_nonnull(strstr(offer, "a=rtpmap:111 opus/48000/2"));
  weft_free(offer);
  wait_connected();
  g_assert_true(wait_int(&S[1].conn_state, WEFT_PC_CONNECTED, 5000));
  /* Both remote tracks surfaced on B. */
  gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  while ((!remote_track(&S[1], WEFT_KIND_AUDIO) || !remote_track(&S[1], WEFT_KIND_VIDEO)) &&
         g_get_monotonic_time() < end)
    g_usleep(5000);
  weft_track *ra = remote_track(&S[1], WEFT_KIND_AUDIO), *rv = remote_track(&S[1], WEFT_KIND_VIDEO);
  g_assert_nonnull(ra);
  g_assert_nonnull(rv);
  weft_codec_params cp = WEFT_CODEC_PARAMS_INIT;
  g_assert_cmpint(weft_track_get_send_codec(video, &cp), ==, WEFT_OK);
  g_assert_cmpint(cp.codec, ==, WEFT_CODEC_VP8);
  g_assert_cmpuint(cp.clock_rate, ==, 90000);
  g_assert_cmpint(weft_track_get_send_codec(audio, &cp), ==, WEFT_OK);
  g_assert_cmpint(cp.codec, ==, WEFT_CODEC_OPUS);
  g_assert_cmpint(weft_track_get_current_direction(video), ==, WEFT_DIR_SENDRECV);
  g_assert_cmpint(weft_track_get_current_direction(rv), ==, WEFT_DIR_SENDRECV);
  char *mid = NULL;
  g_assert_cmpint(weft_track_get_mid(rv, &mid), ==, WEFT_OK);
  g_assert_cmpstr(mid, ==, "2");
  weft_free(mid);
  /* DTLS connected means SRTP keys exist: sending works at once. */
  gint64 t0 = g_get_monotonic_time();
  guint nv = 10 * VIDEO_FPS, na = 10 * 1000 / AUDIO_FRAME_MS;
  guint sv = 0, sa = 0;
  while (sv < nv || sa < na) {
    gint64 el = g_get_monotonic_time() - t0;
    while (sv < nv && (gint64)sv * 1000000 / VIDEO_FPS <= el)
      send_video(video, sv++);
    while (sa < na && (gint64)sa * AUDIO_FRAME_MS * 1000 <= el)
      send_audio(audio, sa++);
    g_usleep(2000);
  }
  g_assert_true(weft_dc_get_ready_state(dc) == WEFT_DC_OPEN);
  g_assert_cmpint(weft_dc_send_text(dc, "hello", 5), ==, WEFT_OK);
  g_assert_true(wait_frames(&S[1], 1, nv, 5000));
  g_assert_true(wait_frames(&S[1], 0, na, 5000));
  g_assert_true(wait_int(&S[1].dc_msgs, 1, 5000));
  check_frames(&S[1], 1, nv);
  check_frames(&S[1], 0, na);
  print_stats("A video", video);
  print_stats("B video", rv);
  print_stats("B audio", ra);
  weft_track_stats st = WEFT_TRACK_STATS_INIT;
  weft_track_get_stats(rv, &st);
  g_assert_cmpuint(st.frames_received, ==, nv);
  g_assert_cmpuint(st.frames_dropped, ==, 0);
  /* Reports flowed: the sender knows the round-trip time from RR blocks. */
  weft_track_get_stats(video, &st);
  g_assert_cmpint(st.rtt_us, >=, 0);
  weft_dc_unref(dc);
  weft_track_unref(audio);
  weft_track_unref(video);
  sides_free();
}

static void set_drop_cb(void *p) { weft__pc_test_set_rtp_drop(p, 50, 12345); }

static void test_nack_recovery(void) {
  sides_new();
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, NULL);
  char *offer = negotiate(0);
  weft_free(offer);
  wait_connected();
  /* 5 % of A's RTP (retransmissions included) never leaves. */
  weft__context_invoke_sync(CTX, set_drop_cb, S[0].pc);
  guint nv = 150;
  for (guint i = 0; i < nv + 10; i++) {
    send_video(video, i);
    g_usleep(1000000 / 60);
  }
  g_assert_true(wait_frames(&S[1], 1, nv, 8000));
  weft_track *rv = remote_track(&S[1], WEFT_KIND_VIDEO);
  print_stats("A video (5% loss)", video);
  print_stats("B video (5% loss)", rv);
  check_frames(&S[1], 1, nv);
  weft_track_stats a = WEFT_TRACK_STATS_INIT, b = WEFT_TRACK_STATS_INIT;
  weft_track_get_stats(video, &a);
  weft_track_get_stats(rv, &b);
  g_assert_cmpuint(b.nacks_sent, >, 0);
  g_assert_cmpuint(a.nacks_received, >, 0);
  g_assert_cmpuint(a.retransmitted, >, 0);
  g_assert_cmpuint(b.packets_lost, ==, 0);
  weft_track_unref(video);
  sides_free();
}

static void test_pli(void) {
  sides_new();
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, NULL);
  weft_track_set_user_data(video, &S[0], NULL);
  weft_track_set_on_keyframe_request(video, on_keyframe_request);
  char *offer = negotiate(0);
  weft_free(offer);
  wait_connected();
  gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  while (!remote_track(&S[1], WEFT_KIND_VIDEO) && g_get_monotonic_time() < end)
    g_usleep(5000);
  weft_track *rv = remote_track(&S[1], WEFT_KIND_VIDEO);
  g_assert_nonnull(rv);
  /* Nothing received yet: no SSRC to address a PLI to. */
  g_assert_cmpint(weft_track_request_keyframe(rv), ==, WEFT_ERR_INVALID_STATE);
  for (guint i = 0; i < 5; i++)
    send_video(video, i);
  g_assert_true(wait_frames(&S[1], 1, 5, 3000));
  g_assert_cmpint(weft_track_request_keyframe(rv), ==, WEFT_OK);
  g_assert_true(wait_int(&S[0].keyframe_requests, 1, 3000));
  weft_track_stats st = WEFT_TRACK_STATS_INIT;
  weft_track_get_stats(video, &st);
  g_assert_cmpuint(st.plis_received, ==, 1);
  weft_track_get_stats(rv, &st);
  g_assert_cmpuint(st.plis_sent, ==, 1);
  weft_track_unref(video);
  sides_free();
}

static void test_renegotiate(void) {
  sides_new();
  weft_track *audio = weft_pc_add_track(S[0].pc, WEFT_KIND_AUDIO, NULL);
  char *offer1 = negotiate(0);
  g_assert_null(strstr(offer1, "m=video"));
  g_assert_null(strstr(offer1, "m=application"));
  wait_connected();
  for (guint i = 0; i < 10; i++)
    send_audio(audio, i);
  g_assert_true(wait_frames(&S[1], 0, 10, 3000));
  int before = g_atomic_int_get(&S[0].negotiation_needed);
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, NULL);
  g_assert_true(wait_int(&S[0].negotiation_needed, before + 1, 3000));
  /* Not negotiated yet: nothing to send with. */
  size_t n;
  uint8_t *f = make_video(0, true, &n);
  g_assert_cmpint(weft_track_send_frame(video, f, n, NULL), ==, WEFT_ERR_INVALID_STATE);
  g_free(f);
  char *offer2 = negotiate(0);
  /* No ICE restart: the same credentials. */
  const char *u1 = strstr(offer1, "a=ice-ufrag:"), *u2 = strstr(offer2, "a=ice-ufrag:");
  g_assert_nonnull(u1);
  g_assert_nonnull(u2);
  g_assert_true(strncmp(u1, u2, strcspn(u1, "\r\n")) == 0);
  g_assert_nonnull(strstr(offer2, "m=video"));
  weft_free(offer1);
  weft_free(offer2);
  gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  while (!remote_track(&S[1], WEFT_KIND_VIDEO) && g_get_monotonic_time() < end)
    g_usleep(5000);
  g_assert_nonnull(remote_track(&S[1], WEFT_KIND_VIDEO));
  for (guint i = 0; i < 30; i++) {
    send_video(video, i);
    send_audio(audio, 10 + i);
    g_usleep(10000);
  }
  g_assert_true(wait_frames(&S[1], 1, 30, 5000));
  g_assert_true(wait_frames(&S[1], 0, 40, 5000));
  check_frames(&S[1], 1, 30);
  check_frames(&S[1], 0, 40);
  g_assert_cmpint(weft_pc_get_connection_state(S[0].pc), ==, WEFT_PC_CONNECTED);
  weft_track_unref(audio);
  weft_track_unref(video);
  sides_free();
}

/* A data channel created on a connected audio-only call: renegotiation adds
 * the data section and SCTP starts over the DTLS association already up. */
static void test_data_later(void) {
  sides_new();
  weft_track *audio = weft_pc_add_track(S[0].pc, WEFT_KIND_AUDIO, NULL);
  weft_free(negotiate(0));
  wait_connected();
  int before = g_atomic_int_get(&S[0].negotiation_needed);
  weft_dc *dc = weft_pc_create_data_channel(S[0].pc, "late", NULL);
  g_assert_nonnull(dc);
  g_assert_true(wait_int(&S[0].negotiation_needed, before + 1, 3000));
  char *offer = negotiate(0);
  g_assert_nonnull(strstr(offer, "m=application"));
  g_assert_nonnull(strstr(offer, "a=group:BUNDLE 0 1"));
  weft_free(offer);
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (weft_dc_get_ready_state(dc) != WEFT_DC_OPEN && g_get_monotonic_time() < end)
    g_usleep(5000);
  g_assert_cmpint(weft_dc_get_ready_state(dc), ==, WEFT_DC_OPEN);
  g_assert_cmpint(weft_dc_send(dc, "x", 1), ==, WEFT_OK);
  g_assert_true(wait_int(&S[1].dc_msgs, 1, 3000));
  for (guint i = 0; i < 5; i++)
    send_audio(audio, i);
  g_assert_true(wait_frames(&S[1], 0, 5, 3000));
  weft_dc_unref(dc);
  weft_track_unref(audio);
  sides_free();
}

/* The answerer adds a track of its own and makes the next offer: a new mid
 * that collides with none of the offerer's, on_track on the other side. */
static void test_answerer_offers(void) {
  sides_new();
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, NULL);
  weft_dc *dc = weft_pc_create_data_channel(S[0].pc, "d", NULL);
  weft_free(negotiate(0));
  wait_connected();
  weft_track *baudio = weft_pc_add_track(S[1].pc, WEFT_KIND_AUDIO, NULL);
  g_assert_nonnull(baudio);
  char *offer = negotiate(1);
  g_assert_nonnull(strstr(offer, "a=group:BUNDLE 0 1 2"));
  g_assert_nonnull(strstr(offer, "a=mid:2"));
  weft_free(offer);
  /* A answered the first offer's actpass as the DTLS server (B answered
   * active); answering B's re-offer it must stay passive (RFC 8842 §5.5):
   * Chromium refuses an answer that flips the role. */
  char *answer = NULL;
  g_assert_cmpint(weft_pc_get_description(S[0].pc, WEFT_DESC_CURRENT_LOCAL, NULL, &answer), ==,
                  WEFT_OK);
  g_assert_nonnull(strstr(answer, "a=setup:passive"));
  g_assert_null(strstr(answer, "a=setup:active"));
  weft_free(answer);
  char *mid = NULL;
  g_assert_cmpint(weft_track_get_mid(baudio, &mid), ==, WEFT_OK);
  g_assert_cmpstr(mid, ==, "2");
  weft_free(mid);
  gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  while (!remote_track(&S[0], WEFT_KIND_AUDIO) && g_get_monotonic_time() < end)
    g_usleep(5000);
  g_assert_nonnull(remote_track(&S[0], WEFT_KIND_AUDIO));
  for (guint i = 0; i < 5; i++) {
    send_audio(baudio, i);
    send_video(video, i);
  }
  g_assert_true(wait_frames(&S[0], 0, 5, 3000));
  g_assert_true(wait_frames(&S[1], 1, 5, 3000));
  check_frames(&S[0], 0, 5);
  check_frames(&S[1], 1, 5);
  weft_dc_unref(dc);
  weft_track_unref(video);
  weft_track_unref(baudio);
  sides_free();
}

/* An H264 access unit in Annex-B: SPS, PPS and an IDR slice on keyframes
 * (the IDR large enough for FU-A), one slice otherwise; a 4-byte index in
 * each slice. weft's depacketizer gives Annex-B back with 4-byte start
 * codes, so what arrives equals what was sent. */
static uint8_t *make_h264(uint32_t idx, bool key, size_t *len) {
  GByteArray *b = g_byte_array_new();
  static const uint8_t sc[4] = {0, 0, 0, 1};
  static const uint8_t sps[] = {0x67, 0x42, 0xe0, 0x1f, 0x8c, 0x8d, 0x40, 0x50};
  static const uint8_t pps[] = {0x68, 0xce, 0x3c, 0x80};
  if (key) {
    g_byte_array_append(b, sc, 4);
    g_byte_array_append(b, sps, sizeof sps);
    g_byte_array_append(b, sc, 4);
    g_byte_array_append(b, pps, sizeof pps);
  }
  g_byte_array_append(b, sc, 4);
  size_t n = key ? 20000 : 1500 + idx * 37 % 3000;
  uint8_t hdr = key ? 0x65 : 0x41;
  g_byte_array_append(b, &hdr, 1);
  /* 7 bits per byte with the top bit set: no zero byte, no start code. */
  uint8_t ix[4] = {(uint8_t)(0x80 | (idx >> 21)), (uint8_t)(0x80 | (idx >> 14)),
                   (uint8_t)(0x80 | (idx >> 7)), (uint8_t)(0x80 | idx)};
  g_byte_array_append(b, ix, 4);
  for (size_t i = 0; i < n; i++) {
    /* never two zero bytes in a row: no emulated start code */
    uint8_t v = (uint8_t)(1 + (i * 7 + idx) % 250);
    g_byte_array_append(b, &v, 1);
  }
  *len = b->len;
  return g_byte_array_free(b, FALSE);
}

static GArray *h264_rx;
static GMutex h264_lock;

static void on_h264_frame(weft_track *t, const uint8_t *frame, size_t size,
                          const weft_frame_info *info, void *ud) {
  (void)t;
  (void)ud;
  g_assert_cmpint(info->codec, ==, WEFT_CODEC_H264);
  /* The index sits after the last start code + NAL header. */
  size_t last = 0;
  for (size_t i = 0; i + 4 <= size; i++)
    if (frame[i] == 0 && frame[i + 1] == 0 && frame[i + 2] == 0 && frame[i + 3] == 1)
      last = i + 4;
  g_assert_cmpuint(last + 5, <=, size);
  uint32_t idx = ((uint32_t)(frame[last + 1] & 0x7f) << 21) |
                 ((uint32_t)(frame[last + 2] & 0x7f) << 14) |
                 ((uint32_t)(frame[last + 3] & 0x7f) << 7) | (frame[last + 4] & 0x7f);
  size_t want;
  uint8_t *ref = make_h264(idx, (info->flags & WEFT_FRAME_KEY) != 0, &want);
  rx_frame r = {idx, info->rtp_timestamp, size, (info->flags & WEFT_FRAME_KEY) != 0,
                want == size && memcmp(ref, frame, size) == 0};
  g_free(ref);
  g_mutex_lock(&h264_lock);
  g_array_append_val(h264_rx, r);
  g_mutex_unlock(&h264_lock);
}

static void on_h264_track(weft_pc *pc, weft_track *t, void *ud) {
  on_track(pc, t, ud);
  weft_track_set_on_frame(t, on_h264_frame);
}

static void test_h264(void) {
  sides_new();
  h264_rx = g_array_new(FALSE, FALSE, sizeof(rx_frame));
  weft_pc_set_on_track(S[1].pc, on_h264_track);
  weft_codec h264[] = {WEFT_CODEC_H264};
  weft_track_init init = WEFT_TRACK_INIT;
  init.codecs = h264;
  init.n_codecs = 1;
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, &init);
  char *offer = negotiate(0);
  g_assert_nonnull(strstr(offer, "packetization-mode=1"));
  g_assert_null(strstr(offer, "VP8"));
  weft_free(offer);
  wait_connected();
  weft_codec_params cp = WEFT_CODEC_PARAMS_INIT;
  g_assert_cmpint(weft_track_get_send_codec(video, &cp), ==, WEFT_OK);
  g_assert_cmpint(cp.codec, ==, WEFT_CODEC_H264);
  /* Not an access unit: refused before anything is sent. */
  uint8_t bad[] = {0x12, 0x34, 0x56};
  g_assert_cmpint(weft_track_send_frame(video, bad, sizeof bad, NULL), ==, WEFT_ERR_SYNTAX);
  guint n = 60;
  for (guint i = 0; i < n; i++) {
    size_t len;
    uint8_t *f = make_h264(i, i % 30 == 0, &len);
    weft_frame_info info = WEFT_FRAME_INFO_INIT;
    info.has_rtp_timestamp = 1;
    info.rtp_timestamp = 1000 + i * 3000;
    g_assert_cmpint(weft_track_send_frame(video, f, len, &info), ==, WEFT_OK);
    g_free(f);
    g_usleep(5000);
  }
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  for (;;) {
    g_mutex_lock(&h264_lock);
    guint got = h264_rx->len;
    g_mutex_unlock(&h264_lock);
    if (got >= n || g_get_monotonic_time() > end)
      break;
    g_usleep(5000);
  }
  g_mutex_lock(&h264_lock);
  g_assert_cmpuint(h264_rx->len, ==, n);
  for (guint i = 0; i < n; i++) {
    rx_frame *r = &g_array_index(h264_rx, rx_frame, i);
    g_assert_cmpuint(r->index, ==, i);
    g_assert_true(r->intact);
    g_assert_cmpint(r->key, ==, i % 30 == 0);
    g_assert_cmpuint(r->ts, ==, 1000 + i * 3000);
  }
  g_mutex_unlock(&h264_lock);
  weft_track_unref(video);
  sides_free();
  g_array_unref(h264_rx);
}

/* B echoes every RTP packet of A's video back on the same track
 * (send_rtp: SSRC, payload type, sequence and timestamp rewritten), as
 * examples/echo-server does, with 3 % of B's RTP lost: A gets its own frames
 * back intact, the losses recovered from B's history of forwarded packets. */
static void echo_rtp(weft_track *t, const uint8_t *pkt, size_t size, void *ud) {
  (void)ud;
  g_assert_cmpint(weft_track_send_rtp(t, pkt, size, 0), ==, WEFT_OK);
}

static void on_echo_track(weft_pc *pc, weft_track *t, void *ud) {
  on_track(pc, t, ud);
  weft_track_set_on_frame(t, NULL);
  weft_track_set_on_rtp(t, echo_rtp);
}

static void set_drop30_cb(void *p) { weft__pc_test_set_rtp_drop(p, 30, 777); }

static void test_echo_rtp(void) {
  sides_new();
  weft_pc_set_on_track(S[1].pc, on_echo_track);
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, NULL);
  weft_track_set_user_data(video, &S[0], NULL);
  weft_track_set_on_frame(video, on_frame);
  weft_free(negotiate(0));
  wait_connected();
  weft__context_invoke_sync(CTX, set_drop30_cb, S[1].pc);
  guint n = 90;
  for (guint i = 0; i < n + 5; i++) {
    send_video(video, i);
    g_usleep(1000000 / 60);
  }
  g_assert_true(wait_frames(&S[0], 1, n, 8000));
  /* Timestamps are rebased by the echo: compare differences. */
  g_mutex_lock(&S[0].lock);
  GArray *a = S[0].frames[1];
  uint32_t base = g_array_index(a, rx_frame, 0).ts;
  for (guint i = 0; i < n; i++) {
    rx_frame *r = &g_array_index(a, rx_frame, i);
    g_assert_true(r->intact);
    g_assert_cmpuint(r->index, ==, i);
    g_assert_cmpuint(r->ts - base, ==, i * (90000 / VIDEO_FPS));
  }
  g_mutex_unlock(&S[0].lock);
  weft_track *rv = remote_track(&S[1], WEFT_KIND_VIDEO);
  print_stats("A video (echoed)", video);
  print_stats("B echo (3% loss)", rv);
  weft_track_stats st = WEFT_TRACK_STATS_INIT;
  weft_track_get_stats(rv, &st);
  g_assert_cmpuint(st.retransmitted, >, 0);
  weft_track_get_stats(video, &st);
  g_assert_cmpuint(st.packets_lost, ==, 0);
  weft_track_unref(video);
  sides_free();
}

/* Changes made while an offer is out are not lost: once the answer is in,
 * negotiation-needed fires again (W3C "check if negotiation is needed"),
 * and an unchanged track does not make it fire. */
static void test_change_during_offer(void) {
  sides_new();
  weft_track *audio = weft_pc_add_track(S[0].pc, WEFT_KIND_AUDIO, NULL);
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, NULL);
  g_assert_cmpint(weft_pc_set_local_description(S[0].pc, WEFT_SDP_UNSPEC, NULL), ==, WEFT_OK);
  g_assert_true(wait_int(&S[0].gathered, 1, 5000));
  char *offer = NULL, *answer = NULL;
  weft_pc_get_description(S[0].pc, WEFT_DESC_LOCAL, NULL, &offer);
  g_assert_cmpint(weft_pc_set_remote_description(S[1].pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_create_answer(S[1].pc, &answer), ==, WEFT_OK);
  g_assert_cmpint(weft_pc_set_local_description(S[1].pc, WEFT_SDP_ANSWER, answer), ==, WEFT_OK);
  /* have-local-offer: the event waits. */
  g_assert_cmpint(weft_track_stop(video), ==, WEFT_OK);
  g_assert_cmpint(weft_track_set_direction(audio, WEFT_DIR_SENDONLY), ==, WEFT_OK);
  g_usleep(100000);
  int before = g_atomic_int_get(&S[0].negotiation_needed);
  g_assert_cmpint(weft_pc_set_remote_description(S[0].pc, WEFT_SDP_ANSWER, answer), ==, WEFT_OK);
  g_assert_true(wait_int(&S[0].negotiation_needed, before + 1, 3000));
  weft_free(offer);
  weft_free(answer);
  offer = negotiate(0);
  g_assert_nonnull(strstr(offer, "m=video 0 "));
  g_assert_nonnull(strstr(offer, "a=sendonly"));
  weft_free(offer);
  /* Everything asked for is now in place: no further round. */
  g_usleep(200000);
  int settled = g_atomic_int_get(&S[0].negotiation_needed);
  weft_free(negotiate(0));
  g_usleep(200000);
  g_assert_cmpint(g_atomic_int_get(&S[0].negotiation_needed), ==, settled);
  g_assert_cmpint(weft_track_get_current_direction(audio), ==, WEFT_DIR_SENDONLY);
  weft_track_unref(audio);
  weft_track_unref(video);
  sides_free();
}

/* send_rtp renumbering: a padding-only packet (a bandwidth probe) is not
 * forwarded and leaves no hole, and a source that restarts its numbering
 * (same SSRC, a jump of more than 1000) continues our sequence and timeline:
 * the receiver sees consecutive numbers and never NACKs. */
static GArray *rx_seqs; /* uint32: seq << 16 | (ts - first ts) / 3000 */
static GMutex rx_lock;

static void record_rtp(weft_track *t, const uint8_t *pkt, size_t size, void *ud) {
  (void)t;
  (void)ud;
  g_assert_cmpuint(size, >=, 12);
  uint32_t v[2] = {(uint32_t)pkt[2] << 8 | pkt[3], (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 |
                                                       (uint32_t)pkt[6] << 8 | pkt[7]};
  g_mutex_lock(&rx_lock);
  g_array_append_vals(rx_seqs, v, 2);
  g_mutex_unlock(&rx_lock);
}

static void on_record_track(weft_pc *pc, weft_track *t, void *ud) {
  on_track(pc, t, ud);
  weft_track_set_on_frame(t, NULL);
  weft_track_set_on_rtp(t, record_rtp);
}

static void send_raw(weft_track *t, uint16_t seq, uint32_t ts, bool padding_only) {
  uint8_t p[32] = {0x80,
                   96,
                   (uint8_t)(seq >> 8),
                   (uint8_t)seq,
                   (uint8_t)(ts >> 24),
                   (uint8_t)(ts >> 16),
                   (uint8_t)(ts >> 8),
                   (uint8_t)ts,
                   0x12,
                   0x34,
                   0x56,
                   0x78};
  size_t len = 12;
  if (padding_only) {
    p[0] |= 0x20; /* P: the last byte counts the padding */
    p[len + 3] = 4;
    len += 4;
  } else {
    memcpy(p + len, "\x10\x01\x02\x03", 4);
    len += 4;
  }
  p[1] |= 0x80; /* marker: one-packet frames */
  g_assert_cmpint(weft_track_send_rtp(t, p, len, 0), ==, WEFT_OK);
}

static void test_rtp_rewrite(void) {
  sides_new();
  rx_seqs = g_array_new(FALSE, FALSE, sizeof(uint32_t));
  weft_pc_set_on_track(S[1].pc, on_record_track);
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, NULL);
  weft_free(negotiate(0));
  wait_connected();
  uint32_t ts = 900000;
  for (uint16_t q = 100; q <= 108; q++, ts += 3000) {
    send_raw(video, q, ts, q == 105);
    g_usleep(2000);
  }
  for (uint16_t q = 0; q <= 2; q++, ts += 3000) { /* restart: numbering and clock anew */
    send_raw(video, q, q * 3000, false);
    g_usleep(2000);
  }
  gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  for (;;) {
    g_mutex_lock(&rx_lock);
    guint n = rx_seqs->len / 2;
    g_mutex_unlock(&rx_lock);
    if (n >= 11 || g_get_monotonic_time() > end)
      break;
    g_usleep(5000);
  }
  g_usleep(300000); /* a NACK for a hole would have gone out by now */
  g_mutex_lock(&rx_lock);
  g_assert_cmpuint(rx_seqs->len / 2, ==, 11); /* the padding-only packet is not forwarded */
  for (guint i = 1; i < 11; i++) {
    uint32_t prev = g_array_index(rx_seqs, uint32_t, 2 * (i - 1));
    uint32_t seq = g_array_index(rx_seqs, uint32_t, 2 * i);
    uint32_t pts = g_array_index(rx_seqs, uint32_t, 2 * (i - 1) + 1);
    uint32_t t = g_array_index(rx_seqs, uint32_t, 2 * i + 1);
    g_assert_cmpuint(seq, ==, (prev + 1) & 0xffff);
    g_assert_cmpint((int32_t)(t - pts), >, 0); /* the timeline only moves forward */
  }
  g_mutex_unlock(&rx_lock);
  weft_track_stats st = WEFT_TRACK_STATS_INIT;
  weft_track_get_stats(remote_track(&S[1], WEFT_KIND_VIDEO), &st);
  g_assert_cmpuint(st.nacks_sent, ==, 0);
  g_assert_cmpuint(st.packets_received, ==, 11);
  weft_track_unref(video);
  sides_free();
  g_array_unref(rx_seqs);
}

static void test_stop(void) {
  sides_new();
  weft_track *audio = weft_pc_add_track(S[0].pc, WEFT_KIND_AUDIO, NULL);
  weft_track *video = weft_pc_add_track(S[0].pc, WEFT_KIND_VIDEO, NULL);
  weft_free(negotiate(0));
  wait_connected();
  g_assert_cmpint(weft_track_stop(video), ==, WEFT_OK);
  g_assert_cmpint(weft_track_stop(video), ==, WEFT_OK); /* idempotent */
  g_assert_cmpint(weft_track_get_current_direction(video), ==, WEFT_DIR_STOPPED);
  size_t n;
  uint8_t *f = make_video(0, true, &n);
  g_assert_cmpint(weft_track_send_frame(video, f, n, NULL), ==, WEFT_ERR_INVALID_STATE);
  g_free(f);
  char *offer = negotiate(0);
  g_assert_nonnull(strstr(offer, "m=video 0 "));
  weft_free(offer);
  gint64 end = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  weft_track *rv = remote_track(&S[1], WEFT_KIND_VIDEO);
  g_assert_nonnull(rv);
  while (weft_track_get_current_direction(rv) != WEFT_DIR_STOPPED && g_get_monotonic_time() < end)
    g_usleep(5000);
  g_assert_cmpint(weft_track_get_current_direction(rv), ==, WEFT_DIR_STOPPED);
  for (guint i = 0; i < 5; i++)
    send_audio(audio, i);
  g_assert_true(wait_frames(&S[1], 0, 5, 3000));
  weft_track_unref(audio);
  weft_track_unref(video);
  sides_free();
}

static void test_errors(void) {
  sides_new();
  weft_codec wrong[] = {WEFT_CODEC_VP8};
  weft_track_init init = WEFT_TRACK_INIT;
  init.codecs = wrong;
  init.n_codecs = 1;
  g_assert_null(weft_pc_add_track(S[0].pc, WEFT_KIND_AUDIO, &init));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  g_assert_null(weft_pc_add_track(S[0].pc, (weft_media_kind)7, NULL));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  weft_codec twice[] = {WEFT_CODEC_OPUS, WEFT_CODEC_OPUS};
  init.codecs = twice;
  init.n_codecs = 2;
  g_assert_null(weft_pc_add_track(S[0].pc, WEFT_KIND_AUDIO, &init));
  weft_codec pcmu[] = {WEFT_CODEC_PCMU};
  init.codecs = pcmu;
  init.n_codecs = 1;
  weft_track *audio = weft_pc_add_track(S[0].pc, WEFT_KIND_AUDIO, &init);
  g_assert_nonnull(audio);
  uint8_t junk[40] = {0};
  g_assert_cmpint(weft_track_send_frame(audio, junk, sizeof junk, NULL), ==,
                  WEFT_ERR_INVALID_STATE);
  g_assert_cmpint(weft_track_send_rtp(audio, junk, 5, 0), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft_track_send_rtcp(audio, junk, sizeof junk), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft_track_set_direction(audio, WEFT_DIR_STOPPED), ==, WEFT_ERR_INVALID_ARG);
  char *offer = negotiate(0);
  /* Only PCMU was asked for. */
  g_assert_nonnull(strstr(offer, "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\n") ||
                   strstr(offer, " UDP/TLS/RTP/SAVPF 0\r\n"));
  weft_free(offer);
  wait_connected();
  weft_codec_params cp = WEFT_CODEC_PARAMS_INIT;
  g_assert_cmpint(weft_track_get_send_codec(audio, &cp), ==, WEFT_OK);
  g_assert_cmpint(cp.codec, ==, WEFT_CODEC_PCMU);
  g_assert_cmpint(cp.payload_type, ==, 0);
  /* G.711 frames are sent and delivered as they are. */
  uint8_t g711[160];
  memset(g711, 0xd5, sizeof g711);
  g_assert_cmpint(weft_track_send_frame(audio, g711, sizeof g711, NULL), ==, WEFT_OK);
  g_assert_true(wait_frames(&S[1], 0, 1, 3000));
  /* Malformed RTP given to send_rtp. */
  junk[0] = 0x80;
  g_assert_cmpint(weft_track_send_rtp(audio, junk, 11, 0), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft_track_stop(audio), ==, WEFT_OK);
  g_assert_cmpint(weft_track_set_direction(audio, WEFT_DIR_SENDONLY), ==, WEFT_ERR_INVALID_STATE);
  weft_track_unref(audio);
  sides_free();
}

static char *read_fixture(const char *name) {
  char *path = g_build_filename(WEFT_TEST_DATA_DIR, "sdp", name, NULL);
  char *text = NULL;
  g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
  g_free(path);
  return text;
}

/* Answers to offers captured from the two reference peers: every section
 * accepted in one BUNDLE, the offer's payload types, a=ssrc for what weft
 * sends, and one on_track per media section. */
static void answer_fixture(const char *name, const char *want_group, const char *want_video_pt) {
  sides_new();
  char *offer = read_fixture(name);
  g_assert_cmpint(weft_pc_set_remote_description(S[1].pc, WEFT_SDP_OFFER, offer), ==, WEFT_OK);
  char *answer = NULL;
  g_assert_cmpint(weft_pc_create_answer(S[1].pc, &answer), ==, WEFT_OK);
  g_assert_nonnull(strstr(answer, want_group));
  g_assert_nonnull(strstr(answer, "a=rtpmap:111 opus/48000/2") ||
                   strstr(answer, "a=rtpmap:96 opus/48000/2"));
  g_assert_nonnull(strstr(answer, want_video_pt));
  g_assert_nonnull(strstr(answer, "a=rtcp-mux"));
  g_assert_nonnull(strstr(answer, "a=setup:active"));
  g_assert_nonnull(strstr(answer, " cname:"));
  g_assert_null(strstr(answer, "m=audio 0 "));
  g_assert_null(strstr(answer, "m=video 0 "));
  g_assert_null(strstr(answer, "rtx"));
  g_assert_null(strstr(answer, "transport-cc"));
  g_assert_cmpint(weft_pc_set_local_description(S[1].pc, WEFT_SDP_ANSWER, answer), ==, WEFT_OK);
  gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
  while ((!remote_track(&S[1], WEFT_KIND_AUDIO) || !remote_track(&S[1], WEFT_KIND_VIDEO)) &&
         g_get_monotonic_time() < end)
    g_usleep(5000);
  g_assert_nonnull(remote_track(&S[1], WEFT_KIND_AUDIO));
  g_assert_nonnull(remote_track(&S[1], WEFT_KIND_VIDEO));
  weft_codec_params cp = WEFT_CODEC_PARAMS_INIT;
  g_assert_cmpint(weft_track_get_send_codec(remote_track(&S[1], WEFT_KIND_VIDEO), &cp), ==,
                  WEFT_OK);
  g_assert_cmpint(cp.codec, ==, WEFT_CODEC_VP8);
  weft_free(answer);
  g_free(offer);
  sides_free();
}

static void test_answer_chromium(void) {
  answer_fixture("chromium-av-data-offer.sdp", "a=group:BUNDLE 0 1 2", "a=rtpmap:96 VP8/90000");
}

static void test_answer_aiortc(void) {
  answer_fixture("aiortc-av-offer.sdp", "a=group:BUNDLE 0 1", "a=rtpmap:97 VP8/90000");
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/media/av_data_bundle", test_av_data_bundle);
  g_test_add_func("/media/nack_recovery", test_nack_recovery);
  g_test_add_func("/media/pli", test_pli);
  g_test_add_func("/media/renegotiate", test_renegotiate);
  g_test_add_func("/media/stop", test_stop);
  g_test_add_func("/media/rtp_rewrite", test_rtp_rewrite);
  g_test_add_func("/media/change_during_offer", test_change_during_offer);
  g_test_add_func("/media/echo_rtp", test_echo_rtp);
  g_test_add_func("/media/h264", test_h264);
  g_test_add_func("/media/answerer_offers", test_answerer_offers);
  g_test_add_func("/media/data_later", test_data_later);
  g_test_add_func("/media/errors", test_errors);
  g_test_add_func("/media/answer_chromium", test_answer_chromium);
  g_test_add_func("/media/answer_aiortc", test_answer_aiortc);
  return g_test_run();
}
