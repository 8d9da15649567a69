/* DTLS 1.2 associations on mbedTLS 2.28 (stack-notes §4.4). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/debug.h>
#include <mbedtls/error.h>
#include <mbedtls/md.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
/* For ssl.handshake->mtu only (see complete()); shipped with 2.28 and frozen
 * with it. */
#include <mbedtls/ssl_internal.h>
#include <mbedtls/x509_crt.h>

#include "core/core.h"
#include "dtls/dtls.h"

#if !defined(MBEDTLS_SSL_PROTO_DTLS) || !defined(MBEDTLS_SSL_DTLS_SRTP) ||                         \
    !defined(MBEDTLS_SSL_EXPORT_KEYS)
/* Upstream 2.28 leaves MBEDTLS_SSL_DTLS_SRTP off; Debian turns it on. Without
 * it there is no use_srtp extension and browsers' media cannot be keyed. */
#error                                                                                             \
    "weft needs mbedTLS built with MBEDTLS_SSL_PROTO_DTLS, MBEDTLS_SSL_DTLS_SRTP and MBEDTLS_SSL_EXPORT_KEYS"
#endif

enum {
  REC_HDR = 13, /* RFC 6347 §4.1: type(1) version(2) epoch(2) seq(6) length(2) */
  HS_HDR = 12,  /* RFC 6347 §4.2.2: type(1) length(3) seq(2) frag_off(3) frag_len(3) */
  CT_CHANGE_CIPHER_SPEC = 20,
  CT_ALERT = 21,
  CT_HANDSHAKE = 22,
  HS_CLIENT_HELLO = 1,
  HANDSHAKE_MTU = 1200,
  /* Epoch-1 sequence numbers a Finished (fragments, retransmissions) may carry. */
  MAX_FINISHED_SEQ = 64,
  MAX_QUEUED = 64,
  /* client_version(2) random(32) session_id(1) cookie(1) suites(2) comp(1) */
  CH_MIN_BODY = 39,
  /* mbedTLS cannot take a handshake message over its input buffer anyway. */
  MAX_HS_BODY = MBEDTLS_SSL_IN_CONTENT_LEN - HS_HDR,
  /* A pending reassembly that made no progress for this long may be replaced
   * by a different ClientHello (a stray fragment must not block the real one). */
  CH_STALE_MS = 250,
  DEFAULT_MIN_MS = 100,
  DEFAULT_MAX_MS = 6400,
  DEFAULT_TOTAL_MS = 20000,
  ERR_FINGERPRINT = 1 /* private: positive, never an mbedTLS code */
};

typedef enum { ST_NEW, ST_HANDSHAKING, ST_CONNECTED, ST_CLOSED, ST_FAILED } dtls_state;

/* One ClientHello being put back together from its fragments (RFC 6347
 * §4.2.3), so that mbedTLS, which parses the first ClientHello itself and
 * refuses fragments, sees a single record. */
typedef struct ch_reasm {
  bool active;
  bool partial; /* some fragment was shorter than the message */
  uint16_t msg_seq;
  uint32_t length;
  uint32_t got;
  unsigned frags;
  uint8_t *body;
  uint8_t *have; /* one flag per body byte */
  uint8_t version[2];
  uint8_t seq[6]; /* highest record sequence number seen */
  int64_t last_us;
} ch_reasm;

struct weft__dtls {
  GMainContext *ctx;
  weft__dtls_cert *cert;
  weft__dtls_role role;
  weft__dgram_sink out;
  weft__dtls_callbacks cb;
  dtls_state state;

  mbedtls_ssl_config conf; /* one per object: the key-export callback is config-level */
  mbedtls_ssl_context ssl;
  mbedtls_ctr_drbg_context drbg;
  mbedtls_x509_crt own_crt;
  mbedtls_pk_context own_key;

  mbedtls_md_type_t fp_md;
  uint8_t fp[MBEDTLS_MD_MAX_SIZE];
  size_t fp_len;
  bool fp_seen;    /* the verify callback saw the peer's end certificate */
  bool fp_match;   /* ... and its digest equals fp */
  bool fp_checked; /* the handshake went past the peer's Certificate */

  bool have_master;
  uint8_t master[48];
  uint8_t randoms[64]; /* client_random || server_random */
  mbedtls_tls_prf_types prf;

  GSource *timer; /* mbedTLS retransmission timer */
  int64_t timer_start_us;
  uint32_t timer_int_ms, timer_fin_ms;
  bool timer_armed, timer_expired;
  GSource *cap; /* overall handshake limit */
  uint32_t min_ms, max_ms, total_ms;

  GQueue inq; /* GBytes: datagrams waiting (before start, or re-entrant input) */
  bool driving;
  bool freeing;
  const uint8_t *cur; /* the datagram bio_recv hands out next */
  size_t cur_len;

  ch_reasm reasm;
  unsigned reassembled;
  uint8_t *rbuf;
};

/* RFC 5764 §4.1.2 profiles, most preferred first; never the NULL ciphers. */
static const mbedtls_ssl_srtp_profile srtp_profiles[] = {MBEDTLS_TLS_SRTP_AES128_CM_HMAC_SHA1_80,
                                                         MBEDTLS_TLS_SRTP_AES128_CM_HMAC_SHA1_32,
                                                         MBEDTLS_TLS_SRTP_UNSET};
/* ECDHE with an ECDSA or an RSA certificate, AEAD only: no CBC suite is
 * offered or accepted (CBC with SHA-1 MACs is what every current browser
 * keeps only for old peers; Chromium, Firefox, aiortc and libdatachannel all
 * offer GCM). A CBC-only ClientHello fails the handshake. As a client weft
 * offers both kinds, so a server with an RSA certificate can answer; as a
 * server mbedTLS picks only suites its own certificate can sign. ECDSA comes
 * first (aiortc accepts only ECDHE-ECDSA). */
static const int ciphersuites[] = {MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
                                   MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
                                   MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
                                   MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
                                   MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
                                   MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
                                   0};
static const mbedtls_ecp_group_id curves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                              MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE};

static void run_ssl(weft__dtls *d);
static void drain(weft__dtls *d);

/* ---- Small helpers ------------------------------------------------------ */

static bool ct_equal(const uint8_t *a, const uint8_t *b, size_t n) {
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < n; i++)
    diff |= (uint8_t)(a[i] ^ b[i]);
  return diff == 0;
}

static const char *role_name(const weft__dtls *d) {
  return d->role == WEFT__DTLS_CLIENT ? "client" : "server";
}

static void mbed_err(int ret, char *buf, size_t len) {
  mbedtls_strerror(ret, buf, len);
  size_t n = strlen(buf);
  snprintf(buf + n, len - n, " (-0x%04x)", (unsigned)-ret);
}

