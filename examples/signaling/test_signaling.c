/*
 * examples/signaling — tests of the HTTP client and server against each other
 * in one process (one GMainContext), and of the RFC 8840 fragment code.
 *
 * The echo-server test covers the protocol from the outside (curl-like
 * requests, real peers); this one covers what only the library API shows:
 * delivery order and queueing, send() errors, the 504/500 paths, a client
 * closed while its POST is in flight, an HTTP client that hangs up before the
 * answer, a server freed with a POST pending.
 */
#include "sig_private.h"
#include "test_util.h"

#include <gio/gio.h>
#include <stdio.h>
#include <string.h>

static const char *OFFER =
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a b\r\n"
    "a=ice-ufrag:sess\r\na=ice-pwd:sessionpasswordsessionpw\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:a\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:med\r\na=ice-pwd:mediapasswordmediapasswd\r\na=mid:b\r\n";
static const char *CAND = "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host";

static JsonObject *msg_new(const char *type, const char *key, const char *value) {
  JsonObject *m = json_object_new();
  json_object_set_string_member(m, "type", type);
  if (key)
    json_object_set_string_member(m, key, value);
  return m;
}

/* Sends and consumes @m; returns the GError code, or -1 on success. */
static int send_msg(sig_session *s, JsonObject *m) {
  GError *e = NULL;
  gboolean ok = sig_session_send(s, m, &e);
  json_object_unref(m);
  int code = ok ? -1 : e->code;
  g_clear_error(&e);
  return code;
}

/* ---- Fragments ------------------------------------------------------------ */

static void test_fragments(void) {
  sig_sdp_info *info = sig_sdp_info_parse(OFFER);
  CHECK(info->sections->len == 2, "offer summary: 2 sections");

  char *f = sig_sdpfrag_format(info, CAND, "b", -1);
  GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
  char *why = NULL;
  gboolean ok = sig_sdpfrag_parse(f, strlen(f), out, &why);
  JsonObject *c = ok && out->len == 1 ? g_ptr_array_index(out, 0) : NULL;
  CHECK(c && !g_strcmp0(sig_msg_string(c, "candidate"), CAND) &&
            !g_strcmp0(sig_msg_string(c, "sdpMid"), "b") &&
            !g_strcmp0(sig_msg_string(c, "usernameFragment"), "med") &&
            !json_object_has_member(c, "sdpMLineIndex"),
        "by mid: format -> parse keeps candidate, mid and the media-level ufrag\n%s", f);
  g_free(f);
  g_ptr_array_set_size(out, 0);

  /* Index only, in an offer without mids: the receiver counts m= lines. */
  sig_sdp_info *nomid = sig_sdp_info_parse("v=0\r\na=ice-ufrag:u\r\na=ice-pwd:p\r\n"
                                           "m=audio 9 X 0\r\nm=application 9 Y z\r\n");
  f = sig_sdpfrag_format(nomid, CAND, NULL, 1);
  ok = sig_sdpfrag_parse(f, strlen(f), out, &why);
  c = ok && out->len == 1 ? g_ptr_array_index(out, 0) : NULL;
  gint64 index = -1;
  CHECK(c && sig_msg_int(c, "sdpMLineIndex", &index) && index == 1 &&
            !json_object_has_member(c, "sdpMid"),
        "by index: sdpMLineIndex 1 survives the round trip");
  g_free(f);
  g_ptr_array_set_size(out, 0);
  sig_sdp_info_free(nomid);

  f = sig_sdpfrag_format(info, NULL, "b", -1);
  ok = sig_sdpfrag_parse(f, strlen(f), out, &why);
  c = ok && out->len == 1 ? g_ptr_array_index(out, 0) : NULL;
  CHECK(c && !g_strcmp0(sig_msg_type(c), "end-of-candidates"), "end-of-candidates round trip");
  g_free(f);
  g_ptr_array_set_size(out, 0);
  sig_sdp_info_free(info);

  static const char *const bad[] = {
      "",
      "hello",
      "a=candidate:1 1 udp 1 127.0.0.1 5000 host\r\n",        /* no "typ" */
      "a=candidate:1 1 udp 1 127.0.0.1 99999 typ host\r\n",   /* port */
      "a=candidate:1 0 udp 1 127.0.0.1 5000 typ host\r\n",    /* component 0 */
      "a=mid:0\r\n",                                          /* mid outside m= */
      "m=application 9 X y\r\na=mid:\r\n",                    /* empty mid */
      "m=application 9 X y\r\na=candidate:\xff\xfe typ host", /* not UTF-8 */
  };
  for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
    why = NULL;
    ok = sig_sdpfrag_parse(bad[i], strlen(bad[i]), out, &why);
    CHECK(!ok && why && *why && out->len == 0, "malformed fragment %u refused: %s", i,
          why ? why : "(accepted)");
    g_free(why);
  }
  /* A candidate outside any m= section: taken as the first one's. */
  const char *loose = "a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\n";
  ok = sig_sdpfrag_parse(loose, strlen(loose), out, &why);
  c = ok && out->len == 1 ? g_ptr_array_index(out, 0) : NULL;
  CHECK(c && sig_msg_int(c, "sdpMLineIndex", &index) && index == 0,
        "a bare candidate line is accepted for section 0");
  g_ptr_array_unref(out);

  CHECK(sig_sdp_check(OFFER, strlen(OFFER), &why), "the test offer passes the SDP check");
  static const char *const bad_sdp[] = {"", "v=1\r\n", "v=0\r\no=x\r\ns=-\r\nt=0 0\r\n",
                                        "v=0\r\no=x\r\ns=-\r\nt=0 0\r\nm=a\r\nbogus\r\n"};
  for (guint i = 0; i < G_N_ELEMENTS(bad_sdp); i++) {
    why = NULL;
    CHECK(!sig_sdp_check(bad_sdp[i], strlen(bad_sdp[i]), &why) && why, "bad SDP %u: %s", i,
          why ? why : "(accepted)");
    g_free(why);
  }
}

