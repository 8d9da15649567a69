/* jsep/ media sections: the RTP model of an audio/video m-section, the
 * codec table, answers (RFC 3264 §6.1, RFC 8829 §5.3.1) and offers
 * (RFC 8829 §5.2.1). See jsep.h for the rules; no I/O, no global state. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "jsep/jsep.h"

#define MID_URI "urn:ietf:params:rtp-hdrext:sdes:mid" /* RFC 8843 §15.2 */
#define H264_DEFAULT_PLID 0x42e01fu                   /* constrained baseline, level 3.1 */
#define OPUS_FMTP "minptime=10;useinbandfec=1"        /* RFC 7587 §6.1, as Chromium */

const char *weft__direction_to_string(weft__direction d) {
  switch (d) {
  case WEFT__DIR_SENDONLY:
    return "sendonly";
  case WEFT__DIR_RECVONLY:
    return "recvonly";
  case WEFT__DIR_INACTIVE:
    return "inactive";
  case WEFT__DIR_SENDRECV:
    break;
  }
  return "sendrecv";
}

static bool dir_sends(weft__direction d) {
  return d == WEFT__DIR_SENDRECV || d == WEFT__DIR_SENDONLY;
}
static bool dir_recvs(weft__direction d) {
  return d == WEFT__DIR_SENDRECV || d == WEFT__DIR_RECVONLY;
}
static weft__direction dir_make(bool send, bool recv) {
  if (send && recv)
    return WEFT__DIR_SENDRECV;
  if (send)
    return WEFT__DIR_SENDONLY;
  return recv ? WEFT__DIR_RECVONLY : WEFT__DIR_INACTIVE;
}

weft__direction weft__direction_answer(weft__direction offer, weft__direction local) {
  /* RFC 3264 §6.1: the answerer may send only what the offerer will receive
   * and receive only what the offerer will send (sendonly ⇒ recvonly or
   * inactive, recvonly ⇒ sendonly or inactive, inactive ⇒ inactive). */
  return dir_make(dir_recvs(offer) && dir_sends(local), dir_sends(offer) && dir_recvs(local));
}

/* ---- Model objects ------------------------------------------------------ */

static void codec_free(gpointer p) {
  weft__rtp_codec *c = p;
  if (!c)
    return;
  g_free(c->name);
  g_free(c->fmtp);
  g_ptr_array_unref(c->rtcp_fb);
  g_free(c);
}

static weft__rtp_codec *codec_new(unsigned pt, const char *name, uint32_t rate, uint8_t ch) {
  weft__rtp_codec *c = g_new0(weft__rtp_codec, 1);
  c->pt = (uint8_t)pt;
  c->name = g_strdup(name);
  c->clock_rate = rate;
  c->channels = ch;
  c->rtcp_fb = g_ptr_array_new_with_free_func(g_free);
  c->apt = -1;
  return c;
}

static void extmap_free(gpointer p) {
  weft__rtp_extmap *e = p;
  g_free(e->uri);
  g_free(e);
}

static void ssrc_free(gpointer p) {
  weft__rtp_ssrc *s = p;
  g_free(s->cname);
  g_free(s->msid);
  g_free(s);
}

static weft__media_desc *desc_new(weft__media_kind kind, const char *proto) {
  weft__media_desc *d = g_new0(weft__media_desc, 1);
  d->kind = kind;
  d->proto = g_strdup(proto);
  d->codecs = g_ptr_array_new_with_free_func(codec_free);
  d->extmaps = g_ptr_array_new_with_free_func(extmap_free);
  d->ssrcs = g_ptr_array_new_with_free_func(ssrc_free);
  d->fid = g_array_new(FALSE, FALSE, sizeof(uint32_t));
  return d;
}

void weft__media_desc_free(weft__media_desc *d) {
  if (!d)
    return;
  g_free(d->proto);
  g_free(d->mid);
  g_ptr_array_unref(d->codecs);
  g_ptr_array_unref(d->extmaps);
  g_ptr_array_unref(d->ssrcs);
  g_array_unref(d->fid);
  g_free(d->msid_stream);
  g_free(d->msid_track);
  g_free(d);
}

const weft__rtp_codec *weft__media_find_pt(const weft__media_desc *d, unsigned pt) {
  if (!d)
    return NULL;
  for (guint i = 0; i < d->codecs->len; i++) {
    const weft__rtp_codec *c = g_ptr_array_index(d->codecs, i);
    if (c->pt == pt)
      return c;
  }
  return NULL;
}

/* ---- Small lexers ------------------------------------------------------- */

/* Decimal digits [s, s+len) as a number <= max; false on anything else. */
static bool parse_num(const char *s, size_t len, uint64_t max, uint64_t *out) {
  if (len == 0 || len > 10)
    return false;
  uint64_t v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (v > max)
    return false;
  *out = v;
  return true;
}

/* Length of the token at @s (up to a space or the end). */
static size_t tok_len(const char *s) {
  size_t n = 0;
  while (s[n] && s[n] != ' ')
    n++;
  return n;
}

static const char *skip_sp(const char *s) {
  while (*s == ' ')
    s++;
  return s;
}

/* A fmtp parameter (RFC 8866 §6.15: "<key>=<value>;..."; keys compare
 * case-insensitively, RFC 6184 §8.1 / RFC 4588 §8.6). Returns a new string
 * or NULL. */