static int entropy_cb(void *unused, unsigned char *out, size_t len) {
  (void)unused;
  weft__random(out, len);
  return 0;
}

/* mbedtls_debug_set_threshold is process-wide: written only when the wanted
 * level changes, under a lock. */
static void sync_debug_threshold(void) {
  static GMutex lock;
  static int current = -1;
  int want = weft__log_enabled(WEFT_LOG_TRACE, "mbedtls") ? 4 : 0;
  g_mutex_lock(&lock);
  if (want != current) {
    mbedtls_debug_set_threshold(want);
    current = want;
  }
  g_mutex_unlock(&lock);
}

static void dbg_cb(void *p, int level, const char *file, int line, const char *str) {
  (void)p;
  (void)level;
  const char *base = strrchr(file, '/');
  size_t n = strlen(str);
  while (n && (str[n - 1] == '\n' || str[n - 1] == '\r'))
    n--;
  WLOG_T("mbedtls", "%s:%d: %.*s", base ? base + 1 : file, line, (int)n, str);
}

/* ---- Timers ------------------------------------------------------------- */

static void destroy_source(GSource **s) {
  if (*s) {
    g_source_destroy(*s);
    g_source_unref(*s);
    *s = NULL;
  }
}

static gboolean timer_fire(gpointer p) {
  weft__dtls *d = p;
  GSource *self = d->timer;
  d->timer = NULL; /* mbedTLS may arm a new one from inside run_ssl */
  d->timer_expired = true;
  if (d->state == ST_HANDSHAKING && !d->driving) {
    /* RFC 6347 §4.2.4: retransmit the flight even without input. */
    WLOG_D("dtls", "%s: no answer within %u ms: resending the last flight", role_name(d),
           d->timer_fin_ms);
    d->driving = true;
    run_ssl(d);
    drain(d); /* datagrams a callback fed us meanwhile */
    d->driving = false;
  }
  g_source_unref(self);
  return G_SOURCE_REMOVE;
}

/* mbedtls_ssl_set_timer_cb: intermediate and final delays; fin 0 cancels. */
static void set_timer_cb(void *p, uint32_t int_ms, uint32_t fin_ms) {
  weft__dtls *d = p;
  destroy_source(&d->timer);
  d->timer_expired = false;
  d->timer_armed = fin_ms != 0;
  if (!d->timer_armed || d->freeing)
    return;
  d->timer_start_us = weft__now_us();
  d->timer_int_ms = int_ms;
  d->timer_fin_ms = fin_ms;
  d->timer = g_timeout_source_new(fin_ms);
  g_source_set_callback(d->timer, timer_fire, d, NULL);
  g_source_attach(d->timer, d->ctx);
}

/* -1 cancelled, 0 running, 1 intermediate passed, 2 final passed. */
static int get_timer_cb(void *p) {
  weft__dtls *d = p;
  if (!d->timer_armed)
    return -1;
  /* The GSource firing is authoritative: GLib and weft__now_us may round
   * differently, and a "not yet" here would leave nothing to wake us. */
  if (d->timer_expired)
    return 2;
  int64_t ms = (weft__now_us() - d->timer_start_us) / 1000;
  if (ms >= d->timer_fin_ms)
    return 2;
  return ms >= d->timer_int_ms ? 1 : 0;
}

/* ---- Failure and callbacks ---------------------------------------------- */

static void drop_queue(weft__dtls *d) {
  GBytes *b;
  while ((b = g_queue_pop_head(&d->inq)))
    g_bytes_unref(b);
}

static void reasm_reset(ch_reasm *r) {
  g_free(r->body);
  g_free(r->have);
  memset(r, 0, sizeof *r);
}

static void stop(weft__dtls *d, dtls_state st) {
  d->state = st;
  destroy_source(&d->timer);
  destroy_source(&d->cap);
  d->timer_armed = false;
  drop_queue(d);
  reasm_reset(&d->reasm);
  mbedtls_platform_zeroize(d->master, sizeof d->master);
}

static void fail(weft__dtls *d, weft_error_detail detail, int alert, const char *fmt, ...)
    WEFT__PRINTF(4, 5);
static void fail(weft__dtls *d, weft_error_detail detail, int alert, const char *fmt, ...) {
  if (d->state == ST_FAILED || d->state == ST_CLOSED)
    return;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  stop(d, ST_FAILED);
  WLOG_W("dtls", "%s: %s", role_name(d), msg);
  if (d->cb.on_failed)
    d->cb.on_failed(d->cb.ud, detail, alert, msg);
}

static gboolean cap_fire(gpointer p) {
  weft__dtls *d = p;
  GSource *self = d->cap;
  d->cap = NULL;
  if (d->state == ST_HANDSHAKING)
    fail(d, WEFT_DETAIL_DTLS_FAILURE, -1, "DTLS: handshake not complete after %u ms", d->total_ms);
  g_source_unref(self);
  return G_SOURCE_REMOVE;
}

/* ---- BIO ---------------------------------------------------------------- */

static int bio_send(void *p, const unsigned char *buf, size_t len) {
  weft__dtls *d = p;
  /* UDP semantics: a datagram the lower layer drops is simply lost, and
   * DTLS retransmission (or SCTP above us) recovers. */
  d->out.send(d->out.ctx, buf, len);
  return (int)len;
}

/* Exactly one datagram per call, with its real length: mbedTLS parses the
 * records inside it and keeps the rest for its next read. */
static int bio_recv(void *p, unsigned char *buf, size_t len) {
  weft__dtls *d = p;
  if (!d->cur)
    return MBEDTLS_ERR_SSL_WANT_READ;
  const uint8_t *data = d->cur;
  size_t n = d->cur_len;
  d->cur = NULL;
  if (n > len) {
    WLOG_D("dtls", "%s: dropped a %zu-byte datagram (record buffer %zu)", role_name(d), n, len);
    return MBEDTLS_ERR_SSL_WANT_READ;
  }
  memcpy(buf, data, n);
  return (int)n;
}

/* ---- mbedTLS callbacks -------------------------------------------------- */

/* RFC 8122 §5, RFC 8827 §6.5: certificates are self-signed; the fingerprint
 * from the signaling channel is the only trust anchor, so every X.509 flag
 * (untrusted, expired, ...) is cleared and the end certificate's digest is
 * recorded. The decision is taken in handshake() right after the
 * Certificate message, so that the bad_certificate alert goes out before any
 * Finished and neither side ever reports a connection. */
