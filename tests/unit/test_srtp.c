/* srtp/: SRTP and SRTCP sessions over libsrtp2 — known-answer vectors, both
 * roles and profiles, replay window, ROC, tampering, malformed input. */
#include <string.h>

#include <glib.h>

#include "core/core.h"
#include "srtp/srtp.h"

/* ---- known-answer data ------------------------------------------------------
 * Master key and salt of RFC 3711 Appendix B.3 (whose session keys are
 * C61E7A93... / 30CBBC08... / CEBE321F...). The expected packets were computed
 * by an independent script (Python `cryptography`: AES-128-ECB for the
 * RFC 3711 §4.1.1 counter-mode keystream and §4.3.1 key derivation, hmac/sha1
 * for §4.2) that first reproduced the RFC's B.2 keystream blocks and B.3
 * session keys; its output for the first packet and the first SRTCP packet
 * is also the vector libsrtp documents in its test driver (srtp_validate). */
static const uint8_t b3_key[16] = {0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0,
                                   0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39};
static const uint8_t b3_salt[14] = {0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe,
                                    0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};

/* SSRC 0xcafebabe, seq 0x1234, ROC 0, 16 bytes of 0xab. */
static const uint8_t kat_rtp_plain[28] = {
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xab, 0xab,
    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
/* AES_CM_128_HMAC_SHA1_80; the _32 profile gives the first 32 bytes (same
 * keystream, the HMAC truncated to 4 bytes). */
static const uint8_t kat_rtp_srtp[38] = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe,
                                         0xba, 0xbe, 0x4e, 0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8,
                                         0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02, 0xb7, 0x8d,
                                         0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb};
/* An SR header + 16 bytes of 0xab: SRTCP index 1 (the first one libsrtp
 * sends), E=1, 80-bit tag — for both profiles (RFC 5764 §4.1.2). */
