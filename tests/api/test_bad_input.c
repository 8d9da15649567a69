/*
 * Bad input through the public API: malformed SDP, unsupported and missing
 * attributes, a wrong fingerprint, garbage candidates, garbage datagrams on
 * the ICE port, NULL arguments, and the error tables.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pair.h"

/* A valid offer from a throwaway pc with one data channel. */
static char *make_offer(void) {
  weft_context *ctx = weft_context_new(NULL);
  weft_pc *pc = weft_pc_new(ctx, NULL);
  g_assert_nonnull(pc);
  weft_dc *dc = weft_pc_create_data_channel(pc, "x", NULL);
  g_assert_nonnull(dc);
  char *sdp = NULL;
  g_assert_cmpint(weft_pc_create_offer(pc, NULL, &sdp), ==, WEFT_OK);
  char *copy = g_strdup(sdp);
  weft_free(sdp);
  weft_dc_unref(dc);
  weft_pc_unref(pc);
  weft_context_unref(ctx);
  return copy;
}

/* Replaces the first line starting with @prefix by @repl (NULL: removes it). */
static char *replace_line(const char *sdp, const char *prefix, const char *repl) {
  gchar **lines = g_strsplit(sdp, "\r\n", -1);
  GString *out = g_string_new(NULL);
  gboolean done = FALSE;
  for (gchar **l = lines; *l; l++) {
    if (!**l)
      continue;
    if (!done && g_str_has_prefix(*l, prefix)) {
      done = TRUE;
      if (repl)
        g_string_append_printf(out, "%s\r\n", repl);
      continue;
    }
    g_string_append_printf(out, "%s\r\n", *l);
  }
  g_strfreev(lines);
  g_assert_true(done);
  return g_string_free(out, FALSE);
}

static void expect_remote_fails(const char *sdp, int code, const char *what) {
  weft_context *ctx = weft_context_new(NULL);
  weft_pc *pc = weft_pc_new(ctx, NULL);
  int rc = weft_pc_set_remote_description(pc, WEFT_SDP_OFFER, sdp);
  if (rc != code)
    g_printerr("%s: got %s (%s), want %s\n", what, weft_err_name(rc), weft_last_error_message(),
               weft_err_name(code));
  g_assert_cmpint(rc, ==, code);
  g_assert_cmpint(weft_last_error(), ==, code);
  const char *msg = weft_last_error_message();
  g_test_message("%s -> %s: %s", what, weft_err_name(rc), msg);
  g_assert_cmpstr(msg, !=, "");
  if (code == WEFT_ERR_SYNTAX)
    g_assert_nonnull(strstr(msg, "line"));
  /* Nothing was applied. */
  g_assert_cmpint(weft_pc_get_signaling_state(pc), ==, WEFT_SIGNALING_STABLE);
  char *d = (char *)0x1;
  g_assert_cmpint(weft_pc_get_description(pc, WEFT_DESC_REMOTE, NULL, &d), ==, WEFT_OK);
  g_assert_null(d);
  weft_pc_unref(pc);
  weft_context_unref(ctx);
}

static void test_malformed_sdp(void) {
  char *offer = make_offer();
  g_assert_nonnull(strstr(offer, "m=application"));
  /* Garbage. */
  expect_remote_fails("hello world", WEFT_ERR_SYNTAX, "garbage");
  expect_remote_fails("\x01\x02\x03\xff\xfe", WEFT_ERR_SYNTAX, "binary garbage");
  expect_remote_fails("v=0\r\nthis is not sdp\r\n", WEFT_ERR_SYNTAX, "line without '='");
  /* Truncated inside the m= line. */
  const char *m = strstr(offer, "m=application");
  char *trunc = g_strndup(offer, (gsize)(m - offer) + 6);
  expect_remote_fails(trunc, WEFT_ERR_SYNTAX, "truncated in m=");
  g_free(trunc);
  /* Missing v=. */
  char *nov = replace_line(offer, "v=", NULL);
  expect_remote_fails(nov, WEFT_ERR_SYNTAX, "missing v=");
  g_free(nov);
  /* Bad m= lines. */
  char *badm = replace_line(offer, "m=", "m=application notaport UDP/DTLS/SCTP webrtc-datachannel");
  expect_remote_fails(badm, WEFT_ERR_SYNTAX, "m= port not a number");
  g_free(badm);
  badm = replace_line(offer, "m=", "m=application");
  expect_remote_fails(badm, WEFT_ERR_SYNTAX, "m= without fields");
  g_free(badm);
  badm = replace_line(offer, "m=", "m=");
  expect_remote_fails(badm, WEFT_ERR_SYNTAX, "empty m=");
  g_free(badm);
  /* Bad o= and c= lines. */
  char *bado = replace_line(offer, "o=", "o=- notanumber");
  expect_remote_fails(bado, WEFT_ERR_SYNTAX, "short o=");
  g_free(bado);
  g_free(offer);
}

