/*
 * examples/echo-client — weft offers to an echo endpoint over HTTP (the WHIP
 * shape) and checks every echo. The contract (CLI, stderr event lines, the one
 * stdout result line, exit codes) is doc/interop.md.
 *
 *   echo-client --url http://127.0.0.1:8080/offer [options]
 *
 * Steps: create the peer connection and the channels, post the offer (after
 * gathering, or at once with --trickle followed by PATCHed candidates), apply
 * the answer, then on every channel send --count rounds of each size as text
 * and binary and verify the echoes; optionally measure throughput and wait for
 * the remote to close everything.
 *
 * Threading: the weft context and libsoup both run on the default
 * GMainContext, iterated by one GMainLoop on the main thread, so every
 * callback below runs there and no locks are needed.
 */
#define _POSIX_C_SOURCE 200809L
#include "jsonl.h"
#include "media.h"
#include "payload.h"
#include "signaling.h"

#include <weft/weft-glib.h>
#include <weft/weft.h>

#include <glib.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sending stops while a channel has this much buffered and resumes from
 * on_buffered_amount_low once it fell to the low mark: data is never
 * dropped, and memory stays bounded whatever the sizes. */
#define CHECK_HIGH_WATER (1024 * 1024)
#define CHECK_LOW_WATER (256 * 1024)
#define THROUGHPUT_MAX_BUFFERED (1024 * 1024)
/* Reliable channels also bound what is sent but not echoed yet. bufferedAmount
 * only counts what has not reached SCTP: without this window the sender can
 * outrun the echo path, and the endpoint's own send buffer (16 MiB in weft
 * and in browsers) overflows while it echoes. Unreliable channels have no
 * window: a lost message would never give its share back. */
#define ECHO_WINDOW (4 * 1024 * 1024)
/* Unreliable channels: how long to wait for stragglers after the last echo. */
#define GRACE_US (2 * G_USEC_PER_SEC)
/* After the remote closed the connection: how long callbacks are watched. */
#define LATE_WINDOW_US (1 * G_USEC_PER_SEC)
/* The largest message weft advertises by default (weft_config). */
#define LOCAL_MAX_MESSAGE_SIZE ((size_t)262144)
#define TICK_MS 50

/* ===== Options ============================================================ */

typedef struct options {
  const char *url;
  int channels;
  int count;
  size_t *sizes; /* NULL = auto */
  int nsizes;
  int text, binary;
  int unordered;
  int max_retransmits;      /* -1 = unset */
  int max_packet_life_time; /* -1 = unset */
  int negotiated_id;        /* -1 = not negotiated */
  int trickle;
  double throughput_s; /* 0 = no throughput phase */
  size_t msg_size;
  double await_close_s; /* 0 = do not wait for the remote to close */
  double timeout_s;
  int loopback;
  int media;            /* --media: an audio and a video track too */
  double media_seconds; /* how long to send */
  long media_min_decoded;
} options;

/* ===== State ============================================================== */

typedef enum phase {
  PH_GATHERING,  /* non-trickle: waiting for ICE gathering before the offer */
  PH_ANSWER,     /* offer posted, waiting for the answer */
  PH_CONNECTING, /* answer applied, waiting for every channel to open */
  PH_CHECKS,     /* sending and verifying echoes */
  PH_THROUGHPUT, /* the throughput channel */
  PH_AWAIT_CLOSE /* waiting for the remote to close everything */
} phase;

struct app;

typedef struct chan {
  struct app *a;
  weft_dc *dc;
  char label[32];
  uint32_t index; /* pattern seed */
  int exact;      /* reliable and ordered: echoes must match in order */
  int throughput; /* the throughput channel */
  int opened, closed;
  double open_ms;
  uint64_t total;     /* messages to send */
  uint64_t next_send; /* index of the next message to send */
  uint64_t sent_bytes;
  uint64_t echoed, echoed_bytes, lost;
  uint8_t *matched; /* unreliable: which sent messages came back */
  gint64 last_echo_us, all_sent_us;
  int done;
} chan;

typedef struct app {
  options o;
  GMainLoop *loop;
  weft_context *ctx;
  weft_pc *pc;
  sig_session *sig;
  phase ph;
  gint64 t0_us, pc_created_us, deadline_us;

  chan *chans; /* the check channels */
  int nchans;
  int opened;
  double connect_ms;

  size_t *sizes;
  int nsizes;
  payload_kind kinds[2];
  int nkinds;
  size_t remote_mms;
  int answered;
  uint8_t *buf, *scratch; /* max message size each: outgoing, regenerated */
  size_t buf_size;

  char *sel_local, *sel_remote;
  int offer_sent, eoc_sent;

  /* throughput */
  chan *tp;
  uint8_t *tp_buf;
  int tp_sending, tp_done;
  gint64 tp_start_us, tp_stop_us, tp_last_echo_us;
  uint64_t tp_sent, tp_recv_seq;

  /* awaiting the remote close */
  gint64 await_start_us, pc_closed_us;
  int pc_closed;
  int late_callbacks;
  int remote_closed;

  /* --media */
  ec_media *media;
  int media_done; /* the media run ended successfully */
  double connected_ms;

  int sig_finalized;
  int finished, ok;
  char *error;
} app;

/* SIGINT/SIGTERM received (see install_signal_handlers). */
static volatile sig_atomic_t interrupted;

static gint64 now_us(void) { return g_get_monotonic_time(); }

static double ms_since(gint64 from_us) { return (double)(now_us() - from_us) / 1e3; }

/* ===== Events (stderr) and the end of the run ============================= */

static GString *ev_new(app *a, const char *ev) {
  GString *s = jl_new();
  jl_num(s, "t", (double)(now_us() - a->t0_us) / 1e6, 3);
  jl_str(s, "ev", ev);
  return s;
}

static GString *ev_pc(app *a, const char *ev) {
  GString *s = ev_new(a, ev);
  jl_int(s, "pc", 1);
  return s;
}

static GString *ev_dc(chan *c, const char *ev) {
  GString *s = ev_pc(c->a, ev);
  jl_int(s, "dc", c->dc ? weft_dc_get_id(c->dc) : -1);
  jl_str(s, "label", c->label);
  return s;
}

/* The events are JSON lines on stderr. */
static void ev_emit(GString *s) { jl_print(s, stderr); }

/* Ends the run: the first call wins. */
static void end_run(app *a, int ok, char *error) {
  if (a->finished) {
    g_free(error);
    return;
  }
  a->finished = 1;
  a->ok = ok;
  a->error = error;
  if (error) {
    GString *s = ev_new(a, "error");
    jl_str(s, "message", error);
    ev_emit(s);
  }
  g_main_loop_quit(a->loop);
}

static void succeed(app *a) { end_run(a, 1, NULL); }

static void G_GNUC_PRINTF(2, 3) fail(app *a, const char *fmt, ...) {
  if (a->finished)
    return;
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  end_run(a, 0, msg);
}

/* Every weft callback starts here: after the connection state became
 * `closed`, any callback at all is one too many (--await-remote-close). */
static void cb_note(app *a) {
  if (a->pc_closed)
    a->late_callbacks++;
}

/* ===== Messages =========================================================== */

/* Message @idx of a check channel: rounds of (each size × each kind). */
static void msg_of(app *a, uint64_t idx, uint32_t *round, size_t *size, payload_kind *kind) {
  uint64_t per_round = (uint64_t)a->nsizes * (uint64_t)a->nkinds;
  uint64_t rem = idx % per_round;
  *round = (uint32_t)(idx / per_round);
  *size = a->sizes[rem / (uint64_t)a->nkinds];
  *kind = a->kinds[rem % (uint64_t)a->nkinds];
}

