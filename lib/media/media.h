/*
 * media/ — RTP payload formats: packetizers and depacketizers for Opus
 * (RFC 7587), VP8 (RFC 7741) and H264 (RFC 6184, packetization-mode 1), and a
 * frame assembler that turns RTP payloads (in sequence order, with a small
 * bounded reorder window) into whole encoded frames.
 *
 * Everything here works on RTP *payloads*: the caller parses or builds the
 * RTP header (sequence number, timestamp, marker bit) itself, so this layer
 * does not depend on rtp/.
 *
 * Internal: symbols are weft__*, hidden. No I/O, no timers, no locks: one
 * object is used from one thread (the context thread).
 */
#ifndef WEFT_MEDIA_MEDIA_H
#define WEFT_MEDIA_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* Default bound on one reassembled frame: a 4K keyframe fits, a stream of
 * garbage cannot make us allocate without limit. */
#define WEFT__MEDIA_MAX_FRAME_DEFAULT (4u * 1024u * 1024u)
/* Largest max_frame the assembler accepts. */
#define WEFT__MEDIA_MAX_FRAME_LIMIT (256u * 1024u * 1024u)
/* Largest payload the reorder window stores (an RTP packet over UDP). */
#define WEFT__MEDIA_MAX_PAYLOAD 65535u
/* Largest reorder window (packets held while waiting for a missing one). */
#define WEFT__MEDIA_MAX_REORDER 64u

typedef enum weft__media_codec {
  WEFT__CODEC_OPUS = 1,
  WEFT__CODEC_VP8 = 2,
  WEFT__CODEC_H264 = 3
} weft__media_codec;

/* ---- Packetizer output ---------------------------------------------------
 * Packetizers write each payload into one caller-owned buffer, at
 * buf + headroom, and call emit() once per payload before writing the next
 * one; the caller writes its RTP header into the headroom (or copies the
 * payload) inside emit(). emit() may change the payload's bytes (pc/ encrypts
 * it in place, and the buffer past the payload), so a packetizer writes every
 * byte of every payload anew; tests/unit/test_media.c scrambles each payload
 * after emit() to hold them to it. Nothing is allocated per packet. @marker is true on
 * the last payload of the frame (RFC 3550 §5.1 video marker; RFC 7741 §4.1;
 * RFC 6184 §5.1). A non-zero return from emit() stops packetization and is
 * returned by the packetizer. */
typedef int (*weft__media_emit_fn)(void *ctx, uint8_t *payload, size_t len, bool marker);
typedef struct weft__media_sink {
  uint8_t *buf;       /* at least headroom + max_payload bytes */
  size_t headroom;    /* bytes left free before each payload (e.g. 12 for RTP) */
  size_t max_payload; /* the payload MTU: no payload is longer */
  weft__media_emit_fn emit;
  void *ctx;
} weft__media_sink;

/* ---- Opus (RFC 7587) ------------------------------------------------------ */
/* RFC 7587 §4.2: exactly one Opus packet per RTP payload. Validates the
 * packet's framing (RFC 6716 §3.4 rules R1-R7 on the TOC byte and frame
 * counts, not the frame contents). Errors: WEFT_ERR_SYNTAX (empty or
 * malformed packet), WEFT_ERR_TOO_BIG (longer than max_payload),
 * WEFT_ERR_INVALID_ARG (NULL arguments). The one payload has marker = false:
 * RFC 7587 §4.2 leaves the audio marker (first packet of a talkspurt) to the
 * caller, who knows about DTX. */
int weft__opus_packetize(const weft__media_sink *sink, const uint8_t *frame, size_t len);
/* Checks an Opus RTP payload (same rules as above). 0 or WEFT_ERR_SYNTAX. */
int weft__opus_validate(const uint8_t *payload, size_t len);

/* ---- VP8 (RFC 7741) ------------------------------------------------------ */
/* The payload descriptor of RFC 7741 §4.2. */
typedef struct weft__vp8_desc {
  bool n;              /* non-reference frame */
  bool s;              /* start of a VP8 partition */
  uint8_t pid;         /* partition index 0..7 */
  bool has_picture_id; /* I */
  bool long_picture_id;
  uint16_t picture_id; /* 7 bits, or 15 bits when long_picture_id */
  bool has_tl0picidx;  /* L */
  uint8_t tl0picidx;
  bool has_tid; /* T */
  uint8_t tid;  /* 0..3 */
  bool y;       /* layer sync */
  bool has_keyidx;
  uint8_t keyidx; /* 0..31 */
} weft__vp8_desc;

/* Parses the descriptor at the start of @payload into *d and returns its
 * length in *hdr_len. Errors WEFT_ERR_SYNTAX: truncated descriptor, or no VP8
 * data after it (an empty payload carries nothing). Reserved bits are
 * ignored, as RFC 7741 §4.2 asks of receivers; the frame's own 3-byte header
 * (§4.3) is not required, so any non-empty frame round-trips. */