static int verify_cb(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags) {
  weft__dtls *d = p;
  *flags = 0;
  if (depth != 0)
    return 0;
  uint8_t md[MBEDTLS_MD_MAX_SIZE];
  const mbedtls_md_info_t *info = mbedtls_md_info_from_type(d->fp_md);
  d->fp_seen = true;
  d->fp_match = info && mbedtls_md_get_size(info) == d->fp_len &&
                mbedtls_md(info, crt->raw.p, crt->raw.len, md) == 0 &&
                ct_equal(md, d->fp, d->fp_len);
  return 0;
}

/* RFC 5764 §4.2 needs the master secret and both randoms; mbedTLS 2.28 only
 * hands them out here, with pointers valid during the call. */
static int export_keys_cb(void *p, const unsigned char *ms, const unsigned char *kb, size_t maclen,
                          size_t keylen, size_t ivlen, const unsigned char client_random[32],
                          const unsigned char server_random[32], mbedtls_tls_prf_types prf) {
  weft__dtls *d = p;
  (void)kb;
  (void)maclen;
  (void)keylen;
  (void)ivlen;
  memcpy(d->master, ms, sizeof d->master);
  memcpy(d->randoms, client_random, 32);
  memcpy(d->randoms + 32, server_random, 32);
  d->prf = prf;
  d->have_master = true;
  return 0;
}

static int export_srtp(weft__dtls *d, weft__srtp_keys *k) {
  memset(k, 0, sizeof *k);
  k->is_client = d->role == WEFT__DTLS_CLIENT;
  mbedtls_dtls_srtp_info info;
  mbedtls_ssl_get_dtls_srtp_negotiation_result(&d->ssl, &info);
  switch (info.chosen_dtls_srtp_profile) {
  case MBEDTLS_TLS_SRTP_AES128_CM_HMAC_SHA1_80:
    k->profile = WEFT__SRTP_AES128_CM_SHA1_80;
    break;
  case MBEDTLS_TLS_SRTP_AES128_CM_HMAC_SHA1_32:
    k->profile = WEFT__SRTP_AES128_CM_SHA1_32;
    break;
  default:
    k->profile = WEFT__SRTP_NONE;
    return 0;
  }
  if (!d->have_master)
    return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
  /* RFC 5764 §4.2: client_write_SRTP_master_key | server_write_SRTP_master_key
   * | client_write_SRTP_master_salt | server_write_SRTP_master_salt, from the
   * TLS PRF with label "EXTRACTOR-dtls_srtp" and seed client||server random. */
  uint8_t out[2 * WEFT__SRTP_KEY_LEN + 2 * WEFT__SRTP_SALT_LEN];
  int ret = mbedtls_ssl_tls_prf(d->prf, d->master, sizeof d->master, "EXTRACTOR-dtls_srtp",
                                d->randoms, sizeof d->randoms, out, sizeof out);
  if (ret == 0) {
    const uint8_t *q = out;
    memcpy(k->client_key, q, WEFT__SRTP_KEY_LEN);
    q += WEFT__SRTP_KEY_LEN;
    memcpy(k->server_key, q, WEFT__SRTP_KEY_LEN);
    q += WEFT__SRTP_KEY_LEN;
    memcpy(k->client_salt, q, WEFT__SRTP_SALT_LEN);
    q += WEFT__SRTP_SALT_LEN;
    memcpy(k->server_salt, q, WEFT__SRTP_SALT_LEN);
  }
  mbedtls_platform_zeroize(out, sizeof out);
  return ret;
}

/* ---- Handshake and records ---------------------------------------------- */

/* True once the handshake went past the state that parses the peer's
 * Certificate. The two states after HANDSHAKE_OVER in the enum are not
 * progress past it (and are unreachable here: no cookies, no tickets). */
static bool past_peer_certificate(const weft__dtls *d) {
  int st = d->ssl.state;
  int cert_st = d->role == WEFT__DTLS_CLIENT ? MBEDTLS_SSL_SERVER_CERTIFICATE
                                             : MBEDTLS_SSL_CLIENT_CERTIFICATE;
  return st > cert_st && st <= MBEDTLS_SSL_HANDSHAKE_OVER;
}

/* Arms the overall handshake limit (total_ms) once. */
static void arm_cap(weft__dtls *d) {
  if (d->cap || d->state != ST_HANDSHAKING)
    return;
  d->cap = g_timeout_source_new(d->total_ms);
  g_source_set_callback(d->cap, cap_fire, d, NULL);
  g_source_attach(d->cap, d->ctx);
}

static int handshake(weft__dtls *d) {
  int ret = 0;
  while (d->ssl.state != MBEDTLS_SSL_HANDSHAKE_OVER) {
    ret = mbedtls_ssl_handshake_step(&d->ssl);
    if (ret != 0)
      break;
    if (!d->fp_checked && past_peer_certificate(d)) {
      d->fp_checked = true;
      /* RFC 8122 §5: a certificate that does not match the signaled
       * fingerprint (or none at all) ends the association. */
      if (!d->fp_seen || !d->fp_match)
        return ERR_FINGERPRINT;
    }
  }
  if (d->ssl.state > MBEDTLS_SSL_CLIENT_HELLO)
    arm_cap(d);
  return ret;
}

static void ssl_error(weft__dtls *d, int ret, const char *when) {
  char err[160];
  switch (ret) {
  case ERR_FINGERPRINT:
    /* RFC 5246 §7.2.2 bad_certificate: the certificate is well formed but is
     * not the one the remote announced. */
    mbedtls_ssl_send_alert_message(&d->ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                   MBEDTLS_SSL_ALERT_MSG_BAD_CERT);
    fail(d, WEFT_DETAIL_FINGERPRINT_FAILURE, MBEDTLS_SSL_ALERT_MSG_BAD_CERT,
         d->fp_seen ? "DTLS: remote fingerprint mismatch" : "DTLS: remote sent no certificate");
    return;
  case MBEDTLS_ERR_SSL_TIMEOUT:
    fail(d, WEFT_DETAIL_DTLS_FAILURE, -1,
         "DTLS: handshake timed out (no answer to a flight after retransmissions up to %u ms)",
         d->max_ms);
    return;
  case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
    int alert = d->ssl.in_msg ? d->ssl.in_msg[1] : -1;
    fail(d, WEFT_DETAIL_DTLS_FAILURE, alert, "DTLS: fatal alert %d from the remote (%s)", alert,
         when);
    return;
  }
  case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
    fail(d, WEFT_DETAIL_DTLS_FAILURE, MBEDTLS_SSL_ALERT_MSG_CLOSE_NOTIFY,
         "DTLS: remote closed the association (%s)", when);
    return;
  default:
    mbed_err(ret, err, sizeof err);
    fail(d, WEFT_DETAIL_DTLS_FAILURE, -1, "DTLS: %s failed: %s", when, err);
    return;
  }
}

