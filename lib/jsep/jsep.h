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

#endif
