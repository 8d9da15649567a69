/*
 * srtp/ — SRTP/SRTCP sessions over libsrtp2 (see srtp.h).
 */
#include "srtp/srtp.h"

#include <limits.h>
#include <string.h>

#include <glib.h>
#include <srtp2/srtp.h>

/* The headroom constants in srtp.h must follow libsrtp's contract: srtp.h does
 * not include libsrtp (only this file may), so check them here. */
_Static_assert(WEFT__SRTP_RTP_HEADROOM == SRTP_MAX_TRAILER_LEN, "RTP headroom != libsrtp's");
_Static_assert(WEFT__SRTP_RTCP_HEADROOM == SRTP_MAX_TRAILER_LEN + 4, "RTCP headroom != libsrtp's");
_Static_assert(WEFT__SRTP_KEY_LEN + WEFT__SRTP_SALT_LEN == SRTP_MASTER_KEY_LEN,
               "AES-128 master key + salt is 30 bytes (RFC 3711 §8.2)");
/* libsrtp's lengths are int: every length we pass stays far below INT_MAX. */
_Static_assert(WEFT__SRTP_MAX_PACKET + WEFT__SRTP_RTCP_HEADROOM < INT_MAX, "int lengths");

/* RFC 3711 §3.3.2 / RFC 4568 default is 64; WebRTC browsers use 1024
 * (rtcweb-wg/jsep#1035), and video reordering needs it. */
enum { REPLAY_WINDOW = 1024 };

/* RFC 3550 §5.1: fixed header, then CSRCs, then the optional extension. */
enum { RTP_HEADER_MIN = 12, RTCP_HEADER_MIN = 8, SRTCP_INDEX_LEN = 4, SRTCP_TAG_LEN = 10 };

struct weft__srtp {
  srtp_t tx; /* protects what we send: ssrc_any_outbound */
  srtp_t rx; /* unprotects what we receive: ssrc_any_inbound */
  weft__srtp_profile profile;
  size_t rtp_tag_len;
  weft__srtp_stats stats;
  size_t rx_streams; /* inbound per-SSRC streams libsrtp created and we did not remove */
};

/* ---- one-time libsrtp initialisation ------------------------------------ */

/* srtp_init() must run once before anything else in libsrtp and is not itself
 * safe to race; g_once_init_* gives exactly-once with a memory barrier. The
 * status is kept so every later caller sees the same failure. weft never
 * calls srtp_shutdown() (libsrtp's state is process-wide and a host
 * application may use libsrtp too), and deliberately installs no libsrtp log
 * or event handler: there is one global slot for each and it belongs to the
 * host if it wants it. */
static int init_status = -1;

static int srtp_global_init(void) {
  static gsize once = 0;
  if (g_once_init_enter(&once)) {
    init_status = (int)srtp_init();
    /* libsrtp 2.5 is process-global: when another library of the process
     * (pylibsrtp under aiortc, GStreamer's srtp plugin...) initialised it
     * first, srtp_init() finds its crypto kernel up and fails only at
     * registering its debug module again (bad_param). The kernel is usable:
     * carry on; a real problem shows up when a session is created. */
    if (init_status == srtp_err_status_bad_param) {
      WLOG_I("srtp", "libsrtp was already initialised in this process; using it as it is");
      init_status = srtp_err_status_ok;
    }
    g_once_init_leave(&once, 1);
  }
  return init_status;
}

/* ---- status names --------------------------------------------------------- */