/* Returns true if still connected after on_connected. */
static bool complete(weft__dtls *d) {
  if (!d->fp_checked || !d->fp_seen || !d->fp_match) {
    ssl_error(d, ERR_FINGERPRINT, "handshake");
    return false;
  }
  weft__srtp_keys keys;
  int ret = export_srtp(d, &keys);
  mbedtls_platform_zeroize(d->master, sizeof d->master);
  if (ret != 0) {
    mbedtls_platform_zeroize(&keys, sizeof keys);
    ssl_error(d, ret, "SRTP key export");
    return false;
  }
  /* The 1200-byte MTU only shaped handshake flights; records now carry whole
   * SCTP packets (stack-notes §4.4: raise it after the handshake). */
  mbedtls_ssl_set_mtu(&d->ssl, 0);
  /* The side that sent the last flight keeps its handshake state until the
   * peer's first protected record proves the flight arrived, and mbedTLS caps
   * records at that state's MTU, which retransmissions shrink to 508 bytes
   * (RFC 6347 §4.1.1.1 back-off). Its last flight (ChangeCipherSpec +
   * Finished) fits any MTU, so lift the cap now rather than refuse sends. */
  if (d->ssl.handshake)
    d->ssl.handshake->mtu = 0;
  d->state = ST_CONNECTED;
  destroy_source(&d->cap);
  WLOG_I("dtls", "%s: connected, %s, SRTP profile %d", role_name(d),
         mbedtls_ssl_get_ciphersuite(&d->ssl), (int)keys.profile);
  if (d->cb.on_connected)
    d->cb.on_connected(d->cb.ud, &keys);
  mbedtls_platform_zeroize(&keys, sizeof keys);
  return d->state == ST_CONNECTED;
}

static void read_loop(weft__dtls *d) {
  while (d->state == ST_CONNECTED) {
    int n = mbedtls_ssl_read(&d->ssl, d->rbuf, MBEDTLS_SSL_IN_CONTENT_LEN);
    if (n > 0) {
      if (d->cb.on_data)
        d->cb.on_data(d->cb.ud, d->rbuf, (size_t)n);
      continue;
    }
    switch (n) {
    case 0: /* empty application record */
    case MBEDTLS_ERR_SSL_WANT_READ:
    case MBEDTLS_ERR_SSL_WANT_WRITE:
    case MBEDTLS_ERR_SSL_TIMEOUT:
      return;
    case MBEDTLS_ERR_SSL_CLIENT_RECONNECT:
      /* Unreachable without cookies (a new ClientHello is dropped), kept
       * harmless: the current association stays. */
      WLOG_D("dtls", "%s: ignored a ClientHello for a new association", role_name(d));
      return;
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
      /* RFC 5246 §7.2.1: the remote will send nothing more, and expects a
       * close_notify back. */
      mbedtls_ssl_close_notify(&d->ssl);
      stop(d, ST_CLOSED);
      WLOG_I("dtls", "%s: close_notify received", role_name(d));
      if (d->cb.on_closed)
        d->cb.on_closed(d->cb.ud);
      return;
    default:
      ssl_error(d, n, "connected");
      return;
    }
  }
}

static void run_ssl(weft__dtls *d) {
  if (d->state == ST_HANDSHAKING) {
    int ret = handshake(d);
    if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
      return;
    if (ret != 0) {
      ssl_error(d, ret, "handshake");
      return;
    }
    if (!complete(d))
      return;
  }
  if (d->state == ST_CONNECTED)
    read_loop(d);
}

static void feed(weft__dtls *d, const uint8_t *data, size_t len) {
  d->cur = data;
  d->cur_len = len;
  run_ssl(d);
  /* mbedTLS checks its timer before reading: if it expired just before this
   * datagram came in, it retransmitted instead of reading. Offer it again. */
  if (d->cur)
    run_ssl(d);
  d->cur = NULL;
}

/* ---- Record checks during the handshake --------------------------------- */

/* During the handshake the only protected record a peer can send us before
 * our own Finished went out is its Finished: a handshake record in epoch 1
 * with 12 bytes of verify_data (RFC 5246 §7.4.9), or a fragment of them
 * (RFC 6347 §4.2.3: OpenSSL splits the Finished at its MTU, e.g. after a
 * client's RSA certificate and CertificateVerify: records of 9 and 3 bytes),
 * so of one of a few exact sizes for AEAD suites (application data sent by a
 * server that just finished would be dropped by mbedTLS anyway). Anything else is forged or
 * corrupted, and it matters: mbedTLS 2.28 keeps one early record of the next epoch, and a record
 * that fails authentication while it waits for Finished is fatal (ssl_msg.c, "Except when waiting
 * for Finished"), so one such datagram would end the handshake. */
static bool finished_candidate(const weft__dtls *d, const uint8_t *rec, size_t rlen) {
  if (rec[0] != CT_HANDSHAKE || weft__rd16(rec + 3) != 1 || !d->ssl.session_negotiate)
    return false;
  /* The Finished opens epoch 1: its record (or its fragments' records)
   * carries one of the first sequence numbers of the epoch, retransmitted
   * flights a few more (RFC 6347 §4.1). A random record passes this with a
   * chance of 2^-42, which keeps the sizes below from letting garbage reach
   * mbedTLS, where a failed MAC is fatal (test_dtls /dtls/garbage). */
  uint64_t seq = (uint64_t)weft__rd16(rec + 5) << 32 | weft__rd32(rec + 7);
  if (seq >= MAX_FINISHED_SEQ)
    return false;
  const mbedtls_ssl_ciphersuite_t *cs =
      mbedtls_ssl_ciphersuite_from_id(d->ssl.session_negotiate->ciphersuite);
  if (!cs)
    return false; /* no suite chosen yet: there cannot be epoch-1 keys */
  const mbedtls_cipher_info_t *ci = mbedtls_cipher_info_from_type(cs->cipher);
  /* The plaintext: a handshake header and 1 to 12 bytes of verify_data. */
  const size_t lo = HS_HDR + 1, hi = HS_HDR + 12;
  if (ci && ci->mode == MBEDTLS_MODE_GCM) /* RFC 5288 §3: explicit nonce, tag */
    return rlen >= 8 + lo + 16 && rlen <= 8 + hi + 16;
  if (ci && ci->mode == MBEDTLS_MODE_CHACHAPOLY) /* RFC 7905 §2: tag only */
    return rlen >= lo + 16 && rlen <= hi + 16;
  return rlen >= lo && rlen <= 16 + hi + 48 + 256; /* CBC: IV, MAC, padding */
}

