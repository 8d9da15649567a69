/*
 * examples/signaling — the room transport: a WebSocket client of
 * examples/signaling-server (doc/rooms.md), and sig_session adapters that
 * make one peer of the room look like any other transport's session.
 *
 * Lifetime: a sig_room is reference counted internally. The application
 * holds one reference (dropped by sig_room_free), the pending connect holds
 * one, and every dispatch holds one while it calls the application, so a
 * callback may free the room under our feet without us touching freed
 * memory afterwards.
 */
#include "sig_private.h"

#include <libsoup/soup.h>
#include <string.h>

#define MAX_ID 64
#define MAX_NAME 64

typedef struct room_session room_session;

struct sig_room {
  gint ref_count;
  GMainContext *context;
  SoupSession *soup;
  SoupWebsocketConnection *ws; /* NULL until connected and after close */
  GCancellable *cancel;        /* the pending connect */
  char *url, *room, *peer, *name;
  sig_room_callbacks cb;
  void *user_data;
  gboolean joined;
  gboolean gone;        /* the connection is closed (or never opened) */
  gboolean freed;       /* sig_room_free() ran: no more callbacks */
  GHashTable *peers;    /* peer id -> display name (both owned) */
  GHashTable *sessions; /* peer id (owned by the session) -> room_session * (a reference) */
  GQueue early;         /* char * JSON texts sent before "joined" */
  gulong message_id, closed_id;
};

struct room_session {
  sig_session base;
  sig_room *room; /* NULL once detached (closed, remote left, room gone) */
  char *peer;
  gboolean remote_ended; /* the remote said bye or left: do not send bye on close */
};

static sig_room *room_ref(sig_room *r) {
  r->ref_count++;
  return r;
}

static void room_unref(sig_room *r) {
  if (--r->ref_count > 0)
    return;
  g_assert(r->ws == NULL && g_hash_table_size(r->sessions) == 0);
  g_clear_object(&r->cancel);
  g_clear_object(&r->soup);
  g_hash_table_unref(r->peers);
  g_hash_table_unref(r->sessions);
  g_queue_clear_full(&r->early, g_free);
  g_main_context_unref(r->context);
  g_free(r->url);
  g_free(r->room);
  g_free(r->peer);
  g_free(r->name);
  g_free(r);
}

/* ---- Helpers ---------------------------------------------------------------- */

gboolean sig_valid_id(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n < 1 || n > MAX_ID)
    return FALSE;
  for (size_t i = 0; i < n; i++)
    if (!g_ascii_isalnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
      return FALSE;
  return TRUE;
}

static void ws_send_text(sig_room *r, const char *text) {
  if (r->ws && soup_websocket_connection_get_state(r->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_send_text(r->ws, text);
}

/* ---- Room sessions ---------------------------------------------------------- */

static void detach(room_session *rs) {
  sig_room *r = rs->room;
  if (!r)
    return;
  rs->room = NULL;
  /* Drops the room's reference last: the caller holds its own. */
  if (g_hash_table_lookup(r->sessions, rs->peer) == rs)
    g_hash_table_remove(r->sessions, rs->peer);
}

static gboolean rs_send(sig_session *s, JsonObject *msg, GError **error) {
  room_session *rs = (room_session *)s;
  const char *type = sig_msg_type(msg);
  if (!rs->room) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "%s: not in the room any more",
                sig_session_describe(s));
    return FALSE;
  }
  if (strcmp(type, "error") == 0) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                        "the room protocol has no error message between peers");
    return FALSE;
  }
  if (strcmp(type, "end-of-candidates") != 0)
    return sig_room_send(rs->room, rs->peer, msg, error);
  JsonObject *eoc = json_object_new();
  json_object_set_string_member(eoc, "type", "candidate");
  json_object_set_null_member(eoc, "candidate");
  /* Keep the section the app named, if any (RTCIceCandidateInit shape). */
  if (json_object_has_member(msg, "sdpMid"))
    json_object_set_member(eoc, "sdpMid", json_node_copy(json_object_get_member(msg, "sdpMid")));
  if (json_object_has_member(msg, "sdpMLineIndex"))
    json_object_set_member(eoc, "sdpMLineIndex",
                           json_node_copy(json_object_get_member(msg, "sdpMLineIndex")));
  gboolean ok = sig_room_send(rs->room, rs->peer, eoc, error);
  json_object_unref(eoc);
  return ok;
}