static char *fmtp_param(const char *fmtp, const char *key) {
  if (!fmtp)
    return NULL;
  size_t kl = strlen(key);
  const char *p = fmtp;
  while (*p) {
    p = skip_sp(p);
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > kl && g_ascii_strncasecmp(p, key, kl) == 0 && p[kl] == '=') {
      const char *v = p + kl + 1;
      size_t vl = len - kl - 1;
      while (vl && v[vl - 1] == ' ')
        vl--;
      return g_strndup(v, vl);
    }
    if (!end)
      break;
    p = end + 1;
  }
  return NULL;
}

/* ---- H264 profiles (RFC 6184 §8.1, ITU-T H.264 Annex A) ------------------ */

enum {
  H264_CB = 1,
  H264_BASELINE,
  H264_MAIN,
  H264_EXTENDED,
  H264_HIGH,
  H264_CHIGH,
  H264_HIGH10,
  H264_HIGH422,
  H264_HIGH444
};

bool weft__h264_profile(uint32_t plid, int *profile, int *level) {
  unsigned idc = (plid >> 16) & 0xff, iop = (plid >> 8) & 0xff, lvl = plid & 0xff;
  bool set0 = iop & 0x80, set1 = iop & 0x40, set3 = iop & 0x10;
  int p;
  /* A stream that obeys constraint_set1 (Baseline) or set0 (Main) is
   * constrained baseline whatever profile_idc says (H.264 A.2.1.1). */
  switch (idc) {
  case 0x42:
    p = set1 ? H264_CB : H264_BASELINE;
    break;
  case 0x4d:
    p = set0 ? H264_CB : H264_MAIN;
    break;
  case 0x58:
    p = (set0 && set1) ? H264_CB : set0 ? H264_BASELINE : H264_EXTENDED;
    break;
  case 0x64:
    /* Constrained High: constraint_set4 and set5 (H.264 A.2.4.2). */
    p = (iop & 0x0c) == 0x0c ? H264_CHIGH : H264_HIGH;
    break;
  case 0x6e:
    p = H264_HIGH10;
    break;
  case 0x7a:
    p = H264_HIGH422;
    break;
  case 0xf4:
    p = H264_HIGH444;
    break;
  default:
    return false;
  }
  /* Level 1b: level_idc 11 + constraint_set3 in Baseline/Main/Extended, or
   * level_idc 9 (H.264 A.3.1, RFC 6184 §8.1); it sorts between 1 and 1.1. */
  int l = (int)lvl * 2;
  if (lvl == 9 || (lvl == 11 && set3 && (idc == 0x42 || idc == 0x4d || idc == 0x58)))
    l = 21;
  if (profile)
    *profile = p;
  if (level)
    *level = l;
  return true;
}

/* profile-level-id of an H264 fmtp, or false if absent/malformed. */
static bool h264_plid(const char *fmtp, uint32_t *out) {
  /* RFC 6184 §8.1: exactly 6 hex digits (no "0x", no sign). */
  char *v = fmtp_param(fmtp, "profile-level-id");
  bool ok = v && strlen(v) == 6;
  uint32_t x = 0;
  for (int i = 0; ok && i < 6; i++) {
    ok = g_ascii_isxdigit(v[i]);
    x = x << 4 | (uint32_t)g_ascii_xdigit_value(v[i]);
  }
  g_free(v);
  if (ok)
    *out = x;
  return ok;
}

static bool h264_mode1(const char *fmtp) {
  /* RFC 6184 §8.1: packetization-mode absent means 0 (single NAL), which
   * weft does not produce. */
  char *v = fmtp_param(fmtp, "packetization-mode");
  bool ok = v && strcmp(v, "1") == 0;
  g_free(v);
  return ok;
}

/* ---- Parse -------------------------------------------------------------- */

/* Static payload types (RFC 3551 §6) usable without a=rtpmap. */
static const struct {
  unsigned pt;
  const char *name;
} static_pts[] = {{0, "PCMU"}, {3, "GSM"}, {4, "G723"}, {8, "PCMA"},
                  {9, "G722"}, {13, "CN"}, {18, "G729"}};

typedef struct parse_ctx {
  weft__media_desc *d;
  bool listed[128];
  weft__rtp_codec *by_pt[128];
  int fmtp_line[128];
  int rtpmap_line[128];
  bool dir_seen;
} parse_ctx;

static int bad(const weft__sdp_attr *a, const char *what) {
  return weft__error(WEFT_ERR_SYNTAX, "a=%s: %s (SDP line %d): '%s'", a->name, what, a->line,
                     a->value ? a->value : "");
}

/* "<pt> ..." → pt (0-127) and the rest (spaces skipped). */
static bool lead_pt(const char *v, unsigned *pt, const char **rest) {
  size_t n = tok_len(v);
  uint64_t x;
  if (!parse_num(v, n, 127, &x))
    return false;
  *pt = (unsigned)x;
  *rest = skip_sp(v + n);
  return true;
}