const char *weft__srtp_status_name(int status) {
  /* libsrtp 2.x srtp_err_status_t, spelled without the common prefix. */
  static const char *const names[] = {
      [srtp_err_status_ok] = "ok",
      [srtp_err_status_fail] = "fail",
      [srtp_err_status_bad_param] = "bad_param",
      [srtp_err_status_alloc_fail] = "alloc_fail",
      [srtp_err_status_dealloc_fail] = "dealloc_fail",
      [srtp_err_status_init_fail] = "init_fail",
      [srtp_err_status_terminus] = "terminus",
      [srtp_err_status_auth_fail] = "auth_fail",
      [srtp_err_status_cipher_fail] = "cipher_fail",
      [srtp_err_status_replay_fail] = "replay_fail",
      [srtp_err_status_replay_old] = "replay_old",
      [srtp_err_status_algo_fail] = "algo_fail",
      [srtp_err_status_no_such_op] = "no_such_op",
      [srtp_err_status_no_ctx] = "no_ctx",
      [srtp_err_status_cant_check] = "cant_check",
      [srtp_err_status_key_expired] = "key_expired",
      [srtp_err_status_socket_err] = "socket_err",
      [srtp_err_status_signal_err] = "signal_err",
      [srtp_err_status_nonce_bad] = "nonce_bad",
      [srtp_err_status_read_fail] = "read_fail",
      [srtp_err_status_write_fail] = "write_fail",
      [srtp_err_status_parse_err] = "parse_err",
      [srtp_err_status_encode_err] = "encode_err",
      [srtp_err_status_semaphore_err] = "semaphore_err",
      [srtp_err_status_pfkey_err] = "pfkey_err",
      [srtp_err_status_bad_mki] = "bad_mki",
      [srtp_err_status_pkt_idx_old] = "pkt_idx_old",
      [srtp_err_status_pkt_idx_adv] = "pkt_idx_adv",
  };
  if (status < 0 || (size_t)status >= WEFT__ARRAY_LEN(names) || !names[status])
    return "unknown";
  return names[status];
}

/* ---- creation ------------------------------------------------------------- */

static int create_one(srtp_t *out, weft__srtp_profile profile, srtp_ssrc_type_t dir,
                      const uint8_t key[WEFT__SRTP_KEY_LEN],
                      const uint8_t salt[WEFT__SRTP_SALT_LEN]) {
  /* libsrtp wants the master key immediately followed by the master salt. */
  uint8_t master[SRTP_MASTER_KEY_LEN];
  memcpy(master, key, WEFT__SRTP_KEY_LEN);
  memcpy(master + WEFT__SRTP_KEY_LEN, salt, WEFT__SRTP_SALT_LEN);

  srtp_policy_t pol;
  memset(&pol, 0, sizeof pol);
  if (profile == WEFT__SRTP_AES128_CM_SHA1_80) {
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
  } else {
    /* RFC 5764 §4.1.2: SRTP_AES128_CM_HMAC_SHA1_32 shortens only the SRTP
     * tag; SRTCP keeps the 80-bit tag (RFC 3711 §5.2 makes it mandatory). */
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&pol.rtp);
    srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&pol.rtcp);
  }
  pol.ssrc.type = dir;
  pol.ssrc.value = 0;
  pol.key = master;
  pol.window_size = REPLAY_WINDOW;
  /* Send side only matters: NACK answers resend the same packet (same
   * sequence number, same payload) on the original SSRC. */
  pol.allow_repeat_tx = 1;
  pol.next = NULL;

  srtp_err_status_t st = srtp_create(out, &pol);
  /* libsrtp derived its session keys; do not leave the master copy on the
   * stack. */
  volatile uint8_t *v = master;
  for (size_t i = 0; i < sizeof master; i++)
    v[i] = 0;
  if (st != srtp_err_status_ok) {
    *out = NULL;
    return weft__error(st == srtp_err_status_alloc_fail ? WEFT_ERR_NO_MEMORY : WEFT_ERR_INTERNAL,
                       "srtp_create (%s) failed: %s",
                       dir == ssrc_any_outbound ? "outbound" : "inbound",
                       weft__srtp_status_name((int)st));
  }
  return 0;
}

