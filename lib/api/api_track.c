/*
 * Public track (transceiver) functions. A weft_track points at its pc
 * weakly, like a weft_dc: every call takes a memory hold on the pc under the
 * track's lock first, and a track outliving its pc is inert.
 *
 * Sends from application threads are checked here (state, framing) so that
 * errors are returned synchronously, then copied into the pc's media queue
 * and packetized/protected on the engine thread (pc/media.c).
 */
#include <string.h>

#include "pc/pc.h"

#define CHECK_TRACK(t)                                                                             \
  do {                                                                                             \
    if (!(t))                                                                                      \
      return weft__error(WEFT_ERR_INVALID_ARG, "%s: track is NULL", __func__);                     \
  } while (0)

#define MAX_FRAME (16u * 1024 * 1024)

static weft_pc *track_pc_hold(weft_track *t) {
  g_mutex_lock(&t->lock);
  weft_pc *pc = t->pc;
  if (pc)
    weft__pc_hold(pc);
  g_mutex_unlock(&t->lock);
  return pc;
}

weft_track *weft_track_ref(weft_track *t) {
  if (t)
    weft__ref_inc(&t->refs);
  return t;
}

void weft_track_unref(weft_track *t) {
  if (!t || !weft__ref_dec(&t->refs))
    return;
  weft__track_drop_events(t);
  if (t->user_destroy)
    t->user_destroy(t->user_data);
  if (t->hist) {
    for (size_t i = 0; i < WEFT__HIST_SIZE; i++)
      g_free(t->hist[i].buf);
    g_free(t->hist);
  }
  weft__media_assembler_free(t->assembler);
  g_array_free(t->missing, TRUE);
  g_free(t->prefs_jsep);
  g_free(t->mid);
  g_free(t->stream_id);
  g_free(t->track_id);
  g_free(t->cname);
  g_mutex_clear(&t->lock);
  g_free(t);
  weft__live_dec();
}

/* ---- Creation ---------------------------------------------------------------- */

typedef struct {
  weft_pc *pc;
  weft_track *t;
  int rc;
  weft_direction dir;
} track_call;

static void add_cb(void *p) {
  track_call *c = p;
  c->rc = weft__pc_engine_add_track(c->pc, c->t);
}

static bool codec_kind_ok(weft_media_kind kind, weft_codec c) {
  if (kind == WEFT_KIND_AUDIO)
    return c == WEFT_CODEC_OPUS || c == WEFT_CODEC_PCMU || c == WEFT_CODEC_PCMA;
  return c == WEFT_CODEC_VP8 || c == WEFT_CODEC_H264;
}

weft_track *weft_pc_add_track(weft_pc *pc, weft_media_kind kind, const weft_track_init *init) {
  weft_track_init in = WEFT_TRACK_INIT;
  if (!pc) {
    weft__error(WEFT_ERR_INVALID_ARG, "weft_pc_add_track: pc is NULL");
    return NULL;
  }
  if (kind != WEFT_KIND_AUDIO && kind != WEFT_KIND_VIDEO) {
    weft__error(WEFT_ERR_INVALID_ARG, "weft_pc_add_track: unknown kind %d", (int)kind);
    return NULL;
  }
  if (init) {
    if (init->struct_size < offsetof(weft_track_init, rtcp_feedback) + sizeof(int)) {
      weft__error(WEFT_ERR_INVALID_ARG, "weft_track_init.struct_size is %u",
                  (unsigned)init->struct_size);
      return NULL;
    }
    size_t n = init->struct_size < sizeof in ? init->struct_size : sizeof in;
    memcpy(&in, init, n);
  }
  if ((int)in.direction < WEFT_DIR_SENDRECV || in.direction >= WEFT_DIR_STOPPED) {
    weft__error(WEFT_ERR_INVALID_ARG, "weft_pc_add_track: direction %d", (int)in.direction);
    return NULL;
  }
  if (in.n_codecs && !in.codecs) {
    weft__error(WEFT_ERR_INVALID_ARG, "weft_pc_add_track: n_codecs without codecs");
    return NULL;
  }
  for (size_t i = 0; i < in.n_codecs; i++) {
    if (!codec_kind_ok(kind, in.codecs[i])) {
      weft__error(WEFT_ERR_INVALID_ARG, "weft_pc_add_track: codec %d is not a %s codec",
                  (int)in.codecs[i], kind == WEFT_KIND_AUDIO ? "audio" : "video");
      return NULL;
    }
    for (size_t j = 0; j < i; j++)
      if (in.codecs[j] == in.codecs[i]) {
        weft__error(WEFT_ERR_INVALID_ARG, "weft_pc_add_track: codec %s listed twice",
                    weft_codec_to_string(in.codecs[i]));
        return NULL;
      }
  }
  weft_track *t = weft__track_new(kind, &in);
  track_call c = {pc, t, WEFT_OK, 0};
  int rc = weft__context_invoke_sync(pc->ctx, add_cb, &c);
  if (rc < 0 || c.rc < 0) {
    weft_track_unref(t);
    return NULL;
  }
  weft__error_clear();
  return t; /* the caller's reference; the pc holds its own */
}

