/*
 * examples/loopback — two peer connections in one process.
 *
 * Peer A (the offerer) opens a data channel to peer B (the answerer); B echoes
 * every message back; A checks each echo byte for byte and prints how long
 * each step of the connection took. A also sends B an audio and a video
 * track: a VP8 test pattern and an Opus tone, encoded with libvpx and libopus
 * (weft sends encoded frames; encoding is the application's job), which B
 * decodes.
 *
 * The two peers talk to each other only through `signaling`, a FIFO of
 * messages (offer, answer, candidate, end-of-candidates). In a real program
 * that queue is a WebSocket, an HTTP request or a copy-paste: replace
 * sig_post() and the delivery loop in main() and nothing else changes.
 *
 * Threading: the context is WEFT_CONTEXT_QUEUED, so weft runs its engine on a
 * private thread but every callback below runs on the main thread, inside
 * weft_context_dispatch(). No locks are needed anywhere in this file.
 */
#define _POSIX_C_SOURCE 200809L
#include "media_codec.h"

#include <weft/weft.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ===== The signaling hop ================================================== */

typedef enum sig_kind { SIG_OFFER, SIG_ANSWER, SIG_CANDIDATE, SIG_END_OF_CANDIDATES } sig_kind;

/* One message on the signaling channel, addressed to peer 0 (A) or 1 (B). */
typedef struct sig_msg {
  struct sig_msg *next;
  int to;
  sig_kind kind;
  char *text; /* SDP or "candidate:..." */
  char *mid;  /* candidates only, may be NULL */
  int mline;  /* candidates only, -1 if unknown */
} sig_msg;

typedef struct sig_channel {
  sig_msg *head, *tail;
  unsigned posted;
} sig_channel;

static char *dup_or_null(const char *s) {
  if (!s)
    return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d)
    memcpy(d, s, n);
  return d;
}

/* "Sends" a message: appends it to the FIFO. Delivery happens later, from the
 * main loop, exactly as if it had crossed a network. */
static int sig_post(sig_channel *ch, int to, sig_kind kind, const char *text, const char *mid,
                    int mline) {
  sig_msg *m = calloc(1, sizeof *m);
  if (!m)
    return -1;
  m->to = to;
  m->kind = kind;
  m->text = dup_or_null(text);
  m->mid = dup_or_null(mid);
  m->mline = mline;
  if ((text && !m->text) || (mid && !m->mid)) {
    free(m->text);
    free(m->mid);
    free(m);
    return -1;
  }
  if (ch->tail)
    ch->tail->next = m;
  else
    ch->head = m;
  ch->tail = m;
  ch->posted++;
  return 0;
}

static sig_msg *sig_take(sig_channel *ch) {
  sig_msg *m = ch->head;
  if (m) {
    ch->head = m->next;
    if (!ch->head)
      ch->tail = NULL;
  }
  return m;
}

static void sig_msg_free(sig_msg *m) {
  if (!m)
    return;
  free(m->text);
  free(m->mid);
  free(m);
}

/* ===== Application state ================================================== */

typedef struct app app;

/* An echo B could not send yet (weft's send buffer was full). */
typedef struct pending_echo {
  struct pending_echo *next;
  weft_msg_type type;
  size_t size;
  unsigned char data[];
} pending_echo;

typedef struct peer {
  app *app;
  int index;        /* 0 = A, 1 = B */
  const char *name; /* "A" / "B" */
  weft_pc *pc;
  weft_dc *dc;                         /* A: the channel it created; B: the channel it received */
  pending_echo *echo_head, *echo_tail; /* B: echoes waiting for buffer space */
  double t_gathered, t_ice, t_connected, t_open;
} peer;

/* The media part: A encodes and sends, B decodes what arrives. */
typedef struct media_kind {
  const char *name;  /* "video" / "audio" */
  weft_track *track; /* A: the sending track; B: the track on_track surfaced */
  weft_track *rx;
  unsigned next, total;               /* A: next frame to send, frames to send */
  unsigned sent;                      /* A: frames handed to weft */
  unsigned skipped;                   /* A: frames not sent because A was late */
  unsigned received, decoded, errors; /* B */
  unsigned keyframe_requests;         /* A: the remote asked (PLI/FIR) */
  int force_key, got_key;
  char first_error[160];
} media_kind;

typedef struct media {
  int enabled;
  double seconds;
  double t_start, t_sent; /* ms since start: sending began / ended */
  double t_last_rx;       /* ms since start: B's last frame */
  int started, done;
  mc_video_enc *venc;
  mc_video_dec *vdec;
  mc_audio_enc *aenc;
  mc_audio_dec *adec;
  media_kind video, audio;
} media;

