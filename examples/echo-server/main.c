/*
 * examples/echo-server — weft answers offers POSTed over HTTP (the WHIP
 * shape, examples/signaling) and echoes every data channel message back.
 *
 *   echo-server [--host 127.0.0.1] [--port 8080] [--lifetime S] [--max-sessions 64]
 *               [--negotiated ID[:LABEL]]... [--no-loopback] [--verbose] [--send-buffer BYTES]
 *
 * The CLI and the JSON log on stdout are a contract with the interop tests:
 * see doc/interop.md.
 *
 * Threading: the weft context runs on the default GMainContext
 * (weft_context_new_for_main_context), the same one SoupServer and the
 * signals use, so every callback in this file runs on the main thread, one
 * at a time. No locks anywhere.
 */
#define _POSIX_C_SOURCE 200809L
#include "signaling.h"

#include <weft/weft-glib.h>
#include <weft/weft.h>

#include <glib-unix.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The HTTP server gives up on an unanswered POST after 10 s (504); answer
 * before that with whatever was gathered. */
#define GATHER_TIMEOUT_MS 5000
/* A session that is not connected this long after its answer is released:
 * its client went away without a DELETE, or never sent a usable candidate
 * (ICE without remote candidates never fails by itself), and it would hold
 * one of --max-sessions forever. */
#define CONNECT_TIMEOUT_S 30
/* After the last pc is released, how long to keep iterating so that weft can
 * finish tearing down (close_notify out, sockets closed) before exit. */
#define DRAIN_TIMEOUT_MS 2000

typedef struct negotiated_spec {
  int id;
  char *label;
} negotiated_spec;

typedef struct server {
  GMainLoop *loop;
  weft_context *ctx;
  weft_config *cfg;
  sig_http_server *http;
  GQueue peers; /* peer *, live ones */
  guint served; /* pcs created so far: the next one is served + 1 */
  gboolean stopping;
  gint64 t0; /* monotonic start, for "t" */
  guint lifetime_timer;

  /* options */
  char *host;
  int port;
  double lifetime;
  int send_buffer; /* weft_config_set_send_buffer_limit, 0 = weft's default */
  int max_sessions;
  GArray *negotiated; /* negotiated_spec */
  gboolean no_loopback;
  gboolean verbose;
} server;

typedef struct chan chan;

typedef struct peer {
  server *srv;
  guint n; /* the "pc" of the log */
  weft_pc *pc;
  sig_session *sig;
  GPtrArray *chans;  /* chan *, owned */
  GPtrArray *tracks; /* weft_track * (references), echoed */
  guint gather_timer, connect_timer;
  gboolean answered, pair_logged;
} peer;

struct chan {
  peer *p;
  weft_dc *dc; /* a reference */
  char *label;
  guint64 messages, bytes; /* echoed so far */
  gboolean opened, done;   /* done: closed (by the remote or by us) */
  /* Echoes weft would not take yet (WEFT_ERR_AGAIN: the send buffer is
   * full), in order; sent again from on_buffered_amount_low. */
  GQueue backlog; /* echo_msg * */
  size_t backlog_bytes;
};

/* One echo waiting for room in the send buffer. */
typedef struct echo_msg {
  weft_msg_type type;
  size_t size;
  guint8 data[];
} echo_msg;

/* How much a client may send ahead of what it reads before the server gives
 * up on the channel. weft's own send buffer (16 MiB by default) comes first. */
#define BACKLOG_MAX (64u << 20)
/* Resume echoing once weft's buffer has drained below this. */
#define LOW_THRESHOLD (1u << 20)

static server the_server;

/* ===== The log ============================================================== */

/* A new log object with "ev" (and "pc" when @p is given). */
static JsonObject *ev_new(const char *ev, const peer *p) {
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "ev", ev);
  if (p)
    json_object_set_int_member(o, "pc", p->n);
  return o;
}

static JsonObject *ev_chan(const char *ev, const chan *c) {
  JsonObject *o = ev_new(ev, c->p);
  json_object_set_int_member(o, "dc", weft_dc_get_id(c->dc));
  json_object_set_string_member(o, "label", c->label);
  return o;
}

/* Prints @o (consumed) as one line. "t" is written by hand so that it comes
 * first and reads "1.234" (json-glib prints doubles with 17 digits); all the
 * rest, strings from the network included, is escaped by json-glib. */
