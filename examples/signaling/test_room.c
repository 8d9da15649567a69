/*
 * examples/signaling — tests of the room transport against a real
 * signaling-server (started here on 127.0.0.1 port 0, killed by PID), and of
 * the in-process and line transports.
 *
 * usage: test_signaling_room path/to/signaling-server [ARGS...]
 *        test_signaling_room valgrind [OPTIONS...] path/to/signaling-server
 * (the command line that starts the server; "--port 0" is appended).
 */
#include "signaling.h"
#include "test_util.h"

#include <gio/gunixinputstream.h>
#include <gio/gunixoutputstream.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* What one room client saw. */
typedef struct seen {
  const char *who;
  gboolean joined;
  GPtrArray *peers_at_join; /* char * */
  GPtrArray *events;        /* char *: "peer-joined b", "peer-left b", "message offer b", ... */
  char *error_code;
  gboolean closed;
  guint16 close_code;
  sig_session *session;    /* created on an offer */
  GPtrArray *session_msgs; /* char *: JSON of what the session got */
  gboolean free_on_error;  /* sig_room_free() from inside the error callback */
  gboolean freed;
} seen;

static void seen_init(seen *s, const char *who) {
  memset(s, 0, sizeof *s);
  s->who = who;
  s->peers_at_join = g_ptr_array_new_with_free_func(g_free);
  s->events = g_ptr_array_new_with_free_func(g_free);
  s->session_msgs = g_ptr_array_new_with_free_func(g_free);
}

static void seen_clear(seen *s) {
  g_ptr_array_unref(s->peers_at_join);
  g_ptr_array_unref(s->events);
  g_ptr_array_unref(s->session_msgs);
  g_free(s->error_code);
  if (s->session)
    sig_session_unref(s->session);
}

static gboolean has_event(seen *s, const char *ev) {
  for (guint i = 0; i < s->events->len; i++)
    if (strcmp(g_ptr_array_index(s->events, i), ev) == 0)
      return TRUE;
  return FALSE;
}

static void on_session_msg(sig_session *s, JsonObject *msg, void *data) {
  (void)s;
  GPtrArray *into = data;
  g_ptr_array_add(into, sig_json_to_string(msg));
}

static void cb_joined(sig_room *r, JsonArray *peers, void *data) {
  (void)r;
  seen *s = data;
  s->joined = TRUE;
  for (guint i = 0; i < json_array_get_length(peers); i++)
    g_ptr_array_add(s->peers_at_join, g_strdup(json_object_get_string_member(
                                          json_array_get_object_element(peers, i), "peer")));
}

static void cb_peer_joined(sig_room *r, const char *peer, const char *name, void *data) {
  (void)r;
  (void)name;
  g_ptr_array_add(((seen *)data)->events, g_strdup_printf("peer-joined %s", peer));
}

static void cb_peer_left(sig_room *r, const char *peer, void *data) {
  (void)r;
  g_ptr_array_add(((seen *)data)->events, g_strdup_printf("peer-left %s", peer));
}

static void cb_message(sig_room *r, const char *from, JsonObject *msg, void *data) {
  seen *s = data;
  const char *type = json_object_get_string_member(msg, "type");
  g_ptr_array_add(s->events, g_strdup_printf("message %s %s", type, from));
  /* The documented way to answer: a session for the offerer, created here,
   * gets this offer as its first message. */
  if (strcmp(type, "offer") == 0 && !s->session) {
    s->session = sig_room_session_new(r, from);
    sig_session_set_handler(s->session, on_session_msg, s->session_msgs, NULL);
  }
}

static void cb_error(sig_room *r, const char *code, const char *message, void *data) {
  (void)message;
  seen *s = data;
  g_free(s->error_code);
  s->error_code = g_strdup(code);
  if (s->free_on_error) {
    sig_room_free(r);
    s->freed = TRUE;
  }
}

static void cb_closed(sig_room *r, guint16 code, const char *reason, void *data) {
  (void)r;
  (void)reason;
  seen *s = data;
  s->closed = TRUE;
  s->close_code = code;
}

static const sig_room_callbacks callbacks = {cb_joined,  cb_peer_joined, cb_peer_left,
                                             cb_message, cb_error,       cb_closed};

