/*
 * examples/common/room_peer — see room_peer.h.
 */
#define _POSIX_C_SOURCE 200809L
#include "room_peer.h"

#include "signaling.h"

#include <weft/weft-glib.h>

#include <glib-unix.h>
#include <stdio.h>
#include <string.h>

struct rp_peer {
  rp_room *room;
  char *id, *name;
  weft_pc *pc;
  weft_dc *chat;
  gboolean offerer;
  gboolean has_remote;  /* a remote description is applied */
  GPtrArray *pending;   /* JsonObject candidates that arrived before it */
  gboolean chat_opened; /* chat_open was reported */
  void *user_data;
};

/* A connection we offered that failed is offered again (bye, then a new
 * weft_pc and offer) after REOFFER_DELAY_MS, at most REOFFER_MAX times per
 * peer and join: a transient failure (an overloaded machine, a lost SCTP
 * INIT) does not leave a pair of the mesh without a connection for good. */
#define REOFFER_MAX 2
#define REOFFER_DELAY_MS 1000

struct rp_room {
  char *url, *room_id, *self, *name, *prog;
  int loopback;
  rp_callbacks cb;
  void *ud;
  sig_room *sig; /* the room connection (examples/signaling, room.c) */
  guint retry_timer;
  int join_retries;
  gboolean joined;
  gboolean failed;
  weft_context *ctx;
  GHashTable *peers;         /* id -> rp_peer* (owned) */
  GHashTable *names;         /* id -> name, every peer in the room */
  GHashTable *reoffer_count; /* id -> offers repeated so far */
  GPtrArray *reoffer_ids;    /* ids to offer to again when the timer fires */
  guint reoffer_timer;
};

static void G_GNUC_PRINTF(2, 3) warn(rp_room *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *m = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  fprintf(stderr, "%s: %s\n", r->prog, m);
  fflush(stderr);
  g_free(m);
}

static void fatal(rp_room *r, const char *msg) {
  if (r->failed)
    return;
  r->failed = TRUE;
  if (r->cb.error)
    r->cb.error(r, msg, r->ud);
}

void rp_print_tail(JsonObject *o, const char *tail) {
  gboolean empty = json_object_get_size(o) == 0;
  char *s = sig_json_to_string(o);
  json_object_unref(o);
  size_t len = strlen(s);
  if (tail && *tail && len >= 2 && s[len - 1] == '}') {
    s[len - 1] = '\0';
    fprintf(stdout, "%s%s%s}\n", s, empty ? "" : ",", tail);
  } else {
    fprintf(stdout, "%s\n", s);
  }
  fflush(stdout);
  g_free(s);
}

void rp_print(JsonObject *o) { rp_print_tail(o, NULL); }

void rp_print_ev(const char *ev, const char *peer, const char *key, const char *value) {
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "ev", ev);
  json_object_set_string_member(o, "peer", peer);
  if (key && value)
    json_object_set_string_member(o, key, value);
  rp_print(o);
}

void rp_print_joined(rp_room *r, void *ud) {
  (void)ud;
  rp_print_ev("joined", rp_room_self(r), NULL, NULL);
}

void rp_print_peer_joined(rp_room *r, const char *peer, const char *name, void *ud) {
  (void)r, (void)name, (void)ud;
  rp_print_ev("peer-joined", peer, NULL, NULL);
}

void rp_print_peer_left(rp_room *r, const char *peer, void *ud) {
  (void)r, (void)ud;
  rp_print_ev("peer-left", peer, NULL, NULL);
}