static const uint8_t kat_rtcp_plain[24] = {0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe,
                                           0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
                                           0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
static const uint8_t kat_rtcp_srtcp[38] = {
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28, 0x03, 0x5b, 0xe4,
    0x87, 0xb9, 0xbd, 0xbe, 0xf8, 0x90, 0x41, 0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00,
    0x00, 0x01, 0x99, 0x3e, 0x08, 0xcd, 0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98};

/* ROC (RFC 3711 §3.3.1): seq 0xffff then seq 0 of SSRC 0x11223344; the
 * second packet's index is 0x10000 (ROC 1), which changes the keystream and
 * enters the tag (the ROC is appended to the authenticated portion). */
static const uint8_t roc_last_plain[44] = {
    0x80, 0x60, 0xff, 0xff, 0x00, 0x00, 0x03, 0xe8, 0x11, 0x22, 0x33, 0x44, 0x00, 0x01, 0x02,
    0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11,
    0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f};
static const uint8_t roc_last_srtp[54] = {
    0x80, 0x60, 0xff, 0xff, 0x00, 0x00, 0x03, 0xe8, 0x11, 0x22, 0x33, 0x44, 0x12, 0x4d,
    0x1e, 0x08, 0xae, 0x0a, 0x4f, 0xec, 0xf6, 0xf5, 0x9c, 0xec, 0x4b, 0x09, 0xb4, 0x41,
    0x20, 0xa0, 0x6d, 0xb8, 0x65, 0x2a, 0xd7, 0x68, 0xde, 0x38, 0xeb, 0x5a, 0x6d, 0x90,
    0x29, 0x8d, 0xe3, 0x33, 0xba, 0x21, 0x9b, 0x7c, 0x01, 0xfa, 0x91, 0xc9};
/* The same payload as seq 0, timestamp 1090, ROC 1. For the _32 profile the
 * packet is the first 48 bytes (the HMAC truncated to 4 bytes). */
static const uint8_t roc_first_srtp[54] = {
    0x80, 0x60, 0x00, 0x00, 0x00, 0x00, 0x04, 0x42, 0x11, 0x22, 0x33, 0x44, 0xfa, 0x3a,
    0x8f, 0xcc, 0xa6, 0x5b, 0x99, 0x84, 0x1e, 0x58, 0xa3, 0x4a, 0x06, 0xab, 0x79, 0xa0,
    0x05, 0xe5, 0x42, 0x64, 0x70, 0x53, 0x15, 0xc6, 0x96, 0x02, 0x34, 0x8c, 0x95, 0x8d,
    0x49, 0x0d, 0xfd, 0x75, 0x0d, 0x69, 0x00, 0x90, 0x2f, 0x81, 0x4f, 0xf4};

/* One CSRC and a one-byte-header extension (RFC 8285): the whole header,
 * extension included, stays in the clear (RFC 3711 §3.1); only the 20-byte
 * payload is encrypted. */
static const uint8_t ext_plain[44] = {
    0x91, 0x60, 0x43, 0x21, 0x00, 0x00, 0x10, 0x00, 0xca, 0xfe, 0xba, 0xbe, 0xde, 0xad, 0xbe,
    0xef, 0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0x00, 0x00, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55,
    0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55, 0x55};
static const uint8_t ext_srtp[54] = {
    0x91, 0x60, 0x43, 0x21, 0x00, 0x00, 0x10, 0x00, 0xca, 0xfe, 0xba, 0xbe, 0xde, 0xad,
    0xbe, 0xef, 0xbe, 0xde, 0x00, 0x01, 0x10, 0xaa, 0x00, 0x00, 0xdd, 0x9c, 0xdd, 0x42,
    0xd0, 0x07, 0x33, 0x81, 0xca, 0x9b, 0x1d, 0xd4, 0x3b, 0x29, 0xf0, 0xc5, 0xa5, 0xfd,
    0x55, 0x8d, 0xb7, 0xe4, 0x53, 0x44, 0xd6, 0x2d, 0x61, 0x85, 0xff, 0xd4};

/* ---- helpers ---------------------------------------------------------------- */

enum { BUF = 1500 + WEFT__SRTP_RTCP_HEADROOM };

/* Keys where the client side uses the RFC 3711 B.3 master key/salt and the
 * server side a different, fixed one. */
static weft__srtp_keys make_keys(weft__srtp_profile profile, bool is_client) {
  weft__srtp_keys k;
  memset(&k, 0, sizeof k);
  k.profile = profile;
  k.is_client = is_client;
  memcpy(k.client_key, b3_key, sizeof b3_key);
  memcpy(k.client_salt, b3_salt, sizeof b3_salt);
  for (int i = 0; i < WEFT__SRTP_KEY_LEN; i++)
    k.server_key[i] = (uint8_t)(0x40 + 3 * i);
  for (int i = 0; i < WEFT__SRTP_SALT_LEN; i++)
    k.server_salt[i] = (uint8_t)(0x90 ^ (7 * i));
  return k;
}

static weft__srtp *new_session(weft__srtp_profile profile, bool is_client) {
  weft__srtp_keys k = make_keys(profile, is_client);
  weft__srtp *s = NULL;
  g_assert_cmpint(weft__srtp_new(&k, &s), ==, 0);
  g_assert_nonnull(s);
  return s;
}

static size_t build_rtp(uint8_t *buf, uint16_t seq, uint32_t ts, uint32_t ssrc, size_t payload,
                        uint8_t fill) {
  buf[0] = 0x80;
  buf[1] = 96;
  buf[2] = (uint8_t)(seq >> 8);
  buf[3] = (uint8_t)seq;
  buf[4] = (uint8_t)(ts >> 24);
  buf[5] = (uint8_t)(ts >> 16);
  buf[6] = (uint8_t)(ts >> 8);
  buf[7] = (uint8_t)ts;
  buf[8] = (uint8_t)(ssrc >> 24);
  buf[9] = (uint8_t)(ssrc >> 16);
  buf[10] = (uint8_t)(ssrc >> 8);
  buf[11] = (uint8_t)ssrc;
  for (size_t i = 0; i < payload; i++)
    buf[12 + i] = (uint8_t)(fill + i * 31);
  return 12 + payload;
}

/* A receiver report with @blocks empty-ish report blocks (RFC 3550 §6.4.2). */
static size_t build_rtcp(uint8_t *buf, uint32_t ssrc, unsigned blocks, uint8_t fill) {
  size_t len = 8 + 24 * blocks;
  buf[0] = (uint8_t)(0x80 | blocks);
  buf[1] = 201;
  buf[2] = (uint8_t)((len / 4 - 1) >> 8);
  buf[3] = (uint8_t)(len / 4 - 1);
  buf[4] = (uint8_t)(ssrc >> 24);
  buf[5] = (uint8_t)(ssrc >> 16);
  buf[6] = (uint8_t)(ssrc >> 8);
  buf[7] = (uint8_t)ssrc;
  for (size_t i = 8; i < len; i++)
    buf[i] = (uint8_t)(fill ^ (i * 13));
  return len;
}

/* Protects @plain with @tx and returns it unprotected by @rx, asserting the
 * round trip restores every byte. */
static void rtp_roundtrip(weft__srtp *tx, weft__srtp *rx, const uint8_t *plain, size_t len) {
  uint8_t buf[BUF];
  memcpy(buf, plain, len);
  size_t n = 0;
  g_assert_cmpint(weft__srtp_protect_rtp(tx, buf, len, sizeof buf, &n), ==, 0);
  g_assert_cmpuint(n, ==, len + weft__srtp_rtp_overhead(tx));
  /* The header stays in the clear; a non-empty payload does not. */
  g_assert_cmpmem(buf, 12, plain, 12);
  if (len > 28)
    g_assert_true(memcmp(buf + 12, plain + 12, len - 12) != 0);
  /* Unprotect from an exact-size heap copy so ASan sees any over-read. */
  uint8_t *wire = g_memdup2(buf, n);
  size_t m = 0;
  weft__srtp_fail f = WEFT__SRTP_FAIL_OTHER;
  g_assert_cmpint(weft__srtp_unprotect_rtp(rx, wire, n, &m, &f), ==, 0);
  g_assert_cmpint(f, ==, WEFT__SRTP_FAIL_NONE);
  g_assert_cmpmem(wire, m, plain, len);
  g_free(wire);
}

static void rtcp_roundtrip(weft__srtp *tx, weft__srtp *rx, const uint8_t *plain, size_t len) {
  uint8_t buf[BUF];
  memcpy(buf, plain, len);
  size_t n = 0;
  g_assert_cmpint(weft__srtp_protect_rtcp(tx, buf, len, sizeof buf, &n), ==, 0);
  g_assert_cmpuint(n, ==, len + 14);
  g_assert_cmpuint(n, ==, len + weft__srtp_rtcp_overhead(tx));
  g_assert_cmpmem(buf, 8, plain, 8);
  g_assert_cmpuint(buf[len] & 0x80, ==, 0x80); /* E flag: encrypted (RFC 3711 §3.4) */
  uint8_t *wire = g_memdup2(buf, n);
  size_t m = 0;
  weft__srtp_fail f = WEFT__SRTP_FAIL_OTHER;
  g_assert_cmpint(weft__srtp_unprotect_rtcp(rx, wire, n, &m, &f), ==, 0);
  g_assert_cmpint(f, ==, WEFT__SRTP_FAIL_NONE);
  g_assert_cmpmem(wire, m, plain, len);
  g_free(wire);
}

/* Unprotects a copy of @pkt and expects failure class @want. */
static int expect_rtp_fail(weft__srtp *rx, const uint8_t *pkt, size_t len, weft__srtp_fail want,
                           const char *needle) {
  uint8_t *wire = g_memdup2(pkt, len ? len : 1);
  size_t m = 99;
  weft__srtp_fail f = WEFT__SRTP_FAIL_NONE;
  int rc = weft__srtp_unprotect_rtp(rx, wire, len, &m, &f);
  g_assert_cmpint(rc, <, 0);
  g_assert_cmpint(f, ==, want);
  g_assert_cmpuint(m, ==, 0);
  if (needle && !strstr(weft__error_message(), needle))
    g_error("expected \"%s\" in \"%s\"", needle, weft__error_message());
  g_free(wire);
  return rc;
}

/* ---- tests ------------------------------------------------------------------- */

typedef struct {
  int rc;
  weft__srtp *s;
} init_job;

static gpointer init_thread(gpointer data) {
  init_job *j = data;
  weft__srtp_keys k = make_keys(WEFT__SRTP_AES128_CM_SHA1_80, true);
  j->rc = weft__srtp_new(&k, &j->s);
  return NULL;
}

/* First test of the process: srtp_init() races from several threads and must
 * still run once (g_once), every session usable afterwards. */
static void test_init_threads(void) {
  enum { N = 8 };
  init_job jobs[N];
  GThread *t[N];
  for (int i = 0; i < N; i++) {
    jobs[i].rc = 1;
    jobs[i].s = NULL;
    t[i] = g_thread_new("srtp-init", init_thread, &jobs[i]);
  }
  for (int i = 0; i < N; i++)
    g_thread_join(t[i]);
  weft__srtp *server = new_session(WEFT__SRTP_AES128_CM_SHA1_80, false);
  for (int i = 0; i < N; i++) {
    g_assert_cmpint(jobs[i].rc, ==, 0);
    rtp_roundtrip(jobs[i].s, server, kat_rtp_plain, sizeof kat_rtp_plain);
    /* The server's inbound window saw that packet: every later sender of
     * the same SSRC/seq is a replay, so use a fresh server each time. */
    weft__srtp_free(server);
    server = new_session(WEFT__SRTP_AES128_CM_SHA1_80, false);
    weft__srtp_free(jobs[i].s);
  }
  weft__srtp_free(server);
}

static void test_new_errors(void) {
  weft__srtp *s = (weft__srtp *)0x1;
  weft__srtp_keys k = make_keys(WEFT__SRTP_NONE, true);
  g_assert_cmpint(weft__srtp_new(&k, &s), ==, WEFT_ERR_NOT_SUPPORTED);
  g_assert_null(s);
  k.profile = (weft__srtp_profile)7;
  g_assert_cmpint(weft__srtp_new(&k, &s), ==, WEFT_ERR_NOT_SUPPORTED);
  g_assert_cmpint(weft__srtp_new(NULL, &s), ==, WEFT_ERR_INVALID_ARG);
  k.profile = WEFT__SRTP_AES128_CM_SHA1_32;
  g_assert_cmpint(weft__srtp_new(&k, NULL), ==, WEFT_ERR_INVALID_ARG);
  weft__srtp_free(NULL);
  g_assert_cmpint(weft__srtp_get_profile(NULL), ==, WEFT__SRTP_NONE);

  s = new_session(WEFT__SRTP_AES128_CM_SHA1_32, true);
  g_assert_cmpint(weft__srtp_get_profile(s), ==, WEFT__SRTP_AES128_CM_SHA1_32);
  g_assert_cmpuint(weft__srtp_rtp_overhead(s), ==, 4);
  g_assert_cmpuint(weft__srtp_rtcp_overhead(s), ==, 14);
  weft__srtp_free(s);
  s = new_session(WEFT__SRTP_AES128_CM_SHA1_80, false);
  g_assert_cmpuint(weft__srtp_rtp_overhead(s), ==, 10);
  g_assert_cmpuint(weft__srtp_rtcp_overhead(s), ==, 14);
  weft__srtp_free(s);

  g_assert_cmpstr(weft__srtp_status_name(7), ==, "auth_fail");
  g_assert_cmpstr(weft__srtp_status_name(9), ==, "replay_fail");
  g_assert_cmpstr(weft__srtp_status_name(10), ==, "replay_old");
  g_assert_cmpstr(weft__srtp_status_name(-1), ==, "unknown");
  g_assert_cmpstr(weft__srtp_status_name(1000), ==, "unknown");
}

/* Known answers: exact bytes for both profiles, RTP and RTCP. The client
 * protects with client_key (RFC 5764 §4.2), so a client session keyed with
 * the B.3 master key produces the reference packets, and a server session
 * built from the same keys reads them. */
static void test_vectors(void) {
  static const weft__srtp_profile profiles[] = {WEFT__SRTP_AES128_CM_SHA1_80,
                                                WEFT__SRTP_AES128_CM_SHA1_32};
  for (size_t p = 0; p < G_N_ELEMENTS(profiles); p++) {
    weft__srtp *client = new_session(profiles[p], true);
    weft__srtp *server = new_session(profiles[p], false);
    size_t tag = profiles[p] == WEFT__SRTP_AES128_CM_SHA1_80 ? 10 : 4;
    uint8_t buf[BUF];
    size_t n = 0, m = 0;

    memcpy(buf, kat_rtp_plain, sizeof kat_rtp_plain);
    g_assert_cmpint(weft__srtp_protect_rtp(client, buf, sizeof kat_rtp_plain, sizeof buf, &n), ==,
                    0);
    g_assert_cmpmem(buf, n, kat_rtp_srtp, 28 + tag);
    g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, n, &m, NULL), ==, 0);
    g_assert_cmpmem(buf, m, kat_rtp_plain, sizeof kat_rtp_plain);

    /* SRTCP: identical bytes for both profiles — the _32 profile keeps the
     * 80-bit SRTCP tag (RFC 5764 §4.1.2). */
    memcpy(buf, kat_rtcp_plain, sizeof kat_rtcp_plain);
    g_assert_cmpint(weft__srtp_protect_rtcp(client, buf, sizeof kat_rtcp_plain, sizeof buf, &n), ==,
                    0);
    g_assert_cmpmem(buf, n, kat_rtcp_srtcp, sizeof kat_rtcp_srtcp);
    g_assert_cmpint(weft__srtp_unprotect_rtcp(server, buf, n, &m, NULL), ==, 0);
    g_assert_cmpmem(buf, m, kat_rtcp_plain, sizeof kat_rtcp_plain);

    /* CSRC + header extension stay in the clear. */
    if (tag == 10) {
      memcpy(buf, ext_plain, sizeof ext_plain);
      g_assert_cmpint(weft__srtp_protect_rtp(client, buf, sizeof ext_plain, sizeof buf, &n), ==, 0);
      g_assert_cmpmem(buf, n, ext_srtp, sizeof ext_srtp);
      g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, n, &m, NULL), ==, 0);
      g_assert_cmpmem(buf, m, ext_plain, sizeof ext_plain);
    }

    /* The server cannot read its own direction: it unprotects with the
     * client key only. */
    memcpy(buf, kat_rtp_plain, sizeof kat_rtp_plain);
    g_assert_cmpint(weft__srtp_protect_rtp(server, buf, sizeof kat_rtp_plain, sizeof buf, &n), ==,
                    0);
    g_assert_true(memcmp(buf, kat_rtp_srtp, 28) != 0);
    g_assert_cmpint(weft__srtp_unprotect_rtp(client, buf, n, &m, NULL), ==, 0);
    g_assert_cmpmem(buf, m, kat_rtp_plain, sizeof kat_rtp_plain);

    weft__srtp_free(client);
    weft__srtp_free(server);
  }
}