static const char *kind_name(payload_kind k) { return k == PAYLOAD_TEXT ? "text" : "binary"; }

static void channel_done(chan *c);
static void check_checks_done(app *a);
static void throughput_pump(app *a);

static int send_one(chan *c, payload_kind kind, const uint8_t *data, size_t size) {
  int rc = kind == PAYLOAD_TEXT ? weft_dc_send_text(c->dc, (const char *)data, size)
                                : weft_dc_send(c->dc, data, size);
  if (rc < 0)
    fail(c->a, "sending a %zu-byte %s message on %s: %s (%s)", size, kind_name(kind), c->label,
         weft_err_name(rc), weft_last_error_message());
  return rc;
}

/* Sends what the back-pressure bound allows; on_buffered_amount_low calls
 * this again. */
static void check_pump(chan *c) {
  app *a = c->a;
  while (!a->finished && c->next_send < c->total &&
         weft_dc_get_buffered_amount(c->dc) < CHECK_HIGH_WATER &&
         (!c->exact || c->sent_bytes - c->echoed_bytes < ECHO_WINDOW)) {
    uint32_t round;
    size_t size;
    payload_kind kind;
    msg_of(a, c->next_send, &round, &size, &kind);
    payload_fill(kind, c->index, round, a->buf, size);
    if (send_one(c, kind, a->buf, size) < 0)
      return;
    c->next_send++;
    c->sent_bytes += size;
  }
  if (c->next_send == c->total && !c->all_sent_us)
    c->all_sent_us = now_us();
}

/* Does (kind, data) equal message @idx of channel @c? */
static int msg_equals(chan *c, uint64_t idx, payload_kind kind, const uint8_t *data, size_t size) {
  app *a = c->a;
  uint32_t round;
  size_t want_size;
  payload_kind want_kind;
  msg_of(a, idx, &round, &want_size, &want_kind);
  if (want_kind != kind || want_size != size)
    return 0;
  payload_fill(kind, c->index, round, a->scratch, size);
  return memcmp(a->scratch, data, size) == 0;
}

static void check_echo(chan *c, payload_kind kind, const uint8_t *data, size_t size) {
  app *a = c->a;
  if (c->exact) {
    if (c->echoed >= c->next_send) {
      fail(a, "%s: unexpected echo (%s, %zu bytes) after all %" G_GUINT64_FORMAT " were echoed",
           c->label, kind_name(kind), size, c->echoed);
      return;
    }
    if (!msg_equals(c, c->echoed, kind, data, size)) {
      uint32_t round;
      size_t want_size;
      payload_kind want_kind;
      msg_of(a, c->echoed, &round, &want_size, &want_kind);
      fail(a,
           "%s: echo #%" G_GUINT64_FORMAT " differs: expected %s of %zu bytes (round %u), got %s "
           "of %zu bytes%s",
           c->label, c->echoed, kind_name(want_kind), want_size, round, kind_name(kind), size,
           want_kind == kind && want_size == size ? " with other content" : "");
      return;
    }
  } else {
    /* Any sent message not matched yet with the same content; identical
     * messages (empty ones, say) are interchangeable. A straggler after the
     * grace period still counts: it only lowers the loss. */
    uint64_t found = UINT64_MAX;
    for (uint64_t idx = 0; idx < c->next_send; idx++) {
      if (!c->matched[idx] && msg_equals(c, idx, kind, data, size)) {
        found = idx;
        break;
      }
    }
    if (found == UINT64_MAX) {
      fail(a, "%s: an echo (%s, %zu bytes) matches no message sent, or came back twice", c->label,
           kind_name(kind), size);
      return;
    }
    c->matched[found] = 1;
  }
  c->echoed++;
  c->echoed_bytes += size;
  c->last_echo_us = now_us();
  if (!c->done && c->echoed == c->total)
    channel_done(c);
  else if (c->exact && c->next_send < c->total)
    check_pump(c); /* the window moved */
}

/* ===== Throughput ========================================================= */

/* Messages carry their sequence number in the first 8 bytes and a byte derived
 * from it at the end; the rest is a fixed pattern, sampled at the middle. */
static uint8_t tp_tail(uint64_t seq) { return (uint8_t)(seq * 31u + 7u); }

static void tp_stamp(uint8_t *m, size_t size, uint64_t seq) {
  for (int i = 0; i < 8; i++)
    m[i] = (uint8_t)(seq >> (8 * i));
  m[size - 1] = tp_tail(seq);
}

static void throughput_finish(app *a);

static void throughput_pump(app *a) {
  chan *c = a->tp;
  while (!a->finished && a->tp_sending) {
    if (now_us() >= a->tp_stop_us) {
      a->tp_sending = 0;
      break;
    }
    size_t buffered = weft_dc_get_buffered_amount(c->dc);
    if (buffered && buffered + a->o.msg_size > THROUGHPUT_MAX_BUFFERED)
      break;
    uint64_t in_flight = (a->tp_sent - a->tp_recv_seq) * a->o.msg_size;
    if (in_flight && in_flight + a->o.msg_size > ECHO_WINDOW)
      break; /* throughput_echo() pumps again */
    tp_stamp(a->tp_buf, a->o.msg_size, a->tp_sent);
    if (send_one(c, PAYLOAD_BINARY, a->tp_buf, a->o.msg_size) < 0)
      return;
    a->tp_sent++;
  }
  if (!a->tp_sending && a->tp_recv_seq == a->tp_sent)
    throughput_finish(a);
}

static void throughput_echo(app *a, weft_msg_type type, const uint8_t *data, size_t size) {
  uint64_t seq = 0;
  size_t n = a->o.msg_size;
  if (type != WEFT_MSG_BINARY || size != n) {
    fail(a, "throughput: echo #%" G_GUINT64_FORMAT " is %s of %zu bytes, expected binary of %zu",
         a->tp_recv_seq, type == WEFT_MSG_TEXT ? "text" : "binary", size, n);
    return;
  }
  for (int i = 0; i < 8; i++)
    seq |= (uint64_t)data[i] << (8 * i);
  if (seq != a->tp_recv_seq || data[n - 1] != tp_tail(seq) ||
      (n > 17 && data[n / 2] != a->tp_buf[n / 2])) {
    fail(a,
         "throughput: echo #%" G_GUINT64_FORMAT
         " has the wrong content (sequence %" G_GUINT64_FORMAT ")",
         a->tp_recv_seq, seq);
    return;
  }
  a->tp_recv_seq++;
  a->tp->echoed++;
  a->tp->echoed_bytes += size;
  a->tp_last_echo_us = now_us();
  throughput_pump(a);
}

/* ===== Phases ============================================================= */

static int all_channels_closed(app *a, int *closed_out, int *total_out) {
  int closed = 0, total = a->nchans;
  for (int i = 0; i < a->nchans; i++)
    closed += a->chans[i].closed;
  if (a->tp) {
    total++;
    closed += a->tp->closed;
  }
  if (closed_out)
    *closed_out = closed;
  if (total_out)
    *total_out = total;
  return closed == total;
}