static void log_line(JsonObject *o) {
  JsonNode *node = json_node_alloc();
  json_node_init_object(node, o);
  char *text = json_to_string(node, FALSE);
  double t = (double)(g_get_monotonic_time() - the_server.t0) / 1e6;
  printf("{\"t\":%.3f,%s\n", t, text + 1);
  fflush(stdout);
  g_free(text);
  json_node_unref(node);
  json_object_unref(o);
}

/* An "error" line; @p may be NULL. The message may come from a remote. */
static void log_error(const peer *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static void log_error(const peer *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *text = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  char *valid = g_utf8_make_valid(text, -1);
  JsonObject *o = ev_new("error", p);
  json_object_set_string_member(o, "message", valid);
  log_line(o);
  g_free(valid);
  g_free(text);
}

/* ===== Peer lifetime ========================================================= */

static void log_closed(chan *c);

static void chan_free(gpointer data) {
  chan *c = data;
  g_queue_clear_full(&c->backlog, g_free);
  weft_dc_unref(c->dc);
  g_free(c->label);
  g_free(c);
}

/* A "track-stats" line: what weft counted on one echoed track. */
static void log_track_stats(peer *p, weft_track *t) {
  weft_track_stats st = WEFT_TRACK_STATS_INIT;
  char *mid = NULL;
  weft_track_get_mid(t, &mid);
  if (weft_track_get_stats(t, &st) == WEFT_OK) {
    JsonObject *o = ev_new("track-stats", p);
    json_object_set_string_member(o, "mid", mid ? mid : "");
    json_object_set_string_member(o, "kind",
                                  weft_track_get_kind(t) == WEFT_KIND_AUDIO ? "audio" : "video");
    json_object_set_int_member(o, "packets_received", (gint64)st.packets_received);
    json_object_set_int_member(o, "packets_sent", (gint64)st.packets_sent);
    json_object_set_int_member(o, "nacks_received", (gint64)st.nacks_received);
    json_object_set_int_member(o, "retransmitted", (gint64)st.retransmitted);
    json_object_set_int_member(o, "plis_received", (gint64)st.plis_received);
    json_object_set_int_member(o, "plis_sent", (gint64)st.plis_sent);
    json_object_set_int_member(o, "srtp_failures", (gint64)st.srtp_failures);
    json_object_set_int_member(o, "packets_lost", (gint64)st.packets_lost);
    json_object_set_int_member(o, "events_dropped", (gint64)st.events_dropped);
    log_line(o);
  }
  weft_free(mid);
}

/* Ends a peer: no weft or signaling callback runs for it after this (both
 * close calls guarantee that), so it is freed at once, even from inside one
 * of its own callbacks, which must not touch @p afterwards. */
static void peer_release(peer *p) {
  server *srv = p->srv;
  weft_pc_close(p->pc);
  /* weft_pc_close() fires no close callbacks: give every channel still
   * open its "closed" line (with its final counts) before "session-end". */
  for (guint i = 0; i < p->chans->len; i++)
    log_closed(g_ptr_array_index(p->chans, i));
  if (p->gather_timer)
    g_source_remove(p->gather_timer);
  if (p->connect_timer)
    g_source_remove(p->connect_timer);
  sig_session_close(p->sig);
  sig_session_unref(p->sig);
  g_ptr_array_unref(p->chans);
  for (guint i = 0; i < p->tracks->len; i++)
    log_track_stats(p, g_ptr_array_index(p->tracks, i));
  g_ptr_array_unref(p->tracks);
  weft_pc_unref(p->pc);
  g_queue_remove(&srv->peers, p);
  log_line(ev_new("session-end", p));
  g_free(p);
}

/* ===== Data channels ========================================================== */

static void dc_on_open(weft_dc *dc, void *ud) {
  chan *c = ud;
  /* A channel surfaced already open gets an explicit call from watch_channel
   * and may also get the replayed callback: log it once. */
  if (c->opened)
    return;
  c->opened = TRUE;
  log_line(ev_chan("open", c));
}

static void log_closed(chan *c) {
  if (c->done)
    return;
  c->done = TRUE;
  JsonObject *o = ev_chan("closed", c);
  json_object_set_int_member(o, "messages", (gint64)c->messages);
  json_object_set_int_member(o, "bytes", (gint64)c->bytes);
  log_line(o);
}

/* One echo: text as text, binary as binary. Counts it when weft took it. */
static int echo_send(chan *c, weft_msg_type type, const void *data, size_t size) {
  int rc = type == WEFT_MSG_TEXT ? weft_dc_send_text(c->dc, data, size)
                                 : weft_dc_send(c->dc, data, size);
  if (rc == WEFT_OK) {
    c->messages++;
    c->bytes += size;
  }
  return rc;
}

/* Closes @c from our side: an echo server that skipped a message would lie
 * to its client. Our own close fires no on_close: log the end here. */
static void echo_give_up(chan *c) {
  weft_dc_close(c->dc);
  log_closed(c);
  g_queue_clear_full(&c->backlog, g_free);
  c->backlog_bytes = 0;
}

/* An echo weft refused for good: a message larger than the client accepts
 * (WEFT_ERR_TOO_BIG) closes the channel; other errors mean it is already
 * going away. */
static void echo_failed(chan *c, weft_msg_type type, size_t size, int rc) {
  log_error(c->p, "dc %d (%s): echo of a %zu-byte %s message failed: %s (%s)%s",
            weft_dc_get_id(c->dc), c->label, size, type == WEFT_MSG_TEXT ? "text" : "binary",
            weft_err_name(rc), weft_last_error_message(),
            rc == WEFT_ERR_TOO_BIG ? "; closing the channel" : "");
  if (rc == WEFT_ERR_TOO_BIG)
    echo_give_up(c);
}

static void dc_on_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size,
                          void *ud) {
  chan *c = ud;
  if (c->done)
    return;
  if (c->p->srv->verbose) {
    JsonObject *o = ev_chan("message", c);
    json_object_set_boolean_member(o, "binary", type == WEFT_MSG_BINARY);
    json_object_set_int_member(o, "size", (gint64)size);
    log_line(o);
  }
  /* Order: once something waits in the backlog, everything queues behind it. */
  int rc = WEFT_ERR_AGAIN;
  if (g_queue_is_empty(&c->backlog))
    rc = echo_send(c, type, data, size);
  if (rc == WEFT_ERR_AGAIN) {
    if (c->backlog_bytes + size > BACKLOG_MAX) {
      log_error(c->p,
                "dc %d (%s): the client sent %zu bytes more than it read back; closing the "
                "channel",
                weft_dc_get_id(dc), c->label, c->backlog_bytes + size);
      echo_give_up(c);
      return;
    }
    echo_msg *m = g_malloc(sizeof *m + size);
    m->type = type;
    m->size = size;
    memcpy(m->data, data, size);
    g_queue_push_tail(&c->backlog, m);
    c->backlog_bytes += size;
    return;
  }
  if (rc != WEFT_OK)
    echo_failed(c, type, size, rc);
}