static int parse_rtpmap(parse_ctx *c, const weft__sdp_attr *a) {
  /* RFC 8866 §6.6: a=rtpmap:<pt> <encoding name>/<clock rate>[/<params>] */
  const char *v = a->value ? a->value : "";
  unsigned pt;
  const char *rest;
  if (!lead_pt(v, &pt, &rest))
    return bad(a, "expected '<pt> <name>/<rate>[/<channels>]'");
  const char *slash = strchr(rest, '/');
  if (!slash || slash == rest || tok_len(rest) < (size_t)(slash - rest))
    return bad(a, "expected '<pt> <name>/<rate>[/<channels>]'");
  const char *rate = slash + 1;
  const char *slash2 = strchr(rate, '/');
  size_t rlen = slash2 ? (size_t)(slash2 - rate) : strlen(rate);
  uint64_t r, ch = 0;
  if (!parse_num(rate, rlen, UINT32_MAX, &r) || r == 0)
    return bad(a, "bad clock rate");
  if (slash2 && (!parse_num(slash2 + 1, strlen(slash2 + 1), 255, &ch) || ch == 0))
    return bad(a, "bad channel count");
  if (c->rtpmap_line[pt])
    return bad(a, "second a=rtpmap for this payload type");
  c->rtpmap_line[pt] = a->line ? a->line : -1;
  if (!c->listed[pt]) /* RFC 8866 §6.6: only formats of the m= line count */
    return 0;
  char *name = g_strndup(rest, (size_t)(slash - rest));
  c->by_pt[pt] = codec_new(pt, name, (uint32_t)r, (uint8_t)ch);
  g_free(name);
  return 0;
}

static int parse_fmtp(parse_ctx *c, const weft__sdp_attr *a) {
  /* RFC 8866 §6.15: a=fmtp:<format> <format specific parameters> */
  const char *v = a->value ? a->value : "";
  unsigned pt;
  const char *rest;
  if (!lead_pt(v, &pt, &rest))
    return bad(a, "expected '<pt> <parameters>'");
  if (c->fmtp_line[pt])
    return bad(a, "second a=fmtp for this payload type");
  c->fmtp_line[pt] = a->line ? a->line : -1;
  if (c->by_pt[pt])
    c->by_pt[pt]->fmtp = g_strdup(rest);
  return 0;
}

static int add_fb(weft__rtp_codec *codec, const weft__sdp_attr *a, const char *fb) {
  for (guint i = 0; i < codec->rtcp_fb->len; i++)
    if (strcmp(g_ptr_array_index(codec->rtcp_fb, i), fb) == 0)
      return 0;
  if (codec->rtcp_fb->len >= WEFT__MEDIA_MAX_FB)
    return bad(a, "too many a=rtcp-fb for this payload type");
  g_ptr_array_add(codec->rtcp_fb, g_strdup(fb));
  return 0;
}

static int parse_rtcp_fb(parse_ctx *c, const weft__sdp_attr *a) {
  /* RFC 4585 §4.2: a=rtcp-fb:<pt|*> <val> [<param>] */
  const char *v = a->value ? a->value : "";
  unsigned pt = 128;
  const char *rest;
  if (v[0] == '*' && v[1] == ' ')
    rest = skip_sp(v + 1);
  else if (!lead_pt(v, &pt, &rest))
    return bad(a, "expected '<pt> <feedback>'");
  /* One space between words, so "nack  pli" compares equal to "nack pli". */
  GString *norm = g_string_new(NULL);
  for (const char *p = skip_sp(rest); *p;) {
    size_t n = tok_len(p);
    g_string_append_printf(norm, "%s%.*s", norm->len ? " " : "", (int)n, p);
    p = skip_sp(p + n);
  }
  char *fb = g_string_free(norm, FALSE);
  int rc = 0;
  if (!*fb)
    rc = bad(a, "expected '<pt> <feedback>'");
  for (unsigned i = 0; rc == 0 && i < 128; i++)
    if (c->by_pt[i] && (pt == 128 || pt == i)) /* unknown pt: ignored */
      rc = add_fb(c->by_pt[i], a, fb);
  g_free(fb);
  return rc;
}

static bool parse_direction_token(const char *s, size_t n, weft__direction *out) {
  static const char *names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
  for (int i = 0; i < 4; i++)
    if (strlen(names[i]) == n && strncmp(s, names[i], n) == 0) {
      *out = (weft__direction)i;
      return true;
    }
  return false;
}

static int parse_extmap(parse_ctx *c, const weft__sdp_attr *a) {
  /* RFC 8285 §8: a=extmap:<id>["/"<direction>] <URI> [<extensionattributes>];
   * ids 1-14 (one-byte) or 1-255 (two-byte header), RFC 8285 §5. */
  const char *v = a->value ? a->value : "";
  size_t n = 0;
  while (v[n] >= '0' && v[n] <= '9')
    n++;
  uint64_t id;
  if (!parse_num(v, n, 255, &id) || id == 0)
    return bad(a, "id must be 1-255");
  weft__rtp_extmap e = {.id = (uint16_t)id};
  const char *p = v + n;
  if (*p == '/') {
    size_t dl = tok_len(p + 1);
    if (!parse_direction_token(p + 1, dl, &e.direction))
      return bad(a, "bad direction");
    e.has_direction = true;
    p += 1 + dl;
  }
  if (*p != ' ')
    return bad(a, "expected '<id>[/<direction>] <uri>'");
  p = skip_sp(p);
  size_t ul = tok_len(p);
  if (ul == 0)
    return bad(a, "no URI");
  for (guint i = 0; i < c->d->extmaps->len; i++)
    if (((weft__rtp_extmap *)g_ptr_array_index(c->d->extmaps, i))->id == id)
      return bad(a, "id used twice");
  if (c->d->extmaps->len >= WEFT__MEDIA_MAX_EXTMAPS)
    return bad(a, "too many a=extmap");
  weft__rtp_extmap *e2 = g_new(weft__rtp_extmap, 1);
  *e2 = e;
  e2->uri = g_strndup(p, ul);
  g_ptr_array_add(c->d->extmaps, e2);
  return 0;
}