static void check_await(app *a) {
  if (a->ph != PH_AWAIT_CLOSE || a->finished)
    return;
  gint64 now = now_us();
  int closed, total;
  all_channels_closed(a, &closed, &total);
  if (a->pc_closed) {
    if (now - a->pc_closed_us < LATE_WINDOW_US)
      return;
    if (closed < total)
      fail(a, "the remote closed the connection but only %d of %d channels reached closed", closed,
           total);
    else if (a->late_callbacks)
      fail(a, "%d callback(s) came after the connection state became closed", a->late_callbacks);
    else
      succeed(a);
    return;
  }
  if (now - a->await_start_us > (gint64)(a->o.await_close_s * G_USEC_PER_SEC))
    fail(a,
         "the remote did not close the connection within %g s (%d of %d channels closed, "
         "connection %s)",
         a->o.await_close_s, closed, total,
         weft_pc_state_to_string(weft_pc_get_connection_state(a->pc)));
}

static void start_await_close(app *a) {
  a->ph = PH_AWAIT_CLOSE;
  a->await_start_us = now_us();
  gint64 end = a->await_start_us + (gint64)(a->o.await_close_s * G_USEC_PER_SEC) + LATE_WINDOW_US +
               G_USEC_PER_SEC;
  if (a->deadline_us < end)
    a->deadline_us = end;
  /* The exact line of the contract: drivers wait for it before closing. */
  fputs("{\"ev\":\"awaiting-remote-close\"}\n", stderr);
  fflush(stderr);
  check_await(a);
}

static void after_checks(app *a);

static void throughput_finish(app *a) {
  if (a->tp_done)
    return;
  a->tp_done = 1;
  double secs = (double)(a->tp_last_echo_us - a->tp_start_us) / 1e6;
  GString *s = ev_dc(a->tp, "throughput");
  jl_uint(s, "messages", a->tp->echoed);
  jl_uint(s, "bytes", a->tp->echoed_bytes);
  jl_num(s, "seconds", secs, 3);
  jl_num(s, "mb_per_s", secs > 0 ? (double)a->tp->echoed_bytes / secs / 1e6 : 0, 2);
  ev_emit(s);
  if (a->tp->echoed == 0) {
    fail(a, "throughput: no message was echoed in %g s", a->o.throughput_s);
    return;
  }
  if (a->o.await_close_s > 0)
    start_await_close(a);
  else
    succeed(a);
}

static void dc_watch(chan *c, size_t low_water);

static void start_throughput(app *a) {
  a->ph = PH_THROUGHPUT;
  gint64 now = now_us();
  gint64 end = now + (gint64)((a->o.throughput_s + 5) * G_USEC_PER_SEC);
  a->deadline_us += (gint64)(a->o.throughput_s * G_USEC_PER_SEC);
  if (a->deadline_us < end)
    a->deadline_us = end;
  chan *c = a->tp = g_new0(chan, 1);
  c->a = a;
  c->throughput = 1;
  c->exact = 1;
  g_strlcpy(c->label, "throughput", sizeof c->label);
  weft_dc_init init = WEFT_DC_INIT;
  c->dc = weft_pc_create_data_channel(a->pc, c->label, &init);
  if (!c->dc) {
    fail(a, "creating the throughput channel: %s (%s)", weft_err_name(weft_last_error()),
         weft_last_error_message());
    return;
  }
  a->tp_buf = g_malloc(a->o.msg_size);
  payload_fill(PAYLOAD_BINARY, 0xFFFF, 0, a->tp_buf, a->o.msg_size);
  /* The low mark must leave room for one more message under the bound, or
   * sending would stall with nothing left to wake it. */
  size_t low = 0;
  if (a->o.msg_size <= THROUGHPUT_MAX_BUFFERED / 2)
    low = THROUGHPUT_MAX_BUFFERED / 2;
  else if (a->o.msg_size < THROUGHPUT_MAX_BUFFERED)
    low = THROUGHPUT_MAX_BUFFERED - a->o.msg_size;
  dc_watch(c, low);
  GString *s = ev_dc(c, "channel");
  jl_bool(s, "ordered", 1);
  jl_bool(s, "negotiated", 0);
  ev_emit(s);
}

static void after_checks(app *a) {
  if (a->o.throughput_s > 0)
    start_throughput(a);
  else if (a->o.await_close_s > 0)
    start_await_close(a);
  else
    succeed(a);
}

/* The channel checks and the media run go on side by side; what comes after
 * (throughput, awaiting the remote close, success) waits for both. */
static void check_checks_done(app *a) {
  if (a->finished || a->ph > PH_CHECKS || a->opened < a->nchans)
    return;
  if (a->media && !a->media_done)
    return;
  for (int i = 0; i < a->nchans; i++)
    if (!a->chans[i].done)
      return;
  after_checks(a);
}

static void channel_done(chan *c) {
  app *a = c->a;
  c->done = 1;
  GString *s = ev_dc(c, "checked");
  jl_uint(s, "sent", c->next_send);
  jl_uint(s, "echoed", c->echoed);
  jl_uint(s, "lost", c->next_send - c->echoed);
  jl_uint(s, "bytes", c->echoed_bytes);
  if (!c->exact && c->echoed < c->next_send) {
    /* Which messages went missing, as "<kind> <size>": <count>. */
    GHashTable *lost = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (uint64_t idx = 0; idx < c->next_send; idx++) {
      if (c->matched[idx])
        continue;
      uint32_t round;
      size_t size;
      payload_kind kind;
      msg_of(a, idx, &round, &size, &kind);
      char *k = g_strdup_printf("%s %zu", kind_name(kind), size);
      guint n = GPOINTER_TO_UINT(g_hash_table_lookup(lost, k));
      g_hash_table_replace(lost, k, GUINT_TO_POINTER(n + 1));
    }
    GString *o = jl_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, lost);
    while (g_hash_table_iter_next(&it, &k, &v))
      jl_uint(o, k, GPOINTER_TO_UINT(v));
    g_string_append_c(o, '}');
    jl_raw(s, "lost_messages", o);
    g_hash_table_destroy(lost);
  }
  ev_emit(s);
  if (c->echoed == 0) {
    fail(a, "%s: none of the %" G_GUINT64_FORMAT " messages sent came back", c->label,
         c->next_send);
    return;
  }
  check_checks_done(a);
}

/* Sending starts once every channel is open: traffic on the first channels
 * would otherwise delay the others' DCEP handshakes and skew connect_ms. */
static void start_channel(chan *c) {
  app *a = c->a;
  if (!c->opened || !a->answered || a->finished || a->opened < a->nchans)
    return;
  check_pump(c);
  if (c->total == 0 && !c->done)
    channel_done(c);
}

/* ===== Data channel callbacks ============================================= */

static void on_dc_open(weft_dc *dc, void *ud) {
  chan *c = ud;
  app *a = c->a;
  cb_note(a);
  if (c->opened)
    return;
  c->opened = 1;
  c->open_ms = ms_since(a->pc_created_us);
  GString *s = ev_dc(c, "open");
  jl_num(s, "open_ms", c->open_ms, 1);
  ev_emit(s);
  if (c->throughput) {
    a->tp_start_us = now_us();
    a->tp_last_echo_us = a->tp_start_us;
    a->tp_stop_us = a->tp_start_us + (gint64)(a->o.throughput_s * G_USEC_PER_SEC);
    a->tp_sending = 1;
    throughput_pump(a);
    return;
  }
  if (++a->opened == a->nchans) {
    a->connect_ms = c->open_ms;
    if (a->ph < PH_CHECKS)
      a->ph = PH_CHECKS;
    for (int i = 0; i < a->nchans; i++)
      start_channel(&a->chans[i]);
  }
}