/* ---- Client against server ------------------------------------------------ */

typedef enum server_mode { ANSWER, ANSWER_LATE, SEND_ERROR, CLOSE, IGNORE } server_mode;

typedef struct fixture {
  server_mode mode;
  sig_http_server *srv;
  sig_session *srv_session; /* a reference */
  GPtrArray *srv_msgs;      /* types the server side received, in order */
  GPtrArray *cli_msgs;      /* types the client side received */
  JsonObject *cli_error;    /* the client's error message, if any */
  gboolean srv_bye, srv_error, cli_done;
} fixture;

static void on_server_message(sig_session *s, JsonObject *m, void *ud);

static gboolean answer_late(gpointer ud) {
  fixture *fx = ud;
  send_msg(fx->srv_session, msg_new("answer", "sdp", "v=0\r\n"));
  return G_SOURCE_REMOVE;
}

static void on_server_message(sig_session *s, JsonObject *m, void *ud) {
  fixture *fx = ud;
  const char *type = sig_msg_type(m);
  g_ptr_array_add(fx->srv_msgs, g_strdup(type));
  if (!strcmp(type, "bye"))
    fx->srv_bye = TRUE;
  if (!strcmp(type, "error"))
    fx->srv_error = TRUE;
  if (strcmp(type, "offer") != 0)
    return;
  switch (fx->mode) {
  case ANSWER:
    CHECK(send_msg(s, msg_new("answer", "sdp", "v=0\r\nanswer\r\n")) == -1, "server: answer sent");
    CHECK(send_msg(s, msg_new("candidate", "candidate", CAND)) == G_IO_ERROR_NOT_SUPPORTED,
          "server: a candidate after the answer is NOT_SUPPORTED");
    CHECK(send_msg(s, msg_new("answer", "sdp", "v=0\r\n")) == G_IO_ERROR_NOT_SUPPORTED,
          "server: a second answer is NOT_SUPPORTED");
    break;
  case ANSWER_LATE:
    g_timeout_add(300, answer_late, fx);
    break;
  case SEND_ERROR: {
    JsonObject *e = msg_new("error", "message", "your offer is bad");
    json_object_set_int_member(e, "status", 400);
    CHECK(send_msg(s, e) == -1, "server: error sent");
    break;
  }
  case CLOSE:
    sig_session_close(s);
    break;
  case IGNORE:
    break;
  }
}

