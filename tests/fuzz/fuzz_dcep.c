/*
 * Fuzz target: the DCEP codec (lib/datachannel/dcep, RFC 8832).
 *
 * Invariants: errors are WEFT_ERR_SYNTAX with a message; a parse without
 * the open struct gives the same result and type; an OPEN's label and
 * protocol lie inside the input right after the 12-byte header; an ACK is
 * one byte of type 0x02 at the start; and a parsed OPEN rebuilt with
 * weft__dcep_build_open is byte-identical to the input's first
 * 12 + label + protocol bytes (up to the reliability field, which RFC 8832
 * §5.1 leaves meaningless for the reliable types) and parses the same.
 */
#include "datachannel/dcep.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  uint8_t type = 0xee;
  weft__dcep_open o;
  memset(&o, 0xa5, sizeof o);
  int rc = weft__dcep_parse(data, size, &type, &o);
  FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
  if (rc < 0)
    FUZZ_CHECK_ERROR_MESSAGE();

  uint8_t type2 = 0xee;
  int rc2 = weft__dcep_parse(data, size, &type2, NULL);
  FUZZ_CHECK(rc2 == rc);
  if (rc < 0)
    return 0;
  FUZZ_CHECK(type == type2);
  FUZZ_CHECK(size >= 1 && type == data[0]);
  FUZZ_CHECK(type == WEFT__DCEP_ACK || type == WEFT__DCEP_OPEN);
  if (type == WEFT__DCEP_ACK) {
    uint8_t ack[1];
    weft__dcep_build_ack(ack);
    FUZZ_CHECK(ack[0] == data[0]);
    return 0;
  }

  FUZZ_CHECK(size >= WEFT__DCEP_OPEN_HEADER_LEN);
  FUZZ_CHECK(o.label_len == 0 || (const uint8_t *)o.label == data + WEFT__DCEP_OPEN_HEADER_LEN);
  FUZZ_CHECK(fuzz_inside(o.label, o.label_len, data, size));
  FUZZ_CHECK(fuzz_inside(o.protocol, o.protocol_len, data, size));
  size_t used = (size_t)WEFT__DCEP_OPEN_HEADER_LEN + o.label_len + o.protocol_len;
  FUZZ_CHECK(used <= size);
  uint8_t ct = o.channel_type;
  FUZZ_CHECK(ct == 0x00 || ct == 0x80 || ct == 0x01 || ct == 0x81 || ct == 0x02 || ct == 0x82);

  /* The W3C mapping round-trips. */
  bool ordered;
  int32_t max_rexmit, max_life;
  weft__dcep_init_from_type(ct, o.reliability, &ordered, &max_rexmit, &max_life);
  FUZZ_CHECK(ordered == !(ct & 0x80));
  uint8_t ct2;
  uint32_t rel2;
  weft__dcep_type_from_init(ordered, max_rexmit, max_life, &ct2, &rel2);
  FUZZ_CHECK(ct2 == ct);
  int prio = weft__dcep_priority_from_value(o.priority);
  FUZZ_CHECK(weft__dcep_priority_value(prio) >= o.priority || o.priority > 1024);

  uint8_t *out = NULL;
  size_t out_len = 0;
  FUZZ_CHECK(weft__dcep_build_open(&o, &out, &out_len) == 0);
  FUZZ_CHECK(out_len == used);
  /* Header: type, channel type, priority; reliability only where it means something. */
  FUZZ_CHECK(memcmp(out, data, 4) == 0);
  if ((ct & 0x7f) != 0)
    FUZZ_CHECK(memcmp(out + 4, data + 4, 4) == 0);
  FUZZ_CHECK(memcmp(out + 8, data + 8, used - 8) == 0);
  weft__dcep_open p;
  uint8_t type3 = 0;
  FUZZ_CHECK(weft__dcep_parse(out, out_len, &type3, &p) == 0);
  FUZZ_CHECK(type3 == WEFT__DCEP_OPEN && p.channel_type == ct && p.priority == o.priority);
  FUZZ_CHECK(p.label_len == o.label_len && p.protocol_len == o.protocol_len);
  FUZZ_CHECK(p.reliability == ((ct & 0x7f) == 0 ? 0 : o.reliability));
  g_free(out);
  return 0;
}