/* ---- Stop / direction ---------------------------------------------------------- */

static void stop_cb(void *p) {
  track_call *c = p;
  c->rc = weft__track_engine_stop(c->pc, c->t);
}

int weft_track_stop(weft_track *t) {
  CHECK_TRACK(t);
  atomic_store(&t->stopped_by_app, true);
  weft_pc *pc = track_pc_hold(t);
  if (pc) {
    track_call c = {pc, t, WEFT_OK, 0};
    if (!atomic_load(&pc->closed))
      weft__context_invoke_sync(pc->ctx, stop_cb, &c);
    /* No callback of the track after this returns (weft.h): one that
     * checked stopped_by_app before it was set may still be running on the
     * callback thread; its events belong to the pc (as weft_dc_close). */
    weft__context_wait_idle(pc->ctx, pc);
    weft__pc_release(pc);
  }
  atomic_store(&t->stopped, true);
  atomic_store(&t->can_send, false);
  atomic_store(&t->current_direction, WEFT_DIR_STOPPED);
  atomic_store(&t->direction, WEFT_DIR_STOPPED);
  weft__error_clear();
  return WEFT_OK;
}

static void dir_cb(void *p) {
  track_call *c = p;
  c->rc = weft__track_engine_set_direction(c->pc, c->t, c->dir);
}

int weft_track_set_direction(weft_track *t, weft_direction d) {
  CHECK_TRACK(t);
  if ((int)d < WEFT_DIR_SENDRECV || d >= WEFT_DIR_STOPPED)
    return weft__error(WEFT_ERR_INVALID_ARG, "direction %d (use weft_track_stop to stop a track)",
                       (int)d);
  if (atomic_load(&t->stopped))
    return weft__error(WEFT_ERR_INVALID_STATE, "the track is stopped");
  weft_pc *pc = track_pc_hold(t);
  if (!pc)
    return weft__error(WEFT_ERR_CLOSED, "the track's peer connection is gone");
  track_call c = {pc, t, WEFT_OK, d};
  int rc = atomic_load(&pc->closed) ? weft__error(WEFT_ERR_CLOSED, "peer connection is closed")
                                    : weft__context_invoke_sync(pc->ctx, dir_cb, &c);
  weft__pc_release(pc);
  if (rc < 0)
    return rc;
  if (c.rc < 0)
    return c.rc;
  weft__error_clear();
  return WEFT_OK;
}

weft_direction weft_track_get_direction(const weft_track *t) {
  return t ? (weft_direction)atomic_load(&t->direction) : WEFT_DIR_STOPPED;
}

weft_direction weft_track_get_current_direction(const weft_track *t) {
  return t ? (weft_direction)atomic_load(&t->current_direction) : WEFT_DIR_STOPPED;
}

weft_media_kind weft_track_get_kind(const weft_track *t) {
  return t ? t->kind : (weft_media_kind)0;
}

int weft_track_get_mid(weft_track *t, char **mid_out) {
  CHECK_TRACK(t);
  if (!mid_out)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_track_get_mid: mid_out is NULL");
  g_mutex_lock(&t->lock);
  *mid_out = g_strdup(t->mid);
  g_mutex_unlock(&t->lock);
  weft__error_clear();
  return WEFT_OK;
}

int weft_track_get_send_codec(weft_track *t, weft_codec_params *out) {
  CHECK_TRACK(t);
  if (!out || out->struct_size < sizeof *out)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_track_get_send_codec: bad out struct");
  g_mutex_lock(&t->lock);
  weft_codec_params p = t->send_params;
  g_mutex_unlock(&t->lock);
  if (p.codec == WEFT_CODEC_NONE)
    return weft__error(WEFT_ERR_INVALID_STATE, "the track has no negotiated codec yet");
  *out = p;
  out->struct_size = sizeof *out;
  weft__error_clear();
  return WEFT_OK;
}

