/*
 * Fuzz target: the generic SDP parser and writer (lib/sdp, RFC 8866).
 *
 * Invariants beyond "no crash":
 * - errors are WEFT_ERR_SYNTAX with a message (never another code: the
 *   arguments are valid);
 * - weft__sdp_parse on the NUL-terminated text agrees with weft__sdp_parse_len
 *   whenever the input has no NUL byte;
 * - what parse accepts, write emits as text that parses again into the same
 *   tree: write(parse(write(parse(x)))) == write(parse(x)), and the two trees
 *   have the same media, attributes and lines;
 * - weft__sdp_copy writes the same text as the original.
 */
#include "fuzz_common.h"
#include "sdp/sdp.h"

static void check_same_attrs(const GPtrArray *a, const GPtrArray *b) {
  FUZZ_CHECK(a->len == b->len);
  for (guint i = 0; i < a->len; i++) {
    const weft__sdp_attr *x = a->pdata[i], *y = b->pdata[i];
    FUZZ_CHECK(strcmp(x->name, y->name) == 0);
    FUZZ_CHECK((x->value == NULL) == (y->value == NULL));
    FUZZ_CHECK(!x->value || strcmp(x->value, y->value) == 0);
  }
}

static void check_same_lines(const GPtrArray *a, const GPtrArray *b) {
  FUZZ_CHECK(a->len == b->len);
  for (guint i = 0; i < a->len; i++) {
    const weft__sdp_line *x = a->pdata[i], *y = b->pdata[i];
    FUZZ_CHECK(x->type == y->type);
    FUZZ_CHECK(strcmp(x->value, y->value) == 0);
  }
}

static void check_same_tree(const weft__sdp *a, const weft__sdp *b) {
  FUZZ_CHECK(a->version == b->version);
  FUZZ_CHECK(strcmp(a->session_name, b->session_name) == 0);
  FUZZ_CHECK(strcmp(a->origin.username, b->origin.username) == 0);
  FUZZ_CHECK(strcmp(a->origin.sess_id, b->origin.sess_id) == 0);
  FUZZ_CHECK(strcmp(a->origin.address, b->origin.address) == 0);
  check_same_lines(a->lines, b->lines);
  check_same_attrs(a->attrs, b->attrs);
  FUZZ_CHECK(a->media->len == b->media->len);
  for (guint i = 0; i < a->media->len; i++) {
    const weft__sdp_media *x = a->media->pdata[i], *y = b->media->pdata[i];
    FUZZ_CHECK(strcmp(x->media, y->media) == 0);
    FUZZ_CHECK(x->port == y->port && x->port_count == y->port_count);
    FUZZ_CHECK(strcmp(x->proto, y->proto) == 0);
    FUZZ_CHECK(x->formats->len >= 1 && x->formats->len == y->formats->len);
    for (guint f = 0; f < x->formats->len; f++)
      FUZZ_CHECK(strcmp(x->formats->pdata[f], y->formats->pdata[f]) == 0);
    check_same_lines(x->lines, y->lines);
    check_same_attrs(x->attrs, y->attrs);
    /* Lookups agree with the tree. */
    const char *mid = weft__sdp_media_mid(x);
    if (mid) {
      guint idx = 99999;
      FUZZ_CHECK(weft__sdp_find_mid(a, mid, &idx) != NULL);
      FUZZ_CHECK(idx <= i); /* the first section with that mid */
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_quiet();
  weft__sdp *s = NULL;
  int rc = weft__sdp_parse_len((const char *)data, size, &s);
  FUZZ_CHECK(rc == 0 || rc == WEFT_ERR_SYNTAX);
  FUZZ_CHECK((rc == 0) == (s != NULL));
  if (rc < 0)
    FUZZ_CHECK_ERROR_MESSAGE();

  if (!memchr(data, 0, size)) {
    char *text = fuzz_strndup(data, size);
    weft__sdp *t = NULL;
    int rc2 = weft__sdp_parse(text, &t);
    FUZZ_CHECK(rc2 == rc);
    if (t) {
      char *wt = weft__sdp_write(t);
      char *ws = weft__sdp_write(s);
      FUZZ_CHECK(strcmp(wt, ws) == 0);
      g_free(wt);
      g_free(ws);
      weft__sdp_free(t);
    }
    free(text);
  }
  if (!s)
    return 0;

  char *w1 = weft__sdp_write(s);
  FUZZ_CHECK(w1 != NULL);
  weft__sdp *s2 = NULL;
  rc = weft__sdp_parse(w1, &s2);
  if (rc != 0)
    fprintf(stderr, "re-parse of written SDP failed: %s\n--- written ---\n%s\n",
            weft__error_message(), w1);
  FUZZ_CHECK(rc == 0);
  check_same_tree(s, s2);
  char *w2 = weft__sdp_write(s2);
  FUZZ_CHECK(strcmp(w1, w2) == 0);

  weft__sdp *c = weft__sdp_copy(s);
  char *w3 = weft__sdp_write(c);
  FUZZ_CHECK(strcmp(w1, w3) == 0);

  g_free(w1);
  g_free(w2);
  g_free(w3);
  weft__sdp_free(c);
  weft__sdp_free(s2);
  weft__sdp_free(s);
  return 0;
}