static void rs_close(sig_session *s) {
  room_session *rs = (room_session *)s;
  if (rs->room && !rs->remote_ended && rs->room->joined) {
    JsonObject *bye = json_object_new();
    json_object_set_string_member(bye, "type", "bye");
    sig_room_send(rs->room, rs->peer, bye, NULL);
    json_object_unref(bye);
  }
  detach(rs);
}

static void rs_finalize(sig_session *s) {
  room_session *rs = (room_session *)s;
  g_free(rs->peer);
}

static const sig_session_class room_session_class = {rs_send, rs_close, rs_finalize};

/* Hands a relayed message from the session's peer to the session, in the
 * sig_session vocabulary. */
static void rs_deliver(room_session *rs, JsonObject *msg) {
  const char *type = sig_msg_type(msg);
  JsonObject *out;
  JsonNode *cand = json_object_get_member(msg, "candidate");
  if (strcmp(type, "candidate") == 0 && cand && JSON_NODE_HOLDS_NULL(cand)) {
    out = json_object_new();
    json_object_set_string_member(out, "type", "end-of-candidates");
    if (json_object_has_member(msg, "sdpMid"))
      json_object_set_member(out, "sdpMid", json_node_copy(json_object_get_member(msg, "sdpMid")));
    if (json_object_has_member(msg, "sdpMLineIndex"))
      json_object_set_member(out, "sdpMLineIndex",
                             json_node_copy(json_object_get_member(msg, "sdpMLineIndex")));
  } else {
    out = sig_json_copy(msg);
  }
  if (strcmp(type, "bye") == 0) {
    rs->remote_ended = TRUE;
    sig_session_ref(&rs->base);
    detach(rs);
    sig_session_deliver(&rs->base, out);
    sig_session_unref(&rs->base);
    return;
  }
  sig_session_deliver(&rs->base, out);
}

/* The remote peer is gone for good (left, or the room closed): the session
 * hears @what and is detached. */
static void rs_end(room_session *rs, JsonObject *what) {
  rs->remote_ended = TRUE;
  sig_session_ref(&rs->base);
  detach(rs);
  sig_session_deliver(&rs->base, what);
  sig_session_unref(&rs->base);
}

sig_session *sig_room_session_new(sig_room *r, const char *peer) {
  g_return_val_if_fail(r != NULL && !r->freed, NULL);
  g_return_val_if_fail(sig_valid_id(peer), NULL);
  room_session *old = g_hash_table_lookup(r->sessions, peer);
  if (old) {
    /* The app moved on to a new session with @peer: a bye now would reach
     * the peer after whatever the new session says, and could end it. */
    old->remote_ended = TRUE;
    sig_session_ref(&old->base);
    sig_session_close(&old->base);
    sig_session_unref(&old->base);
  }
  room_session *rs = g_new0(room_session, 1);
  sig_session_init(&rs->base, &room_session_class);
  rs->peer = g_strdup(peer);
  char *d = g_strdup_printf("room %s peer %s", r->room, peer);
  sig_session_set_description(&rs->base, d);
  g_free(d);
  sig_session_set_remote(&rs->base, peer);
  if (r->gone) {
    /* The room connection is already over: a dead session that says so. */
    sig_session_deliver_error(&rs->base, 0, "the room connection is closed");
    return &rs->base;
  }
  rs->room = r;
  g_hash_table_replace(r->sessions, rs->peer, sig_session_ref(&rs->base));
  return &rs->base;
}

/* ---- Incoming ---------------------------------------------------------------- */

