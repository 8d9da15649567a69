/* RTCP: compound packets (RFC 3550 §6.1, §A.2, RFC 5506), SR/RR/SDES/BYE
 * (RFC 3550 §6.4-6.6), feedback (RFC 4585 §6.1-6.3, RFC 5104 §4.3.1) and REMB
 * (draft-alvestrand-rmcat-remb §2.2). */
#include "rtp/rtp.h"

#include <string.h>

/* Common header (RFC 3550 §6.4.1): V=2, P=0, count, PT, length in 32-bit
 * words minus one. @len must be a multiple of 4. */
static void write_hdr(uint8_t *out, uint8_t count, uint8_t type, size_t len) {
  out[0] = (uint8_t)((2u << 6) | (count & 0x1f));
  out[1] = type;
  weft__wr16(out + 2, (uint16_t)(len / 4 - 1));
}

static int check_cap(const char *what, size_t need, uint8_t *out, size_t cap) {
  if (!out)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP %s: NULL output buffer", what);
  if (need > cap)
    return weft__error(WEFT_ERR_TOO_BIG, "RTCP %s: needs %zu bytes, buffer %zu", what, need, cap);
  /* The 16-bit length field counts words minus one. */
  if (need > 65536 * 4)
    return weft__error(WEFT_ERR_TOO_BIG, "RTCP %s: %zu bytes exceed the length field", what, need);
  return 0;
}

/* ---- Compound packets ---------------------------------------------------- */

void weft__rtcp_iter_init(weft__rtcp_iter *it, const uint8_t *data, size_t len) {
  it->p = data;
  it->end = data ? data + len : NULL;
}

int weft__rtcp_iter_next(weft__rtcp_iter *it, weft__rtcp_packet *pkt) {
  if (!it->p || it->p >= it->end)
    return 0;
  const uint8_t *p = it->p;
  size_t left = (size_t)(it->end - p);
  it->p = it->end; /* on error, stay at the end */
  if (left < WEFT__RTCP_HEADER_LEN)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP: %zu trailing bytes, shorter than a 4-byte header",
                       left);
  if ((p[0] >> 6) != 2)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP: version %u, expected 2", p[0] >> 6);
  size_t len = ((size_t)weft__rd16(p + 2) + 1) * 4;
  if (len > left)
    return weft__error(WEFT_ERR_SYNTAX,
                       "RTCP: packet type %u length field says %zu bytes, only %zu left", p[1], len,
                       left);
  memset(pkt, 0, sizeof *pkt);
  pkt->count = p[0] & 0x1f;
  pkt->type = p[1];
  pkt->padding = (p[0] & 0x20) != 0;
  pkt->data = p;
  pkt->len = len;
  pkt->body = p + WEFT__RTCP_HEADER_LEN;
  pkt->body_len = len - WEFT__RTCP_HEADER_LEN;
  if (pkt->padding) {
    /* RFC 3550 §6.4.1: padding only on the last packet of a compound. */
    if (len != left)
      return weft__error(WEFT_ERR_SYNTAX,
                         "RTCP: padding bit on packet type %u that is not the last of the compound",
                         p[1]);
    uint8_t pad = p[len - 1];
    if (pad == 0 || pad > pkt->body_len)
      return weft__error(WEFT_ERR_SYNTAX, "RTCP: padding count %u invalid for a %zu-byte body", pad,
                         pkt->body_len);
    pkt->body_len -= pad;
  }
  it->p = p + len;
  return 1;
}