/* mbedTLS 2.28 drops malformed records in most places, but aborts the
 * handshake on a few (a handshake header that does not fit its record, an
 * alert or ChangeCipherSpec of the wrong size, an unexpected message type
 * with the expected message_seq, see also finished_candidate). Epoch-0
 * records carry no MAC, so anyone on the path can forge them; RFC 6347
 * §4.1.2.7: invalid records SHOULD be silently discarded. So while
 * handshaking, records go through this check first. */
static bool record_ok(const weft__dtls *d, const uint8_t *rec, size_t rlen) {
  /* RFC 5246 §7.4 / RFC 6347 §4.2: the handshake messages each side sends
   * in the clear. From a server: hello_request(0), server_hello(2),
   * hello_verify_request(3), certificate(11), server_key_exchange(12),
   * certificate_request(13), server_hello_done(14). From a client:
   * client_hello(1), certificate(11), certificate_verify(15),
   * client_key_exchange(16). Anything else cannot be genuine, and mbedTLS
   * would abort on a forged one that happens to carry the expected
   * message_seq. */
  const uint32_t from_server =
      1u << 0 | 1u << 2 | 1u << 3 | 1u << 11 | 1u << 12 | 1u << 13 | 1u << 14;
  const uint32_t from_client = 1u << 1 | 1u << 11 | 1u << 15 | 1u << 16;
  uint32_t allowed = d->role == WEFT__DTLS_CLIENT ? from_server : from_client;
  if (weft__rd16(rec + 3) != 0)
    return finished_candidate(d, rec, rlen);
  const uint8_t *p = rec + REC_HDR;
  switch (rec[0]) {
  case CT_CHANGE_CIPHER_SPEC: /* RFC 5246 §7.1: one byte, value 1 */
    return rlen == 1 && p[0] == 1;
  case CT_ALERT: /* RFC 5246 §7.2: level (warning 1, fatal 2) and description */
    return rlen == 2 && (p[0] == 1 || p[0] == 2);
  case CT_HANDSHAKE: /* RFC 6347 §4.2.2: each fragment inside its record and message */
    if (rlen == 0)
      return false;
    while (rlen > 0) {
      if (rlen < HS_HDR)
        return false;
      uint32_t length = weft__rd24(p + 1), foff = weft__rd24(p + 6), flen = weft__rd24(p + 9);
      if (p[0] > 31 || !(allowed >> p[0] & 1) || flen > rlen - HS_HDR || length > MAX_HS_BODY ||
          foff > length || flen > length - foff)
        return false;
      p += HS_HDR + flen;
      rlen -= HS_HDR + flen;
    }
    return true;
  default: /* application data never travels in epoch 0 */
    return false;
  }
}

/* Length of the prefix of @data made of whole records. mbedTLS 2.28 aborts
 * with an internal error on a datagram whose last record is cut short or that
 * ends in a few stray bytes (ssl_msg.c "should never happen"), even when
 * connected, so only whole records reach it. */
static size_t whole_records(const uint8_t *data, size_t len) {
  size_t off = 0;
  while (len - off >= REC_HDR) {
    size_t rlen = weft__rd16(data + off + 11);
    if (rlen > len - off - REC_HDR)
      break;
    off += REC_HDR + rlen;
  }
  return off;
}

static void feed_handshaking(weft__dtls *d, const uint8_t *data, size_t len) {
  size_t off = 0;
  while (off < len && record_ok(d, data + off, weft__rd16(data + off + 11)))
    off += REC_HDR + weft__rd16(data + off + 11);
  if (off == len) {
    feed(d, data, len);
    return;
  }
  /* Rare: copy the well-formed records only. */
  uint8_t *copy = g_malloc(len);
  size_t n = 0;
  for (off = 0; off < len;) {
    size_t rlen = weft__rd16(data + off + 11);
    if (record_ok(d, data + off, rlen)) {
      memcpy(copy + n, data + off, REC_HDR + rlen);
      n += REC_HDR + rlen;
    } else {
      WLOG_D("dtls", "%s: dropped a malformed record (type %u, epoch %u, %zu bytes)", role_name(d),
             data[off], weft__rd16(data + off + 3), rlen);
    }
    off += REC_HDR + rlen;
  }
  if (n)
    feed(d, copy, n);
  g_free(copy);
}

static void feed_checked(weft__dtls *d, const uint8_t *data, size_t len) {
  size_t whole = whole_records(data, len);
  if (whole < len)
    WLOG_D("dtls", "%s: dropped %zu bytes after the last whole record", role_name(d), len - whole);
  if (whole == 0)
    return;
  if (d->state == ST_HANDSHAKING)
    feed_handshaking(d, data, whole);
  else
    feed(d, data, whole);
}

/* ---- ClientHello reassembly (weft as server, before mbedTLS took one) ---- */

/* Hands mbedTLS the whole ClientHello as one record holding one unfragmented
 * message: RFC 6347 §4.2.6 defines the transcript hash over the message as if
 * it had been sent in a single fragment (fragment_offset 0, fragment_length =
 * length), which is what mbedTLS hashes. */
static void reasm_deliver(weft__dtls *d) {
  ch_reasm *r = &d->reasm;
  size_t total = REC_HDR + HS_HDR + r->length;
  uint8_t *rec = g_malloc(total);
  rec[0] = CT_HANDSHAKE;
  rec[1] = r->version[0];
  rec[2] = r->version[1];
  rec[3] = rec[4] = 0; /* epoch 0 */
  memcpy(rec + 5, r->seq, 6);
  weft__wr16(rec + 11, HS_HDR + r->length);
  uint8_t *hs = rec + REC_HDR;
  hs[0] = HS_CLIENT_HELLO;
  weft__wr24(hs + 1, r->length);
  weft__wr16(hs + 4, r->msg_seq);
  weft__wr24(hs + 6, 0);
  weft__wr24(hs + 9, r->length);
  memcpy(hs + HS_HDR, r->body, r->length);
  if (r->partial) {
    d->reassembled++;
    WLOG_D("dtls", "%s: reassembled a %u-byte ClientHello from %u fragments", role_name(d),
           r->length, r->frags);
  }
  reasm_reset(r);
  feed(d, rec, total);
  g_free(rec);
}