void rp_cmdline_add(rp_cmdline *c, GOptionContext *oc) {
  const GOptionEntry entries[] = {
      {"url", 0, 0, G_OPTION_ARG_STRING, &c->url, "room server", "ws://HOST:PORT/ws"},
      {"room", 0, 0, G_OPTION_ARG_STRING, &c->room, "room id", "R"},
      {"peer", 0, 0, G_OPTION_ARG_STRING, &c->peer, "our peer id (default: random)", "P"},
      /* FILENAME: the bytes as given, whatever the locale (rp_room_new checks UTF-8). */
      {"name", 0, 0, G_OPTION_ARG_FILENAME, &c->name, "display name (default: the peer id)", "N"},
      {"loopback", 0, 0, G_OPTION_ARG_NONE, &c->loopback, "gather ICE candidates on 127.0.0.1 only",
       NULL},
      {"no-loopback", 0, 0, G_OPTION_ARG_NONE, &c->no_loopback,
       "gather on the other interfaces (default when the server is not on loopback)", NULL},
      {NULL, 0, 0, 0, NULL, NULL, NULL}};
  g_option_context_add_main_entries(oc, entries, NULL); /* copies @entries */
}

rp_options rp_cmdline_options(const rp_cmdline *c, const char *prog) {
  rp_options o = {c->url, c->room, c->peer, c->name, c->loopback ? 1 : c->no_loopback ? 0 : -1,
                  prog};
  return o;
}

void rp_cmdline_clear(rp_cmdline *c) {
  g_free(c->url), g_free(c->room), g_free(c->peer), g_free(c->name);
  *c = (rp_cmdline){0};
}

static gboolean on_signal(gpointer ud) {
  g_main_loop_quit(ud);
  return G_SOURCE_CONTINUE;
}

void rp_quit_on_signals(GMainLoop *loop) {
  g_unix_signal_add(SIGINT, on_signal, loop);
  g_unix_signal_add(SIGTERM, on_signal, loop);
}

void rp_drain(gint64 us) {
  gint64 end = g_get_monotonic_time() + us;
  int idle = 0;
  while (g_get_monotonic_time() < end && idle < 20) {
    if (g_main_context_iteration(NULL, FALSE)) {
      idle = 0;
    } else {
      idle++;
      g_usleep(5000);
    }
  }
}

const char *rp_json_str(JsonObject *o, const char *key) { return sig_msg_string(o, key); }

gboolean rp_json_int(JsonObject *o, const char *key, gint64 min, gint64 max, gint64 *out) {
  JsonNode *n = json_object_get_member(o, key);
  if (!n || !JSON_NODE_HOLDS_VALUE(n) || json_node_get_value_type(n) != G_TYPE_INT64)
    return FALSE;
  gint64 v = json_node_get_int(n);
  if (v < min || v > max)
    return FALSE;
  *out = v;
  return TRUE;
}

JsonObject *rp_json_parse(const char *text, size_t size, JsonParser **parser) {
  *parser = json_parser_new();
  if (!json_parser_load_from_data(*parser, text, (gssize)size, NULL))
    return NULL;
  JsonNode *root = json_parser_get_root(*parser);
  return root && JSON_NODE_HOLDS_OBJECT(root) ? json_node_get_object(root) : NULL;
}

/* ===== Sending ============================================================ */

/* Sends @o (borrowed) to peer @to; sig_room adds "to". */
static void send_msg(rp_room *r, const char *to, JsonObject *o) {
  GError *err = NULL;
  if (r->sig && !sig_room_send(r->sig, to, o, &err)) {
    warn(r, "sending to %s: %s", to, err->message);
    g_error_free(err);
  }
}

static void send_to(rp_room *r, const char *type, const char *to, const char *key,
                    const char *value) {
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "type", type);
  if (key)
    json_object_set_string_member(o, key, value);
  send_msg(r, to, o);
  json_object_unref(o);
}

/* ===== Peers ============================================================== */

static void peer_free(gpointer data) {
  rp_peer *p = data;
  weft_dc_unref(p->chat);
  weft_pc_unref(p->pc);
  if (p->pending)
    g_ptr_array_unref(p->pending);
  g_free(p->id);
  g_free(p->name);
  g_free(p);
}

static gboolean free_later(gpointer data) {
  peer_free(data);
  return G_SOURCE_REMOVE;
}