int weft__rtcp_validate(const uint8_t *data, size_t len, bool reduced_size) {
  if (!data && len)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP: NULL data");
  if (len == 0)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP: empty packet");
  /* RFC 3550 §6.4.1: every RTCP packet is a multiple of 32 bits; together with
   * the per-packet lengths this is the A.2 "lengths add up" check. */
  if (len % 4)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP: %zu bytes is not a multiple of 4", len);
  weft__rtcp_iter it;
  weft__rtcp_packet pkt;
  weft__rtcp_iter_init(&it, data, len);
  int n = 0, r;
  while ((r = weft__rtcp_iter_next(&it, &pkt)) == 1) {
    if (n == 0 && !reduced_size && pkt.type != WEFT__RTCP_SR && pkt.type != WEFT__RTCP_RR)
      /* RFC 3550 §6.1 / A.2: a compound packet starts with an SR or RR;
       * RFC 5506 §3.1 lifts this only when reduced-size RTCP was negotiated. */
      return weft__error(WEFT_ERR_SYNTAX,
                         "RTCP: compound packet starts with type %u, not SR/RR (reduced-size "
                         "RTCP not negotiated)",
                         pkt.type);
    if (n == 0 && (pkt.type < 192 || pkt.type > 223))
      /* RFC 5761 §4: a first type outside 192..223 would be RTP on a muxed
       * port. Later packets may carry any type (unknown ones are skipped). */
      return weft__error(WEFT_ERR_SYNTAX, "RTCP: packet type %u outside 192..223", pkt.type);
    n++;
  }
  if (r < 0)
    return r;
  return n;
}

/* ---- SR / RR ------------------------------------------------------------- */

static int parse_blocks(const char *what, const weft__rtcp_packet *pkt, size_t fixed,
                        uint8_t *count, const uint8_t **blocks) {
  size_t need = fixed + (size_t)pkt->count * WEFT__RTCP_REPORT_BLOCK_LEN;
  if (pkt->body_len < need)
    return weft__error(WEFT_ERR_SYNTAX,
                       "RTCP %s: %u report blocks need %zu bytes, the body has %zu", what,
                       pkt->count, need, pkt->body_len);
  *count = pkt->count;
  *blocks = pkt->body + fixed;
  return 0;
}

int weft__rtcp_parse_sr(const weft__rtcp_packet *pkt, weft__rtcp_sr *out) {
  if (!pkt || !out)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP SR: NULL argument");
  if (pkt->type != WEFT__RTCP_SR)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP: packet type %u is not an SR", pkt->type);
  /* RFC 3550 §6.4.1: SSRC + 20-byte sender info, then the blocks. */
  if (pkt->body_len < 24)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP SR: body of %zu bytes, sender info needs 24",
                       pkt->body_len);
  memset(out, 0, sizeof *out);
  const uint8_t *b = pkt->body;
  out->ssrc = weft__rd32(b);
  out->ntp = ((uint64_t)weft__rd32(b + 4) << 32) | weft__rd32(b + 8);
  out->rtp_timestamp = weft__rd32(b + 12);
  out->packet_count = weft__rd32(b + 16);
  out->octet_count = weft__rd32(b + 20);
  return parse_blocks("SR", pkt, 24, &out->block_count, &out->blocks);
}

int weft__rtcp_parse_rr(const weft__rtcp_packet *pkt, weft__rtcp_rr *out) {
  if (!pkt || !out)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP RR: NULL argument");
  if (pkt->type != WEFT__RTCP_RR)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP: packet type %u is not an RR", pkt->type);
  if (pkt->body_len < 4)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP RR: body of %zu bytes, no room for the SSRC",
                       pkt->body_len);
  memset(out, 0, sizeof *out);
  out->ssrc = weft__rd32(pkt->body);
  return parse_blocks("RR", pkt, 4, &out->block_count, &out->blocks);
}

void weft__rtcp_report_block_get(const uint8_t *blocks, size_t i, weft__rtcp_report_block *out) {
  const uint8_t *b = blocks + i * WEFT__RTCP_REPORT_BLOCK_LEN;
  out->ssrc = weft__rd32(b);
  out->fraction_lost = b[4];
  /* 24-bit two's complement (RFC 3550 §6.4.1: "signed"). */
  uint32_t cl = ((uint32_t)b[5] << 16) | ((uint32_t)b[6] << 8) | b[7];
  out->cumulative_lost = (cl & 0x800000) ? (int32_t)cl - 0x1000000 : (int32_t)cl;
  out->ext_highest_seq = weft__rd32(b + 8);
  out->jitter = weft__rd32(b + 12);
  out->lsr = weft__rd32(b + 16);
  out->dlsr = weft__rd32(b + 20);
}