static void on_joined(sig_room *r, JsonObject *msg) {
  r->joined = TRUE;
  g_hash_table_remove_all(r->peers);
  JsonNode *pn = json_object_get_member(msg, "peers");
  JsonArray *peers = pn && JSON_NODE_HOLDS_ARRAY(pn) ? json_node_get_array(pn) : NULL;
  JsonArray *empty = NULL;
  if (!peers)
    peers = empty = json_array_new();
  for (guint i = 0; i < json_array_get_length(peers); i++) {
    JsonNode *e = json_array_get_element(peers, i);
    if (!JSON_NODE_HOLDS_OBJECT(e))
      continue;
    const char *q = sig_msg_string(json_node_get_object(e), "peer");
    const char *n = sig_msg_string(json_node_get_object(e), "name");
    if (q)
      g_hash_table_replace(r->peers, g_strdup(q), g_strdup(n ? n : q));
  }
  /* What the app sent before the join was accepted, in order. */
  char *text;
  while ((text = g_queue_pop_head(&r->early))) {
    ws_send_text(r, text);
    g_free(text);
  }
  if (r->cb.joined)
    r->cb.joined(r, peers, r->user_data);
  if (empty)
    json_array_unref(empty);
}

static void on_relayed(sig_room *r, JsonObject *msg) {
  const char *from = sig_msg_string(msg, "from");
  if (!from)
    return;
  room_session *rs = g_hash_table_lookup(r->sessions, from);
  if (rs) {
    rs_deliver(rs, msg);
    return;
  }
  if (r->cb.message)
    r->cb.message(r, from, msg, r->user_data);
  /* A session the app created for @from while handling this message gets it
   * too (the offer that made the app create it). */
  if (!r->freed && (rs = g_hash_table_lookup(r->sessions, from)))
    rs_deliver(rs, msg);
}

static void dispatch(sig_room *r, JsonObject *msg) {
  const char *type = sig_msg_type(msg);
  if (!type)
    return;
  if (strcmp(type, "joined") == 0) {
    on_joined(r, msg);
  } else if (strcmp(type, "peer-joined") == 0) {
    const char *q = sig_msg_string(msg, "peer");
    const char *n = sig_msg_string(msg, "name");
    if (!q)
      return;
    g_hash_table_replace(r->peers, g_strdup(q), g_strdup(n ? n : q));
    if (r->cb.peer_joined)
      r->cb.peer_joined(r, q, n ? n : q, r->user_data);
  } else if (strcmp(type, "peer-left") == 0) {
    const char *q = sig_msg_string(msg, "peer");
    if (!q)
      return;
    char *peer = g_strdup(q);
    g_hash_table_remove(r->peers, peer);
    room_session *rs = g_hash_table_lookup(r->sessions, peer);
    if (rs) {
      JsonObject *bye = json_object_new();
      json_object_set_string_member(bye, "type", "bye");
      rs_end(rs, bye);
    }
    if (r->cb.peer_left)
      r->cb.peer_left(r, peer, r->user_data);
    g_free(peer);
  } else if (strcmp(type, "offer") == 0 || strcmp(type, "answer") == 0 ||
             strcmp(type, "candidate") == 0 || strcmp(type, "bye") == 0) {
    on_relayed(r, msg);
  } else if (strcmp(type, "error") == 0) {
    const char *code = sig_msg_string(msg, "code");
    const char *text = sig_msg_string(msg, "message");
    if (r->cb.error)
      r->cb.error(r, code ? code : "", text ? text : "", r->user_data);
  }
  /* "pong" and anything newer: nothing to do. */
}

static void on_ws_message(SoupWebsocketConnection *ws, gint type, GBytes *bytes, gpointer data) {
  (void)ws;
  sig_room *r = data;
  if (type != SOUP_WEBSOCKET_DATA_TEXT || r->freed)
    return;
  gsize len;
  const char *text = g_bytes_get_data(bytes, &len);
  JsonParser *parser = json_parser_new_immutable();
  if (json_parser_load_from_data(parser, text, (gssize)len, NULL)) {
    JsonNode *root = json_parser_get_root(parser);
    if (root && JSON_NODE_HOLDS_OBJECT(root)) {
      room_ref(r);
      dispatch(r, json_node_get_object(root));
      room_unref(r);
    }
  }
  g_object_unref(parser);
}