/* RFC 3711 §3.3.1: the ROC increments when the sequence number wraps; the
 * sender's ROC enters the keystream and the tag (exact bytes), and the
 * receiver's index estimate follows it. */
static void test_roc_vector(void) {
  static const weft__srtp_profile profiles[] = {WEFT__SRTP_AES128_CM_SHA1_80,
                                                WEFT__SRTP_AES128_CM_SHA1_32};
  for (size_t p = 0; p < G_N_ELEMENTS(profiles); p++) {
    bool is80 = profiles[p] == WEFT__SRTP_AES128_CM_SHA1_80;
    weft__srtp *client = new_session(profiles[p], true);
    weft__srtp *server = new_session(profiles[p], false);
    uint8_t buf[BUF];
    size_t n = 0, m = 0;
    memcpy(buf, roc_last_plain, sizeof roc_last_plain);
    g_assert_cmpint(weft__srtp_protect_rtp(client, buf, sizeof roc_last_plain, sizeof buf, &n), ==,
                    0);
    g_assert_cmpmem(buf, n, roc_last_srtp, is80 ? 54 : 48);
    uint8_t first_wire[64];
    size_t first_n = 0;
    /* seq 0 after 0xffff: ROC 1. */
    memcpy(buf, roc_last_plain, sizeof roc_last_plain);
    buf[2] = buf[3] = 0;
    buf[6] = 0x04;
    buf[7] = 0x42;
    g_assert_cmpint(weft__srtp_protect_rtp(client, buf, sizeof roc_last_plain, sizeof buf, &n), ==,
                    0);
    g_assert_cmpmem(buf, n, roc_first_srtp, is80 ? 54 : 48);
    memcpy(first_wire, buf, n);
    first_n = n;

    /* A receiver's first packet sets its ROC to 0 (RFC 3711 §3.3.1): a
     * fresh one cannot read the ROC 1 packet. */
    weft__srtp *late = new_session(profiles[p], false);
    g_assert_cmpint(expect_rtp_fail(late, first_wire, first_n, WEFT__SRTP_FAIL_AUTH, "auth_fail"),
                    ==, WEFT_ERR_INVALID_ACCESS);
    weft__srtp_free(late);
    /* In order, the receiver follows the wrap. */
    memcpy(buf, roc_last_srtp, 54);
    g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, is80 ? 54 : 48, &m, NULL), ==, 0);
    g_assert_cmpmem(buf, m, roc_last_plain, sizeof roc_last_plain);
    memcpy(buf, first_wire, first_n);
    g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, first_n, &m, NULL), ==, 0);
    g_assert_cmpuint(m, ==, 44);
    g_assert_cmpmem(buf + 12, 32, roc_last_plain + 12, 32);
    weft__srtp_free(client);
    weft__srtp_free(server);
  }
}

/* Both profiles x both directions x sizes, RTP and RTCP, several SSRCs on one
 * session (BUNDLE: one key pair per direction, one stream per SSRC). */
static void test_roundtrip(void) {
  static const weft__srtp_profile profiles[] = {WEFT__SRTP_AES128_CM_SHA1_80,
                                                WEFT__SRTP_AES128_CM_SHA1_32};
  static const size_t sizes[] = {0, 1, 15, 16, 17, 160, 1000, 1188, 1400};
  static const uint32_t ssrcs[] = {0x01020304, 0xdeadbeef, 0};
  for (size_t p = 0; p < G_N_ELEMENTS(profiles); p++) {
    weft__srtp *client = new_session(profiles[p], true);
    weft__srtp *server = new_session(profiles[p], false);
    uint8_t plain[BUF];
    uint16_t seq = 4000;
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
      for (size_t j = 0; j < G_N_ELEMENTS(ssrcs); j++) {
        size_t len = build_rtp(plain, seq, 90000u * (uint32_t)i, ssrcs[j], sizes[i], (uint8_t)i);
        rtp_roundtrip(client, server, plain, len);
        rtp_roundtrip(server, client, plain, len);
        len = build_rtcp(plain, ssrcs[j], (unsigned)(i % 4), (uint8_t)j);
        rtcp_roundtrip(client, server, plain, len);
        rtcp_roundtrip(server, client, plain, len);
      }
      seq++;
    }
    weft__srtp_stats st;
    weft__srtp_get_stats(client, &st);
    size_t count = G_N_ELEMENTS(sizes) * G_N_ELEMENTS(ssrcs);
    g_assert_cmpuint(st.rtp_protected, ==, count);
    g_assert_cmpuint(st.rtp_unprotected, ==, count);
    g_assert_cmpuint(st.rtcp_protected, ==, count);
    g_assert_cmpuint(st.rtcp_unprotected, ==, count);
    g_assert_cmpuint(st.replay + st.auth_fail + st.malformed + st.other_fail, ==, 0);
    weft__srtp_free(client);
    weft__srtp_free(server);
  }
}

