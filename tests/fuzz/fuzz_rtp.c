/*
 * Fuzz target: RTP and RTCP packet code (lib/rtp; RFC 3550, RFC 8285,
 * RFC 4585, RFC 5104, REMB). The whole input is read both as an RTP packet
 * and as an RTCP compound packet.
 *
 * Invariants:
 * - errors are WEFT_ERR_SYNTAX with a message;
 * - RTP: header + payload + padding add up to the input, every view lies
 *   inside it, extension elements iterate inside the block and
 *   weft__rtp_ext_find returns the first element of an id; rebuilding the
 *   packet with weft__rtp_write from the parsed fields parses back to the
 *   same fields, elements and payload;
 * - RTCP: a compound packet valid under RFC 3550 rules is valid under
 *   reduced-size rules with the same count; when validate accepts, the
 *   iterator yields exactly that many packets covering the input; every
 *   typed parser either fails with SYNTAX or returns views inside the packet;
 *   SR/RR/FIR round-trip through the writers.
 */
#include "fuzz_common.h"
#include "rtp/rtp.h"

static uint8_t out_buf[70000];

static void fuzz_rtp_packet(const uint8_t *data, size_t size) {
  weft__rtp_packet p;
  int rc = weft__rtp_parse(data, size, &p);
  FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
  if (rc < 0) {
    FUZZ_CHECK_ERROR_MESSAGE();
    return;
  }
  FUZZ_CHECK(size >= WEFT__RTP_HEADER_LEN && (data[0] >> 6) == 2);
  FUZZ_CHECK(p.header_len + p.payload_len + p.padding_len == size);
  FUZZ_CHECK(p.payload == data + p.header_len);
  FUZZ_CHECK(p.payload_type <= 127 && p.csrc_count <= 15);
  FUZZ_CHECK(fuzz_inside(p.csrcs, 4u * p.csrc_count, data, size));
  FUZZ_CHECK(p.padding == (p.padding_len > 0));
  if (p.extension) {
    FUZZ_CHECK(p.ext_len % 4 == 0);
    FUZZ_CHECK(fuzz_inside(p.ext_data, p.ext_len, data, size));
  }

  /* Iterate the RFC 8285 elements. */
  weft__rtp_ext exts[256];
  size_t n = 0;
  weft__rtp_ext_iter it;
  weft__rtp_ext_iter_init(&it, &p);
  weft__rtp_ext e;
  bool two = p.extension && (p.ext_profile & WEFT__RTP_EXT_TWO_BYTE_MASK) == WEFT__RTP_EXT_TWO_BYTE;
  bool rfc8285 = p.extension && (two || p.ext_profile == WEFT__RTP_EXT_ONE_BYTE);
  while (weft__rtp_ext_next(&it, &e)) {
    FUZZ_CHECK(rfc8285);
    FUZZ_CHECK(e.id >= 1);
    FUZZ_CHECK(fuzz_inside(e.data, e.len, p.ext_data, p.ext_len));
    if (!two)
      FUZZ_CHECK(e.id <= 14 && e.len >= 1 && e.len <= 16);
    FUZZ_CHECK(n < 256 * 4); /* elements take >= 1 byte of a block < 256 KiB */
    if (n < 256)
      exts[n] = e;
    n++;
    weft__rtp_ext f;
    FUZZ_CHECK(weft__rtp_ext_find(&p, e.id, &f));
    /* find returns the first element with that id */
    size_t first = 0;
    while (first < n && exts[first].id != e.id)
      first++;
    if (first < 256 && first < n)
      FUZZ_CHECK(f.data == exts[first].data && f.len == exts[first].len);
  }
  if (n > 256 || !rfc8285)
    n = 0; /* too many to rebuild (cannot be: blocks are at most 65535 words), or opaque */

  /* Rebuild and re-parse. An opaque block cannot be rewritten: skip those. */
  if (p.extension && !rfc8285)
    return;
  uint32_t csrcs[15];
  for (size_t i = 0; i < p.csrc_count; i++)
    csrcs[i] = weft__rtp_csrc(&p, i);
  weft__rtp_build b = {.marker = p.marker,
                       .payload_type = p.payload_type,
                       .seq = p.seq,
                       .timestamp = p.timestamp,
                       .ssrc = p.ssrc,
                       .csrcs = csrcs,
                       .csrc_count = p.csrc_count,
                       .exts = exts,
                       .ext_count = n,
                       .ext_two_byte = two,
                       .payload = p.payload,
                       .payload_len = p.payload_len,
                       .padding_len = p.padding_len};
  int w = weft__rtp_write(&b, out_buf, sizeof out_buf);
  if (w == WEFT_ERR_TOO_BIG)
    return;
  FUZZ_CHECK(w > 0);
  FUZZ_CHECK((size_t)w == weft__rtp_header_size(&b) + p.payload_len + p.padding_len);
  weft__rtp_packet q;
  FUZZ_CHECK(weft__rtp_parse(out_buf, (size_t)w, &q) == 0);
  FUZZ_CHECK(q.marker == p.marker && q.payload_type == p.payload_type && q.seq == p.seq &&
             q.timestamp == p.timestamp && q.ssrc == p.ssrc && q.csrc_count == p.csrc_count);
  FUZZ_CHECK(q.payload_len == p.payload_len && q.padding_len == p.padding_len);
  FUZZ_CHECK(p.payload_len == 0 || memcmp(q.payload, p.payload, p.payload_len) == 0);
  FUZZ_CHECK(memcmp(q.csrcs, p.csrcs, 4u * p.csrc_count) == 0);
  FUZZ_CHECK(q.extension == (n > 0));
  weft__rtp_ext_iter_init(&it, &q);
  size_t m = 0;
  while (weft__rtp_ext_next(&it, &e)) {
    FUZZ_CHECK(m < n);
    FUZZ_CHECK(e.id == exts[m].id && e.len == exts[m].len);
    FUZZ_CHECK(e.len == 0 || memcmp(e.data, exts[m].data, e.len) == 0);
    m++;
  }
  FUZZ_CHECK(m == n);
}

