/* DTLS over an in-memory lossy link: handshake under loss, reordering and
 * duplication, SRTP key export, fingerprints, fragmented ClientHello
 * reassembly, garbage, timeouts, close_notify. Label "transport".
 *
 * The default-bound timeout case runs as its own CTest entry
 * (test_dtls_timeout, "-p /dtls/timeout/default") because it lasts ~13 s. */
#include <string.h>

#include <glib.h>

#include "core/core.h"
#include "dtls/dtls.h"
#include "lossy_link.h"
#include "test_util.h"

enum { N_MSGS = 100 };

typedef struct peer {
  weft__dtls *d;
  int connected, failed, closed;
  weft__srtp_keys keys;
  weft_error_detail detail;
  int alert;
  char msg[256];
  int64_t connected_us;
  unsigned rx, corrupt, dups, other;
  guint8 seen[N_MSGS];
  gboolean echo; /* send every received datagram back from inside on_data */
  int echo_err;
} peer;

typedef struct pair {
  GMainContext *ctx;
  lossy_link *link;
  peer c, s;
  int64_t start_us;
} pair;

/* 0, 1: ECDSA P-256 (client, server); 2, 3: RSA-2048. */
static weft__dtls_cert *certs[4];

static weft__dtls_cert *pair_cert(int which) {
  if (!certs[which]) {
    certs[which] =
        weft__dtls_cert_new_kind(which >= 2 ? WEFT__CERT_RSA_2048 : WEFT__CERT_ECDSA_P256);
    g_assert_nonnull(certs[which]);
  }
  return certs[which];
}
/* Which certificates pair_new() gives the client and the server. */
static int pair_cert_c = 0, pair_cert_s = 1;

static const char *pair_fp_hex(weft__dtls_cert *c) {
  const char *fp = weft__dtls_cert_fingerprint(c);
  g_assert_true(g_str_has_prefix(fp, "sha-256 "));
  return fp + 8;
}

static size_t pair_msg(unsigned i, uint8_t *buf) {
  size_t len = 4 + (i * 97u) % 1196u;
  buf[0] = (uint8_t)i;
  buf[1] = (uint8_t)(i >> 8);
  buf[2] = 0xA5;
  buf[3] = 0x5A;
  for (size_t j = 4; j < len; j++)
    buf[j] = (uint8_t)(i * 7u + j * 13u);
  return len;
}

static void on_connected(void *ud, const weft__srtp_keys *keys) {
  peer *p = ud;
  p->connected++;
  p->keys = *keys;
  p->connected_us = weft__now_us();
}

static void on_data(void *ud, const uint8_t *data, size_t len) {
  peer *p = ud;
  uint8_t want[1200];
  if (p->echo) {
    int r = weft__dtls_send(p->d, data, len);
    if (r < 0)
      p->echo_err = r;
  }
  if (len < 4 || data[2] != 0xA5 || data[3] != 0x5A) {
    p->other++;
    return;
  }
  unsigned i = data[0] | (unsigned)data[1] << 8;
  if (i >= N_MSGS) {
    p->corrupt++;
    return;
  }
  size_t wl = pair_msg(i, want);
  if (wl != len || memcmp(want, data, len) != 0) {
    p->corrupt++;
    return;
  }
  if (p->seen[i]++)
    p->dups++;
  else
    p->rx++;
}

static void on_failed(void *ud, weft_error_detail detail, int alert, const char *message) {
  peer *p = ud;
  p->failed++;
  p->detail = detail;
  p->alert = alert;
  g_strlcpy(p->msg, message, sizeof p->msg);
}

static void on_closed(void *ud) {
  peer *p = ud;
  p->closed++;
}

static void recv_c(void *user, const uint8_t *data, size_t len) {
  pair *pr = user;
  weft__dtls_input(pr->c.d, data, len);
}

static void recv_s(void *user, const uint8_t *data, size_t len) {
  pair *pr = user;
  weft__dtls_input(pr->s.d, data, len);
}

static pair *pair_new(guint32 seed, const lossy_params *p, gboolean wrong_c, gboolean wrong_s) {
  pair *pr = g_new0(pair, 1);
  pr->ctx = g_main_context_new();
  pr->link = lossy_link_new(pr->ctx, seed);
  if (p)
    lossy_link_set_params(pr->link, p);
  weft__dtls_callbacks cc = {on_connected, on_data, on_failed, on_closed, &pr->c};
  weft__dtls_callbacks cs = {on_connected, on_data, on_failed, on_closed, &pr->s};
  pr->c.d = weft__dtls_new(pr->ctx, pair_cert(pair_cert_c), WEFT__DTLS_CLIENT,
                           lossy_link_sink(pr->link, LOSSY_A), &cc);
  pr->s.d = weft__dtls_new(pr->ctx, pair_cert(pair_cert_s), WEFT__DTLS_SERVER,
                           lossy_link_sink(pr->link, LOSSY_B), &cs);
  g_assert_nonnull(pr->c.d);
  g_assert_nonnull(pr->s.d);
  g_assert_cmpint(weft__dtls_get_role(pr->c.d), ==, WEFT__DTLS_CLIENT);
  g_assert_cmpint(weft__dtls_get_role(pr->s.d), ==, WEFT__DTLS_SERVER);
  g_assert_cmpint(
      weft__dtls_set_remote_fingerprint(
          pr->c.d, "sha-256", pair_fp_hex(pair_cert(wrong_c ? pair_cert_c : pair_cert_s))),
      ==, 0);
  g_assert_cmpint(
      weft__dtls_set_remote_fingerprint(
          pr->s.d, "sha-256", pair_fp_hex(pair_cert(wrong_s ? pair_cert_s : pair_cert_c))),
      ==, 0);
  lossy_link_set_receiver(pr->link, LOSSY_A, recv_c, pr);
  lossy_link_set_receiver(pr->link, LOSSY_B, recv_s, pr);
  return pr;
}

static void pair_start(pair *pr) {
  pr->start_us = weft__now_us();
  g_assert_cmpint(weft__dtls_start(pr->s.d), ==, 0);
  g_assert_cmpint(weft__dtls_start(pr->c.d), ==, 0);
}

static void pair_free(pair *pr) {
  weft__dtls_free(pr->c.d);
  weft__dtls_free(pr->s.d);
  lossy_link_free(pr->link);
  /* Nothing of ours may still be attached. */
  while (g_main_context_iteration(pr->ctx, FALSE))
    ;
  g_main_context_unref(pr->ctx);
  g_free(pr);
}

static gboolean pair_wait(pair *pr, gboolean (*cond)(pair *pr), guint ms) {
  gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
  while (!cond(pr)) {
    if (g_get_monotonic_time() >= end)
      return FALSE;
    if (!g_main_context_iteration(pr->ctx, FALSE))
      g_usleep(200);
  }
  return TRUE;
}

static gboolean both_or_failed(pair *pr) {
  return (pr->c.connected && pr->s.connected) || pr->c.failed || pr->s.failed;
}

static gboolean pair_wait_connected(pair *pr, guint ms) {
  return pair_wait(pr, both_or_failed, ms) && pr->c.connected && pr->s.connected;
}

