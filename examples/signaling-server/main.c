/*
 * examples/signaling-server — a WebSocket room server (doc/rooms.md):
 * rooms of peers that relay offer/answer/candidate/bye to each other by peer
 * id, and the browser page served over HTTP from the same port. libsoup-3.0
 * and json-glib, one thread, one GMainLoop.
 *
 * Robustness, and how each limit is enforced:
 *   - Message size: libsoup's max-incoming-payload-size is set to
 *     --max-message, so an oversized frame is refused from its header, before
 *     its payload is read (a 10 MB message costs nothing). libsoup then drops
 *     the connection itself; we catch its "error" signal first to send the
 *     {"type":"error","code":"too-big"} message and a 1009 close frame.
 *     A message split into small fragments passes that check, and libsoup
 *     3.2 reassembles it without any limit: the stream we give SoupServer
 *     (guard.c) follows the frame headers as libsoup reads them and fails
 *     the read once the message in progress passes --max-message.
 *   - permessage-deflate is switched off: a small compressed frame could
 *     inflate to any size inside libsoup before we see it.
 *   - Invalid messages: counted per connection; the 101st gets a 1008 close.
 *   - JSON nesting: json-glib 1.6 recurses once per level and overflows its
 *     stack at about 75,000 nested '['. Every message first goes through a
 *     linear scan (json_precheck) that counts the nesting outside strings
 *     and refuses anything deeper than --max-depth. The scan also refuses
 *     the non-JSON that json-glib's scanner would tokenize differently
 *     (single-quoted strings, comments, "\uD800" without its pair, ...):
 *     otherwise a '"' that the scan takes for a string could hide brackets
 *     that json-glib parses.
 *   - Request bodies: libsoup reads a request's body before answering it,
 *     and the frame guard (guard.c) would take that body for frames and be
 *     out of step for every later frame. Every request that announces a
 *     body is refused (413, in the early handler), its body discarded, not
 *     buffered, as libsoup reads it.
 *   - Connections that are not (yet) WebSockets: at most --max-pending at
 *     once, and each is shut down --handshake-timeout seconds after it was
 *     accepted unless it became a WebSocket. At most --max-per-address
 *     connections (of either kind) per client IP address; more are closed at
 *     accept.
 *   - Relay rate: each connection has a token bucket of --relay-burst bytes
 *     refilled at --relay-rate bytes/s; a relay costs its size plus 256
 *     bytes. A relay over the budget is dropped and the sender gets a
 *     rate-limited error, so a flooding sender is throttled instead of its
 *     (slower) receiver being cut off by the backlog limit below.
 *   - Slow readers: SoupWebsocketConnection queues outgoing frames in memory
 *     without bound and has no API telling how much is queued. We accept the
 *     TCP connections ourselves, so we know each WebSocket's socket, and
 *     compute libsoup's backlog as (bytes we handed to libsoup since the
 *     upgrade, with frame headers) - (bytes the kernel took from libsoup
 *     since then). The kernel side is TCP_INFO's tcpi_bytes_acked plus
 *     SIOCOUTQ (not yet acked), i.e. every byte ever written to the socket.
 *     A client whose backlog would pass 1 MiB is disconnected at once: we
 *     leave its room, ask libsoup for a 1008 close and shut the socket down
 *     so nothing waits for a peer that does not read.
 */
#include "guard.h"
#include "signaling.h" /* sig_valid_id, sig_json_to_string, sig_msg_string */

#include <errno.h>
#include <gio/gio.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#ifndef WEFT_WEB_ROOT
#define WEFT_WEB_ROOT "examples/web"
#endif

#define MAX_NAME 64
#define MAX_INVALID 100
#define MAX_BACKLOG (1024 * 1024)
#define MAX_FILE (16 * 1024 * 1024)
#define MAX_DEPTH_CAP 1000 /* --max-depth at most: far below json-glib's stack limit */
#define RELAY_OVERHEAD 256 /* what a relay costs beyond its bytes (rate limit) */

typedef struct server server;
typedef struct room room;

typedef struct client {
  server *srv;
  SoupWebsocketConnection *ws;
  GIOStream *guard;        /* the stream SoupServer reads (guard.h); NULL if unknown */
  GSocketConnection *conn; /* its socket (a reference); NULL if unknown: no backlog check */
  char *remote;
  room *room; /* NULL when not joined */
  char *peer, *name;
  guint invalid;
  guint64 given;        /* bytes handed to libsoup since the upgrade, frame headers included */
  guint64 written_base; /* bytes written to the socket before the upgrade's end */
  gboolean dropping;    /* being disconnected by us */
  char *ip;             /* counted in srv->per_ip (NULL: not counted) */
  double tokens;        /* relay budget in bytes; below 0 after a relay larger than the burst */
  gint64 refilled_us;   /* when @tokens was last brought up to date */
  guint64 dropped;      /* relays dropped by the rate limit */
  gboolean throttled;   /* the last relay was dropped (one log line per episode) */
} client;

struct room {
  char *id;
  GHashTable *members; /* peer id -> client * (not owned) */
  GQueue order;        /* client *, in join order */
};

struct server {
  SoupServer *soup;
  GSocketService *service;
  GMainLoop *loop;
  char *host;
  char *web_root;
  guint64 max_message;
  guint max_peers, max_clients;
  guint max_depth, max_pending, max_per_address; /* max_per_address 0: no cap */
  guint handshake_ms;
  double relay_rate, relay_burst; /* bytes/s and bytes; relay_rate 0: no limit */
  gboolean verbose;
  gboolean stopping;
  guint grace;         /* the shutdown's deadline source */
  GHashTable *rooms;   /* id -> room * (owned) */
  GHashTable *clients; /* client * set (owned) */
  GHashTable *conns;   /* "host:port" -> pending * (owned): accepted, not upgraded */
  GHashTable *per_ip;  /* IP address -> its connections (pending and WebSocket), as a guint */
  struct {             /* refusals by reason, for the "stopped" line */
    guint64 per_address, pending, timeout, body, depth, rate;
  } refused;
  guint16 port;
};