static void on_new_session(sig_http_server *srv, sig_session *s, void *ud) {
  fixture *fx = ud;
  fx->srv_session = sig_session_ref(s);
  CHECK(g_str_has_prefix(sig_session_get_remote(s), "127.0.0.1:"), "server: remote %s",
        sig_session_get_remote(s));
  sig_session_set_handler(s, on_server_message, fx, NULL);
}

static void on_client_message(sig_session *s, JsonObject *m, void *ud) {
  fixture *fx = ud;
  const char *type = sig_msg_type(m);
  g_ptr_array_add(fx->cli_msgs, g_strdup(type));
  if (!strcmp(type, "error") && !fx->cli_error)
    fx->cli_error = json_object_ref(m);
  fx->cli_done = TRUE;
}

static void fixture_init(fixture *fx, server_mode mode) {
  memset(fx, 0, sizeof *fx);
  fx->mode = mode;
  fx->srv_msgs = g_ptr_array_new_with_free_func(g_free);
  fx->cli_msgs = g_ptr_array_new_with_free_func(g_free);
  GError *e = NULL;
  fx->srv = sig_http_server_new("127.0.0.1", 0, 4, on_new_session, fx, &e);
  g_assert_no_error(e);
}

static sig_session *fixture_client(fixture *fx) {
  char *url = g_strdup_printf("http://127.0.0.1:%u/offer", sig_http_server_get_port(fx->srv));
  GError *e = NULL;
  sig_session *c = sig_http_client_new(url, &e);
  g_assert_no_error(e);
  g_free(url);
  return c;
}

static void fixture_clear(fixture *fx) {
  if (fx->srv_session) {
    sig_session_close(fx->srv_session);
    sig_session_unref(fx->srv_session);
  }
  sig_http_server_free(fx->srv);
  g_ptr_array_unref(fx->srv_msgs);
  g_ptr_array_unref(fx->cli_msgs);
  if (fx->cli_error)
    json_object_unref(fx->cli_error);
}

static char *joined(GPtrArray *a) {
  GString *s = g_string_new(NULL);
  for (guint i = 0; i < a->len; i++)
    g_string_append_printf(s, "%s%s", i ? "," : "", (char *)g_ptr_array_index(a, i));
  return g_string_free(s, FALSE);
}

static void test_trickle_order(void) {
  fixture fx;
  fixture_init(&fx, ANSWER);
  sig_session *c = fixture_client(&fx);
  /* Sent before the handler is set and before the offer: all queued, all
   * delivered in order. */
  CHECK(send_msg(c, msg_new("candidate", "candidate", CAND)) == -1, "candidate before the offer");
  CHECK(send_msg(c, msg_new("offer", "sdp", OFFER)) == -1, "offer");
  CHECK(send_msg(c, msg_new("offer", "sdp", OFFER)) == G_IO_ERROR_NOT_SUPPORTED,
        "a second offer is NOT_SUPPORTED");
  CHECK(send_msg(c, msg_new("nonsense", NULL, NULL)) == G_IO_ERROR_INVALID_ARGUMENT,
        "an unknown type is INVALID_ARGUMENT");
  CHECK(send_msg(c, msg_new("candidate", NULL, NULL)) == G_IO_ERROR_INVALID_ARGUMENT,
        "a candidate without a candidate is INVALID_ARGUMENT");
  /* An empty candidate ("no more") still writes its sdpMid into the
   * fragment: a line break there would inject fragment lines. */
  JsonObject *m = msg_new("candidate", "candidate", "");
  json_object_set_string_member(m, "sdpMid", "b\r\na=candidate:9 1 udp 1 10.0.0.1 9 typ host");
  CHECK(send_msg(c, m) == G_IO_ERROR_INVALID_ARGUMENT,
        "an sdpMid with a line break is INVALID_ARGUMENT, even with an empty candidate");
  m = msg_new("candidate", "candidate", CAND);
  json_object_set_int_member(m, "sdpMLineIndex", 1);
  CHECK(send_msg(c, m) == -1, "candidate by index");
  CHECK(send_msg(c, msg_new("end-of-candidates", NULL, NULL)) == -1, "end-of-candidates");
  CHECK(send_msg(c, msg_new("bye", NULL, NULL)) == -1, "bye");
  CHECK(send_msg(c, msg_new("candidate", "candidate", CAND)) == G_IO_ERROR_CLOSED,
        "nothing after bye (CLOSED)");
  /* The handler comes late: the answer waits for it. */
  RUN_UNTIL(fx.srv_bye, 500);
  sig_session_set_handler(c, on_client_message, &fx, NULL);
  RUN_UNTIL(fx.srv_bye, 5000);
  RUN_UNTIL(fx.cli_done, 2000);
  char *srv = joined(fx.srv_msgs), *cli = joined(fx.cli_msgs);
  CHECK(!strcmp(srv, "offer,candidate,candidate,end-of-candidates,bye"),
        "server saw the offer, both candidates, end-of-candidates, bye in order: %s", srv);
  CHECK(!strcmp(cli, "answer"), "client saw the answer, delivered once a handler was set: %s", cli);
  CHECK(sig_http_server_get_session_count(fx.srv) == 0, "DELETE ended the server session");
  g_free(srv);
  g_free(cli);
  sig_session_close(c);
  sig_session_unref(c);
  fixture_clear(&fx);
}