static void pair_check_keys(pair *pr) {
  const weft__srtp_keys *a = &pr->c.keys, *b = &pr->s.keys;
  static const uint8_t zero[WEFT__SRTP_KEY_LEN];
  g_assert_cmpint(a->profile, ==, WEFT__SRTP_AES128_CM_SHA1_80);
  g_assert_cmpint(b->profile, ==, WEFT__SRTP_AES128_CM_SHA1_80);
  g_assert_true(a->is_client);
  g_assert_false(b->is_client);
  g_assert_cmpmem(a->client_key, WEFT__SRTP_KEY_LEN, b->client_key, WEFT__SRTP_KEY_LEN);
  g_assert_cmpmem(a->server_key, WEFT__SRTP_KEY_LEN, b->server_key, WEFT__SRTP_KEY_LEN);
  g_assert_cmpmem(a->client_salt, WEFT__SRTP_SALT_LEN, b->client_salt, WEFT__SRTP_SALT_LEN);
  g_assert_cmpmem(a->server_salt, WEFT__SRTP_SALT_LEN, b->server_salt, WEFT__SRTP_SALT_LEN);
  g_assert_true(memcmp(a->client_key, a->server_key, WEFT__SRTP_KEY_LEN) != 0);
  g_assert_true(memcmp(a->client_key, zero, WEFT__SRTP_KEY_LEN) != 0);
  g_assert_true(memcmp(a->client_salt, a->server_salt, WEFT__SRTP_SALT_LEN) != 0);
}

static void pair_send_all(pair *pr) {
  uint8_t buf[1200];
  for (unsigned i = 0; i < N_MSGS; i++) {
    size_t n = pair_msg(i, buf);
    g_assert_cmpint(weft__dtls_send(pr->c.d, buf, n), ==, 0);
    g_assert_cmpint(weft__dtls_send(pr->s.d, buf, n), ==, 0);
  }
}

static gboolean rx_all(pair *pr) { return pr->c.rx == N_MSGS && pr->s.rx == N_MSGS; }

/* Both connected with equal keys, then N_MSGS datagrams each way: all intact
 * when @lossless, else whatever arrives intact and never twice (RFC 6347
 * §4.1.2.6 anti-replay drops the link's duplicates). */
static void exchange(pair *pr, gboolean lossless) {
  pair_check_keys(pr);
  g_assert_cmpint(pr->c.failed, ==, 0);
  g_assert_cmpint(pr->s.failed, ==, 0);
  g_assert_cmpint(pr->c.connected, ==, 1);
  g_assert_cmpint(pr->s.connected, ==, 1);
  /* The server may be connected before the client has its Finished; wait for
   * the client so its first records are not epoch-1 records the client cannot
   * read yet (they would just be lost, like any datagram). */
  pair_send_all(pr);
  if (lossless) {
    g_assert_true(pair_wait(pr, rx_all, 5000));
  } else {
    pair_wait(pr, rx_all, 300);
    /* 100 datagrams at <= 30 % loss: far more than 40 arrive. */
    g_assert_cmpuint(pr->c.rx, >=, 40);
    g_assert_cmpuint(pr->s.rx, >=, 40);
  }
  g_assert_cmpuint(pr->c.corrupt + pr->s.corrupt, ==, 0);
  g_assert_cmpuint(pr->c.other + pr->s.other, ==, 0);
  g_assert_cmpuint(pr->c.dups + pr->s.dups, ==, 0);
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* ---- Certificates ------------------------------------------------------- */

static void test_cert(void) {
  enum { N = 10 };
  int64_t t[N];
  weft__dtls_cert *c[N];
  for (int i = 0; i < N; i++) {
    int64_t t0 = weft__now_us();
    c[i] = weft__dtls_cert_new();
    t[i] = weft__now_us() - t0;
    g_assert_nonnull(c[i]);
  }
  qsort(t, N, sizeof t[0], cmp_i64);
  g_print("# cert generation: median %.2f ms, max %.2f ms (n=%d)\n", t[N / 2] / 1000.0,
          t[N - 1] / 1000.0, N);
  for (int i = 0; i < N; i++) {
    const char *fp = weft__dtls_cert_fingerprint(c[i]);
    /* "sha-256 " + 32 uppercase hex pairs joined by ':' */
    g_assert_cmpuint(strlen(fp), ==, 8 + 32 * 3 - 1);
    g_assert_true(g_str_has_prefix(fp, "sha-256 "));
    for (int k = 0; k < 32; k++) {
      const char *h = fp + 8 + 3 * k;
      g_assert_true(g_ascii_isxdigit(h[0]) && !g_ascii_islower(h[0]));
      g_assert_true(g_ascii_isxdigit(h[1]) && !g_ascii_islower(h[1]));
      g_assert_true(k == 31 ? h[2] == '\0' : h[2] == ':');
    }
    size_t der_len, key_len;
    g_assert_nonnull(weft__dtls_cert_der(c[i], &der_len));
    g_assert_nonnull(weft__dtls_cert_key_der(c[i], &key_len));
    g_assert_cmpuint(der_len, >, 200);
    g_assert_cmpuint(key_len, >, 60);
    for (int j = 0; j < i; j++)
      g_assert_cmpstr(fp, !=, weft__dtls_cert_fingerprint(c[j]));
  }
  /* ref/unref: the fingerprint stays valid while a reference is held. */
  char *copy = g_strdup(weft__dtls_cert_fingerprint(c[0]));
  g_assert_true(weft__dtls_cert_ref(c[0]) == c[0]);
  weft__dtls_cert_unref(c[0]);
  g_assert_cmpstr(weft__dtls_cert_fingerprint(c[0]), ==, copy);
  g_free(copy);
  for (int i = 0; i < N; i++)
    weft__dtls_cert_unref(c[i]);
  weft__dtls_cert_unref(NULL);
  g_assert_null(weft__dtls_cert_ref(NULL));
}

/* RSA-2048: bigger (the key alone is about 1.2 KB), slower, same fingerprint form. */
static void test_cert_rsa(void) {
  enum { N = 3 };
  weft__dtls_cert *c[N];
  int64_t t[N];
  for (int i = 0; i < N; i++) {
    int64_t t0 = weft__now_us();
    c[i] = weft__dtls_cert_new_kind(WEFT__CERT_RSA_2048);
    t[i] = weft__now_us() - t0;
    g_assert_nonnull(c[i]);
    size_t der_len, key_len;
    g_assert_nonnull(weft__dtls_cert_der(c[i], &der_len));
    g_assert_nonnull(weft__dtls_cert_key_der(c[i], &key_len));
    g_assert_cmpuint(der_len, >, 600);
    g_assert_cmpuint(key_len, >, 1100);
    g_assert_cmpuint(strlen(weft__dtls_cert_fingerprint(c[i])), ==, 8 + 32 * 3 - 1);
    for (int j = 0; j < i; j++)
      g_assert_cmpstr(weft__dtls_cert_fingerprint(c[i]), !=, weft__dtls_cert_fingerprint(c[j]));
  }
  qsort(t, N, sizeof t[0], cmp_i64);
  g_print("# RSA-2048 cert generation: median %.1f ms, max %.1f ms (n=%d)\n", t[N / 2] / 1000.0,
          t[N - 1] / 1000.0, N);
  for (int i = 0; i < N; i++)
    weft__dtls_cert_unref(c[i]);
}

/* ---- API errors --------------------------------------------------------- */

static int noop_send(void *ctx, const uint8_t *data, size_t len) {
  (void)ctx;
  (void)data;
  (void)len;
  return 0;
}

static void test_api_errors(void) {
  GMainContext *ctx = g_main_context_new();
  weft__dtls_callbacks cb = {0};
  weft__dgram_sink sink = {noop_send, NULL};
  weft__dtls *d = weft__dtls_new(ctx, pair_cert(0), WEFT__DTLS_CLIENT, sink, &cb);
  g_assert_nonnull(d);
  const char *good = pair_fp_hex(pair_cert(1));

  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "md5", good), ==, WEFT_ERR_NOT_SUPPORTED);
  g_assert_nonnull(strstr(weft__error_message(), "md5"));
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-224", good), ==,
                  WEFT_ERR_NOT_SUPPORTED);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "", good), ==, WEFT_ERR_NOT_SUPPORTED);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-256", "AB:CD"), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-256", ""), ==, WEFT_ERR_SYNTAX);
  char *longer = g_strconcat(good, ":AB", NULL);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-256", longer), ==, WEFT_ERR_SYNTAX);
  g_free(longer);
  char *trailing = g_strconcat(good, ":", NULL);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-256", trailing), ==, WEFT_ERR_SYNTAX);
  g_free(trailing);
  char *bad = g_strdup(good);
  bad[3] = 'G';
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-256", bad), ==, WEFT_ERR_SYNTAX);
  bad[3] = good[3];
  bad[2] = '-';
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-256", bad), ==, WEFT_ERR_SYNTAX);
  g_free(bad);
  /* A sha-256 length under sha-1 is a length error. */
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-1", good), ==, WEFT_ERR_SYNTAX);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-1",
                                                    "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:"
                                                    "ff:00:11:22:33"),
                  ==, 0);
  GString *h512 = g_string_new(NULL);
  for (int i = 0; i < 64; i++)
    g_string_append_printf(h512, "%s%02X", i ? ":" : "", i);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "SHA-512", h512->str), ==, 0);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-384", h512->str), ==, WEFT_ERR_SYNTAX);
  g_string_free(h512, TRUE);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, NULL, good), ==, WEFT_ERR_INVALID_ARG);

  g_assert_cmpint(weft__dtls_send(d, (const uint8_t *)"x", 1), ==, WEFT_ERR_INVALID_STATE);
  g_assert_false(weft__dtls_is_connected(d));
  g_assert_cmpuint(weft__dtls_max_send(d), ==, 0);
  g_assert_cmpint(weft__dtls_set_handshake_timeouts(d, 0, 10, 10), ==, WEFT_ERR_RANGE);
  g_assert_cmpint(weft__dtls_set_handshake_timeouts(d, 20, 10, 10), ==, WEFT_ERR_RANGE);
  weft__dtls_free(d);

  /* start() needs a fingerprint; nothing may change after start. */
  d = weft__dtls_new(ctx, pair_cert(0), WEFT__DTLS_SERVER, sink, &cb);
  g_assert_cmpint(weft__dtls_start(d), ==, WEFT_ERR_INVALID_STATE);
  g_assert_nonnull(strstr(weft__error_message(), "fingerprint"));
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-256", good), ==, 0);
  g_assert_cmpint(weft__dtls_start(d), ==, 0);
  g_assert_cmpint(weft__dtls_start(d), ==, WEFT_ERR_INVALID_STATE);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-256", good), ==,
                  WEFT_ERR_INVALID_STATE);
  g_assert_cmpint(weft__dtls_set_handshake_timeouts(d, 10, 20, 30), ==, WEFT_ERR_INVALID_STATE);
  g_assert_cmpint(weft__dtls_send(d, (const uint8_t *)"x", 1), ==, WEFT_ERR_INVALID_STATE);
  weft__dtls_close(d);
  weft__dtls_close(d);
  weft__dtls_free(d);
  weft__dtls_free(NULL);

  g_assert_null(weft__dtls_new(ctx, NULL, WEFT__DTLS_CLIENT, sink, &cb));
  g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_INVALID_ARG);
  g_main_context_unref(ctx);
}