struct app {
  peer peers[2];
  sig_channel signaling;
  double t0; /* ms, monotonic, just before the peer connections are created */
  int quiet;
  int n_messages;
  size_t max_size;
  int next_to_send; /* A: index of the next message to send */
  int echoed;       /* A: echoes received and checked */
  double t_first_echo;
  int data_done; /* every echo checked */
  media media;
  int done;    /* 1 = success (data and media), -1 = failure */
  char *error; /* failure reason */
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double since_start(const app *a) { return now_ms() - a->t0; }

static void say(const app *a, const char *fmt, ...) {
  if (a->quiet)
    return;
  va_list ap;
  printf("[%8.1f ms] ", since_start(a));
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

/* Records the first failure; the main loop stops at its next turn. */
static void fail(app *a, const char *fmt, ...) {
  if (a->done < 0)
    return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  a->error = dup_or_null(buf);
  a->done = -1;
}

/* Fails with the detail of the last weft error of this thread. */
static void fail_weft(app *a, const char *what, int rc) {
  fail(a, "%s: %s (%s)", what, weft_err_name(rc), weft_last_error_message());
}

/* ===== Test messages ====================================================== */

/* Message i is text when i is even, binary when odd; sizes spread evenly from
 * 1 byte to max_size so both kinds cover small and large messages. */
static weft_msg_type msg_type(int i) { return i % 2 == 0 ? WEFT_MSG_TEXT : WEFT_MSG_BINARY; }

static size_t msg_size(const app *a, int i) {
  if (a->n_messages <= 1)
    return a->max_size;
  return 1 + (size_t)((unsigned long long)(a->max_size - 1) * (unsigned)i /
                      (unsigned)(a->n_messages - 1));
}

static unsigned char msg_byte(int i, size_t j) {
  if (msg_type(i) == WEFT_MSG_TEXT)
    return (unsigned char)('a' + (i + (int)(j % 26)) % 26); /* ASCII: valid UTF-8 */
  return (unsigned char)((unsigned)i * 131u + (unsigned)j * 7u + (unsigned)(j >> 8));
}

static unsigned char *msg_make(const app *a, int i, size_t *size_out) {
  size_t n = msg_size(a, i);
  unsigned char *buf = malloc(n ? n : 1);
  if (!buf)
    return NULL;
  for (size_t j = 0; j < n; j++)
    buf[j] = msg_byte(i, j);
  *size_out = n;
  return buf;
}

/* Sends messages until all are queued or weft says its buffer is full
 * (WEFT_ERR_AGAIN); on_buffered_amount_low() resumes. */
static void send_more(app *a) {
  weft_dc *dc = a->peers[0].dc;
  while (a->done == 0 && a->next_to_send < a->n_messages) {
    int i = a->next_to_send;
    size_t n = 0;
    unsigned char *buf = msg_make(a, i, &n);
    if (!buf) {
      fail(a, "out of memory");
      return;
    }
    int rc = msg_type(i) == WEFT_MSG_TEXT ? weft_dc_send_text(dc, (const char *)buf, n)
                                          : weft_dc_send(dc, buf, n);
    free(buf);
    if (rc == WEFT_ERR_AGAIN)
      return; /* back-pressure: wait for buffered-amount-low */
    if (rc < 0) {
      fail_weft(a, "send", rc);
      return;
    }
    a->next_to_send++;
  }
}

/* ===== Callbacks (all on the main thread, inside weft_context_dispatch) === */

static void on_ice_candidate(weft_pc *pc, const weft_ice_candidate *c, void *ud) {
  peer *p = ud;
  int to = 1 - p->index;
  int rc = c ? sig_post(&p->app->signaling, to, SIG_CANDIDATE, c->candidate, c->sdp_mid,
                        c->sdp_mline_index)
             : sig_post(&p->app->signaling, to, SIG_END_OF_CANDIDATES, NULL, NULL, -1);
  if (rc < 0)
    fail(p->app, "out of memory");
  else if (c)
    say(p->app, "%s candidate  %s", p->name, c->candidate);
}

static void on_gathering(weft_pc *pc, weft_ice_gathering_state s, void *ud) {
  peer *p = ud;
  say(p->app, "%s gathering  %s", p->name, weft_ice_gathering_state_to_string(s));
  if (s == WEFT_GATHERING_COMPLETE && p->t_gathered == 0)
    p->t_gathered = since_start(p->app);
}

static void on_ice_state(weft_pc *pc, weft_ice_connection_state s, void *ud) {
  peer *p = ud;
  say(p->app, "%s ICE        %s", p->name, weft_ice_connection_state_to_string(s));
  if ((s == WEFT_ICE_CONNECTED || s == WEFT_ICE_COMPLETED) && p->t_ice == 0)
    p->t_ice = since_start(p->app);
  if (s == WEFT_ICE_FAILED)
    fail(p->app, "ICE failed on peer %s", p->name);
}

static void on_connection_state(weft_pc *pc, weft_pc_state s, void *ud) {
  peer *p = ud;
  say(p->app, "%s connection %s", p->name, weft_pc_state_to_string(s));
  if (s == WEFT_PC_CONNECTED && p->t_connected == 0)
    p->t_connected = since_start(p->app);
  if (s == WEFT_PC_FAILED)
    fail(p->app, "peer connection %s failed", p->name);
}

static void on_pc_error(weft_pc *pc, const weft_error_info *e, void *ud) {
  peer *p = ud;
  fail(p->app, "peer %s: %s error: %s", p->name, weft_error_detail_to_string(e->detail),
       e->message);
}

/* B's side: echo every message with the type it came with. When weft's send
 * buffer is full (WEFT_ERR_AGAIN), echoes wait in a FIFO that
 * on_b_low() drains, keeping their order. */
static int echo_send(weft_dc *dc, weft_msg_type type, const void *data, size_t size) {
  return type == WEFT_MSG_TEXT ? weft_dc_send_text(dc, data, size) : weft_dc_send(dc, data, size);
}

static void flush_echoes(peer *p) {
  while (p->echo_head) {
    pending_echo *e = p->echo_head;
    int rc = echo_send(p->dc, e->type, e->data, e->size);
    if (rc == WEFT_ERR_AGAIN)
      return;
    if (rc < 0) {
      fail_weft(p->app, "echo send on B", rc);
      return;
    }
    p->echo_head = e->next;
    if (!p->echo_head)
      p->echo_tail = NULL;
    free(e);
  }
}

static void on_echo_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size,
                            void *ud) {
  peer *p = ud;
  int rc = p->echo_head ? WEFT_ERR_AGAIN : echo_send(dc, type, data, size);
  if (rc == WEFT_ERR_AGAIN) {
    pending_echo *e = malloc(sizeof *e + size);
    if (!e) {
      fail(p->app, "out of memory");
      return;
    }
    e->next = NULL;
    e->type = type;
    e->size = size;
    memcpy(e->data, data, size);
    if (p->echo_tail)
      p->echo_tail->next = e;
    else
      p->echo_head = e;
    p->echo_tail = e;
  } else if (rc < 0) {
    fail_weft(p->app, "echo send on B", rc);
  }
}

static void on_b_low(weft_dc *dc, void *ud) { flush_echoes(ud); }

static void on_b_open(weft_dc *dc, void *ud) {
  peer *p = ud;
  if (p->t_open == 0)
    p->t_open = since_start(p->app);
  say(p->app, "B channel    \"%s\" open", weft_dc_get_label(dc));
}

static void on_data_channel(weft_pc *pc, weft_dc *dc, void *ud) {
  peer *p = ud; /* a surfaced channel starts with the pc's user data */
  say(p->app, "%s received channel \"%s\" (id %d)", p->name, weft_dc_get_label(dc),
      (int)weft_dc_get_id(dc));
  if (p->dc)
    return;                /* only one channel expected */
  p->dc = weft_dc_ref(dc); /* borrowed in the callback: keep a reference */
  weft_dc_set_on_open(dc, on_b_open);
  weft_dc_set_on_message(dc, on_echo_message);
  weft_dc_set_on_buffered_amount_low(dc, on_b_low);
  weft_dc_set_buffered_amount_low_threshold(dc, 1 << 20);
}

static void on_a_open(weft_dc *dc, void *ud) {
  peer *p = ud;
  p->t_open = since_start(p->app);
  say(p->app, "A channel    \"%s\" open, sending %d messages", weft_dc_get_label(dc),
      p->app->n_messages);
  send_more(p->app);
}

static void on_a_low(weft_dc *dc, void *ud) {
  peer *p = ud;
  send_more(p->app);
}

/* A's side: each echo must be the next message, identical. */
static void on_a_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size, void *ud) {
  peer *p = ud;
  app *a = p->app;
  int i = a->echoed;
  if (a->done)
    return;
  if (i >= a->n_messages) {
    fail(a, "unexpected extra echo (%zu bytes)", size);
    return;
  }
  size_t want = msg_size(a, i);
  if (type != msg_type(i) || size != want) {
    fail(a, "echo #%d: expected %s of %zu bytes, got %s of %zu bytes", i,
         msg_type(i) == WEFT_MSG_TEXT ? "text" : "binary", want,
         type == WEFT_MSG_TEXT ? "text" : "binary", size);
    return;
  }
  const unsigned char *b = data;
  for (size_t j = 0; j < size; j++) {
    if (b[j] != msg_byte(i, j)) {
      fail(a, "echo #%d: byte %zu differs (0x%02x, expected 0x%02x)", i, j, b[j], msg_byte(i, j));
      return;
    }
  }
  if (i == 0) {
    a->t_first_echo = since_start(a);
    say(a, "A first echo (%zu bytes)", size);
  }
  a->echoed++;
  if (a->echoed == a->n_messages) {
    say(a, "A all %d echoes checked", a->n_messages);
    a->data_done = 1;
    if (!a->media.enabled || a->media.done)
      a->done = 1;
  }
}