static void test_unsupported_and_missing(void) {
  char *offer = make_offer();
  /* Unknown fingerprint hash. */
  const char *fp = strstr(offer, "a=fingerprint:sha-256 ");
  g_assert_nonnull(fp);
  char *hex = g_strndup(fp + strlen("a=fingerprint:sha-256 "), 95);
  char *md2 = g_strdup_printf("a=fingerprint:md2 %s", hex);
  char *s = replace_line(offer, "a=fingerprint:", md2);
  expect_remote_fails(s, WEFT_ERR_NOT_SUPPORTED, "md2 fingerprint");
  g_free(s);
  g_free(md2);
  g_free(hex);
  /* Missing ICE credentials or fingerprint: cannot be applied. */
  s = replace_line(offer, "a=ice-ufrag:", NULL);
  expect_remote_fails(s, WEFT_ERR_INVALID_ACCESS, "no ice-ufrag");
  g_free(s);
  s = replace_line(offer, "a=ice-pwd:", NULL);
  expect_remote_fails(s, WEFT_ERR_INVALID_ACCESS, "no ice-pwd");
  g_free(s);
  s = replace_line(offer, "a=fingerprint:", NULL);
  expect_remote_fails(s, WEFT_ERR_INVALID_ACCESS, "no fingerprint");
  g_free(s);
  g_free(offer);
}

/* Wrong fingerprint: a valid sha-256 of some other certificate. */
static char *other_fp;
static int mangle_side = -1;

static char *mangle_fp(pair *p, int from, const char *sdp) {
  if (from != mangle_side)
    return g_strdup(sdp);
  char *line = g_strdup_printf("a=fingerprint:%s", other_fp);
  char *s = replace_line(sdp, "a=fingerprint:", line);
  g_free(line);
  return s;
}

static gboolean pred_failed(pair *p, void *arg) {
  pair_side *s = arg;
  return weft_pc_get_connection_state(s->pc) == WEFT_PC_FAILED &&
         g_atomic_int_get(&s->n_errors) > 0;
}

static void wrong_fingerprint(int liar) {
  /* Another context: another certificate. */
  weft_context *ctx = weft_context_new(NULL);
  weft_pc *pc = weft_pc_new(ctx, NULL);
  g_assert_cmpint(weft_pc_get_local_fingerprint(pc, &other_fp), ==, WEFT_OK);
  weft_pc_unref(pc);
  weft_context_unref(ctx);

  pair *p = pair_new_mode(PAIR_THREAD);
  char *real = NULL;
  g_assert_cmpint(weft_pc_get_local_fingerprint(p->side[0].pc, &real), ==, WEFT_OK);
  g_assert_cmpstr(real, !=, other_fp);
  weft_free(real);
  mangle_side = liar;
  p->sdp_hook = mangle_fp;
  dc_probe *a = pair_create_dc(p, 0, "fp", NULL);
  gint64 t0 = g_get_monotonic_time();
  pair_negotiate(p);
  pair_side *victim = &p->side[1 - liar];
  g_assert_true(pair_wait(p, pred_failed, victim, 15000));
  g_test_message("fingerprint mismatch detected after %.1f ms",
                 (g_get_monotonic_time() - t0) / 1000.0);
  g_assert_cmpint(g_atomic_int_get(&victim->last_error_detail), ==,
                  WEFT_DETAIL_FINGERPRINT_FAILURE);
  int conn[PAIR_MAX_LOG];
  g_mutex_lock(&p->lock);
  int n = victim->n_conn;
  memcpy(conn, victim->conn_log, sizeof(int) * (size_t)n);
  g_mutex_unlock(&p->lock);
  g_assert_cmpint(n, >=, 1);
  g_assert_cmpint(conn[n - 1], ==, WEFT_PC_FAILED);
  for (int i = 0; i < n; i++)
    g_assert_cmpint(conn[i], !=, WEFT_PC_CONNECTED);
  /* No channel ever opened. */
  g_assert_cmpint(g_atomic_int_get(&a->opened), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&p->side[1].n_remote_dcs), ==, 0);
  /* The other side does not reach connected either, in bounded time. */
  pair_pump(p, 200);
  g_assert_cmpint(weft_pc_get_connection_state(p->side[liar].pc), !=, WEFT_PC_CONNECTED);
  weft_free(other_fp);
  other_fp = NULL;
  pair_free(p);
}

static void test_wrong_fingerprint_in_answer(void) { wrong_fingerprint(1); }
static void test_wrong_fingerprint_in_offer(void) { wrong_fingerprint(0); }

