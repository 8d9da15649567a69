/*
 * examples/signaling — the HTTP offer/answer server (WHIP shape), on
 * SoupServer.
 *
 * A POST /offer is paused (soup_server_message_pause) until the application
 * sends its answer or error on the session, the client hangs up (the
 * application gets "error"), or 10 s pass (504). Everything
 * runs on the GMainContext that was thread-default when the server was
 * created; SoupServer dispatches its handlers there too.
 */
#include "sig_private.h"

#include <errno.h>
#include <gio/gio.h>
#include <libsoup/soup.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_BODY (256 * 1024)
#define ANSWER_TIMEOUT_S 10
#define SESSION_PREFIX "/session/"

struct sig_http_server {
  SoupServer *soup;
  GSocketService *service; /* the listening socket */
  GMainContext *context;
  guint max_sessions;
  sig_http_session_fn on_session;
  void *user_data;
  GHashTable *sessions; /* id (owned by the session) -> server_session * (a reference) */
  /* "host:port" of the client -> its GSocketConnection (a reference), for
   * every connection accepted and not yet seen closed: SoupServerMessage
   * does not expose the socket of a connection given to
   * soup_server_accept_iostream(), and a paused POST needs it (post_gone). */
  GHashTable *conns;
  guint next_id;
  guint16 port;
};

typedef struct server_session {
  sig_session base;
  sig_http_server *srv;    /* NULL once the server forgot the session */
  char *id;                /* "<n>-<random>": unguessable, so only the client can PATCH/DELETE */
  SoupServerMessage *post; /* the paused, unanswered POST (a reference), or NULL */
  gulong finished_handler;
  GSource *timeout; /* the answer deadline */
  GSource *hangup;  /* watches the POST's connection while it waits, or NULL */
} server_session;

/* ---- Replies --------------------------------------------------------------- */

static void set_text(SoupServerMessage *msg, guint status, const char *text) {
  soup_server_message_set_status(msg, status, NULL);
  if (text) {
    char *body = g_strconcat(text, "\n", NULL);
    soup_server_message_set_response(msg, "text/plain; charset=utf-8", SOUP_MEMORY_TAKE, body,
                                     strlen(body));
  }
}

static void set_not_allowed(SoupServerMessage *msg, const char *allow) {
  soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow", allow);
  char *text = g_strdup_printf("method %s not allowed here (allowed: %s)",
                               soup_server_message_get_method(msg), allow);
  set_text(msg, SOUP_STATUS_METHOD_NOT_ALLOWED, text);
  g_free(text);
}

/* True if the request's media type (parameters aside) is @want. */
static gboolean content_type_is(SoupServerMessage *msg, const char *want) {
  const char *type =
      soup_message_headers_get_content_type(soup_server_message_get_request_headers(msg), NULL);
  return type && g_ascii_strcasecmp(type, want) == 0;
}

/* The request body as it arrives, kept only up to MAX_BODY: SoupServer
 * would otherwise hold a body of any size in memory before our handler runs.
 * The rest is read and discarded, so the client still gets its 413 (closing
 * on unread data would reset the connection under it). */
typedef struct body_acc {
  GByteArray *data;
  gboolean too_big;
} body_acc;

#define BODY_KEY "sig-body"

static void body_acc_free(gpointer p) {
  body_acc *acc = p;
  g_byte_array_unref(acc->data);
  g_free(acc);
}

static void on_got_chunk(SoupServerMessage *msg, GBytes *chunk, gpointer data) {
  body_acc *acc = data;
  gsize n = 0;
  const guint8 *bytes = g_bytes_get_data(chunk, &n);
  if (acc->too_big)
    return;
  if (acc->data->len + n > MAX_BODY) {
    acc->too_big = TRUE;
    g_byte_array_set_size(acc->data, 0);
    return;
  }
  g_byte_array_append(acc->data, bytes, (guint)n);
}