/* Sends what waited for room, in order, until weft pushes back again. */
static void dc_on_low(weft_dc *dc, void *ud) {
  chan *c = ud;
  echo_msg *m;
  while (!c->done && (m = g_queue_peek_head(&c->backlog))) {
    int rc = echo_send(c, m->type, m->data, m->size);
    if (rc == WEFT_ERR_AGAIN)
      return;
    g_queue_pop_head(&c->backlog);
    c->backlog_bytes -= m->size;
    if (rc != WEFT_OK)
      echo_failed(c, m->type, m->size, rc);
    g_free(m);
  }
  (void)dc;
}

static void dc_on_closing(weft_dc *dc, void *ud) { log_line(ev_chan("closing", ud)); }

static void dc_on_close(weft_dc *dc, void *ud) { log_closed(ud); }

static void dc_on_error(weft_dc *dc, const weft_error_info *e, void *ud) {
  chan *c = ud;
  log_error(c->p, "dc %d (%s): %s: %s", weft_dc_get_id(dc), c->label,
            weft_error_detail_to_string(e->detail), e->message);
}

/* Logs the "channel" line and starts echoing on @dc (borrowed). */
static void watch_channel(peer *p, weft_dc *dc) {
  chan *c = g_new0(chan, 1);
  c->p = p;
  c->dc = weft_dc_ref(dc);
  /* The remote's DCEP label and protocol are not checked for UTF-8 by weft;
   * json-glib would copy invalid bytes into the log line verbatim. */
  c->label = g_utf8_make_valid(weft_dc_get_label(dc), -1);
  g_ptr_array_add(p->chans, c);

  JsonObject *o = ev_chan("channel", c);
  char *protocol = g_utf8_make_valid(weft_dc_get_protocol(dc), -1);
  json_object_set_string_member(o, "protocol", protocol);
  g_free(protocol);
  json_object_set_boolean_member(o, "ordered", weft_dc_get_ordered(dc));
  int32_t rexmit = weft_dc_get_max_retransmits(dc), life = weft_dc_get_max_packet_life_time(dc);
  if (rexmit >= 0)
    json_object_set_int_member(o, "max_retransmits", rexmit);
  else
    json_object_set_null_member(o, "max_retransmits");
  if (life >= 0)
    json_object_set_int_member(o, "max_packet_life_time", life);
  else
    json_object_set_null_member(o, "max_packet_life_time");
  json_object_set_boolean_member(o, "negotiated", weft_dc_get_negotiated(dc));
  log_line(o);

  weft_dc_set_user_data(dc, c, NULL);
  weft_dc_set_on_open(dc, dc_on_open);
  weft_dc_set_on_message(dc, dc_on_message);
  weft_dc_set_on_closing(dc, dc_on_closing);
  weft_dc_set_on_close(dc, dc_on_close);
  weft_dc_set_on_error(dc, dc_on_error);
  weft_dc_set_on_buffered_amount_low(dc, dc_on_low);
  weft_dc_set_buffered_amount_low_threshold(dc, LOW_THRESHOLD);
  if (weft_dc_get_ready_state(dc) == WEFT_DC_OPEN)
    dc_on_open(dc, c);
}

