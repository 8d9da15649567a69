/* RFC 7983 first-byte classification and RFC 5761 RTP/RTCP split. */
#include <glib.h>

#include "demux/demux.h"

/* RFC 7983 §7, written as the RFC's figure lists it (not as the code
 * branches): [first byte range] -> protocol; anything else is dropped. */
static const struct {
  unsigned lo, hi;
  weft__demux_kind kind;
} rfc7983[] = {
    {0, 3, WEFT__DEMUX_STUN},           {16, 19, WEFT__DEMUX_ZRTP},  {20, 63, WEFT__DEMUX_DTLS},
    {64, 79, WEFT__DEMUX_TURN_CHANNEL}, {128, 191, WEFT__DEMUX_RTP},
};

static weft__demux_kind expected(unsigned b) {
  for (size_t i = 0; i < G_N_ELEMENTS(rfc7983); i++)
    if (b >= rfc7983[i].lo && b <= rfc7983[i].hi)
      return rfc7983[i].kind;
  return WEFT__DEMUX_DROP;
}

static void test_every_byte(void) {
  for (unsigned b = 0; b < 256; b++) {
    uint8_t pkt[4] = {(uint8_t)b, 0, 0, 0};
    g_assert_cmpint(weft__demux_classify(pkt, sizeof pkt), ==, expected(b));
    /* A one-byte datagram is classified by the same byte. */
    g_assert_cmpint(weft__demux_classify(pkt, 1), ==, expected(b));
  }
}

static void test_boundaries(void) {
  static const struct {
    uint8_t b;
    weft__demux_kind k;
  } t[] = {
      {0, WEFT__DEMUX_STUN},          {3, WEFT__DEMUX_STUN},          {4, WEFT__DEMUX_DROP},
      {15, WEFT__DEMUX_DROP},         {16, WEFT__DEMUX_ZRTP},         {19, WEFT__DEMUX_ZRTP},
      {20, WEFT__DEMUX_DTLS},         {22, WEFT__DEMUX_DTLS},         {63, WEFT__DEMUX_DTLS},
      {64, WEFT__DEMUX_TURN_CHANNEL}, {79, WEFT__DEMUX_TURN_CHANNEL}, {80, WEFT__DEMUX_DROP},
      {127, WEFT__DEMUX_DROP},        {128, WEFT__DEMUX_RTP},         {191, WEFT__DEMUX_RTP},
      {192, WEFT__DEMUX_DROP},        {255, WEFT__DEMUX_DROP},
  };
  for (size_t i = 0; i < G_N_ELEMENTS(t); i++)
    g_assert_cmpint(weft__demux_classify(&t[i].b, 1), ==, t[i].k);
}

static void test_empty(void) {
  uint8_t b = 22;
  g_assert_cmpint(weft__demux_classify(&b, 0), ==, WEFT__DEMUX_DROP);
  g_assert_cmpint(weft__demux_classify(NULL, 0), ==, WEFT__DEMUX_DROP);
  g_assert_false(weft__demux_is_rtcp(NULL, 0));
  g_assert_false(weft__demux_is_rtcp(&b, 0));
}

static void test_rtcp(void) {
  /* RTCP SR/RR/SDES/BYE/APP: PT 200-204 on the wire (version 2, 0x80). */
  for (unsigned pt = 200; pt <= 204; pt++) {
    uint8_t pkt[8] = {0x81, (uint8_t)pt, 0, 1};
    g_assert_cmpint(weft__demux_classify(pkt, sizeof pkt), ==, WEFT__DEMUX_RTP);
    g_assert_true(weft__demux_is_rtcp(pkt, sizeof pkt));
  }
  /* Feedback (RTPFB 205, PSFB 206) and the whole 192-223 range are RTCP. */
  for (unsigned pt = 192; pt <= 223; pt++) {
    uint8_t pkt[2] = {0x80, (uint8_t)pt};
    g_assert_true(weft__demux_is_rtcp(pkt, 2));
  }
  /* RTP payload types 96 (VP8) and 111 (opus), marker bit off and on. */
  const unsigned pts[] = {96, 111, 0, 8, 63, 127};
  for (size_t i = 0; i < G_N_ELEMENTS(pts); i++) {
    for (unsigned m = 0; m <= 1; m++) {
      uint8_t pkt[12] = {0x80, (uint8_t)(pts[i] | (m << 7))};
      g_assert_false(weft__demux_is_rtcp(pkt, sizeof pkt));
    }
  }
  /* 191 and 224 (just outside 192-223) are not RTCP. */
  uint8_t lo[2] = {0x80, 191}, hi[2] = {0x80, 224};
  g_assert_false(weft__demux_is_rtcp(lo, 2));
  g_assert_false(weft__demux_is_rtcp(hi, 2));
  /* Not RTP at all (DTLS first byte) or too short. */
  uint8_t dtls[2] = {22, 200}, one[1] = {0x80};
  g_assert_false(weft__demux_is_rtcp(dtls, 2));
  g_assert_false(weft__demux_is_rtcp(one, 1));
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/demux/every-byte", test_every_byte);
  g_test_add_func("/demux/boundaries", test_boundaries);
  g_test_add_func("/demux/empty", test_empty);
  g_test_add_func("/demux/rtcp", test_rtcp);
  return g_test_run();
}