static void early_handle(SoupServer *server, SoupServerMessage *msg, const char *path,
                         GHashTable *query, gpointer data) {
  body_acc *acc = g_new0(body_acc, 1);
  acc->data = g_byte_array_new();
  g_object_set_data_full(G_OBJECT(msg), BODY_KEY, acc, body_acc_free);
  soup_message_body_set_accumulate(soup_server_message_get_request_body(msg), FALSE);
  g_signal_connect(msg, "got-chunk", G_CALLBACK(on_got_chunk), acc);
}

/* The request body, or NULL after replying 413. */
static GBytes *request_body(SoupServerMessage *msg) {
  body_acc *acc = g_object_get_data(G_OBJECT(msg), BODY_KEY);
  if (!acc)
    return soup_message_body_flatten(soup_server_message_get_request_body(msg));
  if (acc->too_big) {
    set_text(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "body larger than 256 KiB");
    return NULL;
  }
  return g_bytes_new(acc->data->data, acc->data->len);
}

/* ---- Session lifetime -------------------------------------------------------- */

static void clear_timeout(server_session *ss) {
  if (ss->timeout) {
    g_source_destroy(ss->timeout);
    g_source_unref(ss->timeout);
    ss->timeout = NULL;
  }
}

static void clear_hangup(server_session *ss) {
  if (ss->hangup) {
    g_source_destroy(ss->hangup);
    g_source_unref(ss->hangup);
    ss->hangup = NULL;
  }
}

/* Takes the paused POST out of the session (the caller answers it). */
static SoupServerMessage *take_post(server_session *ss) {
  SoupServerMessage *msg = ss->post;
  if (!msg)
    return NULL;
  g_signal_handler_disconnect(msg, ss->finished_handler);
  ss->post = NULL;
  clear_timeout(ss);
  clear_hangup(ss);
  return msg;
}

static void answer_post_text(server_session *ss, guint status, const char *text) {
  SoupServerMessage *msg = take_post(ss);
  if (!msg)
    return;
  set_text(msg, status, text);
  soup_server_message_unpause(msg);
  g_object_unref(msg);
}

/* The server stops knowing the session: a later PATCH/DELETE gets 404 and it
 * no longer counts against max_sessions. An unanswered POST gets @status.
 * The caller must hold a reference (the table's may be the last). */
static void forget(server_session *ss, guint status, const char *why) {
  answer_post_text(ss, status, why);
  clear_timeout(ss);
  if (ss->srv) {
    sig_http_server *srv = ss->srv;
    ss->srv = NULL;
    g_hash_table_remove(srv->sessions, ss->id);
  }
}

static gboolean on_answer_timeout(gpointer data) {
  server_session *ss = data;
  sig_session_ref(&ss->base);
  forget(ss, SOUP_STATUS_GATEWAY_TIMEOUT, "the application did not answer within 10 s");
  sig_session_deliver_error(&ss->base, SOUP_STATUS_GATEWAY_TIMEOUT,
                            "no answer within %d s: the POST got 504", ANSWER_TIMEOUT_S);
  sig_session_unref(&ss->base);
  return G_SOURCE_REMOVE;
}

/* The client of the unanswered POST is gone: the application hears of it
 * now rather than answering into a dead connection (and keeping a session
 * nobody will ever use or DELETE). */
static void post_gone(server_session *ss, gboolean finished) {
  sig_session_ref(&ss->base);
  if (finished) {
    /* libsoup is done with it: nothing to answer. */
    g_object_unref(take_post(ss));
  }
  /* Otherwise the reply only makes libsoup notice the dead connection and
   * drop it. */
  forget(ss, SOUP_STATUS_BAD_REQUEST, "the client closed the connection before the answer");
  sig_session_deliver_error(&ss->base, 0, "the HTTP client went away before the answer");
  sig_session_unref(&ss->base);
}

/* libsoup does not read from a connection whose message is paused, so it
 * would only notice a client that hung up when the answer is written. */