/* 70 000 packets across the 16-bit wrap (ROC 0 -> 1), with local reordering
 * around the wrap; every packet must come back. */
static void test_wraparound(void) {
  weft__srtp *client = new_session(WEFT__SRTP_AES128_CM_SHA1_80, true);
  weft__srtp *server = new_session(WEFT__SRTP_AES128_CM_SHA1_80, false);
  uint8_t plain[BUF], held[BUF];
  size_t held_n = 0;
  uint16_t seq = 65000;
  for (int i = 0; i < 70000; i++, seq++) {
    size_t len = build_rtp(plain, seq, (uint32_t)i * 3000u, 0x5eed5eed, 40, (uint8_t)i);
    uint8_t buf[BUF];
    memcpy(buf, plain, len);
    size_t n = 0, m = 0;
    g_assert_cmpint(weft__srtp_protect_rtp(client, buf, len, sizeof buf, &n), ==, 0);
    /* Hold back seq 65535 and deliver it after seq 0 and 1 (ROC 1): its
     * index must be estimated as ROC 0. */
    if (seq == 65535) {
      memcpy(held, buf, n);
      held_n = n;
      continue;
    }
    g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, n, &m, NULL), ==, 0);
    g_assert_cmpmem(buf, m, plain, len);
    if (seq == 1) {
      g_assert_cmpint(weft__srtp_unprotect_rtp(server, held, held_n, &m, NULL), ==, 0);
      g_assert_cmpuint(held[2], ==, 0xff);
      g_assert_cmpuint(held[3], ==, 0xff);
      g_assert_cmpuint(m, ==, len);
    }
  }
  weft__srtp_stats st;
  weft__srtp_get_stats(server, &st);
  g_assert_cmpuint(st.rtp_unprotected, ==, 70000);
  weft__srtp_free(client);
  weft__srtp_free(server);
}

/* Replay protection (RFC 3711 §3.3.2) with the 1024-packet window. */
static void test_replay(void) {
  weft__srtp *client = new_session(WEFT__SRTP_AES128_CM_SHA1_80, true);
  weft__srtp *server = new_session(WEFT__SRTP_AES128_CM_SHA1_80, false);
  enum { COUNT = 2001 };
  /* Every protected packet, indexed by seq - 100. */
  uint8_t(*wire)[64] = g_malloc(sizeof *wire * COUNT);
  size_t *wlen = g_new(size_t, COUNT);
  for (int i = 0; i < COUNT; i++) {
    size_t len = build_rtp(wire[i], (uint16_t)(100 + i), (uint32_t)i, 0xabcdef01, 8, (uint8_t)i);
    uint8_t buf[BUF];
    memcpy(buf, wire[i], len);
    g_assert_cmpint(weft__srtp_protect_rtp(client, buf, len, sizeof buf, &wlen[i]), ==, 0);
    memcpy(wire[i], buf, wlen[i]);
  }
  uint8_t buf[BUF];
  size_t m;
  weft__srtp_fail f;
  /* Deliver seq 100 twice: the second is a replay. */
  memcpy(buf, wire[0], wlen[0]);
  g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, wlen[0], &m, &f), ==, 0);
  g_assert_cmpint(expect_rtp_fail(server, wire[0], wlen[0], WEFT__SRTP_FAIL_REPLAY, "replay_fail"),
                  ==, WEFT_ERR_OPERATION);
  g_assert_true(weft__srtp_fail_is_replay(WEFT__SRTP_FAIL_REPLAY));
  /* Deliver everything up to seq 2100 (i = 2000) except i = 976 and 977. */
  for (int i = 1; i < COUNT; i++) {
    if (i == 977 || i == 976)
      continue;
    memcpy(buf, wire[i], wlen[i]);
    g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, wlen[i], &m, &f), ==, 0);
  }
  /* Highest seq 2100 (i = 2000). i = 977 is 1023 behind: the oldest slot of a
   * 1024 window, accepted; i = 976 is 1024 behind: outside, replay_old. With
   * libsrtp's default 128 window both would be rejected. */
  memcpy(buf, wire[977], wlen[977]);
  g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, wlen[977], &m, &f), ==, 0);
  g_assert_cmpint(f, ==, WEFT__SRTP_FAIL_NONE);
  g_assert_cmpint(
      expect_rtp_fail(server, wire[976], wlen[976], WEFT__SRTP_FAIL_REPLAY_OLD, "replay_old"), ==,
      WEFT_ERR_OPERATION);
  g_assert_true(weft__srtp_fail_is_replay(WEFT__SRTP_FAIL_REPLAY_OLD));
  /* Far behind and already seen: replay_old as well. */
  expect_rtp_fail(server, wire[5], wlen[5], WEFT__SRTP_FAIL_REPLAY_OLD, "replay_old");
  /* Just received inside the window: replay_fail. */
  expect_rtp_fail(server, wire[1500], wlen[1500], WEFT__SRTP_FAIL_REPLAY, "replay_fail");
  g_assert_false(weft__srtp_fail_is_replay(WEFT__SRTP_FAIL_AUTH));

  /* A replay is counted, not treated as forgery, and the session goes on. */
  weft__srtp_stats st;
  weft__srtp_get_stats(server, &st);
  g_assert_cmpuint(st.replay, ==, 4);
  g_assert_cmpuint(st.auth_fail, ==, 0);
  g_assert_cmpuint(st.rtp_unprotected, ==, COUNT - 1);

  /* Send side: allow_repeat_tx lets a NACK answer reuse its sequence number. */
  size_t len = build_rtp(buf, 2100, 2000, 0xabcdef01, 8, 0);
  size_t n;
  g_assert_cmpint(weft__srtp_protect_rtp(client, buf, len, sizeof buf, &n), ==, 0);
  /* ... but the receiver still drops the duplicate. */
  g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, n, &m, &f), ==, WEFT_ERR_OPERATION);
  g_assert_cmpint(f, ==, WEFT__SRTP_FAIL_REPLAY);

  /* SRTCP replay: same packet twice. */
  uint8_t rtcp[BUF];
  len = build_rtcp(rtcp, 0xabcdef01, 1, 3);
  g_assert_cmpint(weft__srtp_protect_rtcp(client, rtcp, len, sizeof rtcp, &n), ==, 0);
  memcpy(buf, rtcp, n);
  g_assert_cmpint(weft__srtp_unprotect_rtcp(server, buf, n, &m, &f), ==, 0);
  memcpy(buf, rtcp, n);
  g_assert_cmpint(weft__srtp_unprotect_rtcp(server, buf, n, &m, &f), ==, WEFT_ERR_OPERATION);
  g_assert_cmpint(f, ==, WEFT__SRTP_FAIL_REPLAY);
  g_assert_nonnull(strstr(weft__error_message(), "replay_fail"));
  g_assert_nonnull(strstr(weft__error_message(), "SRTCP"));

  g_free(wire);
  g_free(wlen);
  weft__srtp_free(client);
  weft__srtp_free(server);
}

/* One flipped bit anywhere in the encrypted payload or the tag is an
 * authentication failure; in the header it is one too unless it breaks the
 * header's shape (then MALFORMED). Never accepted. */