static weft__rtp_ssrc *ssrc_get(weft__media_desc *d, uint32_t ssrc, bool create) {
  for (guint i = 0; i < d->ssrcs->len; i++) {
    weft__rtp_ssrc *s = g_ptr_array_index(d->ssrcs, i);
    if (s->ssrc == ssrc)
      return s;
  }
  if (!create || d->ssrcs->len >= WEFT__MEDIA_MAX_SSRCS)
    return NULL;
  weft__rtp_ssrc *s = g_new0(weft__rtp_ssrc, 1);
  s->ssrc = ssrc;
  g_ptr_array_add(d->ssrcs, s);
  return s;
}

static int parse_ssrc(parse_ctx *c, const weft__sdp_attr *a) {
  /* RFC 5576 §4.1: a=ssrc:<ssrc-id> <attribute>[:<value>] */
  const char *v = a->value ? a->value : "";
  size_t n = tok_len(v);
  uint64_t id;
  if (!parse_num(v, n, UINT32_MAX, &id))
    return bad(a, "ssrc is not a 32-bit number");
  const char *attr = skip_sp(v + n);
  if (!*attr)
    return bad(a, "expected '<ssrc> <attribute>[:<value>]'");
  weft__rtp_ssrc *s = ssrc_get(c->d, (uint32_t)id, true);
  if (!s)
    return bad(a, "too many SSRCs");
  if (g_str_has_prefix(attr, "cname:") && !s->cname)
    s->cname = g_strdup(attr + 6);
  else if (g_str_has_prefix(attr, "msid:") && !s->msid)
    s->msid = g_strdup(attr + 5);
  return 0; /* other source attributes (label, mslabel, ...) ignored */
}

static int parse_ssrc_group(parse_ctx *c, const weft__sdp_attr *a) {
  /* RFC 5576 §4.2: a=ssrc-group:<semantics> <ssrc-id> ...; only FID (RFC
   * 4588 §8.7: primary then retransmission SSRC) matters to weft. */
  const char *v = a->value ? a->value : "";
  if (strncmp(v, "FID", 3) != 0 || (v[3] != ' ' && v[3] != '\0'))
    return 0;
  uint32_t ids[2];
  const char *p = skip_sp(v + 3);
  for (int i = 0; i < 2; i++) {
    size_t n = tok_len(p);
    uint64_t x;
    if (!parse_num(p, n, UINT32_MAX, &x))
      return bad(a, "expected 'FID <ssrc> <ssrc>'");
    ids[i] = (uint32_t)x;
    p = skip_sp(p + n);
  }
  if (*p)
    return bad(a, "expected 'FID <ssrc> <ssrc>'");
  if (c->d->fid->len / 2 >= WEFT__MEDIA_MAX_FID)
    return bad(a, "too many ssrc-group:FID");
  g_array_append_vals(c->d->fid, ids, 2);
  return 0;
}

static int parse_msid(parse_ctx *c, const weft__sdp_attr *a) {
  /* RFC 8830 §2: a=msid:<id> [<appdata>]. Only the first is kept (Unified
   * Plan: one track per section; more streams are extra stream ids). */
  const char *v = a->value ? a->value : "";
  size_t n = tok_len(v);
  if (n == 0)
    return bad(a, "empty msid");
  if (c->d->msid_stream)
    return 0;
  c->d->msid_stream = g_strndup(v, n);
  const char *app = skip_sp(v + n);
  if (*app)
    c->d->msid_track = g_strndup(app, tok_len(app));
  return 0;
}

static int parse_attr(parse_ctx *c, const weft__sdp_attr *a) {
  const char *n = a->name;
  weft__direction dir;
  if (strcmp(n, "fmtp") == 0)
    return parse_fmtp(c, a);
  if (strcmp(n, "rtcp-fb") == 0)
    return parse_rtcp_fb(c, a);
  if (strcmp(n, "extmap") == 0)
    return parse_extmap(c, a);
  if (strcmp(n, "ssrc") == 0)
    return parse_ssrc(c, a);
  if (strcmp(n, "ssrc-group") == 0)
    return parse_ssrc_group(c, a);
  if (strcmp(n, "msid") == 0)
    return parse_msid(c, a);
  if (strcmp(n, "mid") == 0) {
    if (!c->d->mid && a->value && *a->value)
      c->d->mid = g_strdup(a->value);
  } else if (strcmp(n, "rtcp-mux") == 0) {
    c->d->rtcp_mux = true; /* RFC 5761 §5.1.1 */
  } else if (strcmp(n, "rtcp-mux-only") == 0) {
    c->d->rtcp_mux_only = true; /* RFC 8858 §3 */
  } else if (strcmp(n, "rtcp-rsize") == 0) {
    c->d->rtcp_rsize = true; /* RFC 5506 §5 */
  } else if (strcmp(n, "bundle-only") == 0) {
    c->d->bundle_only = true; /* RFC 8843 §6 */
  } else if (parse_direction_token(n, strlen(n), &dir)) {
    if (c->dir_seen && dir != c->d->direction)
      return bad(a, "conflicting direction attributes");
    c->dir_seen = true;
    c->d->direction = dir;
  }
  return 0;
}

/* rtx apt= (RFC 4588 §8.6), once all rtpmaps and fmtps are known. */
static int resolve_rtx(parse_ctx *c) {
  for (unsigned pt = 0; pt < 128; pt++) {
    weft__rtp_codec *k = c->by_pt[pt];
    if (!k || g_ascii_strcasecmp(k->name, "rtx") != 0 || !k->fmtp)
      continue;
    char *apt = fmtp_param(k->fmtp, "apt");
    if (!apt)
      continue; /* rtx without apt: unusable, never answered */
    uint64_t x = 0;
    bool ok = parse_num(apt, strlen(apt), 127, &x);
    g_free(apt);
    if (!ok)
      return weft__error(WEFT_ERR_SYNTAX, "a=fmtp: rtx apt is not a payload type (SDP line %d)",
                         c->fmtp_line[pt]);
    k->apt = (int)x;
  }
  return 0;
}

