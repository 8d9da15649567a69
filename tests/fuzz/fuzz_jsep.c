/*
 * Fuzz target: the JSEP layer (lib/jsep; RFC 9429, RFC 8839, RFC 8841,
 * RFC 8842, RFC 8843) on a description read as an offer, a pranswer and an
 * answer, plus weft__jsep_add_candidates.
 *
 * Input: the SDP text. If it holds a line "#cand <text>" (which the SDP
 * parser refuses, so such inputs only reach the candidate path), <text> is
 * the trickled candidate added to a fixed valid offer instead.
 *
 * Invariants:
 * - errors are SYNTAX, INVALID_ACCESS or NOT_SUPPORTED, with a message; an
 *   input the SDP parser refuses fails with SYNTAX; NUL bytes are refused;
 * - a parsed description has one section per m= line, views consistent with
 *   the SDP tree (index, mid lookup, data section is_sctp and not rejected);
 * - an accepted offer yields an answer (weft__jsep_create_answer) that parses
 *   as an answer, with the same number of sections and the same mids;
 * - add_candidates on an accepted description gives SDP that parses and, for
 *   a well-formed candidate, carries it.
 */
#include "fuzz_common.h"
#include "jsep/jsep.h"

static const char base_offer[] =
    "v=0\r\n"
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n"
    "s=-\r\n"
    "t=0 0\r\n"
    "a=group:BUNDLE 0\r\n"
    "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
    "c=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:abcd\r\n"
    "a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"
    "a=fingerprint:sha-256 "
    "01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:"
    "CD:EF\r\n"
    "a=setup:actpass\r\n"
    "a=mid:0\r\n"
    "a=sctp-port:5000\r\n";

static const weft__jsep_local local = {
    .session_id = 1,
    .session_version = 2,
    .ice_ufrag = "wxyz",
    .ice_pwd = "0123456789abcdefghijklmn",
    .fingerprint = "sha-256 "
                   "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:"
                   "44:55:66:77:88:99",
    .setup = WEFT__SETUP_ACTIVE,
    .sctp_port = 5000,
    .max_message_size = 262144,
    .include_data = true};

static void check_desc(const weft__jsep_desc *d) {
  FUZZ_CHECK(d->sdp && d->sections->len == d->sdp->media->len);
  for (guint i = 0; i < d->sections->len; i++) {
    const weft__jsep_section *s = d->sections->pdata[i];
    FUZZ_CHECK(s->index == i);
    if (s->mid)
      FUZZ_CHECK(weft__jsep_find_mid(d, s->mid) == s); /* mids are unique */
    if (!s->rejected) {
      FUZZ_CHECK(s->ice_ufrag && s->ice_pwd && s->fingerprint && s->fingerprint_alg);
    }
  }
  for (guint i = 0; i < d->bundle_mids->len; i++)
    FUZZ_CHECK(weft__jsep_find_mid(d, d->bundle_mids->pdata[i]) != NULL);
  const weft__jsep_section *ds = weft__jsep_data_section(d);
  if (ds)
    FUZZ_CHECK(ds->is_sctp && !ds->rejected);
}

static void check_candidates(const char *sdp_text, const char *cand) {
  const char *cands[1] = {cand};
  char *out = weft__jsep_add_candidates(sdp_text, NULL, cands, 1, true);
  if (!out) {
    int code = weft_last_error();
    FUZZ_CHECK(code == WEFT_ERR_SYNTAX || code == WEFT_ERR_INVALID_ARG);
    FUZZ_CHECK_ERROR_MESSAGE();
    return;
  }
  weft__sdp *s = NULL;
  int rc = weft__sdp_parse(out, &s);
  FUZZ_CHECK(rc == 0);
  if (s->media->len > 0) {
    /* The candidate is somewhere, as an a=candidate line (or it was ""). */
    const char *value = strncmp(cand, "a=", 2) == 0 ? cand + 2 : cand;
    bool found = value[0] == '\0';
    for (guint i = 0; i < s->media->len && !found; i++) {
      const weft__sdp_media *m = s->media->pdata[i];
      const weft__sdp_attr *a;
      guint pos = 0;
      while (!found && (a = weft__sdp_attr_next(m->attrs, "candidate", &pos)))
        found = a->value && strstr(value, a->value) != NULL;
    }
    FUZZ_CHECK(found);
    /* Adding the same candidate again changes nothing (duplicates skipped,
     * trailing blanks included). */
    char *again = weft__jsep_add_candidates(out, NULL, cands, 1, true);
    FUZZ_CHECK(again && strcmp(again, out) == 0);
    g_free(again);
  }
  weft__sdp_free(s);
  g_free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  char *text = fuzz_strndup(data, size);
  const char *cand = strstr(text, "#cand ");
  if (cand) {
    char *c = g_strdup(cand + 6);
    char *eol = strpbrk(c, "\r\n");
    if (eol && eol[strspn(eol, "\r\n")] != '\0')
      *eol = '\0'; /* a candidate line, then more text: keep the line only */
    check_candidates(base_offer, c);
    g_free(c);
    free(text);
    return 0;
  }
  bool has_nul = memchr(data, 0, size) != NULL;
  weft__sdp *plain = NULL;
  int sdp_rc = weft__sdp_parse(text, &plain);
  weft__sdp_free(plain);

  static const weft_sdp_type types[] = {WEFT_SDP_OFFER, WEFT_SDP_PRANSWER, WEFT_SDP_ANSWER};
  for (size_t t = 0; t < 3; t++) {
    weft__jsep_desc *d = NULL;
    int rc = weft__jsep_parse(text, types[t], &d);
    FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX || rc == WEFT_ERR_INVALID_ACCESS ||
               rc == WEFT_ERR_NOT_SUPPORTED);
    FUZZ_CHECK((rc == 0) == (d != NULL));
    if (sdp_rc < 0)
      FUZZ_CHECK(rc == WEFT_ERR_SYNTAX);
    if (rc < 0) {
      FUZZ_CHECK_ERROR_MESSAGE();
      continue;
    }
    (void)has_nul; /* text stops at the first NUL: the rest is not seen */
    check_desc(d);
    if (types[t] == WEFT_SDP_OFFER) {
      char *answer = weft__jsep_create_answer(d, &local);
      FUZZ_CHECK(answer);
      weft__jsep_desc *ad = NULL;
      int arc = weft__jsep_parse(answer, WEFT_SDP_ANSWER, &ad);
      if (arc != 0)
        fprintf(stderr, "weft's answer does not parse: %s\n--- offer ---\n%s\n--- answer ---\n%s\n",
                weft__error_message(), text, answer);
      FUZZ_CHECK(arc == 0);
      check_desc(ad);
      FUZZ_CHECK(ad->sections->len == d->sections->len);
      for (guint i = 0; i < d->sections->len; i++) {
        const weft__jsep_section *o = d->sections->pdata[i], *a = ad->sections->pdata[i];
        FUZZ_CHECK((o->mid == NULL) == (a->mid == NULL));
        FUZZ_CHECK(!o->mid || strcmp(o->mid, a->mid) == 0);
        FUZZ_CHECK(o->kind == a->kind);
      }
      weft__jsep_desc_free(ad);
      g_free(answer);
      check_candidates(text, "candidate:1 1 udp 2122260223 192.0.2.1 54321 typ host");
    }
    weft__jsep_desc_free(d);
  }
  free(text);
  return 0;
}
