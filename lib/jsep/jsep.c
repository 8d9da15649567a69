/* JSEP offer/answer for data channels on top of sdp/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "jsep/jsep.h"

/* RFC 8122 §5 / IANA "Hash Function Textual Names": the hashes a
 * fingerprint may use, with their digest length. md2/md5 are not accepted
 * (RFC 8122 §5: SHA-256 or stronger SHOULD, SHA-1 still seen). Ordered from
 * weakest to strongest. */
static const struct {
  const char *name;
  size_t len;
} hashes[] = {{"sha-1", 20}, {"sha-224", 28}, {"sha-256", 32}, {"sha-384", 48}, {"sha-512", 64}};

const char *weft__setup_to_string(weft__setup s) {
  switch (s) {
  case WEFT__SETUP_ACTPASS:
    return "actpass";
  case WEFT__SETUP_ACTIVE:
    return "active";
  case WEFT__SETUP_PASSIVE:
    return "passive";
  case WEFT__SETUP_NONE:
    break;
  }
  return "none";
}

/* ---- Parse -------------------------------------------------------------- */

static void section_free(gpointer p) {
  weft__jsep_section *s = p;
  g_free(s->mid);
  g_free(s->ice_ufrag);
  g_free(s->ice_pwd);
  g_free(s->fingerprint_alg);
  g_free(s->fingerprint);
  if (s->candidates)
    g_ptr_array_unref(s->candidates);
  g_free(s);
}

void weft__jsep_desc_free(weft__jsep_desc *d) {
  if (!d)
    return;
  weft__sdp_free(d->sdp);
  if (d->sections)
    g_ptr_array_unref(d->sections);
  if (d->bundle_mids)
    g_ptr_array_unref(d->bundle_mids);
  g_free(d);
}

const weft__jsep_section *weft__jsep_data_section(const weft__jsep_desc *d) {
  if (!d)
    return NULL;
  for (guint i = 0; i < d->sections->len; i++) {
    const weft__jsep_section *s = g_ptr_array_index(d->sections, i);
    if (s->is_sctp && !s->rejected)
      return s;
  }
  return NULL;
}

const weft__jsep_section *weft__jsep_find_mid(const weft__jsep_desc *d, const char *mid) {
  if (!d || !mid)
    return NULL;
  for (guint i = 0; i < d->sections->len; i++) {
    const weft__jsep_section *s = g_ptr_array_index(d->sections, i);
    if (s->mid && strcmp(s->mid, mid) == 0)
      return s;
  }
  return NULL;
}

const weft__jsep_section *weft__jsep_transport_section(const weft__jsep_desc *d) {
  if (!d)
    return NULL;
  for (guint b = 0; b < d->bundle_mids->len; b++) {
    const weft__jsep_section *s = weft__jsep_find_mid(d, g_ptr_array_index(d->bundle_mids, b));
    if (s && !s->rejected && !s->bundle_only)
      return s;
  }
  for (guint i = 0; i < d->sections->len; i++) {
    const weft__jsep_section *s = g_ptr_array_index(d->sections, i);
    if (!s->rejected)
      return s;
  }
  return NULL;
}

/* Where each transport attribute of a section comes from, before
 * inheritance; pointers into the sdp tree. */
typedef struct raw_transport {
  const weft__sdp_attr *ufrag, *pwd, *setup;
  const GPtrArray *fp_attrs; /* the attrs array holding the effective fingerprints */
} raw_transport;

static bool has_token(const char *list, const char *tok) {
  bool found = false;
  char **t = g_strsplit_set(list, " \t", -1);
  for (char **p = t; *p && !found; p++)
    found = strcmp(*p, tok) == 0;
  g_strfreev(t);
  return found;
}

static bool attrs_have_fingerprint(const GPtrArray *attrs) {
  return weft__sdp_attr_find(attrs, "fingerprint") != NULL;
}

/* Media level wins over session level (RFC 8839 §5.4, RFC 8122 §5,
 * RFC 8842 §5.3: each may appear at either level). */
static const weft__sdp_attr *media_or_session(const weft__sdp *sdp, const weft__sdp_media *m,
                                              const char *name) {
  const weft__sdp_attr *a = weft__sdp_attr_find(m->attrs, name);
  return a ? a : weft__sdp_attr_find(sdp->attrs, name);
}

static int parse_u64_attr(const weft__sdp_attr *a, uint64_t max, uint64_t *out) {
  uint64_t v;
  if (!a->value || !weft__sdp_parse_u64(a->value, &v) || v > max)
    return weft__error(WEFT_ERR_SYNTAX, "a=%s: '%s' is not a number in 0-%llu (SDP line %d)",
                       a->name, a->value ? a->value : "", (unsigned long long)max, a->line);
  *out = v;
  return 0;
}

