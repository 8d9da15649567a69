/* ice/: two libnice agents on one private GMainContext, on 127.0.0.1. */
#include <arpa/inet.h>
#include <stdio.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include "core/core.h"
#include "ice/ice.h"
#include "test_util.h"

typedef struct peer {
  const char *name;
  weft__ice *ice;
  struct peer *other;
  GPtrArray *cands;  /* local candidates seen */
  bool forward;      /* trickle: hand each candidate to the other peer at once */
  bool mdns_rewrite; /* forward host candidates with a .local name instead */
  bool tcp_only;     /* forward TCP candidates only (ICE-TCP tests) */
  volatile int gathered;
  volatile int connected;
  volatile int failed;
  weft_ice_connection_state last_state;
  int n_states;
  volatile int recv_n;
  int recv_bad;
  bool freed;
  int64_t t_connected;
} peer;

static GMainContext *ctx;
static int calls_after_free;

static void note_call(peer *p) {
  if (p->freed)
    calls_after_free++;
}

static char *mdns_version(const char *cand) {
  /* candidate:F 1 udp P ADDR PORT typ host ... -> ADDR replaced by a name no
   * resolver knows. */
  gchar **t = g_strsplit(cand, " ", -1);
  g_assert_cmpuint(g_strv_length(t), >=, 8);
  g_free(t[4]);
  t[4] = g_strdup("0b4c2d7e-1f5a-4e3b-9c8d-6a7b8c9d0e1f.local");
  char *s = g_strjoinv(" ", t);
  g_strfreev(t);
  return s;
}

static void on_candidate(void *ud, const char *cand) {
  peer *p = ud;
  note_call(p);
  g_assert_true(g_str_has_prefix(cand, "candidate:"));
  g_assert_null(strchr(cand, '\r'));
  g_assert_null(strchr(cand, '\n'));
  g_ptr_array_add(p->cands, g_strdup(cand));
  if (p->forward && p->other->ice && (!p->tcp_only || strstr(cand, " tcp "))) {
    char *c = p->mdns_rewrite && strstr(cand, " typ host") ? mdns_version(cand) : g_strdup(cand);
    g_assert_cmpint(weft__ice_add_remote_candidate(p->other->ice, c), ==, 0);
    g_free(c);
  }
}

static void on_gathering_done(void *ud) {
  peer *p = ud;
  note_call(p);
  p->gathered = 1;
  if (p->forward && p->other->ice)
    g_assert_cmpint(weft__ice_remote_gathering_done(p->other->ice), ==, 0);
}

static void on_state(void *ud, weft_ice_connection_state st) {
  peer *p = ud;
  note_call(p);
  g_assert_cmpint(st, !=, p->last_state); /* only on change */
  p->last_state = st;
  p->n_states++;
  if (st == WEFT_ICE_CONNECTED && !p->connected) {
    p->connected = 1;
    p->t_connected = g_get_monotonic_time();
  }
  if (st == WEFT_ICE_FAILED)
    p->failed = 1;
}

/* Datagram i: 23 (a DTLS content type, RFC 7983), i, then i+8 bytes of a
 * pattern derived from i. */
static size_t make_dgram(uint8_t *buf, unsigned i) {
  size_t len = 8 + (i % 200);
  buf[0] = 23;
  buf[1] = (uint8_t)(i >> 8);
  buf[2] = (uint8_t)i;
  for (size_t k = 3; k < len; k++)
    buf[k] = (uint8_t)(k * 7 + i);
  return len;
}

static void on_recv(void *ud, const uint8_t *data, size_t len) {
  peer *p = ud;
  note_call(p);
  uint8_t want[256];
  if (len < 3) {
    p->recv_bad++;
    return;
  }
  unsigned i = (unsigned)data[1] << 8 | data[2];
  size_t wl = make_dgram(want, i);
  if (wl != len || memcmp(want, data, len) != 0)
    p->recv_bad++;
  else
    p->recv_n++;
}

static weft__ice_callbacks callbacks_for(peer *p) {
  weft__ice_callbacks cb = {on_candidate, on_gathering_done, on_state, on_recv, p};
  return cb;
}

static void peer_new(peer *p, const char *name, bool controlling, const weft__ice_config *cfg) {
  memset(p, 0, sizeof *p);
  p->name = name;
  p->cands = g_ptr_array_new_with_free_func(g_free);
  weft__ice_config loop = {.enable_loopback = true};
  weft__ice_callbacks cb = callbacks_for(p);
  p->ice = weft__ice_new(ctx, cfg ? cfg : &loop, controlling, &cb);
  g_assert_nonnull(p->ice);
  g_assert_cmpint(weft__ice_get_state(p->ice), ==, WEFT_ICE_NEW);
}

static void link_peers(peer *a, peer *b, bool forward, bool credentials) {
  a->other = b;
  b->other = a;
  a->forward = b->forward = forward;
  if (credentials) {
    g_assert_cmpint(weft__ice_set_remote_credentials(a->ice, weft__ice_local_ufrag(b->ice),
                                                     weft__ice_local_pwd(b->ice)),
                    ==, 0);
    g_assert_cmpint(weft__ice_set_remote_credentials(b->ice, weft__ice_local_ufrag(a->ice),
                                                     weft__ice_local_pwd(a->ice)),
                    ==, 0);
  }
}

static void wait_pending_closes(void) {
  gint64 end = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
  while (weft__ice_pending_closes(ctx) > 0 && g_get_monotonic_time() < end) {
    if (!g_main_context_iteration(ctx, FALSE))
      g_usleep(500);
  }
  g_assert_cmpint(weft__ice_pending_closes(ctx), ==, 0);
}

static void peer_free(peer *p) {
  weft__ice_free(p->ice);
  p->ice = NULL;
  p->freed = true;
}

static void peers_done(peer *a, peer *b) {
  peer_free(a);
  peer_free(b);
  wait_pending_closes();
  /* Anything still attached to the context must not call us. */
  test_iterate_for(ctx, 20);
  g_assert_cmpint(calls_after_free, ==, 0);
  g_ptr_array_unref(a->cands);
  g_ptr_array_unref(b->cands);
  g_assert_cmpint(weft_debug_live_objects(), ==, 0);
}