static void on_dc_error(weft_dc *dc, const weft_error_info *e, void *ud) {
  peer *p = ud;
  fail(p->app, "channel on %s: %s", p->name, e->message);
}

static void on_dc_close(weft_dc *dc, void *ud) {
  peer *p = ud;
  if (p->app->done == 0)
    fail(p->app, "channel on %s closed unexpectedly", p->name);
}

/* ===== Media ============================================================== */

/* After the last frame went out, the run ends when everything arrived or
 * when nothing arrived for this long (a slow machine, valgrind: frames still
 * trickle in, so the wait follows progress, bounded by --timeout). */
#define MEDIA_TAIL_MS 2000.0
/* What B must decode, of what A sent: on loopback everything arrives (video
 * losses are repaired by NACK), but audio is not retransmitted and a loaded
 * machine may drop a datagram now and then. */
#define MEDIA_MIN_SHARE 0.9
#define MEDIA_LATE_FRAMES 2

static void media_error(media_kind *k, const char *fmt, ...) {
  k->errors++;
  if (k->first_error[0])
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(k->first_error, sizeof k->first_error, fmt, ap);
  va_end(ap);
}

/* B: every frame that arrives is decoded (on the main thread, like every
 * callback here). */
static void on_b_frame(weft_track *t, const uint8_t *frame, size_t size,
                       const weft_frame_info *info, void *ud) {
  peer *p = ud;
  media *m = &p->app->media;
  int video = weft_track_get_kind(t) == WEFT_KIND_VIDEO;
  media_kind *k = video ? &m->video : &m->audio;
  const char *err = NULL;
  int n;
  k->received++;
  m->t_last_rx = since_start(p->app);
  if (video) {
    /* A decoder starts at a keyframe; A's first frame is one. */
    if (!k->got_key && !(info->flags & WEFT_FRAME_KEY))
      return;
    k->got_key = 1;
    n = mc_video_dec_decode(m->vdec, frame, size, NULL, &err);
  } else {
    n = mc_audio_dec_decode(m->adec, frame, size, NULL, &err);
  }
  if (n < 0)
    media_error(k, "%s frame %u (%zu bytes): %s", k->name, k->received, size, err ? err : "?");
  else
    k->decoded += video ? (unsigned)n : 1u;
}