static void write_block(uint8_t *b, const weft__rtcp_report_block *rb) {
  int32_t cl = rb->cumulative_lost;
  if (cl > 0x7fffff)
    cl = 0x7fffff;
  else if (cl < -0x800000)
    cl = -0x800000;
  uint32_t u = (uint32_t)cl & 0xffffff;
  weft__wr32(b, rb->ssrc);
  b[4] = rb->fraction_lost;
  b[5] = (uint8_t)(u >> 16);
  b[6] = (uint8_t)(u >> 8);
  b[7] = (uint8_t)u;
  weft__wr32(b + 8, rb->ext_highest_seq);
  weft__wr32(b + 12, rb->jitter);
  weft__wr32(b + 16, rb->lsr);
  weft__wr32(b + 20, rb->dlsr);
}

static int check_blocks(const char *what, const weft__rtcp_report_block *blocks, size_t n) {
  if (n > WEFT__RTCP_MAX_COUNT)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP %s: %zu report blocks (max 31)", what, n);
  if (n && !blocks)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP %s: NULL report blocks", what);
  return 0;
}

int weft__rtcp_write_sr(const weft__rtcp_sr *sr, const weft__rtcp_report_block *blocks,
                        size_t n_blocks, uint8_t *out, size_t cap) {
  if (!sr)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP SR: NULL argument");
  int r = check_blocks("SR", blocks, n_blocks);
  if (r < 0)
    return r;
  size_t len = 4 + 24 + n_blocks * WEFT__RTCP_REPORT_BLOCK_LEN;
  if ((r = check_cap("SR", len, out, cap)) < 0)
    return r;
  write_hdr(out, (uint8_t)n_blocks, WEFT__RTCP_SR, len);
  weft__wr32(out + 4, sr->ssrc);
  weft__wr32(out + 8, (uint32_t)(sr->ntp >> 32));
  weft__wr32(out + 12, (uint32_t)sr->ntp);
  weft__wr32(out + 16, sr->rtp_timestamp);
  weft__wr32(out + 20, sr->packet_count);
  weft__wr32(out + 24, sr->octet_count);
  for (size_t i = 0; i < n_blocks; i++)
    write_block(out + 28 + i * WEFT__RTCP_REPORT_BLOCK_LEN, &blocks[i]);
  return (int)len;
}

int weft__rtcp_write_rr(uint32_t ssrc, const weft__rtcp_report_block *blocks, size_t n_blocks,
                        uint8_t *out, size_t cap) {
  int r = check_blocks("RR", blocks, n_blocks);
  if (r < 0)
    return r;
  size_t len = 4 + 4 + n_blocks * WEFT__RTCP_REPORT_BLOCK_LEN;
  if ((r = check_cap("RR", len, out, cap)) < 0)
    return r;
  write_hdr(out, (uint8_t)n_blocks, WEFT__RTCP_RR, len);
  weft__wr32(out + 4, ssrc);
  for (size_t i = 0; i < n_blocks; i++)
    write_block(out + 8 + i * WEFT__RTCP_REPORT_BLOCK_LEN, &blocks[i]);
  return (int)len;
}

uint64_t weft__rtcp_ntp_from_unix_us(int64_t unix_us) {
  /* RFC 5905 §6: NTP era 0 starts 70 years (2208988800 s) before the Unix
   * epoch; the low 32 bits are the binary fraction of a second. */
  uint64_t us = unix_us < 0 ? 0 : (uint64_t)unix_us;
  uint64_t sec = us / 1000000 + 2208988800ull;
  uint64_t frac = ((us % 1000000) << 32) / 1000000;
  return (sec << 32) | frac;
}

int64_t weft__rtcp_rtt_us(uint32_t now_compact, uint32_t lsr, uint32_t dlsr) {
  /* RFC 3550 §6.4.1: LSR 0 means no SR was received. The subtraction is
   * modulo 2^32 (the compact clock wraps every 18 hours). */
  if (lsr == 0)
    return -1;
  uint32_t rtt = now_compact - lsr - dlsr;
  if (rtt & 0x80000000u)
    return -1;
  return (int64_t)(((uint64_t)rtt * 1000000) >> 16);
}

/* ---- SDES ---------------------------------------------------------------- */