static gboolean on_post_socket(GSocket *sock, GIOCondition cond, gpointer data) {
  server_session *ss = data;
  if (!(cond & (G_IO_HUP | G_IO_ERR))) {
    char byte;
    ssize_t n = recv(g_socket_get_fd(sock), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
      return G_SOURCE_CONTINUE;
    if (n > 0) {
      /* A pipelined request, not a hangup: leave it to libsoup. */
      g_source_unref(ss->hangup);
      ss->hangup = NULL;
      return G_SOURCE_REMOVE;
    }
  }
  /* EOF, reset or error. */
  post_gone(ss, FALSE);
  return G_SOURCE_REMOVE;
}

/* The POST finished before we answered it: its connection is gone. */
static void on_post_finished(SoupServerMessage *msg, gpointer data) {
  server_session *ss = data;
  if (ss->post == msg)
    post_gone(ss, TRUE);
}

/* ---- sig_session_class ------------------------------------------------------ */

static gboolean server_send(sig_session *s, JsonObject *msg, GError **error) {
  server_session *ss = (server_session *)s;
  const char *type = sig_msg_type(msg);
  if (strcmp(type, "answer") == 0 && ss->post) {
    const char *sdp = sig_msg_string(msg, "sdp");
    if (!sdp || !*sdp) {
      g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                          "an answer needs a non-empty \"sdp\" string");
      return FALSE;
    }
    SoupServerMessage *post = take_post(ss);
    char *location = g_strconcat(SESSION_PREFIX, ss->id, NULL);
    soup_message_headers_replace(soup_server_message_get_response_headers(post), "Location",
                                 location);
    g_free(location);
    soup_server_message_set_status(post, SOUP_STATUS_CREATED, NULL);
    soup_server_message_set_response(post, "application/sdp", SOUP_MEMORY_COPY, sdp, strlen(sdp));
    soup_server_message_unpause(post);
    g_object_unref(post);
    return TRUE;
  }
  if (strcmp(type, "error") == 0 && ss->post) {
    const char *text = sig_msg_string(msg, "message");
    gint64 status = 0;
    /* Extension: "status" lets the application say whose fault it was (400
     * for an offer it could not parse); anything else is a 500. */
    if (!sig_msg_int(msg, "status", &status) || status < 400 || status > 599)
      status = SOUP_STATUS_INTERNAL_SERVER_ERROR;
    sig_session_ref(s);
    forget(ss, (guint)status, text && *text ? text : "the application failed");
    sig_session_unref(s);
    return TRUE;
  }
  g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "the HTTP server cannot send \"%s\" %s",
              type, ss->post ? "before its answer" : "after its answer (or without a POST)");
  return FALSE;
}

static void server_close(sig_session *s) {
  forget((server_session *)s, SOUP_STATUS_INTERNAL_SERVER_ERROR,
         "the application closed the session");
}

static void server_finalize(sig_session *s) {
  server_session *ss = (server_session *)s;
  /* The server's table holds a reference while it knows us. */
  g_assert(ss->srv == NULL && ss->post == NULL && ss->timeout == NULL && ss->hangup == NULL);
  g_free(ss->id);
}

static const sig_session_class server_class = {server_send, server_close, server_finalize};

/* ---- Request handlers ------------------------------------------------------- */

/* "host:port" ("[v6]:port"), "" for anything but an IP address. */
static char *address_string(GSocketAddress *sa) {
  if (!G_IS_INET_SOCKET_ADDRESS(sa))
    return g_strdup("");
  GInetSocketAddress *isa = G_INET_SOCKET_ADDRESS(sa);
  char *host = g_inet_address_to_string(g_inet_socket_address_get_address(isa));
  guint16 port = g_inet_socket_address_get_port(isa);
  char *s = strchr(host, ':') ? g_strdup_printf("[%s]:%u", host, port)
                              : g_strdup_printf("%s:%u", host, port);
  g_free(host);
  return s;
}

static gboolean conn_is_closed(gpointer key, gpointer value, gpointer data) {
  return g_io_stream_is_closed(value);
}

