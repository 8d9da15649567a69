/*
 * jsep/ — the WebRTC view of SDP: offer/answer rules of JSEP (RFC 9429, ex
 * RFC 8829) for data channels (RFC 8841 SCTP over DTLS), ICE attributes
 * (RFC 8839), DTLS setup/fingerprint (RFC 8842, RFC 8122) and BUNDLE
 * (RFC 8843). Audio/video sections are parsed and kept (their kind, mid and
 * transport) and rejected in answers; the raw sections stay reachable through
 * desc->sdp->media[section->index] for the media layer.
 *
 * Pure code on top of sdp/; no I/O, any thread, one object at a time.
 * Strings returned are g_malloc'd (g_free).
 */
#ifndef WEFT_JSEP_H
#define WEFT_JSEP_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include <weft/weft.h>

#include "sdp/sdp.h"

typedef enum weft__setup {
  WEFT__SETUP_NONE = 0, /* absent: RFC 4145 §4.1 default is active */
  WEFT__SETUP_ACTPASS,
  WEFT__SETUP_ACTIVE,
  WEFT__SETUP_PASSIVE
} weft__setup;

typedef enum weft__media_kind {
  WEFT__KIND_APPLICATION = 0,
  WEFT__KIND_AUDIO,
  WEFT__KIND_VIDEO,
  WEFT__KIND_OTHER
} weft__media_kind;

typedef struct weft__jsep_section { /* one m= section, WebRTC view */
  weft__media_kind kind;
  char *mid;        /* NULL if absent */
  bool rejected;    /* port 0 and not a=bundle-only (RFC 8843 §6) */
  bool bundle_only; /* a=bundle-only */
  bool is_sctp;     /* UDP/DTLS/SCTP, TCP/DTLS/SCTP or DTLS/SCTP (legacy) with webrtc-datachannel */
  bool legacy_sctpmap;                 /* "DTLS/SCTP 5000" + a=sctpmap form */
  char *ice_ufrag, *ice_pwd;           /* effective: media, else session, else bundle tag */
  char *fingerprint_alg, *fingerprint; /* effective; alg lowercased ("sha-256"), hex as given */
  weft__setup setup;                   /* effective; NONE if absent everywhere */
  uint16_t sctp_port;    /* a=sctp-port, or the sctpmap number; 5000 default if is_sctp */
  uint32_t sctp_streams; /* legacy a=sctpmap stream count, 0 if none */
  bool has_max_message_size;
  uint64_t max_message_size; /* a=max-message-size (0 = any size, RFC 8841 §6) */
  GPtrArray *candidates;     /* char* "candidate:..." (no "a="), this section's own */
  bool end_of_candidates;    /* media- or session-level a=end-of-candidates */
  guint index;               /* position: desc->sdp->media[index] */
  int line;                  /* SDP line of the m= line */
} weft__jsep_section;

typedef struct weft__jsep_desc {
  weft_sdp_type type;
  weft__sdp *sdp;         /* the parsed SDP, kept */
  GPtrArray *sections;    /* weft__jsep_section*, in m-line order */
  GPtrArray *bundle_mids; /* char*, from a=group:BUNDLE (first group); empty if none */
  bool ice_lite;
  bool trickle; /* a=ice-options:trickle (session or any section) */
} weft__jsep_desc;

/* Parses + validates a remote (or local, app-provided) description of @type
 * (OFFER, PRANSWER or ANSWER; others: INVALID_ARG). Errors, each naming the
 * SDP line:
 * - SYNTAX: from the parser; malformed fingerprint hex (or wrong length for
 *   the hash), a=sctp-port / a=max-message-size / a=setup not parseable;
 * - INVALID_ACCESS: a non-rejected section (bundled sections may inherit from
 *   the bundle tag section) without ice-ufrag/ice-pwd or without a
 *   fingerprint; an ice-ufrag/pwd of illegal length/charset (RFC 8839 §5.4:
 *   ufrag 4-256, pwd 22-256 ice-chars); setup invalid for the type (offer:
 *   actpass|active|passive; answer/pranswer: active|passive); a duplicate
 *   mid; a BUNDLE mid that names no section; an offer whose m-sections are
 *   all rejected;
 * - NOT_SUPPORTED: no fingerprint with a hash among sha-1/224/256/384/512
 *   ("a=fingerprint: unknown hash 'md2' (SDP line 9)").
 * Descriptions without any m-section (Chromium's empty offer) and answers
 * rejecting every section are valid (RFC 9429 §5.3.1). */
int weft__jsep_parse(const char *sdp_text, weft_sdp_type type, weft__jsep_desc **out);
void weft__jsep_desc_free(weft__jsep_desc *d);
/* The section that carries data channels (first non-rejected is_sctp
 * section), or NULL. */
