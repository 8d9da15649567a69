/*
 * rtp/ — pure RTP and RTCP packet code (RFC 3550, RFC 8285, RFC 4585, RFC 5104,
 * RFC 5506, RFC 5761, draft-alvestrand-rmcat-remb).
 *
 * No I/O, no allocation, no hidden state: parsers fill small view structs whose
 * pointers point into the caller's input (which must outlive the view); writers
 * fill caller-provided buffers and return the number of bytes written. Every
 * parser is bounds-checked and never reads outside [data, data+len); malformed
 * input yields WEFT_ERR_SYNTAX with a precise message (weft_last_error_message).
 * Writers return WEFT_ERR_TOO_BIG when @cap is too small and WEFT_ERR_INVALID_ARG
 * for values the wire format cannot carry. Safe to call from any thread.
 */
#ifndef WEFT_RTP_RTP_H
#define WEFT_RTP_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ===== RTP (RFC 3550 §5.1) ============================================== */

enum {
  WEFT__RTP_VERSION = 2,
  WEFT__RTP_HEADER_LEN = 12, /* fixed header, no CSRC */
  WEFT__RTP_MAX_CSRC = 15,
  /* RFC 8285 §4.2 / §4.3 "defined by profile" values of the extension block. */
  WEFT__RTP_EXT_ONE_BYTE = 0xBEDE,
  WEFT__RTP_EXT_TWO_BYTE = 0x1000, /* the low 4 bits ("appbits") are application data */
  WEFT__RTP_EXT_TWO_BYTE_MASK = 0xFFF0
};

/* A parsed RTP packet: every pointer points into the parsed buffer. */
typedef struct weft__rtp_packet {
  bool padding;   /* P bit */
  bool extension; /* X bit */
  bool marker;    /* M bit */
  uint8_t csrc_count;
  uint8_t payload_type; /* 0..127 */
  uint16_t seq;
  uint32_t timestamp;
  uint32_t ssrc;
  const uint8_t *csrcs; /* csrc_count big-endian 32-bit words; see weft__rtp_csrc() */
  /* Header extension block (only when X is set; RFC 3550 §5.3.1). ext_data
   * is the body after the 4-byte block header, ext_len bytes (a multiple of 4).
   * ext_profile tells the format: WEFT__RTP_EXT_ONE_BYTE, a two-byte value
   * (profile & MASK == TWO_BYTE), or anything else (opaque to weft). */
  uint16_t ext_profile;
  const uint8_t *ext_data;
  size_t ext_len;
  size_t header_len; /* fixed header + CSRCs + extension block */
  const uint8_t *payload;
  size_t payload_len;  /* without padding */
  uint8_t padding_len; /* padding bytes at the end, count byte included (0 if P=0) */
} weft__rtp_packet;

/* Parses an RTP packet. The RFC 8285 elements of a one-byte or two-byte
 * extension block are checked here too, so iterating them later cannot fail.
 * Errors (WEFT_ERR_SYNTAX): shorter than 12 bytes, version not 2, CSRCs or
 * extension block past the end, extension element past its block, padding count
 * 0 or larger than what follows the header. INVALID_ARG for NULL pointers. */
int weft__rtp_parse(const uint8_t *data, size_t len, weft__rtp_packet *out);

static inline uint32_t weft__rtp_csrc(const weft__rtp_packet *p, size_t i) {
  const uint8_t *c = p->csrcs + 4 * i;
  return ((uint32_t)c[0] << 24) | ((uint32_t)c[1] << 16) | ((uint32_t)c[2] << 8) | c[3];
}

/* RFC 8285 header extension element (a view when parsed, an input when written). */
typedef struct weft__rtp_ext {
  uint8_t id; /* one-byte form: 1..14; two-byte form: 1..255 */
  const uint8_t *data;
  size_t len; /* one-byte form: 1..16; two-byte form: 0..255 */
} weft__rtp_ext;

