/*
 * examples/echo-client — --media: VP8 test pattern and Opus tone out, the
 * echoes decoded (see media.h and doc/interop.md).
 */
#include "media.h"

#include "jsonl.h"
#include "media_codec.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The pacing timer. Frames are due on a fixed schedule from the start
 * (frame n of video at n/30 s, of audio at n*20 ms); each tick sends what is
 * due, so a late tick sends a little burst instead of drifting. */
#define TICK_MS 5
/* How long the echoes of the last frames may take (the contract's tail). */
#define TAIL_US (3 * G_USEC_PER_SEC)
/* A frame handed to weft this long after its time counts as late. */
#define LATE_US (40 * 1000)

typedef struct kind_state {
  int video;
  weft_track *track;
  const char *name;     /* "video" / "audio" */
  uint32_t next_index;  /* next frame of the pattern or tone */
  uint32_t total;       /* frames to send */
  uint32_t ts_base;     /* RTP timestamp of frame 0 (random, RFC 3550 5.1) */
  uint64_t frames_sent; /* handed to weft (the encoder may drop a picture) */
  uint64_t keyframes_sent;
  uint64_t frames_received, frames_decoded, decode_errors;
  uint64_t skipped_before_key; /* video: deltas before the first keyframe */
  int got_key;
  int force_key;                        /* video: the next picture is a keyframe */
  uint64_t keyframes_requested;         /* on_keyframe_request */
  uint64_t pattern_read, pattern_order; /* video: index readable / in sending order */
  int64_t last_pattern;
  double rms_sum; /* audio: level of what was decoded */
  /* How late frames were handed to weft against their schedule (a busy
   * thread shows here, not in weft): the worst, and how many by > 40 ms. */
  gint64 max_late_us;
  uint64_t late_frames;
  char *first_error;
} kind_state;

struct ec_media {
  weft_pc *pc;
  gint64 t0_us;
  double seconds;
  long min_decoded;
  ec_media_done_fn done;
  void *user_data;
  mc_video_enc *venc;
  mc_video_dec *vdec;
  mc_audio_enc *aenc;
  mc_audio_dec *adec;
  kind_state v, a;
  guint timer;
  gint64 start_us, tail_end_us;
  int started, sending_done, finished, stopped;
  char *error;
};

static gint64 now_us(void) { return g_get_monotonic_time(); }

static GString *ev_new(ec_media *m, const char *ev) {
  GString *s = jl_new();
  jl_num(s, "t", (double)(now_us() - m->t0_us) / 1e6, 3);
  jl_str(s, "ev", ev);
  jl_int(s, "pc", 1);
  return s;
}

static void ev_emit(GString *s) { jl_print(s, stderr); }

static char *track_mid(weft_track *t) {
  char *mid = NULL;
  if (weft_track_get_mid(t, &mid) != WEFT_OK)
    return NULL;
  return mid;
}

static const char *codec_name(weft_track *t) {
  weft_codec_params p = WEFT_CODEC_PARAMS_INIT;
  if (weft_track_get_send_codec(t, &p) != WEFT_OK)
    return NULL;
  return weft_codec_to_string(p.codec);
}

/* ===== The end ============================================================= */