static const char *garbage_cands[] = {
    "garbage",
    "candidate:",
    "candidate:1",
    "candidate:1 1",
    "candidate:1 1 udp",
    "candidate:1 1 udp 2130706431",
    "candidate:1 1 udp 2130706431 127.0.0.1",
    "candidate:1 1 udp 2130706431 127.0.0.1 5000",
    "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ",
    "candidate:1 1 udp 2130706431 127.0.0.1 5000 foo host",
    "candidate:1 1 udp 2130706431 127.0.0.1 99999 typ host",
    "candidate:1 1 udp 2130706431 127.0.0.1 -1 typ host",
    "candidate:1 1 udp 2130706431 127.0.0.1 port typ host",
    "candidate:1 one udp 2130706431 127.0.0.1 5000 typ host",
    "candidate:1 1 udp prio 127.0.0.1 5000 typ host",
    "candidate:1 1 udp 99999999999999999999 127.0.0.1 5000 typ host",
    "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=x:y",
    "a=candidate:1 1 udp 2130706431 127.0.0.1",
};

static void throw_garbage_candidates(weft_pc *pc, const char *mid) {
  for (guint i = 0; i < G_N_ELEMENTS(garbage_cands); i++) {
    weft_ice_candidate c = {garbage_cands[i], mid, 0, NULL};
    int rc = weft_pc_add_ice_candidate(pc, &c);
    if (rc != WEFT_ERR_SYNTAX)
      g_printerr("candidate \"%s\": got %s (%s)\n", garbage_cands[i], weft_err_name(rc),
                 weft_last_error_message());
    g_assert_cmpint(rc, ==, WEFT_ERR_SYNTAX);
    g_assert_cmpstr(weft_last_error_message(), !=, "");
  }
  /* Huge and binary candidates. */
  char *big = g_malloc(70001);
  memset(big, 'x', 70000);
  big[70000] = 0;
  memcpy(big, "candidate:", 10);
  weft_ice_candidate c = {big, mid, 0, NULL};
  g_assert_cmpint(weft_pc_add_ice_candidate(pc, &c), ==, WEFT_ERR_SYNTAX);
  g_free(big);
  guint8 *bin = pattern_new(300, 9);
  bin[299] = 0;
  for (int i = 0; i < 299; i++)
    if (!bin[i])
      bin[i] = 1;
  c.candidate = (const char *)bin;
  g_assert_cmpint(weft_pc_add_ice_candidate(pc, &c), ==, WEFT_ERR_SYNTAX);
  g_free(bin);
  /* An mDNS name that does not resolve: accepted, then skipped. */
  weft_ice_candidate md = {
      "candidate:1 1 udp 2130706431 0f4ca37e-55c1-4c40-a4a4-000000000000.local 5000 typ host", mid,
      0, NULL};
  g_assert_cmpint(weft_pc_add_ice_candidate(pc, &md), ==, WEFT_OK);
  /* Well-formed but for an unknown mid / ufrag. */
  weft_ice_candidate um = {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", "no-such-mid",
                           -1, NULL};
  g_assert_cmpint(weft_pc_add_ice_candidate(pc, &um), ==, WEFT_ERR_OPERATION);
  weft_ice_candidate uu = {"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", mid, 0,
                           "nosuchufrag"};
  g_assert_cmpint(weft_pc_add_ice_candidate(pc, &uu), ==, WEFT_ERR_OPERATION);
}

static char *sdp_mid(weft_pc *pc, weft_desc_which which) {
  char *sdp = NULL;
  g_assert_cmpint(weft_pc_get_description(pc, which, NULL, &sdp), ==, WEFT_OK);
  g_assert_nonnull(sdp);
  const char *m = strstr(sdp, "a=mid:");
  g_assert_nonnull(m);
  char *mid = g_strndup(m + 6, strcspn(m + 6, "\r\n"));
  weft_free(sdp);
  return mid;
}

static void test_garbage_candidates(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *a = pair_create_dc(p, 0, "cands", NULL);
  pair_negotiate(p);
  char *mid = sdp_mid(p->side[1].pc, WEFT_DESC_REMOTE);
  throw_garbage_candidates(p->side[1].pc, mid);
  throw_garbage_candidates(p->side[0].pc, mid);
  g_free(mid);
  dc_probe *b = pair_wait_remote_dc(p, 1, "cands", 10000);
  g_assert_nonnull(b);
  g_assert_true(pair_wait_ge(p, &a->opened, 1, 10000));
  g_assert_cmpint(weft_dc_send_text(a->dc, "fine", 4), ==, WEFT_OK);
  g_assert_true(probe_wait_msgs(a, 1, 5000));
  pair_free(p);
}