/* A: B asked for a keyframe (PLI/FIR): the next picture will be one. */
static void on_a_keyframe_request(weft_track *t, void *ud) {
  peer *p = ud;
  p->app->media.video.keyframe_requests++;
  p->app->media.video.force_key = 1;
}

/* B: A's tracks arrive with the offer. */
static void on_track(weft_pc *pc, weft_track *t, void *ud) {
  peer *p = ud; /* a surfaced track starts with the pc's user data */
  media *m = &p->app->media;
  media_kind *k = weft_track_get_kind(t) == WEFT_KIND_VIDEO ? &m->video : &m->audio;
  char *mid = NULL;
  weft_track_get_mid(t, &mid);
  say(p->app, "%s received %s track (mid %s)", p->name, k->name, mid ? mid : "?");
  weft_free(mid);
  if (k->rx)
    return;                  /* one of each kind expected */
  k->rx = weft_track_ref(t); /* borrowed in the callback: keep a reference */
  weft_track_set_on_frame(t, on_b_frame);
}

/* A: the tracks (before the offer) and the codecs. */
static int media_setup(app *a) {
  media *m = &a->media;
  peer *A = &a->peers[0];
  const char *err = NULL;
  m->video.name = "video";
  m->audio.name = "audio";
  m->video.total = (unsigned)(m->seconds * MC_VIDEO_FPS + 0.5);
  m->audio.total = (unsigned)(m->seconds * 1000 / MC_AUDIO_FRAME_MS + 0.5);
  if (!(m->venc = mc_video_enc_new(&err)) || !(m->vdec = mc_video_dec_new(&err)) ||
      !(m->aenc = mc_audio_enc_new(&err)) || !(m->adec = mc_audio_dec_new(&err))) {
    fail(a, "media: %s", err ? err : "cannot create the codecs");
    return -1;
  }
  /* A only sends: sendonly tracks, which B answers recvonly. */
  static const weft_codec vp8 = WEFT_CODEC_VP8, opus = WEFT_CODEC_OPUS;
  weft_track_init init = WEFT_TRACK_INIT;
  init.direction = WEFT_DIR_SENDONLY;
  init.n_codecs = 1;
  init.codecs = &opus;
  m->audio.track = weft_pc_add_track(A->pc, WEFT_KIND_AUDIO, &init);
  init.codecs = &vp8;
  m->video.track = m->audio.track ? weft_pc_add_track(A->pc, WEFT_KIND_VIDEO, &init) : NULL;
  if (!m->video.track) {
    fail_weft(a, "add track", weft_last_error());
    return -1;
  }
  weft_track_set_user_data(m->video.track, A, NULL);
  weft_track_set_on_keyframe_request(m->video.track, on_a_keyframe_request);
  return 0;
}

