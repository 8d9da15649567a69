/*
 * dtls/ — DTLS 1.2 over a datagram sink, with mbedTLS 2.28 (the only layer
 * that includes mbedTLS headers).
 *
 * A weft__dtls is one DTLS association: it runs the handshake (ECDHE with
 * ECDSA or RSA certificates, AEAD suites only, self-signed certificates
 * authenticated by the SDP fingerprint, RFC 8122 §5),
 * exports the DTLS-SRTP keying material (RFC 5764 §4.2) and carries
 * application data (SCTP packets) afterwards. Everything runs on the thread
 * that iterates the GMainContext given to weft__dtls_new(); callbacks are
 * invoked from weft__dtls_input(), weft__dtls_start() or a timer on that
 * context, never from weft__dtls_send().
 *
 * Retransmission: the first timeout is 100 ms, doubling up to 6400 ms, so an
 * unanswered flight fails the handshake after 100+200+...+6400 = 12.7 s; the
 * whole handshake is in any case failed 20 s after it began (client: start();
 * server: first ClientHello). Both are tunable for tests.
 */
#ifndef WEFT_DTLS_H
#define WEFT_DTLS_H

#include <glib.h>

#include "core/core.h"

/* ---- Certificates ------------------------------------------------------- */
typedef struct weft__dtls_cert weft__dtls_cert;
typedef enum weft__cert_kind { WEFT__CERT_ECDSA_P256, WEFT__CERT_RSA_2048 } weft__cert_kind;
/* New self-signed certificate of @kind (CN=weft, validity from 1 day ago to
 * +1 year, random serial, SHA-256 signature). RSA-2048 key generation takes
 * tens to hundreds of milliseconds; ECDSA P-256 about one. NULL + weft__error
 * on failure. weft__dtls_cert_new() is the ECDSA P-256 one. */
weft__dtls_cert *weft__dtls_cert_new_kind(weft__cert_kind kind);
weft__dtls_cert *weft__dtls_cert_new(void);
/* Atomic refcount; a cert is read-only after creation and may be shared by
 * dtls objects on different threads. */
weft__dtls_cert *weft__dtls_cert_ref(weft__dtls_cert *c);
void weft__dtls_cert_unref(weft__dtls_cert *c); /* NULL ok */
/* "sha-256 AB:CD:..." (uppercase hex, colon separated) of the DER
 * certificate; owned by the cert. */
const char *weft__dtls_cert_fingerprint(const weft__dtls_cert *c);
/* The DER certificate and the DER (RFC 5915) private key; owned by the cert.
 * Each weft__dtls parses its own copy, so no mbedTLS object is shared between
 * threads. */
const uint8_t *weft__dtls_cert_der(const weft__dtls_cert *c, size_t *len);
const uint8_t *weft__dtls_cert_key_der(const weft__dtls_cert *c, size_t *len);

/* ---- Associations ------------------------------------------------------- */
typedef struct weft__dtls weft__dtls;
typedef enum weft__dtls_role { WEFT__DTLS_CLIENT = 0, WEFT__DTLS_SERVER = 1 } weft__dtls_role;
typedef struct weft__dtls_callbacks {
  /* Handshake done and the remote fingerprint verified. keys->profile is
   * WEFT__SRTP_NONE if use_srtp was not negotiated. */
  void (*on_connected)(void *ud, const weft__srtp_keys *keys);
  /* One decrypted application-data record (for SCTP: one SCTP packet). */
  void (*on_data)(void *ud, const uint8_t *data, size_t len);
  /* Fatal: handshake failure, fingerprint mismatch (detail
   * WEFT_DETAIL_FINGERPRINT_FAILURE), handshake timeout, fatal alert (alert =
   * TLS alert number or -1). Called at most once; the object is dead
   * afterwards (input ignored, send fails). */
  void (*on_failed)(void *ud, weft_error_detail detail, int alert, const char *message);
  /* close_notify received from the remote. */
  void (*on_closed)(void *ud);
  void *ud;
} weft__dtls_callbacks;

/* @cert is referenced; @cb is copied. NULL + weft__error on failure (bad
 * arguments, mbedTLS setup failure). */
weft__dtls *weft__dtls_new(GMainContext *ctx, weft__dtls_cert *cert, weft__dtls_role role,
                           weft__dgram_sink out, const weft__dtls_callbacks *cb);
/* alg: "sha-256" (also sha-1, sha-384, sha-512; case-insensitive); hex
 * "AB:CD:..". Unknown alg -> WEFT_ERR_NOT_SUPPORTED; malformed hex/length ->
 * WEFT_ERR_SYNTAX. Must be called before start (WEFT_ERR_INVALID_STATE after). */
int weft__dtls_set_remote_fingerprint(weft__dtls *d, const char *alg, const char *hex);
/* Client: sends the ClientHello and arms the retransmission timer. Server:
 * waits for input. INVALID_STATE without a remote fingerprint or if already
 * started. */
int weft__dtls_start(weft__dtls *d);
/* A datagram from the wire (may hold several records). Garbage is dropped with
 * a log line, never a crash. May invoke callbacks. Input before start() is
 * buffered (up to 64 datagrams) and processed by start(). */
void weft__dtls_input(weft__dtls *d, const uint8_t *data, size_t len);
/* Application data, one record per call (len 0: nothing is sent).
 * WEFT_ERR_INVALID_STATE before connected or after failure/close;
 * WEFT_ERR_TOO_BIG over the record limit (16384 bytes of payload, see
 * weft__dtls_max_send). */
int weft__dtls_send(weft__dtls *d, const uint8_t *data, size_t len);
/* Sends close_notify if connected; the object stays valid until free and
 * invokes no callback afterwards. */
void weft__dtls_close(weft__dtls *d);
void weft__dtls_free(weft__dtls *d); /* NULL ok; removes its timer; no callback afterwards */
bool weft__dtls_is_connected(const weft__dtls *d);
weft__dtls_role weft__dtls_get_role(const weft__dtls *d);
/* The negotiated cipher suite's IANA-style name as mbedTLS spells it
 * ("TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"), or NULL before the handshake
 * completed. Owned by mbedTLS (static). Owner thread. */
const char *weft__dtls_get_ciphersuite(const weft__dtls *d);

/* Largest weft__dtls_send() payload once connected (0 before). */
size_t weft__dtls_max_send(const weft__dtls *d);
/* Overrides the retransmission timeouts (initial @min_ms doubling up to
 * @max_ms) and the overall handshake limit @total_ms. Before start only
 * (WEFT_ERR_INVALID_STATE after); WEFT_ERR_RANGE unless
 * 0 < min_ms <= max_ms and total_ms > 0. */
int weft__dtls_set_handshake_timeouts(weft__dtls *d, uint32_t min_ms, uint32_t max_ms,
                                      uint32_t total_ms);
/* Tests: how many ClientHellos this (server) object reassembled from more than
 * one handshake fragment before handing them to mbedTLS. */
unsigned weft__dtls_debug_reassembled(const weft__dtls *d);
/* Tests: the MTU this side shapes its handshake flights to (default 1200);
 * a small one makes mbedTLS fragment every message, Finished included.
 * Before start only (WEFT_ERR_INVALID_STATE after). */
int weft__dtls_debug_set_handshake_mtu(weft__dtls *d, uint16_t mtu);

#endif
