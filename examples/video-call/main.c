/*
 * examples/video-call — a weft peer in a video call room (doc/rooms.md).
 *
 *   video-call --url ws://HOST:PORT/ws --room R [--peer P] [--name N]
 *              [--seconds S] [--ivf FILE] [--wav FILE] [--min-frames N]
 *
 * Sends a moving VP8 test pattern (libvpx, 320x240 at 30 fps) and a 440 Hz
 * Opus tone (libopus) to every peer of the room, and decodes what every peer
 * sends (examples/common/media_codec). The peer that offers adds one audio
 * and one video track (sendrecv); the answering side sends on the tracks the
 * offer brought. --seconds S: leave after S seconds (from the start; without
 * it, run until SIGINT/SIGTERM). --ivf / --wav write the first remote peer's
 * video (VP8 frames as received, IVF container) and audio (decoded, 16-bit
 * PCM WAV, 48 kHz stereo).
 *
 * stdout: events {"ev":"joined"|"peer-joined"|"peer-left"|"first-frame",...}
 * and a final line {"ev":"done","ok":true,"peers":[{"peer":P,
 * "video_frames_received":n,"video_frames_decoded":n,
 * "audio_frames_decoded":n},...]} (every peer met during the call). ok is
 * false (exit 1) after a fatal error, or when --min-frames N is given and a
 * peer (or no peer at all) had fewer than N video frames decoded.
 */
#define _POSIX_C_SOURCE 200809L
#include "media_codec.h"
#include "room_peer.h"

#include <opus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS 5
#define MAX_PEERS_REPORTED 64

typedef struct stats {
  char *peer;
  guint64 video_received, video_decoded, audio_decoded;
  guint64 video_decode_errors, audio_decode_errors;
} stats;

typedef struct app app;

typedef struct vpeer {
  app *a;
  char *id;
  weft_track *video, *audio;
  mc_video_dec *vdec;
  OpusDecoder *adec;
  gboolean got_key;
  gboolean connected;
  gboolean first_video, first_audio;
  stats *st;
} vpeer;

struct app {
  GMainLoop *loop;
  rp_room *room;
  GHashTable *stats; /* peer id -> stats* */
  GPtrArray *order;  /* stats in the order peers were met */
  mc_video_enc *venc;
  mc_audio_enc *aenc;
  gint64 t0_us;
  guint32 vnext, anext;
  gboolean force_key;
  double seconds;
  gint64 min_frames;
  char *error;
  /* --ivf / --wav: the first remote peer to deliver a frame */
  char *rec_peer;
  FILE *ivf, *wav;
  guint32 ivf_frames;
  int ivf_w, ivf_h;
  gboolean ivf_started;
  guint64 wav_bytes;
  int16_t pcm[5760 * MC_AUDIO_CHANNELS];
};

static void fail(app *a, const char *msg) {
  if (!a->error)
    a->error = g_strdup(msg);
  fprintf(stderr, "video-call: %s\n", msg);
  g_main_loop_quit(a->loop);
}

/* ===== IVF and WAV writers ================================================ */