static void pc_on_data_channel(weft_pc *pc, weft_dc *dc, void *ud) { watch_channel(ud, dc); }

/* ===== Tracks ============================================================== */

/* Every RTP packet received on a track goes back out on the same track
 * (weft rewrites SSRC, payload type, sequence and timestamp to its own
 * sending stream); a keyframe request from the remote is relayed to the
 * remote's own sender, the only one that can make a keyframe. */
static void track_on_rtp(weft_track *t, const uint8_t *pkt, size_t size, void *ud) {
  peer *p = ud;
  int rc = weft_track_send_rtp(t, pkt, size, 0);
  if (rc < 0 && rc != WEFT_ERR_AGAIN && p->srv->verbose)
    log_error(p, "echoing RTP: %s", weft_last_error_message());
}

static void track_on_keyframe_request(weft_track *t, void *ud) {
  (void)ud;
  weft_track_request_keyframe(t);
}

static void pc_on_track(weft_pc *pc, weft_track *t, void *ud) {
  (void)pc;
  peer *p = ud;
  g_ptr_array_add(p->tracks, weft_track_ref(t));
  weft_track_set_user_data(t, p, NULL);
  weft_track_set_on_rtp(t, track_on_rtp);
  weft_track_set_on_keyframe_request(t, track_on_keyframe_request);
  char *mid = NULL;
  weft_track_get_mid(t, &mid);
  JsonObject *o = ev_new("track", p);
  json_object_set_string_member(o, "mid", mid ? mid : "");
  json_object_set_string_member(o, "kind",
                                weft_track_get_kind(t) == WEFT_KIND_AUDIO ? "audio" : "video");
  log_line(o);
  weft_free(mid);
}

/* ===== Peer connection callbacks =============================================== */

static void pc_on_state(weft_pc *pc, weft_pc_state state, void *ud) {
  peer *p = ud;
  JsonObject *o = ev_new("pc-state", p);
  json_object_set_string_member(o, "state", weft_pc_state_to_string(state));
  log_line(o);
  if (state == WEFT_PC_CONNECTED && p->connect_timer) {
    g_source_remove(p->connect_timer);
    p->connect_timer = 0;
  }
  if (state == WEFT_PC_CONNECTED && !p->pair_logged) {
    char *local = NULL, *remote = NULL;
    if (weft_pc_get_selected_candidate_pair(pc, &local, &remote) == WEFT_OK) {
      p->pair_logged = TRUE;
      o = ev_new("selected-pair", p);
      json_object_set_string_member(o, "local", local);
      json_object_set_string_member(o, "remote", remote);
      log_line(o);
    } else {
      log_error(p, "connected but no selected pair: %s", weft_last_error_message());
    }
    weft_free(local);
    weft_free(remote);
  }
  /* "disconnected" may recover (ICE consent); closed and failed are final.
   * A remote close_notify ends in "closed" (or, with older libraries,
   * "disconnected" then "failed" once consent expires). */
  if (state == WEFT_PC_CLOSED || state == WEFT_PC_FAILED)
    peer_release(p);
}