int weft_track_get_stats(weft_track *t, weft_track_stats *out) {
  CHECK_TRACK(t);
  if (!out || out->struct_size < sizeof *out)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_track_get_stats: bad out struct");
  memset(out, 0, sizeof *out);
  out->struct_size = sizeof *out;
  out->packets_sent = atomic_load(&t->n.packets_sent);
  out->bytes_sent = atomic_load(&t->n.bytes_sent);
  out->frames_sent = atomic_load(&t->n.frames_sent);
  out->packets_received = atomic_load(&t->n.packets_received);
  out->bytes_received = atomic_load(&t->n.bytes_received);
  out->frames_received = atomic_load(&t->n.frames_received);
  out->frames_dropped = atomic_load(&t->n.frames_dropped);
  out->packets_lost = atomic_load(&t->n.packets_lost);
  out->nacks_sent = atomic_load(&t->n.nacks_sent);
  out->nacks_received = atomic_load(&t->n.nacks_received);
  out->retransmitted = atomic_load(&t->n.retransmitted);
  out->plis_sent = atomic_load(&t->n.plis_sent);
  out->plis_received = atomic_load(&t->n.plis_received);
  out->srtp_failures = atomic_load(&t->n.srtp_failures);
  out->rtt_us = atomic_load(&t->n.rtt_us);
  out->rtx_dropped = atomic_load(&t->n.rtx_dropped);
  out->keyframe_requests_throttled = atomic_load(&t->n.keyframe_requests_throttled);
  out->events_dropped = atomic_load(&t->events_dropped);
  weft__error_clear();
  return WEFT_OK;
}

/* ---- User data and handlers -------------------------------------------------- */

int weft_track_set_user_data(weft_track *t, void *user_data, void (*destroy)(void *)) {
  CHECK_TRACK(t);
  weft__user_data_set(&t->lock, &t->user_data, &t->user_destroy, user_data, destroy);
  weft__error_clear();
  return WEFT_OK;
}

void *weft_track_get_user_data(const weft_track *t) {
  if (!t)
    return NULL;
  return weft__user_data_get((GMutex *)&t->lock, &t->user_data);
}

/* @flag (may be NULL) mirrors "a handler is set" for the engine, which
 * checks it per packet without taking the lock. */
#define TRACK_SETTER(name, field, type, flag)                                                      \
  int name(weft_track *t, type fn) {                                                               \
    CHECK_TRACK(t);                                                                                \
    g_mutex_lock(&t->lock);                                                                        \
    t->field = fn;                                                                                 \
    g_mutex_unlock(&t->lock);                                                                      \
    atomic_bool *f = (flag);                                                                       \
    if (f)                                                                                         \
      atomic_store(f, fn != NULL);                                                                 \
    weft__error_clear();                                                                           \
    return WEFT_OK;                                                                                \
  }
TRACK_SETTER(weft_track_set_on_rtp, on_rtp, weft_track_packet_fn, &t->want_rtp)
TRACK_SETTER(weft_track_set_on_rtcp, on_rtcp, weft_track_packet_fn, &t->want_rtcp)
TRACK_SETTER(weft_track_set_on_frame, on_frame, weft_track_frame_fn, &t->want_frames)
TRACK_SETTER(weft_track_set_on_keyframe_request, on_keyframe_request, weft_track_event_fn, NULL)

/* ---- Sending ------------------------------------------------------------------ */

static int check_send(weft_track *t, weft_pc *pc) {
  if (!pc || atomic_load(&pc->closed))
    return weft__error(WEFT_ERR_CLOSED, "the track's peer connection is closed");
  if (atomic_load(&t->stopped))
    return weft__error(WEFT_ERR_INVALID_STATE, "the track is stopped");
  return WEFT_OK;
}

/* Stateless checks of a frame for the negotiated codec, so that a malformed
 * one fails here rather than on the engine thread. */
static int check_frame(weft_track *t, const uint8_t *frame, size_t size) {
  g_mutex_lock(&t->lock);
  weft_codec codec = t->send_params.codec;
  g_mutex_unlock(&t->lock);
  if (codec == WEFT_CODEC_OPUS)
    return weft__opus_validate(frame, size);
  if (codec == WEFT_CODEC_H264) {
    weft__h264_nal_iter it;
    const uint8_t *nal;
    size_t nal_len;
    int rc, n = 0;
    weft__h264_nal_iter_init(&it, frame, size, WEFT__H264_AUTO);
    while ((rc = weft__h264_nal_next(&it, &nal, &nal_len)) == 1)
      n++;
    if (rc < 0)
      return rc;
    if (n == 0)
      return weft__error(WEFT_ERR_SYNTAX, "H264 access unit without a NAL unit");
  }
  return WEFT_OK;
}

