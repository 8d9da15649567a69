/* RFC 8832 DCEP codec: round trips, limits and malformed input. */
#include <string.h>

#include <glib.h>

#include "core/core.h"
#include "datachannel/dcep.h"

static void roundtrip(uint8_t ctype, uint16_t prio, uint32_t rel, const char *label, size_t llen,
                      const char *proto, size_t plen) {
  weft__dcep_open o = {ctype, prio, rel, label, (uint16_t)llen, proto, (uint16_t)plen};
  uint8_t *buf = NULL;
  size_t n = 0;
  g_assert_cmpint(weft__dcep_build_open(&o, &buf, &n), ==, 0);
  g_assert_cmpuint(n, ==, 12 + llen + plen);
  g_assert_cmpuint(buf[0], ==, WEFT__DCEP_OPEN);
  uint8_t type = 0;
  weft__dcep_open p;
  memset(&p, 0xa5, sizeof p);
  g_assert_cmpint(weft__dcep_parse(buf, n, &type, &p), ==, 0);
  g_assert_cmpuint(type, ==, WEFT__DCEP_OPEN);
  g_assert_cmpuint(p.channel_type, ==, ctype);
  g_assert_cmpuint(p.priority, ==, prio);
  /* RFC 8832 §5.1: reliability is zero for the reliable types. */
  g_assert_cmpuint(p.reliability, ==, (ctype & 0x7f) == 0 ? 0 : rel);
  g_assert_cmpuint(p.label_len, ==, llen);
  g_assert_cmpuint(p.protocol_len, ==, plen);
  if (llen)
    g_assert_cmpmem(p.label, llen, label, llen);
  if (plen)
    g_assert_cmpmem(p.protocol, plen, proto, plen);
  /* The pointers stay inside the buffer. */
  g_assert_true((const uint8_t *)p.label >= buf && (const uint8_t *)p.label + llen <= buf + n);
  g_assert_true((const uint8_t *)p.protocol >= buf &&
                (const uint8_t *)p.protocol + plen <= buf + n);
  g_free(buf);
}

static void test_roundtrip_types(void) {
  static const uint8_t types[] = {0x00, 0x80, 0x01, 0x81, 0x02, 0x82};
  for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
    roundtrip(types[i], 256, 7, "chat", 4, "json", 4);
    roundtrip(types[i], 1024, 0xffffffffu, "x", 1, "", 0);
    roundtrip(types[i], 0, 0, "", 0, "", 0);
  }
}

static void test_utf8_and_empty(void) {
  const char *label = "gr\xc3\xbc\xc3\x9f \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80";
  roundtrip(0x00, 512, 0, label, strlen(label), "proto/\xc3\xa9", strlen("proto/\xc3\xa9"));
  roundtrip(0x80, 128, 0, "", 0, "p", 1);
  /* NULL pointers are fine with zero lengths. */
  weft__dcep_open o = {0x00, 256, 0, NULL, 0, NULL, 0};
  uint8_t *buf = NULL;
  size_t n = 0;
  g_assert_cmpint(weft__dcep_build_open(&o, &buf, &n), ==, 0);
  g_assert_cmpuint(n, ==, 12);
  g_free(buf);
}

/* RFC 8832 §5.1: an OPEN whose label or protocol is not UTF-8, or holds a
 * NUL, is refused (applications would get a truncated or undecodable name). */
static void test_bad_utf8_refused(void) {
  static const struct {
    const char *label, *proto;
    size_t llen, plen;
  } bad[] = {{"a\xff", "p", 2, 1},
             {"ab\0c", "p", 4, 1},
             {"ok", "\xc3", 2, 1},
             {"ok", "x\0", 2, 2},
             {"\xed\xa0\x80", "", 3, 0}};
  for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
    weft__dcep_open o = {
        0x00, 256, 0, bad[i].label, (uint16_t)bad[i].llen, bad[i].proto, (uint16_t)bad[i].plen};
    uint8_t *buf = NULL;
    size_t n = 0;
    g_assert_cmpint(weft__dcep_build_open(&o, &buf, &n), ==, 0);
    uint8_t type = 0;
    weft__dcep_open p;
    g_assert_cmpint(weft__dcep_parse(buf, n, &type, &p), <, 0);
    g_assert_cmpint(weft_last_error(), ==, WEFT_ERR_SYNTAX);
    g_assert_nonnull(strstr(weft_last_error_message(), "UTF-8"));
    g_free(buf);
  }
}

static void test_max_lengths(void) {
  char *big = g_malloc(65535);
  memset(big, 'L', 65535);
  char *big2 = g_malloc(65535);
  memset(big2, 'P', 65535);
  roundtrip(0x01, 256, 3, big, 65535, big2, 65535);
  roundtrip(0x02, 256, 3000, big, 65535, "", 0);
  g_free(big);
  g_free(big2);
}