static void handle_offer(sig_http_server *srv, SoupServerMessage *msg) {
  GBytes *body = request_body(msg);
  if (!body)
    return;
  if (!content_type_is(msg, "application/sdp")) {
    set_text(msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
             "POST /offer wants Content-Type: application/sdp");
    g_bytes_unref(body);
    return;
  }
  gsize len = 0;
  const char *data = g_bytes_get_data(body, &len);
  char *reason = NULL;
  if (!sig_sdp_check(data ? data : "", len, &reason)) {
    set_text(msg, SOUP_STATUS_BAD_REQUEST, reason);
    g_free(reason);
    g_bytes_unref(body);
    return;
  }
  if (g_hash_table_size(srv->sessions) >= srv->max_sessions) {
    soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Retry-After", "1");
    set_text(msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "too many sessions");
    g_bytes_unref(body);
    return;
  }

  server_session *ss = g_new0(server_session, 1);
  sig_session_init(&ss->base, &server_class);
  ss->srv = srv;
  ss->id = g_strdup_printf("%u-%08x%08x", ++srv->next_id, g_random_int(), g_random_int());
  char *remote = address_string(soup_server_message_get_remote_address(msg));
  sig_session_set_remote(&ss->base, remote);
  char *desc = g_strdup_printf("http %s session %s", remote, ss->id);
  sig_session_set_description(&ss->base, desc);
  g_free(desc);

  ss->post = g_object_ref(msg);
  soup_server_message_pause(msg);
  ss->finished_handler = g_signal_connect(msg, "finished", G_CALLBACK(on_post_finished), ss);
  ss->timeout = g_timeout_source_new(ANSWER_TIMEOUT_S * 1000);
  g_source_set_callback(ss->timeout, on_answer_timeout, ss, NULL);
  g_source_attach(ss->timeout, srv->context);
  GSocketConnection *conn = g_hash_table_lookup(srv->conns, remote);
  GSocket *sock = conn ? g_socket_connection_get_socket(conn) : NULL;
  if (sock) {
    ss->hangup = g_socket_create_source(sock, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
    g_source_set_callback(ss->hangup, G_SOURCE_FUNC(on_post_socket), ss, NULL);
    g_source_attach(ss->hangup, srv->context);
  }
  g_free(remote);
  g_hash_table_insert(srv->sessions, ss->id, ss); /* takes the initial reference */

  JsonObject *offer = json_object_new();
  json_object_set_string_member(offer, "type", "offer");
  char *sdp = g_strndup(data, len);
  json_object_set_string_member(offer, "sdp", sdp);
  g_free(sdp);
  g_bytes_unref(body);
  /* Queued before the callback, delivered after it: the callback sets the
   * handler, the offer arrives from an idle. */
  sig_session_deliver(&ss->base, offer);

  sig_session_ref(&ss->base);
  srv->on_session(srv, &ss->base, srv->user_data);
  sig_session_unref(&ss->base);
}

/* A 204 has no body by definition; unless told, libsoup delimits the
 * response by closing the connection, which breaks clients that reuse it. */
static void set_no_content(SoupServerMessage *msg) {
  soup_server_message_set_status(msg, SOUP_STATUS_NO_CONTENT, NULL);
  soup_message_headers_set_encoding(soup_server_message_get_response_headers(msg),
                                    SOUP_ENCODING_NONE);
}

static void handle_patch(sig_http_server *srv, SoupServerMessage *msg, server_session *ss) {
  GBytes *body = request_body(msg);
  if (!body)
    return;
  if (!content_type_is(msg, "application/trickle-ice-sdpfrag")) {
    set_text(msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE,
             "PATCH wants Content-Type: application/trickle-ice-sdpfrag");
    g_bytes_unref(body);
    return;
  }
  gsize len = 0;
  const char *data = g_bytes_get_data(body, &len);
  GPtrArray *msgs = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
  char *reason = NULL;
  if (!sig_sdpfrag_parse(data ? data : "", len, msgs, &reason)) {
    set_text(msg, SOUP_STATUS_BAD_REQUEST, reason);
    g_free(reason);
  } else {
    for (guint i = 0; i < msgs->len; i++)
      sig_session_deliver(&ss->base, json_object_ref(g_ptr_array_index(msgs, i)));
    set_no_content(msg);
  }
  g_ptr_array_unref(msgs);
  g_bytes_unref(body);
}

static void handle_delete(SoupServerMessage *msg, server_session *ss) {
  JsonObject *bye = json_object_new();
  json_object_set_string_member(bye, "type", "bye");
  sig_session_deliver(&ss->base, bye);
  sig_session_ref(&ss->base);
  forget(ss, SOUP_STATUS_INTERNAL_SERVER_ERROR, "the session was deleted");
  sig_session_unref(&ss->base);
  set_text(msg, SOUP_STATUS_OK, "deleted");
}

static void handle(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                   gpointer data) {
  sig_http_server *srv = data;
  const char *method = soup_server_message_get_method(msg);
  SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);

  /* Browsers' fetch() from any page may use the endpoint (and read the
   * Location it needs for PATCH/DELETE). */
  soup_message_headers_replace(h, "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace(h, "Access-Control-Expose-Headers", "Location");
  /* Connections accepted through soup_server_accept_iostream() are not kept
   * alive by libsoup 3.2: say so, or a client reusing one races its close. */
  soup_message_headers_replace(h, "Connection", "close");

  if (strcmp(method, "OPTIONS") == 0) {
    soup_message_headers_replace(h, "Access-Control-Allow-Methods",
                                 "GET, POST, PATCH, DELETE, OPTIONS");
    const char *asked = soup_message_headers_get_one(soup_server_message_get_request_headers(msg),
                                                     "Access-Control-Request-Headers");
    soup_message_headers_replace(h, "Access-Control-Allow-Headers",
                                 asked && *asked ? asked : "Content-Type");
    soup_message_headers_replace(h, "Access-Control-Max-Age", "600");
    set_no_content(msg);
    return;
  }
  if (strcmp(path, "/health") == 0) {
    if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
      set_text(msg, SOUP_STATUS_OK, "ok");
    else
      set_not_allowed(msg, "GET, HEAD, OPTIONS");
  } else if (strcmp(path, "/offer") == 0) {
    if (strcmp(method, "POST") == 0)
      handle_offer(srv, msg);
    else
      set_not_allowed(msg, "POST, OPTIONS");
  } else if (g_str_has_prefix(path, SESSION_PREFIX)) {
    server_session *ss = g_hash_table_lookup(srv->sessions, path + strlen(SESSION_PREFIX));
    if (strcmp(method, "PATCH") != 0 && strcmp(method, "DELETE") != 0)
      set_not_allowed(msg, "PATCH, DELETE, OPTIONS");
    else if (!ss)
      set_text(msg, SOUP_STATUS_NOT_FOUND, "no such session");
    else if (strcmp(method, "PATCH") == 0)
      handle_patch(srv, msg, ss);
    else
      handle_delete(msg, ss);
  } else {
    set_text(msg, SOUP_STATUS_NOT_FOUND, "not found (try POST /offer)");
  }
}

/* ---- Public API --------------------------------------------------------------- */

static gboolean on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source,
                            gpointer data) {
  sig_http_server *srv = data;
  GSocketAddress *local = g_socket_connection_get_local_address(conn, NULL);
  GSocketAddress *remote = g_socket_connection_get_remote_address(conn, NULL);
  GError *error = NULL;
  /* libsoup closes the stream when it is done with a connection. */
  g_hash_table_foreach_remove(srv->conns, conn_is_closed, NULL);
  /* Before handing it over: a request already buffered may be handled
   * inside soup_server_accept_iostream(). */
  char *key = address_string(remote);
  g_hash_table_replace(srv->conns, key, g_object_ref(conn));
  if (!local || !remote ||
      !soup_server_accept_iostream(srv->soup, G_IO_STREAM(conn), local, remote, &error)) {
    /* Nothing to answer on: the client sees the connection close. */
    g_clear_error(&error);
    g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
    g_hash_table_remove(srv->conns, key);
  }
  g_clear_object(&local);
  g_clear_object(&remote);
  return TRUE;
}