static void media_event(ec_media *m, kind_state *k) {
  weft_track_stats st = WEFT_TRACK_STATS_INIT;
  weft_track_get_stats(k->track, &st);
  GString *s = ev_new(m, "media");
  char *mid = track_mid(k->track);
  jl_str(s, "mid", mid);
  weft_free(mid);
  jl_str(s, "kind", k->name);
  jl_uint(s, "frames_sent", k->frames_sent);
  jl_uint(s, "frames_received", k->frames_received);
  jl_uint(s, "frames_decoded", k->frames_decoded);
  jl_uint(s, "decode_errors", k->decode_errors);
  if (k->video) {
    jl_uint(s, "keyframes_sent", k->keyframes_sent);
    jl_uint(s, "keyframes_requested_by_remote", k->keyframes_requested);
    jl_uint(s, "skipped_before_keyframe", k->skipped_before_key);
    /* Pictures whose frame counter could be read back, and how many of those
     * came in sending order: the echo is our pattern, not just a picture. */
    jl_uint(s, "pattern_read", k->pattern_read);
    jl_uint(s, "pattern_in_order", k->pattern_order);
  } else {
    jl_num(s, "rms", k->frames_decoded ? k->rms_sum / (double)k->frames_decoded : 0, 3);
  }
  jl_num(s, "max_late_ms", (double)k->max_late_us / 1000.0, 1);
  jl_uint(s, "late_frames", k->late_frames);
  jl_uint(s, "bytes_sent", st.bytes_sent);
  jl_uint(s, "packets_sent", st.packets_sent);
  jl_uint(s, "frames_dropped", st.frames_dropped);
  jl_uint(s, "packets_lost", st.packets_lost);
  jl_uint(s, "nacks_sent", st.nacks_sent);
  jl_uint(s, "nacks_received", st.nacks_received);
  jl_uint(s, "retransmitted", st.retransmitted);
  jl_uint(s, "srtp_failures", st.srtp_failures);
  if (k->first_error)
    jl_str(s, "first_error", k->first_error);
  ev_emit(s);
}

static void finish(ec_media *m, char *error) {
  if (m->finished) {
    g_free(error);
    return;
  }
  m->finished = 1;
  if (m->timer) {
    g_source_remove(m->timer);
    m->timer = 0;
  }
  if (!error) {
    kind_state *ks[2] = {&m->v, &m->a};
    for (int i = 0; i < 2 && !error; i++) {
      kind_state *k = ks[i];
      if (k->decode_errors)
        error = g_strdup_printf("media: %" G_GUINT64_FORMAT " %s decode error(s), the first: %s",
                                k->decode_errors, k->name, k->first_error);
      else if (k->frames_decoded < (uint64_t)m->min_decoded)
        error = g_strdup_printf("media: %" G_GUINT64_FORMAT " %s frames decoded (%" G_GUINT64_FORMAT
                                " received, %" G_GUINT64_FORMAT " sent), want at least %ld",
                                k->frames_decoded, k->name, k->frames_received, k->frames_sent,
                                m->min_decoded);
    }
  }
  if (m->started) {
    media_event(m, &m->v);
    media_event(m, &m->a);
  }
  m->error = error;
  if (m->done)
    m->done(m->user_data, error);
}

static void G_GNUC_PRINTF(2, 3) media_fail(ec_media *m, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  finish(m, msg);
}

/* ===== Sending ============================================================== */

static int send_one(ec_media *m, kind_state *k) {
  const uint8_t *data = NULL;
  size_t size = 0;
  int key = 0;
  const char *err = NULL;
  uint32_t idx = k->next_index++;
  int rc;
  if (k->video)
    rc = mc_video_enc_encode(m->venc, idx, k->force_key || idx == 0, &data, &size, &key, &err);
  else
    rc = mc_audio_enc_encode(m->aenc, idx, &data, &size, &err);
  if (rc < 0) {
    media_fail(m, "media: encoding %s frame %u: %s", k->name, idx, err ? err : "?");
    return -1;
  }
  if (size == 0)
    return 0; /* rate control dropped this picture; its time slot passes */
  if (key)
    k->force_key = 0;
  weft_frame_info info = WEFT_FRAME_INFO_INIT;
  info.has_rtp_timestamp = 1;
  info.rtp_timestamp =
      k->ts_base + idx * (k->video ? MC_VIDEO_RTP_CLOCK / MC_VIDEO_FPS
                                   : MC_AUDIO_RTP_CLOCK / 1000 * MC_AUDIO_FRAME_MS);
  info.flags = key ? WEFT_FRAME_KEY : 0;
  gint64 late = now_us() - m->start_us -
                (gint64)idx * G_USEC_PER_SEC / (k->video ? MC_VIDEO_FPS : 1000 / MC_AUDIO_FRAME_MS);
  k->max_late_us = MAX(k->max_late_us, late);
  k->late_frames += late > LATE_US;
  rc = weft_track_send_frame(k->track, data, size, &info);
  if (rc < 0) {
    media_fail(m, "media: sending %s frame %u (%zu bytes): %s (%s)", k->name, idx, size,
               weft_err_name(rc), weft_last_error_message());
    return -1;
  }
  k->frames_sent++;
  k->keyframes_sent += key != 0;
  return 0;
}