/* Fills kind, mid, rejected, the SCTP fields and the candidates. */
static int section_basics(const weft__sdp *sdp, const weft__sdp_media *m, weft__jsep_section *s) {
  if (strcmp(m->media, "application") == 0)
    s->kind = WEFT__KIND_APPLICATION;
  else if (strcmp(m->media, "audio") == 0)
    s->kind = WEFT__KIND_AUDIO;
  else if (strcmp(m->media, "video") == 0)
    s->kind = WEFT__KIND_VIDEO;
  else
    s->kind = WEFT__KIND_OTHER;
  s->mid = g_strdup(weft__sdp_media_mid(m));
  s->line = m->line;
  s->bundle_only = weft__sdp_attr_find(m->attrs, "bundle-only") != NULL;
  /* RFC 8843 §6: port 0 + a=bundle-only is a live section waiting for the
   * BUNDLE transport, not a rejected one. */
  s->rejected = m->port == 0 && !s->bundle_only;
  s->candidates = g_ptr_array_new_with_free_func(g_free);

  if (s->kind == WEFT__KIND_APPLICATION) {
    if ((strcmp(m->proto, "UDP/DTLS/SCTP") == 0 || strcmp(m->proto, "TCP/DTLS/SCTP") == 0) &&
        weft__sdp_media_has_format(m, "webrtc-datachannel")) {
      /* RFC 8841 §4.1 (modern form); §5: a=sctp-port, 5000 when absent. */
      s->is_sctp = true;
      s->sctp_port = 5000;
      const weft__sdp_attr *a = weft__sdp_attr_find(m->attrs, "sctp-port");
      uint64_t v;
      if (a) {
        if (parse_u64_attr(a, 65535, &v) < 0)
          return WEFT_ERR_SYNTAX;
        s->sctp_port = (uint16_t)v;
      }
    } else if (strcmp(m->proto, "DTLS/SCTP") == 0) {
      /* draft-ietf-mmusic-sctp-sdp-05 (pre-Firefox-63, aiortc): the format
       * is the SCTP port, described by a=sctpmap:<port> webrtc-datachannel
       * <streams>. */
      guint pos = 0;
      const weft__sdp_attr *a;
      while ((a = weft__sdp_attr_next(m->attrs, "sctpmap", &pos))) {
        char **t = g_strsplit(a->value ? a->value : "", " ", -1);
        guint n = g_strv_length(t);
        uint64_t port = 0, streams = 0;
        bool ok = n >= 2 && strcmp(t[1], "webrtc-datachannel") == 0 &&
                  weft__sdp_media_has_format(m, t[0]);
        if (ok && (!weft__sdp_parse_u64(t[0], &port) || port > 65535 ||
                   (n >= 3 && (!weft__sdp_parse_u64(t[2], &streams) || streams > 65535)))) {
          g_strfreev(t);
          return weft__error(
              WEFT_ERR_SYNTAX,
              "a=sctpmap: expected '<port> webrtc-datachannel <streams>' (SDP line %d)", a->line);
        }
        g_strfreev(t);
        if (ok) {
          s->is_sctp = true;
          s->legacy_sctpmap = true;
          s->sctp_port = (uint16_t)port;
          s->sctp_streams = (uint32_t)streams;
          break;
        }
      }
    }
    if (s->is_sctp) {
      const weft__sdp_attr *a = weft__sdp_attr_find(m->attrs, "max-message-size");
      if (a) {
        if (parse_u64_attr(a, UINT64_MAX, &s->max_message_size) < 0)
          return WEFT_ERR_SYNTAX;
        s->has_max_message_size = true;
      }
    }
  }

  guint pos = 0;
  const weft__sdp_attr *a;
  while ((a = weft__sdp_attr_next(m->attrs, "candidate", &pos)))
    g_ptr_array_add(s->candidates, g_strconcat("candidate:", a->value ? a->value : "", NULL));
  /* RFC 8840 §8.2: a=end-of-candidates at session level covers every
   * section. */
  s->end_of_candidates = weft__sdp_attr_find(m->attrs, "end-of-candidates") ||
                         weft__sdp_attr_find(sdp->attrs, "end-of-candidates");
  return 0;
}

static bool is_ice_chars(const char *v) {
  for (; *v; v++) {
    unsigned char c = (unsigned char)*v;
    if (!g_ascii_isalnum(c) && c != '+' && c != '/')
      return false;
  }
  return true;
}

/* RFC 8839 §5.4: ice-ufrag 4-256 ice-chars, ice-pwd 22-256. */
static int check_ice(const weft__sdp_attr *a, size_t min) {
  const char *v = a->value ? a->value : "";
  size_t n = strlen(v);
  if (n < min || n > 256 || !is_ice_chars(v))
    return weft__error(WEFT_ERR_INVALID_ACCESS,
                       "a=%s: must be %zu-256 characters of [A-Za-z0-9+/], got %zu (SDP line %d)",
                       a->name, min, n, a->line);
  return 0;
}