/* Local 127.0.0.1 ports of a pc, from its gathered description. */
static GArray *local_ports(weft_pc *pc) {
  GArray *ports = g_array_new(FALSE, FALSE, sizeof(guint16));
  char *sdp = NULL;
  g_assert_cmpint(weft_pc_get_description(pc, WEFT_DESC_LOCAL, NULL, &sdp), ==, WEFT_OK);
  gchar **lines = g_strsplit(sdp, "\r\n", -1);
  for (gchar **l = lines; *l; l++) {
    if (!g_str_has_prefix(*l, "a=candidate:"))
      continue;
    gchar **f = g_strsplit(*l, " ", 0);
    if (g_strv_length(f) > 5 && strcmp(f[4], "127.0.0.1") == 0) {
      guint16 port = (guint16)g_ascii_strtoull(f[5], NULL, 10);
      g_array_append_val(ports, port);
    }
    g_strfreev(f);
  }
  g_strfreev(lines);
  weft_free(sdp);
  return ports;
}

static void spray(int fd, GArray *ports, int rounds, guint32 seed) {
  GRand *r = g_rand_new_with_seed(seed);
  guint8 buf[1500];
  for (int k = 0; k < rounds; k++) {
    size_t len;
    int kind = k % 8;
    for (size_t i = 0; i < sizeof buf; i++)
      buf[i] = (guint8)g_rand_int(r);
    switch (kind) {
    case 0: /* random bytes, random length */
      len = 1 + g_rand_int_range(r, 0, 1500);
      break;
    case 1: /* one byte of each class of RFC 7983's demultiplexing */
      len = 1;
      buf[0] = (guint8)((guint8[]){0, 1, 20, 22, 23, 63, 64, 127, 128, 191, 255})[k / 8 % 11];
      break;
    case 2: /* full-size datagram */
      len = 1500;
      break;
    case 3: /* fake DTLS handshake record, lying length */
      len = 13 + g_rand_int_range(r, 0, 200);
      buf[0] = 22;
      buf[1] = 0xfe;
      buf[2] = 0xfd;
      buf[11] = 0xff;
      buf[12] = 0xff;
      break;
    case 4: /* fake DTLS application data, epoch 1 */
      len = 13 + g_rand_int_range(r, 0, 1000);
      buf[0] = 23;
      buf[1] = 0xfe;
      buf[2] = 0xfd;
      buf[3] = 0;
      buf[4] = 1;
      buf[11] = (guint8)((len - 13) >> 8);
      buf[12] = (guint8)(len - 13);
      break;
    case 5: /* fake STUN binding request, correct cookie, garbage attributes */
      len = 20 + 4 * g_rand_int_range(r, 0, 60);
      buf[0] = 0x00;
      buf[1] = 0x01;
      buf[2] = (guint8)((len - 20) >> 8);
      buf[3] = (guint8)(len - 20);
      buf[4] = 0x21;
      buf[5] = 0x12;
      buf[6] = 0xa4;
      buf[7] = 0x42;
      break;
    case 6: /* STUN header with a length beyond the datagram */
      len = 20;
      buf[0] = 0x01;
      buf[1] = 0x01;
      buf[2] = 0x05;
      buf[3] = 0xdc;
      buf[4] = 0x21;
      buf[5] = 0x12;
      buf[6] = 0xa4;
      buf[7] = 0x42;
      break;
    default: /* RTP-looking */
      len = 12 + g_rand_int_range(r, 0, 200);
      buf[0] = 0x80;
      break;
    }
    for (guint i = 0; i < ports->len; i++) {
      struct sockaddr_in sa = {0};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(g_array_index(ports, guint16, i));
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ssize_t n = sendto(fd, buf, len, 0, (struct sockaddr *)&sa, sizeof sa);
      (void)n; /* ICMP port unreachable and the like do not matter */
    }
  }
  g_rand_free(r);
}