/* Closes the connection with @p and forgets it. Safe from inside one of its
 * pc's callbacks: weft_pc_close() stops every further callback, and the
 * references are dropped from an idle callback, after the current one. */
static void drop_peer(rp_room *r, rp_peer *p) {
  if (!g_hash_table_steal(r->peers, p->id))
    return;
  weft_pc_close(p->pc);
  if (r->cb.peer_closed)
    r->cb.peer_closed(r, p, r->ud);
  g_idle_add(free_later, p);
}

static void drop_all(rp_room *r) {
  GPtrArray *all = rp_room_peers(r);
  for (guint i = 0; i < all->len; i++)
    drop_peer(r, all->pdata[i]);
  g_ptr_array_unref(all);
}

static void on_candidate(weft_pc *pc, const weft_ice_candidate *c, void *ud) {
  (void)pc;
  rp_peer *p = ud;
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "type", "candidate");
  if (c && c->candidate) {
    json_object_set_string_member(o, "candidate", c->candidate);
    if (c->sdp_mid)
      json_object_set_string_member(o, "sdpMid", c->sdp_mid);
    else
      json_object_set_null_member(o, "sdpMid");
    if (c->sdp_mline_index >= 0)
      json_object_set_int_member(o, "sdpMLineIndex", c->sdp_mline_index);
    else
      json_object_set_null_member(o, "sdpMLineIndex");
  } else {
    json_object_set_null_member(o, "candidate");
  }
  send_msg(p->room, p->id, o);
  json_object_unref(o);
}

static void start_offer(rp_room *r, const char *id);

static gboolean on_reoffer(gpointer ud) {
  rp_room *r = ud;
  r->reoffer_timer = 0;
  GPtrArray *ids = r->reoffer_ids;
  r->reoffer_ids = g_ptr_array_new_with_free_func(g_free);
  for (guint i = 0; i < ids->len && !r->failed; i++) {
    const char *id = ids->pdata[i];
    /* Still in the room, and it did not offer to us meanwhile. */
    if (r->joined && g_hash_table_contains(r->names, id) && !g_hash_table_contains(r->peers, id))
      start_offer(r, id);
  }
  g_ptr_array_unref(ids);
  return G_SOURCE_REMOVE;
}

static void on_pc_state(weft_pc *pc, weft_pc_state st, void *ud) {
  (void)pc;
  rp_peer *p = ud;
  rp_room *r = p->room;
  if (r->cb.pc_state)
    r->cb.pc_state(r, p, st, r->ud);
  /* The callback may have dropped the peer already. */
  if ((st == WEFT_PC_FAILED || st == WEFT_PC_CLOSED) && g_hash_table_lookup(r->peers, p->id) == p) {
    warn(r, "connection with %s %s", p->id, weft_pc_state_to_string(st));
    int n = GPOINTER_TO_INT(g_hash_table_lookup(r->reoffer_count, p->id));
    if (st == WEFT_PC_FAILED && p->offerer && r->joined && n < REOFFER_MAX &&
        g_hash_table_contains(r->names, p->id)) {
      warn(r, "offering to %s again in %d ms", p->id, REOFFER_DELAY_MS);
      g_hash_table_replace(r->reoffer_count, g_strdup(p->id), GINT_TO_POINTER(n + 1));
      g_ptr_array_add(r->reoffer_ids, g_strdup(p->id));
      if (!r->reoffer_timer)
        r->reoffer_timer = g_timeout_add(REOFFER_DELAY_MS, on_reoffer, r);
      rp_room_bye(r, p); /* the other side drops its pc before our new offer */
      return;
    }
    drop_peer(r, p);
  }
}

static void on_chat_open(weft_dc *dc, void *ud) {
  (void)dc;
  rp_peer *p = ud;
  if (p->chat_opened)
    return;
  p->chat_opened = TRUE;
  if (p->room->cb.chat_open)
    p->room->cb.chat_open(p->room, p, p->room->ud);
}