static void test_tamper(void) {
  static const weft__srtp_profile profiles[] = {WEFT__SRTP_AES128_CM_SHA1_80,
                                                WEFT__SRTP_AES128_CM_SHA1_32};
  for (size_t p = 0; p < G_N_ELEMENTS(profiles); p++) {
    weft__srtp *client = new_session(profiles[p], true);
    weft__srtp *server = new_session(profiles[p], false);
    uint8_t pkt[BUF];
    size_t len = build_rtp(pkt, 777, 1, 0x0badf00d, 100, 9), n;
    g_assert_cmpint(weft__srtp_protect_rtp(client, pkt, len, sizeof pkt, &n), ==, 0);
    for (size_t bit = 0; bit < n * 8; bit++) {
      uint8_t *w = g_memdup2(pkt, n);
      w[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
      size_t m;
      weft__srtp_fail f;
      int rc = weft__srtp_unprotect_rtp(server, w, n, &m, &f);
      g_assert_cmpint(rc, <, 0);
      if (bit >= 12 * 8) {
        g_assert_cmpint(rc, ==, WEFT_ERR_INVALID_ACCESS);
        g_assert_cmpint(f, ==, WEFT__SRTP_FAIL_AUTH);
        g_assert_nonnull(strstr(weft__error_message(), "auth_fail"));
      } else {
        g_assert_true(f == WEFT__SRTP_FAIL_AUTH || f == WEFT__SRTP_FAIL_MALFORMED);
      }
      g_free(w);
    }
    /* The untouched packet still passes (the failures left no state). */
    size_t m;
    g_assert_cmpint(weft__srtp_unprotect_rtp(server, pkt, n, &m, NULL), ==, 0);

    /* SRTCP: flipped bits in the encrypted part, E/index or tag. */
    len = build_rtcp(pkt, 0x0badf00d, 2, 1);
    g_assert_cmpint(weft__srtp_protect_rtcp(client, pkt, len, sizeof pkt, &n), ==, 0);
    for (size_t bit = 8 * 8; bit < n * 8; bit++) {
      uint8_t *w = g_memdup2(pkt, n);
      w[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
      weft__srtp_fail f;
      int rc = weft__srtp_unprotect_rtcp(server, w, n, &m, &f);
      if (rc != WEFT_ERR_INVALID_ACCESS)
        g_error("bit %zu: rc %d: %s", bit, rc, weft__error_message());
      g_assert_cmpint(f, ==, WEFT__SRTP_FAIL_AUTH);
      /* The E flag (first bit after the payload) is checked before the tag. */
      g_assert_nonnull(strstr(weft__error_message(), bit == len * 8 ? "cant_check" : "auth_fail"));
      g_free(w);
    }
    g_assert_cmpint(weft__srtp_unprotect_rtcp(server, pkt, n, &m, NULL), ==, 0);
    weft__srtp_free(client);
    weft__srtp_free(server);
  }
}

/* Wrong keys, wrong roles, wrong profile: authentication failures. */
static void test_wrong_keys(void) {
  weft__srtp *client = new_session(WEFT__SRTP_AES128_CM_SHA1_80, true);
  weft__srtp_keys k = make_keys(WEFT__SRTP_AES128_CM_SHA1_80, false);
  k.client_key[5] ^= 1;
  weft__srtp *bad_key = NULL;
  g_assert_cmpint(weft__srtp_new(&k, &bad_key), ==, 0);
  k = make_keys(WEFT__SRTP_AES128_CM_SHA1_80, false);
  k.client_salt[13] ^= 0x80;
  weft__srtp *bad_salt = NULL;
  g_assert_cmpint(weft__srtp_new(&k, &bad_salt), ==, 0);
  /* Both sides think they are the client: each unprotects with server_*. */
  weft__srtp *also_client = new_session(WEFT__SRTP_AES128_CM_SHA1_80, true);
  /* Same keys, other profile: 4-byte tag expected, 10 sent. */
  weft__srtp *short_tag = new_session(WEFT__SRTP_AES128_CM_SHA1_32, false);

  weft__srtp *rx[] = {bad_key, bad_salt, also_client, short_tag};
  uint8_t pkt[BUF], rtcp[BUF];
  size_t len = build_rtp(pkt, 1, 1, 42, 50, 0), n;
  g_assert_cmpint(weft__srtp_protect_rtp(client, pkt, len, sizeof pkt, &n), ==, 0);
  size_t clen = build_rtcp(rtcp, 42, 1, 0), cn;
  g_assert_cmpint(weft__srtp_protect_rtcp(client, rtcp, clen, sizeof rtcp, &cn), ==, 0);
  for (size_t i = 0; i < G_N_ELEMENTS(rx); i++) {
    g_assert_cmpint(expect_rtp_fail(rx[i], pkt, n, WEFT__SRTP_FAIL_AUTH, "auth_fail"), ==,
                    WEFT_ERR_INVALID_ACCESS);
    uint8_t *w = g_memdup2(rtcp, cn);
    size_t m;
    weft__srtp_fail f;
    if (rx[i] != short_tag) {
      g_assert_cmpint(weft__srtp_unprotect_rtcp(rx[i], w, cn, &m, &f), ==, WEFT_ERR_INVALID_ACCESS);
      g_assert_cmpint(f, ==, WEFT__SRTP_FAIL_AUTH);
    } else {
      /* SRTCP is identical across the two profiles: it authenticates. */
      g_assert_cmpint(weft__srtp_unprotect_rtcp(rx[i], w, cn, &m, &f), ==, 0);
    }
    g_free(w);
    weft__srtp_free(rx[i]);
  }
  weft__srtp_free(client);
}

static void test_headroom(void) {
  weft__srtp *s = new_session(WEFT__SRTP_AES128_CM_SHA1_80, true);
  uint8_t *buf = g_malloc(2000);
  size_t len = build_rtp(buf, 1, 1, 1, 1000, 0), n = 7;
  g_assert_cmpint(weft__srtp_protect_rtp(s, buf, len, len + WEFT__SRTP_RTP_HEADROOM - 1, &n), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_cmpuint(n, ==, 0);
  g_assert_nonnull(strstr(weft__error_message(), "headroom"));
  g_assert_cmpint(weft__srtp_protect_rtp(s, buf, len, len, &n), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft__srtp_protect_rtp(s, buf, len, len - 1, &n), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft__srtp_protect_rtp(s, buf, len, 0, &n), ==, WEFT_ERR_INVALID_ARG);
  /* Nothing was touched: the packet is still the plaintext. */
  uint8_t ref[BUF];
  build_rtp(ref, 1, 1, 1, 1000, 0);
  g_assert_cmpmem(buf, len, ref, len);
  g_assert_cmpint(weft__srtp_protect_rtp(s, buf, len, len + WEFT__SRTP_RTP_HEADROOM, &n), ==, 0);
  g_assert_cmpuint(n, ==, len + 10);

  len = build_rtcp(buf, 1, 3, 0);
  g_assert_cmpint(weft__srtp_protect_rtcp(s, buf, len, len + WEFT__SRTP_RTCP_HEADROOM - 1, &n), ==,
                  WEFT_ERR_INVALID_ARG);
  g_assert_nonnull(strstr(weft__error_message(), "headroom"));
  g_assert_cmpint(weft__srtp_protect_rtcp(s, buf, len, len + WEFT__SRTP_RTCP_HEADROOM, &n), ==, 0);
  g_assert_cmpuint(n, ==, len + 14);

  /* Size limits. */
  g_assert_cmpint(weft__srtp_protect_rtp(s, buf, 70000, SIZE_MAX, &n), ==, WEFT_ERR_TOO_BIG);
  g_assert_cmpint(weft__srtp_protect_rtp(s, buf, 1000, SIZE_MAX, &n), ==, 0);
  g_assert_cmpint(weft__srtp_protect_rtp(NULL, buf, 100, 1000, &n), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft__srtp_protect_rtp(s, NULL, 100, 1000, &n), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft__srtp_protect_rtp(s, buf, 100, 1000, NULL), ==, WEFT_ERR_INVALID_ARG);
  g_free(buf);
  weft__srtp_free(s);
}

/* Truncated and malformed packets: clean SYNTAX errors, on both paths. */
static void test_malformed(void) {
  weft__srtp *client = new_session(WEFT__SRTP_AES128_CM_SHA1_80, true);
  weft__srtp *server = new_session(WEFT__SRTP_AES128_CM_SHA1_80, false);
  uint8_t pkt[BUF];
  size_t n;
  size_t len = build_rtp(pkt, 9, 9, 9, 20, 9);
  g_assert_cmpint(weft__srtp_protect_rtp(client, pkt, len, sizeof pkt, &n), ==, 0);

  /* Every truncation of a valid SRTP packet fails; below header+tag it is
   * MALFORMED before libsrtp sees it, above it is an auth failure. */
  for (size_t cut = 0; cut < n; cut++) {
    weft__srtp_fail want = cut < 12 + 10 ? WEFT__SRTP_FAIL_MALFORMED : WEFT__SRTP_FAIL_AUTH;
    int rc = expect_rtp_fail(server, pkt, cut, want, NULL);
    g_assert_cmpint(rc, ==,
                    want == WEFT__SRTP_FAIL_MALFORMED ? WEFT_ERR_SYNTAX : WEFT_ERR_INVALID_ACCESS);
  }
  uint8_t bad[BUF];
  /* Version 1. */
  memcpy(bad, pkt, n);
  bad[0] = 0x40;
  expect_rtp_fail(server, bad, n, WEFT__SRTP_FAIL_MALFORMED, "version");
  /* 15 CSRCs in a 40-byte packet. */
  memcpy(bad, pkt, n);
  bad[0] = 0x8f;
  expect_rtp_fail(server, bad, n, WEFT__SRTP_FAIL_MALFORMED, "CSRC");
  /* Extension longer than the packet. */
  memcpy(bad, pkt, n);
  bad[0] = 0x90;
  bad[14] = 0xff;
  bad[15] = 0xff;
  expect_rtp_fail(server, bad, n, WEFT__SRTP_FAIL_MALFORMED, "extension");
  /* Extension that fits but leaves no room for the tag. */
  memcpy(bad, pkt, n);
  bad[0] = 0x90;
  bad[14] = 0;
  bad[15] = (uint8_t)((n - 16) / 4);
  expect_rtp_fail(server, bad, n, WEFT__SRTP_FAIL_MALFORMED, "tag");
  /* Oversized. */
  size_t m;
  weft__srtp_fail f;
  g_assert_cmpint(weft__srtp_unprotect_rtp(server, pkt, 65536, &m, &f), ==, WEFT_ERR_TOO_BIG);
  g_assert_cmpint(f, ==, WEFT__SRTP_FAIL_MALFORMED);
  /* NULLs. */
  g_assert_cmpint(weft__srtp_unprotect_rtp(NULL, pkt, n, &m, &f), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(f, ==, WEFT__SRTP_FAIL_OTHER);
  g_assert_cmpint(weft__srtp_unprotect_rtp(server, NULL, n, &m, &f), ==, WEFT_ERR_INVALID_ARG);
  g_assert_cmpint(weft__srtp_unprotect_rtp(server, pkt, n, NULL, &f), ==, WEFT_ERR_INVALID_ARG);
  /* Garbage with a valid-looking header: an authentication failure. */
  for (size_t i = 12; i < 60; i++)
    bad[i] = (uint8_t)(i * 77);
  memcpy(bad, pkt, 12);
  expect_rtp_fail(server, bad, 60, WEFT__SRTP_FAIL_AUTH, "auth_fail");

  /* Protect-side header checks. */
  uint8_t p2[BUF];
  memset(p2, 0, sizeof p2);
  for (size_t l = 0; l < 12; l++)
    g_assert_cmpint(weft__srtp_protect_rtp(client, p2, l, sizeof p2, &n), ==, WEFT_ERR_SYNTAX);
  p2[0] = 0x80;
  g_assert_cmpint(weft__srtp_protect_rtp(client, p2, 12, sizeof p2, &n), ==, 0);
  p2[0] = 0x00;
  g_assert_cmpint(weft__srtp_protect_rtp(client, p2, 12, sizeof p2, &n), ==, WEFT_ERR_SYNTAX);
  p2[0] = 0x81; /* one CSRC, not there */
  g_assert_cmpint(weft__srtp_protect_rtp(client, p2, 12, sizeof p2, &n), ==, WEFT_ERR_SYNTAX);
  p2[0] = 0x90; /* extension, not there */
  g_assert_cmpint(weft__srtp_protect_rtp(client, p2, 14, sizeof p2, &n), ==, WEFT_ERR_SYNTAX);
  for (size_t l = 0; l < 8; l++)
    g_assert_cmpint(weft__srtp_protect_rtcp(client, p2, l, sizeof p2, &n), ==, WEFT_ERR_SYNTAX);
  p2[0] = 0x40;
  g_assert_cmpint(weft__srtp_protect_rtcp(client, p2, 8, sizeof p2, &n), ==, WEFT_ERR_SYNTAX);

  /* SRTCP truncations. */
  len = build_rtcp(pkt, 5, 1, 5);
  g_assert_cmpint(weft__srtp_protect_rtcp(client, pkt, len, sizeof pkt, &n), ==, 0);
  for (size_t cut = 0; cut < n; cut++) {
    uint8_t *w = g_memdup2(pkt, cut ? cut : 1);
    int rc = weft__srtp_unprotect_rtcp(server, w, cut, &m, &f);
    if (cut < 22) {
      g_assert_cmpint(rc, ==, WEFT_ERR_SYNTAX);
      g_assert_cmpint(f, ==, WEFT__SRTP_FAIL_MALFORMED);
    } else {
      g_assert_cmpint(rc, <, 0);
      g_assert_true(f == WEFT__SRTP_FAIL_AUTH || f == WEFT__SRTP_FAIL_MALFORMED);
    }
    g_free(w);
  }
  weft__srtp_stats st;
  weft__srtp_get_stats(server, &st);
  g_assert_cmpuint(st.rtp_unprotected + st.rtcp_unprotected, ==, 0);
  g_assert_cmpuint(st.malformed, >, 0);
  g_assert_cmpuint(st.auth_fail, >, 0);
  weft__srtp_free(client);
  weft__srtp_free(server);
}

/* Thousands of mutated SRTP/SRTCP packets (fixed seed): never a crash, never
 * an accepted forgery, and the return code always matches the failure class. */
static void check_class(int rc, weft__srtp_fail f) {
  g_assert_cmpint(rc, <, 0);
  switch (f) {
  case WEFT__SRTP_FAIL_REPLAY:
  case WEFT__SRTP_FAIL_REPLAY_OLD:
    g_assert_cmpint(rc, ==, WEFT_ERR_OPERATION);
    break;
  case WEFT__SRTP_FAIL_AUTH:
    g_assert_cmpint(rc, ==, WEFT_ERR_INVALID_ACCESS);
    break;
  case WEFT__SRTP_FAIL_MALFORMED:
    g_assert_true(rc == WEFT_ERR_SYNTAX || rc == WEFT_ERR_TOO_BIG);
    break;
  default:
    g_error("unexpected failure class %d (rc %d: %s)", f, rc, weft__error_message());
  }
  g_assert_cmpstr(weft__error_message(), !=, "");
}

static void test_mutations(void) {
  GRand *r = g_rand_new_with_seed(0x5eed0004);
  weft__srtp *client = new_session(WEFT__SRTP_AES128_CM_SHA1_80, true);
  weft__srtp *server = new_session(WEFT__SRTP_AES128_CM_SHA1_80, false);
  uint64_t fails = 0;
  for (int iter = 0; iter < 20000; iter++) {
    bool rtcp = (iter & 3) == 3;
    uint8_t pkt[BUF];
    size_t len, n;
    if (rtcp) {
      len = build_rtcp(pkt, g_rand_int(r), (unsigned)g_rand_int_range(r, 0, 5),
                       (uint8_t)g_rand_int(r));
      g_assert_cmpint(weft__srtp_protect_rtcp(client, pkt, len, sizeof pkt, &n), ==, 0);
    } else {
      len = build_rtp(pkt, (uint16_t)iter, (uint32_t)iter, 0x1000 + (uint32_t)(iter % 3),
                      (size_t)g_rand_int_range(r, 0, 300), (uint8_t)iter);
      g_assert_cmpint(weft__srtp_protect_rtp(client, pkt, len, sizeof pkt, &n), ==, 0);
    }
    /* Mutate: flip bits, overwrite bytes, truncate, extend with junk. */
    int kind = g_rand_int_range(r, 0, 5);
    size_t mlen = n;
    switch (kind) {
    case 0:
      for (int k = g_rand_int_range(r, 1, 4); k > 0; k--)
        pkt[g_rand_int_range(r, 0, (gint32)n)] ^= (uint8_t)(1u << g_rand_int_range(r, 0, 8));
      break;
    case 1:
      for (int k = g_rand_int_range(r, 1, 9); k > 0; k--)
        pkt[g_rand_int_range(r, 0, (gint32)n)] = (uint8_t)g_rand_int(r);
      break;
    case 2:
      mlen = (size_t)g_rand_int_range(r, 0, (gint32)n);
      break;
    case 3:
      mlen = n + (size_t)g_rand_int_range(r, 1, 64);
      for (size_t i = n; i < mlen; i++)
        pkt[i] = (uint8_t)g_rand_int(r);
      break;
    default:
      /* Whole packet random; sometimes with a plausible first byte. */
      mlen = (size_t)g_rand_int_range(r, 0, 200);
      for (size_t i = 0; i < mlen; i++)
        pkt[i] = (uint8_t)g_rand_int(r);
      if (mlen && g_rand_boolean(r))
        pkt[0] = (uint8_t)(0x80 | (pkt[0] & 0x3f));
      break;
    }
    uint8_t *w = g_memdup2(pkt, mlen ? mlen : 1);
    size_t m = 12345;
    weft__srtp_fail f = WEFT__SRTP_FAIL_NONE;
    int rc = rtcp ? weft__srtp_unprotect_rtcp(server, w, mlen, &m, &f)
                  : weft__srtp_unprotect_rtp(server, w, mlen, &m, &f);
    if (rc == 0) {
      /* Only possible if the mutation changed nothing (e.g. a byte
       * overwritten with itself): then the packet is genuine. */
      g_assert_cmpuint(mlen, ==, n);
      g_assert_cmpint(f, ==, WEFT__SRTP_FAIL_NONE);
    } else {
      check_class(rc, f);
      g_assert_cmpuint(m, ==, 0);
      fails++;
    }
    g_free(w);
    /* Random bytes through protect too: either SYNTAX or a valid result. */
    mlen = (size_t)g_rand_int_range(r, 0, 100);
    for (size_t i = 0; i < mlen; i++)
      pkt[i] = (uint8_t)g_rand_int(r);
    rc = (iter & 1) ? weft__srtp_protect_rtcp(client, pkt, mlen, sizeof pkt, &n)
                    : weft__srtp_protect_rtp(client, pkt, mlen, sizeof pkt, &n);
    g_assert_true(rc == 0 || rc == WEFT_ERR_SYNTAX || rc == WEFT_ERR_OPERATION);
  }
  weft__srtp_stats st;
  weft__srtp_get_stats(server, &st);
  g_assert_cmpuint(st.replay + st.auth_fail + st.malformed + st.other_fail, ==, fails);
  g_assert_cmpuint(st.other_fail, ==, 0);
  g_test_message("mutations: %" G_GUINT64_FORMAT " rejected (auth %" G_GUINT64_FORMAT
                 ", malformed %" G_GUINT64_FORMAT ", replay %" G_GUINT64_FORMAT ")",
                 fails, st.auth_fail, st.malformed, st.replay);
  g_rand_free(r);
  weft__srtp_free(client);
  weft__srtp_free(server);
}

/* Removing a stream resets its ROC and replay window; other SSRCs keep
 * theirs. */
static void test_remove_ssrc(void) {
  weft__srtp *client = new_session(WEFT__SRTP_AES128_CM_SHA1_80, true);
  weft__srtp *server = new_session(WEFT__SRTP_AES128_CM_SHA1_80, false);
  uint8_t a[BUF], b[BUF], buf[BUF];
  size_t an, bn, m;
  size_t len = build_rtp(a, 5000, 1, 0xaaaa0001, 30, 1);
  g_assert_cmpint(weft__srtp_protect_rtp(client, a, len, sizeof a, &an), ==, 0);
  len = build_rtp(b, 7000, 1, 0xbbbb0002, 30, 2);
  g_assert_cmpint(weft__srtp_protect_rtp(client, b, len, sizeof b, &bn), ==, 0);
  memcpy(buf, a, an);
  g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, an, &m, NULL), ==, 0);
  memcpy(buf, b, bn);
  g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, bn, &m, NULL), ==, 0);
  expect_rtp_fail(server, a, an, WEFT__SRTP_FAIL_REPLAY, "replay_fail");

  /* A source restart: after removal the same index is new again. */
  g_assert_cmpint(weft__srtp_remove_ssrc(server, 0xaaaa0001, false), ==, 0);
  memcpy(buf, a, an);
  g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, an, &m, NULL), ==, 0);
  expect_rtp_fail(server, b, bn, WEFT__SRTP_FAIL_REPLAY, "replay_fail");

  /* Unknown SSRC, wrong direction, NULL. */
  g_assert_cmpint(weft__srtp_remove_ssrc(server, 0x12345678, false), ==, WEFT_ERR_OPERATION);
  g_assert_nonnull(strstr(weft__error_message(), "0x12345678"));
  g_assert_cmpint(weft__srtp_remove_ssrc(server, 0xbbbb0002, true), ==, WEFT_ERR_OPERATION);
  g_assert_cmpint(weft__srtp_remove_ssrc(NULL, 1, true), ==, WEFT_ERR_INVALID_ARG);

  /* Sender side: removing restarts the SRTCP index and the send-side ROC;
   * the sequence may then go backwards without replay_old on send. */
  len = build_rtp(buf, 10, 1, 0xaaaa0001, 30, 3);
  size_t n;
  g_assert_cmpint(weft__srtp_protect_rtp(client, buf, len, sizeof buf, &n), ==, WEFT_ERR_OPERATION);
  g_assert_nonnull(strstr(weft__error_message(), "replay_old"));
  g_assert_cmpint(weft__srtp_remove_ssrc(client, 0xaaaa0001, true), ==, 0);
  g_assert_cmpint(weft__srtp_protect_rtp(client, buf, len, sizeof buf, &n), ==, 0);
  weft__srtp_free(client);
  weft__srtp_free(server);
}

