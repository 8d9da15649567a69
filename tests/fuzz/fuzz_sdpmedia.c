/*
 * Fuzz target: the RTP media model of lib/jsep/media.c — a=rtpmap, a=fmtp,
 * a=rtcp-fb, a=extmap, a=ssrc, a=ssrc-group, a=msid, directions — via
 * weft__media_parse on every m-section of an SDP, then weft__media_answer
 * and weft__media_write.
 *
 * Input: SDP text (parsed with weft__sdp_parse_len; inputs it refuses stop
 * there).
 *
 * Invariants:
 * - parse errors are SYNTAX with a message, or INVALID_ARG for a non-RTP
 *   profile (and only then);
 * - a parsed model respects its bounds and rules: payload types 0-127,
 *   unique and listed on the m= line, in m= line order; at most 16 rtcp-fb
 *   per codec, 32 extmaps (ids 1-255, unique), 64 SSRCs (unique), 32 FID
 *   pairs; rtx apt a payload type; weft__media_find_pt finds every codec;
 * - write(model), re-parsed, and also written as SDP text and parsed again,
 *   gives the same model (for a section that is not rejected);
 * - weft's answer to every parsed section, for several local setups, keeps
 *   the mid, takes only offered codecs (same pt, name, rate, channels) in the
 *   offer's order, only feedback the offer had and weft supports, the
 *   direction of weft__direction_answer, at most the MID extmap with the
 *   offer's id; and written out it parses back to the same model.
 */
#include "fuzz_common.h"
#include "jsep/jsep.h"

static const char MID_URI[] = "urn:ietf:params:rtp-hdrext:sdes:mid";