/* ---- Handshakes --------------------------------------------------------- */

static void test_lossless(void) {
  enum { RUNS = 20 };
  int64_t t[RUNS];
  for (int i = 0; i < RUNS; i++) {
    pair *pr = pair_new((guint32)i + 1, NULL, FALSE, FALSE);
    pair_start(pr);
    g_assert_true(pair_wait_connected(pr, 5000));
    t[i] = MAX(pr->c.connected_us, pr->s.connected_us) - pr->start_us;
    if (i == 0) {
      g_assert_true(weft__dtls_is_connected(pr->c.d));
      g_assert_true(weft__dtls_is_connected(pr->s.d));
      exchange(pr, TRUE);
    } else {
      pair_check_keys(pr);
    }
    /* Fresh keys every time. */
    static uint8_t prev[WEFT__SRTP_KEY_LEN];
    g_assert_true(memcmp(prev, pr->c.keys.client_key, sizeof prev) != 0);
    memcpy(prev, pr->c.keys.client_key, sizeof prev);
    /* No retransmission on a lossless link: one flight each way per step. */
    g_assert_cmpuint(weft__dtls_debug_reassembled(pr->s.d), ==, 0);
    pair_free(pr);
  }
  qsort(t, RUNS, sizeof t[0], cmp_i64);
  g_print("# handshake (lossless in-memory link): median %.2f ms, max %.2f ms (n=%d)\n",
          t[RUNS / 2] / 1000.0, t[RUNS - 1] / 1000.0, RUNS);
}

/* issue 13: a peer whose certificate is RSA, in either role. The client
 * offers ECDHE-RSA suites next to the ECDHE-ECDSA ones, so a server with an
 * RSA certificate can answer (before, it failed with handshake_failure: no
 * suite its certificate could sign); a server keeps its certificate's type;
 * an RSA client certificate is authenticated by its fingerprint like an ECDSA
 * one. Each: connected, same SRTP keys, 100 datagrams each way, the suite. */
static void run_cert_kinds(int client_cert, int server_cert, const char *want_suite) {
  pair_cert_c = client_cert;
  pair_cert_s = server_cert;
  pair *pr = pair_new(7, NULL, FALSE, FALSE);
  pair_start(pr);
  g_assert_true(pair_wait_connected(pr, 10000));
  exchange(pr, TRUE);
  g_assert_cmpstr(weft__dtls_get_ciphersuite(pr->c.d), ==, want_suite);
  g_assert_cmpstr(weft__dtls_get_ciphersuite(pr->s.d), ==, want_suite);
  g_print("# client %s, server %s: %s in %.1f ms\n", client_cert >= 2 ? "RSA" : "ECDSA",
          server_cert >= 2 ? "RSA" : "ECDSA", want_suite,
          (MAX(pr->c.connected_us, pr->s.connected_us) - pr->start_us) / 1000.0);
  pair_free(pr);
  pair_cert_c = 0;
  pair_cert_s = 1;
}