static void test_build_errors(void) {
  uint8_t *buf = NULL;
  size_t n = 0;
  weft__dcep_open o = {0x00, 256, 0, NULL, 3, NULL, 0};
  g_assert_cmpint(weft__dcep_build_open(&o, &buf, &n), ==, WEFT_ERR_INVALID_ARG);
  weft__dcep_open o2 = {0x03, 256, 0, "a", 1, NULL, 0};
  g_assert_cmpint(weft__dcep_build_open(&o2, &buf, &n), ==, WEFT_ERR_INVALID_ARG);
  g_assert_null(buf);
}

static void test_ack(void) {
  uint8_t ack[1];
  weft__dcep_build_ack(ack);
  uint8_t type = 0;
  g_assert_cmpint(weft__dcep_parse(ack, 1, &type, NULL), ==, 0);
  g_assert_cmpuint(type, ==, WEFT__DCEP_ACK);
  weft__dcep_open o;
  g_assert_cmpint(weft__dcep_parse(ack, 1, &type, &o), ==, 0);
  g_assert_cmpuint(type, ==, WEFT__DCEP_ACK);
}

static void test_malformed(void) {
  uint8_t type = 0xee;
  weft__dcep_open o;
  /* Empty. */
  g_assert_cmpint(weft__dcep_parse((const uint8_t *)"", 0, &type, &o), ==, WEFT_ERR_SYNTAX);
  /* Unknown message types (0x00, 0x01, 0x04, 0xff). */
  static const uint8_t unknown[] = {0x00, 0x01, 0x04, 0xff};
  for (size_t i = 0; i < G_N_ELEMENTS(unknown); i++) {
    g_assert_cmpint(weft__dcep_parse(&unknown[i], 1, &type, &o), ==, WEFT_ERR_SYNTAX);
    g_assert_nonnull(strstr(weft__error_message(), "unknown message type"));
  }
  /* Every truncation of a valid OPEN is rejected, from a heap copy of exactly
   * that length so ASan catches any over-read. */
  weft__dcep_open src = {0x81, 256, 5, "label", 5, "proto", 5};
  uint8_t *buf = NULL;
  size_t n = 0;
  g_assert_cmpint(weft__dcep_build_open(&src, &buf, &n), ==, 0);
  for (size_t cut = 1; cut < n; cut++) {
    uint8_t *t = g_memdup2(buf, cut);
    g_assert_cmpint(weft__dcep_parse(t, cut, &type, &o), ==, WEFT_ERR_SYNTAX);
    g_free(t);
  }
  /* Label length longer than the buffer. */
  uint8_t *bogus = g_memdup2(buf, n);
  bogus[8] = 0xff;
  bogus[9] = 0xff;
  g_assert_cmpint(weft__dcep_parse(bogus, n, &type, &o), ==, WEFT_ERR_SYNTAX);
  g_assert_nonnull(strstr(weft__error_message(), "exceed"));
  /* Protocol length longer than the buffer. */
  memcpy(bogus, buf, n);
  bogus[10] = 0x01;
  g_assert_cmpint(weft__dcep_parse(bogus, n, &type, &o), ==, WEFT_ERR_SYNTAX);
  /* Both lengths that only overflow together. */
  memcpy(bogus, buf, n);
  bogus[9] = 6;
  bogus[11] = 5;
  g_assert_cmpint(weft__dcep_parse(bogus, n, &type, &o), ==, WEFT_ERR_SYNTAX);
  /* Unknown channel type. */
  memcpy(bogus, buf, n);
  bogus[1] = 0x03;
  g_assert_cmpint(weft__dcep_parse(bogus, n, &type, &o), ==, WEFT_ERR_SYNTAX);
  g_free(bogus);
  g_free(buf);
  /* Random garbage never crashes. */
  GRand *r = g_rand_new_with_seed(42);
  for (int i = 0; i < 20000; i++) {
    size_t len = (size_t)g_rand_int_range(r, 0, 40);
    uint8_t *g = g_malloc(len ? len : 1);
    for (size_t k = 0; k < len; k++)
      g[k] = (uint8_t)g_rand_int(r);
    if (len && g_rand_boolean(r))
      g[0] = WEFT__DCEP_OPEN;
    int rc = weft__dcep_parse(g, len, &type, &o);
    g_assert_true(rc == 0 || rc == WEFT_ERR_SYNTAX);
    if (rc == 0 && type == WEFT__DCEP_OPEN)
      g_assert_cmpuint(12u + o.label_len + o.protocol_len, <=, len);
    g_free(g);
  }
  g_rand_free(r);
}