/* Iterator over the elements of a parsed packet's extension block. */
typedef struct weft__rtp_ext_iter {
  const uint8_t *p, *end;
  bool two_byte;
} weft__rtp_ext_iter;

/* Starts iterating @pkt's RFC 8285 elements; an opaque (non-8285) block or no
 * block yields no element. */
void weft__rtp_ext_iter_init(weft__rtp_ext_iter *it, const weft__rtp_packet *pkt);
/* Next element into *ext (padding bytes are skipped); false at the end. */
bool weft__rtp_ext_next(weft__rtp_ext_iter *it, weft__rtp_ext *ext);
/* Finds the first element with @id; true and *ext filled if present. */
bool weft__rtp_ext_find(const weft__rtp_packet *pkt, uint8_t id, weft__rtp_ext *ext);

/* Bytes an extension block holding @exts would take (4-byte block header and
 * padding to 32 bits included; 0 when @n is 0), in the one-byte form unless
 * @two_byte or an element needs it (id > 14, len 0 or > 16). */
size_t weft__rtp_ext_block_size(const weft__rtp_ext *exts, size_t n, bool two_byte);
/* Writes that block into @out; returns its size, 0 when @n is 0, or an error
 * (INVALID_ARG for id 0 or len > 255; TOO_BIG). */
int weft__rtp_ext_block_write(const weft__rtp_ext *exts, size_t n, bool two_byte, uint8_t *out,
                              size_t cap);

/* What weft__rtp_write writes. */
typedef struct weft__rtp_build {
  bool marker;
  uint8_t payload_type; /* 0..127 */
  uint16_t seq;
  uint32_t timestamp;
  uint32_t ssrc;
  const uint32_t *csrcs;
  uint8_t csrc_count;        /* <= 15 */
  const weft__rtp_ext *exts; /* RFC 8285 elements; none: no extension block */
  size_t ext_count;
  bool ext_two_byte; /* force the two-byte form (a=extmap-allow-mixed) */
  const uint8_t *payload;
  size_t payload_len;
  uint8_t padding_len; /* 0 = no padding; else the padding bytes (count byte included) */
} weft__rtp_build;

/* Header size (fixed + CSRC + extension block) for @b. */
size_t weft__rtp_header_size(const weft__rtp_build *b);
/* Writes the header only (so a packetizer can put the payload in place after
 * it); returns the header length or an error. The P bit is set when
 * padding_len > 0: the caller then appends payload and padding itself. */
int weft__rtp_write_header(const weft__rtp_build *b, uint8_t *out, size_t cap);
/* Writes the whole packet (header, payload, padding); returns its length.
 * The payload may overlap @out (e.g. already in place after the header). */
int weft__rtp_write(const weft__rtp_build *b, uint8_t *out, size_t cap);

/* In-place rewrites of a packet already parsed (len >= 12): send_rtp renumbers
 * SSRC, payload type, sequence and timestamp without re-serializing. */
static inline void weft__rtp_set_payload_type(uint8_t *pkt, uint8_t pt) {
  pkt[1] = (uint8_t)((pkt[1] & 0x80) | (pt & 0x7f));
}
static inline void weft__rtp_set_seq(uint8_t *pkt, uint16_t seq) {
  pkt[2] = (uint8_t)(seq >> 8);
  pkt[3] = (uint8_t)seq;
}
static inline void weft__rtp_set_timestamp(uint8_t *pkt, uint32_t ts) {
  pkt[4] = (uint8_t)(ts >> 24);
  pkt[5] = (uint8_t)(ts >> 16);
  pkt[6] = (uint8_t)(ts >> 8);
  pkt[7] = (uint8_t)ts;
}
static inline void weft__rtp_set_ssrc(uint8_t *pkt, uint32_t ssrc) {
  pkt[8] = (uint8_t)(ssrc >> 24);
  pkt[9] = (uint8_t)(ssrc >> 16);
  pkt[10] = (uint8_t)(ssrc >> 8);
  pkt[11] = (uint8_t)ssrc;
}