static bool both_connected(peer *a, peer *b, guint ms) {
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  while (!(a->connected && b->connected) && g_get_monotonic_time() < end) {
    if (!g_main_context_iteration(ctx, FALSE))
      g_usleep(200);
  }
  return a->connected && b->connected;
}

static void exchange(peer *a, peer *b, unsigned n) {
  uint8_t buf[256];
  int a0 = a->recv_n, b0 = b->recv_n;
  for (unsigned i = 0; i < n; i++) {
    size_t len = make_dgram(buf, i);
    g_assert_cmpint(weft__ice_send(a->ice, buf, len), ==, 0);
    g_assert_cmpint(weft__ice_send(b->ice, buf, len), ==, 0);
    if (i % 20 == 19)
      while (g_main_context_iteration(ctx, FALSE))
        ;
  }
  gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
  while ((a->recv_n - a0 < (int)n || b->recv_n - b0 < (int)n) && g_get_monotonic_time() < end)
    if (!g_main_context_iteration(ctx, FALSE))
      g_usleep(200);
  g_assert_cmpint(a->recv_n - a0, ==, (int)n);
  g_assert_cmpint(b->recv_n - b0, ==, (int)n);
  g_assert_cmpint(a->recv_bad, ==, 0);
  g_assert_cmpint(b->recv_bad, ==, 0);
}

static void check_host_pair(peer *p, const char *remote_type) {
  char *l = NULL, *r = NULL;
  g_assert_cmpint(weft__ice_get_selected_pair(p->ice, &l, &r), ==, 0);
  g_test_message("%s selected %s <-> %s", p->name, l, r);
  g_assert_true(g_str_has_prefix(l, "candidate:"));
  g_assert_true(g_str_has_prefix(r, "candidate:"));
  g_assert_nonnull(strstr(l, " udp "));
  g_assert_nonnull(strstr(l, " 127.0.0.1 "));
  g_assert_nonnull(strstr(r, " 127.0.0.1 "));
  g_assert_nonnull(strstr(l, " typ host"));
  char *want = g_strdup_printf(" typ %s", remote_type);
  g_assert_nonnull(strstr(r, want));
  g_free(want);
  /* A learned remote prflx candidate has no known related address: 0.0.0.0 0
   * (not a copy of its own address); a host candidate has none at all. */
  if (strcmp(remote_type, "prflx") == 0)
    g_assert_nonnull(strstr(r, " raddr 0.0.0.0 rport 0"));
  else
    g_assert_null(strstr(r, " raddr "));
  g_free(l);
  g_free(r);
}

/* ---- Tests ------------------------------------------------------------------ */

static void test_trickle(void) {
  peer a, b;
  peer_new(&a, "A", true, NULL);
  peer_new(&b, "B", false, NULL);
  /* Local credentials: RFC 8839 §5.4 lengths and alphabet. */
  g_assert_cmpuint(strlen(weft__ice_local_ufrag(a.ice)), >=, 4);
  g_assert_cmpuint(strlen(weft__ice_local_pwd(a.ice)), >=, 22);
  g_assert_cmpstr(weft__ice_local_ufrag(a.ice), !=, weft__ice_local_ufrag(b.ice));
  /* Nothing selected yet. */
  uint8_t x = 23;
  char *l = NULL, *r = NULL;
  g_assert_cmpint(weft__ice_send(a.ice, &x, 1), ==, WEFT_ERR_INVALID_STATE);
  g_assert_cmpint(weft__ice_get_selected_pair(a.ice, &l, &r), ==, WEFT_ERR_INVALID_STATE);

  link_peers(&a, &b, true, true);
  g_assert_cmpint(weft__ice_gather(a.ice), ==, 0);
  g_assert_cmpint(weft__ice_gather(a.ice), ==, 0); /* idempotent */
  g_assert_cmpint(weft__ice_gather(b.ice), ==, 0);
  /* Callbacks never run inside our calls: nothing yet. */
  g_assert_cmpuint(a.cands->len, ==, 0);
  g_assert_false(a.gathered);

  g_assert_true(both_connected(&a, &b, 2000));
  g_assert_true(a.gathered && b.gathered);
  g_assert_cmpuint(a.cands->len, >=, 1);
  for (guint i = 0; i < a.cands->len; i++) {
    const char *c = g_ptr_array_index(a.cands, i);
    g_test_message("A local %s", c);
    g_assert_nonnull(strstr(c, " 127.0.0.1 ")); /* loopback only */
    g_assert_true(g_str_has_suffix(c, " generation 0"));
  }
  g_assert_cmpint(weft__ice_get_state(a.ice), ==, WEFT_ICE_CONNECTED);
  g_assert_cmpint(a.last_state, ==, WEFT_ICE_CONNECTED);
  exchange(&a, &b, 100);
  check_host_pair(&a, "host");
  check_host_pair(&b, "host");
  /* Still connected a little later (keepalives, consent). */
  test_iterate_for(ctx, 200);
  g_assert_cmpint(a.last_state, ==, WEFT_ICE_CONNECTED);
  g_assert_cmpint(b.last_state, ==, WEFT_ICE_CONNECTED);
  g_assert_false(a.failed || b.failed);
  peers_done(&a, &b);
}

static void test_non_trickle(void) {
  peer a, b;
  peer_new(&a, "A", false, NULL); /* this time A is controlled */
  peer_new(&b, "B", true, NULL);
  link_peers(&a, &b, false, false);
  g_assert_cmpint(weft__ice_gather(a.ice), ==, 0);
  g_assert_cmpint(weft__ice_gather(b.ice), ==, 0);
  g_assert_true(test_iterate_until(ctx, &a.gathered, 2000));
  g_assert_true(test_iterate_until(ctx, &b.gathered, 2000));
  /* Offer/answer with every candidate in the SDP, a= prefix and CRLF. */
  link_peers(&a, &b, false, true);
  for (guint i = 0; i < a.cands->len; i++) {
    char *line = g_strdup_printf("a=%s\r\n", (char *)g_ptr_array_index(a.cands, i));
    g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, line), ==, 0);
    g_free(line);
  }
  for (guint i = 0; i < b.cands->len; i++)
    g_assert_cmpint(weft__ice_add_remote_candidate(a.ice, g_ptr_array_index(b.cands, i)), ==, 0);
  g_assert_cmpint(weft__ice_remote_gathering_done(a.ice), ==, 0);
  g_assert_cmpint(weft__ice_remote_gathering_done(b.ice), ==, 0);
  g_assert_true(both_connected(&a, &b, 2000));
  exchange(&a, &b, 100);
  check_host_pair(&a, "host");
  check_host_pair(&b, "host");
  peers_done(&a, &b);
}