int weft__vp8_desc_parse(const uint8_t *payload, size_t len, weft__vp8_desc *d, size_t *hdr_len);
/* Length of the descriptor *d encodes to (1..6 bytes). */
size_t weft__vp8_desc_len(const weft__vp8_desc *d);
/* Writes *d to @out (at least weft__vp8_desc_len(d) bytes); returns that
 * length. Out-of-range fields are masked to their widths. */
size_t weft__vp8_desc_write(const weft__vp8_desc *d, uint8_t *out);

/* RFC 7741 §4.3: the P bit of the first byte of a frame is 0 on keyframes. */
static inline bool weft__vp8_is_keyframe(const uint8_t *frame, size_t len) {
  return len > 0 && (frame[0] & 0x01) == 0;
}

typedef struct weft__vp8_packetizer {
  bool picture_id;      /* send a PictureID (libwebrtc senders always do) */
  bool long_picture_id; /* 15-bit instead of 7-bit */
  uint16_t next_picture_id;
  /* Optional temporal-layer fields copied into every descriptor. */
  bool tl0picidx_present;
  uint8_t tl0picidx;
  bool tid_present;
  uint8_t tid;
  bool y;
} weft__vp8_packetizer;

/* Splits one VP8 frame into payloads of at most sink->max_payload bytes: a
 * descriptor on each, S=1 only on the first, PID 0 everywhere (the whole
 * frame is sent as partition 0, RFC 7741 §4.4 allows that), N set for
 * non-keyframes only when @non_reference. PictureID advances by one per
 * frame. Errors: WEFT_ERR_INVALID_ARG (empty frame, NULL, or a max_payload
 * that leaves no room after the descriptor), or emit()'s error. */
int weft__vp8_packetize(weft__vp8_packetizer *p, const weft__media_sink *sink, const uint8_t *frame,
                        size_t len, bool non_reference);

/* ---- H264 (RFC 6184, packetization-mode 1) ------------------------------- */
enum {
  WEFT__H264_NAL_SLICE = 1,
  WEFT__H264_NAL_IDR = 5,
  WEFT__H264_NAL_SEI = 6,
  WEFT__H264_NAL_SPS = 7,
  WEFT__H264_NAL_PPS = 8,
  WEFT__H264_NAL_AUD = 9,
  WEFT__H264_STAP_A = 24,
  WEFT__H264_STAP_B = 25,
  WEFT__H264_MTAP16 = 26,
  WEFT__H264_MTAP24 = 27,
  WEFT__H264_FU_A = 28,
  WEFT__H264_FU_B = 29
};

typedef enum weft__h264_format {
  WEFT__H264_AUTO = 0,   /* Annex-B if the frame starts with a start code, else AVCC */
  WEFT__H264_ANNEXB = 1, /* 00 00 01 / 00 00 00 01 start codes (ITU-T H.264 Annex B) */
  WEFT__H264_AVCC = 2    /* each NAL unit after a 4-byte big-endian length */
} weft__h264_format;

/* Iterates over the NAL units of an access unit in either format. */
typedef struct weft__h264_nal_iter {
  const uint8_t *p;
  size_t len, pos;
  weft__h264_format format;
} weft__h264_nal_iter;
/* @format AUTO resolves here (AUTO is ambiguous for an AVCC frame whose first
 * length is 1 or 256..511: pass the format when it is known). */
void weft__h264_nal_iter_init(weft__h264_nal_iter *it, const uint8_t *frame, size_t len,
                              weft__h264_format format);
/* 1 and the next NAL unit (*nal, *nal_len, a view into the frame), 0 at the
 * end, or WEFT_ERR_SYNTAX: AVCC length past the end, Annex-B bytes before the
 * first start code, or an empty/zero-header NAL unit in AVCC. Empty NAL units
 * between Annex-B start codes are skipped. */
int weft__h264_nal_next(weft__h264_nal_iter *it, const uint8_t **nal, size_t *nal_len);

typedef struct weft__h264_packetizer {
  weft__h264_format format;
  bool no_stap_a; /* send small NAL units one per packet instead of aggregating */
} weft__h264_packetizer;

/* Packetizes one access unit: a NAL unit that fits max_payload goes alone
 * (RFC 6184 §5.6) or, with its small neighbours, into a STAP-A (§5.7.1); a
 * larger one is cut into FU-A fragments (§5.8) of max_payload bytes. The
 * marker is set on the last payload. Errors: WEFT_ERR_SYNTAX (malformed
 * framing, a NAL unit with the forbidden bit or a type 0 / 24..31 that would
 * be read as a packetization type), WEFT_ERR_INVALID_ARG (no NAL unit, NULL,
 * max_payload < 3), or emit()'s error. */