/* ===== Sequence numbers (RFC 3550 §A.1, §A.3) ============================ */

/* a - b as a signed distance modulo 2^16 (positive: a is after b). */
static inline int32_t weft__rtp_seq_diff(uint16_t a, uint16_t b) {
  return (int32_t)(int16_t)(uint16_t)(a - b);
}
/* true when @a comes after @b (serial-number order, RFC 1982 style). */
static inline bool weft__rtp_seq_newer(uint16_t a, uint16_t b) {
  return weft__rtp_seq_diff(a, b) > 0;
}

/* Maps 16-bit sequence numbers onto a 64-bit line, choosing for each one the
 * value nearest the highest seen so far (reordering and wraparound both ways).
 * Zero-initialize before use. */
typedef struct weft__rtp_seq_unwrapper {
  int64_t highest;
  bool started;
} weft__rtp_seq_unwrapper;
int64_t weft__rtp_seq_unwrap(weft__rtp_seq_unwrapper *u, uint16_t seq);

/* Receiver-side source state of RFC 3550 §A.1 (probation, large jumps, cycle
 * count) and the loss statistics of §A.3 for receiver report blocks. */
typedef struct weft__rtp_source {
  uint16_t max_seq;
  uint32_t cycles; /* shifted count of wraparounds (multiples of 65536) */
  uint32_t base_seq;
  uint32_t bad_seq;
  uint32_t probation;
  uint32_t received;
  uint32_t expected_prior;
  uint32_t received_prior;
  uint32_t transit; /* §A.8: previous arrival - RTP timestamp */
  uint32_t jitter;  /* §A.8 estimate scaled by 16 */
  bool have_transit;
} weft__rtp_source;
enum { WEFT__RTP_MIN_SEQUENTIAL = 2, WEFT__RTP_MAX_DROPOUT = 3000, WEFT__RTP_MAX_MISORDER = 100 };
/* Starts a source whose first packet carried @seq: it is in probation until
 * MIN_SEQUENTIAL packets in a row (this one included) have arrived. Do not
 * also feed this packet to weft__rtp_source_update(). */
void weft__rtp_source_init(weft__rtp_source *s, uint16_t seq);
/* Feeds one received @seq; true if the packet is valid for the source (false
 * during probation or for a wild jump, which restarts the source after two
 * sequential packets, as A.1). */
bool weft__rtp_source_update(weft__rtp_source *s, uint16_t seq);
/* Extended highest sequence number received (cycles + max_seq). */
static inline uint32_t weft__rtp_source_ext_max(const weft__rtp_source *s) {
  return s->cycles + s->max_seq;
}
/* §A.8 interarrival jitter: feed each packet's arrival time converted to the
 * RTP clock (same units as @rtp_ts; wraps are fine) and its RTP timestamp. */
void weft__rtp_source_jitter_update(weft__rtp_source *s, uint32_t arrival, uint32_t rtp_ts);
/* The jitter for a report block, in RTP timestamp units. */
static inline uint32_t weft__rtp_source_jitter(const weft__rtp_source *s) { return s->jitter >> 4; }
/* §A.3: cumulative loss (clamped to the 24-bit signed field) and fraction lost
 * since the previous call (which it records). */
void weft__rtp_source_loss(weft__rtp_source *s, int32_t *cumulative_lost, uint8_t *fraction_lost);

/* ===== RTP/RTCP demultiplexing (RFC 5761 §4) ============================== */

/* true if @data looks like RTCP rather than RTP on a muxed port: version 2 and
 * second byte (marker + payload type) in 192..223, i.e. the RTCP packet types
 * 192..223 that RFC 5761 §4 keeps clear of RTP payload types 64..95. */
bool weft__rtp_is_rtcp(const uint8_t *data, size_t len);

/* ===== RTCP (RFC 3550 §6) ================================================= */