static void on_dc_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size,
                          void *ud) {
  chan *c = ud;
  cb_note(c->a);
  if (c->a->finished)
    return;
  if (c->throughput)
    throughput_echo(c->a, type, data, size);
  else
    check_echo(c, type == WEFT_MSG_TEXT ? PAYLOAD_TEXT : PAYLOAD_BINARY, data, size);
}

static void on_dc_low(weft_dc *dc, void *ud) {
  chan *c = ud;
  cb_note(c->a);
  if (c->a->finished)
    return;
  if (c->throughput)
    throughput_pump(c->a);
  else
    check_pump(c);
}

static void on_dc_closing(weft_dc *dc, void *ud) {
  chan *c = ud;
  cb_note(c->a);
  ev_emit(ev_dc(c, "closing"));
}

static void on_dc_close(weft_dc *dc, void *ud) {
  chan *c = ud;
  app *a = c->a;
  cb_note(a);
  c->closed = 1;
  GString *s = ev_dc(c, "closed");
  jl_uint(s, "messages", c->echoed);
  jl_uint(s, "bytes", c->echoed_bytes);
  ev_emit(s);
  if (a->ph == PH_AWAIT_CLOSE)
    check_await(a);
  else
    fail(a, "channel %s was closed by the remote", c->label);
}

static void on_dc_error(weft_dc *dc, const weft_error_info *e, void *ud) {
  chan *c = ud;
  app *a = c->a;
  cb_note(a);
  GString *s = ev_dc(c, "error");
  jl_str(s, "message", e->message);
  ev_emit(s);
  if (a->ph != PH_AWAIT_CLOSE)
    fail(a, "channel %s: %s (%s)", c->label, e->message, weft_error_detail_to_string(e->detail));
}

static void dc_watch(chan *c, size_t low_water) {
  weft_dc_set_user_data(c->dc, c, NULL);
  weft_dc_set_buffered_amount_low_threshold(c->dc, low_water);
  weft_dc_set_on_open(c->dc, on_dc_open);
  weft_dc_set_on_message(c->dc, on_dc_message);
  weft_dc_set_on_buffered_amount_low(c->dc, on_dc_low);
  weft_dc_set_on_closing(c->dc, on_dc_closing);
  weft_dc_set_on_close(c->dc, on_dc_close);
  weft_dc_set_on_error(c->dc, on_dc_error);
}

/* ===== Peer connection callbacks ========================================== */

static void send_sig(app *a, JsonObject *msg) {
  GError *err = NULL;
  if (!sig_session_send(a->sig, msg, &err)) {
    fail(a, "signaling: cannot send %s: %s", json_object_get_string_member(msg, "type"),
         err->message);
    g_error_free(err);
  }
  json_object_unref(msg);
}

static int count_candidates(const char *sdp) {
  int n = 0;
  for (const char *p = sdp; p && (p = strstr(p, "a=candidate:")) != NULL; p += 12)
    n++;
  return n;
}

static void send_offer(app *a, const char *sdp) {
  JsonObject *m = json_object_new();
  json_object_set_string_member(m, "type", "offer");
  json_object_set_string_member(m, "sdp", sdp);
  a->offer_sent = 1;
  a->ph = PH_ANSWER;
  GString *s = ev_pc(a, "offer");
  jl_int(s, "candidates", count_candidates(sdp));
  jl_bool(s, "trickle", a->o.trickle);
  ev_emit(s);
  send_sig(a, m);
}

static void send_end_of_candidates(app *a) {
  if (a->eoc_sent || a->finished)
    return;
  a->eoc_sent = 1;
  JsonObject *m = json_object_new();
  json_object_set_string_member(m, "type", "end-of-candidates");
  ev_emit(ev_pc(a, "end-of-candidates"));
  send_sig(a, m);
}

static void on_ice_candidate(weft_pc *pc, const weft_ice_candidate *c, void *ud) {
  app *a = ud;
  cb_note(a);
  if (!a->o.trickle || a->finished)
    return;
  if (!c || !c->candidate || !c->candidate[0]) {
    send_end_of_candidates(a);
    return;
  }
  JsonObject *m = json_object_new();
  json_object_set_string_member(m, "type", "candidate");
  json_object_set_string_member(m, "candidate", c->candidate);
  if (c->sdp_mid)
    json_object_set_string_member(m, "sdpMid", c->sdp_mid);
  if (c->sdp_mline_index >= 0)
    json_object_set_int_member(m, "sdpMLineIndex", c->sdp_mline_index);
  GString *s = ev_pc(a, "local-candidate");
  jl_str(s, "candidate", c->candidate);
  ev_emit(s);
  send_sig(a, m);
}

static void on_gathering(weft_pc *pc, weft_ice_gathering_state st, void *ud) {
  app *a = ud;
  cb_note(a);
  GString *s = ev_pc(a, "gathering-state");
  jl_str(s, "state", weft_ice_gathering_state_to_string(st));
  ev_emit(s);
  if (st != WEFT_GATHERING_COMPLETE || a->finished)
    return;
  if (a->o.trickle) {
    send_end_of_candidates(a);
    return;
  }
  if (a->offer_sent)
    return;
  char *sdp = NULL;
  int rc = weft_pc_get_description(pc, WEFT_DESC_LOCAL, NULL, &sdp);
  if (rc < 0 || !sdp)
    fail(a, "reading the local description: %s (%s)", weft_err_name(rc), weft_last_error_message());
  else
    send_offer(a, sdp);
  weft_free(sdp);
}

static void on_pc_state(weft_pc *pc, weft_pc_state st, void *ud) {
  app *a = ud;
  cb_note(a);
  GString *s = ev_pc(a, "pc-state");
  jl_str(s, "state", weft_pc_state_to_string(st));
  ev_emit(s);
  if (st == WEFT_PC_CONNECTED && a->media) {
    if (!a->connected_ms)
      a->connected_ms = ms_since(a->pc_created_us);
    /* Sending paces itself on the main loop; the overall limit makes room
     * for it and its tail. */
    gint64 end = now_us() + (gint64)((a->o.media_seconds + 3 + 10) * G_USEC_PER_SEC);
    if (a->deadline_us < end)
      a->deadline_us = end;
    ec_media_start(a->media);
  }
  if (st == WEFT_PC_CONNECTED && !a->sel_local) {
    if (weft_pc_get_selected_candidate_pair(pc, &a->sel_local, &a->sel_remote) == WEFT_OK) {
      s = ev_pc(a, "selected-pair");
      jl_str(s, "local", a->sel_local);
      jl_str(s, "remote", a->sel_remote);
      ev_emit(s);
    } else {
      a->sel_local = a->sel_remote = NULL;
    }
  } else if (st == WEFT_PC_FAILED) {
    fail(a, "the peer connection failed (ICE %s)",
         weft_ice_connection_state_to_string(weft_pc_get_ice_connection_state(pc)));
  } else if (st == WEFT_PC_CLOSED) {
    /* Set after cb_note(): this callback itself is the last allowed one. */
    a->pc_closed = 1;
    a->pc_closed_us = now_us();
    a->remote_closed = 1;
    if (a->ph == PH_AWAIT_CLOSE)
      check_await(a);
    else
      fail(a, "the remote closed the connection");
  }
}

static void on_ice_state(weft_pc *pc, weft_ice_connection_state st, void *ud) {
  app *a = ud;
  cb_note(a);
  GString *s = ev_pc(a, "ice-state");
  jl_str(s, "state", weft_ice_connection_state_to_string(st));
  ev_emit(s);
}