static void on_chat_message(weft_dc *dc, weft_msg_type type, const void *data, size_t size,
                            void *ud) {
  (void)dc;
  rp_peer *p = ud;
  if (type != WEFT_MSG_TEXT) {
    warn(p->room, "binary message on the chat channel of %s ignored", p->id);
    return;
  }
  if (p->room->cb.chat_message)
    p->room->cb.chat_message(p->room, p, data, size, p->room->ud);
}

static void watch_chat(rp_peer *p, weft_dc *dc) {
  p->chat = weft_dc_ref(dc);
  weft_dc_set_user_data(dc, p, NULL);
  weft_dc_set_on_message(dc, on_chat_message);
  weft_dc_set_on_open(dc, on_chat_open);
  if (weft_dc_get_ready_state(dc) == WEFT_DC_OPEN)
    on_chat_open(dc, p);
}

static void on_data_channel(weft_pc *pc, weft_dc *dc, void *ud) {
  (void)pc;
  rp_peer *p = ud;
  if (!p->chat && g_strcmp0(weft_dc_get_label(dc), "chat") == 0) {
    watch_chat(p, dc);
    return;
  }
  if (p->room->cb.data_channel)
    p->room->cb.data_channel(p->room, p, dc, p->room->ud);
  else
    weft_dc_close(dc);
}

static void on_track(weft_pc *pc, weft_track *t, void *ud) {
  (void)pc;
  rp_peer *p = ud;
  if (p->room->cb.track)
    p->room->cb.track(p->room, p, t, p->room->ud);
}

static void on_pc_error(weft_pc *pc, const weft_error_info *e, void *ud) {
  (void)pc;
  rp_peer *p = ud;
  warn(p->room, "connection with %s: %s (%s)", p->id, e->message,
       weft_error_detail_to_string(e->detail));
}

static rp_peer *peer_new(rp_room *r, const char *id, gboolean offerer) {
  weft_config *cfg = weft_config_new();
  if (!cfg)
    return NULL;
  if (r->loopback)
    weft_config_set_enable_loopback(cfg, 1);
  weft_pc *pc = weft_pc_new(r->ctx, cfg);
  weft_config_free(cfg);
  if (!pc) {
    warn(r, "creating a peer connection: %s", weft_last_error_message());
    return NULL;
  }
  rp_peer *p = g_new0(rp_peer, 1);
  p->room = r;
  p->id = g_strdup(id);
  p->name = g_strdup(g_hash_table_lookup(r->names, id));
  if (!p->name)
    p->name = g_strdup(id);
  p->pc = pc;
  p->offerer = offerer;
  p->pending = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
  g_hash_table_insert(r->peers, p->id, p);
  weft_pc_set_user_data(pc, p, NULL);
  weft_pc_set_on_ice_candidate(pc, on_candidate);
  weft_pc_set_on_connection_state_change(pc, on_pc_state);
  weft_pc_set_on_data_channel(pc, on_data_channel);
  weft_pc_set_on_track(pc, on_track);
  weft_pc_set_on_error(pc, on_pc_error);
  if (r->cb.pc_new)
    r->cb.pc_new(r, p, r->ud);
  return p;
}

static void add_candidate(rp_peer *p, JsonObject *m) {
  JsonNode *cn = json_object_get_member(m, "candidate");
  int rc;
  if (!cn || JSON_NODE_HOLDS_NULL(cn)) {
    rc = weft_pc_add_ice_candidate(p->pc, NULL);
  } else {
    const char *cand = sig_msg_string(m, "candidate");
    if (!cand) {
      warn(p->room, "candidate from %s: not a string, ignored", p->id);
      return;
    }
    weft_ice_candidate c = {cand, sig_msg_string(m, "sdpMid"), -1,
                            sig_msg_string(m, "usernameFragment")};
    gint64 v;
    if (rp_json_int(m, "sdpMLineIndex", 0, 65535, &v))
      c.sdp_mline_index = (int)v;
    if (!c.sdp_mid && c.sdp_mline_index < 0)
      c.sdp_mline_index = 0; /* neither given: the first section (BUNDLE) */
    rc = weft_pc_add_ice_candidate(p->pc, &c);
  }
  if (rc < 0)
    warn(p->room, "candidate from %s: %s (%s)", p->id, weft_err_name(rc),
         weft_last_error_message());
}