static int submit(weft_track *t, weft__media_op op, const void *data, size_t size, uint32_t flags,
                  const weft_frame_info *info) {
  weft_pc *pc = track_pc_hold(t);
  int rc = check_send(t, pc);
  if (rc == 0 && (op == WEFT__MEDIA_FRAME || op == WEFT__MEDIA_RTP) && !atomic_load(&t->can_send))
    rc = weft__error(WEFT_ERR_INVALID_STATE,
                     "the track does not send (not negotiated, direction without send, or DTLS "
                     "not connected)");
  if (rc == 0 && op == WEFT__MEDIA_FRAME)
    rc = check_frame(t, data, size);
  if (rc < 0) {
    if (pc)
      weft__pc_release(pc);
    return rc;
  }
  weft__media_item *it = g_malloc(sizeof *it + size);
  it->t = weft_track_ref(t);
  it->op = op;
  it->flags = flags;
  weft_frame_info def = WEFT_FRAME_INFO_INIT;
  it->info = def;
  if (info)
    memcpy(&it->info, info, info->struct_size < sizeof def ? info->struct_size : sizeof def);
  else
    it->info.pts_us = weft__now_us(); /* no info: the time of the call */
  it->len = size;
  if (size)
    memcpy(it->data, data, size);
  rc = weft__pc_media_submit(pc, it);
  weft__pc_release(pc);
  if (rc == 0)
    weft__error_clear();
  return rc;
}

int weft_track_send_frame(weft_track *t, const void *frame, size_t size,
                          const weft_frame_info *info) {
  CHECK_TRACK(t);
  if (!frame || size == 0)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_track_send_frame: empty frame");
  if (size > MAX_FRAME)
    return weft__error(WEFT_ERR_TOO_BIG, "frame of %zu bytes (max %u)", size, MAX_FRAME);
  if (info && info->struct_size < offsetof(weft_frame_info, pts_us) + sizeof(int64_t))
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_frame_info.struct_size is %u",
                       (unsigned)info->struct_size);
  return submit(t, WEFT__MEDIA_FRAME, frame, size, 0, info);
}

int weft_track_send_rtp(weft_track *t, const void *packet, size_t size, uint32_t flags) {
  CHECK_TRACK(t);
  if (!packet)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_track_send_rtp: packet is NULL");
  if (size > WEFT__SRTP_MAX_PACKET - 64)
    return weft__error(WEFT_ERR_TOO_BIG, "RTP packet of %zu bytes", size);
  weft__rtp_packet p;
  int rc = weft__rtp_parse(packet, size, &p);
  if (rc < 0)
    return rc;
  if (weft__rtp_is_rtcp(packet, size))
    return weft__error(WEFT_ERR_SYNTAX, "an RTCP packet given to weft_track_send_rtp");
  return submit(t, WEFT__MEDIA_RTP, packet, size, flags, NULL);
}

int weft_track_send_rtcp(weft_track *t, const void *packet, size_t size) {
  CHECK_TRACK(t);
  if (!packet)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft_track_send_rtcp: packet is NULL");
  if (size > 1500)
    return weft__error(WEFT_ERR_TOO_BIG, "RTCP packet of %zu bytes (max 1500)", size);
  int rc = weft__rtcp_validate(packet, size, true);
  if (rc < 0)
    return rc;
  return submit(t, WEFT__MEDIA_RTCP, packet, size, 0, NULL);
}

int weft_track_request_keyframe(weft_track *t) {
  CHECK_TRACK(t);
  if (!atomic_load(&t->received_any))
    return weft__error(WEFT_ERR_INVALID_STATE, "nothing received on the track yet");
  return submit(t, WEFT__MEDIA_KEYFRAME_REQUEST, NULL, 0, 0, NULL);
}

/* ---- Strings ------------------------------------------------------------------ */

const char *weft_codec_to_string(weft_codec c) {
  switch (c) {
  case WEFT_CODEC_OPUS:
    return "opus";
  case WEFT_CODEC_PCMU:
    return "PCMU";
  case WEFT_CODEC_PCMA:
    return "PCMA";
  case WEFT_CODEC_VP8:
    return "VP8";
  case WEFT_CODEC_H264:
    return "H264";
  default:
    return "";
  }
}

const char *weft_direction_to_string(weft_direction d) {
  switch (d) {
  case WEFT_DIR_SENDRECV:
    return "sendrecv";
  case WEFT_DIR_SENDONLY:
    return "sendonly";
  case WEFT_DIR_RECVONLY:
    return "recvonly";
  case WEFT_DIR_INACTIVE:
    return "inactive";
  case WEFT_DIR_STOPPED:
    return "stopped";
  }
  return "";
}