int weft__rtcp_sdes_iter_init(weft__rtcp_sdes_iter *it, const weft__rtcp_packet *pkt) {
  if (!it || !pkt)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP SDES: NULL argument");
  memset(it, 0, sizeof *it);
  if (pkt->type != WEFT__RTCP_SDES)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP: packet type %u is not an SDES", pkt->type);
  it->start = it->p = pkt->body;
  it->end = pkt->body + pkt->body_len;
  it->chunks_left = pkt->count;
  return 0;
}

static int sdes_fail(weft__rtcp_sdes_iter *it) {
  it->chunks_left = 0;
  it->in_chunk = false;
  it->p = it->end;
  return WEFT_ERR_SYNTAX;
}

int weft__rtcp_sdes_next(weft__rtcp_sdes_iter *it, weft__rtcp_sdes_item *item) {
  for (;;) {
    if (!it->in_chunk) {
      if (it->chunks_left == 0)
        return 0;
      /* RFC 3550 §6.5: each chunk is an SSRC/CSRC then a list of items. */
      if (it->end - it->p < 4) {
        unsigned missing = it->chunks_left;
        sdes_fail(it);
        return weft__error(WEFT_ERR_SYNTAX, "RTCP SDES: %u chunk(s) missing or truncated", missing);
      }
      it->ssrc = weft__rd32(it->p);
      it->p += 4;
      it->in_chunk = true;
      it->chunks_left--;
    }
    if (it->p >= it->end) {
      uint32_t ssrc = it->ssrc;
      sdes_fail(it);
      return weft__error(WEFT_ERR_SYNTAX, "RTCP SDES: chunk of SSRC %08x lacks its null item",
                         ssrc);
    }
    if (it->p[0] == WEFT__RTCP_SDES_END) {
      /* RFC 3550 §6.5: the item list ends with a null octet, then null octets
       * up to the next 32-bit boundary, where the next chunk starts. The body
       * starts word-aligned, so alignment is counted from it. */
      size_t next = ((size_t)(it->p - it->start) + 1 + 3) & ~(size_t)3;
      size_t avail = (size_t)(it->end - it->start);
      it->p = it->start + (next < avail ? next : avail);
      it->in_chunk = false;
      continue;
    }
    size_t left = (size_t)(it->end - it->p);
    if (left < 2 || left < 2u + it->p[1]) {
      uint8_t type = it->p[0];
      sdes_fail(it);
      return weft__error(WEFT_ERR_SYNTAX, "RTCP SDES: item type %u runs past the packet", type);
    }
    item->ssrc = it->ssrc;
    item->type = it->p[0];
    item->len = it->p[1];
    item->data = it->p + 2;
    it->p += 2 + (size_t)item->len;
    return 1;
  }
}

int weft__rtcp_sdes_cname(const weft__rtcp_packet *pkt, uint32_t *ssrc, const uint8_t **cname,
                          uint8_t *len) {
  weft__rtcp_sdes_iter it;
  weft__rtcp_sdes_item item;
  int r = weft__rtcp_sdes_iter_init(&it, pkt);
  if (r < 0)
    return r;
  while ((r = weft__rtcp_sdes_next(&it, &item)) == 1) {
    if (item.type == WEFT__RTCP_SDES_CNAME) {
      if (ssrc)
        *ssrc = item.ssrc;
      if (cname)
        *cname = item.data;
      if (len)
        *len = item.len;
      return 1;
    }
  }
  return r;
}

int weft__rtcp_write_sdes(const weft__rtcp_sdes_chunk *chunks, size_t n, uint8_t *out, size_t cap) {
  if (n > WEFT__RTCP_MAX_COUNT || (n && !chunks))
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP SDES: %zu chunks (max 31)", n);
  size_t len = 4;
  for (size_t i = 0; i < n; i++) {
    if (chunks[i].cname_len == 0 || chunks[i].cname_len > 255 || !chunks[i].cname)
      return weft__error(WEFT_ERR_INVALID_ARG, "RTCP SDES: CNAME of %zu bytes (1..255)",
                         chunks[i].cname_len);
    /* SSRC, type, length, text, at least one null octet, padded to 32 bits. */
    len += (4 + 2 + chunks[i].cname_len + 1 + 3) & ~(size_t)3;
  }
  int r = check_cap("SDES", len, out, cap);
  if (r < 0)
    return r;
  write_hdr(out, (uint8_t)n, WEFT__RTCP_SDES, len);
  uint8_t *p = out + 4;
  for (size_t i = 0; i < n; i++) {
    size_t clen = (4 + 2 + chunks[i].cname_len + 1 + 3) & ~(size_t)3;
    memset(p, 0, clen);
    weft__wr32(p, chunks[i].ssrc);
    p[4] = WEFT__RTCP_SDES_CNAME;
    p[5] = (uint8_t)chunks[i].cname_len;
    memcpy(p + 6, chunks[i].cname, chunks[i].cname_len);
    p += clen;
  }
  return (int)len;
}