static void flush_pending(rp_peer *p) {
  p->has_remote = TRUE;
  GPtrArray *q = p->pending;
  p->pending = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
  for (guint i = 0; i < q->len; i++)
    add_candidate(p, q->pdata[i]);
  g_ptr_array_unref(q);
}

/* We offer to @id (it was in the room when we joined). */
static void start_offer(rp_room *r, const char *id) {
  rp_peer *p = peer_new(r, id, TRUE);
  if (!p)
    return;
  weft_dc_init init = WEFT_DC_INIT;
  weft_dc *dc = weft_pc_create_data_channel(p->pc, "chat", &init);
  if (dc) {
    watch_chat(p, dc);
    weft_dc_unref(dc);
  } else {
    warn(r, "creating the chat channel: %s", weft_last_error_message());
  }
  char *sdp = NULL;
  int rc = weft_pc_create_offer(p->pc, NULL, &sdp);
  if (rc == WEFT_OK)
    rc = weft_pc_set_local_description(p->pc, WEFT_SDP_OFFER, sdp);
  if (rc < 0) {
    warn(r, "offer to %s: %s (%s)", id, weft_err_name(rc), weft_last_error_message());
    weft_free(sdp);
    drop_peer(r, p);
    return;
  }
  send_to(r, "offer", id, "sdp", sdp);
  weft_free(sdp);
}

static void handle_offer(rp_room *r, const char *from, JsonObject *m) {
  const char *sdp = sig_msg_string(m, "sdp");
  if (!sdp) {
    warn(r, "offer from %s without sdp, ignored", from);
    return;
  }
  rp_peer *p = g_hash_table_lookup(r->peers, from);
  if (p && weft_pc_get_signaling_state(p->pc) != WEFT_SIGNALING_STABLE) {
    warn(r, "offer from %s while negotiating with it, ignored", from);
    return;
  }
  if (!p)
    p = peer_new(r, from, FALSE);
  if (!p)
    return;
  int rc = weft_pc_set_remote_description(p->pc, WEFT_SDP_OFFER, sdp);
  if (rc < 0) {
    warn(r, "offer from %s: %s (%s)", from, weft_err_name(rc), weft_last_error_message());
    if (!p->has_remote) {
      send_to(r, "bye", from, NULL, NULL);
      drop_peer(r, p);
    }
    return;
  }
  char *answer = NULL;
  rc = weft_pc_create_answer(p->pc, &answer);
  if (rc == WEFT_OK)
    rc = weft_pc_set_local_description(p->pc, WEFT_SDP_ANSWER, answer);
  if (rc < 0) {
    warn(r, "answer to %s: %s (%s)", from, weft_err_name(rc), weft_last_error_message());
    weft_free(answer);
    send_to(r, "bye", from, NULL, NULL);
    drop_peer(r, p);
    return;
  }
  send_to(r, "answer", from, "sdp", answer);
  weft_free(answer);
  flush_pending(p);
}

static void handle_answer(rp_room *r, const char *from, JsonObject *m) {
  rp_peer *p = g_hash_table_lookup(r->peers, from);
  const char *sdp = sig_msg_string(m, "sdp");
  if (!p || !sdp || weft_pc_get_signaling_state(p->pc) != WEFT_SIGNALING_HAVE_LOCAL_OFFER) {
    warn(r, "unexpected answer from %s, ignored", from);
    return;
  }
  int rc = weft_pc_set_remote_description(p->pc, WEFT_SDP_ANSWER, sdp);
  if (rc < 0) {
    warn(r, "answer from %s: %s (%s)", from, weft_err_name(rc), weft_last_error_message());
    send_to(r, "bye", from, NULL, NULL);
    drop_peer(r, p);
    return;
  }
  flush_pending(p);
}