int weft__media_parse(const weft__sdp_media *m, weft__media_desc **out) {
  if (!out)
    return weft__error(WEFT_ERR_INVALID_ARG, "media: NULL output");
  *out = NULL;
  if (!m)
    return weft__error(WEFT_ERR_INVALID_ARG, "media: NULL section");
  if (!strstr(m->proto, "RTP/"))
    return weft__error(WEFT_ERR_INVALID_ARG, "media: '%s' (SDP line %d) is not an RTP profile",
                       m->proto, m->line);
  weft__media_kind kind = strcmp(m->media, "audio") == 0   ? WEFT__KIND_AUDIO
                          : strcmp(m->media, "video") == 0 ? WEFT__KIND_VIDEO
                                                           : WEFT__KIND_OTHER;
  parse_ctx *c = g_new0(parse_ctx, 1);
  c->d = desc_new(kind, m->proto);
  weft__media_desc *d = c->d;
  d->port = m->port;
  /* RFC 5764 §8 / RFC 8829 §5.1.2: WebRTC media is SRTP with DTLS keys and
   * AVPF feedback. */
  d->proto_ok =
      strcmp(m->proto, "UDP/TLS/RTP/SAVPF") == 0 || strcmp(m->proto, "TCP/DTLS/RTP/SAVPF") == 0;
  int rc = 0;
  /* RFC 8866 §5.14: for RTP profiles the formats are payload types. */
  for (guint i = 0; i < m->formats->len; i++) {
    const char *f = g_ptr_array_index(m->formats, i);
    uint64_t pt;
    if (!parse_num(f, strlen(f), 127, &pt)) {
      rc = weft__error(WEFT_ERR_SYNTAX, "m= line (SDP line %d): format '%s' is not a payload type",
                       m->line, f);
      goto out;
    }
    c->listed[pt] = true;
  }
  guint i = 0;
  const weft__sdp_attr *a;
  while ((a = weft__sdp_attr_next(m->attrs, "rtpmap", &i)))
    if ((rc = parse_rtpmap(c, a)) < 0)
      goto out;
  for (unsigned k = 0; k < G_N_ELEMENTS(static_pts); k++) {
    unsigned pt = static_pts[k].pt;
    if (c->listed[pt] && !c->by_pt[pt])
      c->by_pt[pt] = codec_new(pt, static_pts[k].name, 8000, 0);
  }
  for (i = 0; i < m->attrs->len; i++)
    if ((rc = parse_attr(c, g_ptr_array_index(m->attrs, i))) < 0)
      goto out;
  if ((rc = resolve_rtx(c)) < 0)
    goto out;
  d->bundle_only = d->bundle_only && m->port == 0;
  d->rejected = m->port == 0 && !d->bundle_only;
  /* Codecs in m= line order; a format listed twice counts once. */
  for (i = 0; i < m->formats->len; i++) {
    unsigned pt = (unsigned)strtoul(g_ptr_array_index(m->formats, i), NULL, 10);
    if (c->by_pt[pt]) {
      g_ptr_array_add(d->codecs, c->by_pt[pt]);
      c->by_pt[pt] = NULL;
    }
  }
out:
  for (unsigned pt = 0; pt < 128; pt++)
    codec_free(c->by_pt[pt]);
  if (rc < 0)
    weft__media_desc_free(d);
  else
    *out = d;
  g_free(c);
  return rc;
}

/* ---- The codec table ---------------------------------------------------- */

typedef struct table_entry {
  weft__codec_id id;
  weft__media_kind kind;
  const char *name;
  uint32_t rate;
  uint8_t channels;
  int pt; /* offer payload type, -1 = dynamic */
} table_entry;

/* Offer order when no preference is given: Opus first, as every browser. */
static const table_entry table[] = {
    {WEFT__CID_OPUS, WEFT__KIND_AUDIO, "opus", 48000, 2, 111}, /* RFC 7587 §7: always /2 */
    {WEFT__CID_PCMU, WEFT__KIND_AUDIO, "PCMU", 8000, 0, 0},    /* RFC 3551 §6 */
    {WEFT__CID_PCMA, WEFT__KIND_AUDIO, "PCMA", 8000, 0, 8},
    {WEFT__CID_VP8, WEFT__KIND_VIDEO, "VP8", 90000, 0, -1},   /* RFC 7741 §6.1 */
    {WEFT__CID_H264, WEFT__KIND_VIDEO, "H264", 90000, 0, -1}, /* RFC 6184 §8.1 */
};

static const table_entry *table_find(weft__codec_id id) {
  for (unsigned i = 0; i < G_N_ELEMENTS(table); i++)
    if (table[i].id == id)
      return &table[i];
  return NULL;
}

/* The table entry an offered codec is (names are case-insensitive, RFC
 * 4855 §3), or NULL. Clock rate and channels must agree (RFC 3264 §6.1);
 * an absent channel count means 1. */
static const table_entry *table_match(weft__media_kind kind, const weft__rtp_codec *c) {
  for (unsigned i = 0; i < G_N_ELEMENTS(table); i++) {
    const table_entry *t = &table[i];
    if (t->kind != kind || g_ascii_strcasecmp(t->name, c->name) != 0 || t->rate != c->clock_rate)
      continue;
    unsigned want = t->channels ? t->channels : 1, got = c->channels ? c->channels : 1;
    if (want == got)
      return t;
  }
  return NULL;
}