/* The server application fails or goes away: the client gets "error". */
static void test_error(server_mode mode, guint want_status, const char *what, int wait_ms) {
  fixture fx;
  fixture_init(&fx, mode);
  sig_session *c = fixture_client(&fx);
  sig_session_set_handler(c, on_client_message, &fx, NULL);
  gint64 t = g_get_monotonic_time();
  send_msg(c, msg_new("offer", "sdp", OFFER));
  RUN_UNTIL(fx.cli_done, wait_ms);
  gint64 status = 0;
  const char *text = fx.cli_error ? sig_msg_string(fx.cli_error, "message") : NULL;
  CHECK(fx.cli_error && sig_msg_int(fx.cli_error, "status", &status) && status == want_status,
        "%s: the client gets error %u after %.1f s: %s", what, want_status,
        (double)(g_get_monotonic_time() - t) / 1e6, text ? text : "(none)");
  if (mode == IGNORE) {
    RUN_UNTIL(fx.srv_error, 1000);
    CHECK(fx.srv_error && sig_http_server_get_session_count(fx.srv) == 0,
          "the application is told, and the session is gone");
  }
  CHECK(send_msg(c, msg_new("candidate", "candidate", CAND)) == G_IO_ERROR_CLOSED,
        "after the error the client session is dead");
  sig_session_close(c);
  sig_session_unref(c);
  fixture_clear(&fx);
}

static void test_close_in_flight(void) {
  fixture fx;
  fixture_init(&fx, ANSWER_LATE);
  sig_session *c = fixture_client(&fx);
  sig_session_set_handler(c, on_client_message, &fx, NULL);
  send_msg(c, msg_new("offer", "sdp", OFFER));
  sig_session_close(c);
  sig_session_unref(c);
  RUN_UNTIL(fx.srv_bye, 3000);
  CHECK(fx.srv_bye && fx.cli_msgs->len == 0,
        "closed while the POST was in flight: DELETE once answered, no client callback");
  fixture_clear(&fx);
}

static void test_unreachable(void) {
  /* A port nobody listens on: bind one, note it, free it. */
  GSocket *sock = g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, 0, NULL);
  GInetAddress *lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
  GSocketAddress *sa = g_inet_socket_address_new(lo, 0);
  g_socket_bind(sock, sa, FALSE, NULL);
  GSocketAddress *bound = g_socket_get_local_address(sock, NULL);
  guint port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
  g_object_unref(bound);
  g_object_unref(sa);
  g_object_unref(lo);
  g_object_unref(sock);

  fixture fx = {0};
  fx.cli_msgs = g_ptr_array_new_with_free_func(g_free);
  char *url = g_strdup_printf("http://127.0.0.1:%u/offer", port);
  sig_session *c = sig_http_client_new(url, NULL);
  sig_session_set_handler(c, on_client_message, &fx, NULL);
  send_msg(c, msg_new("offer", "sdp", OFFER));
  RUN_UNTIL(fx.cli_done, 5000);
  const char *text = fx.cli_error ? sig_msg_string(fx.cli_error, "message") : NULL;
  CHECK(text && !json_object_has_member(fx.cli_error, "status"),
        "connection refused is an error without a status: %s", text ? text : "(none)");
  sig_session_close(c);
  sig_session_unref(c);
  g_free(url);
  g_ptr_array_unref(fx.cli_msgs);
  if (fx.cli_error)
    json_object_unref(fx.cli_error);

  GError *e = NULL;
  CHECK(!sig_http_client_new("ftp://x/offer", &e) && e, "a non-http URL is refused");
  g_clear_error(&e);
  CHECK(!sig_http_server_new("not-an-ip", 0, 1, on_new_session, NULL, &e) && e,
        "a non-numeric host is refused: %s", e ? e->message : "");
  g_clear_error(&e);
}