const weft__jsep_section *weft__jsep_data_section(const weft__jsep_desc *d);
/* The section with @mid, or NULL. */
const weft__jsep_section *weft__jsep_find_mid(const weft__jsep_desc *d, const char *mid);
/* The section describing the one transport weft uses (RFC 8843 §7): the
 * BUNDLE tag (first live section of the group), else the first live
 * section, else NULL. */
const weft__jsep_section *weft__jsep_transport_section(const weft__jsep_desc *d);
/* Whether @mid is in the description's BUNDLE group. */
bool weft__jsep_in_bundle(const weft__jsep_desc *d, const char *mid);

struct weft__media_desc;
/* One m-section of a local description (offers and answers with media). */
typedef struct weft__jsep_msection {
  bool is_data;                         /* the data section (mid: data_mid) */
  const struct weft__media_desc *media; /* audio/video model (media.c); its port 0 = rejected */
} weft__jsep_msection;

typedef struct weft__jsep_local { /* what weft puts in its own description */
  uint64_t session_id, session_version;
  const char *ice_ufrag, *ice_pwd;
  const char *fingerprint;   /* "sha-256 AB:CD:.." */
  weft__setup setup;         /* offers: ACTPASS; answers: ACTIVE (weft is DTLS client whenever it
                                can, DESIGN §4) unless the offer said active → PASSIVE */
  uint16_t sctp_port;        /* 5000; 0 means 5000 */
  uint64_t max_message_size; /* 262144; written as given (0 = "any size") */
  bool include_data;         /* offer has a data section */
  const char *data_mid;      /* "0" in offers; NULL means "0" */
  /* With media: every m-section in order (then include_data is ignored).
   * Offers: the sections to write, BUNDLE over every live one. Answers: one
   * entry per offered section; an entry with neither is_data nor media
   * rejects that section. */
  const weft__jsep_msection *sections;
  size_t n_sections;
} weft__jsep_local;

/* Offer: v=0, o=- <id> <ver> IN IP4 127.0.0.1, s=-, t=0 0,
 * a=group:BUNDLE <mid>, a=msid-semantic: WMS, a=ice-options:trickle; then
 * "m=application 9 UDP/DTLS/SCTP webrtc-datachannel", c=IN IP4 0.0.0.0,
 * a=ice-ufrag, a=ice-pwd, a=fingerprint, a=setup, a=mid, a=sctp-port,
 * a=max-message-size. l->setup NONE is written as actpass. With
 * include_data false: a valid session with no m-line and no group.
 * NULL + INVALID_ARG if a credential is missing. */
char *weft__jsep_create_offer(const weft__jsep_local *l);
/* Answer to a parsed remote offer: the same m-lines in the same order with
 * the same mids (RFC 9429 §5.3.1). The data section (weft__jsep_data_section)
 * is accepted in the offer's form (legacy "DTLS/SCTP <port>" + a=sctpmap in,
 * legacy out; modern in, modern out); every other section is rejected: port
 * 0, same proto and formats, c= and a=mid only. a=group:BUNDLE lists the
 * accepted mid, only if the offer bundled it. setup from l->setup (NONE is
 * written as active). NULL + INVALID_ARG on missing arguments only. */
char *weft__jsep_create_answer(const weft__jsep_desc *offer, const weft__jsep_local *l);
/* Returns a copy of @sdp_text (re-serialized) with @candidates ("candidate:.."
 * or "a=candidate:..") added to the section with @mid (NULL: the first one);
 * when that section is in the BUNDLE group, to the group's first section
 * instead (RFC 8843 §10: one ICE transport per group, described by the
 * tagged section). If @end, a=end-of-candidates is added there after the
 * candidates. Existing candidates are kept, duplicates and "" skipped. A
 * description without m-sections is returned unchanged. NULL + SYNTAX on a
 * bad SDP, a candidate not starting with "candidate:" or holding control
 * characters; NULL + INVALID_ARG for an unknown mid. */
char *weft__jsep_add_candidates(const char *sdp_text, const char *mid,
                                const char *const *candidates, size_t n, bool end);
const char *weft__setup_to_string(weft__setup s);

/* ---- Media sections (media.c) ---------------------------------------------
 * The RTP model of one audio/video m-section (RFC 8866, RFC 8829 §5, RFC 3264,
 * RFC 4585, RFC 5576, RFC 8285, RFC 8830, RFC 4588, RFC 5761, RFC 5506):
 * parse it into a weft__media_desc, answer a remote offer against local
 * capabilities, build a local offer, and write a model back as SDP. Only the
 * media attributes: transport ones (ICE, DTLS, candidates, BUNDLE) stay with
 * the functions above. Internal; not yet called by them or by pc/.
 *
 * Parse rule for malformed input: an attribute weft uses (rtpmap, fmtp,
 * rtcp-fb, extmap, ssrc, ssrc-group:FID, msid, direction) that cannot be
 * parsed is WEFT_ERR_SYNTAX naming the SDP line; an attribute that parses but
 * names a payload type absent from the m= line is ignored (RFC 8866 §6.6);
 * unknown attributes and unknown ssrc attributes / group semantics are
 * ignored. */