static int media_send_one(app *a, media_kind *k, int video) {
  media *m = &a->media;
  const uint8_t *data = NULL;
  size_t size = 0;
  int key = 0, rc;
  const char *err = NULL;
  unsigned idx = k->next++;
  if (video)
    rc = mc_video_enc_encode(m->venc, idx, idx == 0 || k->force_key, &data, &size, &key, &err);
  else
    rc = mc_audio_enc_encode(m->aenc, idx, &data, &size, &err);
  if (rc < 0) {
    fail(a, "media: encoding %s frame %u: %s", k->name, idx, err ? err : "?");
    return -1;
  }
  if (size == 0)
    return 0; /* the encoder skipped this picture (rate control) */
  if (key)
    k->force_key = 0;
  /* RTP timestamps in the codec's clock: 3000 per picture at 30 fps, 960 per
   * 20 ms of audio. (Or set pts_us and let weft convert.) */
  weft_frame_info info = WEFT_FRAME_INFO_INIT;
  info.has_rtp_timestamp = 1;
  info.rtp_timestamp = idx * (video ? MC_VIDEO_RTP_CLOCK / MC_VIDEO_FPS
                                    : MC_AUDIO_RTP_CLOCK / 1000 * MC_AUDIO_FRAME_MS);
  info.flags = key ? WEFT_FRAME_KEY : 0;
  rc = weft_track_send_frame(k->track, data, size, &info);
  if (rc < 0) {
    fail_weft(a, video ? "send video frame" : "send audio frame", rc);
    return -1;
  }
  k->sent++;
  return 0;
}

static void media_finish(app *a) {
  media *m = &a->media;
  media_kind *ks[2] = {&m->video, &m->audio};
  m->done = 1;
  for (int i = 0; i < 2; i++) {
    media_kind *k = ks[i];
    weft_track_stats st = WEFT_TRACK_STATS_INIT, ast = WEFT_TRACK_STATS_INIT;
    if (k->rx)
      weft_track_get_stats(k->rx, &st);
    weft_track_get_stats(k->track, &ast);
    say(a,
        "B %s: %u frames received, %u decoded, %u decode errors (A sent %u); weft: A sent %llu "
        "packets, B received %llu, lost %llu, dropped %llu frames, sent %llu NACKs, %llu PLIs",
        k->name, k->received, k->decoded, k->errors, k->sent, (unsigned long long)ast.packets_sent,
        (unsigned long long)st.packets_received, (unsigned long long)st.packets_lost,
        (unsigned long long)st.frames_dropped, (unsigned long long)st.nacks_sent,
        (unsigned long long)st.plis_sent);
    if (k->errors) {
      fail(a, "media: %u %s decode error(s), the first: %s", k->errors, k->name, k->first_error);
      return;
    }
    if (k->sent == 0 || k->decoded < MEDIA_MIN_SHARE * k->sent) {
      fail(a, "media: B decoded %u of the %u %s frames A sent", k->decoded, k->sent, k->name);
      return;
    }
  }
  if (a->data_done && a->done == 0)
    a->done = 1;
}

/* From the main loop: sends the frames due by now (frame n of video at n/30
 * s, of audio at n*20 ms from the start, so a late turn of the loop sends a
 * small burst instead of drifting), then waits for the last ones to arrive. */