/* issue 12: every SSRC that authenticates leaves an inbound libsrtp stream;
 * the session counts them and removal gives the memory back, so the engine
 * can bound them. Forged packets create none. */
static void test_rx_streams(void) {
  weft__srtp *client = new_session(WEFT__SRTP_AES128_CM_SHA1_80, true);
  weft__srtp *server = new_session(WEFT__SRTP_AES128_CM_SHA1_80, false);
  uint8_t buf[BUF];
  size_t n, m;
  g_assert_cmpuint(weft__srtp_rx_streams(server), ==, 0);
  g_assert_cmpuint(weft__srtp_rx_streams(NULL), ==, 0);
  g_assert_false(weft__srtp_rx_has_stream(NULL, 1));
  enum { N = 300 };
  for (uint32_t i = 0; i < N; i++) {
    uint32_t ssrc = 0x5000 + i;
    for (uint16_t seq = 0; seq < 2; seq++) {
      size_t len = build_rtp(buf, seq, 1, ssrc, 20, (uint8_t)i);
      g_assert_cmpint(weft__srtp_protect_rtp(client, buf, len, sizeof buf, &n), ==, 0);
      g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, n, &m, NULL), ==, 0);
    }
    g_assert_true(weft__srtp_rx_has_stream(server, ssrc));
  }
  g_assert_cmpuint(weft__srtp_rx_streams(server), ==, N);
  /* SRTCP shares the stream of its sender SSRC; a new sender makes one. */
  size_t len = build_rtcp(buf, 0x5000, 1, 9);
  g_assert_cmpint(weft__srtp_protect_rtcp(client, buf, len, sizeof buf, &n), ==, 0);
  g_assert_cmpint(weft__srtp_unprotect_rtcp(server, buf, n, &m, NULL), ==, 0);
  g_assert_cmpuint(weft__srtp_rx_streams(server), ==, N);
  len = build_rtcp(buf, 0x7777, 1, 9);
  g_assert_cmpint(weft__srtp_protect_rtcp(client, buf, len, sizeof buf, &n), ==, 0);
  g_assert_cmpint(weft__srtp_unprotect_rtcp(server, buf, n, &m, NULL), ==, 0);
  g_assert_cmpuint(weft__srtp_rx_streams(server), ==, N + 1);
  /* A forged packet (tag flipped) of a new SSRC leaves nothing behind. */
  len = build_rtp(buf, 1, 1, 0x9999, 20, 1);
  g_assert_cmpint(weft__srtp_protect_rtp(client, buf, len, sizeof buf, &n), ==, 0);
  buf[n - 1] ^= 1;
  g_assert_cmpint(weft__srtp_unprotect_rtp(server, buf, n, &m, NULL), ==, WEFT_ERR_INVALID_ACCESS);
  g_assert_false(weft__srtp_rx_has_stream(server, 0x9999));
  g_assert_cmpuint(weft__srtp_rx_streams(server), ==, N + 1);
  /* Removal gives them back; removing twice or the send side does not count. */
  for (uint32_t i = 0; i < N; i++)
    g_assert_cmpint(weft__srtp_remove_ssrc(server, 0x5000 + i, false), ==, 0);
  g_assert_cmpint(weft__srtp_remove_ssrc(server, 0x5000, false), ==, WEFT_ERR_OPERATION);
  g_assert_cmpint(weft__srtp_remove_ssrc(client, 0x5001, true), ==, 0);
  g_assert_cmpuint(weft__srtp_rx_streams(server), ==, 1);
  g_assert_cmpint(weft__srtp_remove_ssrc(server, 0x7777, false), ==, 0);
  g_assert_cmpuint(weft__srtp_rx_streams(server), ==, 0);
  weft__srtp_free(client);
  weft__srtp_free(server);
}