enum {
  WEFT__RTCP_SR = 200,
  WEFT__RTCP_RR = 201,
  WEFT__RTCP_SDES = 202,
  WEFT__RTCP_BYE = 203,
  WEFT__RTCP_APP = 204,
  WEFT__RTCP_RTPFB = 205, /* RFC 4585 §6.1 transport layer feedback */
  WEFT__RTCP_PSFB = 206,  /* RFC 4585 §6.1 payload-specific feedback */
  WEFT__RTCP_XR = 207
};
enum {
  WEFT__RTCP_FMT_NACK = 1, /* RTPFB, RFC 4585 §6.2.1 */
  WEFT__RTCP_FMT_PLI = 1,  /* PSFB, RFC 4585 §6.3.1 */
  WEFT__RTCP_FMT_FIR = 4,  /* PSFB, RFC 5104 §4.3.1 */
  WEFT__RTCP_FMT_AFB = 15, /* PSFB application layer feedback (REMB) */
  WEFT__RTCP_SDES_END = 0,
  WEFT__RTCP_SDES_CNAME = 1,
  WEFT__RTCP_HEADER_LEN = 4,
  WEFT__RTCP_MAX_COUNT = 31, /* RC/SC/FMT is 5 bits */
  WEFT__RTCP_REPORT_BLOCK_LEN = 24
};

/* One RTCP packet of a compound packet (views into the input). */
typedef struct weft__rtcp_packet {
  uint8_t count; /* RC / SC / FMT field (5 bits) */
  uint8_t type;  /* PT */
  bool padding;
  const uint8_t *data; /* whole packet, header included */
  size_t len;          /* (length field + 1) * 4 */
  const uint8_t *body; /* after the 4-byte header, padding removed */
  size_t body_len;
} weft__rtcp_packet;

typedef struct weft__rtcp_iter {
  const uint8_t *p, *end;
} weft__rtcp_iter;

void weft__rtcp_iter_init(weft__rtcp_iter *it, const uint8_t *data, size_t len);
/* 1 and *pkt filled, 0 at the end, or WEFT_ERR_SYNTAX for a packet that is not
 * version 2, whose length field runs past the input, or whose padding is bad
 * (padding on a packet that is not the last, count 0 or larger than the body).
 * After an error the iterator stays at the end. */
int weft__rtcp_iter_next(weft__rtcp_iter *it, weft__rtcp_packet *pkt);

/* RFC 3550 §6.1 / §A.2 checks of a whole compound packet: every header valid,
 * the lengths add up to @len exactly, padding only on the last packet, and the
 * first packet an SR or RR — unless @reduced_size (RFC 5506 §3.4.2, negotiated
 * by a=rtcp-rsize), which allows any RTCP type first (192..223, RFC 5761 §4)
 * and so a lone feedback packet. A padding bit is accepted on the last packet
 * only (a lone packet may carry one). Later packets of unknown types are
 * counted, for the caller to skip. Returns the number of packets (>= 1) or
 * WEFT_ERR_SYNTAX (with a message naming the fault). */
int weft__rtcp_validate(const uint8_t *data, size_t len, bool reduced_size);

/* --- SR / RR (RFC 3550 §6.4) --- */

typedef struct weft__rtcp_report_block {
  uint32_t ssrc;
  uint8_t fraction_lost;
  int32_t cumulative_lost; /* 24-bit signed on the wire */
  uint32_t ext_highest_seq;
  uint32_t jitter;
  uint32_t lsr;  /* middle 32 bits of the last SR's NTP time */
  uint32_t dlsr; /* 1/65536 s */
} weft__rtcp_report_block;

typedef struct weft__rtcp_sr {
  uint32_t ssrc;
  uint64_t ntp; /* 32.32 fixed point seconds since 1900 */
  uint32_t rtp_timestamp;
  uint32_t packet_count;
  uint32_t octet_count;
  uint8_t block_count;
  const uint8_t *blocks; /* block_count * 24 bytes; weft__rtcp_report_block_get() */
} weft__rtcp_sr;

typedef struct weft__rtcp_rr {
  uint32_t ssrc;
  uint8_t block_count;
  const uint8_t *blocks;
} weft__rtcp_rr;