int weft__srtp_new(const weft__srtp_keys *keys, weft__srtp **out) {
  if (out)
    *out = NULL;
  if (!keys || !out)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft__srtp_new: NULL argument");
  if (keys->profile != WEFT__SRTP_AES128_CM_SHA1_80 &&
      keys->profile != WEFT__SRTP_AES128_CM_SHA1_32)
    return weft__error(WEFT_ERR_NOT_SUPPORTED, "SRTP profile %d not supported", (int)keys->profile);
  int st = srtp_global_init();
  if (st != srtp_err_status_ok)
    return weft__error(WEFT_ERR_INTERNAL, "srtp_init failed: %s", weft__srtp_status_name(st));

  weft__srtp *s = g_new0(weft__srtp, 1);
  s->profile = keys->profile;
  s->rtp_tag_len = keys->profile == WEFT__SRTP_AES128_CM_SHA1_80 ? 10 : 4;

  /* RFC 5764 §4.2: "the client_write_SRTP_master_key ... is used by the
   * client to protect", and the server's keys protect what the server sends. */
  const uint8_t *tx_key = keys->is_client ? keys->client_key : keys->server_key;
  const uint8_t *tx_salt = keys->is_client ? keys->client_salt : keys->server_salt;
  const uint8_t *rx_key = keys->is_client ? keys->server_key : keys->client_key;
  const uint8_t *rx_salt = keys->is_client ? keys->server_salt : keys->client_salt;

  int rc = create_one(&s->tx, s->profile, ssrc_any_outbound, tx_key, tx_salt);
  if (rc == 0)
    rc = create_one(&s->rx, s->profile, ssrc_any_inbound, rx_key, rx_salt);
  if (rc != 0) {
    weft__srtp_free(s);
    return rc;
  }
  *out = s;
  return 0;
}

void weft__srtp_free(weft__srtp *s) {
  if (!s)
    return;
  /* srtp_dealloc zeroes libsrtp's own key material. */
  if (s->tx)
    srtp_dealloc(s->tx);
  if (s->rx)
    srtp_dealloc(s->rx);
  g_free(s);
}

weft__srtp_profile weft__srtp_get_profile(const weft__srtp *s) {
  return s ? s->profile : WEFT__SRTP_NONE;
}

size_t weft__srtp_rtp_overhead(const weft__srtp *s) { return s ? s->rtp_tag_len : 0; }

size_t weft__srtp_rtcp_overhead(const weft__srtp *s) {
  return s ? SRTCP_INDEX_LEN + SRTCP_TAG_LEN : 0;
}

void weft__srtp_get_stats(const weft__srtp *s, weft__srtp_stats *out) {
  if (!out)
    return;
  if (!s) {
    memset(out, 0, sizeof *out);
    return;
  }
  *out = s->stats;
}

size_t weft__srtp_rx_streams(const weft__srtp *s) { return s ? s->rx_streams : 0; }

bool weft__srtp_rx_has_stream(const weft__srtp *s, uint32_t ssrc) {
  if (!s)
    return false;
  /* Unlike srtp_remove_stream, srtp_get_stream_roc takes the SSRC in host
   * order (it converts itself); bad_param means no stream. */
  uint32_t roc;
  return srtp_get_stream_roc(s->rx, ssrc, &roc) == srtp_err_status_ok;
}

int weft__srtp_remove_ssrc(weft__srtp *s, uint32_t ssrc, bool outbound) {
  if (!s)
    return weft__error(WEFT_ERR_INVALID_ARG, "weft__srtp_remove_ssrc: NULL session");
  /* libsrtp wants the SSRC as it appears in the packet (network order). */
  srtp_err_status_t st = srtp_remove_stream(outbound ? s->tx : s->rx, g_htonl(ssrc));
  if (st != srtp_err_status_ok)
    return weft__error(WEFT_ERR_OPERATION, "no %s SRTP stream for ssrc 0x%08x: libsrtp %s",
                       outbound ? "outbound" : "inbound", ssrc, weft__srtp_status_name((int)st));
  if (!outbound && s->rx_streams > 0)
    s->rx_streams--;
  return 0;
}