static void test_rsa_server(void) { run_cert_kinds(0, 3, "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"); }
static void test_rsa_client(void) {
  run_cert_kinds(2, 1, "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256");
}
static void test_rsa_both(void) { run_cert_kinds(2, 3, "TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"); }

/* A client whose MTU splits every handshake message, its Finished included
 * (OpenSSL does at its 1280-byte MTU after an RSA certificate and
 * CertificateVerify): the server takes the Finished fragments (it used to
 * drop them as malformed and the handshake hung on retransmissions), with
 * an ECDSA and with an RSA client certificate. */
static void run_fragmented_finished(int client_cert) {
  pair_cert_c = client_cert;
  pair *pr = pair_new(11, NULL, FALSE, FALSE);
  /* Epoch 1, AES-GCM: 13 header + 8 nonce + 16 tag + 12 handshake header
   * leave 7 of the 12 verify_data bytes for the first fragment. */
  g_assert_cmpint(weft__dtls_debug_set_handshake_mtu(pr->c.d, 56), ==, WEFT_OK);
  pair_start(pr);
  g_assert_cmpint(weft__dtls_debug_set_handshake_mtu(pr->c.d, 56), ==, WEFT_ERR_INVALID_STATE);
  g_assert_true(pair_wait_connected(pr, 3000));
  g_print("# fragmented Finished (%s client): connected in %.1f ms\n",
          client_cert >= 2 ? "RSA" : "ECDSA",
          (MAX(pr->c.connected_us, pr->s.connected_us) - pr->start_us) / 1000.0);
  /* No flight was resent: the first Finished was taken. */
  g_assert_cmpint(MAX(pr->c.connected_us, pr->s.connected_us) - pr->start_us, <, 900 * 1000);
  exchange(pr, TRUE);
  pair_free(pr);
  pair_cert_c = 0;
}

static void test_fragmented_finished(void) {
  run_fragmented_finished(0);
  run_fragmented_finished(2);
}

/* A stray epoch-1 handshake record the size of a Finished (40 bytes of
 * AES-GCM payload, random) lands just before each side's real Finished, as spoofed or
 * corrupted datagrams can. Its sequence number (1000) is one no Finished of
 * a new epoch carries, so weft drops it instead of handing it to mbedTLS,
 * where a record that fails its MAC while the Finished is awaited is fatal:
 * both sides connect, each at the first try. */
typedef struct stray_ctx {
  GRand *r;
  int injected[2];
} stray_ctx;

static gboolean stray_filter(void *user, lossy_side from, GByteArray *dg) {
  stray_ctx *sc = user;
  if (sc->injected[from])
    return TRUE;
  for (guint off = 0; off + 13 <= dg->len;) {
    const uint8_t *rec = dg->data + off;
    if (weft__rd16(rec + 3) == 1) { /* the first record of epoch 1 */
      uint8_t stray[13 + 40] = {22, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0x03, 0xE8, 0, 40};
      for (size_t i = 13; i < sizeof stray; i++)
        stray[i] = (uint8_t)g_rand_int(sc->r);
      GByteArray *out = g_byte_array_new();
      g_byte_array_append(out, dg->data, off);
      g_byte_array_append(out, stray, sizeof stray);
      g_byte_array_append(out, dg->data + off, dg->len - off);
      g_byte_array_set_size(dg, 0);
      g_byte_array_append(dg, out->data, out->len);
      g_byte_array_unref(out);
      sc->injected[from]++;
      return TRUE;
    }
    off += 13 + weft__rd16(rec + 11);
  }
  return TRUE;
}

static void test_stray_before_finished(void) {
  for (guint32 seed = 50; seed < 54; seed++) {
    pair *pr = pair_new(seed, NULL, FALSE, FALSE);
    stray_ctx sc = {g_rand_new_with_seed(seed), {0, 0}};
    lossy_link_set_filter(pr->link, stray_filter, &sc);
    pair_start(pr);
    gboolean ok = pair_wait_connected(pr, 3000);
    if (!ok)
      g_printerr("seed %u: c '%s' s '%s'\n", seed, pr->c.msg, pr->s.msg);
    g_assert_true(ok);
    g_assert_cmpint(sc.injected[LOSSY_A], ==, 1);
    g_assert_cmpint(sc.injected[LOSSY_B], ==, 1);
    /* No flight was resent (the first resend waits a second). */
    g_assert_cmpint(MAX(pr->c.connected_us, pr->s.connected_us) - pr->start_us, <, 900 * 1000);
    g_assert_cmpint(pr->c.failed + pr->s.failed, ==, 0);
    exchange(pr, TRUE);
    g_rand_free(sc.r);
    pair_free(pr);
  }
}

/* A wrong RSA fingerprint fails like a wrong ECDSA one. */
static void test_rsa_fingerprint_mismatch(void) {
  pair_cert_c = 2;
  pair_cert_s = 3;
  pair *pr = pair_new(9, NULL, TRUE, FALSE);
  pair_start(pr);
  g_assert_true(pair_wait(pr, both_or_failed, 10000));
  g_assert_true(pr->c.failed);
  g_assert_false(pr->c.connected);
  g_assert_cmpint(pr->c.detail, ==, WEFT_DETAIL_FINGERPRINT_FAILURE);
  pair_free(pr);
  pair_cert_c = 0;
  pair_cert_s = 1;
}

static void run_lossy(const lossy_params *p, guint32 seed) {
  pair *pr = pair_new(seed, p, FALSE, FALSE);
  pair_start(pr);
  gboolean ok = pair_wait_connected(pr, 20000);
  if (!ok)
    g_printerr("seed %u: c=%d/%d s=%d/%d %s %s\n", seed, pr->c.connected, pr->c.failed,
               pr->s.connected, pr->s.failed, pr->c.msg, pr->s.msg);
  g_assert_true(ok);
  g_print("# loss %.0f%% dup %.0f%% reorder %.0f%% seed %u: handshake %.1f ms, %u+%u datagrams\n",
          p->loss * 100, p->duplicate * 100, p->reorder * 100, seed,
          (MAX(pr->c.connected_us, pr->s.connected_us) - pr->start_us) / 1000.0,
          lossy_link_sent(pr->link, LOSSY_A), lossy_link_sent(pr->link, LOSSY_B));
  /* The server finishes first; let the client's state settle so both sides'
   * records use the new epoch. */
  exchange(pr, FALSE);
  pair_free(pr);
}

static void test_loss10(void) {
  lossy_params p = {.loss = 0.10};
  for (guint32 seed = 1; seed <= 6; seed++)
    run_lossy(&p, seed);
}

static void test_loss30(void) {
  lossy_params p = {.loss = 0.30};
  for (guint32 seed = 1; seed <= 6; seed++)
    run_lossy(&p, seed);
}