static void test_candidates_before_credentials(void) {
  peer a, b;
  peer_new(&a, "A", true, NULL);
  peer_new(&b, "B", false, NULL);
  link_peers(&a, &b, true, false); /* trickle, no credentials yet */
  weft__ice_gather(a.ice);
  weft__ice_gather(b.ice);
  g_assert_true(test_iterate_until(ctx, &a.gathered, 2000));
  g_assert_true(test_iterate_until(ctx, &b.gathered, 2000));
  test_iterate_for(ctx, 100);
  /* Candidates were accepted (returned 0) but cannot be checked yet. */
  g_assert_false(a.connected || b.connected);
  g_assert_cmpint(weft__ice_get_state(a.ice), !=, WEFT_ICE_CONNECTED);
  link_peers(&a, &b, true, true);
  g_assert_true(both_connected(&a, &b, 2000));
  check_host_pair(&a, "host");
  check_host_pair(&b, "host");
  exchange(&a, &b, 10);
  peers_done(&a, &b);
}

static void test_garbage_candidates(void) {
  peer a, b;
  peer_new(&a, "A", true, NULL);
  peer_new(&b, "B", false, NULL);
  link_peers(&a, &b, false, true);
  static const struct {
    const char *c;
    const char *msg; /* a word the error message must contain */
  } bad[] = {
      {"", "candidate:"},
      {"candidate:", "foundation"},
      {"a=candidate:", "foundation"},
      {"candidate:1", "component"},
      {"candidate:1 1", "transport"},
      {"candidate:1 1 udp", "priority"},
      {"candidate:1 1 udp 2122260223", "connection-address"},
      {"candidate:1 1 udp 2122260223 127.0.0.1", "port"},
      {"candidate:1 1 udp 2122260223 127.0.0.1 5000", "typ"},
      {"candidate:1 1 udp 2122260223 127.0.0.1 5000 typ", "type"},
      {"candidate:1 1 udp 2122260223 127.0.0.1 99999 typ host", "port"},
      {"candidate:1 1 udp 2122260223 127.0.0.1 0 typ host", "port"},
      {"candidate:1 1 udp 2122260223 127.0.0.1 -1 typ host", "port"},
      {"candidate:1 1 udp 2122260223 127.0.0.1 50x0 typ host", "port"},
      {"candidate:1 1 udp 2122260223 999.1.1.1 5000 typ host", "address"},
      {"candidate:1 1 udp 2122260223 127.0.0.1.5 5000 typ host", "address"},
      {"candidate:1 1 udp 2122260223 not_an_ip! 5000 typ host", "address"},
      {"candidate:1 1 udp 2122260223 ::1::2 5000 typ host", "address"},
      {"candidate:1 1 udp 99999999999 127.0.0.1 5000 typ host", "priority"},
      {"candidate:1 1 udp 12ab 127.0.0.1 5000 typ host", "priority"},
      {"candidate:1 0 udp 1 127.0.0.1 5000 typ host", "component"},
      {"candidate:1 999 udp 1 127.0.0.1 5000 typ host", "component"},
      {"candidate:f@o 1 udp 1 127.0.0.1 5000 typ host", "foundation"},
      {"candidate:123456789012345678901234567890123 1 udp 1 127.0.0.1 5000 typ host", "foundation"},
      {"candidate:1 1 udp 1 127.0.0.1 5000 type host", "typ"},
      {"candidate:1 1 udp 1 127.0.0.1 5000 typ bogus", "type"},
      {"candidate:1 1 udp 1 127.0.0.1 5000 typ srflx raddr", "raddr"},
      {"candidate:1 1 udp 1 127.0.0.1 5000 typ srflx raddr 1.2.3.4 rport 70000", "rport"},
      {"candidate:1 1 udp 1 127.0.0.1 5000 typ srflx raddr 1.2.3.400 rport 1", "raddr"},
      {"candidate:1 1 udp 1 127.0.0.1 5000 typ host generation", "generation"},
      {"candidate:1 1 udp 1 127.0.0.1 5000 typ host\x01", "control"},
      {"candidate:1 1 udp 1 127.0.0.1 5000 typ host \xc3\xa9t\xc3\xa9", "non-ASCII"},
      {"candidate:1 1 udp 1 127.0.0.1 5000\r\ntyp host", "control"},
      {"cand:1 1 udp 1 127.0.0.1 5000 typ host", "candidate:"},
      {"  candidate:1 1 udp 1 127.0.0.1 5000 typ host", "candidate:"},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    int rc = weft__ice_add_remote_candidate(b.ice, bad[i].c);
    g_test_message("'%s' -> %d %s", bad[i].c, rc, weft_last_error_message());
    g_assert_cmpint(rc, ==, WEFT_ERR_SYNTAX);
    g_assert_nonnull(strstr(weft_last_error_message(), bad[i].msg));
  }
  /* Embedded NUL: the C string ends before the port. */
  static const char nul[] = "candidate:1 1 udp 1 127.0.0.1\0 5000 typ host";
  g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, nul), ==, WEFT_ERR_SYNTAX);
  /* Huge: 100 KiB. */
  char *huge = g_malloc(100 * 1024 + 1);
  memset(huge, 'a', 100 * 1024);
  memcpy(huge, "candidate:", 10);
  huge[100 * 1024] = '\0';
  g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, huge), ==, WEFT_ERR_SYNTAX);
  /* Many fields. */
  GString *many = g_string_new("candidate:1 1 udp 1 127.0.0.1 5000 typ host");
  for (int i = 0; i < 60; i++)
    g_string_append(many, " x y");
  g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, many->str), ==, WEFT_ERR_SYNTAX);
  g_string_free(many, TRUE);
  /* Random bytes after the prefix must never crash. */
  GRand *rnd = g_rand_new_with_seed(7);
  for (int n = 0; n < 2000; n++) {
    char buf[96] = "candidate:";
    size_t len = 10 + (size_t)g_rand_int_range(rnd, 0, 80);
    for (size_t k = 10; k < len; k++) {
      static const char alpha[] = "0123456789 .:abcdefhlorstuypx/+-";
      buf[k] = alpha[g_rand_int_range(rnd, 0, (gint32)sizeof alpha - 1)];
    }
    buf[len] = '\0';
    int rc = weft__ice_add_remote_candidate(b.ice, buf);
    g_assert_true(rc == 0 || rc == WEFT_ERR_SYNTAX);
  }
  g_rand_free(rnd);
  g_free(huge);
  g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, NULL), ==, WEFT_ERR_INVALID_ARG);

  /* Valid but unusable: ignored (0), not errors. */
  static const char *const ignored[] = {
      "candidate:1 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
      "candidate:1 1 TCP 1518280447 127.0.0.1 5000 typ host tcptype passive",
      "candidate:1 2 udp 2122260222 127.0.0.1 5001 typ host",
      "candidate:1 1 sctp 2122260222 127.0.0.1 5001 typ host",
      "candidate:1 1 udp 2122260222 example.com 5001 typ host",
  };
  for (size_t i = 0; i < G_N_ELEMENTS(ignored); i++)
    g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, ignored[i]), ==, 0);
  /* Accepted spellings: upper-case UDP, extensions, raddr/rport, IPv6. */
  static const char *const good[] = {
      "candidate:842163049 1 UDP 1677729535 127.0.0.2 40000 typ srflx raddr 127.0.0.1 rport "
      "40001 generation 0 ufrag ",
      "a=candidate:3 1 udp 41885439 127.0.0.3 3478 typ relay raddr 0.0.0.0 rport 0 generation 0 "
      "network-id 1 network-cost 10",
      "candidate:4 1 udp 2122197247 ::1 40002 typ host generation 0",
  };
  char *with_ufrag = g_strconcat(good[0], weft__ice_local_ufrag(a.ice), NULL);
  g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, with_ufrag), ==, 0);
  g_free(with_ufrag);
  g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, good[1]), ==, 0);
  g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, good[2]), ==, 0);
  /* W3C: a ufrag that is not the remote one is an OperationError. */
  g_assert_cmpint(weft__ice_add_remote_candidate(
                      b.ice, "candidate:5 1 udp 1 127.0.0.1 5000 typ host ufrag zzzzzzzz"),
                  ==, WEFT_ERR_OPERATION);

  /* Credentials: RFC 8839 §5.4. */
  g_assert_cmpint(weft__ice_set_remote_credentials(a.ice, "abc", "0123456789012345678901"), ==,
                  WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft__ice_set_remote_credentials(a.ice, "abcd", "short"), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft__ice_set_remote_credentials(a.ice, "ab d", "0123456789012345678901"), ==,
                  WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft__ice_set_remote_credentials(a.ice, NULL, NULL), ==, WEFT_ERR_INVALID_ARG);

  /* After all that garbage the pair still connects. */
  link_peers(&a, &b, true, true);
  weft__ice_gather(a.ice);
  weft__ice_gather(b.ice);
  g_assert_true(both_connected(&a, &b, 2000));
  exchange(&a, &b, 10);
  peers_done(&a, &b);
}