/* ---- header checks --------------------------------------------------------- */

/* Length of the RTP header (RFC 3550 §5.1, §5.3.1), or a WEFT_ERR_SYNTAX if it
 * does not fit in @len. Checked before libsrtp sees the bytes so the error is
 * precise and no libsrtp version can read past the input. */
static int rtp_header_len(const char *what, const uint8_t *p, size_t len, size_t *hlen) {
  if (len < RTP_HEADER_MIN)
    return weft__error(WEFT_ERR_SYNTAX, "%s: %zu-byte packet shorter than the 12-byte RTP header",
                       what, len);
  if ((p[0] >> 6) != 2)
    return weft__error(WEFT_ERR_SYNTAX, "%s: RTP version %u, expected 2", what, p[0] >> 6);
  size_t h = RTP_HEADER_MIN + 4u * (p[0] & 0x0f);
  if (h > len)
    return weft__error(WEFT_ERR_SYNTAX, "%s: %u CSRCs end at byte %zu, past the %zu-byte packet",
                       what, p[0] & 0x0f, h, len);
  if (p[0] & 0x10) {
    /* RFC 3550 §5.3.1: 16-bit profile id, 16-bit length in 32-bit words. */
    if (h + 4 > len)
      return weft__error(WEFT_ERR_SYNTAX, "%s: header extension header past the %zu-byte packet",
                         what, len);
    size_t ext = 4u * weft__rd16(p + h + 2);
    h += 4 + ext;
    if (h > len)
      return weft__error(WEFT_ERR_SYNTAX,
                         "%s: %zu-byte header extension ends at byte %zu, past the %zu-byte packet",
                         what, ext, h, len);
  }
  *hlen = h;
  return 0;
}

static int rtcp_header_check(const char *what, const uint8_t *p, size_t len, size_t min) {
  if (len < min)
    return weft__error(WEFT_ERR_SYNTAX, "%s: %zu-byte packet shorter than the %zu-byte minimum",
                       what, len, min);
  if ((p[0] >> 6) != 2)
    return weft__error(WEFT_ERR_SYNTAX, "%s: RTCP version %u, expected 2", what, p[0] >> 6);
  return 0;
}

/* ---- protect ---------------------------------------------------------------- */

static int protect_common(weft__srtp *s, uint8_t *buf, size_t len, size_t cap, size_t *out_len,
                          bool rtcp) {
  const char *what = rtcp ? "SRTCP protect" : "SRTP protect";
  if (out_len)
    *out_len = 0;
  if (!s || !buf || !out_len)
    return weft__error(WEFT_ERR_INVALID_ARG, "%s: NULL argument", what);
  if (len > WEFT__SRTP_MAX_PACKET)
    return weft__error(WEFT_ERR_TOO_BIG, "%s: %zu-byte packet larger than %d bytes", what, len,
                       WEFT__SRTP_MAX_PACKET);
  size_t headroom = rtcp ? WEFT__SRTP_RTCP_HEADROOM : WEFT__SRTP_RTP_HEADROOM;
  if (cap < len || cap - len < headroom)
    return weft__error(WEFT_ERR_INVALID_ARG,
                       "%s: buffer of %zu bytes for a %zu-byte packet: libsrtp needs %zu bytes "
                       "of headroom past the packet (%zu in all)",
                       what, cap, len, headroom, len + headroom);
  int rc;
  if (rtcp) {
    rc = rtcp_header_check(what, buf, len, RTCP_HEADER_MIN);
  } else {
    size_t h;
    rc = rtp_header_len(what, buf, len, &h);
  }
  if (rc)
    return rc;

  int n = (int)len;
  srtp_err_status_t st = rtcp ? srtp_protect_rtcp(s->tx, buf, &n) : srtp_protect(s->tx, buf, &n);
  if (st != srtp_err_status_ok) {
    if (rtcp)
      return weft__error(WEFT_ERR_OPERATION, "%s (ssrc 0x%08x): libsrtp %s", what,
                         weft__rd32(buf + 4), weft__srtp_status_name((int)st));
    return weft__error(WEFT_ERR_OPERATION, "%s (ssrc 0x%08x seq %u): libsrtp %s", what,
                       weft__rd32(buf + 8), weft__rd16(buf + 2), weft__srtp_status_name((int)st));
  }
  /* Defensive: libsrtp never grows a packet past the documented trailer. */
  if (n < (int)len || (size_t)n > len + headroom)
    return weft__error(WEFT_ERR_INTERNAL, "%s: libsrtp returned length %d for %zu bytes", what, n,
                       len);
  *out_len = (size_t)n;
  if (rtcp)
    s->stats.rtcp_protected++;
  else
    s->stats.rtp_protected++;
  return 0;
}