static void fuzz_feedback(const weft__rtcp_packet *pkt) {
  weft__rtcp_fb fb;
  int rc = weft__rtcp_parse_fb(pkt, &fb);
  FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
  if (rc < 0)
    return;
  FUZZ_CHECK(fb.type == pkt->type && fb.fmt == pkt->count);
  FUZZ_CHECK(fuzz_inside(fb.fci, fb.fci_len, pkt->body, pkt->body_len));
  FUZZ_CHECK(fb.fci_len + 8 == pkt->body_len);

  uint16_t seqs[64];
  rc = weft__rtcp_nack_seqs(&fb, seqs, 64);
  FUZZ_CHECK(rc >= 0 || rc == WEFT_ERR_SYNTAX);
  if (rc >= 0) {
    FUZZ_CHECK(fb.type == WEFT__RTCP_RTPFB && fb.fmt == WEFT__RTCP_FMT_NACK);
    FUZZ_CHECK((size_t)rc <= 17 * (fb.fci_len / 4));
    /* Every named number comes from a PID and its BLP. */
    if (rc > 0 && rc <= 64) {
      int w = weft__rtcp_write_nack(fb.sender_ssrc, fb.media_ssrc, seqs, (size_t)rc, out_buf,
                                    sizeof out_buf);
      FUZZ_CHECK(w > 0);
    }
  }
  weft__rtcp_fir_entry fir[32];
  rc = weft__rtcp_fir_entries(&fb, fir, 32);
  FUZZ_CHECK(rc >= 0 || rc == WEFT_ERR_SYNTAX);
  if (rc >= 0) {
    FUZZ_CHECK(fb.type == WEFT__RTCP_PSFB && fb.fmt == WEFT__RTCP_FMT_FIR);
    FUZZ_CHECK((size_t)rc * 8 == fb.fci_len);
    if (rc > 0 && rc <= 32) {
      int w = weft__rtcp_write_fir(fb.sender_ssrc, fir, (size_t)rc, out_buf, sizeof out_buf);
      FUZZ_CHECK(w > 0);
      weft__rtcp_iter it;
      weft__rtcp_packet q;
      weft__rtcp_iter_init(&it, out_buf, (size_t)w);
      FUZZ_CHECK(weft__rtcp_iter_next(&it, &q) == 1);
      weft__rtcp_fb fb2;
      FUZZ_CHECK(weft__rtcp_parse_fb(&q, &fb2) == 0);
      FUZZ_CHECK(fb2.fci_len == fb.fci_len && fb2.sender_ssrc == fb.sender_ssrc);
      weft__rtcp_fir_entry fir2[32];
      FUZZ_CHECK(weft__rtcp_fir_entries(&fb2, fir2, 32) == rc);
      for (int i = 0; i < rc; i++)
        FUZZ_CHECK(fir2[i].ssrc == fir[i].ssrc && fir2[i].seq_nr == fir[i].seq_nr);
    }
  }
  weft__rtcp_remb remb;
  rc = weft__rtcp_parse_remb(&fb, &remb);
  FUZZ_CHECK(rc == 0 || rc == 1 || rc == WEFT_ERR_SYNTAX);
  if (rc == 1) {
    FUZZ_CHECK(fuzz_inside(remb.ssrcs, 4u * remb.ssrc_count, fb.fci, fb.fci_len));
    uint32_t ssrcs[255];
    for (size_t i = 0; i < remb.ssrc_count; i++)
      ssrcs[i] = weft__rtcp_u32(remb.ssrcs, i);
    int w = weft__rtcp_write_remb(fb.sender_ssrc, remb.bitrate, ssrcs, remb.ssrc_count, out_buf,
                                  sizeof out_buf);
    if (w > 0) {
      weft__rtcp_iter it;
      weft__rtcp_packet q;
      weft__rtcp_iter_init(&it, out_buf, (size_t)w);
      FUZZ_CHECK(weft__rtcp_iter_next(&it, &q) == 1);
      weft__rtcp_fb fb2;
      weft__rtcp_remb remb2;
      FUZZ_CHECK(weft__rtcp_parse_fb(&q, &fb2) == 0);
      FUZZ_CHECK(weft__rtcp_parse_remb(&fb2, &remb2) == 1);
      /* The writer rounds down to an 18-bit mantissa: re-encoding the parsed
       * (already representable) value is exact unless it saturated. */
      FUZZ_CHECK(remb2.bitrate == remb.bitrate || remb.bitrate == UINT64_MAX);
      FUZZ_CHECK(remb2.ssrc_count == remb.ssrc_count);
    }
  }
}