static unsigned local_set(const weft__media_local *l) {
  if (!l->n_prefs)
    return WEFT__CID_OPUS | WEFT__CID_PCMU | WEFT__CID_PCMA | WEFT__CID_VP8 |
           WEFT__CID_H264;
  unsigned set = 0;
  for (size_t i = 0; i < l->n_prefs; i++)
    set |= (unsigned)l->prefs[i];
  return set;
}

/* RFC 4585 §4.2 feedback weft handles: generic NACK (RFC 4585 §6.2), PLI
 * (§6.3.1), FIR (RFC 5104 §7.1); transport-cc and goog-remb only when the
 * caller implements them. */
static bool fb_supported(const char *fb, const weft__media_local *l) {
  if (strcmp(fb, "nack") == 0 || strcmp(fb, "nack pli") == 0 || strcmp(fb, "ccm fir") == 0)
    return true;
  if (strcmp(fb, "transport-cc") == 0)
    return l->transport_cc;
  if (strcmp(fb, "goog-remb") == 0)
    return l->remb;
  return false;
}

/* ---- Answer ------------------------------------------------------------- */

static void add_local_sender(weft__media_desc *d, const weft__media_local *l, bool with_rtx) {
  if (l->msid_stream) {
    d->msid_stream = g_strdup(l->msid_stream);
    d->msid_track = g_strdup(l->msid_track);
  }
  if (!l->cname || !l->ssrc)
    return;
  char *msid = l->msid_stream ? g_strjoin(" ", l->msid_stream, l->msid_track, NULL) : NULL;
  uint32_t ids[2] = {l->ssrc, l->rtx_ssrc};
  unsigned n = with_rtx && l->rtx_ssrc && l->rtx_ssrc != l->ssrc ? 2 : 1;
  if (n == 2) /* RFC 4588 §8.7: FID groups the original and its RTX stream */
    g_array_append_vals(d->fid, ids, 2);
  for (unsigned i = 0; i < n; i++) {
    weft__rtp_ssrc *s = ssrc_get(d, ids[i], true);
    s->cname = g_strdup(l->cname);
    s->msid = g_strdup(msid);
  }
  g_free(msid);
}

static weft__rtp_codec *codec_copy_filtered(const weft__rtp_codec *c, const weft__media_local *l) {
  weft__rtp_codec *k = codec_new(c->pt, c->name, c->clock_rate, c->channels);
  k->apt = c->apt;
  for (guint i = 0; i < c->rtcp_fb->len; i++) {
    const char *fb = g_ptr_array_index(c->rtcp_fb, i);
    if (fb_supported(fb, l))
      g_ptr_array_add(k->rtcp_fb, g_strdup(fb));
  }
  return k;
}

/* Whether an offered H264 format is one weft takes, and the fmtp to answer
 * with (RFC 6184 §8.2.2: same profile; the answer's level is at most the
 * offered one). */
static char *h264_answer_fmtp(const weft__rtp_codec *c, uint32_t local_plid) {
  uint32_t plid;
  int op, ol, lp, ll;
  if (!h264_mode1(c->fmtp) || !h264_plid(c->fmtp, &plid) || !weft__h264_profile(plid, &op, &ol) ||
      !weft__h264_profile(local_plid, &lp, &ll) || op != lp)
    return NULL;
  uint32_t ans = plid;
  if (ll < ol) /* keep the offer's profile bytes, lower the level to ours */
    ans = (plid & 0xffef00u) | (local_plid & 0x0000ffu) | (local_plid & 0x001000u);
  return g_strdup_printf("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=%06x",
                         ans);
}