static void pc_on_ice_state(weft_pc *pc, weft_ice_connection_state state, void *ud) {
  JsonObject *o = ev_new("ice-state", ud);
  json_object_set_string_member(o, "state", weft_ice_connection_state_to_string(state));
  log_line(o);
}

static gboolean on_connect_timeout(gpointer ud) {
  peer *p = ud;
  p->connect_timer = 0;
  log_error(p, "not connected %d s after the answer: releasing the session", CONNECT_TIMEOUT_S);
  peer_release(p);
  return G_SOURCE_REMOVE;
}

static void pc_on_error(weft_pc *pc, const weft_error_info *e, void *ud) {
  log_error(ud, "%s: %s", weft_error_detail_to_string(e->detail), e->message);
}

/* Replies to the POST with the local description and every candidate
 * gathered so far (all of them, unless the gathering timer fired). */
static void send_answer(peer *p) {
  if (p->answered)
    return;
  p->answered = TRUE;
  if (p->gather_timer) {
    g_source_remove(p->gather_timer);
    p->gather_timer = 0;
  }
  char *sdp = NULL;
  int rc = weft_pc_get_description(p->pc, WEFT_DESC_LOCAL, NULL, &sdp);
  if (rc != WEFT_OK || !sdp) {
    log_error(p, "no local description: %s", rc ? weft_last_error_message() : "none");
    JsonObject *err = json_object_new();
    json_object_set_string_member(err, "type", "error");
    json_object_set_string_member(err, "message", "weft produced no answer");
    sig_session_send(p->sig, err, NULL);
    json_object_unref(err);
    weft_free(sdp);
    peer_release(p);
    return;
  }
  int candidates = 0;
  for (const char *s = sdp; (s = strstr(s, "a=candidate:")); s++)
    if (s == sdp || s[-1] == '\n')
      candidates++;
  JsonObject *answer = json_object_new();
  json_object_set_string_member(answer, "type", "answer");
  json_object_set_string_member(answer, "sdp", sdp);
  GError *error = NULL;
  gboolean ok = sig_session_send(p->sig, answer, &error);
  json_object_unref(answer);
  weft_free(sdp);
  if (!ok) {
    log_error(p, "answer not sent: %s", error->message);
    g_error_free(error);
    peer_release(p);
    return;
  }
  JsonObject *o = ev_new("answer", p);
  json_object_set_int_member(o, "candidates", candidates);
  log_line(o);
  p->connect_timer = g_timeout_add_seconds(CONNECT_TIMEOUT_S, on_connect_timeout, p);
}

static void pc_on_gathering(weft_pc *pc, weft_ice_gathering_state state, void *ud) {
  if (state == WEFT_GATHERING_COMPLETE)
    send_answer(ud);
}

static gboolean on_gather_timeout(gpointer ud) {
  peer *p = ud;
  p->gather_timer = 0;
  log_error(p, "ICE gathering not complete after %d ms: answering with what we have",
            GATHER_TIMEOUT_MS);
  send_answer(p);
  return G_SOURCE_REMOVE;
}

/* ===== Signaling ================================================================= */

static void fail_offer(peer *p, const char *what, int rc) {
  /* The client's fault (an offer weft cannot use) is a 400, ours a 500. */
  gboolean client_fault = rc == WEFT_ERR_SYNTAX || rc == WEFT_ERR_INVALID_ACCESS ||
                          rc == WEFT_ERR_NOT_SUPPORTED || rc == WEFT_ERR_INVALID_ARG;
  char *text = g_strdup_printf("%s: %s: %s", what, weft_err_name(rc), weft_last_error_message());
  log_error(p, "%s", text);
  JsonObject *err = json_object_new();
  json_object_set_string_member(err, "type", "error");
  json_object_set_string_member(err, "message", text);
  json_object_set_int_member(err, "status", client_fault ? 400 : 500);
  sig_session_send(p->sig, err, NULL);
  json_object_unref(err);
  g_free(text);
  peer_release(p);
}