static void check_blocks(const uint8_t *blocks, uint8_t count, const weft__rtcp_packet *pkt,
                         weft__rtcp_report_block *out) {
  FUZZ_CHECK(
      fuzz_inside(blocks, (size_t)count * WEFT__RTCP_REPORT_BLOCK_LEN, pkt->body, pkt->body_len));
  for (uint8_t i = 0; i < count; i++)
    weft__rtcp_report_block_get(blocks, i, &out[i]);
}

static void same_blocks(const weft__rtcp_report_block *a, const weft__rtcp_report_block *b,
                        size_t n) {
  for (size_t i = 0; i < n; i++)
    FUZZ_CHECK(a[i].ssrc == b[i].ssrc && a[i].fraction_lost == b[i].fraction_lost &&
               a[i].cumulative_lost == b[i].cumulative_lost &&
               a[i].ext_highest_seq == b[i].ext_highest_seq && a[i].jitter == b[i].jitter &&
               a[i].lsr == b[i].lsr && a[i].dlsr == b[i].dlsr);
}

static void fuzz_rtcp_packet(const weft__rtcp_packet *pkt) {
  weft__rtcp_report_block blocks[32], blocks2[32];
  weft__rtcp_iter it;
  weft__rtcp_packet q;
  switch (pkt->type) {
  case WEFT__RTCP_SR: {
    weft__rtcp_sr sr, sr2;
    int rc = weft__rtcp_parse_sr(pkt, &sr);
    FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
    if (rc < 0)
      break;
    FUZZ_CHECK(sr.block_count == pkt->count);
    check_blocks(sr.blocks, sr.block_count, pkt, blocks);
    int w = weft__rtcp_write_sr(&sr, blocks, sr.block_count, out_buf, sizeof out_buf);
    FUZZ_CHECK(w > 0);
    weft__rtcp_iter_init(&it, out_buf, (size_t)w);
    FUZZ_CHECK(weft__rtcp_iter_next(&it, &q) == 1);
    FUZZ_CHECK(weft__rtcp_parse_sr(&q, &sr2) == 0);
    FUZZ_CHECK(sr2.ssrc == sr.ssrc && sr2.ntp == sr.ntp && sr2.rtp_timestamp == sr.rtp_timestamp &&
               sr2.packet_count == sr.packet_count && sr2.octet_count == sr.octet_count &&
               sr2.block_count == sr.block_count);
    check_blocks(sr2.blocks, sr2.block_count, &q, blocks2);
    same_blocks(blocks, blocks2, sr.block_count);
    break;
  }
  case WEFT__RTCP_RR: {
    weft__rtcp_rr rr, rr2;
    int rc = weft__rtcp_parse_rr(pkt, &rr);
    FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
    if (rc < 0)
      break;
    FUZZ_CHECK(rr.block_count == pkt->count);
    check_blocks(rr.blocks, rr.block_count, pkt, blocks);
    int w = weft__rtcp_write_rr(rr.ssrc, blocks, rr.block_count, out_buf, sizeof out_buf);
    FUZZ_CHECK(w > 0);
    weft__rtcp_iter_init(&it, out_buf, (size_t)w);
    FUZZ_CHECK(weft__rtcp_iter_next(&it, &q) == 1);
    FUZZ_CHECK(weft__rtcp_parse_rr(&q, &rr2) == 0);
    FUZZ_CHECK(rr2.ssrc == rr.ssrc && rr2.block_count == rr.block_count);
    check_blocks(rr2.blocks, rr2.block_count, &q, blocks2);
    same_blocks(blocks, blocks2, rr.block_count);
    break;
  }
  case WEFT__RTCP_SDES: {
    weft__rtcp_sdes_iter si;
    int rc = weft__rtcp_sdes_iter_init(&si, pkt);
    FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
    if (rc < 0)
      break;
    weft__rtcp_sdes_item item;
    unsigned items = 0;
    while ((rc = weft__rtcp_sdes_next(&si, &item)) == 1) {
      FUZZ_CHECK(item.type != WEFT__RTCP_SDES_END);
      FUZZ_CHECK(fuzz_inside(item.data, item.len, pkt->body, pkt->body_len));
      FUZZ_CHECK(++items <= pkt->body_len / 2);
    }
    FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
    uint32_t ssrc;
    const uint8_t *cname = NULL;
    uint8_t len = 0;
    rc = weft__rtcp_sdes_cname(pkt, &ssrc, &cname, &len);
    FUZZ_CHECK(rc == 0 || rc == 1 || rc == WEFT_ERR_SYNTAX);
    if (rc == 1)
      FUZZ_CHECK(fuzz_inside(cname, len, pkt->body, pkt->body_len));
    break;
  }
  case WEFT__RTCP_BYE: {
    weft__rtcp_bye bye;
    int rc = weft__rtcp_parse_bye(pkt, &bye);
    FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
    if (rc < 0)
      break;
    FUZZ_CHECK(bye.ssrc_count == pkt->count);
    FUZZ_CHECK(fuzz_inside(bye.ssrcs, 4u * bye.ssrc_count, pkt->body, pkt->body_len));
    if (bye.reason)
      FUZZ_CHECK(fuzz_inside(bye.reason, bye.reason_len, pkt->body, pkt->body_len));
    break;
  }
  case WEFT__RTCP_RTPFB:
  case WEFT__RTCP_PSFB:
    fuzz_feedback(pkt);
    break;
  default:
    break;
  }
  /* Parsers of the wrong type refuse the packet. */
  weft__rtcp_sr sr;
  weft__rtcp_rr rr;
  if (pkt->type != WEFT__RTCP_SR)
    FUZZ_CHECK(weft__rtcp_parse_sr(pkt, &sr) == WEFT_ERR_SYNTAX);
  if (pkt->type != WEFT__RTCP_RR)
    FUZZ_CHECK(weft__rtcp_parse_rr(pkt, &rr) == WEFT_ERR_SYNTAX);
}