sig_http_server *sig_http_server_new(const char *host, guint16 port, guint max_sessions,
                                     sig_http_session_fn on_session, void *user_data,
                                     GError **error) {
  g_return_val_if_fail(on_session != NULL, NULL);
  if (!host || !*host)
    host = "127.0.0.1";
  GInetAddress *addr = g_inet_address_new_from_string(host);
  if (!addr && g_ascii_strcasecmp(host, "localhost") == 0)
    addr = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  if (!addr) {
    g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                "%s: want a numeric IP address (or localhost)", host);
    return NULL;
  }
  GSocketAddress *sa = g_inet_socket_address_new(addr, port);
  g_object_unref(addr);

  sig_http_server *srv = g_new0(sig_http_server, 1);
  srv->context = g_main_context_ref_thread_default();
  srv->max_sessions = max_sessions;
  srv->on_session = on_session;
  srv->user_data = user_data;
  srv->sessions =
      g_hash_table_new_full(g_str_hash, g_str_equal, NULL, (GDestroyNotify)sig_session_unref);
  srv->conns = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
  srv->soup = soup_server_new("server-header", "weft-signaling ", NULL);
  soup_server_add_early_handler(srv->soup, NULL, early_handle, srv, NULL);
  soup_server_add_handler(srv->soup, NULL, handle, srv, NULL);
  /* "OPTIONS *" never reaches the default handler. */
  soup_server_add_handler(srv->soup, "*", handle, srv, NULL);
  /* We accept connections ourselves and hand them to SoupServer: its own
   * listener (soup_server_listen) leaks every accepted GSocket in libsoup
   * 3.2 (valgrind: g_socket_accept, "definitely lost"). */
  srv->service = g_socket_service_new();
  GSocketAddress *bound = NULL;
  gboolean ok =
      g_socket_listener_add_address(G_SOCKET_LISTENER(srv->service), sa, G_SOCKET_TYPE_STREAM,
                                    G_SOCKET_PROTOCOL_TCP, NULL, &bound, error);
  g_object_unref(sa);
  if (!ok) {
    sig_http_server_free(srv);
    return NULL;
  }
  srv->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  g_object_unref(bound);
  g_signal_connect(srv->service, "incoming", G_CALLBACK(on_incoming), srv);
  g_socket_service_start(srv->service);
  return srv;
}