static void on_offer(peer *p, const char *sdp) {
  int rc = weft_pc_set_remote_description(p->pc, WEFT_SDP_OFFER, sdp);
  if (rc != WEFT_OK) {
    fail_offer(p, "the offer was refused", rc);
    return;
  }
  server *srv = p->srv;
  for (guint i = 0; i < srv->negotiated->len; i++) {
    negotiated_spec *spec = &g_array_index(srv->negotiated, negotiated_spec, i);
    weft_dc_init init = WEFT_DC_INIT;
    init.negotiated = 1;
    init.id = spec->id;
    weft_dc *dc = weft_pc_create_data_channel(p->pc, spec->label, &init);
    if (!dc) {
      log_error(p, "negotiated channel %d (%s): %s", spec->id, spec->label,
                weft_last_error_message());
      continue;
    }
    watch_channel(p, dc);
    weft_dc_unref(dc);
  }
  /* The implicit answer; gathering starts, the reply waits for it. */
  rc = weft_pc_set_local_description(p->pc, WEFT_SDP_UNSPEC, NULL);
  if (rc != WEFT_OK) {
    fail_offer(p, "no answer", rc);
    return;
  }
  p->gather_timer = g_timeout_add(GATHER_TIMEOUT_MS, on_gather_timeout, p);
  if (weft_pc_get_ice_gathering_state(p->pc) == WEFT_GATHERING_COMPLETE)
    send_answer(p);
}

static void on_remote_candidate(peer *p, JsonObject *msg, gboolean end) {
  weft_ice_candidate c = {NULL, NULL, -1, NULL};
  if (!end) {
    c.candidate = json_object_get_string_member_with_default(msg, "candidate", "");
    c.sdp_mid = json_object_get_string_member_with_default(msg, "sdpMid", NULL);
    c.sdp_mline_index = (int)json_object_get_int_member_with_default(msg, "sdpMLineIndex", -1);
    c.username_fragment = json_object_get_string_member_with_default(msg, "usernameFragment", NULL);
  }
  JsonObject *o = ev_new("remote-candidate", p);
  /* "" is end-of-candidates, as in the W3C API. */
  json_object_set_string_member(o, "candidate", end ? "" : c.candidate);
  log_line(o);
  int rc = weft_pc_add_ice_candidate(p->pc, end ? NULL : &c);
  if (rc != WEFT_OK)
    log_error(p, "remote candidate refused: %s: %s", weft_err_name(rc), weft_last_error_message());
}

static void on_signal_message(sig_session *s, JsonObject *msg, void *ud) {
  peer *p = ud;
  const char *type = json_object_get_string_member_with_default(msg, "type", "");
  if (strcmp(type, "offer") == 0) {
    on_offer(p, json_object_get_string_member_with_default(msg, "sdp", ""));
  } else if (strcmp(type, "candidate") == 0) {
    on_remote_candidate(p, msg, FALSE);
  } else if (strcmp(type, "end-of-candidates") == 0) {
    on_remote_candidate(p, msg, TRUE);
  } else if (strcmp(type, "bye") == 0) {
    peer_release(p); /* the client's DELETE */
  } else if (strcmp(type, "error") == 0) {
    log_error(p, "signaling: %s", json_object_get_string_member_with_default(msg, "message", ""));
    peer_release(p);
  }
}

static void on_session(sig_http_server *http, sig_session *s, void *ud) {
  server *srv = ud;
  peer *p = g_new0(peer, 1);
  p->srv = srv;
  p->n = ++srv->served;
  p->sig = sig_session_ref(s);
  p->chans = g_ptr_array_new_with_free_func(chan_free);
  p->tracks = g_ptr_array_new_with_free_func((GDestroyNotify)weft_track_unref);
  JsonObject *o = ev_new("session", p);
  json_object_set_string_member(o, "remote", sig_session_get_remote(s));
  log_line(o);

  p->pc = weft_pc_new(srv->ctx, srv->cfg);
  if (!p->pc) {
    log_error(p, "weft_pc_new: %s", weft_last_error_message());
    JsonObject *err = json_object_new();
    json_object_set_string_member(err, "type", "error");
    json_object_set_string_member(err, "message", "cannot create a peer connection");
    sig_session_send(s, err, NULL);
    json_object_unref(err);
    sig_session_close(s);
    sig_session_unref(s);
    g_ptr_array_unref(p->chans);
    g_ptr_array_unref(p->tracks);
    log_line(ev_new("session-end", p));
    g_free(p);
    return;
  }
  g_queue_push_tail(&srv->peers, p);
  weft_pc_set_user_data(p->pc, p, NULL);
  weft_pc_set_on_connection_state_change(p->pc, pc_on_state);
  weft_pc_set_on_ice_connection_state_change(p->pc, pc_on_ice_state);
  weft_pc_set_on_ice_gathering_state_change(p->pc, pc_on_gathering);
  weft_pc_set_on_data_channel(p->pc, pc_on_data_channel);
  weft_pc_set_on_track(p->pc, pc_on_track);
  weft_pc_set_on_error(p->pc, pc_on_error);
  /* The offer arrives through the handler, after this returns. */
  sig_session_set_handler(s, on_signal_message, p, NULL);
}