/* Sends the frames of @k due at @elapsed_us after the start. */
static int send_due(ec_media *m, kind_state *k, gint64 elapsed_us) {
  uint64_t per_s = k->video ? MC_VIDEO_FPS : 1000 / MC_AUDIO_FRAME_MS;
  uint64_t due = (uint64_t)elapsed_us * per_s / G_USEC_PER_SEC + 1;
  if (due > k->total)
    due = k->total;
  while (k->next_index < due && !m->finished)
    if (send_one(m, k) < 0)
      return -1;
  return 0;
}

static gboolean on_tick(void *ud) {
  ec_media *m = ud;
  gint64 now = now_us();
  if (!m->sending_done) {
    gint64 elapsed = now - m->start_us;
    /* Audio first and again after the video: a picture takes milliseconds
     * to encode (more under a sanitizer or a busy CPU), an Opus frame
     * microseconds, and a late audio frame is what a listener hears. */
    if (send_due(m, &m->a, elapsed) < 0 || send_due(m, &m->v, elapsed) < 0 ||
        send_due(m, &m->a, now_us() - m->start_us) < 0) {
      m->timer = 0; /* finish() removed this very source already */
      return G_SOURCE_REMOVE;
    }
    if (m->v.next_index >= m->v.total && m->a.next_index >= m->a.total) {
      m->sending_done = 1;
      m->tail_end_us = now + TAIL_US;
      GString *s = ev_new(m, "media-sent");
      jl_uint(s, "video_frames", m->v.frames_sent);
      jl_uint(s, "audio_frames", m->a.frames_sent);
      jl_num(s, "seconds", (double)(now - m->start_us) / 1e6, 3);
      ev_emit(s);
    }
    return G_SOURCE_CONTINUE;
  }
  /* The tail: over once every frame sent has come back, or after TAIL_US. */
  if (now >= m->tail_end_us ||
      (m->v.frames_received >= m->v.frames_sent && m->a.frames_received >= m->a.frames_sent)) {
    m->timer = 0;
    finish(m, NULL);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

/* ===== Receiving ============================================================ */

static void note_error(kind_state *k, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void note_error(kind_state *k, const char *fmt, ...) {
  k->decode_errors++;
  if (k->first_error)
    return;
  va_list ap;
  va_start(ap, fmt);
  k->first_error = g_strdup_vprintf(fmt, ap);
  va_end(ap);
}

static void on_frame(weft_track *t, const uint8_t *frame, size_t size, const weft_frame_info *info,
                     void *ud) {
  ec_media *m = ud;
  if (m->stopped || m->finished)
    return;
  int video = weft_track_get_kind(t) == WEFT_KIND_VIDEO;
  kind_state *k = video ? &m->v : &m->a;
  k->frames_received++;
  const char *err = NULL;
  if (video) {
    if (info->codec != WEFT_CODEC_VP8) {
      note_error(k, "frame #%" G_GUINT64_FORMAT " has codec %s, not VP8", k->frames_received,
                 weft_codec_to_string(info->codec));
      return;
    }
    /* A decoder starts at a keyframe; what comes before it cannot be decoded
     * (any receiver waits the same way). */
    if (!k->got_key && !(info->flags & WEFT_FRAME_KEY)) {
      k->skipped_before_key++;
      return;
    }
    k->got_key = 1;
    mc_video_frame_info vi = {0, 0, -1};
    int n = mc_video_dec_decode(m->vdec, frame, size, &vi, &err);
    if (n < 0) {
      note_error(k, "VP8 frame #%" G_GUINT64_FORMAT " (%zu bytes%s): %s", k->frames_received, size,
                 info->flags & WEFT_FRAME_KEY ? ", key" : "", err ? err : "?");
      return;
    }
    k->frames_decoded += (uint64_t)n;
    if (n > 0 && vi.pattern_index >= 0) {
      k->pattern_read++;
      /* The counter has 16 bits: compare modulo 2^16. */
      if (k->pattern_read == 1 || (int16_t)(uint16_t)(vi.pattern_index - k->last_pattern) > 0)
        k->pattern_order++;
      k->last_pattern = vi.pattern_index;
    }
  } else {
    if (info->codec != WEFT_CODEC_OPUS) {
      note_error(k, "frame #%" G_GUINT64_FORMAT " has codec %s, not opus", k->frames_received,
                 weft_codec_to_string(info->codec));
      return;
    }
    double rms = 0;
    int n = mc_audio_dec_decode(m->adec, frame, size, &rms, &err);
    if (n < 0) {
      note_error(k, "Opus packet #%" G_GUINT64_FORMAT " (%zu bytes): %s", k->frames_received, size,
                 err ? err : "?");
      return;
    }
    k->frames_decoded++;
    k->rms_sum += rms;
  }
}

static void on_keyframe_request(weft_track *t, void *ud) {
  ec_media *m = ud;
  if (m->stopped || weft_track_get_kind(t) != WEFT_KIND_VIDEO)
    return;
  m->v.keyframes_requested++;
  m->v.force_key = 1;
}

/* ===== Life cycle =========================================================== */

static int add_track(ec_media *m, kind_state *k, int video, char **error) {
  k->video = video;
  k->name = video ? "video" : "audio";
  k->last_pattern = -1;
  k->ts_base = g_random_int();
  weft_codec codec = video ? WEFT_CODEC_VP8 : WEFT_CODEC_OPUS;
  weft_track_init init = WEFT_TRACK_INIT;
  init.codecs = &codec;
  init.n_codecs = 1;
  init.stream_id = "echo-client";
  init.track_id = k->name;
  k->track = weft_pc_add_track(m->pc, video ? WEFT_KIND_VIDEO : WEFT_KIND_AUDIO, &init);
  if (!k->track) {
    *error = g_strdup_printf("adding the %s track: %s (%s)", k->name,
                             weft_err_name(weft_last_error()), weft_last_error_message());
    return -1;
  }
  weft_track_set_user_data(k->track, m, NULL);
  weft_track_set_on_frame(k->track, on_frame);
  if (video)
    weft_track_set_on_keyframe_request(k->track, on_keyframe_request);
  return 0;
}

ec_media *ec_media_new(weft_pc *pc, gint64 t0_us, double seconds, long min_decoded,
                       ec_media_done_fn done, void *user_data, char **error) {
  ec_media *m = g_new0(ec_media, 1);
  const char *err = NULL;
  m->pc = pc;
  m->t0_us = t0_us;
  m->seconds = seconds;
  m->min_decoded = min_decoded;
  m->done = done;
  m->user_data = user_data;
  if (!(m->venc = mc_video_enc_new(&err)) || !(m->vdec = mc_video_dec_new(&err)) ||
      !(m->aenc = mc_audio_enc_new(&err)) || !(m->adec = mc_audio_dec_new(&err))) {
    *error = g_strdup_printf("media: %s", err ? err : "codec initialisation failed");
    ec_media_free(m);
    return NULL;
  }
  if (add_track(m, &m->a, 0, error) < 0 || add_track(m, &m->v, 1, error) < 0) {
    ec_media_free(m);
    return NULL;
  }
  m->v.total = (uint32_t)(seconds * MC_VIDEO_FPS + 0.5);
  m->a.total = (uint32_t)(seconds * 1000 / MC_AUDIO_FRAME_MS + 0.5);
  return m;
}

void ec_media_start(ec_media *m) {
  if (m->started || m->finished || m->stopped)
    return;
  m->started = 1;
  /* The answer must let both tracks send and receive: an echo needs both. */
  kind_state *ks[2] = {&m->a, &m->v};
  for (int i = 0; i < 2; i++) {
    kind_state *k = ks[i];
    weft_direction d = weft_track_get_current_direction(k->track);
    char *mid = track_mid(k->track);
    const char *codec = codec_name(k->track);
    GString *s = ev_new(m, "track");
    jl_str(s, "mid", mid);
    jl_str(s, "kind", k->name);
    jl_str(s, "codec", codec);
    jl_str(s, "direction", weft_direction_to_string(d));
    ev_emit(s);
    weft_free(mid);
    if (d != WEFT_DIR_SENDRECV) {
      media_fail(m, "media: the answer made the %s track %s (want sendrecv)", k->name,
                 weft_direction_to_string(d));
      return;
    }
  }
  m->start_us = now_us();
  m->timer = g_timeout_add(TICK_MS, on_tick, m);
  on_tick(m);
}

int ec_media_finished(const ec_media *m) { return m->finished; }

void ec_media_describe(const ec_media *m, GString *out) {
  g_string_append_printf(out,
                         "media %s: video sent %" G_GUINT64_FORMAT
                         "/%u, received %" G_GUINT64_FORMAT ", decoded %" G_GUINT64_FORMAT
                         "; audio sent %" G_GUINT64_FORMAT "/%u, received %" G_GUINT64_FORMAT
                         ", decoded %" G_GUINT64_FORMAT,
                         !m->started       ? "not started (connection not up)"
                         : m->sending_done ? "in the tail"
                                           : "sending",
                         m->v.frames_sent, m->v.total, m->v.frames_received, m->v.frames_decoded,
                         m->a.frames_sent, m->a.total, m->a.frames_received, m->a.frames_decoded);
}

static void kind_result(kind_state *k, GString *out) {
  weft_track_stats st = WEFT_TRACK_STATS_INIT;
  weft_track_get_stats(k->track, &st);
  GString *s = jl_new();
  const char *codec = codec_name(k->track);
  jl_str(s, "codec", codec ? codec : (k->video ? "VP8" : "opus"));
  jl_uint(s, "frames_sent", k->frames_sent);
  jl_uint(s, "frames_received", k->frames_received);
  jl_uint(s, "frames_decoded", k->frames_decoded);
  jl_uint(s, "decode_errors", k->decode_errors);
  if (k->video)
    jl_uint(s, "keyframes_requested_by_remote", k->keyframes_requested);
  jl_uint(s, "packets_sent", st.packets_sent);
  jl_uint(s, "packets_received", st.packets_received);
  jl_num(s, "max_late_ms", (double)k->max_late_us / 1000.0, 1);
  jl_uint(s, "late_frames", k->late_frames);
  if (k->video) {
    jl_uint(s, "nacks_sent", st.nacks_sent);
    jl_uint(s, "plis_sent", st.plis_sent);
  }
  g_string_append_c(s, '}');
  jl_raw(out, k->name, s);
}

void ec_media_result(ec_media *m, GString *result) {
  GString *s = jl_new();
  /* When the counters below were read (Unix ms): a peer's own counts taken
   * later include packets still on their way or sent afterwards. */
  jl_uint(s, "stats_wall_ms", (uint64_t)(g_get_real_time() / 1000));
  kind_result(&m->v, s);
  kind_result(&m->a, s);
  g_string_append_c(s, '}');
  jl_raw(result, "media", s);
}

void ec_media_stop(ec_media *m) {
  if (!m)
    return;
  m->stopped = 1;
  if (m->timer) {
    g_source_remove(m->timer);
    m->timer = 0;
  }
}

void ec_media_free(ec_media *m) {
  if (!m)
    return;
  ec_media_stop(m);
  kind_state *ks[2] = {&m->v, &m->a};
  for (int i = 0; i < 2; i++) {
    weft_track_unref(ks[i]->track);
    g_free(ks[i]->first_error);
  }
  mc_video_enc_free(m->venc);
  mc_video_dec_free(m->vdec);
  mc_audio_enc_free(m->aenc);
  mc_audio_dec_free(m->adec);
  g_free(m->error);
  g_free(m);
}