static void test_garbage_datagrams(void) {
  pair_opts o = PAIR_OPTS_INIT;
  o.echo_remote = TRUE;
  pair *p = pair_new(&o);
  dc_probe *a = pair_create_dc(p, 0, "udp", NULL);
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  g_assert_cmpint(fd, >=, 0);
  pair_negotiate(p);
  /* During connection establishment. */
  for (int i = 0; i < 2; i++)
    g_assert_true(pair_wait_ge(p, &p->side[i].end_of_cands, 1, 10000));
  GArray *pa = local_ports(p->side[0].pc), *pb = local_ports(p->side[1].pc);
  g_assert_cmpuint(pa->len, >, 0);
  g_assert_cmpuint(pb->len, >, 0);
  for (int k = 0; k < 10; k++) {
    spray(fd, pa, 16, 100 + k);
    spray(fd, pb, 16, 200 + k);
    pair_pump(p, 5);
  }
  dc_probe *b = pair_wait_remote_dc(p, 1, "udp", 10000);
  g_assert_nonnull(b);
  g_assert_true(pair_wait_ge(p, &a->opened, 1, 10000));
  /* After: interleaved with traffic. */
  int sent = 0;
  for (int k = 0; k < 20; k++) {
    spray(fd, pa, 40, 300 + k);
    spray(fd, pb, 40, 400 + k);
    char msg[32];
    int n = g_snprintf(msg, sizeof msg, "after %d", k);
    g_assert_cmpint(weft_dc_send_text(a->dc, msg, (size_t)n), ==, WEFT_OK);
    sent++;
    pair_pump(p, 5);
  }
  g_assert_true(probe_wait_msgs(a, sent, 10000));
  for (int k = 0; k < sent; k++) {
    char msg[32];
    g_snprintf(msg, sizeof msg, "after %d", k);
    g_assert_cmpstr((const char *)probe_msg(a, k)->data, ==, msg);
  }
  g_assert_cmpint(weft_pc_get_connection_state(p->side[0].pc), ==, WEFT_PC_CONNECTED);
  g_assert_cmpint(weft_pc_get_connection_state(p->side[1].pc), ==, WEFT_PC_CONNECTED);
  close(fd);
  g_array_unref(pa);
  g_array_unref(pb);
  pair_free(p);
}

static void noop_dc(weft_dc *dc, void *ud) {}
static void noop_pc(weft_pc *pc, void *ud) {}