static void on_pc_error(weft_pc *pc, const weft_error_info *e, void *ud) {
  app *a = ud;
  cb_note(a);
  if (a->ph != PH_AWAIT_CLOSE)
    fail(a, "peer connection error (%s): %s", weft_error_detail_to_string(e->detail), e->message);
  else {
    GString *s = ev_pc(a, "error");
    jl_str(s, "message", e->message);
    ev_emit(s);
  }
}

static void on_data_channel(weft_pc *pc, weft_dc *dc, void *ud) {
  app *a = ud;
  cb_note(a);
  /* Not expected from an echo endpoint; logged and left alone. */
  GString *s = ev_pc(a, "channel");
  jl_int(s, "dc", weft_dc_get_id(dc));
  jl_str(s, "label", weft_dc_get_label(dc));
  jl_str(s, "protocol", weft_dc_get_protocol(dc));
  jl_bool(s, "remote", 1);
  ev_emit(s);
}

/* ===== Signaling ========================================================== */

/* The sizes to send, now that the remote's max-message-size is known. */
static int prepare_sizes(app *a) {
  size_t mms = a->remote_mms;
  if (a->o.sizes) {
    a->nsizes = a->o.nsizes;
    a->sizes = g_new(size_t, a->nsizes);
    for (int i = 0; i < a->nsizes; i++) {
      a->sizes[i] = a->o.sizes[i];
      if (a->sizes[i] > mms) {
        fail(a, "size %zu is larger than the remote's max-message-size (%zu)", a->sizes[i], mms);
        return -1;
      }
    }
  } else {
    a->sizes = g_new(size_t, 20);
    a->nsizes = 0;
    a->sizes[a->nsizes++] = 0;
    for (size_t v = 1; v <= 65536 && v <= mms; v *= 2)
      a->sizes[a->nsizes++] = v;
    /* The echo comes back to us, so it must also fit what we advertise. */
    size_t top = mms < LOCAL_MAX_MESSAGE_SIZE ? mms : LOCAL_MAX_MESSAGE_SIZE;
    if (top > a->sizes[a->nsizes - 1])
      a->sizes[a->nsizes++] = top;
  }
  size_t max = 1;
  for (int i = 0; i < a->nsizes; i++)
    max = a->sizes[i] > max ? a->sizes[i] : max;
  a->buf_size = max;
  a->buf = g_malloc(max);
  a->scratch = g_malloc(max);
  for (int i = 0; i < a->nchans; i++) {
    chan *c = &a->chans[i];
    c->total = (uint64_t)a->o.count * (uint64_t)a->nsizes * (uint64_t)a->nkinds;
    if (!c->exact)
      c->matched = g_malloc0(c->total ? c->total : 1);
  }
  return 0;
}

static void on_answer(app *a, JsonObject *msg) {
  const char *sdp = json_object_get_string_member_with_default(msg, "sdp", NULL);
  if (a->answered)
    return;
  if (!sdp) {
    fail(a, "the answer has no sdp");
    return;
  }
  int rc = weft_pc_set_remote_description(a->pc, WEFT_SDP_ANSWER, sdp);
  if (rc < 0) {
    fail(a, "the answer was refused: %s: %s", weft_err_name(rc), weft_last_error_message());
    return;
  }
  a->answered = 1;
  size_t mms = 0;
  weft_pc_get_max_message_size(a->pc, &mms);
  a->remote_mms = mms;
  GString *s = ev_pc(a, "answer");
  jl_int(s, "candidates", count_candidates(sdp));
  jl_uint(s, "max_message_size", mms == SIZE_MAX ? 0 : mms);
  ev_emit(s);
  if (prepare_sizes(a) < 0)
    return;
  if (a->ph < PH_CONNECTING)
    a->ph = PH_CONNECTING;
  for (int i = 0; i < a->nchans; i++)
    start_channel(&a->chans[i]);
}

static void on_remote_candidate(app *a, JsonObject *msg, int end) {
  weft_ice_candidate c = {NULL, NULL, -1, NULL};
  if (!end) {
    c.candidate = json_object_get_string_member_with_default(msg, "candidate", "");
    c.sdp_mid = json_object_get_string_member_with_default(msg, "sdpMid", NULL);
    c.sdp_mline_index = (int)json_object_get_int_member_with_default(msg, "sdpMLineIndex", -1);
  }
  GString *s = ev_pc(a, "remote-candidate");
  jl_str(s, "candidate", end ? "end-of-candidates" : c.candidate);
  ev_emit(s);
  int rc = weft_pc_add_ice_candidate(a->pc, end ? NULL : &c);
  if (rc < 0)
    fail(a, "a remote candidate was refused: %s: %s", weft_err_name(rc), weft_last_error_message());
}

static void on_sig_message(sig_session *ss, JsonObject *msg, void *ud) {
  app *a = ud;
  if (a->finished)
    return;
  const char *type = json_object_get_string_member_with_default(msg, "type", "");
  if (!strcmp(type, "answer")) {
    on_answer(a, msg);
  } else if (!strcmp(type, "candidate")) {
    on_remote_candidate(a, msg, 0);
  } else if (!strcmp(type, "end-of-candidates")) {
    on_remote_candidate(a, msg, 1);
  } else if (!strcmp(type, "error")) {
    fail(a, "signaling: %s",
         json_object_get_string_member_with_default(msg, "message", "(no message)"));
  } else if (!strcmp(type, "bye")) {
    ev_emit(ev_pc(a, "bye"));
    if (a->ph != PH_AWAIT_CLOSE)
      fail(a, "the endpoint ended the session");
  } else {
    GString *s = ev_pc(a, "signaling-ignored");
    jl_str(s, "type", type);
    ev_emit(s);
  }
}

/* ===== Timers and signals ================================================= */

static void describe_progress(app *a, GString *out) {
  int listed = 0;
  for (int i = 0; i < a->nchans && listed < 4; i++) {
    chan *c = &a->chans[i];
    if (c->done)
      continue;
    g_string_append_printf(out,
                           "%s%s: sent %" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT
                           ", echoed %" G_GUINT64_FORMAT ", buffered %zu",
                           listed++ ? "; " : "", c->label, c->next_send, c->total, c->echoed,
                           c->dc ? weft_dc_get_buffered_amount(c->dc) : 0);
  }
}

static void on_deadline(app *a) {
  double t = (double)(now_us() - a->pc_created_us) / 1e6;
  switch (a->ph) {
  case PH_GATHERING:
    fail(a, "timed out after %.1f s: ICE gathering did not complete (state %s)", t,
         weft_ice_gathering_state_to_string(weft_pc_get_ice_gathering_state(a->pc)));
    break;
  case PH_ANSWER:
    fail(a, "timed out after %.1f s waiting for the answer from %s", t, a->o.url);
    break;
  case PH_CONNECTING: {
    GString *p = g_string_new(NULL);
    if (a->media)
      ec_media_describe(a->media, p);
    fail(a, "timed out after %.1f s: %d of %d channels open (connection %s, ICE %s)%s%s", t,
         a->opened, a->nchans, weft_pc_state_to_string(weft_pc_get_connection_state(a->pc)),
         weft_ice_connection_state_to_string(weft_pc_get_ice_connection_state(a->pc)),
         p->len ? "; " : "", p->str);
    g_string_free(p, TRUE);
    break;
  }
  case PH_CHECKS: {
    GString *p = g_string_new(NULL);
    describe_progress(a, p);
    if (a->media) {
      if (p->len)
        g_string_append(p, "; ");
      ec_media_describe(a->media, p);
    }
    fail(a, "timed out after %.1f s waiting for echoes (%s)", t, p->str);
    g_string_free(p, TRUE);
    break;
  }
  case PH_THROUGHPUT:
    fail(a,
         "timed out after %.1f s in the throughput phase (%s, sent %" G_GUINT64_FORMAT
         ", echoed %" G_GUINT64_FORMAT ")",
         t, a->tp && a->tp->opened ? "channel open" : "channel not open", a->tp_sent,
         a->tp_recv_seq);
    break;
  case PH_AWAIT_CLOSE:
    fail(a, "timed out after %.1f s waiting for the remote to close", t);
    break;
  }
}

