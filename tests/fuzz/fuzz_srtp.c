/*
 * Fuzz target: the SRTP/SRTCP checks (lib/srtp, RFC 3711, RFC 5764) in front
 * of libsrtp, on a client/server pair of sessions keyed like DTLS-SRTP.
 *
 * Input: byte 0 picks the profile (bit 0: AES128_CM_SHA1_32, else _80), then
 * operations [op][len 16-bit][len bytes] until the input ends (a short last
 * one takes what is left):
 *   op % 6 == 0  protect the bytes as RTP on the client, unprotect on the server
 *   op % 6 == 1  the same for RTCP
 *   op % 6 == 2  the bytes as a received SRTP packet (forged)
 *   op % 6 == 3  the bytes as a received SRTCP packet (forged)
 *   op % 6 == 4  protect as RTP (op bit 3: RTCP), flip one bit (chosen by the
 *                first bytes' sum), unprotect
 *   op % 6 == 5  forget the SSRC in the first 4 bytes on both sides
 *
 * Invariants:
 * - protect fails exactly when the header check of srtp.h says (SYNTAX: RTP
 *   under 12 bytes, version != 2, CSRCs or extension past the end; RTCP under
 *   8 bytes or version != 2) and then leaves the packet alone; otherwise the
 *   packet grows by exactly weft__srtp_rtp_overhead / _rtcp_overhead;
 * - what one side protected, the other unprotects to the very same bytes,
 *   unless it is a replay (RTP only: the same index protected twice);
 * - forged bytes never authenticate; a malformed packet (by the same header
 *   rules, plus the minimum sizes) fails with SYNTAX/MALFORMED, anything else
 *   with a failure class matching its error code;
 * - a protected packet with one flipped bit never authenticates (_80 tags;
 *   a 32-bit tag could collide once in 2^32 tries, so _32 only checks the
 *   failure is reported consistently);
 * - the session counters add up to the calls made.
 */
#include "fuzz_common.h"
#include "srtp/srtp.h"

typedef struct counts {
  uint64_t protect_rtp, protect_rtcp, unprotect_ok_rtp, unprotect_ok_rtcp, failed;
} counts;

static bool rtp_header_ok(const uint8_t *p, size_t len) {
  if (len < 12 || (p[0] >> 6) != 2)
    return false;
  size_t h = 12 + 4u * (p[0] & 0x0f);
  if (h > len)
    return false;
  if (p[0] & 0x10) {
    if (h + 4 > len)
      return false;
    h += 4 + 4u * weft__rd16(p + h + 2);
    if (h > len)
      return false;
  }
  return true;
}

static size_t rtp_header_len(const uint8_t *p) {
  size_t h = 12 + 4u * (p[0] & 0x0f);
  if (p[0] & 0x10)
    h += 4 + 4u * weft__rd16(p + h + 2);
  return h;
}

/* The failure class must go with the error code (srtp.h). */
static void check_fail(int rc, weft__srtp_fail f) {
  FUZZ_CHECK(rc < 0);
  FUZZ_CHECK_ERROR_MESSAGE();
  switch (rc) {
  case WEFT_ERR_OPERATION:
    FUZZ_CHECK(weft__srtp_fail_is_replay(f));
    break;
  case WEFT_ERR_INVALID_ACCESS:
    FUZZ_CHECK(f == WEFT__SRTP_FAIL_AUTH);
    break;
  case WEFT_ERR_SYNTAX:
  case WEFT_ERR_TOO_BIG:
    FUZZ_CHECK(f == WEFT__SRTP_FAIL_MALFORMED);
    break;
  case WEFT_ERR_INTERNAL:
    FUZZ_CHECK(f == WEFT__SRTP_FAIL_OTHER);
    break;
  default:
    FUZZ_CHECK(!"unexpected unprotect error code");
  }
}