/* An accepted connection that has not become a WebSocket (yet). */
typedef struct pending {
  server *srv;
  char *key;        /* "host:port", its key in srv->conns */
  char *ip;         /* counted in srv->per_ip; moves to the client on upgrade */
  GIOStream *guard; /* what SoupServer reads (guard.h) */
  guint timer;      /* --handshake-timeout */
} pending;

/* ---- Logging ------------------------------------------------------------------ */

/* One JSON line on stdout per event: the tests and operators parse them. */
static void log_obj(JsonObject *o) {
  char *text = sig_json_to_string(o);
  fputs(text, stdout);
  fputc('\n', stdout);
  fflush(stdout);
  g_free(text);
  json_object_unref(o);
}

static JsonObject *ev_new(const char *ev) {
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "ev", ev);
  return o;
}

static void ev_client(JsonObject *o, client *c) {
  if (c->room)
    json_object_set_string_member(o, "room", c->room->id);
  if (c->peer)
    json_object_set_string_member(o, "peer", c->peer);
  json_object_set_string_member(o, "remote", c->remote);
}

/* ---- Helpers -------------------------------------------------------------------- */

static char *address_string(GSocketAddress *a) {
  if (!G_IS_INET_SOCKET_ADDRESS(a))
    return g_strdup("?");
  char *ip = g_inet_address_to_string(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(a)));
  char *s = g_strdup_printf("%s:%u", ip, g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(a)));
  g_free(ip);
  return s;
}

/* "127.0.0.1" of @a ("?" if it is not an IP address): what the per-address
 * cap counts. */
static char *address_ip(GSocketAddress *a) {
  if (!G_IS_INET_SOCKET_ADDRESS(a))
    return g_strdup("?");
  return g_inet_address_to_string(g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(a)));
}

/* One connection from @ip less; frees @ip. */
static void ip_release(server *srv, char *ip) {
  guint n = GPOINTER_TO_UINT(g_hash_table_lookup(srv->per_ip, ip));
  if (n <= 1)
    g_hash_table_remove(srv->per_ip, ip);
  else
    g_hash_table_insert(srv->per_ip, g_strdup(ip), GUINT_TO_POINTER(n - 1));
  g_free(ip);
}

/* {"ev":"refused"}: a connection or request refused before it became a
 * WebSocket. */
static void log_refused(const char *reason, const char *remote) {
  JsonObject *log = ev_new("refused");
  json_object_set_string_member(log, "reason", reason);
  json_object_set_string_member(log, "remote", remote);
  log_obj(log);
}

/* Every byte the application ever wrote to @conn's socket (acked or still in
 * the kernel's send queue). FALSE if the kernel does not say. */
static gboolean socket_written(GSocketConnection *conn, guint64 *out) {
  int fd = g_socket_get_fd(g_socket_connection_get_socket(conn));
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  memset(&ti, 0, sizeof ti);
  int queued = 0;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
      len < offsetof(struct tcp_info, tcpi_bytes_acked) + sizeof ti.tcpi_bytes_acked ||
      ioctl(fd, SIOCOUTQ, &queued) != 0 || queued < 0)
    return FALSE;
  *out = ti.tcpi_bytes_acked + (guint64)queued;
  return TRUE;
}

/* What libsoup holds for @c and has not written to the socket yet. */
static guint64 backlog(client *c) {
  guint64 written;
  if (!c->conn || !socket_written(c->conn, &written))
    return 0;
  guint64 done = written > c->written_base ? written - c->written_base : 0;
  return c->given > done ? c->given - done : 0;
}

static gsize frame_size(gsize payload) {
  return payload + (payload < 126 ? 2 : payload < 65536 ? 4 : 10);
}

/* ---- Sending ---------------------------------------------------------------------- */

static void drop_client(client *c, gushort code, const char *why);

static void send_text(client *c, const char *text) {
  if (c->dropping || soup_websocket_connection_get_state(c->ws) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  gsize len = strlen(text);
  /* The server never blocks on a client: one that lets more than 1 MiB pile
   * up is cut off instead. */
  if (backlog(c) + frame_size(len) > MAX_BACKLOG) {
    drop_client(c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "outgoing queue over 1 MiB");
    return;
  }
  c->given += frame_size(len);
  soup_websocket_connection_send_text(c->ws, text);
}

static void send_obj(client *c, JsonObject *o) {
  char *text = sig_json_to_string(o);
  send_text(c, text);
  g_free(text);
}

/* Sends {"type":"error"}; counts it against the client's allowance. */
static void send_error(client *c, const char *code, const char *message) {
  JsonObject *log = ev_new("error");
  json_object_set_string_member(log, "code", code);
  json_object_set_string_member(log, "message", message);
  ev_client(log, c);
  log_obj(log);
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "type", "error");
  json_object_set_string_member(o, "code", code);
  json_object_set_string_member(o, "message", message);
  send_obj(c, o);
  json_object_unref(o);
  if (++c->invalid > MAX_INVALID)
    drop_client(c, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "too many invalid messages");
}

/* ---- Rooms ---------------------------------------------------------------------- */

static void room_free(room *r) {
  g_hash_table_unref(r->members);
  g_queue_clear(&r->order);
  g_free(r->id);
  g_free(r);
}

/* Takes @c out of its room and tells the others. */
static void leave_room(client *c, const char *reason) {
  room *r = c->room;
  if (!r)
    return;
  JsonObject *log = ev_new("leave");
  ev_client(log, c);
  json_object_set_string_member(log, "reason", reason);
  log_obj(log);
  g_hash_table_remove(r->members, c->peer);
  g_queue_remove(&r->order, c);
  c->room = NULL;
  server *srv = c->srv;
  if (g_queue_is_empty(&r->order)) {
    g_hash_table_remove(srv->rooms, r->id);
    g_clear_pointer(&c->peer, g_free);
    g_clear_pointer(&c->name, g_free);
    return;
  }
  /* A send below may drop a slow member, which leaves this room too and may
   * even empty it: walk a copy, and look the room up again afterwards. */
  char *id = g_strdup(r->id);
  JsonObject *left = json_object_new();
  json_object_set_string_member(left, "type", "peer-left");
  json_object_set_string_member(left, "peer", c->peer);
  GList *others = g_list_copy(r->order.head);
  for (GList *l = others; l; l = l->next)
    send_obj(l->data, left);
  g_list_free(others);
  json_object_unref(left);
  g_clear_pointer(&c->peer, g_free);
  g_clear_pointer(&c->name, g_free);
  r = g_hash_table_lookup(srv->rooms, id);
  if (r && g_queue_is_empty(&r->order))
    g_hash_table_remove(srv->rooms, id);
  g_free(id);
}

