/* Self-signed certificates for DTLS, ECDSA P-256 or RSA-2048 (RFC 8827
 * §6.5: WebRTC endpoints authenticate with self-signed certificates whose
 * fingerprint is carried in the SDP). */
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "core/core.h"
#include "dtls/dtls.h"

/* CERT_BUF holds the DER certificate or key: an RSA-2048 key is about
 * 1.2 KB, its certificate about 0.8 KB. */
enum { CERT_BUF = 4096, SERIAL_LEN = 16, FP_HEX_LEN = 32 * 3, RSA_BITS = 2048, RSA_EXP = 65537 };

struct weft__dtls_cert {
  weft__refcount ref;
  uint8_t *der;
  size_t der_len;
  uint8_t *key_der;
  size_t key_der_len;
  char fingerprint[sizeof("sha-256 ") + FP_HEX_LEN];
};

static uint8_t *copy_bytes(const uint8_t *p, size_t n) {
  uint8_t *r = g_malloc(n);
  memcpy(r, p, n);
  return r;
}

static int entropy_cb(void *unused, unsigned char *out, size_t len) {
  (void)unused;
  weft__random(out, len);
  return 0;
}

/* X.509 time string "YYYYMMDDhhmmss" (UTC) for now + @offset seconds. */
static void x509_time(char out[16], time_t offset) {
  time_t t = time(NULL) + offset;
  struct tm tm;
  gmtime_r(&t, &tm);
  if (strftime(out, 16, "%Y%m%d%H%M%S", &tm) != 14)
    memcpy(out, "20000101000000", 15); /* years > 9999: unreachable */
}

static void format_fingerprint(weft__dtls_cert *c) {
  uint8_t digest[32];
  mbedtls_sha256_ret(c->der, c->der_len, digest, 0);
  static const char hex[] = "0123456789ABCDEF";
  char *p = c->fingerprint;
  memcpy(p, "sha-256 ", 8);
  p += 8;
  for (size_t i = 0; i < sizeof digest; i++) {
    if (i)
      *p++ = ':';
    *p++ = hex[digest[i] >> 4];
    *p++ = hex[digest[i] & 15];
  }
  *p = '\0';
}

/* A fresh key of @kind into @key (initialised). */
static int gen_key(weft__cert_kind kind, mbedtls_pk_context *key, mbedtls_ctr_drbg_context *drbg) {
  int ret;
  if (kind == WEFT__CERT_RSA_2048) {
    if ((ret = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA))) != 0)
      return ret;
    return mbedtls_rsa_gen_key(mbedtls_pk_rsa(*key), mbedtls_ctr_drbg_random, drbg, RSA_BITS,
                               RSA_EXP);
  }
  if ((ret = mbedtls_pk_setup(key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) != 0)
    return ret;
  return mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(*key), mbedtls_ctr_drbg_random,
                             drbg);
}

weft__dtls_cert *weft__dtls_cert_new(void) {
  return weft__dtls_cert_new_kind(WEFT__CERT_ECDSA_P256);
}