static void test_mdns_unresolvable(void) {
  peer a, b;
  peer_new(&a, "A", true, NULL);
  peer_new(&b, "B", false, NULL);
  link_peers(&a, &b, true, true);
  a.mdns_rewrite = true; /* B only ever sees A as <uuid>.local */
  weft__ice_gather(a.ice);
  weft__ice_gather(b.ice);
  /* The lookup is in flight right after A's candidate reached B. */
  g_assert_true(test_iterate_until(ctx, &a.gathered, 2000));
  g_assert_true(both_connected(&a, &b, 2000));
  /* B knows A only as peer-reflexive: the name never became a candidate. */
  check_host_pair(&b, "prflx");
  check_host_pair(&a, "host");
  exchange(&a, &b, 20);
  /* Direct check that a .local name is never handed to libnice: with no
   * credentials-queue involved, the add returns 0 and nothing is added. */
  g_assert_cmpint(weft__ice_add_remote_candidate(
                      b.ice, "candidate:9 1 udp 2122260223 nowhere-1234.local 5000 typ host"),
                  ==, 0);
  g_assert_cmpint(weft__ice_pending_closes(ctx), >=, 1); /* the lookup */
  peers_done(&a, &b);                                    /* cancels it */
}

/* The remote candidate cap: WEFT__ICE_MAX_REMOTE_CANDIDATES are taken (the
 * pair still connects with the real one among them), the next ones are
 * dropped, counted, and adding still returns 0. */
static void test_remote_candidate_cap(void) {
  peer a, b;
  peer_new(&a, "A", true, NULL);
  peer_new(&b, "B", false, NULL);
  link_peers(&a, &b, false, true);
  weft__ice_gather(a.ice);
  weft__ice_gather(b.ice);
  g_assert_true(test_iterate_until(ctx, &a.gathered, 2000));
  g_assert_true(test_iterate_until(ctx, &b.gathered, 2000));
  /* Junk first (low priority, closed loopback ports), A's real ones last,
   * just at the cap. */
  guint junk = WEFT__ICE_MAX_REMOTE_CANDIDATES - a.cands->len;
  for (guint i = 0; i < junk; i++) {
    char *c = g_strdup_printf("candidate:j%u 1 udp %u 127.0.0.1 %u typ host", i, 1 + i, 1 + i);
    g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, c), ==, 0);
    g_free(c);
  }
  for (guint i = 0; i < a.cands->len; i++)
    g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, g_ptr_array_index(a.cands, i)), ==, 0);
  weft__ice_counters n;
  weft__ice_get_counters(b.ice, &n);
  g_assert_cmpuint(n.remote_candidates, ==, WEFT__ICE_MAX_REMOTE_CANDIDATES);
  g_assert_cmpuint(n.remote_dropped, ==, 0);
  /* Past the cap: dropped and counted, not an error; garbage is still an
   * error (parsing comes first). */
  for (int i = 0; i < 50; i++)
    g_assert_cmpint(
        weft__ice_add_remote_candidate(b.ice, "candidate:x 1 udp 9 127.0.0.1 9 typ host"), ==, 0);
  g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, "candidate:x 1 udp"), ==, WEFT_ERR_SYNTAX);
  weft__ice_get_counters(b.ice, &n);
  g_assert_cmpuint(n.remote_candidates, ==, WEFT__ICE_MAX_REMOTE_CANDIDATES);
  g_assert_cmpuint(n.remote_dropped, ==, 50);
  for (guint i = 0; i < b.cands->len; i++)
    g_assert_cmpint(weft__ice_add_remote_candidate(a.ice, g_ptr_array_index(b.cands, i)), ==, 0);
  g_assert_cmpint(weft__ice_remote_gathering_done(a.ice), ==, 0);
  g_assert_cmpint(weft__ice_remote_gathering_done(b.ice), ==, 0);
  g_assert_true(both_connected(&a, &b, 3000));
  exchange(&a, &b, 20);
  check_host_pair(&b, "host");
  /* An ICE restart is a new generation: the count starts again. */
  g_assert_cmpint(weft__ice_restart(b.ice), ==, 0);
  weft__ice_get_counters(b.ice, &n);
  g_assert_cmpuint(n.remote_candidates, ==, 0);
  g_assert_cmpuint(n.remote_taken, ==, WEFT__ICE_MAX_REMOTE_CANDIDATES);
  g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, g_ptr_array_index(a.cands, 0)), ==, 0);
  weft__ice_get_counters(b.ice, &n);
  g_assert_cmpuint(n.remote_candidates, ==, 1);
  g_assert_cmpuint(n.remote_dropped, ==, 50);
  peers_done(&a, &b);
}