/* ---- BYE ----------------------------------------------------------------- */

int weft__rtcp_parse_bye(const weft__rtcp_packet *pkt, weft__rtcp_bye *out) {
  if (!pkt || !out)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP BYE: NULL argument");
  if (pkt->type != WEFT__RTCP_BYE)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP: packet type %u is not a BYE", pkt->type);
  memset(out, 0, sizeof *out);
  size_t need = (size_t)pkt->count * 4;
  if (pkt->body_len < need)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP BYE: %u SSRCs need %zu bytes, the body has %zu",
                       pkt->count, need, pkt->body_len);
  out->ssrc_count = pkt->count;
  out->ssrcs = pkt->body;
  /* RFC 3550 §6.6: optional length-prefixed reason after the SSRC list. */
  if (pkt->body_len > need) {
    uint8_t rl = pkt->body[need];
    if (pkt->body_len - need - 1 < rl)
      return weft__error(WEFT_ERR_SYNTAX, "RTCP BYE: reason of %u bytes runs past the packet", rl);
    out->reason = pkt->body + need + 1;
    out->reason_len = rl;
  }
  return 0;
}

int weft__rtcp_write_bye(const uint32_t *ssrcs, size_t n, const char *reason, size_t reason_len,
                         uint8_t *out, size_t cap) {
  if (n > WEFT__RTCP_MAX_COUNT || (n && !ssrcs))
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP BYE: %zu SSRCs (max 31)", n);
  if (reason_len > 255 || (reason_len && !reason))
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP BYE: reason of %zu bytes (max 255)", reason_len);
  size_t len = 4 + n * 4 + (reason_len ? (1 + reason_len + 3) & ~(size_t)3 : 0);
  int r = check_cap("BYE", len, out, cap);
  if (r < 0)
    return r;
  memset(out, 0, len);
  write_hdr(out, (uint8_t)n, WEFT__RTCP_BYE, len);
  for (size_t i = 0; i < n; i++)
    weft__wr32(out + 4 + 4 * i, ssrcs[i]);
  if (reason_len) {
    out[4 + 4 * n] = (uint8_t)reason_len;
    memcpy(out + 5 + 4 * n, reason, reason_len);
  }
  return (int)len;
}

/* ---- Feedback ------------------------------------------------------------ */

int weft__rtcp_parse_fb(const weft__rtcp_packet *pkt, weft__rtcp_fb *out) {
  if (!pkt || !out)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP FB: NULL argument");
  if (pkt->type != WEFT__RTCP_RTPFB && pkt->type != WEFT__RTCP_PSFB)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP: packet type %u is not feedback", pkt->type);
  /* RFC 4585 §6.1: sender SSRC, media source SSRC, then the FCI. */
  if (pkt->body_len < 8)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP FB: body of %zu bytes, the SSRCs need 8",
                       pkt->body_len);
  out->fmt = pkt->count;
  out->type = pkt->type;
  out->sender_ssrc = weft__rd32(pkt->body);
  out->media_ssrc = weft__rd32(pkt->body + 4);
  out->fci = pkt->body + 8;
  out->fci_len = pkt->body_len - 8;
  return 0;
}

static int write_fb_hdr(const char *what, uint8_t fmt, uint8_t type, uint32_t sender,
                        uint32_t media, size_t fci_len, uint8_t *out, size_t cap) {
  size_t len = 12 + fci_len;
  int r = check_cap(what, len, out, cap);
  if (r < 0)
    return r;
  write_hdr(out, fmt, type, len);
  weft__wr32(out + 4, sender);
  weft__wr32(out + 8, media);
  return (int)len;
}