static void handle_candidate(rp_room *r, const char *from, JsonObject *m) {
  rp_peer *p = g_hash_table_lookup(r->peers, from);
  if (!p) {
    warn(r, "candidate from %s without a connection, ignored", from);
    return;
  }
  if (!p->has_remote) {
    /* Bounded: a peer that floods candidates before its description gets
     * the excess dropped. */
    if (p->pending->len < 256) {
      JsonObject *c = json_object_new();
      static const char *const keys[] = {"candidate", "sdpMid", "sdpMLineIndex",
                                         "usernameFragment"};
      for (size_t i = 0; i < G_N_ELEMENTS(keys); i++) {
        JsonNode *n = json_object_get_member(m, keys[i]);
        if (n)
          json_object_set_member(c, keys[i], json_node_copy(n));
      }
      g_ptr_array_add(p->pending, c);
    }
    return;
  }
  add_candidate(p, m);
}

static void sr_joined(sig_room *sr, JsonArray *arr, void *ud) {
  (void)sr;
  rp_room *r = ud;
  r->joined = TRUE;
  r->join_retries = 0;
  if (r->cb.joined)
    r->cb.joined(r, r->ud);
  guint n = arr ? json_array_get_length(arr) : 0;
  for (guint i = 0; i < n && !r->failed; i++) {
    JsonNode *e = json_array_get_element(arr, i);
    if (!JSON_NODE_HOLDS_OBJECT(e))
      continue;
    JsonObject *po = json_node_get_object(e);
    const char *id = sig_msg_string(po, "peer");
    const char *name = sig_msg_string(po, "name");
    if (!sig_valid_id(id) || g_strcmp0(id, r->self) == 0 || g_hash_table_contains(r->peers, id))
      continue;
    g_hash_table_replace(r->names, g_strdup(id), g_strdup(name ? name : id));
    if (r->cb.peer_joined)
      r->cb.peer_joined(r, id, name ? name : id, r->ud);
    if (!r->failed)
      start_offer(r, id);
  }
}

static void sr_peer_joined(sig_room *sr, const char *id, const char *name, void *ud) {
  (void)sr;
  rp_room *r = ud;
  if (!sig_valid_id(id) || g_strcmp0(id, r->self) == 0)
    return;
  g_hash_table_replace(r->names, g_strdup(id), g_strdup(name ? name : id));
  if (r->cb.peer_joined)
    r->cb.peer_joined(r, id, name ? name : id, r->ud);
}

static void sr_peer_left(sig_room *sr, const char *id, void *ud) {
  (void)sr;
  rp_room *r = ud;
  if (!sig_valid_id(id) || g_strcmp0(id, r->self) == 0)
    return;
  rp_peer *p = g_hash_table_lookup(r->peers, id);
  if (p)
    drop_peer(r, p);
  g_hash_table_remove(r->names, id);
  if (r->cb.peer_left)
    r->cb.peer_left(r, id, r->ud);
}

/* A relayed offer / answer / candidate / bye. */
static void sr_message(sig_room *sr, const char *from, JsonObject *m, void *ud) {
  (void)sr;
  rp_room *r = ud;
  const char *type = sig_msg_string(m, "type");
  if (!type || !sig_valid_id(from) || g_strcmp0(from, r->self) == 0) {
    warn(r, "a message without a type or a valid sender, ignored");
    return;
  }
  if (strcmp(type, "offer") == 0)
    handle_offer(r, from, m);
  else if (strcmp(type, "answer") == 0)
    handle_answer(r, from, m);
  else if (strcmp(type, "candidate") == 0)
    handle_candidate(r, from, m);
  else if (strcmp(type, "bye") == 0) {
    rp_peer *p = g_hash_table_lookup(r->peers, from);
    if (p)
      drop_peer(r, p);
  }
}