static void fuzz_rtcp(const uint8_t *data, size_t size) {
  int full = weft__rtcp_validate(data, size, false);
  int reduced = weft__rtcp_validate(data, size, true);
  FUZZ_CHECK(full > 0 || full == WEFT_ERR_SYNTAX);
  FUZZ_CHECK(reduced > 0 || reduced == WEFT_ERR_SYNTAX);
  if (full > 0)
    FUZZ_CHECK(reduced == full);

  weft__rtcp_iter it;
  weft__rtcp_iter_init(&it, data, size);
  weft__rtcp_packet pkt;
  int rc, count = 0;
  size_t covered = 0;
  while ((rc = weft__rtcp_iter_next(&it, &pkt)) == 1) {
    count++;
    FUZZ_CHECK(pkt.data == data + covered);
    FUZZ_CHECK(fuzz_inside(pkt.data, pkt.len, data, size));
    FUZZ_CHECK(pkt.len >= WEFT__RTCP_HEADER_LEN && pkt.len % 4 == 0);
    FUZZ_CHECK(pkt.body == pkt.data + WEFT__RTCP_HEADER_LEN);
    FUZZ_CHECK(pkt.body_len <= pkt.len - WEFT__RTCP_HEADER_LEN);
    FUZZ_CHECK(pkt.count <= WEFT__RTCP_MAX_COUNT);
    covered += pkt.len;
    fuzz_rtcp_packet(&pkt);
  }
  FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
  if (rc < 0) {
    FUZZ_CHECK_ERROR_MESSAGE();
    /* After an error the iterator stays at the end. */
    FUZZ_CHECK(weft__rtcp_iter_next(&it, &pkt) == 0);
  }
  if (reduced > 0) {
    FUZZ_CHECK(rc == 0 && count == reduced && covered == size);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  fuzz_rtp_packet(data, size);
  fuzz_rtcp(data, size);
  /* RFC 5761 §4: what rtp/ calls RTCP is version 2 with PT 192..223 (the
   * demux/ cross-check is in fuzz_demux.c). */
  if (weft__rtp_is_rtcp(data, size))
    FUZZ_CHECK(size >= 2 && (data[0] >> 6) == 2 && data[1] >= 192 && data[1] <= 223);
  return 0;
}