int weft__h264_packetize(const weft__h264_packetizer *p, const weft__media_sink *sink,
                         const uint8_t *frame, size_t len);

/* Stateless check of one H264 RTP payload (RFC 6184 §5.2-5.8, mode 1):
 * forbidden bit, single NAL types 1..23, STAP-A sizes inside the payload and
 * no empty or nested NAL units, FU-A with S and E not both set and a
 * fragmented type 1..23. 0, WEFT_ERR_SYNTAX, or WEFT_ERR_NOT_SUPPORTED for
 * the interleaved-mode types (STAP-B, MTAP16/24, FU-B). */
int weft__h264_validate(const uint8_t *payload, size_t len);

/* ---- Frames out ---------------------------------------------------------- */
typedef struct weft__media_frame {
  const uint8_t *data; /* Opus packet, VP8 frame, or Annex-B H264 access unit */
  size_t len;
  uint32_t timestamp; /* RTP timestamp */
  uint16_t first_seq, last_seq;
  bool keyframe; /* VP8 P bit 0; H264 IDR or SPS present; Opus: always */
} weft__media_frame;

typedef enum weft__media_drop_reason {
  WEFT__DROP_LOSS = 1,   /* a packet of the frame never came (sequence gap) */
  WEFT__DROP_INCOMPLETE, /* no frame start, or a new timestamp before the marker */
  WEFT__DROP_MALFORMED,  /* a payload broke the codec's rules (e.g. FU-A without start) */
  WEFT__DROP_TOO_BIG     /* the frame outgrew max_frame */
} weft__media_drop_reason;

/* Called for each whole frame; frame->data is valid only during the call
 * (the assembler reuses the buffer). A non-zero return is passed back by
 * weft__media_assembler_push (the frame is consumed either way). */
typedef int (*weft__media_frame_fn)(void *ctx, const weft__media_frame *frame);
/* Called once per dropped frame (so the owner can ask for a keyframe: RFC
 * 4585 PLI). @timestamp is the dropped frame's RTP timestamp when known. */
typedef void (*weft__media_drop_fn)(void *ctx, uint32_t timestamp, weft__media_drop_reason why);

typedef struct weft__media_assembler_stats {
  uint64_t packets, frames, dropped, malformed, late, duplicates, lost_packets;
} weft__media_assembler_stats;

typedef struct weft__media_assembler weft__media_assembler;

typedef struct weft__media_assembler_config {
  weft__media_codec codec;
  size_t max_frame; /* 0 = WEFT__MEDIA_MAX_FRAME_DEFAULT */
  /* Packets held while a missing one may still arrive (0 = none: a gap is a
   * loss at once; at most WEFT__MEDIA_MAX_REORDER). */
  unsigned reorder;
  weft__media_frame_fn on_frame;
  weft__media_drop_fn on_drop; /* may be NULL */
  void *ctx;
} weft__media_assembler_config;

/* NULL with WEFT_ERR_INVALID_ARG on a bad config. Free with _free. */
weft__media_assembler *weft__media_assembler_new(const weft__media_assembler_config *cfg);
void weft__media_assembler_free(weft__media_assembler *a);

/* Feeds one RTP payload. Payloads that fail the codec's stateless check are
 * refused at once (WEFT_ERR_SYNTAX / NOT_SUPPORTED, or WEFT_ERR_TOO_BIG past
 * WEFT__MEDIA_MAX_PAYLOAD; counted in malformed)
 * and then count as lost; later, in-order payloads are processed and may
 * call on_frame/on_drop before this returns. The first packet sets the
 * sequence origin (nothing before it is waited for). Packets older than the next
 * expected one are dropped (late/duplicate), a packet more than `reorder`
 * ahead flushes the window (the missing ones are lost). Returns 0, that
 * error, or the first non-zero on_frame return. */
int weft__media_assembler_push(weft__media_assembler *a, uint16_t seq, uint32_t timestamp,
                               bool marker, const uint8_t *payload, size_t len);
/* Stops waiting for missing packets: everything held in the reorder window
 * is processed as if the gaps were lost (the pc layer calls this from a
 * timer, e.g. after a NACK round trip). Returns as _push. */
int weft__media_assembler_flush(weft__media_assembler *a);
/* Forgets all state (e.g. on an SSRC change); buffers are kept. */
void weft__media_assembler_reset(weft__media_assembler *a);
void weft__media_assembler_get_stats(const weft__media_assembler *a,
                                     weft__media_assembler_stats *out);

/* Whether one payload begins a keyframe (for a forwarder that waits for one
 * after a PLI, or counts them): VP8 S=1, PID=0 with P=0; H264 an IDR or SPS
 * unit, alone, in a STAP-A or as an FU-A start; Opus any valid payload.
 * Malformed payloads are not keyframes. */
bool weft__media_payload_starts_keyframe(weft__media_codec codec, const uint8_t *payload,
                                         size_t len);

#endif