typedef struct {
  int packets;
  bool ok;
} worker_job;

static gpointer worker(gpointer data) {
  worker_job *j = data;
  weft__srtp_keys ck = make_keys(WEFT__SRTP_AES128_CM_SHA1_80, true);
  weft__srtp_keys sk = make_keys(WEFT__SRTP_AES128_CM_SHA1_80, false);
  weft__srtp *client = NULL, *server = NULL;
  j->ok = weft__srtp_new(&ck, &client) == 0 && weft__srtp_new(&sk, &server) == 0;
  uint8_t plain[BUF], buf[BUF];
  for (int i = 0; j->ok && i < j->packets; i++) {
    size_t len = build_rtp(plain, (uint16_t)i, (uint32_t)i, 0x1234, 200, (uint8_t)i), n, m;
    memcpy(buf, plain, len);
    j->ok = weft__srtp_protect_rtp(client, buf, len, sizeof buf, &n) == 0 &&
            weft__srtp_unprotect_rtp(server, buf, n, &m, NULL) == 0 && m == len &&
            memcmp(buf, plain, len) == 0;
  }
  weft__srtp_free(client);
  weft__srtp_free(server);
  return NULL;
}

/* Distinct sessions on distinct threads at the same time (the engine may run
 * several peer connections' media on different threads). */