/* ===== Start and stop ================================================================ */

static void stop(server *srv, const char *reason) {
  if (srv->stopping)
    return;
  srv->stopping = TRUE;
  JsonObject *o = ev_new("stopping", NULL);
  json_object_set_string_member(o, "reason", reason);
  log_line(o);
  /* First the HTTP side (no more sessions; a POST still waiting for its
   * answer sees its connection close), then every peer connection. */
  sig_http_server_free(srv->http);
  srv->http = NULL;
  while (!g_queue_is_empty(&srv->peers))
    peer_release(g_queue_peek_head(&srv->peers));
  g_main_loop_quit(srv->loop);
}

static gboolean on_unix_signal(gpointer ud) {
  stop(ud, "signal");
  return G_SOURCE_CONTINUE;
}

static gboolean on_lifetime(gpointer ud) {
  server *srv = ud;
  srv->lifetime_timer = 0;
  stop(srv, "lifetime");
  return G_SOURCE_REMOVE;
}

static gboolean wake(gpointer ud) { return G_SOURCE_CONTINUE; }

/* Lets weft finish releasing what was closed (its sources run on our
 * context), bounded. */
static void drain(void) {
  gint64 deadline = g_get_monotonic_time() + DRAIN_TIMEOUT_MS * 1000;
  guint ticker = g_timeout_add(20, wake, NULL);
  while (weft_debug_live_objects() > 0 && g_get_monotonic_time() < deadline)
    g_main_context_iteration(NULL, TRUE);
  g_source_remove(ticker);
  while (g_main_context_iteration(NULL, FALSE))
    ;
}

static gboolean parse_negotiated(server *srv, char **specs, GError **error) {
  for (char **s = specs; s && *s; s++) {
    const char *colon = strchr(*s, ':');
    char *id_text = colon ? g_strndup(*s, (gsize)(colon - *s)) : g_strdup(*s);
    guint64 id = 0;
    gboolean ok = g_ascii_string_to_unsigned(id_text, 10, 0, 1023, &id, NULL);
    g_free(id_text);
    if (!ok) {
      g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                  "--negotiated %s: want ID[:LABEL] with ID in 0..1023", *s);
      return FALSE;
    }
    negotiated_spec spec = {(int)id, g_strdup(colon && colon[1] ? colon + 1 : "negotiated")};
    g_array_append_val(srv->negotiated, spec);
  }
  return TRUE;
}

static void clear_negotiated(gpointer data) { g_free(((negotiated_spec *)data)->label); }