static void test_reorder_dup(void) {
  lossy_params p = {.duplicate = 0.3, .reorder = 0.3};
  for (guint32 seed = 1; seed <= 6; seed++)
    run_lossy(&p, seed);
  lossy_params q = {.loss = 0.1, .duplicate = 0.2, .reorder = 0.2};
  for (guint32 seed = 11; seed <= 14; seed++)
    run_lossy(&q, seed);
}

/* Data sent from inside on_data comes back (re-entrant send). */
static void test_echo_reentrant(void) {
  pair *pr = pair_new(3, NULL, FALSE, FALSE);
  pr->s.echo = TRUE;
  pair_start(pr);
  g_assert_true(pair_wait_connected(pr, 5000));
  uint8_t buf[1200];
  for (unsigned i = 0; i < N_MSGS; i++) {
    size_t n = pair_msg(i, buf);
    g_assert_cmpint(weft__dtls_send(pr->c.d, buf, n), ==, 0);
  }
  g_assert_true(pair_wait(pr, rx_all, 5000));
  g_assert_cmpint(pr->s.echo_err, ==, 0);
  g_assert_cmpuint(pr->c.corrupt + pr->s.corrupt + pr->c.dups + pr->s.dups, ==, 0);
  pair_free(pr);
}

static void test_record_limit(void) {
  pair *pr = pair_new(4, NULL, FALSE, FALSE);
  pair_start(pr);
  g_assert_true(pair_wait_connected(pr, 5000));
  size_t max = weft__dtls_max_send(pr->c.d);
  g_print("# max send: %zu bytes\n", max);
  g_assert_cmpuint(max, >=, 16000);
  g_assert_cmpuint(max, <=, 16384);
  uint8_t *big = g_malloc(max + 1);
  for (size_t i = 0; i <= max; i++)
    big[i] = (uint8_t)(i * 31);
  g_assert_cmpint(weft__dtls_send(pr->c.d, big, max + 1), ==, WEFT_ERR_TOO_BIG);
  /* A full-size record and a 1300-byte one (larger than the handshake MTU). */
  g_assert_cmpint(weft__dtls_send(pr->c.d, big, max), ==, 0);
  g_assert_cmpint(weft__dtls_send(pr->c.d, big, 1300), ==, 0);
  test_iterate_for(pr->ctx, 50);
  g_assert_cmpuint(pr->s.other, ==, 2);
  g_free(big);
  pair_free(pr);
}

/* ---- Fingerprints ------------------------------------------------------- */

static gboolean both_failed(pair *pr) { return pr->c.failed && pr->s.failed; }

static void test_fingerprint_mismatch(void) {
  /* The client checks the server's Certificate (flight 4) and aborts with
   * bad_certificate(42) before sending its own flight; the server gets the
   * alert while waiting for it. */
  pair *pr = pair_new(5, NULL, TRUE, FALSE);
  pair_start(pr);
  g_assert_true(pair_wait(pr, both_failed, 5000));
  test_iterate_for(pr->ctx, 200);
  g_assert_cmpint(pr->c.connected + pr->s.connected, ==, 0);
  g_assert_cmpint(pr->c.failed, ==, 1);
  g_assert_cmpint(pr->c.detail, ==, WEFT_DETAIL_FINGERPRINT_FAILURE);
  g_assert_cmpint(pr->c.alert, ==, 42);
  g_assert_nonnull(strstr(pr->c.msg, "fingerprint mismatch"));
  g_assert_cmpint(pr->s.failed, ==, 1);
  g_assert_cmpint(pr->s.detail, ==, WEFT_DETAIL_DTLS_FAILURE);
  g_assert_cmpint(pr->s.alert, ==, 42);
  /* Dead: send fails, input is ignored. */
  g_assert_cmpint(weft__dtls_send(pr->c.d, (const uint8_t *)"x", 1), ==, WEFT_ERR_INVALID_STATE);
  weft__dtls_input(pr->c.d, (const uint8_t *)"\x16\xfe\xfd", 3);
  pair_free(pr);

  /* The server checks the client's Certificate (flight 5) and aborts before
   * its Finished; the client gets the alert. */
  pr = pair_new(6, NULL, FALSE, TRUE);
  pair_start(pr);
  g_assert_true(pair_wait(pr, both_failed, 5000));
  test_iterate_for(pr->ctx, 200);
  g_assert_cmpint(pr->c.connected + pr->s.connected, ==, 0);
  g_assert_cmpint(pr->s.failed, ==, 1);
  g_assert_cmpint(pr->s.detail, ==, WEFT_DETAIL_FINGERPRINT_FAILURE);
  g_assert_cmpint(pr->s.alert, ==, 42);
  g_assert_cmpint(pr->c.failed, ==, 1);
  g_assert_cmpint(pr->c.detail, ==, WEFT_DETAIL_DTLS_FAILURE);
  g_assert_cmpint(pr->c.alert, ==, 42);
  pair_free(pr);

  /* Same certificate but the fingerprint under another hash: accepted. */
  pr = pair_new(7, NULL, FALSE, FALSE);
  size_t der_len;
  const uint8_t *der = weft__dtls_cert_der(pair_cert(1), &der_len);
  GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA1);
  g_checksum_update(ck, der, (gssize)der_len);
  uint8_t dg[20];
  gsize dl = sizeof dg;
  g_checksum_get_digest(ck, dg, &dl);
  g_checksum_free(ck);
  GString *h = g_string_new(NULL);
  for (int i = 0; i < 20; i++)
    g_string_append_printf(h, "%s%02x", i ? ":" : "", dg[i]);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(pr->c.d, "SHA-1", h->str), ==, 0);
  g_string_free(h, TRUE);
  pair_start(pr);
  g_assert_true(pair_wait_connected(pr, 5000));
  pair_free(pr);
}

/* ---- Fragmented ClientHello --------------------------------------------- */

typedef struct splitter {
  pair *pr;
  gboolean bypass;
  gboolean overlap; /* also a duplicate and an overlapping fragment */
  unsigned splits;
  uint64_t shift; /* added to the client's later epoch-0 sequence numbers */
} splitter;

static uint64_t get48(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 0; i < 6; i++)
    v = v << 8 | p[i];
  return v;
}

static void put48(uint8_t *p, uint64_t v) {
  for (int i = 5; i >= 0; i--, v >>= 8)
    p[i] = (uint8_t)v;
}

static uint32_t get24(const uint8_t *p) { return (uint32_t)p[0] << 16 | p[1] << 8 | p[2]; }

static void put24t(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 16);
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)v;
}

/* Rewrites the client's ClientHello datagram as several records, each a
 * fragment in its own datagram, sent in shuffled order — what a browser with
 * a post-quantum key share does. Epoch-0 records carry no MAC, so the later
 * sequence numbers can be shifted to stay unique, as a real client's are. */