static void connect_room(rp_room *r);

static gboolean retry_join(gpointer ud) {
  rp_room *r = ud;
  r->retry_timer = 0;
  connect_room(r);
  return G_SOURCE_REMOVE;
}

static void sr_error(sig_room *sr, const char *code, const char *message, void *ud) {
  rp_room *r = ud;
  warn(r, "server error %s: %s", code, message);
  if (sig_room_is_joined(sr) || r->failed)
    return;
  /* Not in the room. "peer-taken" right after we left (a rejoin on a new
   * connection can reach the server before the old one's leave): retry a
   * few times. Other refusals are final. */
  if (!strcmp(code, "peer-taken") && r->join_retries < 10 && !r->retry_timer) {
    r->join_retries++;
    sig_room_free(r->sig);
    r->sig = NULL;
    r->retry_timer = g_timeout_add(200, retry_join, r);
    return;
  }
  if (!strcmp(code, "peer-taken") || !strcmp(code, "room-full") || !strcmp(code, "bad-message") ||
      !strcmp(code, "already-joined")) {
    char *e = g_strdup_printf("join refused: %s", code);
    fatal(r, e);
    g_free(e);
  }
}

static void sr_closed(sig_room *sr, guint16 code, const char *reason, void *ud) {
  (void)sr, (void)code;
  rp_room *r = ud;
  r->joined = FALSE;
  drop_all(r);
  fatal(r, reason);
}

static void connect_room(rp_room *r) {
  static const sig_room_callbacks cb = {sr_joined,  sr_peer_joined, sr_peer_left,
                                        sr_message, sr_error,       sr_closed};
  /* The options were checked by rp_room_new(): this cannot fail. */
  r->sig = sig_room_connect(r->url, r->room_id, r->self, r->name, &cb, r, NULL);
  if (!r->sig)
    fatal(r, "cannot connect to the room");
}

static int host_is_loopback(const char *url) {
  GUri *u = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
  if (!u)
    return 0;
  const char *h = g_uri_get_host(u);
  int lo = h && (g_str_has_prefix(h, "127.") || !strcmp(h, "localhost") || !strcmp(h, "::1") ||
                 !strcmp(h, "[::1]"));
  g_uri_unref(u);
  return lo;
}

rp_room *rp_room_new(const rp_options *o, const rp_callbacks *cb, void *ud, GError **error) {
  if (!o->url || !(g_str_has_prefix(o->url, "ws://") || g_str_has_prefix(o->url, "wss://"))) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "--url must be ws://HOST:PORT/ws");
    return NULL;
  }
  if (!sig_valid_id(o->room)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "--room must be 1-64 characters of [A-Za-z0-9_.-]");
    return NULL;
  }
  if (o->peer && !sig_valid_id(o->peer)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "--peer must be 1-64 characters of [A-Za-z0-9_.-]");
    return NULL;
  }
  if (o->name && (strlen(o->name) > 64 || !g_utf8_validate(o->name, -1, NULL))) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "--name must be valid UTF-8 of at most 64 bytes");
    return NULL;
  }
  GUri *u = g_uri_parse(o->url, G_URI_FLAGS_NONE, NULL);
  if (!u || !g_uri_get_host(u) || !*g_uri_get_host(u)) {
    if (u)
      g_uri_unref(u);
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "malformed --url %s", o->url);
    return NULL;
  }
  g_uri_unref(u);
  rp_room *r = g_new0(rp_room, 1);
  r->url = g_strdup(o->url);
  r->room_id = g_strdup(o->room);
  r->self = o->peer ? g_strdup(o->peer) : g_strdup_printf("weft-%08x", g_random_int());
  r->name = g_strdup(o->name ? o->name : r->self);
  r->prog = g_strdup(o->prog ? o->prog : "room");
  r->loopback = o->loopback >= 0 ? o->loopback : host_is_loopback(o->url);
  if (cb)
    r->cb = *cb;
  r->ud = ud;
  r->peers = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, peer_free);
  r->names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  r->reoffer_count = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  r->reoffer_ids = g_ptr_array_new_with_free_func(g_free);
  r->ctx = weft_context_new_for_main_context(g_main_context_default());
  connect_room(r);
  return r;
}