static bool str_eq(const char *a, const char *b) {
  return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void check_model(const weft__sdp_media *m, const weft__media_desc *d) {
  FUZZ_CHECK(d->codecs && d->extmaps && d->ssrcs && d->fid);
  FUZZ_CHECK(d->port == m->port);
  FUZZ_CHECK(d->rejected == (m->port == 0 && !d->bundle_only));
  bool seen[128] = {false};
  guint last_pos = 0;
  for (guint i = 0; i < d->codecs->len; i++) {
    const weft__rtp_codec *c = g_ptr_array_index(d->codecs, i);
    FUZZ_CHECK(c->pt < 128 && !seen[c->pt]);
    seen[c->pt] = true;
    FUZZ_CHECK(c->name && c->name[0] && !strchr(c->name, ' ') && !strchr(c->name, '/'));
    FUZZ_CHECK(c->clock_rate > 0);
    FUZZ_CHECK(c->rtcp_fb && c->rtcp_fb->len <= WEFT__MEDIA_MAX_FB);
    FUZZ_CHECK(c->apt >= -1 && c->apt < 128);
    FUZZ_CHECK(weft__media_find_pt(d, c->pt) == c);
    /* In m= line order: the first listing of the pt comes after the
     * previous codec's. */
    char pt[8];
    snprintf(pt, sizeof pt, "%u", c->pt);
    guint pos = 0;
    bool found = false;
    for (guint k = 0; k < m->formats->len && !found; k++) {
      const char *f = g_ptr_array_index(m->formats, k);
      uint64_t v;
      if (weft__sdp_parse_u64(f, &v) && v == c->pt) {
        pos = k;
        found = true;
      }
    }
    FUZZ_CHECK(found);
    FUZZ_CHECK(i == 0 || pos > last_pos);
    last_pos = pos;
  }
  FUZZ_CHECK(d->extmaps->len <= WEFT__MEDIA_MAX_EXTMAPS);
  for (guint i = 0; i < d->extmaps->len; i++) {
    const weft__rtp_extmap *e = g_ptr_array_index(d->extmaps, i);
    FUZZ_CHECK(e->id >= 1 && e->id <= 255 && e->uri && e->uri[0]);
    for (guint j = 0; j < i; j++)
      FUZZ_CHECK(((const weft__rtp_extmap *)g_ptr_array_index(d->extmaps, j))->id != e->id);
  }
  FUZZ_CHECK(d->ssrcs->len <= WEFT__MEDIA_MAX_SSRCS);
  for (guint i = 0; i < d->ssrcs->len; i++)
    for (guint j = 0; j < i; j++)
      FUZZ_CHECK(((const weft__rtp_ssrc *)g_ptr_array_index(d->ssrcs, i))->ssrc !=
                 ((const weft__rtp_ssrc *)g_ptr_array_index(d->ssrcs, j))->ssrc);
  FUZZ_CHECK(d->fid->len % 2 == 0 && d->fid->len / 2 <= WEFT__MEDIA_MAX_FID);
  FUZZ_CHECK(!d->msid_track || d->msid_stream);
  FUZZ_CHECK((unsigned)d->direction <= WEFT__DIR_INACTIVE);
}

static bool fb_equal(const GPtrArray *a, const GPtrArray *b) {
  if (a->len != b->len)
    return false;
  for (guint i = 0; i < a->len; i++)
    if (strcmp(g_ptr_array_index(a, i), g_ptr_array_index(b, i)) != 0)
      return false;
  return true;
}

/* What write() keeps of a model that is not rejected. */
static void check_same(const weft__media_desc *a, const weft__media_desc *b) {
  FUZZ_CHECK(str_eq(a->mid, b->mid) && str_eq(a->proto, b->proto));
  FUZZ_CHECK(a->port == b->port && a->direction == b->direction);
  FUZZ_CHECK(a->rtcp_mux == b->rtcp_mux && a->rtcp_mux_only == b->rtcp_mux_only &&
             a->rtcp_rsize == b->rtcp_rsize);
  FUZZ_CHECK(str_eq(a->msid_stream, b->msid_stream) && str_eq(a->msid_track, b->msid_track));
  FUZZ_CHECK(a->codecs->len == b->codecs->len);
  for (guint i = 0; i < a->codecs->len; i++) {
    const weft__rtp_codec *x = g_ptr_array_index(a->codecs, i),
                          *y = g_ptr_array_index(b->codecs, i);
    FUZZ_CHECK(x->pt == y->pt && strcmp(x->name, y->name) == 0);
    FUZZ_CHECK(x->clock_rate == y->clock_rate && x->channels == y->channels);
    FUZZ_CHECK(str_eq(x->fmtp, y->fmtp) && x->apt == y->apt);
    FUZZ_CHECK(fb_equal(x->rtcp_fb, y->rtcp_fb));
  }
  FUZZ_CHECK(a->extmaps->len == b->extmaps->len);
  for (guint i = 0; i < a->extmaps->len; i++) {
    const weft__rtp_extmap *x = g_ptr_array_index(a->extmaps, i),
                           *y = g_ptr_array_index(b->extmaps, i);
    FUZZ_CHECK(x->id == y->id && x->has_direction == y->has_direction);
    FUZZ_CHECK(!x->has_direction || x->direction == y->direction);
    FUZZ_CHECK(strcmp(x->uri, y->uri) == 0);
  }
  FUZZ_CHECK(a->fid->len == b->fid->len);
  for (guint i = 0; i < a->fid->len; i++)
    FUZZ_CHECK(g_array_index(a->fid, uint32_t, i) == g_array_index(b->fid, uint32_t, i));
  /* SSRCs without cname or msid are not written. */
  guint j = 0;
  for (guint i = 0; i < a->ssrcs->len; i++) {
    const weft__rtp_ssrc *x = g_ptr_array_index(a->ssrcs, i);
    if (!x->cname && !x->msid)
      continue;
    FUZZ_CHECK(j < b->ssrcs->len);
    const weft__rtp_ssrc *y = g_ptr_array_index(b->ssrcs, j++);
    FUZZ_CHECK(x->ssrc == y->ssrc && str_eq(x->cname, y->cname) && str_eq(x->msid, y->msid));
  }
  FUZZ_CHECK(j == b->ssrcs->len);
}

/* write(d) parses back to d, directly and through SDP text. */
static void check_write(const weft__media_desc *d) {
  if (d->rejected || d->port == 0 || d->codecs->len == 0 ||
      (d->kind != WEFT__KIND_AUDIO && d->kind != WEFT__KIND_VIDEO))
    return;
  weft__sdp_media *w = weft__media_write(d);
  FUZZ_CHECK(w);
  weft__media_desc *again = NULL;
  FUZZ_CHECK(weft__media_parse(w, &again) == 0);
  check_same(d, again);
  weft__media_desc_free(again);

  weft__sdp *s = weft__sdp_new();
  weft__sdp_lines_add(s->lines, 't', "0 0");
  weft__sdp_add_media(s, w);
  char *text = weft__sdp_write(s);
  FUZZ_CHECK(text);
  weft__sdp *s2 = NULL;
  FUZZ_CHECK(weft__sdp_parse(text, &s2) == 0 && s2->media->len == 1);
  again = NULL;
  FUZZ_CHECK(weft__media_parse(g_ptr_array_index(s2->media, 0), &again) == 0);
  check_same(d, again);
  weft__media_desc_free(again);
  weft__sdp_free(s2);
  g_free(text);
  weft__sdp_free(s);
}

static bool fb_ok(const char *fb, const weft__media_local *l) {
  return strcmp(fb, "nack") == 0 || strcmp(fb, "nack pli") == 0 || strcmp(fb, "ccm fir") == 0 ||
         (l->transport_cc && strcmp(fb, "transport-cc") == 0) ||
         (l->remb && strcmp(fb, "goog-remb") == 0);
}

static void check_answer(const weft__media_desc *offer, const weft__media_local *l) {
  weft__media_desc *ans = NULL;
  FUZZ_CHECK(weft__media_answer(offer, l, &ans) == 0 && ans);
  FUZZ_CHECK(str_eq(ans->mid, offer->mid));
  if (ans->rejected) {
    FUZZ_CHECK(ans->port == 0 && ans->codecs->len == 0);
  } else {
    FUZZ_CHECK(!offer->rejected && offer->proto_ok && offer->rtcp_mux);
    FUZZ_CHECK(offer->kind == WEFT__KIND_AUDIO || offer->kind == WEFT__KIND_VIDEO);
    FUZZ_CHECK(ans->codecs->len > 0 && ans->rtcp_mux);
    FUZZ_CHECK(ans->direction == weft__direction_answer(offer->direction, l->direction));
    FUZZ_CHECK(ans->rtcp_rsize == offer->rtcp_rsize);
    guint k = 0; /* position in the offer: the answer keeps its order */
    for (guint i = 0; i < ans->codecs->len; i++) {
      const weft__rtp_codec *c = g_ptr_array_index(ans->codecs, i);
      while (k < offer->codecs->len &&
             ((const weft__rtp_codec *)g_ptr_array_index(offer->codecs, k))->pt != c->pt)
        k++;
      FUZZ_CHECK(k < offer->codecs->len);
      const weft__rtp_codec *o = g_ptr_array_index(offer->codecs, k);
      FUZZ_CHECK(strcmp(c->name, o->name) == 0 && c->clock_rate == o->clock_rate &&
                 c->channels == o->channels);
      for (guint j = 0; j < c->rtcp_fb->len; j++) {
        const char *fb = g_ptr_array_index(c->rtcp_fb, j);
        FUZZ_CHECK(fb_ok(fb, l));
        bool offered = false;
        for (guint q = 0; q < o->rtcp_fb->len && !offered; q++)
          offered = strcmp(fb, g_ptr_array_index(o->rtcp_fb, q)) == 0;
        FUZZ_CHECK(offered);
      }
      if (g_ascii_strcasecmp(c->name, "rtx") == 0) {
        FUZZ_CHECK(l->rtx && c->apt >= 0);
        const weft__rtp_codec *p = weft__media_find_pt(ans, (unsigned)c->apt);
        FUZZ_CHECK(p && p->clock_rate == c->clock_rate);
      }
    }
    FUZZ_CHECK(ans->extmaps->len <= 1);
    if (ans->extmaps->len == 1) {
      const weft__rtp_extmap *e = g_ptr_array_index(ans->extmaps, 0);
      FUZZ_CHECK(strcmp(e->uri, MID_URI) == 0);
      bool offered = false;
      for (guint i = 0; i < offer->extmaps->len && !offered; i++) {
        const weft__rtp_extmap *o = g_ptr_array_index(offer->extmaps, i);
        offered = o->id == e->id && strcmp(o->uri, MID_URI) == 0;
      }
      FUZZ_CHECK(offered);
    }
    check_write(ans);
  }
  weft__media_desc_free(ans);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  weft__sdp *sdp = NULL;
  if (weft__sdp_parse_len((const char *)data, size, &sdp) < 0)
    return 0;
  static const weft__codec_id opus_only[] = {WEFT__CID_OPUS};
  static const weft__codec_id video[] = {WEFT__CID_H264, WEFT__CID_VP8};
  const weft__media_local locals[] = {
      {.direction = WEFT__DIR_SENDRECV},
      {.direction = WEFT__DIR_RECVONLY, .prefs = opus_only, .n_prefs = 1},
      {.direction = WEFT__DIR_SENDONLY,
       .prefs = video,
       .n_prefs = 2,
       .rtx = true,
       .transport_cc = true,
       .remb = true,
       .h264_profile_level_id = 0x640c1f,
       .ssrc = 1111,
       .rtx_ssrc = 2222,
       .cname = "fuzz",
       .msid_stream = "s",
       .msid_track = "t"},
  };
  for (guint i = 0; i < sdp->media->len; i++) {
    const weft__sdp_media *m = g_ptr_array_index(sdp->media, i);
    weft__media_desc *d = NULL;
    int rc = weft__media_parse(m, &d);
    if (rc < 0) {
      FUZZ_CHECK(!d);
      FUZZ_CHECK_ERROR_MESSAGE();
      FUZZ_CHECK(rc == WEFT_ERR_SYNTAX || rc == WEFT_ERR_INVALID_ARG);
      FUZZ_CHECK((rc == WEFT_ERR_INVALID_ARG) == (strstr(m->proto, "RTP/") == NULL));
      continue;
    }
    FUZZ_CHECK(strstr(m->proto, "RTP/") != NULL);
    check_model(m, d);
    check_write(d);
    for (size_t k = 0; k < G_N_ELEMENTS(locals); k++)
      check_answer(d, &locals[k]);
    weft__media_desc_free(d);
  }
  weft__sdp_free(sdp);
  return 0;
}