typedef enum weft__direction { /* RFC 8866 §6.7; default sendrecv */
                               WEFT__DIR_SENDRECV = 0,
                               WEFT__DIR_SENDONLY,
                               WEFT__DIR_RECVONLY,
                               WEFT__DIR_INACTIVE
} weft__direction;

/* Bounds for one section (a hostile peer cannot make us grow without limit;
 * Chromium's video section has 23 formats, 5 fb per codec, 7 extmaps). */
enum {
  WEFT__MEDIA_MAX_FB = 16,      /* a=rtcp-fb per payload type */
  WEFT__MEDIA_MAX_EXTMAPS = 32, /* a=extmap per section */
  WEFT__MEDIA_MAX_SSRCS = 64,   /* distinct a=ssrc per section */
  WEFT__MEDIA_MAX_FID = 32      /* a=ssrc-group:FID per section */
};

typedef struct weft__rtp_codec {
  uint8_t pt;          /* 0-127 */
  char *name;          /* encoding name as given ("opus", "VP8", "rtx") */
  uint32_t clock_rate; /* Hz */
  uint8_t channels;    /* from rtpmap; 0 if absent (= 1, RFC 8866 §6.6) */
  char *fmtp;          /* a=fmtp parameters, NULL if none */
  GPtrArray *rtcp_fb;  /* char*: "nack", "nack pli", "ccm fir", "transport-cc" */
  int apt;             /* rtx (RFC 4588 §8.6): the apt= payload type; -1 otherwise */
} weft__rtp_codec;

typedef struct weft__rtp_extmap { /* RFC 8285 §8 */
  uint16_t id;                    /* 1-255 */
  bool has_direction;
  weft__direction direction;
  char *uri;
} weft__rtp_extmap;

typedef struct weft__rtp_ssrc { /* RFC 5576 §4.1 */
  uint32_t ssrc;
  char *cname; /* a=ssrc:<n> cname:, NULL if none */
  char *msid;  /* a=ssrc:<n> msid: value (legacy Plan B/Chromium), NULL if none */
} weft__rtp_ssrc;

struct weft__media_desc {
  weft__media_kind kind; /* AUDIO or VIDEO (OTHER for other RTP media) */
  uint16_t port;         /* 0: rejected or bundle-only */
  bool rejected;         /* port 0 without a=bundle-only (RFC 8843 §6) */
  bool proto_ok;         /* UDP/TLS/RTP/SAVPF or TCP/DTLS/RTP/SAVPF (RFC 5764 §8) */
  char *proto;
  char *mid; /* NULL if absent */
  weft__direction direction;
  bool rtcp_mux, rtcp_mux_only, rtcp_rsize, bundle_only;
  GPtrArray *codecs;  /* weft__rtp_codec*, in m= line order; formats with neither
                         a=rtpmap nor a static assignment (RFC 3551 §6) are left out */
  GPtrArray *extmaps; /* weft__rtp_extmap*, in order */
  GPtrArray *ssrcs;   /* weft__rtp_ssrc*, first-seen order */
  GArray *fid;        /* uint32 pairs (primary, rtx): a=ssrc-group:FID (RFC 5576 §4.2) */
  char *msid_stream;  /* a=msid (RFC 8830 §2): stream id ("-" = none), NULL if absent */
  char *msid_track;   /* its appdata (track id), NULL if absent */
};
typedef struct weft__media_desc weft__media_desc;

/* Parses @m (an audio/video/other RTP m-section of a parsed SDP). Errors:
 * INVALID_ARG (NULL, or not an RTP profile); SYNTAX with the SDP line: a
 * format that is not a payload type 0-127; a=rtpmap not
 * "<pt> <name>/<rate>[/<channels>]" or given twice for one pt; a=fmtp /
 * a=rtcp-fb without a numeric pt (or "*"); a=fmtp twice for one pt; rtx
 * apt= not a payload type; a=extmap id not 1-255, duplicated, bad direction
 * or no URI; a=ssrc not a uint32; a=ssrc-group:FID without exactly two
 * uint32; a=msid empty; two different direction attributes; a bound above
 * exceeded. */
int weft__media_parse(const weft__sdp_media *m, weft__media_desc **out);
void weft__media_desc_free(weft__media_desc *d);
const weft__rtp_codec *weft__media_find_pt(const weft__media_desc *d, unsigned pt);
const char *weft__direction_to_string(weft__direction d);