static void test_threads(void) {
  enum { N = 4 };
  worker_job jobs[N];
  GThread *t[N];
  for (int i = 0; i < N; i++) {
    jobs[i].packets = 5000;
    jobs[i].ok = false;
    t[i] = g_thread_new("srtp-worker", worker, &jobs[i]);
  }
  for (int i = 0; i < N; i++) {
    g_thread_join(t[i]);
    g_assert_true(jobs[i].ok);
  }
}

/* Sanity number, not a benchmark: protect + unprotect of 100k 1200-byte RTP
 * packets on one thread. */
static void test_throughput(void) {
  static const weft__srtp_profile profiles[] = {WEFT__SRTP_AES128_CM_SHA1_80,
                                                WEFT__SRTP_AES128_CM_SHA1_32};
  enum { N = 100000, SIZE = 1200 };
  for (size_t p = 0; p < G_N_ELEMENTS(profiles); p++) {
    weft__srtp *client = new_session(profiles[p], true);
    weft__srtp *server = new_session(profiles[p], false);
    uint8_t plain[BUF], buf[BUF];
    build_rtp(plain, 0, 0, 0x77777777, SIZE - 12, 1);
    int64_t t0 = weft__now_us();
    for (int i = 0; i < N; i++) {
      memcpy(buf, plain, SIZE);
      buf[2] = (uint8_t)(i >> 8);
      buf[3] = (uint8_t)i;
      size_t n, m;
      if (weft__srtp_protect_rtp(client, buf, SIZE, sizeof buf, &n) != 0 ||
          weft__srtp_unprotect_rtp(server, buf, n, &m, NULL) != 0 || m != SIZE)
        g_error("packet %d: %s", i, weft__error_message());
    }
    int64_t dt = weft__now_us() - t0;
    g_assert_cmpmem(buf + 12, SIZE - 12, plain + 12, SIZE - 12);
    double pps = dt > 0 ? (double)N * 1e6 / (double)dt : 0;
    g_test_message("%s: protect+unprotect %d x %d-byte RTP in %.3f s: %.0f packets/s (%.1f MB/s)",
                   profiles[p] == WEFT__SRTP_AES128_CM_SHA1_80 ? "AES_CM_128_HMAC_SHA1_80"
                                                               : "AES_CM_128_HMAC_SHA1_32",
                   N, SIZE, (double)dt / 1e6, pps, pps * SIZE / 1e6);
    weft__srtp_free(client);
    weft__srtp_free(server);
  }
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/srtp/init-threads", test_init_threads);
  g_test_add_func("/srtp/new-errors", test_new_errors);
  g_test_add_func("/srtp/vectors", test_vectors);
  g_test_add_func("/srtp/roc-vector", test_roc_vector);
  g_test_add_func("/srtp/roundtrip", test_roundtrip);
  g_test_add_func("/srtp/wraparound", test_wraparound);
  g_test_add_func("/srtp/replay", test_replay);
  g_test_add_func("/srtp/tamper", test_tamper);
  g_test_add_func("/srtp/wrong-keys", test_wrong_keys);
  g_test_add_func("/srtp/headroom", test_headroom);
  g_test_add_func("/srtp/malformed", test_malformed);
  g_test_add_func("/srtp/mutations", test_mutations);
  g_test_add_func("/srtp/remove-ssrc", test_remove_ssrc);
  g_test_add_func("/srtp/rx-streams", test_rx_streams);
  g_test_add_func("/srtp/threads", test_threads);
  g_test_add_func("/srtp/throughput", test_throughput);
  return g_test_run();
}