static void put16(uint8_t *p, unsigned v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put32(uint8_t *p, guint32 v) {
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}

/* IVF: a 32-byte file header ("DKIF", version 0, header size, fourcc, width,
 * height, time base rate/scale, frame count), then per frame a 12-byte header
 * (size, 64-bit pts) and the frame. Time base 1/1000: pts in ms. */
static void ivf_header(app *a) {
  uint8_t h[32] = {'D', 'K', 'I', 'F'};
  put16(h + 4, 0);
  put16(h + 6, 32);
  memcpy(h + 8, "VP80", 4);
  put16(h + 12, (unsigned)(a->ivf_w ? a->ivf_w : MC_VIDEO_WIDTH));
  put16(h + 14, (unsigned)(a->ivf_h ? a->ivf_h : MC_VIDEO_HEIGHT));
  put32(h + 16, 1000);
  put32(h + 20, 1);
  put32(h + 24, a->ivf_frames);
  fseek(a->ivf, 0, SEEK_SET);
  fwrite(h, 1, sizeof h, a->ivf);
  fseek(a->ivf, 0, SEEK_END);
}

static void ivf_frame(app *a, const uint8_t *data, size_t size, int64_t pts_us) {
  uint8_t h[12];
  put32(h, (guint32)size);
  guint64 pts = pts_us > 0 ? (guint64)pts_us / 1000 : 0;
  put32(h + 4, (guint32)pts);
  put32(h + 8, (guint32)(pts >> 32));
  fwrite(h, 1, sizeof h, a->ivf);
  fwrite(data, 1, size, a->ivf);
  a->ivf_frames++;
}

/* WAV: RIFF/WAVE with one fmt chunk (PCM, 16-bit) and one data chunk whose
 * sizes are patched when the file is closed. */
static void wav_header(app *a) {
  uint8_t h[44];
  memcpy(h, "RIFF", 4);
  put32(h + 4, (guint32)MIN(a->wav_bytes + 36, G_MAXUINT32));
  memcpy(h + 8, "WAVEfmt ", 8);
  put32(h + 16, 16);
  put16(h + 20, 1);
  put16(h + 22, MC_AUDIO_CHANNELS);
  put32(h + 24, MC_AUDIO_RATE);
  put32(h + 28, MC_AUDIO_RATE * MC_AUDIO_CHANNELS * 2);
  put16(h + 32, MC_AUDIO_CHANNELS * 2);
  put16(h + 34, 16);
  memcpy(h + 36, "data", 4);
  put32(h + 40, (guint32)MIN(a->wav_bytes, G_MAXUINT32 - 36));
  fseek(a->wav, 0, SEEK_SET);
  fwrite(h, 1, sizeof h, a->wav);
  fseek(a->wav, 0, SEEK_END);
}

static gboolean recording(app *a, vpeer *p) {
  if (!a->ivf && !a->wav)
    return FALSE;
  if (!a->rec_peer)
    a->rec_peer = g_strdup(p->id);
  return strcmp(a->rec_peer, p->id) == 0;
}

/* ===== Receiving ========================================================== */

static void on_video_frame(weft_track *t, const uint8_t *frame, size_t size,
                           const weft_frame_info *info, void *ud) {
  (void)t;
  vpeer *p = ud;
  app *a = p->a;
  p->st->video_received++;
  int key = (info->flags & WEFT_FRAME_KEY) != 0;
  if (!p->got_key && !key)
    return; /* a delta before any keyframe cannot be decoded */
  p->got_key = TRUE;
  mc_video_frame_info vi = {0, 0, -1};
  const char *err = NULL;
  int n = mc_video_dec_decode(p->vdec, frame, size, &vi, &err);
  if (n < 0) {
    if (p->st->video_decode_errors++ == 0)
      fprintf(stderr, "video-call: decoding video from %s: %s\n", p->id, err ? err : "?");
    p->got_key = FALSE;
    weft_track_request_keyframe(t);
    return;
  }
  p->st->video_decoded += (guint64)n;
  if (n > 0 && !p->first_video) {
    p->first_video = TRUE;
    rp_print_ev("first-frame", p->id, "kind", "video");
  }
  if (a->ivf && recording(a, p)) {
    if (!a->ivf_started && !key)
      return;
    a->ivf_started = TRUE;
    if (vi.width > 0) {
      a->ivf_w = vi.width;
      a->ivf_h = vi.height;
    }
    ivf_frame(a, frame, size, info->pts_us);
  }
}

static void on_audio_frame(weft_track *t, const uint8_t *frame, size_t size,
                           const weft_frame_info *info, void *ud) {
  (void)t, (void)info;
  vpeer *p = ud;
  app *a = p->a;
  if (size > 1500) {
    p->st->audio_decode_errors++;
    return;
  }
  int n = opus_decode(p->adec, frame, (opus_int32)size, a->pcm, 5760, 0);
  if (n < 0) {
    if (p->st->audio_decode_errors++ == 0)
      fprintf(stderr, "video-call: decoding audio from %s: %s\n", p->id, opus_strerror(n));
    return;
  }
  p->st->audio_decoded++;
  if (!p->first_audio) {
    p->first_audio = TRUE;
    rp_print_ev("first-frame", p->id, "kind", "audio");
  }
  if (a->wav && recording(a, p)) {
    size_t bytes = (size_t)n * MC_AUDIO_CHANNELS * sizeof(int16_t);
    /* WAV is little-endian, as is every machine this runs on; swap if not. */
    if (G_BYTE_ORDER == G_BIG_ENDIAN)
      for (int i = 0; i < n * MC_AUDIO_CHANNELS; i++)
        a->pcm[i] = (int16_t)GUINT16_SWAP_LE_BE((guint16)a->pcm[i]);
    fwrite(a->pcm, 1, bytes, a->wav);
    a->wav_bytes += bytes;
  }
}

static void on_keyframe_request(weft_track *t, void *ud) {
  (void)t;
  vpeer *p = ud;
  p->a->force_key = TRUE;
}

static void use_track(vpeer *p, weft_track *t) {
  weft_media_kind kind = weft_track_get_kind(t);
  weft_track **slot = kind == WEFT_KIND_VIDEO   ? &p->video
                      : kind == WEFT_KIND_AUDIO ? &p->audio
                                                : NULL;
  if (!slot || *slot)
    return; /* one of each kind; others (and our own, replayed) are ignored */
  *slot = weft_track_ref(t);
  weft_track_set_user_data(t, p, NULL);
  if (kind == WEFT_KIND_VIDEO) {
    weft_track_set_on_frame(t, on_video_frame);
    weft_track_set_on_keyframe_request(t, on_keyframe_request);
  } else {
    weft_track_set_on_frame(t, on_audio_frame);
  }
}

/* ===== Peers ============================================================== */

static stats *stats_for(app *a, const char *id) {
  stats *s = g_hash_table_lookup(a->stats, id);
  if (!s && g_hash_table_size(a->stats) < MAX_PEERS_REPORTED * 4) {
    s = g_new0(stats, 1);
    s->peer = g_strdup(id);
    g_hash_table_insert(a->stats, s->peer, s);
    g_ptr_array_add(a->order, s);
  }
  return s;
}

static void on_pc_new(rp_room *r, rp_peer *rp, void *ud) {
  (void)r;
  app *a = ud;
  stats *st = stats_for(a, rp_peer_id(rp));
  if (!st)
    return; /* a flood of peer ids: no media with them */
  vpeer *p = g_new0(vpeer, 1);
  p->a = a;
  p->id = g_strdup(rp_peer_id(rp));
  p->st = st;
  const char *err = NULL;
  p->vdec = mc_video_dec_new(&err);
  int oerr = 0;
  p->adec = opus_decoder_create(MC_AUDIO_RATE, MC_AUDIO_CHANNELS, &oerr);
  rp_peer_set_user_data(rp, p);
  if (!p->vdec || !p->adec) {
    fail(a, "creating the decoders failed");
    return;
  }
  if (!rp_peer_is_offerer(rp))
    return; /* the answering side sends on the tracks the offer brings */
  weft_track_init init = WEFT_TRACK_INIT;
  weft_codec opus = WEFT_CODEC_OPUS, vp8 = WEFT_CODEC_VP8;
  init.codecs = &opus;
  init.n_codecs = 1;
  weft_track *at = weft_pc_add_track(rp_peer_pc(rp), WEFT_KIND_AUDIO, &init);
  init.codecs = &vp8;
  weft_track *vt = weft_pc_add_track(rp_peer_pc(rp), WEFT_KIND_VIDEO, &init);
  if (!at || !vt) {
    fprintf(stderr, "video-call: adding tracks for %s: %s\n", p->id, weft_last_error_message());
  }
  if (at)
    use_track(p, at);
  if (vt)
    use_track(p, vt);
  weft_track_unref(at);
  weft_track_unref(vt);
}

static void on_track(rp_room *r, rp_peer *rp, weft_track *t, void *ud) {
  (void)r, (void)ud;
  vpeer *p = rp_peer_get_user_data(rp);
  if (p)
    use_track(p, t);
}

static void on_pc_state(rp_room *r, rp_peer *rp, weft_pc_state st, void *ud) {
  (void)r;
  app *a = ud;
  vpeer *p = rp_peer_get_user_data(rp);
  if (p && st == WEFT_PC_CONNECTED && !p->connected) {
    p->connected = TRUE;
    a->force_key = TRUE; /* the new peer needs a keyframe to start decoding */
    fprintf(stderr, "video-call: connected with %s\n", p->id);
  }
}

static void on_peer_closed(rp_room *r, rp_peer *rp, void *ud) {
  (void)r, (void)ud;
  vpeer *p = rp_peer_get_user_data(rp);
  if (!p)
    return;
  rp_peer_set_user_data(rp, NULL);
  if (p->video)
    weft_track_set_on_frame(p->video, NULL);
  if (p->audio)
    weft_track_set_on_frame(p->audio, NULL);
  weft_track_unref(p->video);
  weft_track_unref(p->audio);
  mc_video_dec_free(p->vdec);
  if (p->adec)
    opus_decoder_destroy(p->adec);
  g_free(p->id);
  g_free(p);
}

static void on_error(rp_room *r, const char *msg, void *ud) {
  (void)r;
  fail(ud, msg);
}

/* ===== Sending ============================================================ */

/* Frames are due on a fixed schedule from the start (video frame n at n/30 s,
 * audio frame n at n*20 ms); each tick sends what is due, so a late tick
 * sends a short burst instead of drifting. One encoder for every peer. */
static void send_to_all(app *a, gboolean video, const uint8_t *data, size_t size, int key,
                        guint32 idx) {
  weft_frame_info info = WEFT_FRAME_INFO_INIT;
  info.flags = key ? WEFT_FRAME_KEY : 0;
  info.pts_us =
      video ? (int64_t)idx * 1000000 / MC_VIDEO_FPS : (int64_t)idx * 1000 * MC_AUDIO_FRAME_MS;
  GPtrArray *all = rp_room_peers(a->room);
  for (guint i = 0; i < all->len; i++) {
    vpeer *p = rp_peer_get_user_data(all->pdata[i]);
    weft_track *t = p ? (video ? p->video : p->audio) : NULL;
    if (!t || !p->connected)
      continue;
    int rc = weft_track_send_frame(t, data, size, &info);
    /* INVALID_STATE: not negotiated for sending (yet); AGAIN: the engine is
     * behind, this frame is skipped. Neither is fatal for a call. */
    if (rc < 0 && rc != WEFT_ERR_INVALID_STATE && rc != WEFT_ERR_AGAIN)
      fprintf(stderr, "video-call: sending to %s: %s\n", p->id, weft_err_name(rc));
  }
  g_ptr_array_unref(all);
}

static gboolean on_tick(gpointer ud) {
  app *a = ud;
  gint64 el = g_get_monotonic_time() - a->t0_us;
  if (a->seconds > 0 && el >= (gint64)(a->seconds * G_USEC_PER_SEC)) {
    g_main_loop_quit(a->loop);
    return G_SOURCE_CONTINUE;
  }
  const char *err = NULL;
  const uint8_t *data;
  size_t size;
  int key;
  while ((gint64)a->vnext * G_USEC_PER_SEC / MC_VIDEO_FPS <= el) {
    guint32 idx = a->vnext++;
    gboolean force = a->force_key;
    if (mc_video_enc_encode(a->venc, idx, force, &data, &size, &key, &err) < 0) {
      fail(a, err ? err : "VP8 encoding failed");
      return G_SOURCE_CONTINUE;
    }
    if (key)
      a->force_key = FALSE;
    if (size)
      send_to_all(a, TRUE, data, size, key, idx);
  }
  while ((gint64)a->anext * 1000 * MC_AUDIO_FRAME_MS <= el) {
    guint32 idx = a->anext++;
    if (mc_audio_enc_encode(a->aenc, idx, &data, &size, &err) < 0) {
      fail(a, err ? err : "Opus encoding failed");
      return G_SOURCE_CONTINUE;
    }
    if (size)
      send_to_all(a, FALSE, data, size, 0, idx);
  }
  return G_SOURCE_CONTINUE;
}

/* ===== Main =============================================================== */

static void stats_free(gpointer p) {
  stats *s = p;
  g_free(s->peer);
  g_free(s);
}

static void print_done(app *a) {
  gboolean ok = a->error == NULL;
  if (ok && a->min_frames > 0 && a->order->len == 0) {
    fprintf(stderr, "video-call: no peer to call\n");
    ok = FALSE;
  }
  JsonArray *arr = json_array_new();
  for (guint i = 0; i < a->order->len; i++) {
    stats *s = a->order->pdata[i];
    JsonObject *o = json_object_new();
    json_object_set_string_member(o, "peer", s->peer);
    json_object_set_int_member(o, "video_frames_received", (gint64)s->video_received);
    json_object_set_int_member(o, "video_frames_decoded", (gint64)s->video_decoded);
    json_object_set_int_member(o, "audio_frames_decoded", (gint64)s->audio_decoded);
    json_array_add_object_element(arr, o);
    fprintf(stderr,
            "video-call: %s: video %" G_GUINT64_FORMAT " received, %" G_GUINT64_FORMAT
            " decoded (%" G_GUINT64_FORMAT " errors); audio %" G_GUINT64_FORMAT
            " decoded (%" G_GUINT64_FORMAT " errors)\n",
            s->peer, s->video_received, s->video_decoded, s->video_decode_errors, s->audio_decoded,
            s->audio_decode_errors);
    if (ok && a->min_frames > 0 && (gint64)s->video_decoded < a->min_frames) {
      fprintf(stderr, "video-call: %s: fewer than %" G_GINT64_FORMAT " video frames decoded\n",
              s->peer, a->min_frames);
      ok = FALSE;
    }
  }
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "ev", "done");
  json_object_set_boolean_member(o, "ok", ok);
  json_object_set_array_member(o, "peers", arr);
  if (a->error)
    json_object_set_string_member(o, "error", a->error);
  rp_print(o);
  if (!ok && !a->error)
    a->error = g_strdup("too few frames");
}