/* Candidates queued before the credentials count against the same cap. */
static void test_remote_candidate_cap_queued(void) {
  peer a, b;
  peer_new(&a, "A", true, NULL);
  peer_new(&b, "B", false, NULL);
  for (int i = 0; i < WEFT__ICE_MAX_REMOTE_CANDIDATES + 7; i++) {
    char *c = g_strdup_printf("candidate:q%d 1 udp %d 127.0.0.1 %d typ host", i, 1 + i, 1 + i);
    g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, c), ==, 0);
    g_free(c);
  }
  weft__ice_counters n;
  weft__ice_get_counters(b.ice, &n);
  g_assert_cmpuint(n.remote_candidates, ==, WEFT__ICE_MAX_REMOTE_CANDIDATES);
  g_assert_cmpuint(n.remote_dropped, ==, 7);
  link_peers(&a, &b, false, true); /* flushes the queue into libnice */
  peers_done(&a, &b);
}

/* At most WEFT__ICE_MAX_LOOKUPS ".local" lookups run at once; the others
 * wait and run as earlier ones finish; end-of-candidates waits for all. */
static void test_mdns_lookup_cap(void) {
  peer a, b;
  peer_new(&a, "A", true, NULL);
  peer_new(&b, "B", false, NULL);
  link_peers(&a, &b, false, true);
  enum { N = WEFT__ICE_MAX_LOOKUPS + 12 };
  for (int i = 0; i < N; i++) {
    char *c =
        g_strdup_printf("candidate:m%d 1 udp %d 7f6e5d4c-%04d-4e3b-9c8d-6a7b8c9d0e1f.local %d "
                        "typ host",
                        i, 100 + i, i, 5000 + i);
    g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, c), ==, 0);
    g_free(c);
  }
  g_assert_cmpint(weft__ice_remote_gathering_done(b.ice), ==, 0);
  weft__ice_counters n;
  weft__ice_get_counters(b.ice, &n);
  g_assert_cmpuint(n.lookups_in_flight, ==, WEFT__ICE_MAX_LOOKUPS);
  g_assert_cmpuint(n.lookups_waiting, ==, N - WEFT__ICE_MAX_LOOKUPS);
  g_assert_cmpuint(n.lookups_waited, ==, N - WEFT__ICE_MAX_LOOKUPS);
  g_assert_cmpuint(n.remote_candidates, ==, N);
  /* Every lookup fails here (no mDNS responder): each one ends, the next
   * starts, never more than the cap at once. */
  gint64 end = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
  do {
    if (!g_main_context_iteration(ctx, FALSE))
      g_usleep(500);
    weft__ice_get_counters(b.ice, &n);
    g_assert_cmpuint(n.lookups_in_flight, <=, WEFT__ICE_MAX_LOOKUPS);
  } while ((n.lookups_in_flight || n.lookups_waiting) && g_get_monotonic_time() < end);
  g_assert_cmpuint(n.lookups_in_flight, ==, 0);
  g_assert_cmpuint(n.lookups_waiting, ==, 0);
  g_assert_cmpuint(n.lookups_max_in_flight, ==, WEFT__ICE_MAX_LOOKUPS);
  /* Just under the cap, after they finished: a new one runs at once. */
  g_assert_cmpint(weft__ice_add_remote_candidate(
                      b.ice, "candidate:z 1 udp 9 aa11bb22-0000-4e3b-9c8d-6a7b8c9d0e1f.local 9 "
                             "typ host"),
                  ==, 0);
  weft__ice_get_counters(b.ice, &n);
  g_assert_cmpuint(n.lookups_in_flight, ==, 1);
  g_assert_cmpuint(n.lookups_waiting, ==, 0);
  /* Waiting lookups are freed with the agent (none left here, but the one
   * in flight is cancelled). */
  peers_done(&a, &b);
}