/* The connection is over: every session hears it, then the app. */
static void connection_gone(sig_room *r, guint16 code, const char *reason) {
  r->gone = TRUE;
  r->joined = FALSE;
  if (r->ws) {
    g_signal_handler_disconnect(r->ws, r->message_id);
    g_signal_handler_disconnect(r->ws, r->closed_id);
    g_clear_object(&r->ws);
  }
  room_ref(r);
  GList *all = g_hash_table_get_values(r->sessions);
  for (GList *l = all; l; l = l->next)
    sig_session_ref(l->data);
  for (GList *l = all; l; l = l->next) {
    JsonObject *err = json_object_new();
    json_object_set_string_member(err, "type", "error");
    char *m = g_strdup_printf("the room connection closed: %s", reason);
    json_object_set_string_member(err, "message", m);
    g_free(m);
    rs_end(l->data, err);
  }
  g_list_free_full(all, (GDestroyNotify)sig_session_unref);
  if (!r->freed && r->cb.closed)
    r->cb.closed(r, code, reason, r->user_data);
  room_unref(r);
}

static void on_ws_closed(SoupWebsocketConnection *ws, gpointer data) {
  sig_room *r = data;
  guint16 code = soup_websocket_connection_get_close_code(ws);
  const char *data_text = soup_websocket_connection_get_close_data(ws);
  char *reason = g_strdup_printf("closed by the server (code %u%s%s)", code,
                                 data_text && *data_text ? ", " : "", data_text ? data_text : "");
  if (code == 0) {
    g_free(reason);
    reason = g_strdup("the connection to the server was lost");
  }
  connection_gone(r, code, reason);
  g_free(reason);
}

static void on_connected(GObject *source, GAsyncResult *res, gpointer data) {
  sig_room *r = data;
  GError *error = NULL;
  SoupWebsocketConnection *ws =
      soup_session_websocket_connect_finish(SOUP_SESSION(source), res, &error);
  g_clear_object(&r->cancel);
  if (!ws) {
    if (!r->freed) {
      char *reason = g_strdup_printf("cannot connect to %s: %s", r->url, error->message);
      connection_gone(r, 0, reason);
      g_free(reason);
    } else {
      r->gone = TRUE;
    }
    g_error_free(error);
    room_unref(r);
    return;
  }
  if (r->freed) {
    soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
    g_object_unref(ws);
    room_unref(r);
    return;
  }
  r->ws = ws;
  /* Signaling messages are small, but an SDP with many candidates can pass
   * the 128 KiB default; the server enforces its own limit anyway. */
  soup_websocket_connection_set_max_incoming_payload_size(ws, 1024 * 1024);
  r->message_id = g_signal_connect(ws, "message", G_CALLBACK(on_ws_message), r);
  r->closed_id = g_signal_connect(ws, "closed", G_CALLBACK(on_ws_closed), r);
  JsonObject *join = json_object_new();
  json_object_set_string_member(join, "type", "join");
  json_object_set_string_member(join, "room", r->room);
  json_object_set_string_member(join, "peer", r->peer);
  json_object_set_string_member(join, "name", r->name);
  char *text = sig_json_to_string(join);
  json_object_unref(join);
  ws_send_text(r, text);
  g_free(text);
  room_unref(r);
}

/* ---- Public API ---------------------------------------------------------------- */