static void reasm_add(weft__dtls *d, const uint8_t *rec_hdr, uint16_t msg_seq, uint32_t length,
                      uint32_t off, const uint8_t *frag, uint32_t flen) {
  ch_reasm *r = &d->reasm;
  int64_t now = weft__now_us();
  if (length < CH_MIN_BODY || length > MAX_HS_BODY) {
    WLOG_D("dtls", "%s: dropped a ClientHello fragment of a %u-byte message (limit %d)",
           role_name(d), length, MAX_HS_BODY);
    return;
  }
  if (r->active) {
    bool conflict = r->msg_seq != msg_seq || r->length != length;
    for (uint32_t i = 0; !conflict && i < flen; i++)
      conflict = r->have[off + i] && r->body[off + i] != frag[i];
    if (conflict) {
      if (now - r->last_us < (int64_t)CH_STALE_MS * 1000) {
        WLOG_D("dtls", "%s: dropped a ClientHello fragment inconsistent with the one pending",
               role_name(d));
        return;
      }
      reasm_reset(r);
    }
  }
  if (!r->active) {
    r->active = true;
    r->msg_seq = msg_seq;
    r->length = length;
    r->body = g_malloc0(length);
    r->have = g_malloc0(length);
    r->version[0] = rec_hdr[1];
    r->version[1] = rec_hdr[2];
    memcpy(r->seq, rec_hdr + 5, 6);
    r->last_us = now;
  }
  /* The record sequence number for the rebuilt record: the highest one seen,
   * which the anti-replay window has not recorded yet. */
  if (memcmp(rec_hdr + 5, r->seq, 6) > 0)
    memcpy(r->seq, rec_hdr + 5, 6);
  r->frags++;
  if (flen < length)
    r->partial = true;
  for (uint32_t i = 0; i < flen; i++) {
    if (!r->have[off + i]) {
      r->have[off + i] = 1;
      r->body[off + i] = frag[i];
      r->got++;
      r->last_us = now;
    }
  }
  if (r->got < r->length)
    return;
  /* RFC 6347 §4.2.1: client_version is a DTLS version (major 0xFE); anything
   * else would only make mbedTLS abort the whole handshake. */
  if (r->body[0] != 0xFE) {
    WLOG_D("dtls", "%s: dropped a ClientHello with version %u.%u", role_name(d), r->body[0],
           r->body[1]);
    reasm_reset(r);
    return;
  }
  reasm_deliver(d);
}

/* Before mbedTLS has accepted a ClientHello it parses the first record itself
 * and aborts the handshake on anything unexpected (a truncated record, a
 * non-handshake record, a fragment). So every datagram is checked here first:
 * only epoch-0 ClientHello fragments pass, into the reassembler. */
static void server_prefilter(weft__dtls *d, const uint8_t *data, size_t len) {
  size_t off = 0;
  while (off < len && d->state == ST_HANDSHAKING) {
    if (d->ssl.state > MBEDTLS_SSL_CLIENT_HELLO) {
      /* A ClientHello was just accepted; the rest goes the normal way. */
      feed_checked(d, data + off, len - off);
      return;
    }
    const uint8_t *rec = data + off;
    size_t left = len - off;
    if (left < REC_HDR) {
      WLOG_D("dtls", "%s: dropped %zu bytes: truncated record header", role_name(d), left);
      return;
    }
    size_t rlen = weft__rd16(rec + 11);
    if (rlen > left - REC_HDR) {
      WLOG_D("dtls", "%s: dropped a record of length %zu in %zu bytes", role_name(d), rlen,
             left - REC_HDR);
      return;
    }
    off += REC_HDR + rlen;
    /* RFC 6347 §4.1: epoch 0, record version DTLS 1.0 (FE FF) or 1.2 (FE FD). */
    if (rec[0] != CT_HANDSHAKE || rec[1] != 0xFE || (rec[2] != 0xFF && rec[2] != 0xFD) ||
        rec[3] != 0 || rec[4] != 0) {
      WLOG_D("dtls",
             "%s: dropped a record (type %u, version %02x%02x, epoch %u) before the "
             "ClientHello",
             role_name(d), rec[0], rec[1], rec[2], weft__rd16(rec + 3));
      continue;
    }
    /* RFC 6347 §4.2.3: a record may hold several handshake fragments. */
    const uint8_t *p = rec + REC_HDR;
    size_t n = rlen;
    while (n > 0 && d->state == ST_HANDSHAKING && d->ssl.state <= MBEDTLS_SSL_CLIENT_HELLO) {
      if (n < HS_HDR) {
        WLOG_D("dtls", "%s: dropped a truncated handshake header", role_name(d));
        break;
      }
      uint32_t length = weft__rd24(p + 1), foff = weft__rd24(p + 6), flen = weft__rd24(p + 9);
      if (flen > n - HS_HDR) {
        WLOG_D("dtls", "%s: dropped a handshake fragment longer than its record", role_name(d));
        break;
      }
      if (p[0] != HS_CLIENT_HELLO)
        WLOG_D("dtls", "%s: dropped handshake message type %u before the ClientHello", role_name(d),
               p[0]);
      else if (foff > length || flen > length - foff)
        WLOG_D("dtls", "%s: dropped a ClientHello fragment %u+%u outside its %u-byte message",
               role_name(d), foff, flen, length);
      else
        reasm_add(d, rec, weft__rd16(p + 4), length, foff, p + HS_HDR, flen);
      p += HS_HDR + flen;
      n -= HS_HDR + flen;
    }
  }
}

/* ---- Input -------------------------------------------------------------- */

static void handle_datagram(weft__dtls *d, const uint8_t *data, size_t len) {
  /* The overall limit runs from the first byte the peer sends: a ClientHello
   * trickled one fragment at a time cannot keep the handshake open. */
  arm_cap(d);
  if (d->role == WEFT__DTLS_SERVER && d->ssl.state <= MBEDTLS_SSL_CLIENT_HELLO)
    server_prefilter(d, data, len);
  else
    feed_checked(d, data, len);
}

static void drain(weft__dtls *d) {
  GBytes *b;
  while ((d->state == ST_HANDSHAKING || d->state == ST_CONNECTED) &&
         (b = g_queue_pop_head(&d->inq))) {
    size_t n;
    const uint8_t *p = g_bytes_get_data(b, &n);
    handle_datagram(d, p, n);
    g_bytes_unref(b);
  }
}

/* A timer that fired while we were busy inside a callback (timer_fire does
 * not re-enter) is served now. */
static void catch_up_timer(weft__dtls *d) {
  if (d->timer_expired && d->state == ST_HANDSHAKING && !d->driving) {
    d->driving = true;
    run_ssl(d);
    drain(d);
    d->driving = false;
  }
}