/* Parse an SR or RR from the iterator's packet; SYNTAX if the type is wrong or
 * the report blocks do not fit. Profile-specific extensions after the blocks
 * (§6.4.1) are ignored. */
int weft__rtcp_parse_sr(const weft__rtcp_packet *pkt, weft__rtcp_sr *out);
int weft__rtcp_parse_rr(const weft__rtcp_packet *pkt, weft__rtcp_rr *out);
/* Decodes report block @i of @blocks (no bounds check: i < block_count). */
void weft__rtcp_report_block_get(const uint8_t *blocks, size_t i, weft__rtcp_report_block *out);

/* Writers return the packet length or an error; at most 31 blocks. */
int weft__rtcp_write_sr(const weft__rtcp_sr *sr, const weft__rtcp_report_block *blocks,
                        size_t n_blocks, uint8_t *out, size_t cap);
int weft__rtcp_write_rr(uint32_t ssrc, const weft__rtcp_report_block *blocks, size_t n_blocks,
                        uint8_t *out, size_t cap);

/* NTP helpers: the middle 32 bits used as LSR (§6.4.1). */
static inline uint32_t weft__rtcp_ntp_compact(uint64_t ntp) { return (uint32_t)(ntp >> 16); }
/* 32.32 NTP time (RFC 5905, seconds since 1900) from Unix time in µs (>= 0). */
uint64_t weft__rtcp_ntp_from_unix_us(int64_t unix_us);
/* Round-trip time from a report block received when the compact NTP clock
 * read @now_compact (§6.4.1: A - LSR - DLSR), in µs; -1 when the block
 * carries no LSR (no SR received yet) or the result would be negative. */
int64_t weft__rtcp_rtt_us(uint32_t now_compact, uint32_t lsr, uint32_t dlsr);

/* --- SDES (RFC 3550 §6.5) --- */

typedef struct weft__rtcp_sdes_item {
  uint32_t ssrc; /* the chunk's SSRC/CSRC */
  uint8_t type;  /* CNAME = 1, ... */
  const uint8_t *data;
  uint8_t len;
} weft__rtcp_sdes_item;

typedef struct weft__rtcp_sdes_iter {
  const uint8_t *start, *p, *end;
  unsigned chunks_left;
  bool in_chunk;
  uint32_t ssrc;
} weft__rtcp_sdes_iter;

/* Walks the items of an SDES packet across its chunks. weft__rtcp_sdes_next
 * returns 1 with *item, 0 at the end, or SYNTAX (item past the end, missing
 * end-of-chunk null item, fewer chunks than SC). */
int weft__rtcp_sdes_iter_init(weft__rtcp_sdes_iter *it, const weft__rtcp_packet *pkt);
int weft__rtcp_sdes_next(weft__rtcp_sdes_iter *it, weft__rtcp_sdes_item *item);
/* Finds the first CNAME; 1 found, 0 none, or SYNTAX. */
int weft__rtcp_sdes_cname(const weft__rtcp_packet *pkt, uint32_t *ssrc, const uint8_t **cname,
                          uint8_t *len);

typedef struct weft__rtcp_sdes_chunk {
  uint32_t ssrc;
  const char *cname;
  size_t cname_len; /* 1..255 */
} weft__rtcp_sdes_chunk;
/* One SDES packet with a CNAME item per chunk (each chunk null-terminated
 * and padded to 32 bits, §6.5). */
int weft__rtcp_write_sdes(const weft__rtcp_sdes_chunk *chunks, size_t n, uint8_t *out, size_t cap);

/* --- BYE (RFC 3550 §6.6) --- */

typedef struct weft__rtcp_bye {
  uint8_t ssrc_count;
  const uint8_t *ssrcs;  /* ssrc_count big-endian words; weft__rtcp_u32() */
  const uint8_t *reason; /* NULL if absent */
  uint8_t reason_len;
} weft__rtcp_bye;
int weft__rtcp_parse_bye(const weft__rtcp_packet *pkt, weft__rtcp_bye *out);
int weft__rtcp_write_bye(const uint32_t *ssrcs, size_t n, const char *reason, size_t reason_len,
                         uint8_t *out, size_t cap);