static void handle_join(client *c, JsonObject *msg) {
  server *srv = c->srv;
  if (c->room) {
    send_error(c, "already-joined", "this connection is already in a room (send leave first)");
    return;
  }
  const char *rid = sig_msg_string(msg, "room"), *pid = sig_msg_string(msg, "peer");
  JsonNode *nn = json_object_get_member(msg, "name");
  if (!sig_valid_id(rid) || !sig_valid_id(pid)) {
    send_error(c, "bad-message", "join needs \"room\" and \"peer\": 1-64 of [A-Za-z0-9_.-]");
    return;
  }
  const char *name = pid;
  if (nn && !JSON_NODE_HOLDS_NULL(nn)) {
    if (!JSON_NODE_HOLDS_VALUE(nn) || json_node_get_value_type(nn) != G_TYPE_STRING ||
        strlen(json_node_get_string(nn)) > MAX_NAME ||
        !g_utf8_validate(json_node_get_string(nn), -1, NULL)) {
      send_error(c, "bad-message", "\"name\" must be a UTF-8 string of at most 64 bytes");
      return;
    }
    name = json_node_get_string(nn);
  }
  room *r = g_hash_table_lookup(srv->rooms, rid);
  if (r && g_hash_table_contains(r->members, pid)) {
    send_error(c, "peer-taken", "that peer id is in use in this room");
    return;
  }
  if (r && g_queue_get_length(&r->order) >= srv->max_peers) {
    send_error(c, "room-full", "the room is full");
    return;
  }
  if (!r) {
    r = g_new0(room, 1);
    r->id = g_strdup(rid);
    r->members = g_hash_table_new(g_str_hash, g_str_equal);
    g_queue_init(&r->order);
    g_hash_table_replace(srv->rooms, r->id, r);
  }
  c->peer = g_strdup(pid);
  c->name = g_strdup(name);
  JsonObject *joined = json_object_new();
  json_object_set_string_member(joined, "type", "joined");
  json_object_set_string_member(joined, "room", r->id);
  json_object_set_string_member(joined, "peer", c->peer);
  JsonArray *peers = json_array_new();
  for (GList *l = r->order.head; l; l = l->next) {
    client *o = l->data;
    JsonObject *e = json_object_new();
    json_object_set_string_member(e, "peer", o->peer);
    json_object_set_string_member(e, "name", o->name);
    json_array_add_object_element(peers, e);
  }
  json_object_set_array_member(joined, "peers", peers);
  JsonObject *pj = json_object_new();
  json_object_set_string_member(pj, "type", "peer-joined");
  json_object_set_string_member(pj, "peer", c->peer);
  json_object_set_string_member(pj, "name", c->name);
  GList *others = g_list_copy(r->order.head);
  c->room = r;
  g_hash_table_replace(r->members, c->peer, c);
  g_queue_push_tail(&r->order, c);
  JsonObject *log = ev_new("join");
  ev_client(log, c);
  json_object_set_string_member(log, "name", c->name);
  json_object_set_int_member(log, "peers", g_queue_get_length(&r->order));
  log_obj(log);
  send_obj(c, joined);
  for (GList *l = others; l; l = l->next)
    send_obj(l->data, pj);
  g_list_free(others);
  json_object_unref(joined);
  json_object_unref(pj);
}

/* Absent, null, or of the given fundamental type. */
static gboolean optional_of(JsonObject *o, const char *m, GType t) {
  JsonNode *n = json_object_get_member(o, m);
  return !n || JSON_NODE_HOLDS_NULL(n) ||
         (JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == t);
}

/* Takes a relay of @bytes out of @c's token bucket; FALSE if over budget.
 * A relay larger than the whole burst passes when the bucket is full and
 * leaves it in debt, so no message within --max-message is refused
 * forever. */
static gboolean relay_allowed(client *c, gsize bytes) {
  server *srv = c->srv;
  if (srv->relay_rate <= 0)
    return TRUE;
  gint64 now = g_get_monotonic_time();
  c->tokens = MIN(srv->relay_burst,
                  c->tokens + srv->relay_rate * (double)(now - c->refilled_us) / G_USEC_PER_SEC);
  c->refilled_us = now;
  double cost = (double)bytes + RELAY_OVERHEAD;
  if (c->tokens < MIN(cost, srv->relay_burst))
    return FALSE;
  c->tokens -= cost;
  return TRUE;
}

/* A relay over the budget: dropped, the sender told (not counted as an
 * invalid message), one log line per run of drops. */
static void relay_throttled(client *c, const char *type, const char *to) {
  server *srv = c->srv;
  c->dropped++;
  srv->refused.rate++;
  char *text = g_strdup_printf("over the relay budget of %.0f bytes/s (burst %.0f): this %s to %s "
                               "was dropped",
                               srv->relay_rate, srv->relay_burst, type, to);
  if (!c->throttled) {
    JsonObject *log = ev_new("error");
    json_object_set_string_member(log, "code", "rate-limited");
    json_object_set_string_member(log, "message", text);
    ev_client(log, c);
    json_object_set_int_member(log, "dropped", (gint64)c->dropped);
    log_obj(log);
  }
  c->throttled = TRUE;
  JsonObject *o = json_object_new();
  json_object_set_string_member(o, "type", "error");
  json_object_set_string_member(o, "code", "rate-limited");
  json_object_set_string_member(o, "message", text);
  send_obj(c, o);
  json_object_unref(o);
  g_free(text);
}