/* The HTTP client sends its POST and goes away before the answer: the
 * application hears of it (an "error") well before the 10 s deadline, and
 * the session no longer counts. */
static void test_client_gone(void) {
  fixture fx;
  fixture_init(&fx, IGNORE);
  GSocketClient *sc = g_socket_client_new();
  char *host = g_strdup_printf("127.0.0.1:%u", sig_http_server_get_port(fx.srv));
  GSocketConnection *conn = g_socket_client_connect_to_host(sc, host, 0, NULL, NULL);
  g_free(host);
  char *req = g_strdup_printf("POST /offer HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\n"
                              "Content-Length: %zu\r\n\r\n%s",
                              strlen(OFFER), OFFER);
  gsize written = 0;
  if (conn)
    g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(conn)), req, strlen(req),
                              &written, NULL, NULL);
  g_free(req);
  gboolean have_session = FALSE;
  gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  while (!fx.srv_session && g_get_monotonic_time() < deadline)
    RUN_UNTIL(have_session, 10);
  CHECK(fx.srv_session != NULL, "client gone: the POST created a session");
  if (conn) {
    g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
    g_object_unref(conn);
  }
  g_object_unref(sc);
  gint64 t = g_get_monotonic_time();
  RUN_UNTIL(fx.srv_error, 5000);
  CHECK(fx.srv_error && sig_http_server_get_session_count(fx.srv) == 0,
        "client gone before the answer: the application got an error after %.1f s, no session "
        "left",
        (double)(g_get_monotonic_time() - t) / 1e6);
  fixture_clear(&fx);
}

/* The server is freed while a POST waits for its answer (echo-server's
 * SIGINT during gathering): the client hears of it at once (the connection
 * drops: see sig_http_server_free), not after its 30 s timeout. */
static void test_free_pending(void) {
  fixture fx;
  fixture_init(&fx, IGNORE);
  sig_session *c = fixture_client(&fx);
  sig_session_set_handler(c, on_client_message, &fx, NULL);
  send_msg(c, msg_new("offer", "sdp", OFFER));
  gboolean never = FALSE;
  gint64 deadline = g_get_monotonic_time() + 3 * G_USEC_PER_SEC;
  while (!fx.srv_session && g_get_monotonic_time() < deadline)
    RUN_UNTIL(never, 10);
  sig_http_server_free(fx.srv);
  fx.srv = NULL;
  gint64 t = g_get_monotonic_time();
  RUN_UNTIL(fx.cli_done, 5000);
  const char *text = fx.cli_error ? sig_msg_string(fx.cli_error, "message") : NULL;
  CHECK(fx.srv_session && fx.cli_error,
        "server freed with a POST pending: the client gets an error after %.1f s: %s",
        (double)(g_get_monotonic_time() - t) / 1e6, text ? text : "(none)");
  sig_session_close(c);
  sig_session_unref(c);
  fixture_clear(&fx);
}

int main(int argc, char **argv) {
  test_fragments();
  test_trickle_order();
  test_error(SEND_ERROR, 400, "application error with status 400", 5000);
  test_error(CLOSE, 500, "application closed the session", 5000);
  test_close_in_flight();
  test_unreachable();
  test_client_gone();
  test_free_pending();
  /* Last: takes the full 10 s answer deadline. */
  test_error(IGNORE, 504, "no answer", 15000);
  /* Let in-flight DELETEs and connection teardown finish. */
  gboolean never = FALSE;
  RUN_UNTIL(never, 200);
  printf(failures ? "%d check(s) failed\n" : "all checks passed\n", failures);
  return failures ? 1 : 0;
}