sig_room *sig_room_connect(const char *url, const char *room, const char *peer, const char *name,
                           const sig_room_callbacks *callbacks, void *user_data, GError **error) {
  GUri *uri = url ? g_uri_parse(url, G_URI_FLAGS_NONE, NULL) : NULL;
  const char *scheme = uri ? g_uri_get_scheme(uri) : NULL;
  gboolean url_ok =
      scheme && g_uri_get_host(uri) && *g_uri_get_host(uri) &&
      (g_ascii_strcasecmp(scheme, "ws") == 0 || g_ascii_strcasecmp(scheme, "wss") == 0 ||
       g_ascii_strcasecmp(scheme, "http") == 0 || g_ascii_strcasecmp(scheme, "https") == 0);
  if (uri)
    g_uri_unref(uri);
  if (!url_ok) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "%s: want a ws://host:port/ws URL",
                url ? url : "(null)");
    return NULL;
  }
  if (!sig_valid_id(room)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "room \"%s\": want 1-64 characters of A-Z a-z 0-9 _ . -", room ? room : "");
    return NULL;
  }
  char *generated = NULL;
  if (!peer)
    peer = generated = g_strdup_printf("p-%08x", g_random_int());
  if (!sig_valid_id(peer)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "peer \"%s\": want 1-64 characters of A-Z a-z 0-9 _ . -", peer);
    return NULL;
  }
  if (!name)
    name = peer;
  if (strlen(name) > MAX_NAME || !g_utf8_validate(name, -1, NULL)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "name: want valid UTF-8 of at most %d bytes", MAX_NAME);
    g_free(generated);
    return NULL;
  }
  sig_room *r = g_new0(sig_room, 1);
  r->ref_count = 1;
  r->context = g_main_context_ref_thread_default();
  r->url = g_strdup(url);
  r->room = g_strdup(room);
  r->peer = g_strdup(peer);
  r->name = g_strdup(name);
  g_free(generated);
  if (callbacks)
    r->cb = *callbacks;
  r->user_data = user_data;
  r->peers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  r->sessions =
      g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)sig_session_unref);
  g_queue_init(&r->early);
  r->soup = soup_session_new();
  r->cancel = g_cancellable_new();
  /* libsoup wants ws:// or http:// alike for a WebSocket handshake. */
  SoupMessage *msg = soup_message_new(SOUP_METHOD_GET, url);
  soup_session_websocket_connect_async(r->soup, msg, NULL, NULL, G_PRIORITY_DEFAULT, r->cancel,
                                       on_connected, room_ref(r));
  g_object_unref(msg);
  return r;
}

gboolean sig_room_send(sig_room *r, const char *to, JsonObject *msg, GError **error) {
  g_return_val_if_fail(r != NULL && !r->freed, FALSE);
  if (!msg || !sig_msg_type(msg)) {
    g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                        "a room message needs a string \"type\"");
    return FALSE;
  }
  if (!sig_valid_id(to)) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "\"%s\" is not a peer id",
                to ? to : "(null)");
    return FALSE;
  }
  if (r->gone) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the room connection is closed");
    return FALSE;
  }
  JsonObject *copy = sig_json_copy(msg);
  json_object_set_string_member(copy, "to", to);
  char *text = sig_json_to_string(copy);
  json_object_unref(copy);
  if (!r->joined) {
    g_queue_push_tail(&r->early, text);
    return TRUE;
  }
  ws_send_text(r, text);
  g_free(text);
  return TRUE;
}

const char *sig_room_get_peer(sig_room *r) {
  g_return_val_if_fail(r != NULL, "");
  return r->peer;
}

const char *sig_room_get_room(sig_room *r) {
  g_return_val_if_fail(r != NULL, "");
  return r->room;
}

gboolean sig_room_is_joined(sig_room *r) {
  g_return_val_if_fail(r != NULL, FALSE);
  return r->joined;
}

gboolean sig_room_has_peer(sig_room *r, const char *peer) {
  g_return_val_if_fail(r != NULL, FALSE);
  return peer && g_hash_table_contains(r->peers, peer);
}

const char *sig_room_get_peer_name(sig_room *r, const char *peer) {
  g_return_val_if_fail(r != NULL, NULL);
  return peer ? g_hash_table_lookup(r->peers, peer) : NULL;
}

void sig_room_free(sig_room *r) {
  if (!r)
    return;
  g_return_if_fail(!r->freed);
  /* Sessions first: they may still say bye to their peers. */
  GList *all = g_hash_table_get_values(r->sessions);
  for (GList *l = all; l; l = l->next)
    sig_session_ref(l->data);
  for (GList *l = all; l; l = l->next)
    sig_session_close(l->data);
  g_list_free_full(all, (GDestroyNotify)sig_session_unref);
  r->freed = TRUE;
  if (r->cancel)
    g_cancellable_cancel(r->cancel);
  if (r->ws) {
    if (r->joined)
      ws_send_text(r, "{\"type\":\"leave\"}");
    g_signal_handler_disconnect(r->ws, r->message_id);
    g_signal_handler_disconnect(r->ws, r->closed_id);
    /* The close frame is queued (and usually written) now; libsoup finishes
     * the close on its own, holding its own reference meanwhile. */
    if (soup_websocket_connection_get_state(r->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close(r->ws, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
    g_clear_object(&r->ws);
  }
  r->joined = FALSE;
  r->gone = TRUE;
  room_unref(r);
}