static void handle_relay(client *c, const char *type, JsonObject *msg, gsize bytes) {
  if (!c->room) {
    send_error(c, "not-joined", "join a room first");
    return;
  }
  const char *to = sig_msg_string(msg, "to");
  if (!sig_valid_id(to)) {
    send_error(c, "bad-message", "a relayed message needs \"to\": a peer id");
    return;
  }
  gboolean ok = TRUE;
  if (strcmp(type, "offer") == 0 || strcmp(type, "answer") == 0)
    ok = sig_msg_string(msg, "sdp") != NULL;
  else if (strcmp(type, "candidate") == 0)
    ok = json_object_has_member(msg, "candidate") && optional_of(msg, "candidate", G_TYPE_STRING) &&
         optional_of(msg, "sdpMid", G_TYPE_STRING) &&
         optional_of(msg, "sdpMLineIndex", G_TYPE_INT64);
  if (!ok) {
    send_error(c, "bad-message",
               strcmp(type, "candidate") == 0
                   ? "candidate needs \"candidate\" (string or null), optional sdpMid/sdpMLineIndex"
                   : "offer and answer need a string \"sdp\"");
    return;
  }
  client *target = g_hash_table_lookup(c->room->members, to);
  if (!target) {
    send_error(c, "unknown-peer", "no such peer in this room");
    return;
  }
  if (!relay_allowed(c, bytes)) {
    relay_throttled(c, type, to);
    return;
  }
  c->throttled = FALSE;
  JsonObject *log = ev_new("relay");
  json_object_set_string_member(log, "room", c->room->id);
  json_object_set_string_member(log, "type", type);
  json_object_set_string_member(log, "from", c->peer);
  json_object_set_string_member(log, "to", to);
  json_object_set_int_member(log, "bytes", (gint64)bytes);
  log_obj(log);
  /* The message as received, plus who sent it: the server adds nothing else
   * and keeps members it does not know (forward compatible). */
  json_object_set_string_member(msg, "from", c->peer);
  send_obj(target, msg);
}

typedef enum { JSON_SCAN_OK, JSON_SCAN_TOO_DEEP, JSON_SCAN_BAD } json_scan;

/* @p[0..3] are hex digits (within @n bytes): their value in @out. */
static gboolean hex4(const char *p, gsize n, guint *out) {
  if (n < 4)
    return FALSE;
  *out = 0;
  for (int k = 0; k < 4; k++) {
    if (!g_ascii_isxdigit(p[k]))
      return FALSE;
    *out = *out << 4 | (guint)g_ascii_xdigit_value(p[k]);
  }
  return TRUE;
}

/* One linear pass over @t before json-glib parses it: the nesting of arrays
 * and objects (brackets inside strings do not count) must stay within
 * @max_depth. The pass follows strings exactly as json-glib 1.6's scanner
 * does, and to be sure of that it refuses what the two could read
 * differently: outside strings only JSON's own characters (no comments,
 * no single-quoted strings, a '.' only before a digit); inside them only
 * JSON's escapes, "\u" with 4 hex digits, surrogates only as pairs; no NUL
 * anywhere. None of that is valid JSON anyway. @at: where it stopped. */
static json_scan json_precheck(const char *t, gsize len, guint max_depth, gsize *at) {
  guint depth = 0;
  for (gsize i = 0; i < len; i++) {
    *at = i;
    char ch = t[i];
    if (ch == '"') {
      for (i++; i < len && t[i] != '"'; i++) {
        *at = i;
        if (t[i] == '\0')
          return JSON_SCAN_BAD;
        if (t[i] != '\\')
          continue;
        if (++i >= len)
          return JSON_SCAN_BAD;
        char e = t[i];
        guint u, lo;
        if (e != 'u') {
          if (e == '\0' || !strchr("\"\\/bfnrt", e))
            return JSON_SCAN_BAD;
          continue;
        }
        if (!hex4(t + i + 1, len - i - 1, &u) || (u >= 0xdc00 && u <= 0xdfff))
          return JSON_SCAN_BAD;
        i += 4;
        if (u >= 0xd800 && u <= 0xdbff) {
          /* json-glib reads the next 6 bytes as the pair's other half. */
          if (i + 2 >= len || t[i + 1] != '\\' || t[i + 2] != 'u' ||
              !hex4(t + i + 3, len - i - 3, &lo) || lo < 0xdc00 || lo > 0xdfff)
            return JSON_SCAN_BAD;
          i += 6;
        }
      }
      if (i >= len)
        return JSON_SCAN_BAD; /* unterminated */
    } else if (ch == '[' || ch == '{') {
      if (++depth > max_depth)
        return JSON_SCAN_TOO_DEEP;
    } else if (ch == ']' || ch == '}') {
      if (depth > 0)
        depth--;
    } else if (ch == '.') {
      /* json-glib's scanner takes the byte after a '.' unseen. */
      if (i + 1 >= len || !g_ascii_isdigit(t[i + 1]))
        return JSON_SCAN_BAD;
    } else if (!g_ascii_isdigit(ch) && (ch == '\0' || !strchr(" \t\r\n:,-+truefalsnE", ch))) {
      return JSON_SCAN_BAD;
    }
  }
  return JSON_SCAN_OK;
}