static void test_null_args(void) {
  char *s = NULL;
  size_t sz = 0;
  weft_sdp_type t;
  weft_ice_candidate c = {"candidate:1 1 udp 1 127.0.0.1 5000 typ host", NULL, -1, NULL};
  /* Context. */
  weft_context_options bad = WEFT_CONTEXT_OPTIONS_INIT;
  bad.struct_size = 1;
  g_assert_null(weft_context_new(&bad));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  bad = (weft_context_options)WEFT_CONTEXT_OPTIONS_INIT;
  bad.mode = (weft_context_mode)42;
  g_assert_null(weft_context_new(&bad));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  g_assert_null(weft_context_new_for_main_context(NULL));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_context_get_fd(NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_context_dispatch(NULL, 0), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_context_wait(NULL, 0), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_context_is_current(NULL), ==, 0);
  g_assert_null(weft_context_ref(NULL));
  weft_context_unref(NULL);
  /* Config. */
  g_assert_null(weft_config_copy(NULL));
  weft_config_free(NULL);
  g_assert_cmpint(weft_config_add_ice_server(NULL, "stun:x", NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_config_set_ice_transport_policy(NULL, WEFT_ICE_POLICY_ALL), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_config_set_port_range(NULL, 0, 0), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_config_set_max_message_size(NULL, 1), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_config_set_send_buffer_limit(NULL, 1), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_config_set_enable_loopback(NULL, 1), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_config_set_ice_tcp(NULL, 1), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_config_set_certificate_reuse(NULL, 1), ==, WEFT_ERR_INVALID_ARG);
  weft_config *cfg = weft_config_new();
  g_assert_cmpint(weft_config_add_ice_server(cfg, NULL, NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_config_add_ice_server(cfg, "stun:stun.example.org:3478", NULL, NULL), ==,
                  WEFT_OK);
  g_assert_cmpint(weft_last_error(), ==, WEFT_OK);
  g_assert_cmpint(weft_config_add_ice_server(cfg, "stun:127.0.0.1", NULL, NULL), ==, WEFT_OK);
  g_assert_cmpint(weft_config_add_ice_server(cfg, "turn:127.0.0.1:3478?transport=udp", "u", "p"),
                  ==, WEFT_OK);
  g_assert_cmpint(weft_config_add_ice_server(cfg, "http://example.org", NULL, NULL), ==,
                  WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft_config_add_ice_server(cfg, "stun:", NULL, NULL), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft_config_add_ice_server(cfg, "stun:host:99999", NULL, NULL), ==,
                  WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft_config_add_ice_server(cfg, "turn:127.0.0.1", NULL, NULL), ==,
                  WEFT_ERR_INVALID_ACCESS);
  g_assert_cmpint(weft_config_add_ice_server(cfg, "turns:127.0.0.1", "u", "p"), ==,
                  WEFT_ERR_NOT_SUPPORTED);
  g_assert_cmpint(weft_config_set_port_range(cfg, 20000, 10000), ==, WEFT_ERR_RANGE);
  weft_config *cfg2 = weft_config_copy(cfg);
  g_assert_nonnull(cfg2);
  weft_config_free(cfg2);
  weft_config_free(cfg);

  /* Peer connection. */
  g_assert_null(weft_pc_ref(NULL));
  weft_pc_unref(NULL);
  g_assert_cmpint(weft_pc_close(NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_user_data(NULL, NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_null(weft_pc_get_user_data(NULL));
  g_assert_cmpint(weft_pc_set_on_ice_candidate(NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_on_connection_state_change(NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_on_ice_connection_state_change(NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_on_ice_gathering_state_change(NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_on_signaling_state_change(NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_on_negotiation_needed(NULL, noop_pc), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_on_data_channel(NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_on_error(NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_create_offer(NULL, NULL, &s), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_create_answer(NULL, &s), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_local_description(NULL, WEFT_SDP_UNSPEC, NULL), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_remote_description(NULL, WEFT_SDP_OFFER, "v=0"), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_add_ice_candidate(NULL, &c), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_get_description(NULL, WEFT_DESC_LOCAL, &t, &s), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_get_selected_candidate_pair(NULL, &s, &s), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_get_local_fingerprint(NULL, &s), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_get_max_message_size(NULL, &sz), ==, WEFT_ERR_INVALID_ARG);
  g_assert_null(s);
  g_assert_null(weft_pc_create_data_channel(NULL, "x", NULL));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  /* Getters: sane values. */
  weft_pc_state ps = weft_pc_get_connection_state(NULL);
  g_assert_true(ps == WEFT_PC_NEW || ps == WEFT_PC_CLOSED);
  weft_ice_connection_state is = weft_pc_get_ice_connection_state(NULL);
  g_assert_true(is == WEFT_ICE_NEW || is == WEFT_ICE_CLOSED);
  weft_ice_gathering_state gs = weft_pc_get_ice_gathering_state(NULL);
  g_assert_true(gs >= WEFT_GATHERING_NEW && gs <= WEFT_GATHERING_COMPLETE);
  weft_signaling_state ss = weft_pc_get_signaling_state(NULL);
  g_assert_true(ss == WEFT_SIGNALING_STABLE || ss == WEFT_SIGNALING_CLOSED);

  /* NULL out-parameters and arguments on a real pc. */
  weft_context *ctx = weft_context_new(NULL);
  weft_pc *pc = weft_pc_new(ctx, NULL);
  g_assert_nonnull(pc);
  g_assert_cmpint(weft_pc_create_offer(pc, NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_create_answer(pc, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_get_description(pc, WEFT_DESC_LOCAL, &t, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_get_local_fingerprint(pc, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_get_max_message_size(pc, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_get_selected_candidate_pair(pc, NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_remote_description(pc, WEFT_SDP_OFFER, NULL), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_remote_description(pc, WEFT_SDP_ANSWER, NULL), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_set_remote_description(pc, (weft_sdp_type)77, "v=0\r\n"), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_get_description(pc, (weft_desc_which)77, &t, &s), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_pc_get_max_message_size(pc, &sz), ==, WEFT_OK);
  g_assert_cmpuint(sz, ==, 0); /* no remote description yet */
  /* A NULL label: the header does not say; either refused or taken as "". */
  weft_dc *nl = weft_pc_create_data_channel(pc, NULL, NULL);
  if (nl)
    g_assert_cmpstr(weft_dc_get_label(nl), ==, "");
  else
    g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  weft_dc_unref(nl);
  /* Invalid init structures. */
  weft_dc_init init = WEFT_DC_INIT;
  init.negotiated = 1; /* without id */
  g_assert_null(weft_pc_create_data_channel(pc, "x", &init));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  init.id = 1024;
  g_assert_null(weft_pc_create_data_channel(pc, "x", &init));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_RANGE);
  init = (weft_dc_init)WEFT_DC_INIT;
  init.struct_size = 2;
  g_assert_null(weft_pc_create_data_channel(pc, "x", &init));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  char *longlabel = g_malloc(65537);
  memset(longlabel, 'l', 65536);
  longlabel[65536] = 0;
  g_assert_null(weft_pc_create_data_channel(pc, longlabel, NULL));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  init = (weft_dc_init)WEFT_DC_INIT;
  init.protocol = longlabel;
  g_assert_null(weft_pc_create_data_channel(pc, "x", &init));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  g_free(longlabel);

  /* Data channels. */
  g_assert_null(weft_dc_ref(NULL));
  weft_dc_unref(NULL);
  g_assert_cmpint(weft_dc_close(NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_dc_set_user_data(NULL, NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_null(weft_dc_get_user_data(NULL));
  g_assert_cmpint(weft_dc_set_on_open(NULL, noop_dc), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_dc_set_on_message(NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_dc_set_on_closing(NULL, noop_dc), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_dc_set_on_close(NULL, noop_dc), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_dc_set_on_error(NULL, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_dc_set_on_buffered_amount_low(NULL, noop_dc), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_dc_send(NULL, "x", 1), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_dc_send_text(NULL, "x", 1), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_dc_send_owned(NULL, WEFT_MSG_BINARY, NULL, 0, NULL), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_dc_set_buffered_amount_low_threshold(NULL, 1), ==, WEFT_ERR_INVALID_ARG);
  const char *lbl = weft_dc_get_label(NULL);
  g_assert_true(lbl == NULL || *lbl == 0);
  const char *proto = weft_dc_get_protocol(NULL);
  g_assert_true(proto == NULL || *proto == 0);
  g_assert_cmpint(weft_dc_get_id(NULL), ==, -1);
  g_assert_cmpint(weft_dc_get_max_retransmits(NULL), ==, -1);
  g_assert_cmpint(weft_dc_get_max_packet_life_time(NULL), ==, -1);
  g_assert_cmpint(weft_dc_get_negotiated(NULL), ==, 0);
  g_assert_cmpuint(weft_dc_get_buffered_amount(NULL), ==, 0);
  g_assert_cmpuint(weft_dc_get_buffered_amount_low_threshold(NULL), ==, 0);
  g_assert_cmpint(weft_dc_get_ready_state(NULL), ==, WEFT_DC_CLOSED);
  weft_dc *dc = weft_pc_create_data_channel(pc, "null-args", NULL);
  g_assert_nonnull(dc);
  g_assert_cmpint(weft_dc_send(dc, NULL, 5), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_dc_send_text(dc, NULL, 5), ==, WEFT_ERR_INVALID_ARG);
  weft_dc_unref(dc);
  weft_pc_unref(pc);
  weft_context_unref(ctx);

  /* Misc. */
  weft_free(NULL);
  g_assert_cmpint(weft_set_log_spec(NULL), <, 0);
  g_assert_cmpint(weft_set_log_spec("ice:loud"), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft_set_log_spec("nonsense"), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft_set_log_spec("ice:debug,dtls:3,*:warning"), ==, WEFT_OK);
  weft_set_log_level(WEFT_LOG_WARNING);
  pair_assert_no_live_objects(2000);
}

static void test_error_tables(void) {
  struct {
    int code;
    const char *name, *dom, *msg;
  } table[] = {
#define ROW_(name, code, dom, msg) {code, "WEFT_ERR_" #name, dom, msg},
      WEFT_ERRNO_MAP(ROW_)
#undef ROW_
  };
  GHashTable *names = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; i < G_N_ELEMENTS(table); i++) {
    g_assert_cmpint(table[i].code, <, 0);
    g_assert_cmpint(table[i].code, >, WEFT_ERR_LAST_);
    g_assert_cmpstr(weft_strerror(table[i].code), ==, table[i].msg);
    g_assert_cmpstr(weft_err_name(table[i].code), ==, table[i].name);
    g_assert_cmpstr(weft_err_dom_name(table[i].code), ==, table[i].dom);
    g_assert_false(g_hash_table_contains(names, table[i].name));
    g_hash_table_add(names, (gpointer)table[i].name);
  }
  g_assert_cmpuint(G_N_ELEMENTS(table), ==, -WEFT_ERR_LAST_ - 1);
  g_hash_table_unref(names);
  static const int outside[] = {WEFT_ERR_LAST_, -100, 1, 42, -2147483647 - 1, 2147483647};
  for (guint i = 0; i < G_N_ELEMENTS(outside); i++) {
    g_assert_cmpstr(weft_strerror(outside[i]), ==, "unknown error");
    g_assert_nonnull(weft_err_name(outside[i]));
    g_assert_nonnull(weft_err_dom_name(outside[i]));
  }
  g_assert_nonnull(weft_strerror(WEFT_OK));
  g_assert_nonnull(weft_err_name(WEFT_OK));
  g_assert_nonnull(weft_err_dom_name(WEFT_OK));
  /* Version and build info. */
  g_assert_cmpuint(weft_version(), ==, WEFT_VERSION_NUMBER);
  g_assert_cmpstr(weft_version_string(), ==, WEFT_VERSION_STRING);
  const char *bi = weft_build_info();
  g_test_message("build info: %s", bi);
  g_assert_nonnull(strstr(bi, "libnice"));
  g_assert_nonnull(strstr(bi, "mbedTLS"));
  g_assert_nonnull(strstr(bi, "usrsctp"));
  g_assert_nonnull(strstr(bi, "libsrtp2"));
  g_assert_nonnull(strstr(bi, "GLib"));
}

/* The last error is per thread. */
static gpointer fail_on_thread(gpointer unused) {
  g_assert_cmpint(weft_dc_close(NULL), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  return NULL;
}

static void test_last_error_thread_local(void) {
  weft_config *cfg = weft_config_new();
  g_assert_cmpint(weft_config_set_port_range(cfg, 9, 1), ==, WEFT_ERR_RANGE);
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_RANGE);
  char *msg = g_strdup(weft_last_error_message());
  g_assert_cmpstr(msg, !=, "");
  GThread *t = g_thread_new("fail", fail_on_thread, NULL);
  g_thread_join(t);
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_RANGE);
  g_assert_cmpstr(weft_last_error_message(), ==, msg);
  g_free(msg);
  /* Success resets it. */
  g_assert_cmpint(weft_config_set_port_range(cfg, 1, 9), ==, WEFT_OK);
  g_assert_cmpint(weft_last_error(), ==, WEFT_OK);
  weft_config_free(cfg);
}

/* Log handler contract: never concurrent, never re-entrant, known
 * components, valid levels. */
static gint log_inside, log_overlaps, log_count, log_bad;
static void log_fn(weft_log_level level, const char *component, const char *message, void *ud) {
  if (g_atomic_int_add(&log_inside, 1) != 0)
    g_atomic_int_inc(&log_overlaps);
  static const char *known[] = {"pc",      "ice", "nice", "dtls", "mbedtls", "sctp",
                                "usrsctp", "dc",  "sdp",  "jsep", "loop",    "api"};
  gboolean ok = FALSE;
  for (guint i = 0; i < G_N_ELEMENTS(known); i++)
    ok = ok || g_strcmp0(component, known[i]) == 0;
  if (!ok || !message || level < WEFT_LOG_ERROR || level > WEFT_LOG_TRACE || ud != &log_count) {
    g_printerr("bad log call: level %d component %s\n", (int)level,
               component ? component : "(null)");
    g_atomic_int_inc(&log_bad);
  }
  g_atomic_int_inc(&log_count);
  g_usleep(10); /* widen the window for overlaps */
  g_atomic_int_add(&log_inside, -1);
}

static void test_log_handler(void) {
  weft_set_log_handler(log_fn, &log_count);
  g_assert_cmpint(weft_set_log_spec("*:debug"), ==, WEFT_OK);
  /* Two pairs on two contexts (two engine threads) connecting at once. */
  pair *p1 = pair_new_mode(PAIR_THREAD), *p2 = pair_new_mode(PAIR_QUEUED);
  pair_create_dc(p1, 0, "log1", NULL);
  pair_create_dc(p2, 0, "log2", NULL);
  pair_negotiate(p1);
  pair_negotiate(p2);
  g_assert_true(pair_wait_connected(p2, 10000));
  g_assert_true(pair_wait_connected(p1, 10000));
  /* And an error path that logs warnings. */
  expect_remote_fails("garbage", WEFT_ERR_SYNTAX, "garbage with logging on");
  pair_release(p1);
  pair_release(p2);
  weft_set_log_level(WEFT_LOG_WARNING);
  weft_set_log_handler(NULL, NULL);
  g_test_message("log handler: %d calls", g_atomic_int_get(&log_count));
  g_assert_cmpint(g_atomic_int_get(&log_count), >, 0);
  g_assert_cmpint(g_atomic_int_get(&log_overlaps), ==, 0);
  g_assert_cmpint(g_atomic_int_get(&log_bad), ==, 0);
  /* Restored: no more calls. */
  int n = g_atomic_int_get(&log_count);
  expect_remote_fails("garbage", WEFT_ERR_SYNTAX, "garbage with the default handler");
  g_assert_cmpint(g_atomic_int_get(&log_count), ==, n);
  pair_assert_no_live_objects(2000);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/api/bad-input/malformed-sdp", test_malformed_sdp);
  g_test_add_func("/api/bad-input/unsupported-missing", test_unsupported_and_missing);
  g_test_add_func("/api/bad-input/wrong-fingerprint-answer", test_wrong_fingerprint_in_answer);
  g_test_add_func("/api/bad-input/wrong-fingerprint-offer", test_wrong_fingerprint_in_offer);
  g_test_add_func("/api/bad-input/garbage-candidates", test_garbage_candidates);
  g_test_add_func("/api/bad-input/garbage-datagrams", test_garbage_datagrams);
  g_test_add_func("/api/bad-input/null-args", test_null_args);
  g_test_add_func("/api/bad-input/error-tables", test_error_tables);
  g_test_add_func("/api/bad-input/last-error-thread-local", test_last_error_thread_local);
  g_test_add_func("/api/bad-input/log-handler", test_log_handler);
  return g_test_run();
}