weft__dtls_cert *weft__dtls_cert_new_kind(weft__cert_kind kind) {
  mbedtls_ctr_drbg_context drbg;
  mbedtls_pk_context key;
  mbedtls_x509write_cert wr;
  mbedtls_mpi serial;
  uint8_t *buf = g_malloc(CERT_BUF);
  weft__dtls_cert *c = NULL;
  const char *what = "DRBG seed";
  int ret;

  mbedtls_ctr_drbg_init(&drbg);
  mbedtls_pk_init(&key);
  mbedtls_x509write_crt_init(&wr);
  mbedtls_mpi_init(&serial);

  if ((ret = mbedtls_ctr_drbg_seed(&drbg, entropy_cb, NULL, (const unsigned char *)"weft-cert",
                                   9)) != 0)
    goto fail;
  what = "key generation";
  if ((ret = gen_key(kind, &key, &drbg)) != 0)
    goto fail;

  /* RFC 5280 §4.1.2.2: a positive serial of at most 20 octets. */
  uint8_t sbytes[SERIAL_LEN];
  weft__random(sbytes, sizeof sbytes);
  sbytes[0] = (uint8_t)((sbytes[0] & 0x7f) | 0x01);
  char not_before[16], not_after[16];
  x509_time(not_before, -24 * 3600);
  x509_time(not_after, 365 * 24 * 3600);
  what = "certificate fields";
  mbedtls_x509write_crt_set_version(&wr, MBEDTLS_X509_CRT_VERSION_3);
  mbedtls_x509write_crt_set_md_alg(&wr, MBEDTLS_MD_SHA256);
  mbedtls_x509write_crt_set_subject_key(&wr, &key);
  mbedtls_x509write_crt_set_issuer_key(&wr, &key);
  if ((ret = mbedtls_mpi_read_binary(&serial, sbytes, sizeof sbytes)) != 0 ||
      (ret = mbedtls_x509write_crt_set_serial(&wr, &serial)) != 0 ||
      (ret = mbedtls_x509write_crt_set_subject_name(&wr, "CN=weft")) != 0 ||
      (ret = mbedtls_x509write_crt_set_issuer_name(&wr, "CN=weft")) != 0 ||
      (ret = mbedtls_x509write_crt_set_validity(&wr, not_before, not_after)) != 0)
    goto fail;

  c = g_new0(weft__dtls_cert, 1);
  weft__ref_init(&c->ref);
  what = "certificate signature";
  /* Both writers fill the END of the buffer and return the length. */
  ret = mbedtls_x509write_crt_der(&wr, buf, CERT_BUF, mbedtls_ctr_drbg_random, &drbg);
  if (ret <= 0) {
    ret = ret ? ret : -1;
    goto fail;
  }
  c->der_len = (size_t)ret;
  c->der = copy_bytes(buf + CERT_BUF - c->der_len, c->der_len);
  what = "key encoding";
  ret = mbedtls_pk_write_key_der(&key, buf, CERT_BUF);
  if (ret <= 0) {
    ret = ret ? ret : -1;
    goto fail;
  }
  c->key_der_len = (size_t)ret;
  c->key_der = copy_bytes(buf + CERT_BUF - c->key_der_len, c->key_der_len);
  format_fingerprint(c);
  ret = 0;

fail:
  mbedtls_platform_zeroize(buf, CERT_BUF);
  g_free(buf);
  mbedtls_mpi_free(&serial);
  mbedtls_x509write_crt_free(&wr);
  mbedtls_pk_free(&key);
  mbedtls_ctr_drbg_free(&drbg);
  if (ret != 0) {
    if (c) {
      g_free(c->der);
      g_free(c);
    }
    weft__error(WEFT_ERR_OPERATION, "DTLS: certificate %s failed (mbedTLS -0x%04x)", what,
                (unsigned)-ret);
    return NULL;
  }
  /* Not counted by weft__live_inc: a context may cache one certificate for
   * its whole lifetime (stack-notes §4.4: reuse one certificate). */
  WLOG_D("dtls", "new %s certificate %s", kind == WEFT__CERT_RSA_2048 ? "RSA-2048" : "ECDSA P-256",
         c->fingerprint);
  return c;
}

weft__dtls_cert *weft__dtls_cert_ref(weft__dtls_cert *c) {
  if (c)
    weft__ref_inc(&c->ref);
  return c;
}

void weft__dtls_cert_unref(weft__dtls_cert *c) {
  if (!c || !weft__ref_dec(&c->ref))
    return;
  mbedtls_platform_zeroize(c->key_der, c->key_der_len);
  g_free(c->key_der);
  g_free(c->der);
  g_free(c);
}

const char *weft__dtls_cert_fingerprint(const weft__dtls_cert *c) {
  return c ? c->fingerprint : "";
}

const uint8_t *weft__dtls_cert_der(const weft__dtls_cert *c, size_t *len) {
  *len = c->der_len;
  return c->der;
}

const uint8_t *weft__dtls_cert_key_der(const weft__dtls_cert *c, size_t *len) {
  *len = c->key_der_len;
  return c->key_der;
}
