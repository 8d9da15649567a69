/*
 * srtp/ — SRTP and SRTCP sessions keyed by DTLS-SRTP (RFC 3711, RFC 5764),
 * a thin layer over libsrtp2 (2.x API).
 *
 * One weft__srtp holds two libsrtp sessions: one that protects what this side
 * sends (wildcard ssrc_any_outbound policy) and one that unprotects what it
 * receives (ssrc_any_inbound). Keys are per direction (RFC 5764 §4.2), so every
 * SSRC of a BUNDLE group shares them; libsrtp creates the per-SSRC stream state
 * (ROC, replay window) the first time it sees an SSRC — on receive only after
 * the packet authenticated, so forged packets cannot grow the session.
 *
 * Replay window: 1024 packets (what Chrome and Firefox use; libsrtp's default
 * of 128 drops legitimate reordered video). Retransmissions with the same
 * sequence number are allowed on send (allow_repeat_tx, for NACK answers sent
 * on the original SSRC).
 *
 * Everything works in place in a caller-owned buffer: no allocation per
 * packet (only per new SSRC, inside libsrtp).
 *
 * Bound (issue 12): libsrtp keeps an inbound stream (about 400 bytes, and a
 * linear search per packet in 2.5) for every SSRC that ever authenticated, so
 * a remote spraying SSRCs would grow the session without limit. This layer
 * counts those streams (weft__srtp_rx_streams); the caller decides which
 * SSRCs to keep and removes the others with weft__srtp_remove_ssrc right
 * after unprotecting (pc/media.c keeps the announced SSRCs and at most
 * WEFT__SSRC_LEARNT_MAX learnt ones).
 *
 * Threads: a session is not thread-safe (libsrtp contexts are not): use each
 * one from one thread at a time — the engine thread. Different sessions may be
 * used concurrently; the one-time libsrtp initialisation is thread-safe.
 */
#ifndef WEFT_SRTP_SRTP_H
#define WEFT_SRTP_SRTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Headroom a buffer must have past the packet for the protect functions.
 * libsrtp 2.x documents that srtp_protect() may write up to
 * SRTP_MAX_TRAILER_LEN (tag + MKI = 16 + 128) bytes past the RTP packet and
 * srtp_protect_rtcp() SRTP_MAX_TRAILER_LEN + 4 (the E flag + SRTCP index of
 * RFC 3711 §3.4 come first). weft never uses an MKI, so far fewer bytes are
 * actually added (see weft__srtp_rtp_overhead), but the buffer contract is
 * libsrtp's. srtp.c checks these against the libsrtp macros at compile time. */
enum {
  WEFT__SRTP_RTP_HEADROOM = 144,  /* SRTP_MAX_TRAILER_LEN */
  WEFT__SRTP_RTCP_HEADROOM = 148, /* SRTP_MAX_TRAILER_LEN + 4 */
  /* Largest packet accepted (before protection); UDP cannot carry more. */
  WEFT__SRTP_MAX_PACKET = 65535
};

/* Why an unprotect failed, for counters. Replays are routine on a real network
 * (duplicated datagrams, a peer's retransmission of an already received
 * packet) and the caller normally just counts and drops them; an
 * authentication failure means a forged or corrupted packet or wrong keys. */
typedef enum weft__srtp_fail {
  WEFT__SRTP_FAIL_NONE = 0,
  WEFT__SRTP_FAIL_REPLAY,     /* libsrtp replay_fail: index already seen inside the window */
  WEFT__SRTP_FAIL_REPLAY_OLD, /* libsrtp replay_old: index behind the window */
  WEFT__SRTP_FAIL_AUTH,       /* libsrtp auth_fail: tag mismatch (or cant_check: an SRTCP
                                 packet claiming to be unencrypted) */
  WEFT__SRTP_FAIL_MALFORMED,  /* too short, not version 2, header beyond the packet */
  WEFT__SRTP_FAIL_OTHER       /* any other libsrtp status (named in the message) */
} weft__srtp_fail;

static inline bool weft__srtp_fail_is_replay(weft__srtp_fail f) {
  return f == WEFT__SRTP_FAIL_REPLAY || f == WEFT__SRTP_FAIL_REPLAY_OLD;
}

/* Per-session counters (monotonic since creation). */
typedef struct weft__srtp_stats {
  uint64_t rtp_protected, rtcp_protected;
  uint64_t rtp_unprotected, rtcp_unprotected;
  uint64_t replay; /* REPLAY + REPLAY_OLD, RTP and RTCP */
  uint64_t auth_fail;
  uint64_t malformed;
  uint64_t other_fail; /* unprotect failures of class OTHER */
} weft__srtp_stats;

typedef struct weft__srtp weft__srtp;

/* Creates a session from the keys the DTLS handshake exported. The client
 * protects with client_key/client_salt and unprotects with server_*, the
 * server the other way round (RFC 5764 §4.2). For AES128_CM_SHA1_32 the SRTP
 * tag is 32 bits but the SRTCP tag stays 80 bits (RFC 5764 §4.1.2).
 * Errors: WEFT_ERR_INVALID_ARG (NULL), WEFT_ERR_NOT_SUPPORTED (profile NONE or
 * unknown), WEFT_ERR_INTERNAL (libsrtp failed to initialise or create the
 * session; the message names the libsrtp status). */