static void media_pump(app *a) {
  media *m = &a->media;
  if (!m->enabled || m->done || a->done)
    return;
  if (!m->started) {
    /* Frames can go once DTLS is up on both sides: A's DTLS is done when it
     * sent its last flight, B's when it has read it, which under valgrind on
     * a busy machine came 1.6 s later; what A sends meanwhile B cannot
     * decrypt yet (weft holds a little of it, not seconds). */
    if (a->peers[0].t_connected == 0 || a->peers[1].t_connected == 0)
      return;
    m->started = 1;
    m->t_start = since_start(a);
    say(a, "A media: sending %.1f s of VP8 %dx%d@%d and Opus %d Hz tone", m->seconds,
        MC_VIDEO_WIDTH, MC_VIDEO_HEIGHT, MC_VIDEO_FPS, MC_AUDIO_TONE_HZ);
  }
  double elapsed = since_start(a) - m->t_start;
  media_kind *ks[2] = {&m->video, &m->audio};
  for (int i = 0; i < 2; i++) {
    media_kind *k = ks[i];
    double per_ms = i == 0 ? MC_VIDEO_FPS / 1000.0 : 1.0 / MC_AUDIO_FRAME_MS;
    unsigned due = (unsigned)(elapsed * per_ms) + 1;
    if (due > k->total)
      due = k->total;
    /* Frames more than MEDIA_LATE_FRAMES behind are skipped, not sent in a
     * burst: a real-time sender whose CPU cannot keep up (valgrind, a busy
     * machine) lowers its frame rate instead of flooding the network. */
    while (due > k->next + MEDIA_LATE_FRAMES) {
      k->next++;
      k->skipped++;
    }
    while (k->next < due && a->done == 0)
      if (media_send_one(a, k, i == 0) < 0)
        return;
  }
  if (m->t_sent == 0 && m->video.next >= m->video.total && m->audio.next >= m->audio.total) {
    m->t_sent = since_start(a);
    say(a, "A media: %u video and %u audio frames sent (%u and %u skipped: A was late)",
        m->video.sent, m->audio.sent, m->video.skipped, m->audio.skipped);
  }
  double quiet_since = m->t_last_rx > m->t_sent ? m->t_last_rx : m->t_sent;
  if (m->t_sent > 0 &&
      ((m->video.received >= m->video.sent && m->audio.received >= m->audio.sent) ||
       since_start(a) - quiet_since > MEDIA_TAIL_MS))
    media_finish(a);
}

static void media_free(media *m) {
  media_kind *ks[2] = {&m->video, &m->audio};
  for (int i = 0; i < 2; i++) {
    weft_track_unref(ks[i]->track);
    weft_track_unref(ks[i]->rx);
  }
  mc_video_enc_free(m->venc);
  mc_video_dec_free(m->vdec);
  mc_audio_enc_free(m->aenc);
  mc_audio_dec_free(m->adec);
}

/* ===== Negotiation ======================================================== */

/* A: create the offer, apply it, and "send" it. Candidates follow one by one
 * through on_ice_candidate (trickle ICE). */
static int start_offer(app *a) {
  peer *A = &a->peers[0];
  char *offer = NULL;
  int rc = weft_pc_create_offer(A->pc, NULL, &offer);
  if (rc < 0) {
    fail_weft(a, "create offer", rc);
    return rc;
  }
  rc = weft_pc_set_local_description(A->pc, WEFT_SDP_OFFER, offer);
  if (rc < 0)
    fail_weft(a, "A: set local offer", rc);
  else if (sig_post(&a->signaling, 1, SIG_OFFER, offer, NULL, -1) < 0)
    fail(a, "out of memory");
  weft_free(offer);
  return rc;
}

/* Applies one signaling message to the peer it is addressed to. */
static void deliver(app *a, const sig_msg *m) {
  peer *p = &a->peers[m->to];
  int rc = 0;
  switch (m->kind) {
  case SIG_OFFER: {
    say(a, "%s got offer (%zu bytes of SDP)", p->name, strlen(m->text));
    rc = weft_pc_set_remote_description(p->pc, WEFT_SDP_OFFER, m->text);
    if (rc < 0) {
      fail_weft(a, "B: set remote offer", rc);
      return;
    }
    char *answer = NULL;
    rc = weft_pc_create_answer(p->pc, &answer);
    if (rc < 0) {
      fail_weft(a, "B: create answer", rc);
      return;
    }
    rc = weft_pc_set_local_description(p->pc, WEFT_SDP_ANSWER, answer);
    if (rc < 0)
      fail_weft(a, "B: set local answer", rc);
    else if (sig_post(&a->signaling, 1 - m->to, SIG_ANSWER, answer, NULL, -1) < 0)
      fail(a, "out of memory");
    weft_free(answer);
    return;
  }
  case SIG_ANSWER:
    say(a, "%s got answer (%zu bytes of SDP)", p->name, strlen(m->text));
    rc = weft_pc_set_remote_description(p->pc, WEFT_SDP_ANSWER, m->text);
    if (rc < 0)
      fail_weft(a, "A: set remote answer", rc);
    return;
  case SIG_CANDIDATE: {
    weft_ice_candidate c = {m->text, m->mid, m->mline, NULL};
    rc = weft_pc_add_ice_candidate(p->pc, &c);
    if (rc < 0)
      fail_weft(a, "add candidate", rc);
    return;
  }
  case SIG_END_OF_CANDIDATES:
    rc = weft_pc_add_ice_candidate(p->pc, NULL);
    if (rc < 0)
      fail_weft(a, "add end-of-candidates", rc);
    return;
  }
}

/* ===== Setup and main loop ================================================ */