static gboolean on_tick(void *ud) {
  app *a = ud;
  gint64 now = now_us();
  if (a->finished)
    return G_SOURCE_CONTINUE;
  if (interrupted) {
    fail(a, "interrupted");
    return G_SOURCE_CONTINUE;
  }
  if (now > a->deadline_us) {
    on_deadline(a);
    return G_SOURCE_CONTINUE;
  }
  if (a->ph == PH_CHECKS) {
    /* Unreliable channels: once everything left, wait a grace period after
     * the last echo, then count the rest as lost. */
    for (int i = 0; i < a->nchans && !a->finished; i++) {
      chan *c = &a->chans[i];
      if (c->exact || c->done || !c->all_sent_us || weft_dc_get_buffered_amount(c->dc))
        continue;
      gint64 ref = c->last_echo_us > c->all_sent_us ? c->last_echo_us : c->all_sent_us;
      if (now - ref >= GRACE_US)
        channel_done(c);
    }
  } else if (a->ph == PH_THROUGHPUT && a->tp_sending && now >= a->tp_stop_us) {
    a->tp_sending = 0;
    if (a->tp_recv_seq == a->tp_sent)
      throughput_finish(a);
  } else if (a->ph == PH_AWAIT_CLOSE) {
    check_await(a);
  }
  return G_SOURCE_CONTINUE;
}

/* A plain handler and a flag polled by the tick: g_unix_signal_add() would
 * start a GLib worker thread that never exits (valgrind: "possibly lost"). */
static void on_signal(int sig) { interrupted = sig; }