int weft__media_answer(const weft__media_desc *offer, const weft__media_local *l,
                       weft__media_desc **out) {
  if (!out)
    return weft__error(WEFT_ERR_INVALID_ARG, "media: NULL output");
  *out = NULL;
  if (!offer || !l)
    return weft__error(WEFT_ERR_INVALID_ARG, "media: NULL offer or local parameters");
  weft__media_desc *d = desc_new(offer->kind, offer->proto);
  d->mid = g_strdup(offer->mid);
  d->port = 9; /* RFC 8829 §5.3.1: 9 until ICE fills in a candidate */
  d->proto_ok = offer->proto_ok;
  const char *why = NULL;
  if (offer->rejected)
    why = "rejected in the offer";
  else if (!offer->proto_ok || offer->kind == WEFT__KIND_OTHER)
    why = "unsupported profile or media";
  else if (!offer->rtcp_mux)
    why = "no a=rtcp-mux"; /* RFC 8829 §5.3.1 lets us require it; weft has no RTCP port */
  unsigned set = local_set(l);
  uint32_t plid = l->h264_profile_level_id ? l->h264_profile_level_id : H264_DEFAULT_PLID;
  weft__rtp_codec *kept[128] = {NULL};
  bool any = false;
  /* RFC 3264 §6.1: the answer lists the offered formats it accepts, with the
   * offer's payload types and in the offer's order (RFC 8829 §5.3.1). */
  for (guint i = 0; !why && i < offer->codecs->len; i++) {
    const weft__rtp_codec *c = g_ptr_array_index(offer->codecs, i);
    const table_entry *t = table_match(offer->kind, c);
    if (!t || !(set & t->id))
      continue;
    char *fmtp = NULL;
    if (t->id == WEFT__CID_H264 && !(fmtp = h264_answer_fmtp(c, plid)))
      continue;
    weft__rtp_codec *k = codec_copy_filtered(c, l);
    k->fmtp = fmtp ? fmtp : t->id == WEFT__CID_OPUS ? g_strdup(OPUS_FMTP) : NULL;
    kept[c->pt] = k;
    any = true;
  }
  if (!why && !any)
    why = "no codec in common";
  /* Second pass in the offer's order: the kept codecs and, only if the
   * caller handles retransmissions, the rtx formats of kept codecs (RFC 4588
   * §8.6); declaring RTX otherwise makes the peer send repairs weft drops
   * (stack-notes §4.5). */
  for (guint i = 0; i < offer->codecs->len; i++) {
    const weft__rtp_codec *c = g_ptr_array_index(offer->codecs, i);
    if (kept[c->pt]) {
      g_ptr_array_add(d->codecs, kept[c->pt]);
      kept[c->pt] = NULL;
    } else if (!why && l->rtx && c->apt >= 0 && g_ascii_strcasecmp(c->name, "rtx") == 0) {
      const weft__rtp_codec *primary = weft__media_find_pt(d, (unsigned)c->apt);
      if (!primary || primary->clock_rate != c->clock_rate)
        continue;
      weft__rtp_codec *k = codec_copy_filtered(c, l);
      k->fmtp = g_strdup_printf("apt=%d", c->apt);
      g_ptr_array_add(d->codecs, k);
    }
  }
  if (why) {
    WLOG_D("media", "rejecting m-section mid=%s: %s", offer->mid ? offer->mid : "-", why);
    d->port = 0;
    d->rejected = true;
    g_ptr_array_set_size(d->codecs, 0);
    d->direction = WEFT__DIR_INACTIVE;
    *out = d;
    return 0;
  }
  d->rtcp_mux = true;
  d->rtcp_rsize = offer->rtcp_rsize; /* RFC 5506 §5: only if the offerer can */
  d->direction = weft__direction_answer(offer->direction, l->direction);
  /* RFC 8843 §9.2 / RFC 8285 §6: keep only MID (BUNDLE demux), with the
   * offerer's id; the answerer must not change it. */
  for (guint i = 0; i < offer->extmaps->len; i++) {
    const weft__rtp_extmap *e = g_ptr_array_index(offer->extmaps, i);
    if (strcmp(e->uri, MID_URI) == 0) {
      weft__rtp_extmap *k = g_new0(weft__rtp_extmap, 1);
      k->id = e->id;
      k->uri = g_strdup(e->uri);
      g_ptr_array_add(d->extmaps, k);
      break;
    }
  }
  if (dir_sends(d->direction))
    add_local_sender(d, l, l->rtx && d->codecs->len > 0);
  *out = d;
  return 0;
}

/* ---- Offer -------------------------------------------------------------- */

static int next_free_pt(bool used[128]) {
  for (int pt = 96; pt < 128; pt++) /* RFC 3551 §6: dynamic range */
    if (!used[pt]) {
      used[pt] = true;
      return pt;
    }
  return -1;
}

static void add_offer_fb(weft__rtp_codec *k, weft__media_kind kind, const weft__media_local *l) {
  if (l->remb && kind == WEFT__KIND_VIDEO)
    g_ptr_array_add(k->rtcp_fb, g_strdup("goog-remb"));
  if (l->transport_cc)
    g_ptr_array_add(k->rtcp_fb, g_strdup("transport-cc"));
  if (kind == WEFT__KIND_VIDEO) {
    g_ptr_array_add(k->rtcp_fb, g_strdup("ccm fir"));
    g_ptr_array_add(k->rtcp_fb, g_strdup("nack"));
    g_ptr_array_add(k->rtcp_fb, g_strdup("nack pli"));
  }
}

int weft__media_offer(const weft__media_local *l, weft__media_desc **out) {
  if (!out)
    return weft__error(WEFT_ERR_INVALID_ARG, "media: NULL output");
  *out = NULL;
  if (!l || !l->mid || (l->kind != WEFT__KIND_AUDIO && l->kind != WEFT__KIND_VIDEO))
    return weft__error(WEFT_ERR_INVALID_ARG, "media: offer needs a mid and kind audio or video");
  weft__codec_id defaults[G_N_ELEMENTS(table)];
  size_t n = 0;
  const weft__codec_id *prefs = l->prefs;
  if (!l->n_prefs) {
    for (unsigned i = 0; i < G_N_ELEMENTS(table); i++)
      if (table[i].kind == l->kind)
        defaults[n++] = table[i].id;
    prefs = defaults;
  } else {
    n = l->n_prefs;
  }
  unsigned seen = 0;
  bool used[128] = {false};
  for (size_t i = 0; i < n; i++) {
    const table_entry *t = table_find(prefs[i]);
    if (!t || t->kind != l->kind || (seen & t->id))
      return weft__error(WEFT_ERR_INVALID_ARG, "media: codec preference %zu is invalid here", i);
    seen |= t->id;
    if (t->pt >= 0)
      used[t->pt] = true; /* fixed ones first, so dynamic ones avoid them */
  }
  weft__media_desc *d = desc_new(l->kind, "UDP/TLS/RTP/SAVPF");
  d->proto_ok = true;
  d->port = 9;
  d->mid = g_strdup(l->mid);
  d->direction = l->direction;
  d->rtcp_mux = d->rtcp_rsize = true;
  uint32_t plid = l->h264_profile_level_id ? l->h264_profile_level_id : H264_DEFAULT_PLID;
  for (size_t i = 0; i < n; i++) {
    const table_entry *t = table_find(prefs[i]);
    int pt = t->pt >= 0 ? t->pt : next_free_pt(used);
    if (pt < 0)
      break; /* cannot happen with this table: 5 codecs + rtx < 32 */
    weft__rtp_codec *k = codec_new((unsigned)pt, t->name, t->rate, t->channels);
    add_offer_fb(k, l->kind, l);
    if (t->id == WEFT__CID_OPUS)
      k->fmtp = g_strdup(OPUS_FMTP);
    else if (t->id == WEFT__CID_H264) /* Firefox needs profile-level-id (stack-notes §4.5) */
      k->fmtp = g_strdup_printf(
          "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=%06x", plid);
    g_ptr_array_add(d->codecs, k);
    int rtx = l->rtx && l->kind == WEFT__KIND_VIDEO ? next_free_pt(used) : -1;
    if (rtx >= 0) {
      weft__rtp_codec *r = codec_new((unsigned)rtx, "rtx", t->rate, 0);
      r->apt = pt;
      r->fmtp = g_strdup_printf("apt=%d", pt);
      g_ptr_array_add(d->codecs, r);
    }
  }
  weft__rtp_extmap *e = g_new0(weft__rtp_extmap, 1);
  e->id = l->mid_ext_id ? l->mid_ext_id : 4;
  e->uri = g_strdup(MID_URI);
  g_ptr_array_add(d->extmaps, e);
  if (dir_sends(l->direction))
    add_local_sender(d, l, l->rtx && l->kind == WEFT__KIND_VIDEO);
  *out = d;
  return 0;
}