static gboolean split_filter(void *user, lossy_side from, GByteArray *dgram) {
  splitter *sp = user;
  if (sp->bypass || from != LOSSY_A)
    return TRUE;
  uint8_t *d = dgram->data;
  size_t len = dgram->len;
  gboolean is_ch = len >= 25 && d[0] == 22 && d[3] == 0 && d[4] == 0 &&
                   (size_t)(13 + (d[11] << 8 | d[12])) == len && d[13] == 1 && get24(d + 19) == 0 &&
                   get24(d + 22) == get24(d + 14);
  for (size_t off = 0; off + 13 <= len; off += 13 + (size_t)(d[off + 11] << 8 | d[off + 12])) {
    if (d[off + 3] == 0 && d[off + 4] == 0)
      put48(d + off + 5, get48(d + off + 5) + sp->shift);
  }
  if (!is_ch)
    return TRUE;
  uint32_t L = get24(d + 14);
  const uint8_t *body = d + 25;
  uint64_t seq = get48(d + 5);
  uint32_t b1 = L / 3, b2 = 2 * L / 3;
  uint32_t frag[5][2] = {{0, b1},
                         {b1, b2 - b1},
                         {b2, L - b2},
                         {b1, b2 - b1},   /* duplicate of the middle one */
                         {L / 4, L / 2}}; /* overlaps all three */
  int n = sp->overlap ? 5 : 3;
  static const int order3[] = {2, 0, 1}, order5[] = {3, 2, 4, 0, 1};
  const int *order = sp->overlap ? order5 : order3;
  weft__dgram_sink sink = lossy_link_sink(sp->pr->link, LOSSY_A);
  for (int k = 0; k < n; k++) {
    int f = order[k];
    uint32_t off = frag[f][0], fl = frag[f][1];
    uint8_t *rec = g_malloc(25 + fl);
    memcpy(rec, d, 13);
    put48(rec + 5, seq + (uint64_t)k);
    rec[11] = (uint8_t)((12 + fl) >> 8);
    rec[12] = (uint8_t)(12 + fl);
    memcpy(rec + 13, d + 13, 6); /* type, length, message_seq */
    put24t(rec + 19, off);
    put24t(rec + 22, fl);
    memcpy(rec + 25, body + off, fl);
    sp->bypass = TRUE;
    sink.send(sink.ctx, rec, 25 + fl);
    sp->bypass = FALSE;
    g_free(rec);
  }
  sp->shift += (uint64_t)n - 1;
  sp->splits++;
  return FALSE;
}

static void run_fragmented(const lossy_params *p, guint32 seed, gboolean overlap) {
  pair *pr = pair_new(seed, p, FALSE, FALSE);
  splitter sp = {.pr = pr, .overlap = overlap};
  lossy_link_set_filter(pr->link, split_filter, &sp);
  pair_start(pr);
  g_assert_true(pair_wait_connected(pr, 20000));
  g_assert_cmpuint(sp.splits, >=, 1);
  g_assert_cmpuint(weft__dtls_debug_reassembled(pr->s.d), >=, 1);
  g_assert_cmpuint(weft__dtls_debug_reassembled(pr->c.d), ==, 0);
  exchange(pr, p == NULL);
  pair_free(pr);
}

static void test_fragmented_clienthello(void) {
  run_fragmented(NULL, 8, FALSE);
  run_fragmented(NULL, 9, TRUE);
  lossy_params p = {.loss = 0.1, .duplicate = 0.2, .reorder = 0.2};
  for (guint32 seed = 20; seed < 24; seed++)
    run_fragmented(&p, seed, seed & 1);
}

/* A browser-sized ClientHello (a 1600-byte extension standing in for a
 * post-quantum key share) in three fragments of at most 700 bytes, each in
 * its own datagram, last fragment first: the server reassembles it and
 * answers with ServerHello. */
typedef struct capture_sink {
  guint sent;
  guint8 first_type, first_hs_type;
} capture_sink;

static int capture_send(void *ctx, const uint8_t *data, size_t len) {
  capture_sink *c = ctx;
  if (c->sent++ == 0 && len > 13) {
    c->first_type = data[0];
    c->first_hs_type = data[13];
  }
  return 0;
}

static void put16t(GByteArray *b, unsigned v) {
  guint8 x[2] = {(guint8)(v >> 8), (guint8)v};
  g_byte_array_append(b, x, 2);
}

static void test_large_clienthello(void) {
  GMainContext *ctx = g_main_context_new();
  capture_sink cs = {0};
  weft__dtls_callbacks cb = {0};
  weft__dgram_sink sink = {capture_send, &cs};
  weft__dtls *d = weft__dtls_new(ctx, pair_cert(1), WEFT__DTLS_SERVER, sink, &cb);
  g_assert_cmpint(weft__dtls_set_remote_fingerprint(d, "sha-256", pair_fp_hex(pair_cert(0))), ==,
                  0);
  g_assert_cmpint(weft__dtls_start(d), ==, 0);

  GByteArray *ch = g_byte_array_new();
  static const guint8 head[] = {0xFE, 0xFD};
  g_byte_array_append(ch, head, 2);
  guint8 rnd[32];
  weft__random(rnd, sizeof rnd);
  g_byte_array_append(ch, rnd, sizeof rnd);
  static const guint8 ids[] = {0, 0}; /* session_id, cookie: empty */
  g_byte_array_append(ch, ids, 2);
  put16t(ch, 4);
  put16t(ch, 0xC02B); /* ECDHE-ECDSA-AES128-GCM-SHA256 */
  put16t(ch, 0x00FF); /* renegotiation SCSV */
  static const guint8 comp[] = {1, 0};
  g_byte_array_append(ch, comp, 2);
  static const guint8 exts[] = {
      0x00, 0x0A, 0x00, 0x06, 0x00, 0x04, 0x00, 0x1D, 0x00, 0x17, /* supported_groups */
      0x00, 0x0B, 0x00, 0x02, 0x01, 0x00,                         /* ec_point_formats */
      0x00, 0x0D, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03,             /* signature_algorithms */
      0x00, 0x0E, 0x00, 0x05, 0x00, 0x02, 0x00, 0x01, 0x00,       /* use_srtp */
      0x00, 0x17, 0x00, 0x00};                                    /* extended_master_secret */
  enum { BIG = 1600 };
  put16t(ch, sizeof exts + 4 + BIG);
  g_byte_array_append(ch, exts, sizeof exts);
  put16t(ch, 0x11EC); /* unknown to mbedTLS 2.28, like an ML-KEM key share */
  put16t(ch, BIG);
  guint8 *big = g_malloc0(BIG);
  g_byte_array_append(ch, big, BIG);
  g_free(big);

  guint32 L = ch->len;
  g_assert_cmpuint(L, >, 1650);
  const guint32 cuts[4] = {0, 700, 1400, L};
  for (int k = 2; k >= 0; k--) {
    guint32 off = cuts[k], fl = cuts[k + 1] - cuts[k];
    guint8 *rec = g_malloc(25 + fl);
    static const guint8 rh[] = {22, 0xFE, 0xFF, 0, 0, 0, 0, 0, 0};
    memcpy(rec, rh, sizeof rh);
    rec[9] = 0;
    rec[10] = (guint8)k; /* record sequence number k */
    rec[11] = (guint8)((12 + fl) >> 8);
    rec[12] = (guint8)(12 + fl);
    rec[13] = 1;
    put24t(rec + 14, L);
    rec[17] = rec[18] = 0; /* message_seq 0 */
    put24t(rec + 19, off);
    put24t(rec + 22, fl);
    memcpy(rec + 25, ch->data + off, fl);
    weft__dtls_input(d, rec, 25 + fl);
    g_free(rec);
    if (k > 0)
      g_assert_cmpuint(cs.sent, ==, 0);
  }
  g_assert_cmpuint(weft__dtls_debug_reassembled(d), ==, 1);
  g_assert_cmpuint(cs.sent, >=, 1);
  g_assert_cmpuint(cs.first_type, ==, 22);
  g_assert_cmpuint(cs.first_hs_type, ==, 2); /* ServerHello */
  g_byte_array_unref(ch);
  weft__dtls_free(d);
  g_main_context_unref(ctx);
}