static void handle_text(client *c, const char *text, gsize len) {
  gsize at = 0;
  json_scan scan = json_precheck(text, len, c->srv->max_depth, &at);
  if (scan != JSON_SCAN_OK) {
    char *why = scan == JSON_SCAN_TOO_DEEP
                    ? g_strdup_printf("JSON nested deeper than %u levels", c->srv->max_depth)
                    : g_strdup_printf("not JSON text (byte %" G_GSIZE_FORMAT ")", at);
    if (scan == JSON_SCAN_TOO_DEEP)
      c->srv->refused.depth++;
    send_error(c, "bad-json", why);
    g_free(why);
    return;
  }
  JsonParser *parser = json_parser_new();
  GError *error = NULL;
  JsonNode *root = NULL;
  if (json_parser_load_from_data(parser, text, (gssize)len, &error))
    root = json_parser_get_root(parser);
  if (!root || !JSON_NODE_HOLDS_OBJECT(root)) {
    send_error(c, "bad-json", error ? error->message : "not a JSON object");
    g_clear_error(&error);
    g_object_unref(parser);
    return;
  }
  JsonObject *msg = json_node_get_object(root);
  const char *type = sig_msg_string(msg, "type");
  if (!type)
    send_error(c, "bad-message", "a message needs a string \"type\"");
  else if (strcmp(type, "join") == 0)
    handle_join(c, msg);
  else if (strcmp(type, "leave") == 0) {
    if (c->room)
      leave_room(c, "leave");
    else
      send_error(c, "not-joined", "not in a room");
  } else if (strcmp(type, "offer") == 0 || strcmp(type, "answer") == 0 ||
             strcmp(type, "candidate") == 0 || strcmp(type, "bye") == 0)
    handle_relay(c, type, msg, len);
  else if (strcmp(type, "ping") == 0)
    send_text(c, "{\"type\":\"pong\"}");
  else
    send_error(c, "bad-message", "unknown message type");
  g_object_unref(parser);
}

/* ---- WebSocket connections ---------------------------------------------------------- */

static void drop_client(client *c, gushort code, const char *why) {
  if (c->dropping)
    return;
  c->dropping = TRUE;
  JsonObject *log = ev_new("error");
  json_object_set_string_member(log, "code",
                                code == SOUP_WEBSOCKET_CLOSE_TOO_BIG ? "too-big" : "disconnect");
  json_object_set_string_member(log, "message", why);
  ev_client(log, c);
  log_obj(log);
  leave_room(c, "disconnect");
  if (soup_websocket_connection_get_state(c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close(c->ws, code, why);
  /* Do not wait for the peer's close frame (5 s in libsoup) nor for a queue
   * the peer does not read: end the TCP connection now. libsoup sees the
   * socket fail and emits "closed", where the client is freed. */
  if (c->conn && code == SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION && backlog(c) > 0)
    g_socket_shutdown(g_socket_connection_get_socket(c->conn), TRUE, TRUE, NULL);
}

static void on_message(SoupWebsocketConnection *ws, gint type, GBytes *message, gpointer data) {
  (void)ws;
  client *c = data;
  if (c->dropping)
    return;
  gsize len;
  const char *text = g_bytes_get_data(message, &len);
  if (len > c->srv->max_message) {
    /* Not expected: the guard (fragments) and libsoup (single frames) stop
     * oversized messages before they are complete. Kept as a last line. */
    send_error(c, "too-big", "message over the server's limit");
    drop_client(c, SOUP_WEBSOCKET_CLOSE_TOO_BIG, "message too big");
    return;
  }
  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    send_error(c, "bad-json", "binary frames are not JSON text");
    return;
  }
  handle_text(c, text, len);
}

static void on_error(SoupWebsocketConnection *ws, GError *error, gpointer data) {
  (void)ws;
  client *c = data;
  /* A message over the limit: our guard failed the read (fragments), or
   * libsoup refused a frame over max-incoming-payload-size. Either way
   * libsoup is about to drop the connection without a close frame: say why
   * first, while the connection is still open. */
  gboolean too_big = g_error_matches(error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG) ||
                     (c->guard && ws_guard_tripped(c->guard));
  if (too_big && !c->dropping) {
    send_error(c, "too-big", "message over the server's limit");
    drop_client(c, SOUP_WEBSOCKET_CLOSE_TOO_BIG, "message too big");
  } else if (c->srv->verbose) {
    g_printerr("signaling-server: %s: %s\n", c->remote, error->message);
  }
}

static void client_free(client *c) {
  g_signal_handlers_disconnect_by_data(c->ws, c);
  g_object_unref(c->ws);
  g_clear_object(&c->conn);
  g_clear_object(&c->guard);
  if (c->ip)
    ip_release(c->srv, c->ip);
  g_free(c->remote);
  g_free(c->peer);
  g_free(c->name);
  g_free(c);
}

static void on_closed(SoupWebsocketConnection *ws, gpointer data) {
  client *c = data;
  leave_room(c, "disconnect");
  if (c->srv->verbose) {
    JsonObject *log = ev_new("closed");
    json_object_set_string_member(log, "remote", c->remote);
    json_object_set_int_member(log, "code", soup_websocket_connection_get_close_code(ws));
    log_obj(log);
  }
  server *srv = c->srv;
  g_hash_table_remove(srv->clients, c);
  if (srv->stopping && g_hash_table_size(srv->clients) == 0)
    g_main_loop_quit(srv->loop);
}

static void on_websocket(SoupServer *soup, SoupServerMessage *msg, const char *path,
                         SoupWebsocketConnection *ws, gpointer data) {
  (void)soup;
  (void)path;
  server *srv = data;
  client *c = g_new0(client, 1);
  c->srv = srv;
  c->ws = g_object_ref(ws);
  c->remote = address_string(soup_server_message_get_remote_address(msg));
  pending *p = g_hash_table_lookup(srv->conns, c->remote);
  if (p) {
    c->guard = g_object_ref(p->guard);
    c->ip = g_steal_pointer(&p->ip); /* still one connection from there */
    g_hash_table_remove(srv->conns, c->remote);
    ws_guard_arm(c->guard);
    c->conn = g_object_ref(ws_guard_get_base(c->guard));
    if (!socket_written(c->conn, &c->written_base))
      g_clear_object(&c->conn);
  }
  c->tokens = srv->relay_burst;
  c->refilled_us = g_get_monotonic_time();
  g_hash_table_add(srv->clients, c);
  soup_websocket_connection_set_max_incoming_payload_size(ws, srv->max_message);
  g_signal_connect(ws, "message", G_CALLBACK(on_message), c);
  g_signal_connect(ws, "error", G_CALLBACK(on_error), c);
  g_signal_connect(ws, "closed", G_CALLBACK(on_closed), c);
  if (srv->stopping)
    soup_websocket_connection_close(ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "server stopping");
}

/* ---- HTTP: health and files ---------------------------------------------------------- */

static const char *content_type(const char *path) {
  static const char *const map[][2] = {{".html", "text/html; charset=utf-8"},
                                       {".js", "text/javascript; charset=utf-8"},
                                       {".css", "text/css; charset=utf-8"},
                                       {".png", "image/png"}};
  for (guint i = 0; i < G_N_ELEMENTS(map); i++)
    if (g_str_has_suffix(path, map[i][0]))
      return map[i][1];
  return NULL;
}

/* "/a/b.js" -> TRUE if every segment is [A-Za-z0-9_.-]+ not starting with a
 * dot (no "..", no hidden files). */
static gboolean path_ok(const char *path) {
  if (path[0] != '/' || strlen(path) > 256)
    return FALSE;
  gboolean seg_start = TRUE;
  for (const char *p = path + 1; *p; p++) {
    if (*p == '/') {
      if (seg_start)
        return FALSE;
      seg_start = TRUE;
      continue;
    }
    if (seg_start && *p == '.')
      return FALSE;
    if (!g_ascii_isalnum(*p) && *p != '_' && *p != '.' && *p != '-')
      return FALSE;
    seg_start = FALSE;
  }
  return !seg_start;
}

static void set_text(SoupServerMessage *msg, guint status, const char *text) {
  soup_server_message_set_status(msg, status, NULL);
  char *body = g_strconcat(text, "\n", NULL);
  soup_server_message_set_response(msg, "text/plain; charset=utf-8", SOUP_MEMORY_TAKE, body,
                                   strlen(body));
}

static void on_http(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                    gpointer data) {
  (void)soup;
  (void)query;
  server *srv = data;
  const char *method = soup_server_message_get_method(msg);
  /* Connections handed over with soup_server_accept_iostream() are not kept
   * alive by libsoup 3.2 (see examples/signaling/http_server.c). */
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection",
                               "close");
  if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
                                 "GET, HEAD");
    set_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method not allowed");
    return;
  }
  if (strcmp(path, "/health") == 0) {
    set_text(msg, SOUP_STATUS_OK, "ok");
    return;
  }
  if (strcmp(path, "/ws") == 0) {
    set_text(msg, SOUP_STATUS_BAD_REQUEST, "/ws is a WebSocket endpoint");
    return;
  }
  const char *file = strcmp(path, "/") == 0 ? "/index.html" : path;
  const char *type = content_type(file);
  if (!path_ok(file) || !type) {
    set_text(msg, SOUP_STATUS_NOT_FOUND, "not found");
    return;
  }
  char *full = g_build_filename(srv->web_root, file + 1, NULL);
  char *body = NULL;
  gsize len = 0;
  if (!g_file_test(full, G_FILE_TEST_IS_REGULAR) || !g_file_get_contents(full, &body, &len, NULL) ||
      len > MAX_FILE) {
    g_free(body);
    set_text(msg, SOUP_STATUS_NOT_FOUND, "not found");
  } else {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control",
                                 "no-cache");
    soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
    soup_server_message_set_response(msg, type, SOUP_MEMORY_TAKE, body, len);
  }
  g_free(full);
}