static void install_signal_handlers(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

/* ===== Command line ======================================================= */

static void usage(FILE *f) {
  fputs("usage: echo-client --url http://HOST:PORT/offer [options]\n"
        "  --channels N              channels echo-0 .. echo-N-1 (default 1; 0 with --media)\n"
        "  --count N                 rounds of every size (default 3)\n"
        "  --sizes auto|LIST         message sizes, e.g. 0,1,65536 (default auto:\n"
        "                            0,1,2,4,...,65536 and the remote max-message-size)\n"
        "  --text-only | --binary-only\n"
        "  --unordered               unordered channels\n"
        "  --max-retransmits N       partially reliable channels (retransmissions)\n"
        "  --max-packet-life-time MS partially reliable channels (lifetime)\n"
        "  --negotiated ID           one negotiated channel \"negotiated\" with this id\n"
        "  --trickle                 post the offer at once, then PATCH each candidate\n"
        "  --throughput SECONDS      then measure echo throughput on channel \"throughput\"\n"
        "  --msg-size BYTES          throughput message size (default 65536)\n"
        "  --await-remote-close S    then wait for the remote to close everything\n"
        "  --timeout S               overall limit (default 20)\n"
        "  --no-loopback             do not gather 127.0.0.1\n"
        "  --media                   also an Opus and a VP8 track: a tone and a test pattern\n"
        "                            are sent, the echoes decoded (--channels 0: media only)\n"
        "  --media-seconds S         how long to send media (default 10)\n"
        "  --media-min-decoded N     frames each of audio and video must decode (default 100)\n"
        "Result: one JSON line on stdout; events: JSON lines on stderr (doc/interop.md).\n"
        "Exit: 0 ok, 1 failed, 2 usage.\n",
        f);
}

static int parse_long(const char *s, long min, long max, long *out) {
  char *end = NULL;
  if (!s || !*s)
    return -1;
  long v = strtol(s, &end, 10);
  if (*end || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

static int parse_seconds(const char *s, double *out) {
  char *end = NULL;
  if (!s || !*s)
    return -1;
  double v = g_ascii_strtod(s, &end);
  if (*end || !(v > 0) || v > 86400)
    return -1;
  *out = v;
  return 0;
}

static int parse_sizes(options *o, const char *s) {
  if (!strcmp(s, "auto"))
    return 0;
  char **parts = g_strsplit(s, ",", -1);
  guint n = g_strv_length(parts);
  int rc = n > 0 && n <= 4096 ? 0 : -1;
  o->sizes = g_new0(size_t, rc == 0 ? n : 1);
  for (guint i = 0; i < n && rc == 0; i++) {
    long v = 0;
    rc = parse_long(g_strstrip(parts[i]), 0, 16 * 1024 * 1024, &v);
    o->sizes[i] = (size_t)v;
  }
  o->nsizes = (int)n;
  g_strfreev(parts);
  return rc;
}

static void bad_usage(const char *why, const char *arg) {
  fprintf(stderr, "echo-client: %s%s%s\n", why, arg ? ": " : "", arg ? arg : "");
  usage(stderr);
}

/* Returns 0 to run, 2 for bad usage, 3 for --help. */
static int parse_options(int argc, char **argv, options *o) {
  o->channels = 1;
  o->count = 3;
  o->text = o->binary = 1;
  o->max_retransmits = o->max_packet_life_time = o->negotiated_id = -1;
  o->msg_size = 65536;
  o->timeout_s = 20;
  o->loopback = 1;
  o->media_seconds = 10;
  o->media_min_decoded = 100;
  int channels_given = 0;
  for (int i = 1; i < argc; i++) {
    char *arg = argv[i];
    const char *val = NULL;
    char name[64];
    const char *eq = strchr(arg, '=');
    if (!strncmp(arg, "--", 2) && eq && (size_t)(eq - arg) < sizeof name) {
      memcpy(name, arg, (size_t)(eq - arg));
      name[eq - arg] = '\0';
      val = eq + 1;
    } else {
      g_strlcpy(name, arg, sizeof name);
    }
    static const char *const with_value[] = {"--url",
                                             "--channels",
                                             "--count",
                                             "--sizes",
                                             "--max-retransmits",
                                             "--max-packet-life-time",
                                             "--negotiated",
                                             "--throughput",
                                             "--msg-size",
                                             "--await-remote-close",
                                             "--timeout",
                                             "--media-seconds",
                                             "--media-min-decoded",
                                             NULL};
    int takes = 0;
    for (int k = 0; with_value[k]; k++)
      takes |= !strcmp(name, with_value[k]);
    if (takes && !val) {
      if (i + 1 >= argc) {
        bad_usage("missing value for", name);
        return 2;
      }
      val = argv[++i];
    } else if (!takes && val) {
      bad_usage("option takes no value", name);
      return 2;
    }
    long v;
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
      return 3;
    } else if (!strcmp(name, "--url")) {
      if (strncmp(val, "http://", 7) && strncmp(val, "https://", 8)) {
        bad_usage("--url must be an http:// URL", val);
        return 2;
      }
      o->url = val;
    } else if (!strcmp(name, "--channels")) {
      if (parse_long(val, 0, 512, &v) < 0)
        goto bad_value;
      o->channels = (int)v;
      channels_given = 1;
    } else if (!strcmp(name, "--count")) {
      if (parse_long(val, 1, 100000, &v) < 0)
        goto bad_value;
      o->count = (int)v;
    } else if (!strcmp(name, "--sizes")) {
      g_free(o->sizes);
      o->sizes = NULL;
      if (parse_sizes(o, val) < 0)
        goto bad_value;
    } else if (!strcmp(name, "--text-only")) {
      o->binary = 0;
    } else if (!strcmp(name, "--binary-only")) {
      o->text = 0;
    } else if (!strcmp(name, "--unordered")) {
      o->unordered = 1;
    } else if (!strcmp(name, "--max-retransmits")) {
      if (parse_long(val, 0, 65535, &v) < 0)
        goto bad_value;
      o->max_retransmits = (int)v;
    } else if (!strcmp(name, "--max-packet-life-time")) {
      if (parse_long(val, 0, 65535, &v) < 0)
        goto bad_value;
      o->max_packet_life_time = (int)v;
    } else if (!strcmp(name, "--negotiated")) {
      if (parse_long(val, 0, 1023, &v) < 0)
        goto bad_value;
      o->negotiated_id = (int)v;
    } else if (!strcmp(name, "--trickle")) {
      o->trickle = 1;
    } else if (!strcmp(name, "--throughput")) {
      if (parse_seconds(val, &o->throughput_s) < 0)
        goto bad_value;
    } else if (!strcmp(name, "--msg-size")) {
      if (parse_long(val, 16, 16 * 1024 * 1024, &v) < 0)
        goto bad_value;
      o->msg_size = (size_t)v;
    } else if (!strcmp(name, "--await-remote-close")) {
      if (parse_seconds(val, &o->await_close_s) < 0)
        goto bad_value;
    } else if (!strcmp(name, "--timeout")) {
      if (parse_seconds(val, &o->timeout_s) < 0)
        goto bad_value;
    } else if (!strcmp(name, "--no-loopback")) {
      o->loopback = 0;
    } else if (!strcmp(name, "--media")) {
      o->media = 1;
    } else if (!strcmp(name, "--media-seconds")) {
      if (parse_seconds(val, &o->media_seconds) < 0 || o->media_seconds > 3600)
        goto bad_value;
    } else if (!strcmp(name, "--media-min-decoded")) {
      if (parse_long(val, 0, 1000000, &v) < 0)
        goto bad_value;
      o->media_min_decoded = v;
    } else {
      bad_usage("unknown argument", arg);
      return 2;
    }
    continue;
  bad_value:
    fprintf(stderr, "echo-client: bad value for %s: %s\n", name, val);
    usage(stderr);
    return 2;
  }
  if (!o->url) {
    bad_usage("--url is required", NULL);
    return 2;
  }
  if (!o->text && !o->binary) {
    bad_usage("--text-only and --binary-only exclude each other", NULL);
    return 2;
  }
  if (o->max_retransmits >= 0 && o->max_packet_life_time >= 0) {
    bad_usage("--max-retransmits and --max-packet-life-time exclude each other", NULL);
    return 2;
  }
  if (o->channels == 0 && !o->media) {
    bad_usage("--channels 0 needs --media (nothing to test otherwise)", NULL);
    return 2;
  }
  if (o->channels == 0 && (o->throughput_s > 0 || o->await_close_s > 0)) {
    bad_usage("--throughput and --await-remote-close need a channel; drop --channels 0", NULL);
    return 2;
  }
  if (o->negotiated_id >= 0 && channels_given && o->channels != 1) {
    bad_usage("--negotiated makes exactly one channel; drop --channels", NULL);
    return 2;
  }
  return 0;
}

/* ===== Result ============================================================= */

static void print_result(app *a) {
  uint64_t sent = 0, echoed = 0, lost = 0, bytes = 0;
  GString *open = jl_array_new();
  for (int i = 0; i < a->nchans; i++) {
    chan *c = &a->chans[i];
    sent += c->next_send;
    echoed += c->echoed;
    bytes += c->echoed_bytes;
    if (!c->exact)
      lost += c->next_send - c->echoed;
    if (c->opened)
      jl_array_num(open, c->open_ms, 1);
    else
      g_string_append(open, open->len > 1 ? ",null" : "null");
  }
  g_string_append_c(open, ']');

  GString *s = jl_new();
  jl_bool(s, "ok", a->ok);
  jl_str(s, "url", a->o.url);
  if (a->nchans && a->opened == a->nchans)
    jl_num(s, "connect_ms", a->connect_ms, 1);
  else if (!a->nchans && a->connected_ms > 0)
    jl_num(s, "connect_ms", a->connected_ms, 1); /* media only: until connected */
  else
    jl_null(s, "connect_ms");
  jl_raw(s, "open_ms", open);
  jl_int(s, "channels", a->nchans);
  jl_uint(s, "sent", sent);
  jl_uint(s, "echoed", echoed);
  jl_uint(s, "lost", lost);
  jl_uint(s, "bytes", bytes);
  jl_uint(s, "max_message_size", a->remote_mms == SIZE_MAX ? 0 : a->remote_mms);
  if (a->sel_local && a->sel_remote) {
    GString *p = jl_new();
    jl_str(p, "local", a->sel_local);
    jl_str(p, "remote", a->sel_remote);
    g_string_append_c(p, '}');
    jl_raw(s, "selected_pair", p);
  } else {
    jl_null(s, "selected_pair");
  }
  if (a->o.throughput_s > 0) {
    uint64_t tb = a->tp ? a->tp->echoed_bytes : 0;
    double secs = a->tp_start_us ? (double)(a->tp_last_echo_us - a->tp_start_us) / 1e6 : 0;
    GString *t = jl_new();
    jl_num(t, "seconds", secs, 3);
    jl_uint(t, "bytes", tb);
    jl_num(t, "mb_per_s", secs > 0 ? (double)tb / secs / 1e6 : 0, 2);
    jl_uint(t, "msg_size", a->o.msg_size);
    g_string_append_c(t, '}');
    jl_raw(s, "throughput", t);
  }
  if (a->o.await_close_s > 0) {
    int closed = 0;
    all_channels_closed(a, &closed, NULL);
    GString *r = jl_new();
    jl_int(r, "channels_closed", closed);
    jl_bool(r, "pc_closed", a->pc_closed);
    jl_int(r, "late_callbacks", a->late_callbacks);
    g_string_append_c(r, '}');
    jl_raw(s, "remote_close", r);
  }
  if (a->media)
    ec_media_result(a->media, s);
  jl_str(s, "error", a->ok ? NULL : (a->error ? a->error : "failed"));
  jl_print(s, stdout);
}

/* ===== Main =============================================================== */

static gboolean wake(void *ud) { return G_SOURCE_CONTINUE; }

/* Lets pending work finish (weft's teardown, the DELETE in flight) so that
 * nothing is left allocated at exit; bounded. */
static void drain_main_context(app *a, gint64 max_us) {
  guint id = g_timeout_add(10, wake, NULL);
  gint64 end = now_us() + max_us;
  while (now_us() < end && (weft_debug_live_objects() > 0 || (a->sig && !a->sig_finalized)))
    g_main_context_iteration(NULL, TRUE);
  g_source_remove(id);
}

static void on_sig_finalized(void *ud) {
  app *a = ud;
  a->sig_finalized = 1;
}

static void on_media_done(void *ud, const char *error) {
  app *a = ud;
  if (error) {
    fail(a, "%s", error);
    return;
  }
  a->media_done = 1;
  check_checks_done(a);
}

static int setup(app *a) {
  GError *err = NULL;
  a->sig = sig_http_client_new(a->o.url, &err);
  if (!a->sig) {
    fail(a, "signaling: %s", err ? err->message : "cannot create the HTTP client");
    g_clear_error(&err);
    return -1;
  }
  /* The destroy notify tells when the session is finalized: in-flight
   * requests (the final DELETE) hold references on it. */
  sig_session_set_handler(a->sig, on_sig_message, a, on_sig_finalized);

  a->ctx = weft_context_new_for_main_context(g_main_context_default());
  weft_config *cfg = weft_config_new();
  if (!a->ctx || !cfg) {
    weft_config_free(cfg);
    fail(a, "creating the weft context: %s", weft_last_error_message());
    return -1;
  }
  if (a->o.loopback)
    weft_config_set_enable_loopback(cfg, 1);
  size_t local_mms = LOCAL_MAX_MESSAGE_SIZE;
  for (int i = 0; a->o.sizes && i < a->o.nsizes; i++)
    local_mms = a->o.sizes[i] > local_mms ? a->o.sizes[i] : local_mms;
  weft_config_set_max_message_size(cfg, local_mms);
  a->pc = weft_pc_new(a->ctx, cfg);
  weft_config_free(cfg);
  a->pc_created_us = now_us();
  a->deadline_us = a->pc_created_us + (gint64)(a->o.timeout_s * G_USEC_PER_SEC);
  if (!a->pc) {
    fail(a, "creating the peer connection: %s", weft_last_error_message());
    return -1;
  }
  weft_pc_set_user_data(a->pc, a, NULL);
  weft_pc_set_on_connection_state_change(a->pc, on_pc_state);
  weft_pc_set_on_ice_connection_state_change(a->pc, on_ice_state);
  weft_pc_set_on_ice_gathering_state_change(a->pc, on_gathering);
  weft_pc_set_on_ice_candidate(a->pc, on_ice_candidate);
  weft_pc_set_on_error(a->pc, on_pc_error);
  weft_pc_set_on_data_channel(a->pc, on_data_channel);

  if (a->o.media) {
    /* Tracks before the offer (and before the channels: the offer lists
     * audio, video, then data). */
    char *why = NULL;
    a->media = ec_media_new(a->pc, a->t0_us, a->o.media_seconds, a->o.media_min_decoded,
                            on_media_done, a, &why);
    if (!a->media) {
      fail(a, "%s", why);
      g_free(why);
      return -1;
    }
  }

  int negotiated = a->o.negotiated_id >= 0;
  a->nchans = negotiated ? 1 : a->o.channels;
  a->chans = g_new0(chan, a->nchans);
  for (int i = 0; i < a->nchans; i++) {
    chan *c = &a->chans[i];
    c->a = a;
    c->index = (uint32_t)i;
    if (negotiated)
      g_strlcpy(c->label, "negotiated", sizeof c->label);
    else
      g_snprintf(c->label, sizeof c->label, "echo-%d", i);
    weft_dc_init init = WEFT_DC_INIT;
    init.ordered = !a->o.unordered;
    init.max_retransmits = a->o.max_retransmits;
    init.max_packet_life_time = a->o.max_packet_life_time;
    if (negotiated) {
      init.negotiated = 1;
      init.id = a->o.negotiated_id;
    }
    c->exact = init.ordered && init.max_retransmits < 0 && init.max_packet_life_time < 0;
    c->dc = weft_pc_create_data_channel(a->pc, c->label, &init);
    if (!c->dc) {
      fail(a, "creating channel %s: %s (%s)", c->label, weft_err_name(weft_last_error()),
           weft_last_error_message());
      return -1;
    }
    dc_watch(c, CHECK_LOW_WATER);
    GString *s = ev_dc(c, "channel");
    jl_str(s, "protocol", "");
    jl_bool(s, "ordered", init.ordered);
    if (init.max_retransmits >= 0)
      jl_int(s, "max_retransmits", init.max_retransmits);
    else
      jl_null(s, "max_retransmits");
    if (init.max_packet_life_time >= 0)
      jl_int(s, "max_packet_life_time", init.max_packet_life_time);
    else
      jl_null(s, "max_packet_life_time");
    jl_bool(s, "negotiated", negotiated);
    ev_emit(s);
  }

  if (!a->o.trickle) {
    /* Implicit offer; the offer goes out from on_gathering (complete). */
    a->ph = PH_GATHERING;
    int rc = weft_pc_set_local_description(a->pc, WEFT_SDP_UNSPEC, NULL);
    if (rc < 0) {
      fail(a, "creating the offer: %s (%s)", weft_err_name(rc), weft_last_error_message());
      return -1;
    }
    return 0;
  }
  char *sdp = NULL;
  int rc = weft_pc_create_offer(a->pc, NULL, &sdp);
  if (rc == WEFT_OK)
    rc = weft_pc_set_local_description(a->pc, WEFT_SDP_OFFER, sdp);
  if (rc < 0) {
    fail(a, "creating the offer: %s (%s)", weft_err_name(rc), weft_last_error_message());
    weft_free(sdp);
    return -1;
  }
  send_offer(a, sdp);
  weft_free(sdp);
  return 0;
}

int main(int argc, char **argv) {
  app a;
  memset(&a, 0, sizeof a);
  int rc = parse_options(argc, argv, &a.o);
  if (rc) {
    g_free(a.o.sizes);
    if (rc == 3)
      usage(stdout);
    return rc == 3 ? 0 : rc;
  }
  a.kinds[a.nkinds] = PAYLOAD_TEXT;
  a.nkinds += a.o.text;
  a.kinds[a.nkinds] = PAYLOAD_BINARY;
  a.nkinds += a.o.binary;
  a.t0_us = now_us();
  a.loop = g_main_loop_new(NULL, FALSE);

  guint tick = g_timeout_add(TICK_MS, on_tick, &a);
  install_signal_handlers();
  if (setup(&a) == 0 && !a.finished)
    g_main_loop_run(a.loop);

  /* The endpoint learns the session is over: a bye DELETEs after any PATCH
   * still queued. (sig_session_close() below DELETEs in any case, also after
   * a failure or a remote close, dropping queued PATCHes.) */
  if (a.ok && !a.remote_closed && a.sig && a.offer_sent) {
    JsonObject *bye = json_object_new();
    json_object_set_string_member(bye, "type", "bye");
    sig_session_send(a.sig, bye, NULL);
    json_object_unref(bye);
  }
  ec_media_stop(a.media);
  if (a.pc)
    weft_pc_close(a.pc);
  for (int i = 0; i < a.nchans; i++) {
    weft_dc_unref(a.chans[i].dc);
    g_free(a.chans[i].matched);
  }
  if (a.tp)
    weft_dc_unref(a.tp->dc);
  weft_pc_unref(a.pc);
  weft_context_unref(a.ctx);
  if (a.sig)
    sig_session_close(a.sig);

  print_result(&a);
  ec_media_free(a.media);

  g_source_remove(tick);
  if (a.sig)
    sig_session_unref(a.sig);
  drain_main_context(&a, 2 * G_USEC_PER_SEC);

  g_free(a.chans);
  g_free(a.tp);
  g_free(a.tp_buf);
  g_free(a.sizes);
  g_free(a.o.sizes);
  g_free(a.buf);
  g_free(a.scratch);
  weft_free(a.sel_local);
  weft_free(a.sel_remote);
  g_free(a.error);
  g_main_loop_unref(a.loop);
  return a.ok ? 0 : 1;
}