int main(int argc, char **argv) {
  server *srv = &the_server;
  srv->t0 = g_get_monotonic_time();
  srv->port = 8080;
  srv->max_sessions = 64;
  srv->negotiated = g_array_new(FALSE, TRUE, sizeof(negotiated_spec));
  g_array_set_clear_func(srv->negotiated, clear_negotiated);
  g_queue_init(&srv->peers);

  char **negotiated = NULL;
  GOptionEntry entries[] = {
      {"host", 0, 0, G_OPTION_ARG_STRING, &srv->host, "Address to listen on (127.0.0.1)", "IP"},
      {"port", 0, 0, G_OPTION_ARG_INT, &srv->port, "Port (8080; 0 = any free port)", "PORT"},
      {"lifetime", 0, 0, G_OPTION_ARG_DOUBLE, &srv->lifetime, "Stop after S seconds", "S"},
      {"max-sessions", 0, 0, G_OPTION_ARG_INT, &srv->max_sessions,
       "Peer connections at once (64); more POSTs get 503", "N"},
      {"negotiated", 0, 0, G_OPTION_ARG_STRING_ARRAY, &negotiated,
       "Also create a negotiated channel on every peer connection (repeatable)", "ID[:LABEL]"},
      {"no-loopback", 0, 0, G_OPTION_ARG_NONE, &srv->no_loopback,
       "Gather on the machine's interfaces instead of 127.0.0.1", NULL},
      {"verbose", 0, 0, G_OPTION_ARG_NONE, &srv->verbose, "Log every message", NULL},
      {"send-buffer", 0, 0, G_OPTION_ARG_INT, &srv->send_buffer,
       "Per-channel send buffer limit (weft's default: 16 MiB); echoes that do not fit wait "
       "in order until it drains",
       "BYTES"},
      {NULL, 0, 0, 0, NULL, NULL, NULL}};
  GOptionContext *octx = g_option_context_new("- weft WebRTC data channel echo server");
  g_option_context_set_summary(octx, "Answers offers POSTed to http://HOST:PORT/offer and echoes "
                                     "every data channel message.\nLog: JSON lines on stdout "
                                     "(doc/interop.md).");
  g_option_context_add_main_entries(octx, entries, NULL);
  GError *error = NULL;
  gboolean ok = g_option_context_parse(octx, &argc, &argv, &error);
  g_option_context_free(octx);
  if (ok && (srv->port < 0 || srv->port > 65535))
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--port: 0..65535"), ok = FALSE;
  if (ok && srv->max_sessions < 1)
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--max-sessions: at least 1"),
        ok = FALSE;
  /* NaN fails both comparisons; the bound keeps the milliseconds in a guint. */
  if (ok && !(srv->lifetime >= 0 && srv->lifetime <= 1e6))
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--lifetime: 0..1000000 s"),
        ok = FALSE;
  if (ok && srv->send_buffer < 0)
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--send-buffer: not negative"),
        ok = FALSE;
  if (ok && argc > 1)
    g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "unexpected argument %s",
                argv[1]),
        ok = FALSE;
  if (ok)
    ok = parse_negotiated(srv, negotiated, &error);
  g_strfreev(negotiated);
  if (!ok) {
    fprintf(stderr, "echo-server: %s (try --help)\n", error->message);
    g_error_free(error);
    g_array_unref(srv->negotiated);
    g_free(srv->host);
    return 2;
  }
  if (!srv->host)
    srv->host = g_strdup("127.0.0.1");

  int status = 0;
  JsonObject *o = NULL;
  srv->loop = g_main_loop_new(NULL, FALSE);
  srv->ctx = weft_context_new_for_main_context(g_main_context_default());
  srv->cfg = weft_config_new();
  if (!srv->ctx || !srv->cfg) {
    log_error(NULL, "weft setup failed: %s", weft_last_error_message());
    status = 1;
    goto out;
  }
  if (!srv->no_loopback)
    weft_config_set_enable_loopback(srv->cfg, 1);
  if (srv->send_buffer > 0 &&
      weft_config_set_send_buffer_limit(srv->cfg, (size_t)srv->send_buffer) != WEFT_OK) {
    log_error(NULL, "--send-buffer: %s", weft_last_error_message());
    status = 2;
    goto out;
  }

  srv->http = sig_http_server_new(srv->host, (guint16)srv->port, (guint)srv->max_sessions,
                                  on_session, srv, &error);
  if (!srv->http) {
    log_error(NULL, "cannot listen on %s:%d: %s", srv->host, srv->port, error->message);
    g_error_free(error);
    status = 1;
    goto out;
  }
  o = ev_new("listening", NULL);
  json_object_set_string_member(o, "host", srv->host);
  json_object_set_int_member(o, "port", sig_http_server_get_port(srv->http));
  log_line(o);

  guint sigint = g_unix_signal_add(SIGINT, on_unix_signal, srv);
  guint sigterm = g_unix_signal_add(SIGTERM, on_unix_signal, srv);
  if (srv->lifetime > 0)
    srv->lifetime_timer = g_timeout_add((guint)(srv->lifetime * 1000), on_lifetime, srv);

  g_main_loop_run(srv->loop);

  g_source_remove(sigint);
  g_source_remove(sigterm);
  if (srv->lifetime_timer)
    g_source_remove(srv->lifetime_timer);

out:
  weft_config_free(srv->cfg);
  if (srv->ctx) {
    weft_context_unref(srv->ctx);
    drain();
  }
  if (status == 0) {
    o = ev_new("stopped", NULL);
    json_object_set_int_member(o, "sessions", srv->served);
    log_line(o);
  }
  g_main_loop_unref(srv->loop);
  g_array_unref(srv->negotiated);
  g_free(srv->host);
  return status;
}