/* Forged bytes received on @rx. */
static void forged(weft__srtp *rx, const uint8_t *p, size_t n, bool rtcp, counts *c) {
  uint8_t *buf = malloc(n ? n : 1);
  if (!buf)
    abort();
  if (n)
    memcpy(buf, p, n);
  size_t out = 12345;
  weft__srtp_fail f = WEFT__SRTP_FAIL_NONE;
  int rc = rtcp ? weft__srtp_unprotect_rtcp(rx, buf, n, &out, &f)
                : weft__srtp_unprotect_rtp(rx, buf, n, &out, &f);
  FUZZ_CHECK(rc < 0); /* nobody can forge a tag */
  FUZZ_CHECK(out == 0);
  check_fail(rc, f);
  bool malformed =
      rtcp ? n < 8 + 4 + 10 || (p[0] >> 6) != 2
           : !rtp_header_ok(p, n) || n - rtp_header_len(p) < weft__srtp_rtp_overhead(rx);
  if (malformed)
    FUZZ_CHECK(rc == WEFT_ERR_SYNTAX && f == WEFT__SRTP_FAIL_MALFORMED);
  c->failed++;
  free(buf);
}

/* Protects @p on @tx; returns the protected copy (NULL if refused). */
static uint8_t *protect(weft__srtp *tx, const uint8_t *p, size_t n, bool rtcp, size_t *out,
                        counts *c) {
  size_t cap = n + (rtcp ? WEFT__SRTP_RTCP_HEADROOM : WEFT__SRTP_RTP_HEADROOM);
  uint8_t *buf = malloc(cap);
  if (!buf)
    abort();
  memcpy(buf, p, n);
  *out = 777;
  int rc = rtcp ? weft__srtp_protect_rtcp(tx, buf, n, cap, out)
                : weft__srtp_protect_rtp(tx, buf, n, cap, out);
  bool header_ok = rtcp ? n >= 8 && (p[0] >> 6) == 2 : rtp_header_ok(p, n);
  if (!header_ok) {
    FUZZ_CHECK(rc == WEFT_ERR_SYNTAX);
    FUZZ_CHECK_ERROR_MESSAGE();
    FUZZ_CHECK(*out == 0 && memcmp(buf, p, n) == 0);
    free(buf);
    return NULL;
  }
  if (rc < 0) {
    /* libsrtp refused the index (replay_old on send). */
    FUZZ_CHECK(rc == WEFT_ERR_OPERATION && !rtcp);
    FUZZ_CHECK_ERROR_MESSAGE();
    free(buf);
    return NULL;
  }
  FUZZ_CHECK(*out == n + (rtcp ? weft__srtp_rtcp_overhead(tx) : weft__srtp_rtp_overhead(tx)));
  if (rtcp)
    c->protect_rtcp++;
  else
    c->protect_rtp++;
  return buf;
}

static void round_trip(weft__srtp *tx, weft__srtp *rx, const uint8_t *p, size_t n, bool rtcp,
                       counts *c) {
  size_t plen;
  uint8_t *buf = protect(tx, p, n, rtcp, &plen, c);
  if (!buf)
    return;
  size_t out = 0;
  weft__srtp_fail f = WEFT__SRTP_FAIL_OTHER;
  int rc = rtcp ? weft__srtp_unprotect_rtcp(rx, buf, plen, &out, &f)
                : weft__srtp_unprotect_rtp(rx, buf, plen, &out, &f);
  if (rc == 0) {
    FUZZ_CHECK(f == WEFT__SRTP_FAIL_NONE);
    FUZZ_CHECK(out == n && memcmp(buf, p, n) == 0);
    if (rtcp)
      c->unprotect_ok_rtcp++;
    else
      c->unprotect_ok_rtp++;
  } else {
    /* Only a second packet with an index already received may fail. */
    check_fail(rc, f);
    FUZZ_CHECK(!rtcp && weft__srtp_fail_is_replay(f));
    c->failed++;
  }
  free(buf);
}