static JsonObject *msg_new(const char *type, const char *key, const char *value) {
  JsonObject *m = json_object_new();
  json_object_set_string_member(m, "type", type);
  if (key)
    json_object_set_string_member(m, key, value);
  return m;
}

static gboolean send_consume(sig_session *s, JsonObject *m) {
  gboolean ok = sig_session_send(s, m, NULL);
  json_object_unref(m);
  return ok;
}

static gboolean msgs_are(GPtrArray *got, const char *const *want) {
  guint n = g_strv_length((char **)want);
  if (got->len != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (strcmp(g_ptr_array_index(got, i), want[i]) != 0)
      return FALSE;
  return TRUE;
}

static void dump(const char *what, GPtrArray *a) {
  for (guint i = 0; i < a->len; i++)
    printf("     %s[%u] %s\n", what, i, (char *)g_ptr_array_index(a, i));
}

/* ---- Against the server ------------------------------------------------------ */

static GPid server_pid;
static int server_port;

static gboolean start_server(char **cmd) {
  GPtrArray *args = g_ptr_array_new();
  for (char **a = cmd; *a; a++)
    g_ptr_array_add(args, *a);
  g_ptr_array_add(args, "--port");
  g_ptr_array_add(args, "0");
  g_ptr_array_add(args, NULL);
  char **argv = (char **)g_ptr_array_free(args, FALSE);
  int out = -1;
  GError *e = NULL;
  if (!g_spawn_async_with_pipes(NULL, argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL,
                                &server_pid, NULL, &out, NULL, &e)) {
    printf("FAIL cannot start %s: %s\n", cmd[0], e->message);
    g_error_free(e);
    g_free(argv);
    return FALSE;
  }
  g_free(argv);
  /* First line: {"ev":"listening",...,"port":N}; bounded wait. */
  char line[256];
  size_t n = 0;
  gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC; /* valgrind is slow */
  while (n < sizeof line - 1 && g_get_monotonic_time() < deadline) {
    GPollFD p = {out, G_IO_IN, 0};
    if (g_poll(&p, 1, 100) <= 0)
      continue;
    ssize_t r = read(out, line + n, 1);
    if (r <= 0)
      break;
    if (line[n++] == '\n')
      break;
  }
  line[n] = 0;
  /* The rest of the server's stdout is not read: route it nowhere. */
  close(out);
  const char *p = strstr(line, "\"port\":");
  server_port = p ? atoi(p + 7) : 0;
  return server_port > 0;
}

static void stop_server(void) {
  if (!server_pid)
    return;
  kill(server_pid, SIGKILL);
  waitpid(server_pid, NULL, 0);
  g_spawn_close_pid(server_pid);
  server_pid = 0;
}

static void test_room(char **server) {
  signal(SIGPIPE, SIG_IGN); /* the server's stdout pipe is closed on our side */
  if (!start_server(server)) {
    failures++;
    stop_server();
    return;
  }
  char *url = g_strdup_printf("ws://127.0.0.1:%d/ws", server_port);
  GError *e = NULL;
  CHECK(!sig_room_connect("http:/nope", "r", NULL, NULL, &callbacks, NULL, &e) && e,
        "a malformed URL is refused at once");
  g_clear_error(&e);
  CHECK(!sig_room_connect(url, "bad room", NULL, NULL, &callbacks, NULL, &e) && e,
        "a bad room id is refused at once");
  g_clear_error(&e);

  seen sa, sb, sc;
  seen_init(&sa, "a");
  seen_init(&sb, "b");
  seen_init(&sc, "c");
  sig_room *a = sig_room_connect(url, "t", "a", "Alice", &callbacks, &sa, &e);
  RUN_UNTIL(sa.joined, 10000);
  CHECK(a && sa.joined && sa.peers_at_join->len == 0 && sig_room_is_joined(a),
        "a joins an empty room");
  sig_room *b = sig_room_connect(url, "t", NULL, "Bob", &callbacks, &sb, &e);
  char *bid = g_strdup(sig_room_get_peer(b)); /* b is freed before the end */
  CHECK(g_str_has_prefix(bid, "p-") && strlen(bid) == 10, "a generated peer id: %s", bid);
  /* Sent before the join is accepted: queued, then delivered in order. */
  sig_session *s_ba = sig_room_session_new(b, "a");
  GPtrArray *b_msgs = g_ptr_array_new_with_free_func(g_free);
  sig_session_set_handler(s_ba, on_session_msg, b_msgs, NULL);
  CHECK(send_consume(s_ba, msg_new("offer", "sdp", "v=0 offer")), "b offers to a (queued)");
  JsonObject *cand = msg_new("candidate", "candidate", "candidate:1 1 udp 1 127.0.0.1 9 typ host");
  json_object_set_string_member(cand, "sdpMid", "0");
  json_object_set_int_member(cand, "sdpMLineIndex", 0);
  CHECK(send_consume(s_ba, cand), "b trickles a candidate");
  JsonObject *eoc = msg_new("end-of-candidates", "sdpMid", "0");
  CHECK(send_consume(s_ba, eoc), "b sends end-of-candidates");
  GError *se = NULL;
  JsonObject *err = msg_new("error", "message", "x");
  CHECK(!sig_session_send(s_ba, err, &se) && se && se->code == G_IO_ERROR_NOT_SUPPORTED,
        "an error message has no place in the room protocol");
  json_object_unref(err);
  g_clear_error(&se);

  RUN_UNTIL(sb.joined && sa.session_msgs->len >= 3, 10000);
  CHECK(sb.joined && sb.peers_at_join->len == 1 &&
            strcmp(g_ptr_array_index(sb.peers_at_join, 0), "a") == 0,
        "b's joined lists a");
  char *pj = g_strdup_printf("peer-joined %s", bid);
  CHECK(has_event(&sa, pj), "a hears b join");
  g_free(pj);
  char *w0 = g_strdup_printf(
      "{\"type\":\"offer\",\"sdp\":\"v=0 offer\",\"to\":\"a\",\"from\":\"%s\"}", bid);
  char *w1 =
      g_strdup_printf("{\"type\":\"candidate\",\"candidate\":\"candidate:1 1 udp 1 127.0.0.1 "
                      "9 typ host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0,\"to\":\"a\","
                      "\"from\":\"%s\"}",
                      bid);
  const char *want_a[] = {w0, w1, "{\"type\":\"end-of-candidates\",\"sdpMid\":\"0\"}", NULL};
  CHECK(sa.session && msgs_are(sa.session_msgs, want_a),
        "a's session (created in the message callback) got offer, candidate, end-of-candidates");
  if (!msgs_are(sa.session_msgs, want_a))
    dump("a", sa.session_msgs);
  g_free(w0);
  g_free(w1);

  /* The answer back, through a's session. */
  CHECK(sa.session && send_consume(sa.session, msg_new("answer", "sdp", "v=0 answer")),
        "a answers on its session");
  RUN_UNTIL(b_msgs->len >= 1, 10000);
  CHECK(b_msgs->len == 1 && strstr(g_ptr_array_index(b_msgs, 0), "\"type\":\"answer\"") &&
            strstr(g_ptr_array_index(b_msgs, 0), "\"from\":\"a\""),
        "b's session gets the answer");

  /* A relay to nobody: the server's unknown-peer reaches the error callback. */
  JsonObject *o = msg_new("offer", "sdp", "v=0");
  CHECK(sig_room_send(b, "nobody", o, NULL), "b sends to an unknown peer");
  json_object_unref(o);
  RUN_UNTIL(sb.error_code, 10000);
  CHECK(!g_strcmp0(sb.error_code, "unknown-peer"), "-> error callback unknown-peer");

  /* peer-taken for a second "a"; its error callback frees the room (as an
   * app giving up would). */
  sc.free_on_error = TRUE;
  sig_room *c = sig_room_connect(url, "t", "a", NULL, &callbacks, &sc, &e);
  RUN_UNTIL(sc.error_code, 10000);
  CHECK(!g_strcmp0(sc.error_code, "peer-taken") && !sc.joined && sc.freed,
        "a second \"a\" -> peer-taken (and sig_room_free from the callback)");
  CHECK(sig_room_has_peer(a, bid) && sig_room_has_peer(b, "a") && !sig_room_has_peer(a, "zz"),
        "has_peer follows the room");
  CHECK(!g_strcmp0(sig_room_get_peer_name(a, bid), "Bob") &&
            !g_strcmp0(sig_room_get_peer_name(b, "a"), "Alice") && !sig_room_get_peer_name(a, "zz"),
        "peer names from joined and peer-joined");

  /* Closing b's session says bye to a's session. */
  sig_session_close(s_ba);
  RUN_UNTIL(sa.session_msgs->len >= 4, 10000);
  CHECK(sa.session_msgs->len == 4 &&
            strstr(g_ptr_array_index(sa.session_msgs, 3), "\"type\":\"bye\""),
        "closing b's session -> bye on a's session");
  /* After bye, a's session is detached: sending fails cleanly. */
  JsonObject *late = msg_new("answer", "sdp", "x");
  CHECK(!sig_session_send(sa.session, late, NULL), "a detached session refuses to send");
  json_object_unref(late);

  /* b leaves: a hears peer-left; a session for b would get bye. */
  sig_session *s_ab2 = sig_room_session_new(a, bid);
  GPtrArray *a2 = g_ptr_array_new_with_free_func(g_free);
  sig_session_set_handler(s_ab2, on_session_msg, a2, NULL);
  sig_room_free(b);
  char *pl = g_strdup_printf("peer-left %s", bid);
  RUN_UNTIL(has_event(&sa, pl) && a2->len >= 1, 10000);
  CHECK(has_event(&sa, pl), "b freed -> a hears peer-left");
  if (!has_event(&sa, pl))
    dump("a events", sa.events);
  CHECK(a2->len == 1 && !strcmp(g_ptr_array_index(a2, 0), "{\"type\":\"bye\"}"),
        "... and a's session for b gets bye");
  g_free(pl);
  CHECK(!sb.closed, "no callback on b after sig_room_free");

  /* The server goes away: a's closed callback with 1001. */
  kill(server_pid, SIGTERM);
  RUN_UNTIL(sa.closed, 10000);
  CHECK(sa.closed && sa.close_code == 1001, "server stopped -> closed(1001) (%u)", sa.close_code);
  CHECK(!sig_room_is_joined(a), "not joined any more");
  JsonObject *after = msg_new("offer", "sdp", "x");
  GError *ce = NULL;
  CHECK(!sig_room_send(a, "b", after, &ce) && ce && ce->code == G_IO_ERROR_CLOSED,
        "send after close -> G_IO_ERROR_CLOSED");
  g_clear_error(&ce);
  json_object_unref(after);
  int status = 0;
  gint64 deadline;
  deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
  while (waitpid(server_pid, &status, WNOHANG) == 0 && g_get_monotonic_time() < deadline)
    g_usleep(10000);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server exited 0 on SIGTERM (status %d)",
        WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  g_spawn_close_pid(server_pid);
  server_pid = 0;

  /* A room that cannot connect reports closed(0). */
  seen sd;
  seen_init(&sd, "d");
  sig_room *d = sig_room_connect(url, "t", "d", NULL, &callbacks, &sd, &e);
  RUN_UNTIL(sd.closed, 10000);
  CHECK(sd.closed && sd.close_code == 0, "no server -> closed(0)");

  sig_session_unref(s_ba);
  sig_session_unref(s_ab2);
  g_ptr_array_unref(b_msgs);
  g_ptr_array_unref(a2);
  sig_room_free(a);
  if (!sc.freed)
    sig_room_free(c);
  sig_room_free(d);
  seen_clear(&sa);
  seen_clear(&sb);
  seen_clear(&sc);
  seen_clear(&sd);
  g_free(url);
  g_free(bid);
  /* Let libsoup finish the closes it started. */
  RUN_UNTIL(FALSE, 200);
}

/* ---- In-process and lines ------------------------------------------------------ */

static void test_inproc(void) {
  sig_session *x, *y;
  sig_inproc_pair_new(&x, &y);
  GPtrArray *gx = g_ptr_array_new_with_free_func(g_free);
  GPtrArray *gy = g_ptr_array_new_with_free_func(g_free);
  sig_session_set_handler(x, on_session_msg, gx, NULL);
  sig_session_set_handler(y, on_session_msg, gy, NULL);
  JsonObject *m = msg_new("offer", "sdp", "v=0");
  sig_session_send(x, m, NULL);
  json_object_set_string_member(m, "sdp", "changed after send");
  json_object_unref(m);
  send_consume(y, msg_new("answer", "sdp", "v=1"));
  RUN_UNTIL(gx->len && gy->len, 2000);
  CHECK(gy->len == 1 && !strcmp(g_ptr_array_index(gy, 0), "{\"type\":\"offer\",\"sdp\":\"v=0\"}"),
        "inproc: x -> y (a copy)");
  CHECK(gx->len == 1 && strstr(g_ptr_array_index(gx, 0), "v=1"), "inproc: y -> x");
  sig_session_close(x);
  RUN_UNTIL(gy->len == 2, 2000);
  CHECK(gy->len == 2 && !strcmp(g_ptr_array_index(gy, 1), "{\"type\":\"bye\"}"),
        "inproc: close -> bye on the other side");
  CHECK(!send_consume(y, msg_new("offer", "sdp", "x")), "inproc: send to a closed peer fails");
  sig_session_unref(x);
  sig_session_unref(y);
  g_ptr_array_unref(gx);
  g_ptr_array_unref(gy);
}

static void test_pipe(void) {
  int ab[2], ba[2];
  if (pipe(ab) != 0 || pipe(ba) != 0) {
    CHECK(FALSE, "pipe()");
    return;
  }
  GInputStream *ain = g_unix_input_stream_new(ba[0], TRUE);
  GOutputStream *aout = g_unix_output_stream_new(ab[1], TRUE);
  GInputStream *bin = g_unix_input_stream_new(ab[0], TRUE);
  GOutputStream *bout = g_unix_output_stream_new(ba[1], TRUE);
  sig_session *pa = sig_pipe_new(ain, aout);
  sig_session *pb = sig_pipe_new(bin, bout);
  GPtrArray *ga = g_ptr_array_new_with_free_func(g_free);
  GPtrArray *gb = g_ptr_array_new_with_free_func(g_free);
  sig_session_set_handler(pa, on_session_msg, ga, NULL);
  sig_session_set_handler(pb, on_session_msg, gb, NULL);
  for (int i = 0; i < 50; i++) {
    char *sdp = g_strdup_printf("v=0\r\nline %d\r\n", i);
    send_consume(pa, msg_new("offer", "sdp", sdp));
    g_free(sdp);
  }
  send_consume(pb, msg_new("answer", "sdp", "v=0\n"));
  RUN_UNTIL(gb->len >= 50 && ga->len >= 1, 10000);
  gboolean order = gb->len == 50;
  for (guint i = 0; order && i < 50; i++) {
    char *want = g_strdup_printf("line %u", i);
    order = strstr(g_ptr_array_index(gb, i), want) != NULL;
    g_free(want);
  }
  CHECK(order, "lines: 50 messages with newlines inside arrive in order");
  CHECK(ga->len == 1 && strstr(g_ptr_array_index(ga, 0), "answer"), "lines: the other way");
  /* Garbage on the line: an error message, and the stream goes on. */
  const char *junk = "not json\n{\"type\":\"bye\"}\n";
  g_output_stream_write_all(bout, junk, strlen(junk), NULL, NULL, NULL);
  RUN_UNTIL(ga->len >= 3, 10000);
  CHECK(ga->len == 3 && strstr(g_ptr_array_index(ga, 1), "\"error\"") &&
            strstr(g_ptr_array_index(ga, 2), "bye"),
        "lines: a bad line -> error, then reading goes on");
  /* EOF -> bye. */
  g_output_stream_close(bout, NULL, NULL);
  RUN_UNTIL(ga->len >= 4, 10000);
  CHECK(ga->len == 4 && !strcmp(g_ptr_array_index(ga, 3), "{\"type\":\"bye\"}"),
        "lines: EOF -> bye");
  sig_session_close(pa);
  sig_session_close(pb);
  RUN_UNTIL(FALSE, 50);
  sig_session_unref(pa);
  sig_session_unref(pb);
  g_object_unref(ain);
  g_object_unref(aout);
  g_object_unref(bin);
  g_object_unref(bout);
  g_ptr_array_unref(ga);
  g_ptr_array_unref(gb);
}

int main(int argc, char **argv) {
  test_inproc();
  test_pipe();
  if (argc > 1)
    test_room(argv + 1);
  else
    CHECK(FALSE, "usage: test_signaling_room path/to/signaling-server");
  stop_server();
  printf("%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