int main(int argc, char **argv) {
  rp_cmdline cl = {0};
  char *ivf = NULL, *wav = NULL;
  double seconds = 0;
  gint64 min_frames = 0;
  GOptionEntry entries[] = {{"seconds", 0, 0, G_OPTION_ARG_DOUBLE, &seconds,
                             "leave after S seconds (0: on a signal)", "S"},
                            {"ivf", 0, 0, G_OPTION_ARG_FILENAME, &ivf,
                             "write the first remote peer's video (IVF)", "FILE"},
                            {"wav", 0, 0, G_OPTION_ARG_FILENAME, &wav,
                             "write the first remote peer's audio (WAV)", "FILE"},
                            {"min-frames", 0, 0, G_OPTION_ARG_INT64, &min_frames,
                             "fail unless every peer had at least N video frames decoded", "N"},
                            {NULL, 0, 0, 0, NULL, NULL, NULL}};
  GOptionContext *oc = g_option_context_new("- a video call in a weft room (doc/rooms.md)");
  rp_cmdline_add(&cl, oc);
  g_option_context_add_main_entries(oc, entries, NULL);
  GError *err = NULL;
  int bad = !g_option_context_parse(oc, &argc, &argv, &err) || argc > 1 || !cl.url || !cl.room ||
            seconds < 0 || min_frames < 0;
  g_option_context_free(oc);
  app a = {0};
  int rc = 2;
  if (bad) {
    fprintf(stderr,
            "video-call: %s\nusage: video-call --url ws://HOST:PORT/ws --room R [--peer P] "
            "[--name N] [--seconds S] [--ivf FILE] [--wav FILE]\n",
            err ? err->message : "bad arguments");
    goto out;
  }
  a.seconds = seconds;
  a.min_frames = min_frames;
  const char *why = NULL;
  a.venc = mc_video_enc_new(&why);
  if (a.venc)
    a.aenc = mc_audio_enc_new(&why);
  if (!a.venc || !a.aenc) {
    fprintf(stderr, "video-call: creating the encoders: %s\n", why ? why : "?");
    rc = 1;
    goto out;
  }
  if (ivf && !(a.ivf = fopen(ivf, "wb"))) {
    fprintf(stderr, "video-call: cannot write %s\n", ivf);
    goto out;
  }
  if (wav && !(a.wav = fopen(wav, "wb"))) {
    fprintf(stderr, "video-call: cannot write %s\n", wav);
    goto out;
  }
  if (a.ivf)
    ivf_header(&a);
  if (a.wav)
    wav_header(&a);
  a.stats = g_hash_table_new(g_str_hash, g_str_equal);
  a.order = g_ptr_array_new_with_free_func(stats_free);
  a.loop = g_main_loop_new(NULL, FALSE);
  rp_options o = rp_cmdline_options(&cl, "video-call");
  rp_callbacks cb = {.joined = rp_print_joined,
                     .peer_joined = rp_print_peer_joined,
                     .peer_left = rp_print_peer_left,
                     .pc_new = on_pc_new,
                     .pc_state = on_pc_state,
                     .track = on_track,
                     .peer_closed = on_peer_closed,
                     .error = on_error};
  a.room = rp_room_new(&o, &cb, &a, &err);
  if (!a.room) {
    fprintf(stderr, "video-call: %s\n", err->message);
    goto out;
  }
  a.t0_us = g_get_monotonic_time();
  guint tick = g_timeout_add(TICK_MS, on_tick, &a);
  rp_quit_on_signals(a.loop);
  g_main_loop_run(a.loop);
  g_source_remove(tick);
  rp_room_free(a.room);
  rp_drain(2 * G_USEC_PER_SEC);
  print_done(&a);
  rc = a.error ? 1 : 0;

out:
  g_clear_error(&err);
  if (a.ivf) {
    ivf_header(&a); /* the frame count and size are known now */
    fclose(a.ivf);
  }
  if (a.wav) {
    wav_header(&a);
    fclose(a.wav);
  }
  mc_video_enc_free(a.venc);
  mc_audio_enc_free(a.aenc);
  if (a.order)
    g_ptr_array_unref(a.order);
  if (a.stats)
    g_hash_table_unref(a.stats);
  if (a.loop)
    g_main_loop_unref(a.loop);
  g_free(a.error);
  g_free(a.rec_peer);
  rp_cmdline_clear(&cl);
  g_free(ivf), g_free(wav);
  return rc;
}