static void test_garbage_datagrams(void) {
  peer a, b;
  peer_new(&a, "A", true, NULL);
  peer_new(&b, "B", false, NULL);
  link_peers(&a, &b, true, true);
  weft__ice_gather(a.ice);
  weft__ice_gather(b.ice);
  g_assert_true(both_connected(&a, &b, 2000));

  /* A's port from its host candidate: "candidate:F 1 udp P ADDR PORT typ host". */
  gchar **t = g_strsplit(g_ptr_array_index(a.cands, 0), " ", -1);
  guint64 port = g_ascii_strtoull(t[5], NULL, 10);
  g_strfreev(t);
  g_assert_cmpuint(port, >, 0);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  g_assert_cmpint(fd, >=, 0);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  GRand *rnd = g_rand_new_with_seed(42);
  uint8_t buf[1500];
  for (int n = 0; n < 300; n++) {
    size_t len = (size_t)g_rand_int_range(rnd, 0, (gint32)sizeof buf);
    for (size_t k = 0; k < len; k++)
      buf[k] = (uint8_t)g_rand_int(rnd);
    if (n % 3 == 0 && len >= 20) {
      /* STUN-shaped: binding request/response type, magic cookie, bogus
       * length and attributes. */
      buf[0] = (uint8_t)(n & 1);
      buf[1] = n % 2 ? 0x01 : 0x11;
      buf[4] = 0x21, buf[5] = 0x12, buf[6] = 0xa4, buf[7] = 0x42;
    }
    if (n % 50 == 0)
      len = 0;
    g_assert_cmpint(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof to), ==, (ssize_t)len);
    if (n % 20 == 0)
      while (g_main_context_iteration(ctx, FALSE))
        ;
  }
  g_rand_free(rnd);
  close(fd);
  test_iterate_for(ctx, 200);
  g_assert_cmpint(a.last_state, ==, WEFT_ICE_CONNECTED);
  g_assert_cmpint(b.last_state, ==, WEFT_ICE_CONNECTED);
  /* The real peer still gets through intact. */
  int bad_before = a.recv_bad;
  g_test_message("garbage delivered to on_recv: %d", bad_before);
  a.recv_bad = 0;
  exchange(&a, &b, 20);
  peers_done(&a, &b);
}

static void test_url(void) {
  static const struct {
    const char *url, *user, *cred;
    int rc;
    const char *host;
    unsigned port;
    bool turn, tcp;
  } t[] = {
      {"stun:stun.example.org", NULL, NULL, 0, "stun.example.org", 0, false, false},
      {"stun:stun.example.org:19302", NULL, NULL, 0, "stun.example.org", 19302, false, false},
      {"STUN:192.0.2.1:3478", NULL, NULL, 0, "192.0.2.1", 3478, false, false},
      {"stun:[::1]:3478", NULL, NULL, 0, "::1", 3478, false, false},
      {"stun:[2001:db8::1]", NULL, NULL, 0, "2001:db8::1", 0, false, false},
      {"turn:turn.example.org", "u", "p", 0, "turn.example.org", 0, true, false},
      {"turn:turn.example.org:3479?transport=tcp", "u", "p", 0, "turn.example.org", 3479, true,
       true},
      {"turn:10.0.0.1?transport=udp", "u", "p", 0, "10.0.0.1", 0, true, false},
      {"turn:[::1]:3478?transport=tcp", "u", "p", 0, "::1", 3478, true, true},
      {"turn:host", "", "", 0, "host", 0, true, false},
      {"turns:turn.example.org", "u", "p", WEFT_ERR_NOT_SUPPORTED, NULL, 0, false, false},
      {"turns:turn.example.org:5349?transport=tcp", "u", "p", WEFT_ERR_NOT_SUPPORTED, NULL, 0,
       false, false},
      {"stuns:stun.example.org", NULL, NULL, WEFT_ERR_NOT_SUPPORTED, NULL, 0, false, false},
      {"turn:turn.example.org?transport=sctp", "u", "p", WEFT_ERR_NOT_SUPPORTED, NULL, 0, false,
       false},
      {"turn:turn.example.org", NULL, NULL, WEFT_ERR_INVALID_ACCESS, NULL, 0, false, false},
      {"turn:turn.example.org", "u", NULL, WEFT_ERR_INVALID_ACCESS, NULL, 0, false, false},
      {"turn:turn.example.org", NULL, "p", WEFT_ERR_INVALID_ACCESS, NULL, 0, false, false},
      {"http://x", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun://stun.example.org", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun:", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun:host:", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun:host:0", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun:host:65536", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun:host:12a", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun:host?transport=udp", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun:[::1", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun:[1.2.3.4]", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun:[::1]x", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun:ho st", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"stun:999.0.0.1", NULL, NULL, WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"turn:host?foo=bar", "u", "p", WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"turn:host?transport=", "u", "p", WEFT_ERR_SYNTAX, NULL, 0, false, false},
      {"turn:host:3478:1", "u", "p", WEFT_ERR_SYNTAX, NULL, 0, false, false},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(t); i++) {
    weft__ice_server s;
    int rc = weft__ice_parse_server_url(t[i].url, t[i].user, t[i].cred, &s);
    g_test_message("%s -> %d %s", t[i].url, rc, rc ? weft_last_error_message() : "");
    g_assert_cmpint(rc, ==, t[i].rc);
    if (rc == 0) {
      g_assert_cmpstr(s.host, ==, t[i].host);
      g_assert_cmpuint(s.port, ==, t[i].port);
      g_assert_cmpint(s.is_turn, ==, t[i].turn);
      g_assert_cmpint(s.tcp, ==, t[i].tcp);
      if (s.is_turn) {
        g_assert_cmpstr(s.username, ==, t[i].user);
        g_assert_cmpstr(s.credential, ==, t[i].cred);
      } else {
        g_assert_null(s.username);
      }
    } else {
      g_assert_null(s.host);
    }
    weft__ice_server_clear(&s);
  }
  /* A huge URL. */
  char *huge = g_strnfill(5000, 'a');
  memcpy(huge, "stun:", 5);
  weft__ice_server s;
  g_assert_cmpint(weft__ice_parse_server_url(huge, NULL, NULL, &s), ==, WEFT_ERR_SYNTAX);
  g_free(huge);
  g_assert_cmpint(weft__ice_parse_server_url(NULL, NULL, NULL, &s), ==, WEFT_ERR_INVALID_ARG);
  weft__ice_server_clear(NULL);
}

static void test_free_during_checks(void) {
  for (int round = 0; round < 6; round++) {
    peer a, b;
    peer_new(&a, "A", true, NULL);
    peer_new(&b, "B", false, NULL);
    link_peers(&a, &b, true, true);
    weft__ice_gather(a.ice);
    weft__ice_gather(b.ice);
    /* Stop at various points: before anything ran, mid-gathering, while
     * checking, once one side has connected. */
    gint64 end = g_get_monotonic_time() + 2 * G_USEC_PER_SEC;
    for (int k = 0; k < round * 2 && g_get_monotonic_time() < end;)
      if (g_main_context_iteration(ctx, FALSE))
        k++;
    g_test_message("round %d: A %d, B %d", round, a.last_state, b.last_state);
    if (round % 2)
      peers_done(&b, &a);
    else
      peers_done(&a, &b);
  }
  /* Free without ever gathering, and NULL. */
  peer c;
  peer_new(&c, "C", true, NULL);
  peer_free(&c);
  wait_pending_closes();
  g_ptr_array_unref(c.cands);
  weft__ice_free(NULL);
  g_assert_cmpint(calls_after_free, ==, 0);
  g_assert_cmpint(weft_debug_live_objects(), ==, 0);
}

static void test_config(void) {
  weft__ice_callbacks cb = {0};
  weft__ice_config bad = {.port_min = 6000, .port_max = 5000, .enable_loopback = true};
  g_assert_null(weft__ice_new(ctx, &bad, true, &cb));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_RANGE);
  g_assert_null(weft__ice_new(NULL, NULL, true, &cb));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  g_assert_null(weft__ice_new(ctx, NULL, true, NULL));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);

  /* Port range: the host candidate's port lies inside. */
  weft__ice_config pr = {.port_min = 42000, .port_max = 42010, .enable_loopback = true};
  peer a, b;
  peer_new(&a, "A", true, &pr);
  peer_new(&b, "B", false, NULL);
  link_peers(&a, &b, true, true);
  weft__ice_gather(a.ice);
  weft__ice_gather(b.ice);
  g_assert_true(both_connected(&a, &b, 2000));
  gchar **t = g_strsplit(g_ptr_array_index(a.cands, 0), " ", -1);
  guint64 port = g_ascii_strtoull(t[5], NULL, 10);
  g_strfreev(t);
  g_assert_cmpuint(port, >=, 42000);
  g_assert_cmpuint(port, <=, 42010);
  peers_done(&a, &b);
}