/* Every request, once its header is read. Refuses one that announces a body
 * (413): libsoup reads the body before it answers, or before it hands the
 * connection over as a WebSocket, and the frame guard would take that body
 * for frames. Then refuses an upgrade once --max-clients WebSockets are open
 * (503 instead of a WebSocket). */
static void on_early(SoupServer *soup, SoupServerMessage *msg, const char *path, GHashTable *query,
                     gpointer data) {
  (void)soup;
  (void)query;
  server *srv = data;
  SoupMessageHeaders *req = soup_server_message_get_request_headers(msg);
  SoupEncoding enc = soup_message_headers_get_encoding(req);
  if (enc != SOUP_ENCODING_NONE &&
      !(enc == SOUP_ENCODING_CONTENT_LENGTH && soup_message_headers_get_content_length(req) == 0)) {
    /* libsoup still reads it (up to --handshake-timeout): drop it as it
     * comes instead of buffering it. */
    soup_message_body_set_accumulate(soup_server_message_get_request_body(msg), FALSE);
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection",
                                 "close");
    set_text(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "requests with a body are not accepted");
    srv->refused.body++;
    char *remote = address_string(soup_server_message_get_remote_address(msg));
    log_refused("request-body", remote);
    g_free(remote);
    return;
  }
  if (strcmp(path, "/ws") == 0 &&
      (srv->stopping || g_hash_table_size(srv->clients) >= srv->max_clients)) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Connection",
                                 "close");
    set_text(msg, SOUP_STATUS_SERVICE_UNAVAILABLE,
             srv->stopping ? "server stopping" : "too many clients");
  }
}

static gboolean conn_is_closed(gpointer key, gpointer value, gpointer data) {
  (void)key;
  (void)data;
  return g_io_stream_is_closed(((pending *)value)->guard);
}

static void pending_free(pending *p) {
  if (p->timer)
    g_source_remove(p->timer);
  if (p->ip)
    ip_release(p->srv, p->ip);
  g_object_unref(p->guard);
  g_free(p->key);
  g_free(p);
}

/* --handshake-timeout after the accept, and still no WebSocket: shut the
 * socket down (libsoup then reads EOF or fails its write, and closes the
 * connection itself) and forget it. */
static gboolean pending_timeout(gpointer data) {
  pending *p = data;
  server *srv = p->srv;
  p->timer = 0;
  if (!g_io_stream_is_closed(p->guard)) {
    srv->refused.timeout++;
    log_refused("handshake-timeout", p->key);
    g_socket_shutdown(g_socket_connection_get_socket(ws_guard_get_base(p->guard)), TRUE, TRUE,
                      NULL);
  }
  g_hash_table_remove(srv->conns, p->key);
  return G_SOURCE_REMOVE;
}