/* ---- Garbage ------------------------------------------------------------ */

static void feed_garbage(weft__dtls *d, GRand *r) {
  uint8_t buf[1600];
  /* Random bytes. */
  for (int k = 0; k < 20; k++) {
    size_t n = 1 + (size_t)g_rand_int_range(r, 0, 1500);
    for (size_t i = 0; i < n; i++)
      buf[i] = (uint8_t)g_rand_int(r);
    weft__dtls_input(d, buf, n);
  }
  /* Random bytes behind a plausible record header (type 20..23, DTLS 1.2). */
  for (int k = 0; k < 20; k++) {
    size_t n = 13 + (size_t)g_rand_int_range(r, 0, 300);
    for (size_t i = 0; i < n; i++)
      buf[i] = (uint8_t)g_rand_int(r);
    buf[0] = (uint8_t)g_rand_int_range(r, 20, 24);
    buf[1] = 0xFE;
    buf[2] = 0xFD;
    buf[3] = 0;
    buf[4] = (uint8_t)g_rand_int_range(r, 0, 2);
    if (k & 1) { /* with a length that fits */
      buf[11] = (uint8_t)((n - 13) >> 8);
      buf[12] = (uint8_t)(n - 13);
    }
    weft__dtls_input(d, buf, n);
  }
  static const uint8_t hdr[] = {22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0x40};
  /* Truncated record: says 100 bytes, carries 20. */
  memset(buf, 0, 40);
  memcpy(buf, hdr, sizeof hdr);
  buf[12] = 100;
  weft__dtls_input(d, buf, 33);
  /* Huge record length. */
  buf[11] = 0xFF;
  buf[12] = 0xFF;
  weft__dtls_input(d, buf, 40);
  /* Huge handshake length and fragment length inside a 12-byte record. */
  buf[11] = 0;
  buf[12] = 12;
  buf[13] = 1;
  buf[14] = buf[15] = buf[16] = 0xFF;
  buf[22] = buf[23] = buf[24] = 0xFF;
  weft__dtls_input(d, buf, 25);
  /* A ClientHello fragment of a 60000-byte message (over the bound). */
  memset(buf + 13, 0, 40);
  buf[12] = 12 + 20;
  buf[13] = 1;
  put24t(buf + 14, 60000);
  put24t(buf + 22, 20);
  weft__dtls_input(d, buf, 13 + 12 + 20);
  /* A complete but tiny "ClientHello". */
  put24t(buf + 14, 20);
  weft__dtls_input(d, buf, 13 + 12 + 20);
  /* A fragment whose offset+length run past its message. */
  put24t(buf + 14, 100);
  put24t(buf + 19, 90);
  weft__dtls_input(d, buf, 13 + 12 + 20);
  /* Tiny datagrams. */
  weft__dtls_input(d, buf, 1);
  weft__dtls_input(d, buf, 0);
  weft__dtls_input(d, NULL, 5);
}

/* A plausible ClientHello fragment (offset 0 of a 300-byte message) that
 * never completes: the real ClientHello must still get through once the
 * stray reassembly is stale. */
static void feed_stray_fragment(weft__dtls *d) {
  uint8_t buf[13 + 12 + 50] = {22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 9, 0, 12 + 50, 1};
  put24t(buf + 14, 300);
  put24t(buf + 22, 50);
  buf[25] = 0xFE;
  weft__dtls_input(d, buf, sizeof buf);
}

typedef struct garbage_ctx {
  pair *pr;
  GRand *r;
  int rounds;
} garbage_ctx;

static gboolean garbage_tick(gpointer p) {
  garbage_ctx *g = p;
  feed_garbage(g->pr->c.d, g->r);
  feed_garbage(g->pr->s.d, g->r);
  g->rounds++;
  return G_SOURCE_CONTINUE;
}

static void test_garbage(void) {
  for (guint32 seed = 30; seed < 34; seed++) {
    pair *pr = pair_new(seed, NULL, FALSE, FALSE);
    GRand *r = g_rand_new_with_seed(seed);
    /* Before start (buffered). */
    feed_garbage(pr->c.d, r);
    feed_garbage(pr->s.d, r);
    if (seed & 1)
      feed_stray_fragment(pr->s.d);
    /* During the handshake, every few milliseconds. */
    garbage_ctx g = {pr, r, 0};
    GSource *tick = g_timeout_source_new(3);
    g_source_set_callback(tick, garbage_tick, &g, NULL);
    g_source_attach(tick, pr->ctx);
    pair_start(pr);
    gboolean ok = pair_wait_connected(pr, 10000);
    if (!ok)
      g_printerr("seed %u: c=%d/%d s=%d/%d '%s' '%s'\n", seed, pr->c.connected, pr->c.failed,
                 pr->s.connected, pr->s.failed, pr->c.msg, pr->s.msg);
    g_assert_true(ok);
    /* After the handshake, while data flows. */
    pair_send_all(pr);
    g_assert_true(pair_wait(pr, rx_all, 5000));
    test_iterate_for(pr->ctx, 30);
    g_source_destroy(tick);
    g_source_unref(tick);
    g_assert_cmpint(g.rounds, >, 0);
    g_assert_cmpint(pr->c.failed + pr->s.failed, ==, 0);
    g_assert_cmpuint(pr->c.corrupt + pr->s.corrupt + pr->c.other + pr->s.other, ==, 0);
    g_rand_free(r);
    pair_free(pr);
  }
}

/* A ClientHello replayed after the handshake (a captured first datagram) is
 * ignored by the connected server. */
typedef struct capture {
  GByteArray *first;
} capture;

static gboolean capture_filter(void *user, lossy_side from, GByteArray *dgram) {
  capture *c = user;
  if (from == LOSSY_A && !c->first) {
    c->first = g_byte_array_new();
    g_byte_array_append(c->first, dgram->data, dgram->len);
  }
  return TRUE;
}

static void test_replayed_clienthello(void) {
  pair *pr = pair_new(40, NULL, FALSE, FALSE);
  capture cap = {0};
  lossy_link_set_filter(pr->link, capture_filter, &cap);
  pair_start(pr);
  g_assert_true(pair_wait_connected(pr, 5000));
  g_assert_nonnull(cap.first);
  for (int i = 0; i < 3; i++)
    weft__dtls_input(pr->s.d, cap.first->data, cap.first->len);
  exchange(pr, TRUE);
  g_assert_cmpint(pr->s.connected, ==, 1);
  g_byte_array_unref(cap.first);
  pair_free(pr);
}