static int setup_peer(app *a, int index, weft_context *ctx, const weft_config *cfg) {
  peer *p = &a->peers[index];
  p->app = a;
  p->index = index;
  p->name = index == 0 ? "A" : "B";
  p->pc = weft_pc_new(ctx, cfg);
  if (!p->pc) {
    fail_weft(a, "weft_pc_new", weft_last_error());
    return -1;
  }
  weft_pc_set_user_data(p->pc, p, NULL);
  weft_pc_set_on_ice_candidate(p->pc, on_ice_candidate);
  weft_pc_set_on_ice_gathering_state_change(p->pc, on_gathering);
  weft_pc_set_on_ice_connection_state_change(p->pc, on_ice_state);
  weft_pc_set_on_connection_state_change(p->pc, on_connection_state);
  weft_pc_set_on_error(p->pc, on_pc_error);
  if (index == 1) {
    weft_pc_set_on_data_channel(p->pc, on_data_channel);
    weft_pc_set_on_track(p->pc, on_track);
  }
  return 0;
}

static const char *stage_of(const app *a) {
  const peer *A = &a->peers[0];
  if (A->t_ice == 0)
    return "ICE connected";
  if (A->t_connected == 0)
    return "DTLS (connection state connected)";
  if (A->t_open == 0)
    return "channel open";
  if (!a->data_done)
    return "echoes";
  return "media";
}

static void usage(FILE *f) {
  fprintf(f, "usage: loopback [--messages N] [--size BYTES] [--media-seconds S] [--no-media]\n"
             "                [--timeout S] [--quiet]\n"
             "  --messages N   messages to echo, alternately text and binary (default 20)\n"
             "  --size BYTES   largest message; sizes spread from 1 to BYTES (default 16384)\n"
             "  --media-seconds S  seconds of VP8 video and Opus audio A sends B (default 5)\n"
             "  --no-media     data channel only\n"
             "  --timeout S    give up after S seconds (default 20)\n"
             "  --quiet        print only the final line\n");
}