int weft__rtcp_nack_seqs(const weft__rtcp_fb *fb, uint16_t *seqs, size_t cap) {
  if (!fb || (cap && !seqs))
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP NACK: NULL argument");
  if (fb->type != WEFT__RTCP_RTPFB || fb->fmt != WEFT__RTCP_FMT_NACK)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP: feedback %u/%u is not a generic NACK", fb->type,
                       fb->fmt);
  if (fb->fci_len == 0 || fb->fci_len % 4)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP NACK: FCI of %zu bytes is not a list of PID+BLP",
                       fb->fci_len);
  size_t n = 0;
  for (size_t off = 0; off < fb->fci_len; off += 4) {
    /* RFC 4585 §6.2.1: PID is lost; bit i of BLP (LSB = 0) means PID+i+1 is. */
    uint16_t pid = weft__rd16(fb->fci + off);
    uint16_t blp = weft__rd16(fb->fci + off + 2);
    if (n < cap)
      seqs[n] = pid;
    n++;
    for (unsigned i = 0; i < 16; i++) {
      if (blp & (1u << i)) {
        if (n < cap)
          seqs[n] = (uint16_t)(pid + i + 1);
        n++;
      }
    }
  }
  return (int)n;
}

int weft__rtcp_write_nack(uint32_t sender_ssrc, uint32_t media_ssrc, const uint16_t *seqs, size_t n,
                          uint8_t *out, size_t cap) {
  if (n == 0 || !seqs)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP NACK: no sequence numbers");
  /* First pass counts the pairs, second writes them: the same grouping. */
  size_t pairs = 0;
  for (int pass = 0; pass < 2; pass++) {
    size_t k = 0;
    uint16_t pid = 0, blp = 0;
    bool open = false;
    for (size_t i = 0; i < n; i++) {
      if (open) {
        int32_t d = weft__rtp_seq_diff(seqs[i], pid);
        if (d == 0)
          continue;
        if (d >= 1 && d <= 16) {
          blp |= (uint16_t)(1u << (d - 1));
          continue;
        }
        if (pass == 1) {
          weft__wr16(out + 12 + 4 * k, pid);
          weft__wr16(out + 14 + 4 * k, blp);
        }
        k++;
      }
      pid = seqs[i];
      blp = 0;
      open = true;
    }
    if (pass == 1) {
      weft__wr16(out + 12 + 4 * k, pid);
      weft__wr16(out + 14 + 4 * k, blp);
    }
    k++;
    if (pass == 0) {
      pairs = k;
      int r = write_fb_hdr("NACK", WEFT__RTCP_FMT_NACK, WEFT__RTCP_RTPFB, sender_ssrc, media_ssrc,
                           pairs * 4, out, cap);
      if (r < 0)
        return r;
    }
  }
  return (int)(12 + pairs * 4);
}

int weft__rtcp_write_pli(uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *out, size_t cap) {
  return write_fb_hdr("PLI", WEFT__RTCP_FMT_PLI, WEFT__RTCP_PSFB, sender_ssrc, media_ssrc, 0, out,
                      cap);
}

int weft__rtcp_fir_entries(const weft__rtcp_fb *fb, weft__rtcp_fir_entry *entries, size_t cap) {
  if (!fb || (cap && !entries))
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP FIR: NULL argument");
  if (fb->type != WEFT__RTCP_PSFB || fb->fmt != WEFT__RTCP_FMT_FIR)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP: feedback %u/%u is not a FIR", fb->type, fb->fmt);
  /* RFC 5104 §4.3.1.1: one or more 8-byte entries (SSRC, seq nr, 24 reserved bits). */
  if (fb->fci_len == 0 || fb->fci_len % 8)
    return weft__error(WEFT_ERR_SYNTAX,
                       "RTCP FIR: FCI of %zu bytes is not a list of 8-byte entries", fb->fci_len);
  size_t n = fb->fci_len / 8;
  for (size_t i = 0; i < n && i < cap; i++) {
    entries[i].ssrc = weft__rd32(fb->fci + 8 * i);
    entries[i].seq_nr = fb->fci[8 * i + 4];
  }
  return (int)n;
}