static void test_init_mapping(void) {
  uint8_t t;
  uint32_t rel;
  bool ord;
  int32_t rtx, life;
  weft__dcep_type_from_init(true, -1, -1, &t, &rel);
  g_assert_cmpuint(t, ==, 0x00);
  g_assert_cmpuint(rel, ==, 0);
  weft__dcep_type_from_init(false, -1, -1, &t, &rel);
  g_assert_cmpuint(t, ==, 0x80);
  weft__dcep_type_from_init(true, 0, -1, &t, &rel);
  g_assert_cmpuint(t, ==, 0x01);
  g_assert_cmpuint(rel, ==, 0);
  weft__dcep_type_from_init(false, 5, -1, &t, &rel);
  g_assert_cmpuint(t, ==, 0x81);
  g_assert_cmpuint(rel, ==, 5);
  weft__dcep_type_from_init(true, -1, 3000, &t, &rel);
  g_assert_cmpuint(t, ==, 0x02);
  g_assert_cmpuint(rel, ==, 3000);
  weft__dcep_type_from_init(false, -1, 0, &t, &rel);
  g_assert_cmpuint(t, ==, 0x82);

  weft__dcep_init_from_type(0x00, 99, &ord, &rtx, &life);
  g_assert_true(ord);
  g_assert_cmpint(rtx, ==, -1);
  g_assert_cmpint(life, ==, -1);
  weft__dcep_init_from_type(0x81, 7, &ord, &rtx, &life);
  g_assert_false(ord);
  g_assert_cmpint(rtx, ==, 7);
  g_assert_cmpint(life, ==, -1);
  weft__dcep_init_from_type(0x02, 150, &ord, &rtx, &life);
  g_assert_true(ord);
  g_assert_cmpint(rtx, ==, -1);
  g_assert_cmpint(life, ==, 150);
  weft__dcep_init_from_type(0x82, 0xffffffffu, &ord, &rtx, &life);
  g_assert_false(ord);
  g_assert_cmpint(life, ==, INT32_MAX);
  /* Round trip through both directions. */
  static const uint8_t types[] = {0x00, 0x80, 0x01, 0x81, 0x02, 0x82};
  for (size_t i = 0; i < G_N_ELEMENTS(types); i++) {
    weft__dcep_init_from_type(types[i], 42, &ord, &rtx, &life);
    weft__dcep_type_from_init(ord, rtx, life, &t, &rel);
    g_assert_cmpuint(t, ==, types[i]);
    g_assert_cmpuint(rel, ==, (types[i] & 0x7f) ? 42 : 0);
  }
}

static void test_priority(void) {
  g_assert_cmpuint(weft__dcep_priority_value(WEFT_PRIORITY_VERY_LOW), ==, 128);
  g_assert_cmpuint(weft__dcep_priority_value(WEFT_PRIORITY_LOW), ==, 256);
  g_assert_cmpuint(weft__dcep_priority_value(WEFT_PRIORITY_MEDIUM), ==, 512);
  g_assert_cmpuint(weft__dcep_priority_value(WEFT_PRIORITY_HIGH), ==, 1024);
  g_assert_cmpuint(weft__dcep_priority_value(77), ==, 256);
  for (int p = WEFT_PRIORITY_VERY_LOW; p <= WEFT_PRIORITY_HIGH; p++)
    g_assert_cmpint(weft__dcep_priority_from_value(weft__dcep_priority_value(p)), ==, p);
  g_assert_cmpint(weft__dcep_priority_from_value(0), ==, WEFT_PRIORITY_VERY_LOW);
  g_assert_cmpint(weft__dcep_priority_from_value(200), ==, WEFT_PRIORITY_LOW);
  g_assert_cmpint(weft__dcep_priority_from_value(300), ==, WEFT_PRIORITY_MEDIUM);
  g_assert_cmpint(weft__dcep_priority_from_value(65535), ==, WEFT_PRIORITY_HIGH);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/dcep/roundtrip-types", test_roundtrip_types);
  g_test_add_func("/dcep/utf8-and-empty", test_utf8_and_empty);
  g_test_add_func("/dcep/bad-utf8-refused", test_bad_utf8_refused);
  g_test_add_func("/dcep/max-lengths", test_max_lengths);
  g_test_add_func("/dcep/build-errors", test_build_errors);
  g_test_add_func("/dcep/ack", test_ack);
  g_test_add_func("/dcep/malformed", test_malformed);
  g_test_add_func("/dcep/init-mapping", test_init_mapping);
  g_test_add_func("/dcep/priority", test_priority);
  return g_test_run();
}