static inline uint32_t weft__rtcp_u32(const uint8_t *p, size_t i) {
  p += 4 * i;
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* --- Feedback (RFC 4585 §6.1 common format) --- */

typedef struct weft__rtcp_fb {
  uint8_t fmt;
  uint8_t type; /* RTPFB or PSFB */
  uint32_t sender_ssrc;
  uint32_t media_ssrc;
  const uint8_t *fci;
  size_t fci_len;
} weft__rtcp_fb;
/* SYNTAX if @pkt is not RTPFB/PSFB or shorter than the 8-byte SSRC pair. */
int weft__rtcp_parse_fb(const weft__rtcp_packet *pkt, weft__rtcp_fb *out);

/* Generic NACK (RFC 4585 §6.2.1). Expands the PID+BLP pairs of a NACK's FCI
 * into the lost sequence numbers, in FCI order, up to @cap of them; returns
 * how many the FCI names in total (so a return > cap means truncated), or
 * SYNTAX when @fb is not a NACK or the FCI is not a whole number of pairs. */
int weft__rtcp_nack_seqs(const weft__rtcp_fb *fb, uint16_t *seqs, size_t cap);
/* Writes a NACK naming @seqs (best sorted in sequence order: each PID covers
 * the 16 following numbers through its BLP; duplicates are skipped). */
int weft__rtcp_write_nack(uint32_t sender_ssrc, uint32_t media_ssrc, const uint16_t *seqs, size_t n,
                          uint8_t *out, size_t cap);

/* PLI (RFC 4585 §6.3.1): no FCI. */
int weft__rtcp_write_pli(uint32_t sender_ssrc, uint32_t media_ssrc, uint8_t *out, size_t cap);

/* FIR (RFC 5104 §4.3.1): one 8-byte FCI entry per target SSRC. */
typedef struct weft__rtcp_fir_entry {
  uint32_t ssrc;
  uint8_t seq_nr;
} weft__rtcp_fir_entry;
/* Number of entries of a FIR, or SYNTAX if @fb is not a FIR or its FCI is not
 * a multiple of 8 bytes; fills up to @cap entries. */
int weft__rtcp_fir_entries(const weft__rtcp_fb *fb, weft__rtcp_fir_entry *entries, size_t cap);
int weft__rtcp_write_fir(uint32_t sender_ssrc, const weft__rtcp_fir_entry *entries, size_t n,
                         uint8_t *out, size_t cap);

/* REMB (draft-alvestrand-rmcat-remb §2.2): PSFB FMT 15 with "REMB". */
typedef struct weft__rtcp_remb {
  uint64_t bitrate; /* bits/s: mantissa << exp (saturated to UINT64_MAX) */
  uint8_t ssrc_count;
  const uint8_t *ssrcs; /* weft__rtcp_u32() */
} weft__rtcp_remb;
/* 1 and *out for a REMB, 0 for another AFB message, SYNTAX if truncated. */
int weft__rtcp_parse_remb(const weft__rtcp_fb *fb, weft__rtcp_remb *out);
/* Writes a REMB (for tests and for forwarding); @bitrate is encoded with the
 * smallest exponent whose 18-bit mantissa holds it (rounding down). */
int weft__rtcp_write_remb(uint32_t sender_ssrc, uint64_t bitrate, const uint32_t *ssrcs, size_t n,
                          uint8_t *out, size_t cap);

/* ===== Bounds on what a remote makes us do (issue 12) ===================== */
/*
 * Small deciding units for the media engine (pc/media.c wires them): each
 * takes the time as an argument (µs on any monotonic clock) and touches no
 * socket or clock, so a test drives minutes of traffic through it in a loop.
 * Each keeps counters of what it refused and a log limiter for the caller
 * (a weft__ratelimit it uses with burst 1: a refusal logged at most once per
 * second); none logs itself.
 */

/* --- NACK-triggered retransmissions (RFC 4585 §6.2.1 answers) ---
 *
 * Per send stream. Time is cut into windows of one round-trip time (clamped
 * to WEFT__RTX_WINDOW_MIN_US..MAX_US; WEFT__RTX_WINDOW_DEFAULT_US while no RTT
 * is known). Within a window a stream retransmits at most
 *   WEFT__RTX_BUDGET_FLOOR + (original packets sent in this and the previous window)
 * packets — what a receiver can have lost in one round trip, plus a floor for
 * losses detected late — and each sequence number at most once (a second
 * NACK for it inside the window is a duplicate: the first answer is still in
 * flight). So a crafted NACK naming the whole history costs at most the
 * budget, and repeating it costs nothing until the window turns. On top of
 * this, pc/media.c looks at no more than WEFT__NACK_MAX_SEQS_PER_RTCP
 * sequence numbers per compound RTCP packet. */
enum {
  WEFT__RTX_WINDOW_DEFAULT_US = 100000,
  WEFT__RTX_WINDOW_MIN_US = 50000,
  WEFT__RTX_WINDOW_MAX_US = 1000000,
  WEFT__RTX_BUDGET_FLOOR = 32,
  WEFT__NACK_MAX_SEQS_PER_RTCP = 256
};
#define WEFT__RTX_NEVER INT64_MIN /* a history entry never retransmitted */

typedef enum weft__rtx_verdict {
  WEFT__RTX_SEND = 0,
  WEFT__RTX_DUPLICATE,  /* this sequence number was resent in the current window */
  WEFT__RTX_OVER_BUDGET /* the window's budget is spent */
} weft__rtx_verdict;

/* Zero-initialize. The counters are monotonic. */
typedef struct weft__rtx_limiter {
  int64_t window_start_us, window_us;
  uint32_t sent_cur, sent_prev; /* original packets in this / the previous window */
  uint32_t rtx_cur;             /* retransmissions admitted in this window */
  bool started;
  uint64_t duplicates, over_budget; /* refusals by reason */
  uint64_t over_cap; /* NACKed numbers past the per-RTCP cap (counted by the caller) */
  weft__ratelimit log;
} weft__rtx_limiter;

/* One original (not retransmitted) packet sent at @now_us. @rtt_us < 0: not
 * known. */
void weft__rtx_limiter_on_send(weft__rtx_limiter *l, int64_t now_us, int64_t rtt_us);
/* Whether to answer a NACK for a packet of the history at @now_us.
 * @last_rtx_us is that packet's own record (WEFT__RTX_NEVER when stored):
 * updated on SEND. */
weft__rtx_verdict weft__rtx_limiter_admit(weft__rtx_limiter *l, int64_t now_us, int64_t rtt_us,
                                          int64_t *last_rtx_us);
/* Retransmissions the current window still allows at @now_us. */
uint32_t weft__rtx_limiter_left(weft__rtx_limiter *l, int64_t now_us, int64_t rtt_us);
/* The window length used for @rtt_us. */
int64_t weft__rtx_window_us(int64_t rtt_us);

/* --- Incoming keyframe requests (PLI, RFC 4585 §6.3.1; FIR, RFC 5104 §4.3.1) ---
 *
 * Per send stream: at most one request is passed on (on_keyframe_request)
 * per WEFT__KEYFRAME_MIN_INTERVAL_US; the others are dropped and counted (an
 * encoder cannot make keyframes faster, and the remote asks again if the
 * keyframe does not arrive). A FIR repeating the sequence number of the last
 * FIR is a retransmission of the same request (RFC 5104 §4.3.1.2) and is
 * never passed on. */
enum { WEFT__KEYFRAME_MIN_INTERVAL_US = 200000 };

typedef struct weft__keyframe_throttle {
  int64_t last_us; /* last request passed on */
  bool have_last;
  uint8_t fir_seq; /* sequence number of the last FIR */
  bool have_fir_seq;
  uint64_t throttled;   /* PLI or new FIR inside the interval */
  uint64_t fir_repeats; /* FIR with the previous sequence number */
  weft__ratelimit log;
} weft__keyframe_throttle;

/* true: pass this request on. */
bool weft__keyframe_throttle_pli(weft__keyframe_throttle *k, int64_t now_us);
bool weft__keyframe_throttle_fir(weft__keyframe_throttle *k, int64_t now_us, uint8_t seq_nr);

/* --- SSRCs learnt without signalling ---
 *
 * SSRCs announced by a=ssrc are known from the description. Others are
 * learnt from packets routed by the mid header extension or a unique payload
 * type (RFC 8843 §9.2); each costs a table entry and an inbound libsrtp
 * stream, so they are capped: WEFT__SSRC_LEARNT_PER_OWNER per owner (a track,
 * or RTCP-only senders) and WEFT__SSRC_LEARNT_MAX in all. A full owner (or
 * table) makes room only by evicting an entry idle for
 * WEFT__SSRC_IDLE_US, the least recently seen first: a source that changed
 * its SSRC frees its slot, a flood of new SSRCs never displaces a live one. */
enum {
  WEFT__SSRC_LEARNT_MAX = 64,
  WEFT__SSRC_LEARNT_PER_OWNER = 16,
  WEFT__SSRC_IDLE_US = 5000000,
  /* a=ssrc lines taken per m-section (RTX/FEC secondaries of a=ssrc-group:FID
   * not counted: they are not routed); the rest are ignored */
  WEFT__SSRC_ANNOUNCED_PER_TRACK = 16
};

typedef struct weft__ssrc_learnt {
  uint32_t ssrc;
  const void *owner; /* opaque to the table */
  int64_t last_us;   /* last packet seen */
} weft__ssrc_learnt;

typedef enum weft__ssrc_verdict {
  WEFT__SSRC_REFUSED = 0,
  WEFT__SSRC_ADMITTED, /* new entry (*evicted may name the entry it replaced) */
  WEFT__SSRC_KNOWN     /* already there for this owner */
} weft__ssrc_verdict;

/* Zero-initialize. */
typedef struct weft__ssrc_table {
  weft__ssrc_learnt e[WEFT__SSRC_LEARNT_MAX];
  size_t n;
  uint64_t admitted, refused, evicted;
  uint64_t unrouted; /* packets of unknown SSRCs matching no track (counted by the caller) */
  weft__ratelimit log;
} weft__ssrc_table;

/* The owner of learnt @ssrc (its last use set to @now_us), or NULL. */
const void *weft__ssrc_table_touch(weft__ssrc_table *t, uint32_t ssrc, int64_t now_us);
/* The owner of learnt @ssrc, or NULL (nothing updated). */
const void *weft__ssrc_table_owner(const weft__ssrc_table *t, uint32_t ssrc);
/* Learns @ssrc for @owner (non-NULL). An entry of @ssrc for another owner
 * moves to @owner if @owner has room. When room had to be made, *evicted
 * (may be NULL) receives the entry that left and *did_evict is set: the
 * caller forgets it wherever it also recorded it. */
weft__ssrc_verdict weft__ssrc_table_admit(weft__ssrc_table *t, uint32_t ssrc, const void *owner,
                                          int64_t now_us, weft__ssrc_learnt *evicted,
                                          bool *did_evict);
/* Forgets @ssrc; true if it was there. */
bool weft__ssrc_table_remove(weft__ssrc_table *t, uint32_t ssrc);
/* Forgets every entry of @owner, writing their SSRCs to @out (room for
 * WEFT__SSRC_LEARNT_PER_OWNER); returns how many. */
size_t weft__ssrc_table_remove_owner(weft__ssrc_table *t, const void *owner, uint32_t *out);
/* Entries of @owner (NULL: all). */
size_t weft__ssrc_table_count(const weft__ssrc_table *t, const void *owner);

#endif