int weft__rtcp_write_fir(uint32_t sender_ssrc, const weft__rtcp_fir_entry *entries, size_t n,
                         uint8_t *out, size_t cap) {
  if (n == 0 || !entries)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP FIR: no entries");
  /* RFC 5104 §4.3.1.2: the media source SSRC field is 0; targets are in the FCI. */
  int r = write_fb_hdr("FIR", WEFT__RTCP_FMT_FIR, WEFT__RTCP_PSFB, sender_ssrc, 0, n * 8, out, cap);
  if (r < 0)
    return r;
  for (size_t i = 0; i < n; i++) {
    uint8_t *e = out + 12 + 8 * i;
    weft__wr32(e, entries[i].ssrc);
    e[4] = entries[i].seq_nr;
    e[5] = e[6] = e[7] = 0;
  }
  return r;
}

int weft__rtcp_parse_remb(const weft__rtcp_fb *fb, weft__rtcp_remb *out) {
  if (!fb || !out)
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP REMB: NULL argument");
  if (fb->type != WEFT__RTCP_PSFB || fb->fmt != WEFT__RTCP_FMT_AFB)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP: feedback %u/%u is not application-layer", fb->type,
                       fb->fmt);
  if (fb->fci_len < 4 || memcmp(fb->fci, "REMB", 4) != 0)
    return 0; /* some other AFB message */
  /* draft-alvestrand-rmcat-remb §2.2: "REMB", Num SSRC (8), BR Exp (6),
   * BR Mantissa (18), then Num SSRC feedback SSRCs. */
  if (fb->fci_len < 8)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP REMB: FCI of %zu bytes, the bitrate needs 8",
                       fb->fci_len);
  memset(out, 0, sizeof *out);
  const uint8_t *f = fb->fci;
  out->ssrc_count = f[4];
  unsigned exp = f[5] >> 2;
  uint32_t mantissa = ((uint32_t)(f[5] & 3) << 16) | ((uint32_t)f[6] << 8) | f[7];
  /* 18-bit mantissa << up to 63: saturate instead of overflowing. */
  if (mantissa && exp > 46 && (uint64_t)mantissa > (UINT64_MAX >> exp))
    out->bitrate = UINT64_MAX;
  else
    out->bitrate = (uint64_t)mantissa << exp;
  size_t need = 8 + (size_t)out->ssrc_count * 4;
  if (fb->fci_len < need)
    return weft__error(WEFT_ERR_SYNTAX, "RTCP REMB: %u SSRCs need %zu FCI bytes, have %zu",
                       out->ssrc_count, need, fb->fci_len);
  out->ssrcs = f + 8;
  return 1;
}

int weft__rtcp_write_remb(uint32_t sender_ssrc, uint64_t bitrate, const uint32_t *ssrcs, size_t n,
                          uint8_t *out, size_t cap) {
  if (n > 255 || (n && !ssrcs))
    return weft__error(WEFT_ERR_INVALID_ARG, "RTCP REMB: %zu SSRCs (max 255)", n);
  unsigned exp = 0;
  while (exp < 63 && (bitrate >> exp) > 0x3ffff)
    exp++;
  /* exp <= 46 always suffices for 64 bits, so the mantissa fits 18 bits. */
  uint32_t mantissa = (uint32_t)(bitrate >> exp);
  /* draft-alvestrand-rmcat-remb §2.2: media source SSRC is 0. */
  int r = write_fb_hdr("REMB", WEFT__RTCP_FMT_AFB, WEFT__RTCP_PSFB, sender_ssrc, 0, 8 + 4 * n, out,
                       cap);
  if (r < 0)
    return r;
  uint8_t *f = out + 12;
  memcpy(f, "REMB", 4);
  f[4] = (uint8_t)n;
  f[5] = (uint8_t)((exp << 2) | (mantissa >> 16));
  f[6] = (uint8_t)(mantissa >> 8);
  f[7] = (uint8_t)mantissa;
  for (size_t i = 0; i < n; i++)
    weft__wr32(f + 8 + 4 * i, ssrcs[i]);
  return r;
}