guint16 sig_http_server_get_port(sig_http_server *srv) {
  g_return_val_if_fail(srv != NULL, 0);
  return srv->port;
}

guint sig_http_server_get_session_count(sig_http_server *srv) {
  g_return_val_if_fail(srv != NULL, 0);
  return g_hash_table_size(srv->sessions);
}

void sig_http_server_free(sig_http_server *srv) {
  if (!srv)
    return;
  /* Close the sessions first. A paused POST is given a 503, but
   * soup_server_disconnect() below cuts its connection before libsoup gets
   * to write it: the client sees the connection drop, at once. Waiting for
   * the write would mean iterating the context here, re-entering the
   * application from inside its own shutdown. */
  GList *all = g_hash_table_get_values(srv->sessions);
  for (GList *l = all; l; l = l->next)
    sig_session_ref(l->data);
  for (GList *l = all; l; l = l->next) {
    server_session *ss = l->data;
    forget(ss, SOUP_STATUS_SERVICE_UNAVAILABLE, "the server is shutting down");
    sig_session_close(&ss->base);
  }
  g_list_free_full(all, (GDestroyNotify)sig_session_unref);
  if (srv->service) {
    g_socket_service_stop(srv->service);
    g_socket_listener_close(G_SOCKET_LISTENER(srv->service));
    g_object_unref(srv->service);
  }
  soup_server_disconnect(srv->soup);
  g_object_unref(srv->soup);
  g_hash_table_unref(srv->sessions);
  g_hash_table_unref(srv->conns);
  g_main_context_unref(srv->context);
  g_free(srv);
}