static int hex_val(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = (char)g_ascii_tolower(c);
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* "AB:CD:..." with exactly @bytes bytes (RFC 8122 §5 fingerprint syntax). */
static bool fingerprint_hex_ok(const char *h, size_t bytes) {
  if (strlen(h) != bytes * 3 - 1)
    return false;
  for (size_t i = 0; i < bytes; i++) {
    const char *p = h + i * 3;
    if (hex_val(p[0]) < 0 || hex_val(p[1]) < 0)
      return false;
    if (i + 1 < bytes && p[2] != ':')
      return false;
  }
  return true;
}

/* Picks the strongest supported fingerprint among @attrs (RFC 8122 §5:
 * several may be given, one per hash). Returns 1 with alg and hex set, 0 if
 * there is none, or an error. */
static int pick_fingerprint(const GPtrArray *attrs, char **alg, char **hex) {
  const weft__sdp_attr *a, *unknown = NULL;
  char *unknown_name = NULL;
  int best = -1;
  guint pos = 0;
  *alg = *hex = NULL;
  while ((a = weft__sdp_attr_next(attrs, "fingerprint", &pos))) {
    char **t = g_strsplit_set(a->value ? a->value : "", " \t", -1);
    char *tok[2] = {NULL, NULL};
    guint n = 0;
    for (char **p = t; *p; p++)
      if (**p) {
        if (n < 2)
          tok[n] = *p;
        n++;
      }
    if (n != 2) {
      g_strfreev(t);
      g_free(unknown_name);
      return weft__error(WEFT_ERR_SYNTAX, "a=fingerprint: expected '<hash> <hex>' (SDP line %d)",
                         a->line);
    }
    char *name = g_ascii_strdown(tok[0], -1);
    int h = -1;
    for (int i = 0; i < (int)WEFT__ARRAY_LEN(hashes); i++)
      if (strcmp(name, hashes[i].name) == 0)
        h = i;
    if (h < 0) {
      if (!unknown) {
        unknown = a;
        unknown_name = g_strdup(tok[0]);
      }
    } else if (!fingerprint_hex_ok(tok[1], hashes[h].len)) {
      g_free(name);
      g_strfreev(t);
      g_free(unknown_name);
      return weft__error(WEFT_ERR_SYNTAX,
                         "a=fingerprint: %s needs %zu hex bytes separated by ':' (SDP line %d)",
                         hashes[h].name, hashes[h].len, a->line);
    } else if (h > best) {
      best = h;
      g_free(*alg);
      g_free(*hex);
      *alg = g_strdup(hashes[h].name);
      *hex = g_strdup(tok[1]);
    }
    g_free(name);
    g_strfreev(t);
  }
  if (best >= 0) {
    g_free(unknown_name);
    return 1;
  }
  if (unknown) {
    int rc = weft__error(WEFT_ERR_NOT_SUPPORTED, "a=fingerprint: unknown hash '%s' (SDP line %d)",
                         unknown_name, unknown->line);
    g_free(unknown_name);
    return rc;
  }
  return 0;
}

static int parse_setup(const weft__sdp_attr *a, weft_sdp_type type, weft__setup *out) {
  const char *v = a->value ? a->value : "";
  if (strcmp(v, "actpass") == 0)
    *out = WEFT__SETUP_ACTPASS;
  else if (strcmp(v, "active") == 0)
    *out = WEFT__SETUP_ACTIVE;
  else if (strcmp(v, "passive") == 0)
    *out = WEFT__SETUP_PASSIVE;
  else if (strcmp(v, "holdconn") == 0)
    /* RFC 8842 §5.3: holdconn is not used with DTLS-SRTP/SCTP. */
    return weft__error(WEFT_ERR_INVALID_ACCESS, "a=setup:holdconn is not allowed (SDP line %d)",
                       a->line);
  else
    return weft__error(WEFT_ERR_SYNTAX, "a=setup: unknown value '%s' (SDP line %d)", v, a->line);
  /* RFC 8842 §5.3 / RFC 4145 §4.1: the answerer picks a role, so "actpass"
   * in an answer leaves the DTLS roles undecided. Offers should say actpass
   * but active/passive are accepted (older stacks). */
  if (type != WEFT_SDP_OFFER && *out == WEFT__SETUP_ACTPASS)
    return weft__error(WEFT_ERR_INVALID_ACCESS,
                       "a=setup:actpass is not allowed in an %s (SDP line %d)",
                       type == WEFT_SDP_ANSWER ? "answer" : "pranswer", a->line);
  return 0;
}

static int parse_session(weft__jsep_desc *d) {
  const weft__sdp *sdp = d->sdp;
  /* RFC 8445 §5.1.1 / RFC 8839 §5.3: a=ice-lite is session-level only. */
  d->ice_lite = weft__sdp_attr_find(sdp->attrs, "ice-lite") != NULL;
  const char *opts = weft__sdp_attr_get(sdp->attrs, "ice-options");
  d->trickle = opts && has_token(opts, "trickle");
  for (guint i = 0; i < sdp->media->len && !d->trickle; i++) {
    const weft__sdp_media *m = g_ptr_array_index(sdp->media, i);
    opts = weft__sdp_attr_get(m->attrs, "ice-options");
    d->trickle = opts && has_token(opts, "trickle");
  }

  /* RFC 8843 §7: a=group:BUNDLE <mid>...; only the first group is used,
   * weft runs a single transport. */
  guint pos = 0;
  const weft__sdp_attr *g;
  while ((g = weft__sdp_attr_next(sdp->attrs, "group", &pos))) {
    char **t = g_strsplit_set(g->value ? g->value : "", " \t", -1);
    if (t[0] && strcmp(t[0], "BUNDLE") == 0) {
      for (char **p = t + 1; *p; p++) {
        /* A repeated mid adds nothing; skipping it before the search keeps
         * a long line of repetitions cheap (bundle_mids stays within the
         * m-section count, as every other mid names a distinct section). */
        if (!**p || weft__jsep_in_bundle(d, *p))
          continue;
        if (!weft__sdp_find_mid(sdp, *p, NULL)) {
          int rc =
              weft__error(WEFT_ERR_INVALID_ACCESS,
                          "a=group:BUNDLE: mid '%s' names no m-section (SDP line %d)", *p, g->line);
          g_strfreev(t);
          return rc;
        }
        g_ptr_array_add(d->bundle_mids, g_strdup(*p));
      }
      g_strfreev(t);
      break;
    }
    g_strfreev(t);
  }
  return 0;
}

bool weft__jsep_in_bundle(const weft__jsep_desc *d, const char *mid) {
  if (!mid)
    return false;
  for (guint i = 0; i < d->bundle_mids->len; i++)
    if (strcmp(g_ptr_array_index(d->bundle_mids, i), mid) == 0)
      return true;
  return false;
}

static int parse_sections(weft__jsep_desc *d) {
  const weft__sdp *sdp = d->sdp;
  guint n = sdp->media->len;
  raw_transport *raw = g_new0(raw_transport, n ? n : 1);
  int rc = 0;

  for (guint i = 0; i < n && rc == 0; i++) {
    const weft__sdp_media *m = g_ptr_array_index(sdp->media, i);
    weft__jsep_section *s = g_new0(weft__jsep_section, 1);
    s->index = i;
    g_ptr_array_add(d->sections, s);
    rc = section_basics(sdp, m, s);
    if (rc < 0)
      break;
    /* RFC 9429 §5.2.1 / RFC 5888 §4: a mid identifies one m-section. */
    for (guint j = 0; j < i && s->mid; j++) {
      const weft__jsep_section *o = g_ptr_array_index(d->sections, j);
      if (o->mid && strcmp(o->mid, s->mid) == 0) {
        rc = weft__error(WEFT_ERR_INVALID_ACCESS,
                         "a=mid:%s is used by two m-sections (SDP line %d, first at line %d)",
                         s->mid, s->line, o->line);
        break;
      }
    }
    raw[i].ufrag = media_or_session(sdp, m, "ice-ufrag");
    raw[i].pwd = media_or_session(sdp, m, "ice-pwd");
    raw[i].setup = media_or_session(sdp, m, "setup");
    raw[i].fp_attrs = attrs_have_fingerprint(m->attrs)     ? m->attrs
                      : attrs_have_fingerprint(sdp->attrs) ? sdp->attrs
                                                           : NULL;
  }

  /* RFC 8843 §7 (offer/answer procedures): the BUNDLE tag is the first
   * mid of the group whose section is live; the transport it describes is
   * shared, so bundled sections lacking their own ICE/DTLS attributes take
   * the tag's. */
  int tag = -1;
  for (guint b = 0; rc == 0 && b < d->bundle_mids->len && tag < 0; b++) {
    guint idx;
    if (weft__sdp_find_mid(sdp, g_ptr_array_index(d->bundle_mids, b), &idx)) {
      const weft__jsep_section *s = g_ptr_array_index(d->sections, idx);
      if (!s->rejected && !s->bundle_only)
        tag = (int)idx;
    }
  }
  guint live = 0;
  for (guint i = 0; i < n && rc == 0; i++) {
    weft__jsep_section *s = g_ptr_array_index(d->sections, i);
    raw_transport *r = &raw[i];
    if (tag >= 0 && (int)i != tag && weft__jsep_in_bundle(d, s->mid)) {
      const raw_transport *t = &raw[tag];
      if (!r->ufrag)
        r->ufrag = t->ufrag;
      if (!r->pwd)
        r->pwd = t->pwd;
      if (!r->setup)
        r->setup = t->setup;
      if (!r->fp_attrs)
        r->fp_attrs = t->fp_attrs;
    }
    if (s->rejected)
      continue; /* nothing in a rejected section is used (RFC 3264 §6) */
    live++;
    /* RFC 8839 §5.4: ICE credentials are mandatory for every live section. */
    if (!r->ufrag || !r->pwd) {
      rc = weft__error(WEFT_ERR_INVALID_ACCESS, "m-section %u (SDP line %d): no a=%s", i, s->line,
                       r->ufrag ? "ice-pwd" : "ice-ufrag");
      break;
    }
    if ((rc = check_ice(r->ufrag, 4)) < 0 || (rc = check_ice(r->pwd, 22)) < 0)
      break;
    s->ice_ufrag = g_strdup(r->ufrag->value);
    s->ice_pwd = g_strdup(r->pwd->value);
    /* RFC 8122 §5 / RFC 8827 §6.5: DTLS needs a certificate fingerprint. */
    rc = r->fp_attrs ? pick_fingerprint(r->fp_attrs, &s->fingerprint_alg, &s->fingerprint) : 0;
    if (rc < 0)
      break;
    if (rc == 0) {
      rc = weft__error(WEFT_ERR_INVALID_ACCESS, "m-section %u (SDP line %d): no a=fingerprint", i,
                       s->line);
      break;
    }
    rc = 0;
    if (r->setup && (rc = parse_setup(r->setup, d->type, &s->setup)) < 0)
      break;
  }
  /* An offer whose every section is rejected offers nothing to answer;
   * answers may reject everything (RFC 9429 §5.3.1) and an offer without
   * m-lines is Chromium's empty offer. */
  if (rc == 0 && n > 0 && live == 0 && d->type == WEFT_SDP_OFFER)
    rc = weft__error(WEFT_ERR_INVALID_ACCESS,
                     "offer: every m-section is rejected (port 0), the first at SDP line %d",
                     ((weft__sdp_media *)g_ptr_array_index(sdp->media, 0))->line);
  g_free(raw);
  return rc;
}

int weft__jsep_parse(const char *sdp_text, weft_sdp_type type, weft__jsep_desc **out) {
  if (!out)
    return weft__error(WEFT_ERR_INVALID_ARG, "jsep: NULL output");
  *out = NULL;
  if (!sdp_text)
    return weft__error(WEFT_ERR_INVALID_ARG, "jsep: NULL SDP");
  if (type != WEFT_SDP_OFFER && type != WEFT_SDP_ANSWER && type != WEFT_SDP_PRANSWER)
    return weft__error(WEFT_ERR_INVALID_ARG, "jsep: cannot parse a description of type %d",
                       (int)type);
  weft__sdp *sdp;
  int rc = weft__sdp_parse(sdp_text, &sdp);
  if (rc < 0)
    return rc;
  weft__jsep_desc *d = g_new0(weft__jsep_desc, 1);
  d->type = type;
  d->sdp = sdp;
  d->sections = g_ptr_array_new_with_free_func(section_free);
  d->bundle_mids = g_ptr_array_new_with_free_func(g_free);
  rc = parse_session(d);
  if (rc == 0)
    rc = parse_sections(d);
  if (rc < 0) {
    WLOG_D("jsep", "rejecting description: %s", weft__error_message());
    weft__jsep_desc_free(d);
    return rc;
  }
  *out = d;
  return 0;
}

/* ---- Create ------------------------------------------------------------- */

static char *u64_str(uint64_t v) { return g_strdup_printf("%llu", (unsigned long long)v); }

static weft__sdp *session_skeleton(const weft__jsep_local *l) {
  weft__sdp *s = weft__sdp_new();
  g_free(s->origin.sess_id);
  g_free(s->origin.sess_version);
  /* RFC 9429 §5.2.1: sess-id is a random 63-bit number (keeps it positive
   * for stacks that parse it as int64). */
  s->origin.sess_id = u64_str(l->session_id & INT64_MAX);
  s->origin.sess_version = u64_str(l->session_version);
  return s;
}

static void add_session_attrs(weft__sdp *s) {
  /* RFC 8830 §2 (the form Chromium writes): no streams yet. */
  weft__sdp_attr_add(s->attrs, "msid-semantic", " WMS");
  /* RFC 8840 §4.1.1 / RFC 9429 §5.2.1: we accept trickled candidates. */
  weft__sdp_attr_add(s->attrs, "ice-options", "trickle");
}

static int check_local(const weft__jsep_local *l) {
  if (!l)
    return weft__error(WEFT_ERR_INVALID_ARG, "jsep: NULL local parameters");
  if (!l->ice_ufrag || !l->ice_pwd || !l->fingerprint)
    return weft__error(WEFT_ERR_INVALID_ARG, "jsep: local ICE credentials or fingerprint missing");
  return 0;
}

/* The transport and SCTP attributes of an accepted data section. */
static void add_data_attrs(weft__sdp_media *m, const weft__jsep_local *l, weft__setup setup,
                           const char *mid, bool legacy, uint32_t streams) {
  weft__sdp_lines_add(m->lines, 'c', "IN IP4 0.0.0.0");
  weft__sdp_attr_add(m->attrs, "ice-ufrag", l->ice_ufrag);
  weft__sdp_attr_add(m->attrs, "ice-pwd", l->ice_pwd);
  weft__sdp_attr_add(m->attrs, "fingerprint", l->fingerprint);
  weft__sdp_attr_add(m->attrs, "setup",
                     weft__setup_to_string(setup == WEFT__SETUP_NONE ? WEFT__SETUP_ACTIVE : setup));
  if (mid)
    weft__sdp_attr_add(m->attrs, "mid", mid);
  uint16_t port = l->sctp_port ? l->sctp_port : 5000;
  char *v;
  if (legacy) {
    v = g_strdup_printf("%u webrtc-datachannel %u", port, streams ? streams : 65535);
    weft__sdp_attr_add(m->attrs, "sctpmap", v);
  } else {
    v = g_strdup_printf("%u", port);
    weft__sdp_attr_add(m->attrs, "sctp-port", v);
  }
  g_free(v);
  v = u64_str(l->max_message_size);
  weft__sdp_attr_add(m->attrs, "max-message-size", v);
  g_free(v);
}

/* The transport attributes of an accepted audio/video section (all sections
 * carry them, as Chromium writes; a bundled one could inherit them). */
static void add_media_transport(weft__sdp_media *m, const weft__jsep_local *l, weft__setup setup) {
  weft__sdp_attr_add(m->attrs, "ice-ufrag", l->ice_ufrag);
  weft__sdp_attr_add(m->attrs, "ice-pwd", l->ice_pwd);
  weft__sdp_attr_add(m->attrs, "fingerprint", l->fingerprint);
  weft__sdp_attr_add(m->attrs, "setup", weft__setup_to_string(setup));
}

static const char *msection_mid(const weft__jsep_msection *e, const weft__jsep_local *l) {
  if (e->is_data)
    return l->data_mid ? l->data_mid : "0";
  return e->media ? e->media->mid : NULL;
}

static bool msection_live(const weft__jsep_msection *e) {
  return e->is_data || (e->media && e->media->port != 0 && !e->media->rejected);
}

static weft__sdp_media *msection_write(const weft__jsep_msection *e, const weft__jsep_local *l,
                                       weft__setup setup) {
  weft__sdp_media *m = weft__media_write(e->media);
  if (m && msection_live(e))
    add_media_transport(m, l, setup);
  return m;
}

static char *create_offer_sections(const weft__jsep_local *l) {
  weft__sdp *s = session_skeleton(l);
  weft__setup setup = l->setup == WEFT__SETUP_NONE ? WEFT__SETUP_ACTPASS : l->setup;
  GString *g = g_string_new("BUNDLE");
  for (size_t i = 0; i < l->n_sections; i++)
    if (msection_live(&l->sections[i]) && msection_mid(&l->sections[i], l))
      g_string_append_printf(g, " %s", msection_mid(&l->sections[i], l));
  if (g->len > strlen("BUNDLE"))
    weft__sdp_attr_add(s->attrs, "group", g->str);
  g_string_free(g, TRUE);
  add_session_attrs(s);
  for (size_t i = 0; i < l->n_sections; i++) {
    const weft__jsep_msection *e = &l->sections[i];
    weft__sdp_media *m;
    if (e->is_data) {
      m = weft__sdp_media_new("application", 9, "UDP/DTLS/SCTP");
      weft__sdp_media_add_format(m, "webrtc-datachannel");
      add_data_attrs(m, l, setup, msection_mid(e, l), false, 0);
    } else {
      m = msection_write(e, l, setup);
    }
    if (m)
      weft__sdp_add_media(s, m);
  }
  char *out = weft__sdp_write(s);
  weft__sdp_free(s);
  return out;
}

char *weft__jsep_create_offer(const weft__jsep_local *l) {
  if (check_local(l) < 0)
    return NULL;
  if (l->sections)
    return create_offer_sections(l);
  weft__sdp *s = session_skeleton(l);
  const char *mid = l->data_mid ? l->data_mid : "0";
  if (l->include_data) {
    char *g = g_strconcat("BUNDLE ", mid, NULL);
    weft__sdp_attr_add(s->attrs, "group", g);
    g_free(g);
  }
  add_session_attrs(s);
  if (l->include_data) {
    /* RFC 8841 §4.1 + RFC 9429 §5.2.1: port 9 (discard) until ICE says
     * otherwise, c=IN IP4 0.0.0.0. */
    weft__sdp_media *m = weft__sdp_media_new("application", 9, "UDP/DTLS/SCTP");
    weft__sdp_media_add_format(m, "webrtc-datachannel");
    add_data_attrs(m, l, l->setup == WEFT__SETUP_NONE ? WEFT__SETUP_ACTPASS : l->setup, mid, false,
                   0);
    weft__sdp_add_media(s, m);
  }
  char *out = weft__sdp_write(s);
  weft__sdp_free(s);
  return out;
}

char *weft__jsep_create_answer(const weft__jsep_desc *offer, const weft__jsep_local *l) {
  if (!offer) {
    weft__error(WEFT_ERR_INVALID_ARG, "jsep: NULL offer");
    return NULL;
  }
  if (check_local(l) < 0)
    return NULL;
  const weft__jsep_section *data = weft__jsep_data_section(offer);
  if (l->sections && l->n_sections != offer->sections->len) {
    weft__error(WEFT_ERR_INVALID_ARG, "jsep: %zu answer sections for %u offered", l->n_sections,
                offer->sections->len);
    return NULL;
  }
  weft__sdp *s = session_skeleton(l);
  /* RFC 8843 §7: the answer's BUNDLE group holds the accepted mids the
   * offer bundled. */
  GString *g = g_string_new("BUNDLE");
  for (guint i = 0; i < offer->sections->len; i++) {
    const weft__jsep_section *os = g_ptr_array_index(offer->sections, i);
    bool accepted = l->sections ? msection_live(&l->sections[i]) : os == data;
    if (accepted && os->mid && weft__jsep_in_bundle(offer, os->mid))
      g_string_append_printf(g, " %s", os->mid);
  }
  if (g->len > strlen("BUNDLE"))
    weft__sdp_attr_add(s->attrs, "group", g->str);
  g_string_free(g, TRUE);
  add_session_attrs(s);

  /* RFC 9429 §5.3.1: one m= section per offered one, same order, same mid. */
  for (guint i = 0; i < offer->sections->len; i++) {
    const weft__jsep_section *os = g_ptr_array_index(offer->sections, i);
    const weft__sdp_media *om = g_ptr_array_index(offer->sdp->media, os->index);
    weft__sdp_media *m;
    const weft__jsep_msection *e = l->sections ? &l->sections[i] : NULL;
    if (e && !e->is_data && e->media) {
      m = msection_write(e, l, l->setup == WEFT__SETUP_NONE ? WEFT__SETUP_ACTIVE : l->setup);
    } else if (e ? e->is_data && os->is_sctp && !os->rejected : os == data) {
      if (os->legacy_sctpmap) {
        /* Legacy in, legacy out: aiortc and pre-63 Firefox understand only
         * this form (stack-notes §4.5). The format is our SCTP port. */
        char *port = g_strdup_printf("%u", l->sctp_port ? l->sctp_port : 5000);
        m = weft__sdp_media_new("application", 9, "DTLS/SCTP");
        weft__sdp_media_add_format(m, port);
        g_free(port);
      } else {
        m = weft__sdp_media_new("application", 9, om->proto);
        weft__sdp_media_add_format(m, "webrtc-datachannel");
      }
      add_data_attrs(m, l, l->setup, os->mid, os->legacy_sctpmap, os->sctp_streams);
    } else {
      /* RFC 9429 §5.3.1 / RFC 3264 §6: rejected = port 0, same proto and
       * formats; only c= and a=mid are kept. */
      m = weft__sdp_media_new(om->media, 0, om->proto);
      for (guint f = 0; f < om->formats->len; f++)
        weft__sdp_media_add_format(m, g_ptr_array_index(om->formats, f));
      weft__sdp_lines_add(m->lines, 'c', "IN IP4 0.0.0.0");
      if (os->mid)
        weft__sdp_attr_add(m->attrs, "mid", os->mid);
    }
    weft__sdp_add_media(s, m);
  }
  char *out = weft__sdp_write(s);
  weft__sdp_free(s);
  return out;
}

/* ---- Candidates --------------------------------------------------------- */

/* JSEP §5.3.1 (RFC 8829): once candidates are known, the m= port and the c=
 * address show the default candidate, the one most likely to work: a relay,
 * else a server- or peer-reflexive one, else a host one (component 1, UDP;
 * the first of its kind, as gathered). Some gateways and SIP-era parsers look
 * only there. mDNS names and unparsable candidates are never chosen. */
static void set_default_candidate(weft__sdp_media *m) {
  static const char *const rank[] = {"relay", "srflx", "prflx", "host"};
  char *best_addr = NULL;
  unsigned best_port = 0;
  int best_rank = G_N_ELEMENTS(rank);
  guint pos = 0;
  const weft__sdp_attr *a;
  while ((a = weft__sdp_attr_next(m->attrs, "candidate", &pos))) {
    char **f = g_strsplit(a->value ? a->value : "", " ", -1);
    guint nf = g_strv_length(f);
    if (nf >= 8 && strcmp(f[1], "1") == 0 && g_ascii_strcasecmp(f[2], "udp") == 0 &&
        strcmp(f[6], "typ") == 0 && !g_str_has_suffix(f[4], ".local")) {
      bool ip = g_hostname_is_ip_address(f[4]);
      char *end = NULL;
      unsigned long port = strtoul(f[5], &end, 10);
      for (int r = 0; ip && end && !*end && port > 0 && port < 65536 && r < best_rank; r++)
        if (strcmp(f[7], rank[r]) == 0) {
          best_rank = r;
          g_free(best_addr);
          best_addr = g_strdup(f[4]);
          best_port = (unsigned)port;
        }
    }
    g_strfreev(f);
  }
  if (!best_addr || m->port == 0) {
    g_free(best_addr);
    return;
  }
  m->port = (uint16_t)best_port;
  char *c = g_strdup_printf("IN %s %s", strchr(best_addr, ':') ? "IP6" : "IP4", best_addr);
  bool replaced = false;
  for (guint i = 0; i < m->lines->len && !replaced; i++) {
    weft__sdp_line *l = g_ptr_array_index(m->lines, i);
    if (l->type == 'c') {
      g_free(l->value);
      l->value = c;
      replaced = true;
    }
  }
  if (!replaced) {
    weft__sdp_lines_add(m->lines, 'c', c);
    g_free(c);
  }
  g_free(best_addr);
}

char *weft__jsep_add_candidates(const char *sdp_text, const char *mid,
                                const char *const *candidates, size_t n, bool end) {
  if (!sdp_text || (n && !candidates)) {
    weft__error(WEFT_ERR_INVALID_ARG, "jsep: NULL SDP or candidates");
    return NULL;
  }
  weft__sdp *s;
  if (weft__sdp_parse(sdp_text, &s) < 0)
    return NULL;
  if (s->media->len == 0) {
    char *out = weft__sdp_write(s);
    weft__sdp_free(s);
    return out;
  }
  guint idx = 0;
  if (mid && !weft__sdp_find_mid(s, mid, &idx)) {
    weft__sdp_free(s);
    weft__error(WEFT_ERR_INVALID_ARG, "jsep: no m-section with mid '%s'", mid);
    return NULL;
  }
  /* BUNDLE: one transport for the group, whose candidates live in the
   * group's first (tagged) m-section (RFC 8843 §10, ICE considerations). */
  weft__sdp_media *target = g_ptr_array_index(s->media, idx);
  const char *tmid = weft__sdp_media_mid(target);
  guint pos = 0;
  const weft__sdp_attr *g;
  while (tmid && (g = weft__sdp_attr_next(s->attrs, "group", &pos))) {
    char **t = g_strsplit_set(g->value ? g->value : "", " \t", -1);
    bool bundle = t[0] && strcmp(t[0], "BUNDLE") == 0, member = false;
    const char *first = NULL;
    for (char **p = t + 1; bundle && *p; p++) {
      if (!**p)
        continue;
      if (!first)
        first = *p;
      member = member || strcmp(*p, tmid) == 0;
    }
    weft__sdp_media *f = member && first ? weft__sdp_find_mid(s, first, NULL) : NULL;
    g_strfreev(t);
    if (bundle) {
      if (f)
        target = f;
      break;
    }
  }

  /* New candidates go after the existing ones and before a=end-of-candidates. */
  guint insert_at = target->attrs->len;
  for (guint i = 0; i < target->attrs->len; i++) {
    const weft__sdp_attr *a = g_ptr_array_index(target->attrs, i);
    if (strcmp(a->name, "end-of-candidates") == 0) {
      insert_at = i;
      break;
    }
  }
  for (size_t i = 0; i < n; i++) {
    const char *c = candidates[i];
    if (!c)
      continue;
    if (g_str_has_prefix(c, "a="))
      c += 2;
    if (!*c)
      continue; /* "" is the W3C end-of-candidates marker, not a candidate */
    if (!g_str_has_prefix(c, "candidate:") || !c[strlen("candidate:")]) {
      weft__sdp_free(s);
      weft__error(WEFT_ERR_SYNTAX, "jsep: candidate %zu does not start with 'candidate:'", i);
      return NULL;
    }
    c += strlen("candidate:");
    /* RFC 8839 §5.1: the candidate grammar is ASCII. Control characters
     * could inject SDP lines; bytes >= 0x80 would make a description our
     * own parser refuses (found by tests/fuzz). */
    for (const char *p = c; *p; p++)
      if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f) {
        weft__sdp_free(s);
        weft__error(WEFT_ERR_SYNTAX, "jsep: candidate %zu contains a %s", i,
                    (unsigned char)*p >= 0x80 ? "non-ASCII byte" : "control character");
        return NULL;
      }
    /* Trailing blanks are trimmed by the SDP parser: trim them here too, or
     * the duplicate check misses a candidate added again. */
    size_t clen = strlen(c);
    while (clen > 0 && (c[clen - 1] == ' ' || c[clen - 1] == '\t'))
      clen--;
    char *trimmed = g_strndup(c, clen);
    bool dup = false;
    guint cp = 0;
    const weft__sdp_attr *a;
    while (!dup && (a = weft__sdp_attr_next(target->attrs, "candidate", &cp)))
      dup = a->value && strcmp(a->value, trimmed) == 0;
    if (!dup)
      weft__sdp_attr_insert(target->attrs, insert_at++, "candidate", trimmed);
    g_free(trimmed);
  }
  if (end && !weft__sdp_attr_find(target->attrs, "end-of-candidates"))
    weft__sdp_attr_add(target->attrs, "end-of-candidates", NULL);
  set_default_candidate(target);
  char *out = weft__sdp_write(s);
  weft__sdp_free(s);
  return out;
}