int weft__srtp_protect_rtp(weft__srtp *s, uint8_t *buf, size_t len, size_t cap, size_t *out_len) {
  return protect_common(s, buf, len, cap, out_len, false);
}

int weft__srtp_protect_rtcp(weft__srtp *s, uint8_t *buf, size_t len, size_t cap, size_t *out_len) {
  return protect_common(s, buf, len, cap, out_len, true);
}

/* ---- unprotect -------------------------------------------------------------- */

/* Records the failure class for the caller and the session counters. */
static void count_fail(weft__srtp *s, weft__srtp_fail *fail, weft__srtp_fail f) {
  if (fail)
    *fail = f;
  switch (f) {
  case WEFT__SRTP_FAIL_REPLAY:
  case WEFT__SRTP_FAIL_REPLAY_OLD:
    s->stats.replay++;
    break;
  case WEFT__SRTP_FAIL_AUTH:
    s->stats.auth_fail++;
    break;
  case WEFT__SRTP_FAIL_MALFORMED:
    s->stats.malformed++;
    break;
  default:
    s->stats.other_fail++;
    break;
  }
}

static int unprotect_fail(weft__srtp *s, weft__srtp_fail *fail, weft__srtp_fail f, int code,
                          const char *fmt, ...) WEFT__PRINTF(5, 6);

static int unprotect_fail(weft__srtp *s, weft__srtp_fail *fail, weft__srtp_fail f, int code,
                          const char *fmt, ...) {
  count_fail(s, fail, f);
  va_list ap;
  va_start(ap, fmt);
  weft__verror(code, fmt, ap);
  va_end(ap);
  return code;
}