/* ---- Timeouts, close, free ---------------------------------------------- */

static gboolean client_failed(pair *pr) { return pr->c.failed != 0; }

static void run_timeout(uint32_t min_ms, uint32_t max_ms, uint32_t total_ms, double lo_ms,
                        double hi_ms, guint sent_want, const char *expect) {
  lossy_params drop_all = {.loss = 1.0};
  pair *pr = pair_new(50, &drop_all, FALSE, FALSE);
  if (min_ms)
    g_assert_cmpint(weft__dtls_set_handshake_timeouts(pr->c.d, min_ms, max_ms, total_ms), ==, 0);
  pair_start(pr);
  g_assert_true(pair_wait(pr, client_failed, (guint)hi_ms + 2000));
  double ms = (weft__now_us() - pr->start_us) / 1000.0;
  g_print("# handshake timeout after %.0f ms (%u..%u ms, cap %u ms): %u datagrams sent\n", ms,
          min_ms, max_ms, total_ms, lossy_link_sent(pr->link, LOSSY_A));
  g_assert_cmpfloat(ms, >=, lo_ms);
  g_assert_cmpfloat(ms, <=, hi_ms);
  g_assert_cmpint(pr->c.detail, ==, WEFT_DETAIL_DTLS_FAILURE);
  g_assert_cmpint(pr->c.alert, ==, -1);
  g_assert_nonnull(strstr(pr->c.msg, expect));
  g_assert_cmpint(pr->c.connected + pr->s.connected + pr->s.failed, ==, 0);
  guint sent = lossy_link_sent(pr->link, LOSSY_A);
  g_assert_cmpuint(sent, ==, sent_want);
  /* Dead: no retransmission after the failure. */
  test_iterate_for(pr->ctx, 100);
  g_assert_cmpuint(lossy_link_sent(pr->link, LOSSY_A), ==, sent);
  g_assert_cmpint(pr->c.failed, ==, 1);
  pair_free(pr);
}

static void test_timeout_short(void) {
  /* ClientHello at 0, 10 and 30 ms; the 40 ms timer reaches the maximum and
   * the handshake fails at 70 ms. */
  run_timeout(10, 40, 5000, 65, 1000, 3, "timed out");
  /* The overall cap fires first (ClientHellos at 0, 10, 30, 70 ms). */
  run_timeout(10, 1000, 150, 145, 1000, 4, "not complete after 150 ms");
}

/* The default bound: ClientHellos at 0, 0.1, 0.3, 0.7, 1.5, 3.1 and 6.3 s, failure
 * when the 6.4 s timer expires: 100+200+400+800+1600+3200+6400 ms = 12.7 s. */
static void test_timeout_default(void) { run_timeout(0, 0, 0, 12600, 14000, 7, "timed out"); }

static gboolean server_closed(pair *pr) { return pr->s.closed != 0; }

static void test_close(void) {
  pair *pr = pair_new(60, NULL, FALSE, FALSE);
  pair_start(pr);
  g_assert_true(pair_wait_connected(pr, 5000));
  exchange(pr, TRUE);
  weft__dtls_close(pr->c.d);
  g_assert_false(weft__dtls_is_connected(pr->c.d));
  g_assert_cmpint(weft__dtls_send(pr->c.d, (const uint8_t *)"x", 1), ==, WEFT_ERR_INVALID_STATE);
  g_assert_true(pair_wait(pr, server_closed, 5000));
  g_assert_cmpint(pr->s.closed, ==, 1);
  g_assert_false(weft__dtls_is_connected(pr->s.d));
  g_assert_cmpint(weft__dtls_send(pr->s.d, (const uint8_t *)"x", 1), ==, WEFT_ERR_INVALID_STATE);
  test_iterate_for(pr->ctx, 50);
  g_assert_cmpint(pr->c.closed + pr->c.failed + pr->s.failed, ==, 0);
  weft__dtls_close(pr->c.d);
  pair_free(pr);
}

static gboolean server_past_hello(pair *pr) { return lossy_link_sent(pr->link, LOSSY_B) > 0; }

static void test_free_midway(void) {
  /* Free the server once it has answered, the client while it waits: no
   * callback, no timer left behind (ASan/valgrind watch the rest). */
  pair *pr = pair_new(70, NULL, FALSE, FALSE);
  pair_start(pr);
  g_assert_true(pair_wait(pr, server_past_hello, 5000));
  weft__dtls_free(pr->s.d);
  pr->s.d = NULL;
  lossy_link_set_receiver(pr->link, LOSSY_B, NULL, NULL);
  test_iterate_for(pr->ctx, 150);
  weft__dtls_free(pr->c.d);
  pr->c.d = NULL;
  test_iterate_for(pr->ctx, 50);
  g_assert_cmpint(pr->c.connected + pr->c.failed + pr->s.connected + pr->s.failed, ==, 0);
  pair_free(pr);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/dtls/cert", test_cert);
  g_test_add_func("/dtls/cert/rsa", test_cert_rsa);
  g_test_add_func("/dtls/api-errors", test_api_errors);
  g_test_add_func("/dtls/handshake/lossless", test_lossless);
  g_test_add_func("/dtls/handshake/loss10", test_loss10);
  g_test_add_func("/dtls/handshake/loss30", test_loss30);
  g_test_add_func("/dtls/handshake/reorder-dup", test_reorder_dup);
  g_test_add_func("/dtls/data/echo-reentrant", test_echo_reentrant);
  g_test_add_func("/dtls/data/record-limit", test_record_limit);
  g_test_add_func("/dtls/fingerprint/mismatch", test_fingerprint_mismatch);
  g_test_add_func("/dtls/rsa/server", test_rsa_server);
  g_test_add_func("/dtls/rsa/client", test_rsa_client);
  g_test_add_func("/dtls/rsa/both", test_rsa_both);
  g_test_add_func("/dtls/rsa/fingerprint-mismatch", test_rsa_fingerprint_mismatch);
  g_test_add_func("/dtls/handshake/fragmented-finished", test_fragmented_finished);
  g_test_add_func("/dtls/handshake/stray-before-finished", test_stray_before_finished);
  g_test_add_func("/dtls/clienthello/fragmented", test_fragmented_clienthello);
  g_test_add_func("/dtls/garbage", test_garbage);
  g_test_add_func("/dtls/clienthello/replayed", test_replayed_clienthello);
  g_test_add_func("/dtls/clienthello/large", test_large_clienthello);
  g_test_add_func("/dtls/timeout/short", test_timeout_short);
  g_test_add_func("/dtls/timeout/default", test_timeout_default);
  g_test_add_func("/dtls/close", test_close);
  g_test_add_func("/dtls/free-midway", test_free_midway);
  int r = g_test_run();
  for (size_t i = 0; i < G_N_ELEMENTS(certs); i++)
    weft__dtls_cert_unref(certs[i]);
  return r;
}