/* Relay-only without a TURN server: nothing may be signalled, and host
 * paths must not be used even though the other side offers them. */
static void test_relay_only(void) {
  weft__ice_server stun = {.host = "127.0.0.1", .port = 3478};
  weft__ice_config relay = {
      .servers = &stun, .n_servers = 1, .relay_only = true, .enable_loopback = true};
  peer a, b;
  peer_new(&a, "A", true, &relay);
  peer_new(&b, "B", false, NULL);
  link_peers(&a, &b, true, true);
  weft__ice_gather(a.ice);
  weft__ice_gather(b.ice);
  g_assert_true(test_iterate_until(ctx, &a.gathered, 2000));
  g_assert_cmpuint(a.cands->len, ==, 0);
  test_iterate_for(ctx, 500);
  g_assert_false(a.connected);
  g_assert_false(b.connected);
  peers_done(&a, &b);
}

/* A TURN server given by name is resolved before gathering: gathering waits
 * for the lookup and completes (the server, on a closed loopback port,
 * gives no relay candidate). */
static void test_server_lookup(void) {
  weft__ice_server turn = {
      .host = "localhost", .port = 9, .is_turn = true, .username = "u", .credential = "p"};
  weft__ice_config cfg = {.servers = &turn, .n_servers = 1, .enable_loopback = true};
  peer a;
  peer_new(&a, "A", true, &cfg);
  g_assert_cmpint(weft__ice_gather(a.ice), ==, 0);
  g_assert_true(test_iterate_until(ctx, &a.gathered, 10000));
  g_assert_cmpuint(a.cands->len, >=, 1);
  peer_free(&a);
  wait_pending_closes();
  g_ptr_array_unref(a.cands);
  g_assert_cmpint(calls_after_free, ==, 0);
}

/* The selected pair of @p is ICE-TCP on 127.0.0.1: "tcp" and a tcptype on
 * both sides, one active and one passive (or a peer-reflexive remote). */
static void check_tcp_pair(peer *p) {
  char *l = NULL, *r = NULL;
  g_assert_cmpint(weft__ice_get_selected_pair(p->ice, &l, &r), ==, 0);
  g_test_message("%s selected %s <-> %s", p->name, l, r);
  g_assert_nonnull(strstr(l, " tcp "));
  g_assert_nonnull(strstr(r, " tcp "));
  g_assert_nonnull(strstr(l, " 127.0.0.1 "));
  g_assert_nonnull(strstr(r, " 127.0.0.1 "));
  g_assert_nonnull(strstr(l, " tcptype "));
  g_assert_nonnull(strstr(r, " tcptype "));
  g_assert_null(strstr(l, " udp "));
  g_free(l);
  g_free(r);
}

/* RFC 6544 with ice_tcp: host tcp-active (port 9) and tcp-passive
 * candidates are signalled besides UDP; with only the TCP ones exchanged the
 * agents connect over TCP on 127.0.0.1 and carry datagrams intact (one RFC
 * 4571 frame each). Remote TCP candidates: tcptype active/passive taken (and
 * counted against the cap), so and a missing tcptype ignored. */