static void flipped(weft__srtp *tx, weft__srtp *rx, const uint8_t *p, size_t n, bool rtcp,
                    counts *c) {
  size_t plen;
  uint8_t *buf = protect(tx, p, n, rtcp, &plen, c);
  if (!buf)
    return;
  unsigned sum = 0;
  for (size_t i = 0; i < n && i < 8; i++)
    sum = sum * 31 + p[i];
  size_t bit = sum % (plen * 8);
  buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
  size_t out = 0;
  weft__srtp_fail f = WEFT__SRTP_FAIL_NONE;
  int rc = rtcp ? weft__srtp_unprotect_rtcp(rx, buf, plen, &out, &f)
                : weft__srtp_unprotect_rtp(rx, buf, plen, &out, &f);
  if (rtcp || weft__srtp_get_profile(rx) == WEFT__SRTP_AES128_CM_SHA1_80)
    FUZZ_CHECK(rc < 0);
  if (rc < 0) {
    check_fail(rc, f);
    c->failed++;
  } else {
    if (rtcp)
      c->unprotect_ok_rtcp++;
    else
      c->unprotect_ok_rtp++;
  }
  free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  if (size < 1)
    return 0;
  weft__srtp_keys ck = {0}, sk;
  ck.profile = (data[0] & 1) ? WEFT__SRTP_AES128_CM_SHA1_32 : WEFT__SRTP_AES128_CM_SHA1_80;
  for (size_t i = 0; i < sizeof ck.client_key; i++) {
    ck.client_key[i] = (uint8_t)(0x10 + i);
    ck.server_key[i] = (uint8_t)(0x80 + i);
  }
  for (size_t i = 0; i < sizeof ck.client_salt; i++) {
    ck.client_salt[i] = (uint8_t)(0x40 + i);
    ck.server_salt[i] = (uint8_t)(0xc0 + i);
  }
  ck.is_client = true;
  sk = ck;
  sk.is_client = false;
  weft__srtp *client = NULL, *server = NULL;
  FUZZ_CHECK(weft__srtp_new(&ck, &client) == 0 && client);
  FUZZ_CHECK(weft__srtp_new(&sk, &server) == 0 && server);
  FUZZ_CHECK(weft__srtp_rtp_overhead(client) ==
             (ck.profile == WEFT__SRTP_AES128_CM_SHA1_80 ? 10u : 4u));
  FUZZ_CHECK(weft__srtp_rtcp_overhead(client) == 14);

  counts c = {0};
  size_t off = 1;
  while (off < size) {
    uint8_t op = data[off++];
    size_t n = 0;
    if (size - off >= 2) {
      n = weft__rd16(data + off);
      off += 2;
    }
    if (n > size - off)
      n = size - off;
    const uint8_t *p = data + off;
    off += n;
    switch (op % 6) {
    case 0:
      round_trip(client, server, p, n, false, &c);
      break;
    case 1:
      round_trip(client, server, p, n, true, &c);
      break;
    case 2:
      forged(server, p, n, false, &c);
      break;
    case 3:
      forged(server, p, n, true, &c);
      break;
    case 4:
      flipped(client, server, p, n, (op & 8) != 0, &c);
      break;
    default:
      if (n >= 4) {
        /* Both directions, so the two sides keep the same view of the
         * stream (rollover counter) and round trips still hold. */
        uint32_t ssrc = weft__rd32(p);
        int a = weft__srtp_remove_ssrc(client, ssrc, true);
        int b = weft__srtp_remove_ssrc(server, ssrc, false);
        FUZZ_CHECK(a == 0 || a == WEFT_ERR_OPERATION);
        FUZZ_CHECK(b == 0 || b == WEFT_ERR_OPERATION);
      }
      break;
    }
  }

  weft__srtp_stats cs, ss;
  weft__srtp_get_stats(client, &cs);
  weft__srtp_get_stats(server, &ss);
  FUZZ_CHECK(cs.rtp_protected == c.protect_rtp && cs.rtcp_protected == c.protect_rtcp);
  FUZZ_CHECK(cs.rtp_unprotected == 0 && cs.rtcp_unprotected == 0);
  FUZZ_CHECK(ss.rtp_unprotected == c.unprotect_ok_rtp &&
             ss.rtcp_unprotected == c.unprotect_ok_rtcp);
  FUZZ_CHECK(ss.replay + ss.auth_fail + ss.malformed + ss.other_fail == c.failed);
  weft__srtp_free(client);
  weft__srtp_free(server);
  return 0;
}