void weft__dtls_input(weft__dtls *d, const uint8_t *data, size_t len) {
  if (!d || !data || len == 0)
    return;
  if (d->state == ST_FAILED || d->state == ST_CLOSED)
    return;
  if (d->state == ST_NEW || d->driving) {
    /* Before start(), or from inside one of our own callbacks. */
    if (g_queue_get_length(&d->inq) >= MAX_QUEUED) {
      WLOG_D("dtls", "%s: input queue full, dropped a %zu-byte datagram", role_name(d), len);
      return;
    }
    g_queue_push_tail(&d->inq, g_bytes_new(data, len));
    return;
  }
  d->driving = true;
  handle_datagram(d, data, len);
  drain(d);
  d->driving = false;
  catch_up_timer(d);
}

/* ---- Public ------------------------------------------------------------- */

weft__dtls *weft__dtls_new(GMainContext *ctx, weft__dtls_cert *cert, weft__dtls_role role,
                           weft__dgram_sink out, const weft__dtls_callbacks *cb) {
  if (!ctx || !cert || !out.send || !cb ||
      (role != WEFT__DTLS_CLIENT && role != WEFT__DTLS_SERVER)) {
    weft__error(WEFT_ERR_INVALID_ARG, "DTLS: missing context, certificate, sink or callbacks");
    return NULL;
  }
  weft__dtls *d = g_new0(weft__dtls, 1);
  d->ctx = g_main_context_ref(ctx);
  d->cert = weft__dtls_cert_ref(cert);
  d->role = role;
  d->out = out;
  d->cb = *cb;
  d->min_ms = DEFAULT_MIN_MS;
  d->max_ms = DEFAULT_MAX_MS;
  d->total_ms = DEFAULT_TOTAL_MS;
  g_queue_init(&d->inq);
  d->rbuf = g_malloc(MBEDTLS_SSL_IN_CONTENT_LEN);
  mbedtls_ssl_config_init(&d->conf);
  mbedtls_ssl_init(&d->ssl);
  mbedtls_ctr_drbg_init(&d->drbg);
  mbedtls_x509_crt_init(&d->own_crt);
  mbedtls_pk_init(&d->own_key);
  weft__live_inc();
  sync_debug_threshold();

  const char *what = "DRBG seed";
  size_t der_len, key_len;
  const uint8_t *der = weft__dtls_cert_der(cert, &der_len);
  const uint8_t *key = weft__dtls_cert_key_der(cert, &key_len);
  int ret =
      mbedtls_ctr_drbg_seed(&d->drbg, entropy_cb, NULL, (const unsigned char *)"weft-dtls", 9);
  if (ret == 0) {
    what = "certificate parse";
    ret = mbedtls_x509_crt_parse_der(&d->own_crt, der, der_len);
  }
  if (ret == 0) {
    what = "key parse";
    ret = mbedtls_pk_parse_key(&d->own_key, key, key_len, NULL, 0);
  }
  if (ret == 0) {
    what = "configuration";
    ret = mbedtls_ssl_config_defaults(
        &d->conf, role == WEFT__DTLS_CLIENT ? MBEDTLS_SSL_IS_CLIENT : MBEDTLS_SSL_IS_SERVER,
        MBEDTLS_SSL_TRANSPORT_DATAGRAM, MBEDTLS_SSL_PRESET_DEFAULT);
  }
  if (ret == 0) {
    mbedtls_ssl_conf_rng(&d->conf, mbedtls_ctr_drbg_random, &d->drbg);
    mbedtls_ssl_conf_dbg(&d->conf, dbg_cb, d);
    /* Debian enables TLS 1.0/1.1, which would allow DTLS 1.0; RFC 8827 §6.5
     * requires DTLS 1.2 or later. */
    mbedtls_ssl_conf_min_version(&d->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(&d->conf, ciphersuites);
    mbedtls_ssl_conf_curves(&d->conf, curves);
    /* OPTIONAL: the chain cannot verify (self-signed) but must be present and
     * is judged by verify_cb + the fingerprint. On the server this also makes
     * mbedTLS send CertificateRequest (RFC 8827 §6.5: both sides present one). */
    mbedtls_ssl_conf_authmode(&d->conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
    mbedtls_ssl_conf_verify(&d->conf, verify_cb, d);
    mbedtls_ssl_conf_export_keys_ext_cb(&d->conf, export_keys_cb, d);
    mbedtls_ssl_conf_handshake_timeout(&d->conf, d->min_ms, d->max_ms);
    /* Offered even for data-only sessions (some stacks abort without it). */
    mbedtls_ssl_conf_srtp_mki_value_supported(&d->conf, MBEDTLS_SSL_DTLS_SRTP_MKI_UNSUPPORTED);
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
    mbedtls_ssl_conf_session_tickets(&d->conf, MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#endif
    if (role == WEFT__DTLS_SERVER) {
      /* ICE already proved the address (RFC 8445 §7.2.5); the 2.28 default
       * cookie functions are stubs that fail every handshake. */
      mbedtls_ssl_conf_dtls_cookies(&d->conf, NULL, NULL, NULL);
    }
    what = "SRTP profiles";
    ret = mbedtls_ssl_conf_dtls_srtp_protection_profiles(&d->conf, srtp_profiles);
  }
  if (ret == 0) {
    what = "own certificate";
    ret = mbedtls_ssl_conf_own_cert(&d->conf, &d->own_crt, &d->own_key);
  }
  if (ret == 0) {
    what = "context setup";
    ret = mbedtls_ssl_setup(&d->ssl, &d->conf);
  }
  if (ret != 0) {
    char err[160];
    mbed_err(ret, err, sizeof err);
    weft__error(WEFT_ERR_OPERATION, "DTLS: %s failed: %s", what, err);
    weft__dtls_free(d);
    return NULL;
  }
  mbedtls_ssl_set_bio(&d->ssl, d, bio_send, bio_recv, NULL);
  mbedtls_ssl_set_timer_cb(&d->ssl, d, set_timer_cb, get_timer_cb);
  mbedtls_ssl_set_mtu(&d->ssl, HANDSHAKE_MTU);
  return d;
}

int weft__dtls_set_remote_fingerprint(weft__dtls *d, const char *alg, const char *hex) {
  static const struct {
    const char *name;
    mbedtls_md_type_t md;
  } algs[] = {{"sha-1", MBEDTLS_MD_SHA1},
              {"sha-256", MBEDTLS_MD_SHA256},
              {"sha-384", MBEDTLS_MD_SHA384},
              {"sha-512", MBEDTLS_MD_SHA512}};
  if (!d || !alg || !hex)
    return weft__error(WEFT_ERR_INVALID_ARG, "DTLS: missing fingerprint");
  if (d->state != ST_NEW)
    return weft__error(WEFT_ERR_INVALID_STATE, "DTLS: fingerprint set after start");
  const mbedtls_md_info_t *info = NULL;
  mbedtls_md_type_t md = MBEDTLS_MD_NONE;
  for (size_t i = 0; i < WEFT__ARRAY_LEN(algs); i++) {
    if (g_ascii_strcasecmp(alg, algs[i].name) == 0) {
      md = algs[i].md;
      info = mbedtls_md_info_from_type(md);
    }
  }
  if (!info)
    return weft__error(WEFT_ERR_NOT_SUPPORTED, "DTLS: unsupported fingerprint hash \"%.32s\"", alg);
  /* RFC 8122 §5: fingerprint = 2UHEX *(":" 2UHEX); lowercase accepted too. */
  size_t want = mbedtls_md_get_size(info);
  uint8_t fp[MBEDTLS_MD_MAX_SIZE];
  size_t n = 0;
  const char *p = hex;
  for (;;) {
    if (n == want || !g_ascii_isxdigit(p[0]) || !g_ascii_isxdigit(p[1]))
      return weft__error(WEFT_ERR_SYNTAX, "DTLS: malformed %s fingerprint (want %zu hex pairs)",
                         alg, want);
    fp[n++] = (uint8_t)(g_ascii_xdigit_value(p[0]) << 4 | g_ascii_xdigit_value(p[1]));
    p += 2;
    if (*p == '\0')
      break;
    if (*p != ':')
      return weft__error(WEFT_ERR_SYNTAX, "DTLS: malformed %s fingerprint at offset %td", alg,
                         p - hex);
    p++;
  }
  if (n != want)
    return weft__error(WEFT_ERR_SYNTAX, "DTLS: %s fingerprint has %zu bytes, want %zu", alg, n,
                       want);
  memcpy(d->fp, fp, n);
  d->fp_len = n;
  d->fp_md = md;
  return 0;
}

int weft__dtls_set_handshake_timeouts(weft__dtls *d, uint32_t min_ms, uint32_t max_ms,
                                      uint32_t total_ms) {
  if (!d)
    return weft__error(WEFT_ERR_INVALID_ARG, "DTLS: no object");
  if (d->state != ST_NEW)
    return weft__error(WEFT_ERR_INVALID_STATE, "DTLS: timeouts set after start");
  if (min_ms == 0 || min_ms > max_ms || total_ms == 0)
    return weft__error(WEFT_ERR_RANGE, "DTLS: bad handshake timeouts %u/%u/%u", min_ms, max_ms,
                       total_ms);
  d->min_ms = min_ms;
  d->max_ms = max_ms;
  d->total_ms = total_ms;
  mbedtls_ssl_conf_handshake_timeout(&d->conf, min_ms, max_ms);
  return 0;
}

int weft__dtls_start(weft__dtls *d) {
  if (!d)
    return weft__error(WEFT_ERR_INVALID_ARG, "DTLS: no object");
  if (d->state != ST_NEW)
    return weft__error(WEFT_ERR_INVALID_STATE, "DTLS: already started");
  if (!d->fp_len)
    return weft__error(WEFT_ERR_INVALID_STATE, "DTLS: no remote fingerprint");
  d->state = ST_HANDSHAKING;
  WLOG_D("dtls", "%s: start", role_name(d));
  d->driving = true;
  if (d->role == WEFT__DTLS_CLIENT)
    run_ssl(d); /* writes the ClientHello and arms the timer */
  drain(d);
  d->driving = false;
  catch_up_timer(d);
  return 0;
}

int weft__dtls_send(weft__dtls *d, const uint8_t *data, size_t len) {
  if (!d || (!data && len))
    return weft__error(WEFT_ERR_INVALID_ARG, "DTLS: no object or data");
  if (d->state != ST_CONNECTED)
    return weft__error(WEFT_ERR_INVALID_STATE, "DTLS: not connected");
  if (len == 0)
    return 0; /* an empty record would carry nothing */
  size_t max = weft__dtls_max_send(d);
  if (len > max)
    return weft__error(WEFT_ERR_TOO_BIG, "DTLS: %zu bytes exceed the %zu-byte record limit", len,
                       max);
  int ret = mbedtls_ssl_write(&d->ssl, data, len);
  if (ret < 0) {
    char err[160];
    mbed_err(ret, err, sizeof err);
    return weft__error(WEFT_ERR_OPERATION, "DTLS: write failed: %s", err);
  }
  return 0;
}

void weft__dtls_close(weft__dtls *d) {
  if (!d || d->state == ST_CLOSED || d->state == ST_FAILED)
    return;
  if (d->state == ST_CONNECTED) {
    /* RFC 5246 §7.2.1: close_notify; DTLS sends it once, unacknowledged. */
    int ret = mbedtls_ssl_close_notify(&d->ssl);
    if (ret != 0)
      WLOG_D("dtls", "%s: close_notify not sent (-0x%04x)", role_name(d), (unsigned)-ret);
  }
  stop(d, ST_CLOSED);
}

void weft__dtls_free(weft__dtls *d) {
  if (!d)
    return;
  d->freeing = true;
  stop(d, ST_CLOSED);
  mbedtls_ssl_free(&d->ssl);
  mbedtls_ssl_config_free(&d->conf);
  mbedtls_x509_crt_free(&d->own_crt);
  mbedtls_pk_free(&d->own_key);
  mbedtls_ctr_drbg_free(&d->drbg);
  destroy_source(&d->timer);
  mbedtls_platform_zeroize(d->randoms, sizeof d->randoms);
  weft__dtls_cert_unref(d->cert);
  g_main_context_unref(d->ctx);
  g_free(d->rbuf);
  g_free(d);
  weft__live_dec();
}

bool weft__dtls_is_connected(const weft__dtls *d) { return d && d->state == ST_CONNECTED; }

weft__dtls_role weft__dtls_get_role(const weft__dtls *d) { return d ? d->role : WEFT__DTLS_CLIENT; }

const char *weft__dtls_get_ciphersuite(const weft__dtls *d) {
  return weft__dtls_is_connected(d) ? mbedtls_ssl_get_ciphersuite(&d->ssl) : NULL;
}

size_t weft__dtls_max_send(const weft__dtls *d) {
  if (!d || d->state != ST_CONNECTED)
    return 0;
  int max = mbedtls_ssl_get_max_out_record_payload(&d->ssl);
  return max > 0 ? (size_t)max : 0;
}

unsigned weft__dtls_debug_reassembled(const weft__dtls *d) { return d ? d->reassembled : 0; }

int weft__dtls_debug_set_handshake_mtu(weft__dtls *d, uint16_t mtu) {
  if (!d || d->state != ST_NEW)
    return weft__error(WEFT_ERR_INVALID_STATE, "DTLS: the MTU is set before start");
  mbedtls_ssl_set_mtu(&d->ssl, mtu);
  return WEFT_OK;
}