static int parse_long(const char *s, long min, long max, long *out) {
  char *end = NULL;
  long v = strtol(s, &end, 10);
  if (!s[0] || *end || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

static void print_ms(const char *label, double a_ms, double b_ms) {
  printf("  %-20s", label);
  if (a_ms > 0)
    printf("  A %8.1f", a_ms);
  else
    printf("  A %8s", "-");
  if (b_ms >= 0) {
    if (b_ms > 0)
      printf("  B %8.1f", b_ms);
    else
      printf("  B %8s", "-");
  }
  putchar('\n');
}

int main(int argc, char **argv) {
  app a;
  memset(&a, 0, sizeof a);
  a.n_messages = 20;
  a.max_size = 16384;
  long timeout_s = 20;
  a.media.enabled = 1;
  a.media.seconds = 5;
  for (int i = 1; i < argc; i++) {
    long v = 0;
    if (!strcmp(argv[i], "--quiet")) {
      a.quiet = 1;
    } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (i + 1 < argc && !strcmp(argv[i], "--messages") &&
               parse_long(argv[i + 1], 1, 1000000, &v) == 0) {
      a.n_messages = (int)v;
      i++;
    } else if (i + 1 < argc && !strcmp(argv[i], "--size") &&
               parse_long(argv[i + 1], 1, 1L << 30, &v) == 0) {
      a.max_size = (size_t)v;
      i++;
    } else if (!strcmp(argv[i], "--no-media")) {
      a.media.enabled = 0;
    } else if (i + 1 < argc && !strcmp(argv[i], "--media-seconds") &&
               parse_long(argv[i + 1], 1, 600, &v) == 0) {
      a.media.seconds = (double)v;
      i++;
    } else if (i + 1 < argc && !strcmp(argv[i], "--timeout") &&
               parse_long(argv[i + 1], 1, 3600, &v) == 0) {
      timeout_s = v;
      i++;
    } else {
      fprintf(stderr, "loopback: bad argument '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }
  if (!a.quiet)
    printf("loopback: %s\n", weft_build_info());

  /* QUEUED: callbacks run on this thread, inside weft_context_dispatch(). */
  weft_context_options opts = WEFT_CONTEXT_OPTIONS_INIT;
  opts.mode = WEFT_CONTEXT_QUEUED;
  weft_context *ctx = weft_context_new(&opts);
  weft_config *cfg = weft_config_new();
  if (!ctx || !cfg) {
    printf("loopback: FAILED — cannot create the context: %s\n", weft_last_error_message());
    weft_config_free(cfg);
    weft_context_unref(ctx);
    return 1;
  }
  /* Both peers live on this machine: gather 127.0.0.1 too. */
  weft_config_set_enable_loopback(cfg, 1);

  a.t0 = now_ms();
  if (setup_peer(&a, 0, ctx, cfg) == 0 && setup_peer(&a, 1, ctx, cfg) == 0) {
    peer *A = &a.peers[0];
    A->dc = weft_pc_create_data_channel(A->pc, "loopback", NULL);
    if (a.media.enabled && media_setup(&a) < 0) {
      /* fail() said why */
    } else if (!A->dc) {
      fail_weft(&a, "create data channel", weft_last_error());
    } else {
      weft_dc_set_user_data(A->dc, A, NULL);
      weft_dc_set_on_open(A->dc, on_a_open);
      weft_dc_set_on_message(A->dc, on_a_message);
      weft_dc_set_on_error(A->dc, on_dc_error);
      weft_dc_set_on_close(A->dc, on_dc_close);
      weft_dc_set_on_buffered_amount_low(A->dc, on_a_low);
      weft_dc_set_buffered_amount_low_threshold(A->dc, 1 << 20);
      start_offer(&a);
    }
  }
  weft_config_free(cfg);

  size_t max_msg = 0;
  int checked_size = 0;
  double deadline = a.t0 + (double)timeout_s * 1e3;
  while (a.done == 0) {
    /* 1. Deliver whatever the signaling channel carries. */
    sig_msg *m;
    while (a.done == 0 && (m = sig_take(&a.signaling)) != NULL) {
      deliver(&a, m);
      sig_msg_free(m);
    }
    /* Once the answer is applied, the remote's max-message-size is known. */
    if (!checked_size && weft_pc_get_max_message_size(a.peers[0].pc, &max_msg) == WEFT_OK &&
        max_msg > 0) {
      checked_size = 1;
      if (a.max_size > max_msg)
        fail(&a, "--size %zu is larger than the remote max-message-size %zu", a.max_size, max_msg);
    }
    if (a.done)
      break;
    /* 2. Media frames due by now. */
    media_pump(&a);
    if (a.done)
      break;
    /* 3. Run weft's callbacks on this thread; while media is being sent,
     *    wake often enough to keep its pace. */
    int sending = a.media.started && !a.media.done;
    int rc = weft_context_wait(ctx, sending ? 5 : 20);
    if (rc > 0)
      rc = weft_context_dispatch(ctx, 0);
    if (rc < 0)
      fail_weft(&a, "context", rc);
    if (a.done == 0 && now_ms() > deadline)
      fail(&a, "timed out after %ld s waiting for %s (A: %s/ICE %s, B: %s/ICE %s)", timeout_s,
           stage_of(&a), weft_pc_state_to_string(weft_pc_get_connection_state(a.peers[0].pc)),
           weft_ice_connection_state_to_string(weft_pc_get_ice_connection_state(a.peers[0].pc)),
           weft_pc_state_to_string(weft_pc_get_connection_state(a.peers[1].pc)),
           weft_ice_connection_state_to_string(weft_pc_get_ice_connection_state(a.peers[1].pc)));
  }

  if (!a.quiet) {
    peer *A = &a.peers[0], *B = &a.peers[1];
    printf("timings in ms from creation:\n");
    print_ms("gathering complete", A->t_gathered, B->t_gathered);
    print_ms("ICE connected", A->t_ice, B->t_ice);
    print_ms("DTLS connected", A->t_connected, B->t_connected);
    print_ms("channel open", A->t_open, B->t_open);
    print_ms("first echo", a.t_first_echo, -1);
    if (a.media.started)
      print_ms("media start", a.media.t_start, -1);
    printf("signaling messages: %u\n", a.signaling.posted);
  }
  int ok = a.done == 1;
  if (ok && a.media.enabled && !a.quiet)
    printf("loopback: media OK — %u video frames and %u audio frames decoded\n",
           a.media.video.decoded, a.media.audio.decoded);
  if (ok)
    printf("loopback: OK — channel open in %.1f ms, %d messages echoed\n", a.peers[0].t_open,
           a.echoed);
  else
    printf("loopback: FAILED — %s\n", a.error ? a.error : "unknown error");
  fflush(stdout);

  /* Teardown: close first (no callback fires after close returns), then drop
   * the references in any order. */
  for (int i = 0; i < 2; i++)
    if (a.peers[i].pc)
      weft_pc_close(a.peers[i].pc);
  for (int i = 0; i < 2; i++) {
    weft_dc_unref(a.peers[i].dc);
    weft_pc_unref(a.peers[i].pc);
  }
  media_free(&a.media);
  weft_context_unref(ctx);
  sig_msg *m;
  while ((m = sig_take(&a.signaling)) != NULL)
    sig_msg_free(m);
  while (a.peers[1].echo_head) {
    pending_echo *e = a.peers[1].echo_head;
    a.peers[1].echo_head = e->next;
    free(e);
  }
  free(a.error);
  return ok ? 0 : 1;
}