static gboolean on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source,
                            gpointer data) {
  (void)service;
  (void)source;
  server *srv = data;
  /* libsoup closes the stream when it is done with a plain HTTP connection;
   * upgraded ones were taken out in on_websocket. */
  g_hash_table_foreach_remove(srv->conns, conn_is_closed, NULL);
  GSocketAddress *local = g_socket_connection_get_local_address(conn, NULL);
  GSocketAddress *remote = g_socket_connection_get_remote_address(conn, NULL);
  char *key = address_string(remote), *ip = address_ip(remote);
  guint from_ip = GPOINTER_TO_UINT(g_hash_table_lookup(srv->per_ip, ip));
  const char *refuse = NULL;
  if (srv->max_per_address && from_ip >= srv->max_per_address) {
    refuse = "too-many-from-address";
    srv->refused.per_address++;
  } else if (g_hash_table_size(srv->conns) >= srv->max_pending) {
    refuse = "too-many-pending";
    srv->refused.pending++;
  }
  if (refuse) {
    /* Closed before libsoup sees a byte of it. */
    log_refused(refuse, key);
    g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
    g_free(key);
    g_free(ip);
    g_clear_object(&local);
    g_clear_object(&remote);
    return TRUE;
  }
  g_hash_table_insert(srv->per_ip, g_strdup(ip), GUINT_TO_POINTER(from_ip + 1));
  pending *p = g_new0(pending, 1);
  p->srv = srv;
  p->key = key;
  p->ip = ip;
  p->guard = ws_guard_new(conn, srv->max_message);
  p->timer = g_timeout_add(srv->handshake_ms, pending_timeout, p);
  /* Small JSON messages must not wait for Nagle; and the error + close
   * frames written just before libsoup drops an oversized sender must be on
   * the wire before the close turns into a reset (unread input). */
  g_socket_set_option(g_socket_connection_get_socket(conn), IPPROTO_TCP, TCP_NODELAY, 1, NULL);
  g_hash_table_replace(srv->conns, p->key, p);
  GError *error = NULL;
  if (!local || !remote ||
      !soup_server_accept_iostream(srv->soup, p->guard, local, remote, &error)) {
    g_clear_error(&error);
    g_io_stream_close(p->guard, NULL, NULL);
    g_hash_table_remove(srv->conns, p->key);
  }
  g_clear_object(&local);
  g_clear_object(&remote);
  return TRUE;
}

/* ---- Life cycle -------------------------------------------------------------------- */

static gboolean give_up(gpointer data) {
  server *srv = data;
  srv->grace = 0;
  g_main_loop_quit(srv->loop);
  return G_SOURCE_REMOVE;
}