int weft__srtp_new(const weft__srtp_keys *keys, weft__srtp **out);
/* NULL is a no-op. Wipes the key copies. */
void weft__srtp_free(weft__srtp *s);

weft__srtp_profile weft__srtp_get_profile(const weft__srtp *s);
/* Bytes protection actually adds (no MKI): RTP 10 (_80) or 4 (_32); RTCP 14
 * (4-byte E+index plus the 80-bit tag) for both profiles. For MTU planning. */
size_t weft__srtp_rtp_overhead(const weft__srtp *s);
size_t weft__srtp_rtcp_overhead(const weft__srtp *s);

/* Protects the RTP packet in buf[0..len) in place; the result (len plus the
 * overhead) is in buf[0..*out_len). @cap is the size of @buf and must be at
 * least len + WEFT__SRTP_RTP_HEADROOM. Protecting again the same sequence
 * number (a retransmission) is allowed; an index behind the window is not.
 * Errors: WEFT_ERR_INVALID_ARG (NULL, cap < len + headroom: the message gives
 * both numbers), WEFT_ERR_TOO_BIG (len > WEFT__SRTP_MAX_PACKET),
 * WEFT_ERR_SYNTAX (not an RTP header: shorter than 12 bytes, version != 2, CSRC
 * list or header extension beyond @len), WEFT_ERR_OPERATION (libsrtp refused:
 * replay_old on send, key_expired ...; the message names the status). On error
 * @buf may have been modified only if libsrtp itself failed. */
int weft__srtp_protect_rtp(weft__srtp *s, uint8_t *buf, size_t len, size_t cap, size_t *out_len);
/* Same for an RTCP (compound) packet; @cap >= len + WEFT__SRTP_RTCP_HEADROOM.
 * WEFT_ERR_SYNTAX for fewer than 8 bytes or version != 2. */
int weft__srtp_protect_rtcp(weft__srtp *s, uint8_t *buf, size_t len, size_t cap, size_t *out_len);

/* Verifies and decrypts the SRTP packet in buf[0..len) in place; the RTP
 * packet is in buf[0..*out_len) (shorter than @len by the trailer). @fail (may
 * be NULL) receives the failure class. Errors, each with a message naming the
 * libsrtp status where libsrtp produced it ("auth_fail", "replay_fail",
 * "replay_old"):
 *   WEFT_ERR_OPERATION       replay (fail = REPLAY / REPLAY_OLD): count, drop;
 *   WEFT_ERR_INVALID_ACCESS  authentication failed (fail = AUTH; also libsrtp
 *                            cant_check, SRTCP with the E flag cleared);
 *   WEFT_ERR_SYNTAX          malformed (fail = MALFORMED): shorter than the
 *                            header plus the tag, version != 2, CSRCs or
 *                            extension beyond the packet;
 *   WEFT_ERR_TOO_BIG         len > WEFT__SRTP_MAX_PACKET (fail = MALFORMED);
 *   WEFT_ERR_INTERNAL        other libsrtp statuses (fail = OTHER);
 *   WEFT_ERR_INVALID_ARG     NULL arguments (fail = OTHER).
 * The packet bytes are unspecified after a failure. */
int weft__srtp_unprotect_rtp(weft__srtp *s, uint8_t *buf, size_t len, size_t *out_len,
                             weft__srtp_fail *fail);
/* Same for SRTCP; the minimum is 8 (header + SSRC) + 4 (E + index) + 10 (tag)
 * bytes. */
int weft__srtp_unprotect_rtcp(weft__srtp *s, uint8_t *buf, size_t len, size_t *out_len,
                              weft__srtp_fail *fail);

/* Forgets the per-SSRC state (ROC, replay window, SRTCP index) libsrtp keeps
 * for @ssrc in one direction: for an SSRC retired by renegotiation, or a
 * remote source that restarted its sequence numbers (otherwise every packet
 * is replay_old until the new numbers overtake the old ones). The next packet
 * of that SSRC starts a fresh stream from the wildcard policy. Errors:
 * WEFT_ERR_INVALID_ARG (NULL), WEFT_ERR_OPERATION (no stream for @ssrc in
 * that direction; the message names the libsrtp status). */
int weft__srtp_remove_ssrc(weft__srtp *s, uint32_t ssrc, bool outbound);

void weft__srtp_get_stats(const weft__srtp *s, weft__srtp_stats *out);

/* Inbound per-SSRC streams libsrtp holds now: SSRCs that authenticated (RTP
 * or RTCP) and were not removed since. 0 for NULL. */
size_t weft__srtp_rx_streams(const weft__srtp *s);
/* true when libsrtp holds an inbound stream for @ssrc. */
bool weft__srtp_rx_has_stream(const weft__srtp *s, uint32_t ssrc);

/* libsrtp's spelling of a status code ("auth_fail", "replay_old"), or
 * "unknown". Exposed for tests and logs. */
const char *weft__srtp_status_name(int status);

#endif