static void test_tcp(void) {
  weft__ice_config tcp = {.enable_loopback = true, .ice_tcp = true};
  peer a, b;
  peer_new(&a, "A", true, &tcp);
  peer_new(&b, "B", false, &tcp);
  link_peers(&a, &b, true, true);
  a.tcp_only = b.tcp_only = true;
  weft__ice_gather(a.ice);
  weft__ice_gather(b.ice);
  g_assert_true(both_connected(&a, &b, 5000));
  unsigned udp = 0, active = 0, passive = 0;
  for (guint i = 0; i < a.cands->len; i++) {
    const char *c = g_ptr_array_index(a.cands, i);
    g_test_message("A local %s", c);
    gchar **t = g_strsplit(c, " ", -1);
    g_assert_cmpuint(g_strv_length(t), >=, 8);
    if (strcmp(t[2], "udp") == 0) {
      udp++;
      g_assert_null(strstr(c, "tcptype"));
    } else {
      g_assert_cmpstr(t[2], ==, "tcp");
      g_assert_cmpstr(t[7], ==, "host");
      if (strstr(c, " tcptype active ")) {
        active++;
        g_assert_cmpstr(t[5], ==, "9"); /* RFC 6544 §4.5 */
      } else {
        g_assert_nonnull(strstr(c, " tcptype passive "));
        g_assert_cmpstr(t[5], !=, "9");
        passive++;
      }
    }
    g_strfreev(t);
  }
  g_assert_cmpuint(udp, ==, 1);
  g_assert_cmpuint(active, ==, 1);
  g_assert_cmpuint(passive, ==, 1);
  check_tcp_pair(&a);
  check_tcp_pair(&b);
  exchange(&a, &b, 200);
  weft__ice_counters n;
  weft__ice_get_counters(b.ice, &n);
  g_assert_cmpuint(n.remote_candidates, ==, 2); /* A's two TCP ones */

  /* Remote TCP candidates: what is taken and what is ignored (0 either way;
   * only the taken ones count). */
  static const struct {
    const char *c;
    bool taken;
  } rc[] = {
      {"candidate:t1 1 TCP 1518280447 127.0.0.1 9 typ host tcptype active", true},
      {"candidate:t2 1 tcp 1518280447 127.0.0.1 5000 typ host tcptype PASSIVE generation 0", true},
      {"candidate:t3 1 tcp 1518280447 127.0.0.1 5001 typ srflx raddr 127.0.0.1 rport 5002 "
       "tcptype passive",
       true},
      {"candidate:t4 1 tcp 1518280447 127.0.0.1 5003 typ host tcptype so", false},
      {"candidate:t5 1 tcp 1518280447 127.0.0.1 5004 typ host", false},
      {"candidate:t6 1 tcp 1518280447 127.0.0.1 5005 typ host tcptype bogus", false},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(rc); i++) {
    weft__ice_get_counters(b.ice, &n);
    unsigned before = n.remote_candidates;
    g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, rc[i].c), ==, 0);
    weft__ice_get_counters(b.ice, &n);
    g_assert_cmpuint(n.remote_candidates, ==, before + (rc[i].taken ? 1 : 0));
  }
  /* The pair still works after those. */
  exchange(&a, &b, 20);
  peers_done(&a, &b);

  /* Both on, every candidate exchanged: UDP wins (RFC 6544 §4.2: TCP's
   * type preference is lower), so ICE-TCP changes nothing where UDP works. */
  peer_new(&a, "A", true, &tcp);
  peer_new(&b, "B", false, &tcp);
  link_peers(&a, &b, true, true);
  weft__ice_gather(a.ice);
  weft__ice_gather(b.ice);
  g_assert_true(both_connected(&a, &b, 2000));
  test_iterate_for(ctx, 100); /* let nomination settle */
  for (peer *p = &a; p; p = p == &a ? &b : NULL) {
    char *l = NULL, *r = NULL;
    g_assert_cmpint(weft__ice_get_selected_pair(p->ice, &l, &r), ==, 0);
    g_test_message("%s selected %s <-> %s", p->name, l, r);
    g_assert_nonnull(strstr(l, " udp "));
    g_assert_nonnull(strstr(r, " udp "));
    g_free(l);
    g_free(r);
  }
  exchange(&a, &b, 20);
  peers_done(&a, &b);

  /* Off (the default): no TCP candidate, and remote ones are ignored. */
  weft__ice_config off = {.enable_loopback = true};
  peer_new(&a, "A", true, &off);
  peer_new(&b, "B", false, &off);
  link_peers(&a, &b, true, true);
  weft__ice_gather(a.ice);
  weft__ice_gather(b.ice);
  g_assert_true(both_connected(&a, &b, 2000));
  for (guint i = 0; i < a.cands->len; i++)
    g_assert_null(strstr(g_ptr_array_index(a.cands, i), " tcp "));
  weft__ice_get_counters(b.ice, &n);
  unsigned before = n.remote_candidates;
  g_assert_cmpint(weft__ice_add_remote_candidate(b.ice, rc[1].c), ==, 0);
  weft__ice_get_counters(b.ice, &n);
  g_assert_cmpuint(n.remote_candidates, ==, before);
  check_host_pair(&a, "host");
  peers_done(&a, &b);
}

static int cmp_i64(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return a < b ? -1 : a > b;
}

static void test_timing(void) {
  enum { RUNS = 10 };
  int64_t us[RUNS];
  for (int i = 0; i < RUNS; i++) {
    peer a, b;
    peer_new(&a, "A", true, NULL);
    peer_new(&b, "B", false, NULL);
    link_peers(&a, &b, true, true);
    int64_t t0 = g_get_monotonic_time();
    weft__ice_gather(a.ice);
    weft__ice_gather(b.ice);
    g_assert_true(both_connected(&a, &b, 2000));
    us[i] = MAX(a.t_connected, b.t_connected) - t0;
    peers_done(&a, &b);
  }
  qsort(us, RUNS, sizeof us[0], cmp_i64);
  g_test_message("gather -> both connected: median %.1f ms (min %.1f, max %.1f)",
                 (double)(us[RUNS / 2 - 1] + us[RUNS / 2]) / 2000.0, (double)us[0] / 1000.0,
                 (double)us[RUNS - 1] / 1000.0);
  printf("# ice gather->connected median %.1f ms over %d runs\n",
         (double)(us[RUNS / 2 - 1] + us[RUNS / 2]) / 2000.0, RUNS);
  g_assert_cmpint(us[RUNS / 2], <, 500000);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  ctx = g_main_context_new();
  g_test_add_func("/ice/url", test_url);
  g_test_add_func("/ice/trickle", test_trickle);
  g_test_add_func("/ice/non-trickle", test_non_trickle);
  g_test_add_func("/ice/candidates-before-credentials", test_candidates_before_credentials);
  g_test_add_func("/ice/garbage-candidates", test_garbage_candidates);
  g_test_add_func("/ice/mdns-unresolvable", test_mdns_unresolvable);
  g_test_add_func("/ice/garbage-datagrams", test_garbage_datagrams);
  g_test_add_func("/ice/bounds/remote-candidates", test_remote_candidate_cap);
  g_test_add_func("/ice/bounds/remote-candidates-queued", test_remote_candidate_cap_queued);
  g_test_add_func("/ice/bounds/mdns-lookups", test_mdns_lookup_cap);
  g_test_add_func("/ice/free-during-checks", test_free_during_checks);
  g_test_add_func("/ice/config", test_config);
  g_test_add_func("/ice/relay-only", test_relay_only);
  g_test_add_func("/ice/tcp", test_tcp);
  g_test_add_func("/ice/server-lookup", test_server_lookup);
  g_test_add_func("/ice/timing", test_timing);
  int rc = g_test_run();
  g_main_context_unref(ctx);
  return rc;
}