/* ---- Write -------------------------------------------------------------- */

static void attr_printf(GPtrArray *attrs, const char *name, const char *fmt, ...)
    WEFT__PRINTF(3, 4);
static void attr_printf(GPtrArray *attrs, const char *name, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *v = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  weft__sdp_attr_add(attrs, name, v);
  g_free(v);
}

weft__sdp_media *weft__media_write(const weft__media_desc *d) {
  if (!d)
    return NULL;
  const char *kind = d->kind == WEFT__KIND_AUDIO ? "audio" : "video";
  bool rejected = d->rejected || d->codecs->len == 0;
  weft__sdp_media *m =
      weft__sdp_media_new(kind, rejected ? 0 : d->port, d->proto ? d->proto : "UDP/TLS/RTP/SAVPF");
  weft__sdp_lines_add(m->lines, 'c', "IN IP4 0.0.0.0");
  if (rejected) {
    /* RFC 3264 §6: a rejected stream still lists a format; "0" as Chromium. */
    weft__sdp_media_add_format(m, "0");
    if (d->mid)
      weft__sdp_attr_add(m->attrs, "mid", d->mid);
    return m;
  }
  for (guint i = 0; i < d->codecs->len; i++) {
    char pt[8];
    g_snprintf(pt, sizeof pt, "%u", ((weft__rtp_codec *)g_ptr_array_index(d->codecs, i))->pt);
    weft__sdp_media_add_format(m, pt);
  }
  GPtrArray *at = m->attrs;
  if (d->mid)
    weft__sdp_attr_add(at, "mid", d->mid);
  for (guint i = 0; i < d->extmaps->len; i++) {
    const weft__rtp_extmap *e = g_ptr_array_index(d->extmaps, i);
    if (e->has_direction)
      attr_printf(at, "extmap", "%u/%s %s", e->id, weft__direction_to_string(e->direction), e->uri);
    else
      attr_printf(at, "extmap", "%u %s", e->id, e->uri);
  }
  weft__sdp_attr_add(at, weft__direction_to_string(d->direction), NULL);
  if (d->msid_stream)
    attr_printf(at, "msid", "%s%s%s", d->msid_stream, d->msid_track ? " " : "",
                d->msid_track ? d->msid_track : "");
  if (d->rtcp_mux)
    weft__sdp_attr_add(at, "rtcp-mux", NULL);
  if (d->rtcp_mux_only)
    weft__sdp_attr_add(at, "rtcp-mux-only", NULL);
  if (d->rtcp_rsize)
    weft__sdp_attr_add(at, "rtcp-rsize", NULL);
  for (guint i = 0; i < d->codecs->len; i++) {
    const weft__rtp_codec *c = g_ptr_array_index(d->codecs, i);
    if (c->channels)
      attr_printf(at, "rtpmap", "%u %s/%u/%u", c->pt, c->name, c->clock_rate, c->channels);
    else
      attr_printf(at, "rtpmap", "%u %s/%u", c->pt, c->name, c->clock_rate);
    for (guint j = 0; j < c->rtcp_fb->len; j++)
      attr_printf(at, "rtcp-fb", "%u %s", c->pt, (const char *)g_ptr_array_index(c->rtcp_fb, j));
    if (c->fmtp)
      attr_printf(at, "fmtp", "%u %s", c->pt, c->fmtp);
  }
  for (guint i = 0; i + 1 < d->fid->len; i += 2)
    attr_printf(at, "ssrc-group", "FID %u %u", g_array_index(d->fid, uint32_t, i),
                g_array_index(d->fid, uint32_t, i + 1));
  for (guint i = 0; i < d->ssrcs->len; i++) {
    const weft__rtp_ssrc *s = g_ptr_array_index(d->ssrcs, i);
    if (s->cname)
      attr_printf(at, "ssrc", "%u cname:%s", s->ssrc, s->cname);
    if (s->msid)
      attr_printf(at, "ssrc", "%u msid:%s", s->ssrc, s->msid);
  }
  return m;
}