static int unprotect_common(weft__srtp *s, uint8_t *buf, size_t len, size_t *out_len,
                            weft__srtp_fail *fail, bool rtcp) {
  const char *what = rtcp ? "SRTCP unprotect" : "SRTP unprotect";
  if (out_len)
    *out_len = 0;
  if (fail)
    *fail = WEFT__SRTP_FAIL_NONE;
  if (!s || !buf || !out_len) {
    if (fail)
      *fail = WEFT__SRTP_FAIL_OTHER;
    return weft__error(WEFT_ERR_INVALID_ARG, "%s: NULL argument", what);
  }
  if (len > WEFT__SRTP_MAX_PACKET)
    return unprotect_fail(s, fail, WEFT__SRTP_FAIL_MALFORMED, WEFT_ERR_TOO_BIG,
                          "%s: %zu-byte packet larger than %d bytes", what, len,
                          WEFT__SRTP_MAX_PACKET);
  if (rtcp) {
    /* RFC 3711 §3.4: header + sender SSRC, then E flag + SRTCP index, then
     * the tag (80 bits for both profiles). */
    size_t min = RTCP_HEADER_MIN + SRTCP_INDEX_LEN + SRTCP_TAG_LEN;
    int rc = rtcp_header_check(what, buf, len, min);
    if (rc) {
      count_fail(s, fail, WEFT__SRTP_FAIL_MALFORMED);
      return rc;
    }
  } else {
    size_t h;
    int rc = rtp_header_len(what, buf, len, &h);
    if (rc) {
      count_fail(s, fail, WEFT__SRTP_FAIL_MALFORMED);
      return rc;
    }
    if (len - h < s->rtp_tag_len)
      return unprotect_fail(s, fail, WEFT__SRTP_FAIL_MALFORMED, WEFT_ERR_SYNTAX,
                            "%s: %zu-byte packet leaves %zu bytes after its %zu-byte header, "
                            "less than the %zu-byte tag",
                            what, len, len - h, h, s->rtp_tag_len);
  }

  /* Kept for the message: libsrtp may have decrypted nothing, but the header
   * is never encrypted, so these are what the sender put there. */
  uint32_t ssrc = rtcp ? weft__rd32(buf + 4) : weft__rd32(buf + 8);
  unsigned seq = rtcp ? 0 : weft__rd16(buf + 2);

  /* libsrtp clones a stream from the wildcard template for an SSRC it has
   * not seen, once the packet authenticated: count them (srtp.h, Bound). */
  bool had_stream = weft__srtp_rx_has_stream(s, ssrc);
  int n = (int)len;
  srtp_err_status_t st =
      rtcp ? srtp_unprotect_rtcp(s->rx, buf, &n) : srtp_unprotect(s->rx, buf, &n);
  if (st == srtp_err_status_ok) {
    if (!had_stream)
      s->rx_streams++;
    if (n < 0 || (size_t)n > len)
      return unprotect_fail(s, fail, WEFT__SRTP_FAIL_OTHER, WEFT_ERR_INTERNAL,
                            "%s: libsrtp returned length %d for %zu bytes", what, n, len);
    *out_len = (size_t)n;
    if (rtcp)
      s->stats.rtcp_unprotected++;
    else
      s->stats.rtp_unprotected++;
    return 0;
  }

  weft__srtp_fail f;
  int code;
  switch (st) {
  case srtp_err_status_replay_fail:
    f = WEFT__SRTP_FAIL_REPLAY;
    code = WEFT_ERR_OPERATION;
    break;
  case srtp_err_status_replay_old:
    f = WEFT__SRTP_FAIL_REPLAY_OLD;
    code = WEFT_ERR_OPERATION;
    break;
  case srtp_err_status_auth_fail:
  /* SRTCP with the E flag clear although the session encrypts (RFC 3711
   * §3.4): libsrtp rejects it before checking the tag. Nothing authentic
   * looks like that, so it counts as a forgery / corruption. */
  case srtp_err_status_cant_check:
    f = WEFT__SRTP_FAIL_AUTH;
    code = WEFT_ERR_INVALID_ACCESS;
    break;
  case srtp_err_status_parse_err:
  case srtp_err_status_bad_mki:
    f = WEFT__SRTP_FAIL_MALFORMED;
    code = WEFT_ERR_SYNTAX;
    break;
  default:
    f = WEFT__SRTP_FAIL_OTHER;
    code = WEFT_ERR_INTERNAL;
    break;
  }
  if (rtcp)
    return unprotect_fail(s, fail, f, code, "%s (ssrc 0x%08x, %zu bytes): libsrtp %s", what, ssrc,
                          len, weft__srtp_status_name((int)st));
  return unprotect_fail(s, fail, f, code, "%s (ssrc 0x%08x seq %u, %zu bytes): libsrtp %s", what,
                        ssrc, seq, len, weft__srtp_status_name((int)st));
}

int weft__srtp_unprotect_rtp(weft__srtp *s, uint8_t *buf, size_t len, size_t *out_len,
                             weft__srtp_fail *fail) {
  return unprotect_common(s, buf, len, out_len, fail, false);
}

int weft__srtp_unprotect_rtcp(weft__srtp *s, uint8_t *buf, size_t len, size_t *out_len,
                              weft__srtp_fail *fail) {
  return unprotect_common(s, buf, len, out_len, fail, true);
}