static void rp_room_leave(rp_room *r) {
  r->joined = FALSE;
  if (r->reoffer_timer)
    g_source_remove(r->reoffer_timer);
  r->reoffer_timer = 0;
  g_ptr_array_set_size(r->reoffer_ids, 0);
  g_hash_table_remove_all(r->reoffer_count);
  drop_all(r);
  g_hash_table_remove_all(r->names);
  /* sig_room_free() sends "leave" and closes the WebSocket. */
  sig_room_free(r->sig);
  r->sig = NULL;
}

void rp_room_rejoin(rp_room *r) {
  rp_room_leave(r);
  if (r->retry_timer) {
    g_source_remove(r->retry_timer);
    r->retry_timer = 0;
  }
  r->join_retries = 0;
  connect_room(r);
}

void rp_room_free(rp_room *r) {
  if (!r)
    return;
  rp_room_leave(r);
  r->cb = (rp_callbacks){0};
  if (r->retry_timer)
    g_source_remove(r->retry_timer);
  /* Peers dropped above are freed from idle callbacks; the context goes
   * once their pcs are released. */
  weft_context_unref(r->ctx);
  g_hash_table_unref(r->peers);
  g_hash_table_unref(r->names);
  g_hash_table_unref(r->reoffer_count);
  g_ptr_array_unref(r->reoffer_ids);
  g_free(r->url);
  g_free(r->room_id);
  g_free(r->self);
  g_free(r->name);
  g_free(r->prog);
  g_free(r);
}

const char *rp_room_self(rp_room *r) { return r->self; }
const char *rp_room_name(rp_room *r) { return r->name; }

GPtrArray *rp_room_peers(rp_room *r) {
  GPtrArray *a = g_ptr_array_new();
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init(&it, r->peers);
  while (g_hash_table_iter_next(&it, &k, &v))
    g_ptr_array_add(a, v);
  return a;
}

rp_peer *rp_room_find_peer(rp_room *r, const char *peer) {
  return peer ? g_hash_table_lookup(r->peers, peer) : NULL;
}

int rp_room_send_chat(rp_room *r, const char *text) {
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "type", "chat");
  json_object_set_string_member(o, "from", r->self);
  json_object_set_string_member(o, "name", r->name);
  json_object_set_string_member(o, "text", text);
  char *s = sig_json_to_string(o);
  json_object_unref(o);
  int sent = 0;
  GPtrArray *all = rp_room_peers(r);
  for (guint i = 0; i < all->len; i++) {
    rp_peer *p = all->pdata[i];
    if (!p->chat || weft_dc_get_ready_state(p->chat) != WEFT_DC_OPEN)
      continue;
    int rc = weft_dc_send_text(p->chat, s, strlen(s));
    if (rc < 0)
      warn(r, "chat to %s: %s", p->id, weft_err_name(rc));
    else
      sent++;
  }
  g_ptr_array_unref(all);
  g_free(s);
  return sent;
}

void rp_room_bye(rp_room *r, rp_peer *p) {
  send_to(r, "bye", p->id, NULL, NULL);
  drop_peer(r, p);
}

const char *rp_peer_id(rp_peer *p) { return p->id; }
const char *rp_peer_name(rp_peer *p) { return p->name; }
weft_pc *rp_peer_pc(rp_peer *p) { return p->pc; }
weft_dc *rp_peer_chat(rp_peer *p) { return p->chat; }
gboolean rp_peer_is_offerer(rp_peer *p) { return p->offerer; }
void rp_peer_set_user_data(rp_peer *p, void *ud) { p->user_data = ud; }
void *rp_peer_get_user_data(rp_peer *p) { return p->user_data; }