/* The codecs weft can send and receive (RFC 7587 Opus, RFC 7741 VP8, RFC
 * 6184 H264 packetization-mode 1, RFC 3551 PCMU/PCMA). Bit flags. */
typedef enum weft__codec_id {
  WEFT__CID_OPUS = 1u << 0,
  WEFT__CID_PCMU = 1u << 1,
  WEFT__CID_PCMA = 1u << 2,
  WEFT__CID_VP8 = 1u << 3,
  WEFT__CID_H264 = 1u << 4
} weft__codec_id;

/* What the local side wants for one section (offers and answers). */
typedef struct weft__media_local {
  weft__media_kind kind;     /* AUDIO or VIDEO (offers) */
  const char *mid;           /* offers; answers take the offer's mid */
  weft__direction direction; /* what the local side wants: send and/or receive */
  /* Offers: the codecs in preference order (any of the table of this kind);
   * n_prefs 0 = the whole table for the kind (Opus, PCMU, PCMA / VP8, H264).
   * Answers: the set supported (order irrelevant, the offer's order wins);
   * n_prefs 0 = the whole table. */
  const weft__codec_id *prefs;
  size_t n_prefs;
  uint32_t h264_profile_level_id; /* 0 = 0x42e01f (constrained baseline 3.1) */
  bool transport_cc, remb;        /* rtcp-fb transport-cc / goog-remb supported */
  bool rtx;           /* RTX (RFC 4588) supported: offered for video; kept in answers when the offer
                         lists the rtx format after its apt codec with the same clock rate */
  uint8_t mid_ext_id; /* offers: sdes:mid extmap id, 0 = 4 (Chromium's) */
  /* Sending side (written only when direction includes send): */
  uint32_t ssrc, rtx_ssrc;              /* 0 = none; rtx_ssrc needs rtx; a=ssrc lines need cname */
  const char *cname;                    /* RFC 7022; NULL = no a=ssrc lines */
  const char *msid_stream, *msid_track; /* NULL = no a=msid */
} weft__media_local;

/* RFC 3264 §6.1: the answer's direction for an offered @offer and a local
 * wish @local (send only if the offerer receives, and so on). */
weft__direction weft__direction_answer(weft__direction offer, weft__direction local);

/* Answer model for a remote @offer section (RFC 8829 §5.3.1, RFC 3264 §6.1):
 * same mid, the offered payload types of the supported codecs in the
 * offer's order (H264 only with packetization-mode=1 and the same profile as
 * l->h264_profile_level_id, level min of both, RFC 6184 §8.2.2), rtx kept
 * only if l->rtx (and its apt kept), rtcp-fb intersected with {nack, nack
 * pli, ccm fir} (+ transport-cc, goog-remb per flags), only the sdes:mid
 * extmap with the offer's id, rtcp-mux (+rsize if offered), direction by
 * weft__direction_answer, local ssrc/msid if it sends. The answer is
 * rejected (port 0, no codec) when the offer is rejected, has a
 * non-SAVPF profile, lacks a=rtcp-mux (RFC 8829 §5.3.1 — weft does no
 * separate RTCP), or no codec is in common. *out is a new model (port 9, or
 * 0 when rejected). INVALID_ARG on NULL. */
int weft__media_answer(const weft__media_desc *offer, const weft__media_local *l,
                       weft__media_desc **out);

/* Offer model for a local section (RFC 8829 §5.2.1): payload types PCMU 0,
 * PCMA 8 (RFC 3551), Opus 111 (as Chromium), others (and rtx) from 96-127,
 * never colliding; rtcp-fb nack, nack pli, ccm fir on video (+ transport-cc,
 * goog-remb per flags), the sdes:mid extmap, rtcp-mux, rtcp-rsize, ssrc lines.
 * INVALID_ARG: NULL, no mid, kind not AUDIO/VIDEO, a preference of the other
 * kind or repeated. */
int weft__media_offer(const weft__media_local *l, weft__media_desc **out);

/* Writes @d as a new m-section: "m=<kind> <port> <proto> <pts>" (rejected:
 * port 0 and format "0" if there is no codec), c=IN IP4 0.0.0.0, a=mid, then
 * (unless rejected) extmap, direction, msid, rtcp-mux, rtcp-mux-only,
 * rtcp-rsize, rtpmap/rtcp-fb/fmtp per codec, ssrc-group:FID, ssrc
 * cname/msid. The caller adds the transport attributes. */
weft__sdp_media *weft__media_write(const weft__media_desc *d);

/* H264 profile-level-id helpers (RFC 6184 §8.1): the profile class of a
 * 24-bit profile-level-id (so 42e01f and 4de01f are both constrained
 * baseline) and its level in a comparable unit (level 1b sorts between 1
 * and 1.1). Returns false for an unknown profile. */
bool weft__h264_profile(uint32_t plid, int *profile, int *level);

#endif