static void stop(server *srv, const char *why) {
  if (srv->stopping)
    return;
  srv->stopping = TRUE;
  JsonObject *log = ev_new("stopping");
  json_object_set_string_member(log, "reason", why);
  json_object_set_int_member(log, "clients", g_hash_table_size(srv->clients));
  log_obj(log);
  g_socket_service_stop(srv->service);
  GList *all = g_hash_table_get_keys(srv->clients);
  for (GList *l = all; l; l = l->next) {
    client *c = l->data;
    leave_room(c, "server stopping");
    if (soup_websocket_connection_get_state(c->ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close(c->ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, "server stopping");
  }
  g_list_free(all);
  if (g_hash_table_size(srv->clients) == 0)
    g_main_loop_quit(srv->loop);
  else /* Clients that do not answer the close get libsoup's 5 s; we wait 2. */
    srv->grace = g_timeout_add_seconds(2, give_up, srv);
}

static gboolean on_signal(gpointer data) {
  stop(data, "signal");
  return G_SOURCE_CONTINUE;
}

static gboolean on_lifetime(gpointer data) {
  stop(data, "lifetime");
  return G_SOURCE_REMOVE;
}

int main(int argc, char **argv) {
  char *host = NULL, *web_root = NULL;
  gint port = 8080, max_peers = 32, max_clients = 1024;
  gint max_depth = 32, max_pending = 256, max_per_address = 64;
  gint64 max_message = 65536, relay_rate = 65536, relay_burst = 524288;
  double lifetime = 0, handshake_timeout = 10;
  gboolean verbose = FALSE;
  GOptionEntry entries[] = {
      {"host", 0, 0, G_OPTION_ARG_STRING, &host, "address to listen on (127.0.0.1)", "IP"},
      {"port", 0, 0, G_OPTION_ARG_INT, &port, "port (8080; 0 = any free port)", "N"},
      {"web-root", 0, 0, G_OPTION_ARG_FILENAME, &web_root, "directory of the page", "DIR"},
      {"max-message", 0, 0, G_OPTION_ARG_INT64, &max_message, "largest message (65536)", "BYTES"},
      {"max-peers-per-room", 0, 0, G_OPTION_ARG_INT, &max_peers, "peers per room (32)", "N"},
      {"max-clients", 0, 0, G_OPTION_ARG_INT, &max_clients, "WebSocket clients (1024)", "N"},
      {"max-depth", 0, 0, G_OPTION_ARG_INT, &max_depth, "JSON nesting of a message (32; <= 1000)",
       "N"},
      {"max-pending", 0, 0, G_OPTION_ARG_INT, &max_pending,
       "connections not (yet) WebSockets (256)", "N"},
      {"handshake-timeout", 0, 0, G_OPTION_ARG_DOUBLE, &handshake_timeout,
       "seconds a connection may take to become a WebSocket (10)", "S"},
      {"max-per-address", 0, 0, G_OPTION_ARG_INT, &max_per_address,
       "connections per client IP address (64; 0 = no cap)", "N"},
      {"relay-rate", 0, 0, G_OPTION_ARG_INT64, &relay_rate,
       "relayed bytes/s per connection (65536; 0 = no limit)", "BYTES"},
      {"relay-burst", 0, 0, G_OPTION_ARG_INT64, &relay_burst, "relay burst (524288)", "BYTES"},
      {"lifetime", 0, 0, G_OPTION_ARG_DOUBLE, &lifetime, "stop after S seconds", "S"},
      {"verbose", 0, 0, G_OPTION_ARG_NONE, &verbose, "more logs on stderr", NULL},
      {NULL, 0, 0, 0, NULL, NULL, NULL}};
  GOptionContext *octx = g_option_context_new("- WebSocket room signaling server (doc/rooms.md)");
  g_option_context_add_main_entries(octx, entries, NULL);
  GError *error = NULL;
  if (!g_option_context_parse(octx, &argc, &argv, &error) || argc != 1 || port < 0 ||
      port > 65535 || max_message < 16 || max_message > 64 * 1024 * 1024 || max_peers < 1 ||
      max_clients < 1 || lifetime < 0 || max_depth < 1 || max_depth > MAX_DEPTH_CAP ||
      max_pending < 1 || max_per_address < 0 || !(handshake_timeout > 0) ||
      handshake_timeout > 3600 || relay_rate < 0 || relay_burst < 1) {
    g_printerr("signaling-server: %s\n", error ? error->message : "bad arguments (see --help)");
    g_clear_error(&error);
    g_option_context_free(octx);
    g_free(host);
    g_free(web_root);
    return 2;
  }
  g_option_context_free(octx);
  /* A client that vanished mid-write must not kill the server. */
  signal(SIGPIPE, SIG_IGN);

  server srv = {0};
  srv.host = host ? host : g_strdup("127.0.0.1");
  srv.web_root = web_root ? web_root : g_strdup(WEFT_WEB_ROOT);
  srv.max_message = (guint64)max_message;
  srv.max_peers = (guint)max_peers;
  srv.max_clients = (guint)max_clients;
  srv.max_depth = (guint)max_depth;
  srv.max_pending = (guint)max_pending;
  srv.max_per_address = (guint)max_per_address;
  srv.handshake_ms = (guint)(handshake_timeout * 1000);
  srv.relay_rate = (double)relay_rate;
  srv.relay_burst = (double)relay_burst;
  srv.verbose = verbose;
  srv.rooms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)room_free);
  srv.clients =
      g_hash_table_new_full(g_direct_hash, g_direct_equal, (GDestroyNotify)client_free, NULL);
  srv.conns = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)pending_free);
  srv.per_ip = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
  srv.loop = g_main_loop_new(NULL, FALSE);
  srv.soup = soup_server_new("server-header", "weft-signaling-server ", NULL);
  /* No permessage-deflate: see the top of the file. */
  soup_server_remove_websocket_extension(srv.soup, SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);
  soup_server_add_early_handler(srv.soup, "/ws", on_early, &srv, NULL);
  soup_server_add_early_handler(srv.soup, NULL, on_early, &srv, NULL);
  soup_server_add_websocket_handler(srv.soup, "/ws", NULL, NULL, on_websocket, &srv, NULL);
  soup_server_add_handler(srv.soup, NULL, on_http, &srv, NULL);

  int rc = 0;
  GInetAddress *addr = g_inet_address_new_from_string(srv.host);
  if (!addr && g_ascii_strcasecmp(srv.host, "localhost") == 0)
    addr = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress *bound = NULL;
  srv.service = g_socket_service_new();
  if (!addr) {
    g_printerr("signaling-server: %s: want a numeric IP address\n", srv.host);
    rc = 1;
  } else {
    GSocketAddress *sa = g_inet_socket_address_new(addr, (guint16)port);
    if (!g_socket_listener_add_address(G_SOCKET_LISTENER(srv.service), sa, G_SOCKET_TYPE_STREAM,
                                       G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error)) {
      g_printerr("signaling-server: cannot listen on %s:%d: %s\n", srv.host, port, error->message);
      g_clear_error(&error);
      rc = 1;
    }
    g_object_unref(sa);
    g_object_unref(addr);
  }
  if (rc == 0) {
    srv.port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
    g_object_unref(bound);
    g_signal_connect(srv.service, "incoming", G_CALLBACK(on_incoming), &srv);
    g_socket_service_start(srv.service);
    JsonObject *log = ev_new("listening");
    json_object_set_string_member(log, "host", srv.host);
    json_object_set_int_member(log, "port", srv.port);
    log_obj(log);
    if (verbose)
      g_printerr("signaling-server: web root %s\n", srv.web_root);
    guint sigint = g_unix_signal_add(SIGINT, on_signal, &srv);
    guint sigterm = g_unix_signal_add(SIGTERM, on_signal, &srv);
    guint life = lifetime > 0 ? g_timeout_add((guint)(lifetime * 1000), on_lifetime, &srv) : 0;
    g_main_loop_run(srv.loop);
    g_source_remove(sigint);
    g_source_remove(sigterm);
    if (life && !srv.stopping)
      g_source_remove(life);
    if (srv.grace)
      g_source_remove(srv.grace);
  }
  /* Whatever is still open (clients that did not finish their close within
   * the grace period) goes now. */
  g_socket_listener_close(G_SOCKET_LISTENER(srv.service));
  g_object_unref(srv.service);
  g_hash_table_remove_all(srv.clients);
  soup_server_disconnect(srv.soup);
  g_object_unref(srv.soup);
  g_hash_table_unref(srv.clients);
  g_hash_table_unref(srv.rooms);
  g_hash_table_unref(srv.conns);
  g_hash_table_unref(srv.per_ip);
  g_main_loop_unref(srv.loop);
  if (rc == 0) {
    JsonObject *log = ev_new("stopped");
    JsonObject *refused = json_object_new();
    json_object_set_int_member(refused, "too-many-from-address", (gint64)srv.refused.per_address);
    json_object_set_int_member(refused, "too-many-pending", (gint64)srv.refused.pending);
    json_object_set_int_member(refused, "handshake-timeout", (gint64)srv.refused.timeout);
    json_object_set_int_member(refused, "request-body", (gint64)srv.refused.body);
    json_object_set_int_member(refused, "too-deep", (gint64)srv.refused.depth);
    json_object_set_int_member(refused, "rate-limited", (gint64)srv.refused.rate);
    json_object_set_object_member(log, "refused", refused);
    log_obj(log);
  }
  g_free(srv.host);
  g_free(srv.web_root);
  return rc;
}
